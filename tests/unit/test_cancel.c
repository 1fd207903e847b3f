/*
 * test_cancel.c: cancelling jobs and tasks (libq/cancel.c).
 */
#include "helpers.h"

static struct q_counts counts(struct tspool *t, uint64_t id)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t->cache, id, &err);
	struct q_counts c;
	cr_assert_eq(q_job_counts(h, &c, &err), 0, "%s", err.message);
	return c;
}

Test(cancel, whole_job_waiting_ready_and_running)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = q_job_new("mixed");
	struct q_group *a = q_job_add_group(job, "a", Q_TASK_COMMAND);
	q_group_add_argv(a, "true");
	a->count = 4;
	a->array = true;
	a->chunk_size = 1;
	struct q_group *b = q_job_add_group(job, "b", Q_TASK_COMMAND);
	q_group_add_argv(b, "true");
	struct q_after dep = { .job = 0, .first = 0, .count = 4,
			       .mode = Q_AFTER_ALL, .label = "a" };
	q_group_add_after(b, &dep);
	uint64_t id = tsubmit(&t, job);
	struct q_claim running;
	struct q_jobh *h = tclaim(&t, id, &running);

	uint64_t n;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_cancel(h, t.cache, NULL, 0, &n, &err), 0, "%s",
		     err.message);
	cr_assert_eq(n, 5, "cancelled %llu", (unsigned long long)n);
	struct q_counts c = counts(&t, id);
	cr_assert_eq(c.cancelled, 4);   /* 3 ready + 1 waiting */
	cr_assert_eq(c.running, 1);     /* its worker stops it */
	cr_assert(q_cancel_check(h, running.chunk));
	/* The worker finishes it as cancelled; the job is then finished. */
	tfinish(&t, h, &running, Q_STATE_CANCELLED);
	cr_assert(q_jobh_finished(h));
	tspool_fini(&t);
}

Test(cancel, some_tasks_only)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = tjob_simple("part", 10);
	job->groups[0].index_base = 100;
	uint64_t id = tsubmit(&t, job);
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	const char *which[] = { "part[102-104]", "part[109]" };
	uint64_t n;
	cr_assert_eq(q_cancel(h, t.cache, which, 2, &n, &err), 0, "%s",
		     err.message);
	cr_assert_eq(n, 4);
	struct q_counts c = counts(&t, id);
	cr_assert_eq(c.cancelled, 4);
	cr_assert_eq(c.ready, 6);
	cr_assert(q_cancel_check(h, 2));
	cr_assert_not(q_cancel_check(h, 1));
	cr_assert_not(q_cancel_check(h, 5));
	tspool_fini(&t);
}

Test(cancel, bad_task_names_change_nothing)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("safe", 3));
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	const char *bad[][1] = { { "nosuch" }, { "safe[7]" }, { "safe[x]" },
				 { "safe[2-1]" } };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t n;
		q_error_clear(&err);
		cr_assert_lt(q_cancel(h, t.cache, bad[i], 1, &n, &err), 0,
			     "%s accepted", bad[i][0]);
		cr_assert_eq(err.kind, Q_ERR_INPUT);
	}
	struct q_counts c = counts(&t, id);
	cr_assert_eq(c.ready, 3);
	cr_assert_not(q_cancel_check(h, 0));
	tspool_fini(&t);
}

/* Cancelling a job cancels what waits on it in later jobs: they are
 * released and their dependency check reports the cancellation. */
Test(cancel, dependents_in_later_jobs_learn_why)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t first = tsubmit(&t, tjob_simple("first", 2));
	struct q_job *job = tjob_simple("second", 1);
	struct q_after dep = { .job = first, .first = 0, .count = 2,
			       .mode = Q_AFTER_ALL, .label = "first" };
	q_group_add_after(&job->groups[0], &dep);
	uint64_t second = tsubmit(&t, job);
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h1 = q_jobcache_get(t.cache, first, &err);
	uint64_t n;
	cr_assert_eq(q_cancel(h1, t.cache, NULL, 0, &n, &err), 0);
	struct q_counts c = counts(&t, second);
	cr_assert_eq(c.ready, 1);
	struct q_jobh *h2 = q_jobcache_get(t.cache, second, &err);
	char reason[256];
	cr_assert_eq(q_dep_check(h2, t.cache, 0, reason, sizeof(reason), &err),
		     1);
	cr_assert(strstr(reason, "was cancelled") != NULL, "%s", reason);
	tspool_fini(&t);
}
