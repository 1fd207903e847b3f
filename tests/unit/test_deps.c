/*
 * test_deps.c: dependencies (libq/deps.c, libq/promote.c).
 *
 * The property behind each test: a task becomes ready exactly when its
 * last dependency finishes, exactly once, and never before.
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "helpers.h"
#include "jobh_internal.h"

static uint64_t ready_count(struct tspool *t, uint64_t id)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t->cache, id, &err);
	struct q_counts c;
	cr_assert_eq(q_job_counts(h, &c, &err), 0, "%s", err.message);
	return c.ready;
}

/* Count every file below `path` (recursively). */
static long count_files(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return 0;
	long n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char sub[1024];
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		struct stat st;
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			n += count_files(sub);
		else
			n++;
	}
	closedir(d);
	return n;
}

static void add_after(struct q_group *g, uint64_t job, uint64_t first,
		      uint64_t count, enum q_after_mode mode)
{
	struct q_after a = { .job = job, .first = first, .count = count,
			     .mode = mode, .label = "dep" };
	q_group_add_after(g, &a);
}

Test(deps, chain_of_200_runs_in_order_one_at_a_time)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = q_job_new("chain");
	for (int i = 0; i < 200; i++) {
		char name[16];
		snprintf(name, sizeof(name), "link%d", i);
		struct q_group *g = q_job_add_group(job, name, Q_TASK_COMMAND);
		q_group_add_argv(g, "true");
		if (i > 0)
			add_after(g, 0, (uint64_t)i - 1, 1, Q_AFTER_ALL);
	}
	uint64_t id = tsubmit(&t, job);
	for (uint64_t i = 0; i < 200; i++) {
		cr_assert_eq(ready_count(&t, id), 1, "step %llu",
			     (unsigned long long)i);
		struct q_claim claim;
		struct q_jobh *h = tclaim(&t, id, &claim);
		cr_assert_eq(claim.chunk, i, "link %llu ran out of order",
			     (unsigned long long)i);
		tfinish(&t, h, &claim, Q_STATE_DONE);
	}
	struct q_error err = Q_ERROR_INIT;
	cr_assert(q_jobh_finished(q_jobcache_get(t.cache, id, &err)));
	tspool_fini(&t);
}

Test(deps, fan_in_of_500_waits_for_the_last)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = q_job_new("fanin");
	struct q_group *a = q_job_add_group(job, "many", Q_TASK_COMMAND);
	q_group_add_argv(a, "true");
	a->count = 500;
	a->array = true;
	a->chunk_size = 1;
	struct q_group *b = q_job_add_group(job, "total", Q_TASK_COMMAND);
	q_group_add_argv(b, "true");
	add_after(b, 0, 0, 500, Q_AFTER_ALL);
	uint64_t id = tsubmit(&t, job);
	for (int i = 0; i < 500; i++) {
		struct q_claim claim;
		struct q_jobh *h = tclaim(&t, id, &claim);
		cr_assert_lt(claim.chunk, 500, "'total' ran after %d of 500",
			     i);
		tfinish(&t, h, &claim, Q_STATE_DONE);
	}
	struct q_claim claim;
	tclaim(&t, id, &claim);
	cr_assert_eq(claim.chunk, 500);
	cr_assert_eq(ready_count(&t, id), 0);
	tspool_fini(&t);
}

/* A many-chunk group after a many-item group waits through one barrier:
 * the wait entries grow as chunks + items, not chunks x items. */
Test(deps, barrier_keeps_wait_entries_linear)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = q_job_new("barrier");
	struct q_group *a = q_job_add_group(job, "a", Q_TASK_COMMAND);
	q_group_add_argv(a, "true");
	a->count = 300;
	a->array = true;
	a->chunk_size = 1;
	struct q_group *b = q_job_add_group(job, "b", Q_TASK_COMMAND);
	q_group_add_argv(b, "true");
	b->count = 300;
	b->array = true;
	b->chunk_size = 1;
	add_after(b, 0, 0, 300, Q_AFTER_ALL);
	uint64_t id = tsubmit(&t, job);
	char path[256];
	snprintf(path, sizeof(path), "%s/jobs/%llu/wait", t.path,
		 (unsigned long long)id);
	long entries = count_files(path);
	cr_assert_eq(entries, 600, "%ld wait entries", entries);
	for (int i = 0; i < 300; i++) {
		struct q_claim claim;
		struct q_jobh *h = tclaim(&t, id, &claim);
		cr_assert_lt(claim.chunk, 300);
		tfinish(&t, h, &claim, Q_STATE_DONE);
	}
	cr_assert_eq(ready_count(&t, id), 300);
	tspool_fini(&t);
}

