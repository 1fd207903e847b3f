/*
 * test_kernels.c: the built-in kernels (workers/kernels/) and the
 * registry they go into.
 *
 * The testable cores (q_pi_hits, q_sum_text) are checked directly; then
 * every kernel runs the way a worker runs it: a job submitted to a real
 * spool in a mkdtemp directory, a context over temporary files in the
 * spool's tmp/, and the result read back from those files.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <omp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spoolq/spoolq.h>

#include "kenv.h"
#include "splitmix.h"

/* ---- q_pi_hits ---- */

Test(pi_hits, same_count_for_any_thread_count)
{
	const uint64_t key = q_stream_key(1);
	/* An odd count, so the static split is uneven. */
	const uint64_t n = 1000003;
	uint64_t one = q_pi_hits(key, n, 1);
	cr_assert_eq(q_pi_hits(key, n, 2), one);
	cr_assert_eq(q_pi_hits(key, n, 3), one);
	cr_assert_eq(q_pi_hits(key, n, 4), one);
	/* And the same on a second call. */
	cr_assert_eq(q_pi_hits(key, n, 1), one);
}

Test(pi_hits, matches_the_counter_based_samples)
{
	/* Sample j is a pure function of (key, j): count by hand. */
	const uint64_t key = q_stream_key(99);
	const double scale = 1.0 / 4294967296.0;
	uint64_t hits = 0;
	for (uint64_t j = 0; j < 5000; j++) {
		uint64_t r = q_counter_random(key, j);
		double x = (double)(r >> 32) * scale;
		double y = (double)(r & 0xffffffffu) * scale;
		hits += x * x + y * y < 1.0;
		if (j == 0 || j == 1 || j == 999)
			cr_assert_eq(q_pi_hits(key, j + 1, 2), hits,
				     "first %llu samples",
				     (unsigned long long)j + 1);
	}
	cr_assert_eq(q_pi_hits(key, 5000, 4), hits);
	cr_assert_eq(q_pi_hits(key, 0, 2), 0);
}

Test(pi_hits, close_to_pi_over_four)
{
	const uint64_t n = 10000000;
	const double p = M_PI / 4;
	const double sd = sqrt((double)n * p * (1 - p));
	uint64_t hits = q_pi_hits(q_stream_key(2024), n, 2);
	double dev = fabs((double)hits - (double)n * p);
	cr_assert_lt(dev, 4 * sd, "hits %llu, %.1f standard deviations off",
		     (unsigned long long)hits, dev / sd);
}

Test(pi_hits, different_keys_different_streams)
{
	const uint64_t n = 1000000;
	uint64_t h[4];
	for (uint64_t s = 0; s < 4; s++)
		h[s] = q_pi_hits(q_stream_key(s), n, 2);
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			cr_assert_neq(h[i], h[j], "seeds %d and %d", i, j);
	/* Not just the totals: the samples themselves differ. */
	cr_assert_neq(q_counter_random(q_stream_key(0), 0),
		      q_counter_random(q_stream_key(1), 0));
}

/* ---- q_sum_text ---- */

#define NCOLS 8

struct sums {
	double v[NCOLS];
	size_t ncols;
	long bad;
};

static int sum(struct sums *s, const char *text, size_t max_cols)
{
	return q_sum_text(text, strlen(text), s->v, &s->ncols, max_cols,
			  &s->bad);
}

Test(sum_text, columns_over_lines)
{
	struct sums s = { { 0 }, 0, -1 };
	cr_assert_eq(sum(&s, "1 2\n3 4\n", NCOLS), 0);
	cr_assert_eq(s.ncols, 2);
	cr_assert_eq(s.v[0], 4.0);
	cr_assert_eq(s.v[1], 6.0);
	cr_assert_eq(s.v[2], 0.0);
	cr_assert_eq(s.bad, -1);
}

