/*
 * test_repair.c: the repair sweep (libq/repair.c).
 *
 * A commit is crashed at every one of its spool-changing calls in turn
 * (SPOOLQ_FAULT=crash:K); after each crash the sweep must leave the spool
 * as if the commit had either not happened or completed: the task is
 * still claimed and its dependents waiting, or it has a record and every
 * dependent (in this job and in a later one) is ready, exactly once. A
 * second sweep finds nothing to do.
 *
 * The spool-wide sweep (q_repair_spool) removes what dead writers left in
 * tmp/ (a staged, unpublished submission; temporaries), at once when the
 * writer is provably gone on this node, after an hour otherwise, and
 * never a live writer's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "helpers.h"
#include "jobh_internal.h"
#include "names_internal.h"
#include "spool_internal.h"
#include "sysio.h"

static bool report_is_empty(const struct q_repair_report *r)
{
	return !(r->released || r->promoted || r->claims_removed ||
		 r->counted_off || r->todo_closed || r->reclaimed ||
		 r->stages_removed || r->tmp_removed ||
		 r->workers_forgotten);
}

static struct q_counts counts_of(struct tspool *t, uint64_t id)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t->cache, id, &err);
	struct q_counts c;
	cr_assert_not_null(h);
	cr_assert_eq(q_job_counts(h, &c, &err), 0, "%s", err.message);
	return c;
}

static struct q_repair_report repair(struct tspool *t, uint64_t id)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_repair_report r = { 0 };
	struct q_jobh *h = q_jobcache_get(t->cache, id, &err);
	cr_assert_eq(q_repair(h, t->cache, &r, &err), 0, "%s", err.message);
	return r;
}

static struct q_repair_report repair_spool(struct tspool *t)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_repair_report r = { 0 };
	cr_assert_eq(q_repair_spool(t->sp, &r, &err), 0, "%s", err.message);
	return r;
}

static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;
	struct dirent *de;
	cr_assert_not_null(d, "%s", path);
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static int tmp_entries(struct tspool *t)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/tmp", t->path);
	return count_entries(path);
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

		/* Twice: the sweep is idempotent; the second finds nothing. */
		for (int pass = 0; pass < 2; pass++) {
			struct q_repair_report r1 = repair(&t, j1);
			struct q_repair_report r2 = repair(&t, j2);
			struct q_repair_report rs = repair_spool(&t);
			cr_assert(pass == 0 || (report_is_empty(&r1) &&
						report_is_empty(&r2) &&
						report_is_empty(&rs)),
				  "k=%u: the second sweep did something", k);
			cr_assert_eq(tmp_entries(&t), 0,
				     "k=%u: the dead committer's temporaries "
				     "are left in tmp/", k);
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

/* A one-task job run to the end, then its todo/ and todo/0 put back
 * (empty), as a committer that crashed before its rmdirs leaves them. */
static uint64_t finished_with_todo_back(struct tspool *t)
{
	uint64_t id = tsubmit(t, tjob_simple("count", 1));
	struct q_claim claim;
	struct q_jobh *h = tclaim(t, id, &claim);
	tfinish(t, h, &claim, Q_STATE_DONE);
	cr_assert(q_jobh_finished(h));
	char path[512];
	snprintf(path, sizeof(path), "%s/jobs/%llu/todo", t->path,
		 (unsigned long long)id);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/jobs/%llu/todo/0", t->path,
		 (unsigned long long)id);
	cr_assert_eq(mkdir(path, 0700), 0);
	return id;
}

/* A job whose last chunk's committer died after the record: the sweep
 * counts it off todo/ and the job finishes. */
Test(repair, finishes_the_todo_countdown)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = finished_with_todo_back(&t);
	/* And the chunk's own entry: the committer died before unlinking. */
	char path[512];
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

/* The last committer died after unlinking its todo entry, before its
 * rmdirs: the emptied todo/<s> and todo/ go, and the job is finished. */
Test(repair, removes_an_emptied_todo)
{
	struct tspool t;
	tspool_init(&t);
	uint64_t id = finished_with_todo_back(&t);
	struct q_jobh *fresh;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_jobh_open(t.sp, id, &fresh, &err), 0);
	cr_assert_not(q_jobh_finished(fresh));
	struct q_repair_report r = { 0 };
	cr_assert_eq(q_repair(fresh, t.cache, &r, &err), 0, "%s",
		     err.message);
	cr_assert_eq(r.todo_closed, 2);
	cr_assert(q_jobh_finished(fresh));
	struct q_jobh *again;
	cr_assert_eq(q_jobh_open(t.sp, id, &again, &err), 0);
	cr_assert(q_jobh_finished(again));
	q_jobh_close(again);
	q_jobh_close(fresh);
	tspool_fini(&t);
}

/* A releaser died after emptying a wait directory, before its promoting
 * rename: the sweep promotes it, once, and says so. */