Test(deps, element_wise_releases_only_the_matching_item)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = q_job_new("each");
	struct q_group *a = q_job_add_group(job, "a", Q_TASK_COMMAND);
	q_group_add_argv(a, "true");
	a->count = 10;
	a->array = true;
	a->chunk_size = 1;
	struct q_group *b = q_job_add_group(job, "b", Q_TASK_COMMAND);
	q_group_add_argv(b, "true");
	b->count = 10;
	b->array = true;
	b->chunk_size = 1;
	add_after(b, 0, 0, 10, Q_AFTER_EACH);
	uint64_t id = tsubmit(&t, job);
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	/* Claim all of a, finish only a[3]. */
	struct q_claim claims[10];
	for (int i = 0; i < 10; i++)
		tclaim(&t, id, &claims[i]);
	cr_assert_eq(ready_count(&t, id), 0);
	tfinish(&t, h, &claims[3], Q_STATE_DONE);
	struct q_claim c;
	tclaim(&t, id, &c);
	cr_assert_eq(c.chunk, 13, "b[3] is chunk 13, got %llu",
		     (unsigned long long)c.chunk);
	cr_assert_eq(ready_count(&t, id), 0);
	tspool_fini(&t);
}

/* Item k of `b` waits for items k*stride .. k*stride+width-1 of `a`;
 * finish a's items in the given order and check which of b become ready
 * after each. */
static void map_case(uint64_t na, uint64_t nb, uint64_t stride, uint64_t width)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = q_job_new("map");
	struct q_group *a = q_job_add_group(job, "a", Q_TASK_COMMAND);
	q_group_add_argv(a, "true");
	a->count = na;
	a->array = true;
	a->chunk_size = 1;
	struct q_group *b = q_job_add_group(job, "b", Q_TASK_COMMAND);
	q_group_add_argv(b, "true");
	b->count = nb;
	b->array = true;
	b->chunk_size = 1;
	struct q_after dep = { .job = 0, .first = 0,
			       .count = (nb - 1) * stride + width,
			       .mode = Q_AFTER_MAP, .stride = stride,
			       .width = width, .label = "a[map]" };
	q_group_add_after(b, &dep);
	uint64_t id = tsubmit(&t, job);
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	struct q_claim claims[64];
	for (uint64_t i = 0; i < na; i++)
		tclaim(&t, id, &claims[i]);
	/* Finish a in order; after a[i], exactly the b[k] whose windows end
	 * at or before i are ready or were. */
	uint64_t ready_b = 0;
	for (uint64_t i = 0; i < na; i++) {
		tfinish(&t, h, &claims[i], Q_STATE_DONE);
		uint64_t expect = 0;
		for (uint64_t k = 0; k < nb; k++)
			if (k * stride + width - 1 <= i)
				expect++;
		while (ready_count(&t, id) > 0) {
			struct q_claim c;
			tclaim(&t, id, &c);
			cr_assert_geq(c.chunk, na);
			uint64_t k = c.chunk - na;
			cr_assert_leq(k * stride + width - 1, i,
				      "b[%llu] ready after a[%llu]",
				      (unsigned long long)k,
				      (unsigned long long)i);
			ready_b++;
		}
		cr_assert_eq(ready_b, expect, "after a[%llu]: %llu ready, "
			     "expected %llu", (unsigned long long)i,
			     (unsigned long long)ready_b,
			     (unsigned long long)expect);
	}
	/* Inputs follow the window. */
	struct q_input_ref *in;
	size_t n;
	cr_assert_eq(q_item_inputs(h, na + 1, &in, &n, &err), 0);
	cr_assert_eq(n, width);
	cr_assert_eq(in[0].item, stride);
	free(in);
	tspool_fini(&t);
}

Test(deps, tree_reduction_windows)
{
	map_case(20, 4, 5, 5);     /* disjoint windows of 5 */
}