Test(sum_text, tabs_crlf_and_no_final_newline)
{
	struct sums a = { { 0 }, 0, -1 };
	cr_assert_eq(sum(&a, "1\t2\n3 \t 4\n", NCOLS), 0);
	cr_assert_eq(a.ncols, 2);
	cr_assert_eq(a.v[0], 4.0);
	cr_assert_eq(a.v[1], 6.0);

	struct sums b = { { 0 }, 0, -1 };
	cr_assert_eq(sum(&b, "1 2\r\n3 4\r\n", NCOLS), 0);
	cr_assert_eq(b.ncols, 2);
	cr_assert_eq(b.v[0], 4.0);
	cr_assert_eq(b.v[1], 6.0);

	struct sums c = { { 0 }, 0, -1 };
	cr_assert_eq(sum(&c, "1 2\n3 4", NCOLS), 0);
	cr_assert_eq(c.ncols, 2);
	cr_assert_eq(c.v[0], 4.0);
	cr_assert_eq(c.v[1], 6.0);
}

Test(sum_text, ragged_and_blank_lines_and_accumulation)
{
	struct sums s = { { 0 }, 0, -1 };
	cr_assert_eq(sum(&s, "\n  \n1\n2 3 4\n\n0.5 -1\n", NCOLS), 0);
	cr_assert_eq(s.ncols, 3);
	cr_assert_eq(s.v[0], 3.5);
	cr_assert_eq(s.v[1], 2.0);
	cr_assert_eq(s.v[2], 4.0);
	/* A second input adds to the same sums; ncols only grows. */
	cr_assert_eq(sum(&s, "10\n", NCOLS), 0);
	cr_assert_eq(s.ncols, 3);
	cr_assert_eq(s.v[0], 13.5);
	cr_assert_eq(sum(&s, "", NCOLS), 0);
	cr_assert_eq(s.ncols, 3);
	/* The pi kernel's lines: hits and samples add exactly. */
	struct sums p = { { 0 }, 0, -1 };
	cr_assert_eq(sum(&p, "3.141592000000 785398 1000000\n"
			 "3.141200000000 785300 1000000\n", NCOLS), 0);
	cr_assert_eq(p.v[1], 1570698.0);
	cr_assert_eq(p.v[2], 2000000.0);
}

Test(sum_text, bad_token_reports_its_line)
{
	struct sums s = { { 0 }, 0, -1 };
	cr_assert_eq(sum(&s, "1 2\n3 x\n", NCOLS), -1);
	cr_assert_eq(s.bad, 2);

	struct sums t = { { 0 }, 0, -1 };
	cr_assert_eq(sum(&t, "1\r\n\r\n2\r\n4abc\r\n", NCOLS), -1);
	cr_assert_eq(t.bad, 4);

	static const char *const junk[] = { "nan\n", "inf\n", "1e999\n", "-\n",
					    "1,5\n" };
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		struct sums u = { { 0 }, 0, -1 };
		cr_assert_eq(sum(&u, junk[i], NCOLS), -1, "'%s'", junk[i]);
		cr_assert_eq(u.bad, 1);
	}
}

Test(sum_text, too_many_columns_reports_its_line)
{
	struct sums s = { { 0 }, 0, -1 };
	cr_assert_eq(sum(&s, "1 2\n3 4\n5 6 7\n", 2), -1);
	cr_assert_eq(s.bad, 3);
}

Test(sum_text, a_long_token_is_not_split)
{
	/* 80 characters: longer than the token buffer. Before the fix the
	 * first 63 went to column 0 and the rest to column 1. */
	char text[128];
	memset(text, '0', 80);
	text[0] = '1';
	strcpy(text + 80, "\n");
	struct sums s = { { 0 }, 0, -1 };
	cr_assert_eq(sum(&s, text, NCOLS), -1);
	cr_assert_eq(s.bad, 1);
	cr_assert_eq(s.v[1], 0.0);
	/* 63 characters still fit. */
	char ok[80];
	memset(ok, '0', 63);
	ok[0] = '1';
	strcpy(ok + 63, "\n");
	struct sums t = { { 0 }, 0, -1 };
	cr_assert_eq(sum(&t, ok, NCOLS), 0);
	cr_assert_eq(t.ncols, 1);
	cr_assert_eq(t.v[0], 1e62);
}

/* ---- the registry ---- */