Test(repair, promotes_an_emptied_wait_directory_once)
{
	struct tspool t;
	tspool_init(&t);
	struct q_job *job = q_job_new("pair");
	struct q_group *a = q_job_add_group(job, "a", Q_TASK_COMMAND);
	q_group_add_argv(a, "true");
	struct q_group *b = q_job_add_group(job, "b", Q_TASK_COMMAND);
	q_group_add_argv(b, "true");
	struct q_after dep = { .job = 0, .first = 0, .count = 1,
			       .mode = Q_AFTER_ALL, .label = "a" };
	q_group_add_after(b, &dep);
	uint64_t id = tsubmit(&t, job);
	struct q_claim claim;
	struct q_jobh *h = tclaim(&t, id, &claim);
	tfinish(&t, h, &claim, Q_STATE_DONE);
	/* Undo the promotion: b's wait directory is back, empty. */
	char from[256], to[256];
	snprintf(from, sizeof(from), "%s/jobs/%llu/ready/0/1.a1", t.path,
		 (unsigned long long)id);
	snprintf(to, sizeof(to), "%s/jobs/%llu/wait/c1", t.path,
		 (unsigned long long)id);
	cr_assert_eq(rename(from, to), 0, "%s", strerror(errno));
	cr_assert_eq(counts_of(&t, id).ready, 0);
	struct q_repair_report r = repair(&t, id);
	cr_assert_eq(r.promoted, 1);
	cr_assert_eq(counts_of(&t, id).ready, 1);
	r = repair(&t, id);
	cr_assert(report_is_empty(&r), "promoted twice");
	cr_assert_eq(counts_of(&t, id).ready, 1);
	tspool_fini(&t);
}

/* Create tmp/<name> (a file, or a directory with a file in it) and set
 * its mtime `age` seconds back. */
static void make_tmp(struct tspool *t, const char *name, bool dir,
		     time_t age)
{
	char path[512], inner[600];
	snprintf(path, sizeof(path), "%s/tmp/%s", t->path, name);
	if (dir) {
		cr_assert_eq(mkdir(path, 0700), 0);
		snprintf(inner, sizeof(inner), "%s/job", path);
		FILE *f = fopen(inner, "w");
		cr_assert_not_null(f);
		fclose(f);
	} else {
		FILE *f = fopen(path, "w");
		cr_assert_not_null(f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "tmp/%s", name);
	tage(t, path, age);
}

static bool tmp_exists(struct tspool *t, const char *name)
{
	char rel[300];
	snprintf(rel, sizeof(rel), "tmp/%s", name);
	return texists(t, rel);
}
/* Temporaries named by a writer that has exited (on this node, in this
 * pid namespace) go at once, however young; a staging directory is
 * counted as an unpublished submission. */
Test(repair, removes_a_dead_writers_temporaries_at_once)
{
	struct tspool t;
	tspool_init(&t);
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char names[2][256];
		close(fds[0]);
		q__unique_name(names[0], sizeof(names[0]), "record");
		q__unique_name(names[1], sizeof(names[1]), "stage");
		for (int i = 0; i < 2; i++)
			if (write(fds[1], names[i], sizeof(names[i])) !=
			    (ssize_t)sizeof(names[i]))
				_exit(3);
		_exit(0);
	}
	close(fds[1]);
	char record[256], stage[256];
	cr_assert_eq(read(fds[0], record, sizeof(record)),
		     (ssize_t)sizeof(record));
	cr_assert_eq(read(fds[0], stage, sizeof(stage)),
		     (ssize_t)sizeof(stage));
	close(fds[0]);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	make_tmp(&t, record, false, 0);
	make_tmp(&t, stage, true, 0);

	/* This process's own, even an old one, stays: it is alive. */
	char mine[256];
	q__unique_name(mine, sizeof(mine), "record");
	make_tmp(&t, mine, false, 7200);

	struct q_repair_report r = repair_spool(&t);
	cr_assert_eq(r.tmp_removed, 1);
	cr_assert_eq(r.stages_removed, 1);
	cr_assert_not(tmp_exists(&t, record));
	cr_assert_not(tmp_exists(&t, stage));
	cr_assert(tmp_exists(&t, mine), "a live writer's file was removed");
	r = repair_spool(&t);
	cr_assert(report_is_empty(&r), "the second sweep did something");
	tspool_fini(&t);
}

/* Where the writer cannot be judged (another node, or a name without
 * the writer's identity): an hour by the file server's clock, unless a
 * live worker has that host and pid. Names not of spoolq's form stay. */
