/*
 * test_blob.c: the blob and blob_check kernels (workers/kernels/blob.c).
 *
 * Their cores (q_blob_fill, q_blob_hash) are checked directly; then the
 * kernels run the way a worker runs them, through kenv.h's spool. blob's
 * result is binary, and kenv.h's run_item returns results as C strings
 * (no length), so run_bin below is run_item keeping the length, and able
 * to keep the result file for q_commit: that is how blob's results become
 * blob_check's inputs (the worker's path, as sum_job in test_kernels.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spoolq/spoolq.h>

#include "kenv.h"
#include "splitmix.h"

/* ---- the cores ---- */

Test(blob_fill, words_are_the_counter_stream_little_endian)
{
	const uint64_t key = q_stream_key(5);
	uint64_t w[1001];
	q_blob_fill(w, 77, 1001, key, 3);
	for (size_t k = 0; k < 1001; k++) {
		uint64_t r = q_counter_random(key, 77 + k);
		const unsigned char *b = (const unsigned char *)&w[k];
		for (int i = 0; i < 8; i++)
			cr_assert_eq(b[i], (unsigned char)(r >> (8 * i)),
				     "word %zu byte %d", k, i);
	}
}

Test(blob_fill, same_words_for_any_thread_count)
{
	enum { N = 100003 };
	static uint64_t a[N], b[N];
	const uint64_t key = q_stream_key(1);
	q_blob_fill(a, 0, N, key, 1);
	for (unsigned t = 2; t <= 4; t++) {
		memset(b, 0, sizeof(b));
		q_blob_fill(b, 0, N, key, t);
		cr_assert_eq(memcmp(a, b, sizeof(a)), 0, "%u threads", t);
	}
}

static uint64_t hash_str(uint64_t sum, const char *s)
{
	return q_blob_hash(sum, s, strlen(s));
}

Test(blob_hash, depends_on_bytes_boundaries_and_order)
{
	const char *text = "the quick brown fox jumps over the lazy dog";
	uint64_t one = hash_str(0, text);
	cr_assert_eq(hash_str(0, text), one, "not a pure function");

	/* Every single-bit change, in the words and in the tail. */
	char buf[64];
	size_t len = strlen(text);
	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(buf, text, len);
			buf[i] = (char)(buf[i] ^ (1 << bit));
			cr_assert_neq(q_blob_hash(0, buf, len), one,
				      "byte %zu bit %d", i, bit);
		}
	/* Two words swapped. */
	cr_assert_neq(hash_str(0, "AAAAAAAABBBBBBBB"),
		      hash_str(0, "BBBBBBBBAAAAAAAA"));
	/* A trailing zero byte is not the same as none. */
	cr_assert_neq(q_blob_hash(0, "abc\0", 4), q_blob_hash(0, "abc", 3));
	/* Input order and boundaries. */
	cr_assert_neq(hash_str(hash_str(0, "ab"), "c"),
		      hash_str(hash_str(0, "c"), "ab"));
	cr_assert_neq(hash_str(hash_str(0, "ab"), "c"),
		      hash_str(hash_str(0, "a"), "bc"));
	/* An empty input counts. */
	cr_assert_neq(q_blob_hash(one, "", 0), one);
}

/* ---- running the kernels (kenv.h, binary-safe) ---- */

struct bres {
	int rc;          /* what kernel->run returned */
	int fin;         /* what q_ctx_finish returned */
	char *out;       /* the result, NUL-terminated */
	size_t len;      /* its length */
	char *err;       /* the log, NUL-terminated */
};

static char *read_all(const char *path, size_t *len_out)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	long size = ftell(f);
	cr_assert_geq(size, 0);
	rewind(f);
	char *data = malloc((size_t)size + 1);
	cr_assert_not_null(data);
	cr_assert_eq(fread(data, 1, (size_t)size, f), (size_t)size);
	data[size] = '\0';
	cr_assert_eq(fclose(f), 0);
	*len_out = (size_t)size;
	return data;
}

/* Run `item` of job `id` as run_item does. With keep_out, the result's
 * tmp file is left in place and its name stored there (for q_commit). */