Test(registry, builtins_once_in_order)
{
	static const char *const want[] = { "hello", "sleep", "pi", "sum",
					    "blob", "blob_check",
					    "bcast_slice" };
	q_builtin_kernels_register();
	size_t n = q_kernel_count();
	cr_assert_eq(n, 7);
	q_builtin_kernels_register();
	cr_assert_eq(q_kernel_count(), n, "registering twice added kernels");
	for (size_t i = 0; i < 7; i++) {
		const struct q_kernel *k = q_kernel_find(want[i]);
		cr_assert_not_null(k, "%s", want[i]);
		cr_assert_eq(q_kernel_at(i), k);
		cr_assert_str_eq(k->name, want[i]);
		cr_assert_eq(k->abi, Q_KERNEL_ABI);
		cr_assert_not_null(k->run);
		cr_assert_not_null(k->summary);
		cr_assert_not_null(k->args_help);
	}
	cr_assert_eq(q_kernel_find("pi"), &q_kernel_pi);
	cr_assert_null(q_kernel_find("nope"));
	cr_assert_null(q_kernel_at(7));
}

static int square_run(struct q_ctx *ctx)
{
	return 0;
}

Test(registry, refuses_wrong_abi_and_duplicates)
{
	static const struct q_kernel wrong_abi = { Q_KERNEL_ABI + 1, "new",
						   "", "", square_run };
	static const struct q_kernel no_run = { Q_KERNEL_ABI, "new2", "", "",
						NULL };
	static const struct q_kernel no_name = { Q_KERNEL_ABI, NULL, "", "",
						 square_run };
	static const struct q_kernel other_pi = { Q_KERNEL_ABI, "pi", "", "",
						  square_run };
	static const struct q_kernel square = { Q_KERNEL_ABI, "square",
						"n squared", "n=INT",
						square_run };

	q_builtin_kernels_register();
	cr_assert_eq(q_kernel_register(&wrong_abi), -EINVAL);
	cr_assert_eq(q_kernel_register(&no_run), -EINVAL);
	cr_assert_eq(q_kernel_register(&no_name), -EINVAL);
	cr_assert_eq(q_kernel_register(NULL), -EINVAL);
	cr_assert_null(q_kernel_find("new"));
	cr_assert_eq(q_kernel_register(&other_pi), -EEXIST);
	cr_assert_eq(q_kernel_find("pi"), &q_kernel_pi);
	cr_assert_eq(q_kernel_count(), 7);

	cr_assert_eq(q_kernel_register(&square), 0);
	cr_assert_eq(q_kernel_find("square"), &square);
	cr_assert_eq(q_kernel_at(7), &square);
	cr_assert_eq(q_kernel_register(&square), -EEXIST);
	cr_assert_eq(q_kernel_count(), 8);
	/* The built-ins are still registered only once. */
	q_builtin_kernels_register();
	cr_assert_eq(q_kernel_count(), 8);
}

Test(registry, full_registry_says_enospc)
{
	static char names[300][16];
	static struct q_kernel ks[300];
	size_t i;
	int ret = 0;
	for (i = 0; i < 300; i++) {
		snprintf(names[i], sizeof(names[i]), "k%zu", i);
		ks[i] = (struct q_kernel){ Q_KERNEL_ABI, names[i], "", "",
					   square_run };
		ret = q_kernel_register(&ks[i]);
		if (ret != 0)
			break;
	}
	cr_assert_eq(ret, -ENOSPC);
	cr_assert_eq(i, q_kernel_count());
	cr_assert_gt(i, 4, "room for the built-ins and more");
	cr_assert_null(q_kernel_find(names[i]));
	cr_assert_eq(q_kernel_find(names[i - 1]), &ks[i - 1]);
}

/* ---- running kernels through a real context (kenv.h) ---- */

static uint64_t check_pi_line(const char *out, long samples)
{
	double est;
	unsigned long long hits;
	long n;
	int used = 0;
	cr_assert_eq(sscanf(out, "%lf %llu %ld\n%n", &est, &hits, &n, &used),
		     3, "output '%s'", out);
	cr_assert_eq((size_t)used, strlen(out), "one line only: '%s'", out);
	cr_assert_eq(n, samples);
	cr_assert_leq(hits, (unsigned long long)samples);
	cr_assert_lt(fabs(est - 4.0 * (double)hits / (double)n), 1e-11,
		     "estimate %.12f for %llu/%ld", est, hits, n);
	return hits;
}