Test(repair, judges_other_writers_by_age)
{
	struct tspool t;
	tspool_init(&t);
	/* Another node, old format: young, old, and old but its worker is
	 * alive (heartbeat just now). */
	make_tmp(&t, "far.123.1700000000000000000.0.record", false, 60);
	make_tmp(&t, "far.124.1700000000000000000.1.stage", true, 7200);
	make_tmp(&t, "far.125.1700000000000000000.2.err", false, 7200);
	/* Another node, with a token of another boot. */
	make_tmp(&t, "far.126.1700000000000000000.3.77-0123456789abcdef.out",
		 false, 7200);
	make_tmp(&t, "someone-elses-file", false, 7200);
	struct q_worker_info w = { .pid = 125, .cpus = 1, .lease_s = 60 };
	struct q_error err = Q_ERROR_INIT;
	snprintf(w.id, sizeof(w.id), "far.125.abcdef");
	snprintf(w.host, sizeof(w.host), "far");
	cr_assert_eq(q_worker_register(t.sp, &w, &err), 0);

	struct q_repair_report r = repair_spool(&t);
	cr_assert_eq(r.stages_removed, 1);
	cr_assert_eq(r.tmp_removed, 1);
	cr_assert(tmp_exists(&t, "far.123.1700000000000000000.0.record"),
		  "a young file of an unknown writer was removed");
	cr_assert_not(tmp_exists(&t, "far.124.1700000000000000000.1.stage"));
	cr_assert(tmp_exists(&t, "far.125.1700000000000000000.2.err"),
		  "a live worker's output file was removed");
	cr_assert_not(tmp_exists(&t, "far.126.1700000000000000000.3."
				     "77-0123456789abcdef.out"));
	cr_assert(tmp_exists(&t, "someone-elses-file"));
	r = repair_spool(&t);
	cr_assert(report_is_empty(&r), "the second sweep did something");
	tspool_fini(&t);
}

/* qsubmit (q_submit) crashed at every step: after the sweep the spool
 * holds the whole job or nothing at all, and tmp/ is empty. */
Test(repair, a_submission_crashed_at_every_step_is_all_or_nothing,
     .timeout = 120)
{
	int completed = 0, crashes = 0;
	for (unsigned k = 1; k < 500 && !completed; k++) {
		struct tspool t;
		tspool_init(&t);
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			char spec[32];
			snprintf(spec, sizeof(spec), "crash:%u", k);
			setenv("SPOOLQ_FAULT", spec, 1);
			q__sysio_fault_reset();
			struct q_error err = Q_ERROR_INIT;
			struct q_job *job = tjob_simple("all", 3);
			job->groups[0].chunk_size = 1;
			struct q_group *g = q_job_add_group(job, "after",
							    Q_TASK_COMMAND);
			q_group_add_argv(g, "true");
			struct q_after dep = { .job = 0, .first = 0,
					       .count = 3,
					       .mode = Q_AFTER_ALL,
					       .label = "all" };
			q_group_add_after(g, &dep);
			_exit(q_submit(t.sp, job, &err) == 0 ? 0 : 4);
		}
		int status;
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFEXITED(status));
		int code = WEXITSTATUS(status);
		cr_assert(code == 0 || code == 99, "k=%u: exit %d", k, code);
		completed = code == 0;
		crashes += code == 99;
		struct q_repair_report r = repair_spool(&t);
		cr_assert_eq(tmp_entries(&t), 0, "k=%u: tmp/ not cleaned", k);
		char jobs[160];
		snprintf(jobs, sizeof(jobs), "%s/jobs", t.path);
		int njobs = count_entries(jobs);
		cr_assert(njobs == 0 || njobs == 1, "k=%u", k);
		if (njobs == 1) {
			cr_assert_eq(r.stages_removed, 0, "k=%u", k);
			struct q_counts c = counts_of(&t, 1);
			cr_assert_eq(c.ready, 3, "k=%u: partial job", k);
			cr_assert_eq(c.waiting, 1, "k=%u: partial job", k);
		}
		r = repair_spool(&t);
		cr_assert(report_is_empty(&r), "k=%u: second sweep", k);
		tspool_fini(&t);
	}
	cr_assert(completed, "the submission never completed");
	cr_assert_gt(crashes, 10, "only %d crash points", crashes);
}

/* Dead workers show as lost for an hour (or ten leases), then go. */
Test(repair, forgets_workers_dead_for_an_hour)
{
	struct tspool t;
	tspool_init(&t);
	/* Dead 2 h: forgotten; dead 30 min: kept; a 1000 s lease: kept for
	 * ten leases (2.8 h); alive: kept. */
	tworker(&t, "a.1.000001", "elsewhere", 60, 2 * 3600);
	tworker(&t, "b.2.000002", "elsewhere", 60, 1800);
	tworker(&t, "c.3.000003", "elsewhere", 1000, 2 * 3600);
	tworker(&t, "d.4.000004", "elsewhere", 60, 0);
	struct q_repair_report r = repair_spool(&t);
	cr_assert_eq(r.workers_forgotten, 1);
	cr_assert_not(texists(&t, "workers/a.1.000001"));
	cr_assert(texists(&t, "workers/b.2.000002"));
	cr_assert(texists(&t, "workers/c.3.000003"));
	cr_assert(texists(&t, "workers/d.4.000004"));
	r = repair_spool(&t);
	cr_assert(report_is_empty(&r), "a second sweep does nothing");
	tspool_fini(&t);
}