Test(deps, overlapping_windows)
{
	map_case(21, 10, 2, 3);    /* 0-2, 2-4, 4-6, ... */
}

Test(deps, windows_with_gaps)
{
	map_case(30, 6, 5, 2);     /* 0-1, 5-6, 10-11, ... */
}

Test(deps, later_job_waits_for_an_earlier_one)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t first = tsubmit(&t, tjob_simple("first", 3));
	struct q_job *job = tjob_simple("second", 1);
	add_after(&job->groups[0], first, 0, 3, Q_AFTER_ALL);
	uint64_t second = tsubmit(&t, job);
	cr_assert_eq(ready_count(&t, second), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(ready_count(&t, second), 0);
		struct q_claim claim;
		struct q_jobh *h = tclaim(&t, first, &claim);
		tfinish(&t, h, &claim, Q_STATE_DONE);
	}
	cr_assert_eq(ready_count(&t, second), 1);
	tspool_fini(&t);
}

Test(deps, dependency_already_finished_is_satisfied_at_submit)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t first = tsubmit(&t, tjob_simple("first", 1));
	struct q_claim claim;
	struct q_jobh *h = tclaim(&t, first, &claim);
	tfinish(&t, h, &claim, Q_STATE_DONE);
	struct q_job *job = tjob_simple("second", 1);
	add_after(&job->groups[0], first, 0, 1, Q_AFTER_ALL);
	uint64_t second = tsubmit(&t, job);
	cr_assert_eq(ready_count(&t, second), 1);
	tspool_fini(&t);
}

/* Dependencies finished between staging and publishing are caught by
 * the catch-up after registering the watch. */
Test(deps, later_job_of_a_partly_finished_one)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t first = tsubmit(&t, tjob_simple("first", 2));
	struct q_claim c0, c1;
	struct q_jobh *h = tclaim(&t, first, &c0);
	tclaim(&t, first, &c1);
	tfinish(&t, h, &c0, Q_STATE_DONE);
	struct q_job *job = tjob_simple("second", 1);
	add_after(&job->groups[0], first, 0, 2, Q_AFTER_ALL);
	uint64_t second = tsubmit(&t, job);
	cr_assert_eq(ready_count(&t, second), 0);
	tfinish(&t, h, &c1, Q_STATE_DONE);
	cr_assert_eq(ready_count(&t, second), 1);
	tspool_fini(&t);
}

Test(deps, failed_dependency_is_reported_to_the_dependent)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = q_job_new("fails");
	struct q_group *a = q_job_add_group(job, "setup", Q_TASK_COMMAND);
	q_group_add_argv(a, "false");
	struct q_group *b = q_job_add_group(job, "use", Q_TASK_COMMAND);
	q_group_add_argv(b, "true");
	add_after(b, 0, 0, 1, Q_AFTER_ALL);
	uint64_t id = tsubmit(&t, job);
	struct q_claim claim;
	struct q_jobh *h = tclaim(&t, id, &claim);
	tfinish(&t, h, &claim, Q_STATE_FAILED);
	/* The dependent is released (finishing never loses a wakeup) and
	 * told why it must not run. */
	cr_assert_eq(ready_count(&t, id), 1);
	char reason[256];
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_dep_check(h, t.cache, 1, reason, sizeof(reason), &err),
		     1);
	cr_assert_str_eq(reason, "dependency 'setup' failed");
	cr_assert_eq(q_dep_check(h, t.cache, 0, reason, sizeof(reason), &err),
		     0);
	tspool_fini(&t);
}

/* A releaser that died after emptying a wait directory but before the
 * rename leaves an empty wait/c<D>; promoting again finishes it, once. */