Test(kernel_run, pi_prints_estimate_hits_samples)
{
	struct kenv e;
	struct krun r;
	kenv_init(&e);
	const char *const args[] = { "samples=200000", "seed=7", NULL };
	uint64_t id = submit_kernel(&e, "pi", args, 1);
	run_item(&e, id, 0, 2, 0, &r);
	cr_assert_eq(r.rc, 0, "log: %s", r.err);
	cr_assert_eq(r.fin, 0);
	uint64_t hits = check_pi_line(r.out, 200000);
	/* The estimate is the library's, for the seed given. */
	cr_assert_eq(hits, q_pi_hits(q_stream_key(7), 200000, 1));
	cr_assert_str_empty(r.err);
	krun_release(&r);
	kenv_fini(&e);
}

Test(kernel_run, pi_same_result_for_any_thread_count)
{
	struct kenv e;
	struct krun a, b;
	kenv_init(&e);
	/* 2e5 is a whole number, spelled as a float. */
	const char *const args[] = { "samples=2e5", "seed=11", NULL };
	uint64_t id = submit_kernel(&e, "pi", args, 1);
	run_item(&e, id, 0, 1, 0, &a);
	run_item(&e, id, 0, 3, 0, &b);
	cr_assert_eq(a.rc, 0);
	cr_assert_eq(b.rc, 0);
	check_pi_line(a.out, 200000);
	cr_assert_str_eq(a.out, b.out);
	krun_release(&a);
	krun_release(&b);
	kenv_fini(&e);
}

Test(kernel_run, pi_seed_defaults_to_the_array_index)
{
	struct kenv e;
	struct krun r;
	kenv_init(&e);
	const char *const args[] = { "samples=10000", NULL };
	uint64_t id = submit_kernel(&e, "pi", args, 3);
	run_item(&e, id, 2, 1, 0, &r);
	cr_assert_eq(r.rc, 0, "log: %s", r.err);
	cr_assert_eq(check_pi_line(r.out, 10000),
		     q_pi_hits(q_stream_key(2), 10000, 1));
	krun_release(&r);
	kenv_fini(&e);
}

Test(kernel_run, pi_refuses_bad_arguments)
{
	struct kenv e;
	struct krun r;
	kenv_init(&e);

	const char *const abc[] = { "samples=abc", NULL };
	run_item(&e, submit_kernel(&e, "pi", abc, 1), 0, 1, 0, &r);
	cr_assert_neq(r.rc, 0);
	cr_assert_str_empty(r.out);
	cr_assert_str_eq(r.err,
			 "argument samples=abc is not a whole number\n");
	krun_release(&r);

	const char *const frac[] = { "samples=1.5", NULL };
	run_item(&e, submit_kernel(&e, "pi", frac, 1), 0, 1, 0, &r);
	cr_assert_neq(r.rc, 0);
	cr_assert_str_empty(r.out);
	cr_assert_str_eq(r.err,
			 "argument samples=1.5 is not a whole number\n");
	krun_release(&r);

	const char *const zero[] = { "samples=0", NULL };
	run_item(&e, submit_kernel(&e, "pi", zero, 1), 0, 1, 0, &r);
	cr_assert_neq(r.rc, 0);
	cr_assert_str_empty(r.out);
	cr_assert_str_eq(r.err, "pi: samples must be positive, got 0\n");
	krun_release(&r);

	const char *const seed[] = { "samples=10", "seed=x", NULL };
	run_item(&e, submit_kernel(&e, "pi", seed, 1), 0, 1, 0, &r);
	cr_assert_neq(r.rc, 0);
	cr_assert_str_eq(r.err, "argument seed=x is not a whole number\n");
	krun_release(&r);
	kenv_fini(&e);
}

