/*
 * test_each.c: tasks that run once on every worker (libq/each.c).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "helpers.h"

/* Job: setup (each_worker) then work (after setup). */
static uint64_t submit_setup_job(struct tspool *t)
{
	struct q_job *job = q_job_new("nodes");
	struct q_group *s = q_job_add_group(job, "setup", Q_TASK_COMMAND);
	q_group_add_argv(s, "true");
	s->each_worker = true;
	struct q_group *w = q_job_add_group(job, "work", Q_TASK_COMMAND);
	q_group_add_argv(w, "true");
	struct q_after dep = { .job = 0, .first = 0, .count = 1,
			       .mode = Q_AFTER_ALL, .label = "setup" };
	q_group_add_after(w, &dep);
	return tsubmit(t, job);
}

static void run_on(struct tspool *t, struct q_jobh *h, const char *wid,
		   enum q_state state)
{
	uint64_t chunk;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_each_pending(h, wid, &chunk), 1, "%s has nothing", wid);
	cr_assert_eq(chunk, 0);
	struct q_outcome o = { .item = 0, .state = state, .exit_code = 0 };
	cr_assert_eq(q_each_commit(h, t->cache, chunk, 1, wid, &o, &err), 0,
		     "%s", err.message);
	cr_assert_eq(q_each_pending(h, wid, &chunk), 0, "%s runs it twice",
		     wid);
}

Test(each, runs_on_every_live_worker_then_releases_dependents)
{
	struct tspool t;
	tspool_init(&t);
	tworker(&t, "a.1.000001", "h", 60, 0);
	tworker(&t, "b.2.000002", "h", 60, 0);
	tworker(&t, "dead.3.000003", "h", 60, 3600);
	uint64_t id = submit_setup_job(&t);
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	struct q_claim claim;
	/* Never claimed like an ordinary chunk. */
	cr_assert_eq(q_claim_next(h, "a.1.000001", 0, 8, 8, &claim, &err), 0);

	run_on(&t, h, "a.1.000001", Q_STATE_DONE);
	struct q_counts c;
	cr_assert_eq(q_job_counts(h, &c, &err), 0);
	cr_assert_eq(c.done, 0, "finished before b ran it");
	cr_assert_eq(c.waiting, 1);

	run_on(&t, h, "b.2.000002", Q_STATE_DONE);
	cr_assert_eq(q_job_counts(h, &c, &err), 0);
	cr_assert_eq(c.done, 1, "not finished after every live worker");
	cr_assert_eq(c.ready, 1, "work not released");

	struct q_record *runs;
	size_t n;
	cr_assert_eq(q_each_records(h, 0, &runs, &n, &err), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(runs[0].worker, "a.1.000001");
	cr_assert_str_eq(runs[1].worker, "b.2.000002");
	for (size_t i = 0; i < n; i++)
		q_record_release(&runs[i]);
	free(runs);
	tspool_fini(&t);
}

/* A worker that leaves (or dies) no longer holds the task up: the next
 * check by one that ran it finishes it. */
Test(each, a_worker_that_left_does_not_block)
{
	struct tspool t;
	tspool_init(&t);
	tworker(&t, "a.1.000001", "h", 60, 0);
	tworker(&t, "b.2.000002", "h", 60, 0);
	uint64_t id = submit_setup_job(&t);
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	run_on(&t, h, "a.1.000001", Q_STATE_DONE);
	cr_assert_eq(q_each_try_finish(h, t.cache, 0, "a.1.000001", &err), 0);
	cr_assert_eq(q_worker_unregister(t.sp, "b.2.000002"), 0);
	cr_assert_eq(q_each_try_finish(h, t.cache, 0, "a.1.000001", &err), 1);
	cr_assert_eq(q_each_try_finish(h, t.cache, 0, "a.1.000001", &err), 0,
		     "finished twice");
	struct q_counts c;
	cr_assert_eq(q_job_counts(h, &c, &err), 0);
	cr_assert_eq(c.done, 1);
	tspool_fini(&t);
}

/* A run that failed on one worker fails the task, and its dependents
 * are cancelled with the reason. */
Test(each, a_failure_on_one_worker_fails_the_task)
{
	struct tspool t;
	tspool_init(&t);
	tworker(&t, "a.1.000001", "h", 60, 0);
	tworker(&t, "b.2.000002", "h", 60, 0);
	uint64_t id = submit_setup_job(&t);
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t.cache, id, &err);
	run_on(&t, h, "a.1.000001", Q_STATE_DONE);
	run_on(&t, h, "b.2.000002", Q_STATE_FAILED);
	struct q_counts c;
	cr_assert_eq(q_job_counts(h, &c, &err), 0);
	cr_assert_eq(c.failed, 1);
	char reason[256];
	cr_assert_eq(q_dep_check(h, t.cache, 1, reason, sizeof(reason), &err),
		     1);
	cr_assert_str_eq(reason, "dependency 'setup' failed");
	tspool_fini(&t);
}