static void run_bin(struct kenv *e, uint64_t id, uint64_t item,
		    unsigned threads, struct bres *r, char *keep_out)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h;
	char out_name[Q_CLAIM_NAME_MAX], err_name[Q_CLAIM_NAME_MAX];
	char file[512];
	volatile int cancel = 0;
	size_t errlen;

	cr_assert_eq(q_jobh_open(e->sp, id, &h, &err), 0, "%s", err.message);
	const struct q_group *g = q_job_group_of(q_jobh_job(h), item);
	cr_assert_not_null(g);
	const struct q_kernel *k = q_kernel_find(g->kernel);
	cr_assert_not_null(k, "no kernel '%s'", g->kernel);
	int out_fd = q_spool_tmp_create(e->sp, "out", out_name,
					sizeof(out_name));
	cr_assert_geq(out_fd, 0, "%s", strerror(-out_fd));
	int err_fd = q_spool_tmp_create(e->sp, "err", err_name,
					sizeof(err_name));
	cr_assert_geq(err_fd, 0, "%s", strerror(-err_fd));

	struct q_ctx *ctx = q_ctx_new(h, e->cache, item, threads, out_fd,
				      err_fd, &cancel);
	cr_assert_not_null(ctx);
	omp_set_num_threads((int)threads);
	r->rc = k->run(ctx);
	r->fin = q_ctx_finish(ctx);
	q_ctx_release(ctx);
	cr_assert_eq(close(out_fd), 0);
	cr_assert_eq(close(err_fd), 0);

	snprintf(file, sizeof(file), "%s/tmp/%s", q_spool_path(e->sp),
		 out_name);
	r->out = read_all(file, &r->len);
	snprintf(file, sizeof(file), "%s/tmp/%s", q_spool_path(e->sp),
		 err_name);
	r->err = read_all(file, &errlen);
	q_spool_tmp_remove(e->sp, err_name);
	if (keep_out)
		memcpy(keep_out, out_name, sizeof(out_name));
	else
		q_spool_tmp_remove(e->sp, out_name);
	q_jobh_close(h);
}

static void bres_release(struct bres *r)
{
	free(r->out);
	free(r->err);
}

/* blob's expected result, from the generator itself. */
static void expect_blob(const struct bres *r, uint64_t size, long seed)
{
	const uint64_t key = q_stream_key((uint64_t)seed);
	cr_assert_eq(r->rc, 0, "log: %s", r->err);
	cr_assert_eq(r->fin, 0);
	cr_assert_str_empty(r->err);
	cr_assert_eq(r->len, size, "wrote %zu bytes, not %" PRIu64, r->len,
		     size);
	const unsigned char *p = (const unsigned char *)r->out;
	for (uint64_t j = 0; j * 8 < size; j++) {
		uint64_t w = q_counter_random(key, j);
		for (uint64_t i = 0; i < 8 && j * 8 + i < size; i++)
			if (p[j * 8 + i] != (unsigned char)(w >> (8 * i)))
				cr_assert_fail("byte %" PRIu64 " differs",
					       j * 8 + i);
	}
}

/* More than two of blob.c's 4 MiB buffers, and not whole words. */
#define BIG (((uint64_t)9 << 20) + 13)

Test(kernel_blob, writes_exactly_n_bytes_of_the_stream)
{
	struct kenv e;
	struct bres r;
	kenv_init(&e);
	const char *const args[] = { "bytes=9437197", "seed=3", NULL };
	cr_assert_eq(BIG, 9437197);
	run_bin(&e, submit_kernel(&e, "blob", args, 1), 0, 2, &r, NULL);
	expect_blob(&r, BIG, 3);
	bres_release(&r);

	/* Tiny sizes: less than one word, exactly one, one more. */
	const uint64_t tiny[] = { 1, 7, 8, 9 };
	for (size_t i = 0; i < 4; i++) {
		char arg[32];
		snprintf(arg, sizeof(arg), "bytes=%" PRIu64, tiny[i]);
		const char *const a[] = { arg, NULL };
		run_bin(&e, submit_kernel(&e, "blob", a, 1), 0, 2, &r, NULL);
		expect_blob(&r, tiny[i], 1);
		bres_release(&r);
	}
	kenv_fini(&e);
}