Test(kernel_run, pi_cancelled_writes_no_result)
{
	struct kenv e;
	struct krun r;
	kenv_init(&e);
	const char *const args[] = { "samples=1000", NULL };
	run_item(&e, submit_kernel(&e, "pi", args, 1), 0, 1, 1, &r);
	cr_assert_neq(r.rc, 0);
	cr_assert_str_empty(r.out);
	krun_release(&r);
	kenv_fini(&e);
}

Test(kernel_run, sleep_sleeps_at_least_the_time_given)
{
	struct kenv e;
	struct krun r;
	kenv_init(&e);
	const char *const args[] = { "seconds=0.05", NULL };
	run_item(&e, submit_kernel(&e, "sleep", args, 1), 0, 1, 0, &r);
	cr_assert_eq(r.rc, 0, "log: %s", r.err);
	cr_assert_eq(r.fin, 0);
	cr_assert_geq(r.seconds, 0.05, "slept only %.4f s", r.seconds);
	cr_assert_lt(r.seconds, 5.0, "slept %.4f s", r.seconds);
	cr_assert_str_empty(r.out);
	cr_assert_str_empty(r.err);
	krun_release(&r);
	kenv_fini(&e);
}

Test(kernel_run, sleep_returns_promptly_when_cancelled)
{
	struct kenv e;
	struct krun r;
	kenv_init(&e);
	const char *const args[] = { "seconds=10", NULL };
	run_item(&e, submit_kernel(&e, "sleep", args, 1), 0, 1, 1, &r);
	cr_assert_neq(r.rc, 0);
	cr_assert_lt(r.seconds, 1.0, "took %.3f s to notice", r.seconds);
	krun_release(&r);
	kenv_fini(&e);
}

Test(kernel_run, sleep_refuses_bad_arguments)
{
	struct kenv e;
	struct krun r;
	kenv_init(&e);
	const char *const neg[] = { "seconds=-1", NULL };
	run_item(&e, submit_kernel(&e, "sleep", neg, 1), 0, 1, 0, &r);
	cr_assert_neq(r.rc, 0);
	cr_assert_str_eq(r.err, "sleep: seconds must not be negative\n");
	krun_release(&r);

	const char *const junk[] = { "seconds=soon", NULL };
	run_item(&e, submit_kernel(&e, "sleep", junk, 1), 0, 1, 0, &r);
	cr_assert_neq(r.rc, 0);
	cr_assert_str_eq(r.err, "argument seconds=soon is not a number\n");
	cr_assert_lt(r.seconds, 1.0);
	krun_release(&r);
	kenv_fini(&e);
}

Test(kernel_run, hello_names_host_and_every_thread)
{
	struct kenv e;
	struct krun r;
	char host[256] = "", head[512];
	cpu_set_t mask;
	const unsigned threads = 3;

	kenv_init(&e);
	cr_assert_eq(gethostname(host, sizeof(host) - 1), 0);
	cr_assert_eq(sched_getaffinity(0, sizeof(mask), &mask), 0);
	run_item(&e, submit_kernel(&e, "hello", NULL, 1), 0, threads, 0, &r);
	cr_assert_eq(r.rc, 0, "log: %s", r.err);
	cr_assert_eq(r.fin, 0);
	cr_assert_str_empty(r.err);

	/* The task line: label, host, our pid, and the thread count. */
	snprintf(head, sizeof(head), "hello from t: host %s pid %ld cwd ",
		 host, (long)getpid());
	cr_assert_eq(strncmp(r.out, head, strlen(head)), 0, "got '%s'",
		     r.out);
	char *nl = strchr(r.out, '\n');
	cr_assert_not_null(nl);
	cr_assert_eq(strncmp(nl - strlen(" threads 3"), " threads 3", 10), 0,
		     "first line '%.*s'", (int)(nl - r.out), r.out);

	/* Then one line per thread, in thread order, on allowed CPUs. */
	const char *p = nl + 1;
	for (unsigned t = 0; t < threads; t++) {
		unsigned got_t, got_n;
		int cpu, used = 0;
		cr_assert_eq(sscanf(p, "  thread %u/%u on cpu %d\n%n", &got_t,
				    &got_n, &cpu, &used), 3, "line '%s'", p);
		cr_assert_eq(got_t, t);
		cr_assert_eq(got_n, threads);
		cr_assert(cpu >= 0 && CPU_ISSET(cpu, &mask), "cpu %d", cpu);
		p += used;
	}
	cr_assert_str_empty(p, "extra output '%s'", p);
	krun_release(&r);
	kenv_fini(&e);
}