Test(deps, empty_wait_directory_is_promoted_exactly_once)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = q_job_new("wake");
	struct q_group *a = q_job_add_group(job, "a", Q_TASK_COMMAND);
	q_group_add_argv(a, "true");
	struct q_group *b = q_job_add_group(job, "b", Q_TASK_COMMAND);
	q_group_add_argv(b, "true");
	add_after(b, 0, 0, 1, Q_AFTER_ALL);
	uint64_t id = tsubmit(&t, job);
	char path[256];
	snprintf(path, sizeof(path), "%s/jobs/%llu/wait/c1/b0/c0", t.path,
		 (unsigned long long)id);
	cr_assert_eq(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/jobs/%llu/wait/c1/b0", t.path,
		 (unsigned long long)id);
	cr_assert_eq(rmdir(path), 0);
	cr_assert_eq(ready_count(&t, id), 1); /* only a */
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	cr_assert_eq(q__try_promote(h, t.cache, "c1"), 0);
	cr_assert_eq(ready_count(&t, id), 2);
	/* Again: nothing more happens. */
	cr_assert_eq(q__try_promote(h, t.cache, "c1"), 0);
	cr_assert_eq(q__release(h, t.cache, "c1", "c0"), 0);
	cr_assert_eq(ready_count(&t, id), 2);
	tspool_fini(&t);
}

Test(deps, inputs_follow_after_order)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t first = tsubmit(&t, tjob_simple("first", 3));
	struct q_job *job = q_job_new("second");
	struct q_group *g = q_job_add_group(job, "use", Q_TASK_COMMAND);
	q_group_add_argv(g, "true");
	add_after(g, first, 2, 1, Q_AFTER_ALL);
	add_after(g, first, 0, 2, Q_AFTER_ALL);
	uint64_t second = tsubmit(&t, job);
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, second, &err);
	struct q_input_ref *in;
	size_t n;
	cr_assert_eq(q_item_inputs(h, 0, &in, &n, &err), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(in[0].job, first);
	cr_assert_eq(in[0].item, 2);
	cr_assert_eq(in[1].item, 0);
	cr_assert_eq(in[2].item, 1);
	free(in);
	tspool_fini(&t);
}

/* The finisher of a link is told which chunk it made ready (promote.c
 * note 4) and can claim exactly that one; a second claim of it finds
 * nothing, and a hint for another job is no hint. */
/* Two tasks, b after a: submitted, a claimed and finished. */
static uint64_t pair_with_a_done(struct tspool *t, struct q_jobh **h_out)
{
	struct q_job *job = q_job_new("pair");
	struct q_group *a = q_job_add_group(job, "a", Q_TASK_COMMAND);
	q_group_add_argv(a, "true");
	struct q_group *b = q_job_add_group(job, "b", Q_TASK_COMMAND);
	q_group_add_argv(b, "true");
	add_after(b, 0, 0, 1, Q_AFTER_ALL);
	uint64_t id = tsubmit(t, job);
	uint64_t chunk;
	cr_assert_not(q_take_promoted(id, &chunk), "nothing promoted yet");
	struct q_claim claim;
	*h_out = tclaim(t, id, &claim);
	tfinish(t, *h_out, &claim, Q_STATE_DONE);
	return id;
}

Test(deps, finisher_takes_the_link_it_released)
{
	struct tspool t;
	tspool_init(&t);
	struct q_jobh *h;
	uint64_t id = pair_with_a_done(&t, &h);
	uint64_t chunk;
	cr_assert_not(q_take_promoted(id + 1, &chunk), "another job's hint");
	/* The chunk itself, claimed directly. */
	struct q_error err = Q_ERROR_INIT;
	struct q_claim next;
	cr_assert_eq(q_claim_chunk(h, "tester.1.000001", 1, 2, &next, &err), 0,
		     "b needs one core, not two");
	cr_assert_eq(q_claim_chunk(h, "tester.1.000001", 1, 1, &next, &err), 1,
		     "%s", err.message);
	cr_assert_eq(next.chunk, 1);
	cr_assert_eq(q_claim_chunk(h, "tester.2.000002", 1, 1, &next, &err), 0,
		     "claimed once");
	/* Another thread of the same worker: the claim name is the same,
	 * and must not look like its own (claim.c note 1). */
	cr_assert_eq(q_claim_chunk(h, "tester.1.000001", 1, 1, &next, &err), 0,
		     "a sibling thread's claim is not ours");
	tspool_fini(&t);
}

Test(deps, finisher_is_told_what_it_made_ready)
{
	struct tspool t;
	tspool_init(&t);
	struct q_jobh *h;
	uint64_t id = pair_with_a_done(&t, &h);
	uint64_t chunk = 99;
	cr_assert(q_take_promoted(id, &chunk));
	cr_assert_eq(chunk, 1);
	cr_assert_not(q_take_promoted(id, &chunk), "told once");
	tspool_fini(&t);
}