Test(kernel_blob, mib_and_default_seed)
{
	struct kenv e;
	struct bres r;
	kenv_init(&e);
	const char *const args[] = { "mib=2", NULL };
	run_bin(&e, submit_kernel(&e, "blob", args, 1), 0, 1, &r, NULL);
	expect_blob(&r, 2 << 20, 1);
	bres_release(&r);
	kenv_fini(&e);
}

Test(kernel_blob, same_seed_same_bytes_any_threads_other_seed_other_bytes)
{
	struct kenv e;
	struct bres a, b, c;
	kenv_init(&e);
	const char *const s7[] = { "bytes=9437197", "seed=7", NULL };
	const char *const s8[] = { "bytes=9437197", "seed=8", NULL };
	uint64_t id7 = submit_kernel(&e, "blob", s7, 1);
	run_bin(&e, id7, 0, 1, &a, NULL);
	run_bin(&e, id7, 0, 2, &b, NULL);
	run_bin(&e, submit_kernel(&e, "blob", s8, 1), 0, 2, &c, NULL);
	cr_assert_eq(a.rc, 0);
	cr_assert_eq(b.rc, 0);
	cr_assert_eq(c.rc, 0);
	cr_assert_eq(a.len, BIG);
	cr_assert_eq(b.len, BIG);
	cr_assert_eq(c.len, BIG);
	cr_assert_eq(memcmp(a.out, b.out, BIG), 0, "1 and 2 threads differ");
	/* Another seed: (almost) every word differs, not just a few. */
	size_t same = 0;
	for (size_t j = 0; j + 8 <= BIG; j += 8)
		same += memcmp(a.out + j, c.out + j, 8) == 0;
	cr_assert_eq(same, 0, "%zu words equal across seeds", same);
	bres_release(&a);
	bres_release(&b);
	bres_release(&c);
	kenv_fini(&e);
}

static void expect_refusal(struct kenv *e, const char *const *args,
			   const char *message)
{
	struct bres r;
	run_bin(e, submit_kernel(e, "blob", args, 1), 0, 1, &r, NULL);
	cr_assert_eq(r.rc, 2, "rc %d for '%s'", r.rc, args[0]);
	cr_assert_eq(r.len, 0, "wrote a result for '%s'", args[0]);
	cr_assert_str_eq(r.err, message);
	bres_release(&r);
}

Test(kernel_blob, refuses_bad_arguments)
{
	struct kenv e;
	kenv_init(&e);
	const char *const none[] = { "seed=1", NULL };
	expect_refusal(&e, none, "blob: give the size as bytes=N or mib=N\n");
	const char *const both[] = { "bytes=1", "mib=1", NULL };
	expect_refusal(&e, both, "blob: give bytes=N or mib=N, not both\n");
	const char *const zero[] = { "bytes=0", NULL };
	expect_refusal(&e, zero, "blob: bytes must be between 1 and "
		       "4294967296 (4 GiB), got 0\n");
	const char *const neg[] = { "mib=-1", NULL };
	expect_refusal(&e, neg, "blob: mib must be between 1 and 4096 "
		       "(4 GiB), got -1\n");
	const char *const huge[] = { "bytes=4294967297", NULL };
	expect_refusal(&e, huge, "blob: bytes must be between 1 and "
		       "4294967296 (4 GiB), got 4294967297\n");
	const char *const hugemib[] = { "mib=4097", NULL };
	expect_refusal(&e, hugemib, "blob: mib must be between 1 and 4096 "
		       "(4 GiB), got 4097\n");
	const char *const junk[] = { "bytes=lots", NULL };
	expect_refusal(&e, junk, "argument bytes=lots is not a whole number\n");
	const char *const seed[] = { "bytes=8", "seed=x", NULL };
	expect_refusal(&e, seed, "argument seed=x is not a whole number\n");
	kenv_fini(&e);
}

