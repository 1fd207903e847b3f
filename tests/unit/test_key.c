/*
 * test_key.c: keys of pure tasks and result reuse (libq/key.c, reuse.c).
 */
#include "helpers.h"
#include "kernels.h"

/* One pure kernel task (pi) with `args`, after job `dep` (0: none). */
static uint64_t submit_pi(struct tspool *t, const char *args, uint64_t dep)
{
	struct q_job *job = q_job_new("pi");
	struct q_group *g = q_job_add_group(job, "pi", Q_TASK_KERNEL);
	g->kernel = strdup("pi");
	q_group_add_arg(g, args);
	if (dep) {
		struct q_after a = { .job = dep, .first = 0, .count = 1,
				     .mode = Q_AFTER_ALL, .label = "dep" };
		q_group_add_after(g, &a);
	}
	return tsubmit(t, job);
}

static void key_of(struct tspool *t, uint64_t id, char out[Q_KEY_HEX],
		   int want)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t->cache, id, &err);
	cr_assert_eq(q_item_key(h, t->cache, 0, out), want);
}

/* Finish job id's chunk 0 with `text` as output and the item's key. */
static void finish_with(struct tspool *t, uint64_t id, const char *text)
{
	struct q_claim claim;
	struct q_jobh *h = tclaim(t, id, &claim);
	struct q_outcome o = { .item = 0, .state = Q_STATE_DONE };
	q_item_key(h, t->cache, 0, o.key);
	int fd = q_spool_tmp_create(t->sp, "out", o.out.tmp,
				    sizeof(o.out.tmp));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_commit(h, t->cache, &claim, "w.1.000001", &o, 1, &err),
		     1, "%s", err.message);
}

Test(key, same_task_same_key_changed_argument_other_key)
{
	struct tspool t;
	tspool_init(&t);
	q_builtin_kernels_register();
	char a[Q_KEY_HEX], b[Q_KEY_HEX], c[Q_KEY_HEX];
	key_of(&t, submit_pi(&t, "samples=100", 0), a, 1);
	key_of(&t, submit_pi(&t, "samples=100", 0), b, 1);
	key_of(&t, submit_pi(&t, "samples=101", 0), c, 1);
	cr_assert_eq(strlen(a), 64);
	cr_assert_str_eq(a, b);
	cr_assert_str_neq(a, c);
	tspool_fini(&t);
}

Test(key, commands_are_not_pure_unless_asked)
{
	struct tspool t;
	tspool_init(&t);
	char k[Q_KEY_HEX];
	uint64_t id = tsubmit(&t, tjob_simple("cmd", 1));
	key_of(&t, id, k, 0);
	cr_assert_str_eq(k, "");
	struct q_job *job = tjob_simple("purecmd", 1);
	job->groups[0].pure = true;
	key_of(&t, tsubmit(&t, job), k, 1);
	tspool_fini(&t);
}

/* An input without a key (a command's output) keys by its content; the
 * dependent has no key until the input is done. */
Test(key, inputs_key_by_content)
{
	struct tspool t;
	tspool_init(&t);
	q_builtin_kernels_register();
	uint64_t in1 = tsubmit(&t, tjob_simple("in", 1));
	uint64_t in2 = tsubmit(&t, tjob_simple("in", 1));
	uint64_t d1 = submit_pi(&t, "samples=10", in1);
	uint64_t d2 = submit_pi(&t, "samples=10", in2);
	char k1[Q_KEY_HEX], k2[Q_KEY_HEX];
	key_of(&t, d1, k1, 0);          /* input not done yet */
	finish_with(&t, in1, "same\n");
	finish_with(&t, in2, "same\n");
	key_of(&t, d1, k1, 1);
	key_of(&t, d2, k2, 1);
	cr_assert_str_eq(k1, k2, "same input content, different keys");
	uint64_t in3 = tsubmit(&t, tjob_simple("in", 1));
	uint64_t d3 = submit_pi(&t, "samples=10", in3);
	finish_with(&t, in3, "other\n");
	key_of(&t, d3, k2, 1);
	cr_assert_str_neq(k1, k2, "changed input, same key");
	tspool_fini(&t);
}

Test(key, an_identical_chunk_reuses_the_result)
{
	struct tspool t;
	tspool_init(&t);
	q_builtin_kernels_register();
	uint64_t first = submit_pi(&t, "samples=100", 0);
	finish_with(&t, first, "3.14 78 100\n");
	uint64_t again = submit_pi(&t, "samples=100", 0);
	struct q_claim claim;
	struct q_jobh *h = tclaim(&t, again, &claim);
	struct q_outcome o = { .item = 0 };
	cr_assert_eq(q_item_key(h, t.cache, 0, o.key), 1);
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_cache_reuse(h, t.cache, &claim, "w.2.000002", &o, 1,
				   &err), 1, "%s", err.message);
	char *data;
	size_t len;
	cr_assert_eq(q_item_output(t.cache, again, 0, 100, &data, &len, &err),
		     0);
	cr_assert_str_eq(data, "3.14 78 100\n");
	q_big_free(data);
	struct q_counts c;
	cr_assert_eq(q_job_counts(h, &c, &err), 0);
	cr_assert_eq(c.done, 1);
	cr_assert_eq(c.cached, 1);
	/* A different task finds nothing. */
	uint64_t other = submit_pi(&t, "samples=200", 0);
	h = tclaim(&t, other, &claim);
	struct q_outcome o2 = { .item = 0 };
	q_item_key(h, t.cache, 0, o2.key);
	cr_assert_eq(q_cache_reuse(h, t.cache, &claim, "w.2.000002", &o2, 1,
				   &err), 0);
	tspool_fini(&t);
}