Test(kernel_run, sum_without_inputs_prints_zero)
{
	struct kenv e;
	struct krun r;
	kenv_init(&e);
	run_item(&e, submit_kernel(&e, "sum", NULL, 1), 0, 1, 0, &r);
	cr_assert_eq(r.rc, 0, "log: %s", r.err);
	cr_assert_str_eq(r.out, "0\n");
	krun_release(&r);
	kenv_fini(&e);
}

/* A job "nums" (two items) whose results are `a` and `b`, and a "total"
 * sum item after both; returns the job id, item 2 being the sum. */
static uint64_t sum_job(struct kenv *e, const char *a, const char *b)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_job *job = q_job_new("sumtest");
	struct q_group *g = q_job_add_group(job, "nums", Q_TASK_KERNEL);
	g->kernel = strdup("hello");
	g->count = 2;
	g->array = true;
	g->chunk_size = 1;
	g = q_job_add_group(job, "total", Q_TASK_KERNEL);
	g->kernel = strdup("sum");
	struct q_after after = { .job = 0, .first = 0, .count = 2,
				 .mode = Q_AFTER_ALL, .label = (char *)"nums",
				 .barrier = -1 };
	q_group_add_after(g, &after);
	cr_assert_eq(q_submit(e->sp, job, &err), 0, "%s", err.message);
	uint64_t id = job->id;
	q_job_release(job);

	/* Finish both "nums" items with the given results, as a worker. */
	const char *results[2] = { a, b };
	struct q_jobh *h = q_jobcache_get(e->cache, id, &err);
	cr_assert_not_null(h, "%s", err.message);
	for (int i = 0; i < 2; i++) {
		struct q_claim claim;
		struct q_outcome o;
		uint64_t first, count;
		cr_assert_eq(q_claim_next(h, "tester.1.000001", 0, 8, 8,
					  &claim, &err), 1, "%s",
			     err.message);
		q_job_chunk_items(q_jobh_job(h), claim.chunk, &first, &count);
		cr_assert_eq(count, 1);
		cr_assert_lt(first, 2);
		memset(&o, 0, sizeof(o));
		o.item = first;
		o.state = Q_STATE_DONE;
		o.exit_code = 0;
		o.start_ns = o.end_ns = 1;
		int fd = q_spool_tmp_create(e->sp, "out", o.out.tmp,
					    sizeof(o.out.tmp));
		cr_assert_geq(fd, 0);
		const char *text = results[first];
		cr_assert_eq(write(fd, text, strlen(text)),
			     (ssize_t)strlen(text));
		cr_assert_eq(close(fd), 0);
		cr_assert_eq(q_commit(h, e->cache, &claim, "tester.1.000001",
				      &o, 1, &err), 1, "%s", err.message);
	}
	return id;
}

Test(kernel_run, sum_adds_its_inputs)
{
	struct kenv e;
	struct krun r;
	kenv_init(&e);
	uint64_t id = sum_job(&e, "1 2\n3 4\n", "0.5\t10\r\n");
	run_item(&e, id, 2, 1, 0, &r);
	cr_assert_eq(r.rc, 0, "log: %s", r.err);
	cr_assert_eq(r.fin, 0);
	cr_assert_str_eq(r.out, "4.5 16\n");
	cr_assert_str_empty(r.err);
	krun_release(&r);
	kenv_fini(&e);
}

Test(kernel_run, sum_names_the_bad_input_and_line)
{
	struct kenv e;
	struct krun r;
	kenv_init(&e);
	uint64_t id = sum_job(&e, "1 2\n", "3\n4 five\n");
	run_item(&e, id, 2, 1, 0, &r);
	cr_assert_neq(r.rc, 0);
	cr_assert_str_empty(r.out);
	cr_assert_str_eq(r.err, "sum: input 1, line 2: not a list of at "
			 "most 64 numbers\n");
	krun_release(&r);
	kenv_fini(&e);
}