/* ---- blob_check over blob results ---- */

#define NPARTS 3

struct parts {
	uint64_t id;             /* the job */
	char *data[NPARTS];      /* each part's bytes */
	size_t len[NPARTS];
	uint64_t total;
	uint64_t sum;            /* q_blob_hash over them in order */
};

/*
 * A job of NPARTS "parts" (blob, bytes=30000{i}, seed={i}: unequal sizes,
 * not whole words) and one "check" (blob_check with check_args) after all
 * of them; item NPARTS is the check. With `finish`, the parts are run
 * and committed as a worker does, so they are the check's inputs.
 */
static void parts_job(struct kenv *e, const char *check_args, bool finish,
		      struct parts *p)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_job *job = q_job_new("blobtest");
	struct q_group *g = q_job_add_group(job, "parts", Q_TASK_KERNEL);
	g->kernel = strdup("blob");
	q_group_add_arg(g, "bytes=30000{i}");
	q_group_add_arg(g, "seed={i}");
	g->count = NPARTS;
	g->array = true;
	g->chunk_size = 1;
	g = q_job_add_group(job, "check", Q_TASK_KERNEL);
	g->kernel = strdup("blob_check");
	if (check_args)
		q_group_add_arg(g, check_args);
	struct q_after after = { .job = 0, .first = 0, .count = NPARTS,
				 .mode = Q_AFTER_ALL, .label = (char *)"parts",
				 .barrier = -1 };
	q_group_add_after(g, &after);
	cr_assert_eq(q_submit(e->sp, job, &err), 0, "%s", err.message);
	memset(p, 0, sizeof(*p));
	p->id = job->id;
	q_job_release(job);
	if (!finish)
		return;

	struct q_jobh *h = q_jobcache_get(e->cache, p->id, &err);
	cr_assert_not_null(h, "%s", err.message);
	for (int n = 0; n < NPARTS; n++) {
		struct q_claim claim;
		struct q_outcome o;
		struct bres r;
		uint64_t first, count;
		cr_assert_eq(q_claim_next(h, "tester.1.000001", 0, 8, 8,
					  &claim, &err), 1, "%s",
			     err.message);
		q_job_chunk_items(q_jobh_job(h), claim.chunk, &first, &count);
		cr_assert_eq(count, 1);
		cr_assert_lt(first, NPARTS);
		memset(&o, 0, sizeof(o));
		run_bin(e, p->id, first, 2, &r, o.out.tmp);
		expect_blob(&r, 300000 + first, (long)first);
		p->data[first] = r.out;
		p->len[first] = r.len;
		free(r.err);
		o.item = first;
		o.state = Q_STATE_DONE;
		o.exit_code = 0;
		o.start_ns = o.end_ns = 1;
		cr_assert_eq(q_commit(h, e->cache, &claim, "tester.1.000001",
				      &o, 1, &err), 1, "%s", err.message);
	}
	for (int i = 0; i < NPARTS; i++) {
		p->sum = q_blob_hash(p->sum, p->data[i], p->len[i]);
		p->total += p->len[i];
	}
}

static void parts_release(struct parts *p)
{
	for (int i = 0; i < NPARTS; i++)
		free(p->data[i]);
}

static int64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Check blob_check's line against p; returns its ready_ns. */
static int64_t expect_check_line(const struct bres *r, const struct parts *p)
{
	char want[128];
	unsigned long long ready;
	int used = 0;
	cr_assert_eq(r->rc, 0, "log: %s", r->err);
	cr_assert_eq(r->fin, 0);
	cr_assert_str_empty(r->err);
	snprintf(want, sizeof(want), "inputs %d bytes %" PRIu64 " sum %016"
		 PRIx64 " ready_ns ", NPARTS, p->total, p->sum);
	cr_assert_eq(strncmp(r->out, want, strlen(want)), 0,
		     "got '%s', want '%s...'", r->out, want);
	cr_assert_eq(sscanf(r->out + strlen(want), "%llu\n%n", &ready,
			    &used), 1, "'%s'", r->out);
	cr_assert_eq(strlen(want) + (size_t)used, r->len, "one line: '%s'",
		     r->out);
	return (int64_t)ready;
}

