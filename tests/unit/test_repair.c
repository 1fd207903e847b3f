/*
 * test_repair.c: the repair sweep (libq/repair.c).
 *
 * A commit is crashed at every one of its spool-changing calls in turn
 * (SPOOLQ_FAULT=crash:K); after each crash the sweep must leave the spool
 * as if the commit had either not happened or completed: the task is
 * still claimed and its dependents waiting, or it has a record and every
 * dependent (in this job and in a later one) is ready, exactly once.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include "helpers.h"
#include "jobh_internal.h"
#include "sysio.h"

static struct q_counts counts_of(struct tspool *t, uint64_t id)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t->cache, id, &err);
	struct q_counts c;
	cr_assert_not_null(h);
	cr_assert_eq(q_job_counts(h, &c, &err), 0, "%s", err.message);
	return c;
}

static void repair(struct tspool *t, uint64_t id)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t->cache, id, &err);
	cr_assert_eq(q_repair(h, t->cache, NULL, &err), 0, "%s", err.message);
}

Test(repair, commit_crashed_at_every_step, .timeout = 120)
{
	int completed = 0, crashes = 0;
	for (unsigned k = 1; k < 200 && !completed; k++) {
		struct tspool t;
		tspool_init(&t);
		/* Job 1: setup -> use (inside the job); job 2 after job 1. */
		struct q_job *job = q_job_new("pipe");
		struct q_group *a = q_job_add_group(job, "setup",
						    Q_TASK_COMMAND);
		q_group_add_argv(a, "true");
		struct q_group *b = q_job_add_group(job, "use",
						    Q_TASK_COMMAND);
		q_group_add_argv(b, "true");
		struct q_after dep = { .job = 0, .first = 0, .count = 1,
				       .mode = Q_AFTER_ALL, .label = "setup" };
		q_group_add_after(b, &dep);
		uint64_t j1 = tsubmit(&t, job);
		struct q_job *later = tjob_simple("later", 1);
		struct q_after ext = { .job = j1, .first = 0, .count = 1,
				       .mode = Q_AFTER_ALL, .label = "1" };
		q_group_add_after(&later->groups[0], &ext);
		uint64_t j2 = tsubmit(&t, later);

		struct q_claim claim;
		struct q_jobh *h = tclaim(&t, j1, &claim);
		cr_assert_eq(claim.chunk, 0);
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			char spec[32];
			snprintf(spec, sizeof(spec), "crash:%u", k);
			setenv("SPOOLQ_FAULT", spec, 1);
			q__sysio_fault_reset();
			struct q_spool *sp;
			struct q_jobh *ch;
			struct q_error err = Q_ERROR_INIT;
			if (q_spool_open(&sp, t.path, Q_SPOOL_WRITE, &err) < 0 ||
			    q_jobh_open(sp, j1, &ch, &err) < 0)
				_exit(3);
			struct q_jobcache *cache = q_jobcache_new(sp);
			struct q_outcome o = { .item = 0,
					       .state = Q_STATE_DONE };
			_exit(q_commit(ch, cache, &claim, "tester.1.000001", &o,
				       1, &err) == 1 ? 0 : 4);
		}
		int status;
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFEXITED(status));
		int code = WEXITSTATUS(status);
		cr_assert(code == 0 || code == 99, "k=%u: exit %d", k, code);
		completed = code == 0;
		crashes += code == 99;

		/* Twice: the sweep is idempotent. */
		for (int pass = 0; pass < 2; pass++) {
			repair(&t, j1);
			repair(&t, j2);
			struct q_counts c1 = counts_of(&t, j1);
			struct q_counts c2 = counts_of(&t, j2);
			if (q__chunk_has_record(h, 0) == 1) {
				cr_assert_eq(c1.done, 1, "k=%u", k);
				cr_assert_eq(c1.running, 0,
					     "k=%u: claim left behind", k);
				cr_assert_eq(c1.ready, 1,
					     "k=%u pass %d: 'use' not ready "
					     "once (%llu)", k, pass,
					     (unsigned long long)c1.ready);
				cr_assert_eq(c2.ready, 1,
					     "k=%u: later job not released", k);
			} else {
				cr_assert_eq(c1.running, 1, "k=%u", k);
				cr_assert_eq(c1.waiting, 1, "k=%u", k);
				cr_assert_eq(c2.waiting, 1, "k=%u", k);
			}
		}
		tspool_fini(&t);
	}
	cr_assert(completed, "the commit never completed");
	cr_assert_gt(crashes, 5, "only %d crash points", crashes);
}

/* A job whose last chunk's committer died after the record: the sweep
 * counts it off todo/ and the job finishes. */
Test(repair, finishes_the_todo_countdown)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = tsubmit(&t, tjob_simple("count", 1));
	struct q_claim claim;
	struct q_jobh *h = tclaim(&t, id, &claim);
	tfinish(&t, h, &claim, Q_STATE_DONE);
	cr_assert(q_jobh_finished(h));
	/* Put back what a crash after the record would have left. */
	char path[512];
	snprintf(path, sizeof(path), "%s/jobs/%llu/todo", t.path,
		 (unsigned long long)id);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/jobs/%llu/todo/0", t.path,
		 (unsigned long long)id);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/jobs/%llu/todo/0/0", t.path,
		 (unsigned long long)id);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fclose(f);
	struct q_jobh *fresh;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_jobh_open(t.sp, id, &fresh, &err), 0);
	cr_assert_not(q_jobh_finished(fresh));
	cr_assert_eq(q_repair(fresh, t.cache, NULL, &err), 0, "%s",
		     err.message);
	cr_assert(q_jobh_finished(fresh));
	q_jobh_close(fresh);
	tspool_fini(&t);
}