Test(kernel_blob_check, counts_bytes_and_sums_its_inputs)
{
	struct kenv e;
	struct parts p;
	struct bres a, b;
	kenv_init(&e);
	parts_job(&e, "expect_bytes=900003", true, &p);
	cr_assert_eq(p.total, 900003);

	int64_t before = realtime_ns();
	run_bin(&e, p.id, NPARTS, 2, &a, NULL);
	int64_t after = realtime_ns();
	int64_t ready = expect_check_line(&a, &p);
	cr_assert(ready >= before && ready <= after,
		  "ready_ns %" PRId64 " not in [%" PRId64 ", %" PRId64 "]",
		  ready, before, after);

	/* Again, with one thread: the same line but for ready_ns. */
	run_bin(&e, p.id, NPARTS, 1, &b, NULL);
	expect_check_line(&b, &p);
	cr_assert_eq(strncmp(a.out, b.out, strstr(a.out, "ready_ns") - a.out),
		     0);
	bres_release(&a);
	bres_release(&b);
	parts_release(&p);
	kenv_fini(&e);
}

Test(kernel_blob_check, without_inputs)
{
	struct kenv e;
	struct bres r;
	kenv_init(&e);
	run_bin(&e, submit_kernel(&e, "blob_check", NULL, 1), 0, 1, &r, NULL);
	cr_assert_eq(r.rc, 0, "log: %s", r.err);
	cr_assert_eq(strncmp(r.out, "inputs 0 bytes 0 sum 0000000000000000 "
			     "ready_ns ", 38), 0, "'%s'", r.out);
	bres_release(&r);
	kenv_fini(&e);
}

Test(kernel_blob_check, fails_on_a_wrong_total)
{
	struct kenv e;
	struct parts p;
	struct bres r;
	kenv_init(&e);
	parts_job(&e, "expect_bytes=900000", true, &p);
	run_bin(&e, p.id, NPARTS, 1, &r, NULL);
	cr_assert_eq(r.rc, 1);
	cr_assert_eq(r.len, 0, "wrote '%s'", r.out);
	cr_assert_str_eq(r.err, "blob_check: expected 900000 bytes, got "
			 "900003 in 3 inputs\n");
	bres_release(&r);
	parts_release(&p);
	kenv_fini(&e);
}

Test(kernel_blob_check, fails_on_an_input_it_cannot_read)
{
	struct kenv e;
	struct parts p;
	struct bres r;
	kenv_init(&e);
	/* The parts have not run: their results do not exist yet. */
	parts_job(&e, NULL, false, &p);
	run_bin(&e, p.id, NPARTS, 1, &r, NULL);
	cr_assert_eq(r.rc, 1);
	cr_assert_eq(r.len, 0, "wrote '%s'", r.out);
	cr_assert_not_null(strstr(r.err, "cannot read input 0: "), "'%s'",
			   r.err);
	cr_assert_not_null(strstr(r.err, "blob_check: input 0 of 3 cannot be "
				  "read\n"), "'%s'", r.err);
	bres_release(&r);
	kenv_fini(&e);
}

Test(kernel_blob_check, refuses_a_bad_expect_bytes)
{
	struct kenv e;
	struct bres r;
	kenv_init(&e);
	const char *const junk[] = { "expect_bytes=many", NULL };
	run_bin(&e, submit_kernel(&e, "blob_check", junk, 1), 0, 1, &r, NULL);
	cr_assert_eq(r.rc, 2);
	cr_assert_str_eq(r.err, "argument expect_bytes=many is not a whole "
			 "number\n");
	bres_release(&r);
	const char *const neg[] = { "expect_bytes=-5", NULL };
	run_bin(&e, submit_kernel(&e, "blob_check", neg, 1), 0, 1, &r, NULL);
	cr_assert_eq(r.rc, 2);
	cr_assert_str_eq(r.err, "blob_check: expect_bytes must not be "
			 "negative, got -5\n");
	bres_release(&r);
	kenv_fini(&e);
}
