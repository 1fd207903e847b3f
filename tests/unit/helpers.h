/*
 * helpers.h: small shared pieces for the protocol unit tests: a temporary
 * spool per test, building and submitting jobs, running a chunk the way a
 * worker would. Header-only (static functions) so each test file stays a
 * single translation unit.
 */
#ifndef TESTS_HELPERS_H
#define TESTS_HELPERS_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <spoolq/spoolq.h>

struct tspool {
	char dir[64];
	char path[96];
	struct q_spool *sp;
	struct q_jobcache *cache;
};

static inline void tspool_init(struct tspool *t)
{
	struct q_error err = Q_ERROR_INIT;
	snprintf(t->dir, sizeof(t->dir), "/tmp/spoolq-unit.XXXXXX");
	cr_assert_not_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/spool", t->dir);
	cr_assert_eq(q_spool_open(&t->sp, t->path,
				  Q_SPOOL_CREATE | Q_SPOOL_WRITE, &err),
		     0, "%s", err.message);
	t->cache = q_jobcache_new(t->sp);
}

static inline void tspool_fini(struct tspool *t)
{
	char cmd[160];
	q_jobcache_release(t->cache);
	q_spool_close(t->sp);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	cr_assert_eq(system(cmd), 0);
}

/* Set the times of `rel` below the spool to `age` seconds ago (a
 * negative age: in the future). */
static inline void tage(struct tspool *t, const char *rel, time_t age)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", t->path, rel);
	struct timespec when[2] = { { time(NULL) - age, 0 },
				    { time(NULL) - age, 0 } };
	cr_assert_eq(utimensat(AT_FDCWD, path, when, 0), 0, "%s", path);
}

/* Register worker `id` (pid 1, host `host`) with `lease`; a non-zero
 * `age` makes its last heartbeat that many seconds old. */
static inline void tworker(struct tspool *t, const char *id, const char *host,
			   unsigned lease, time_t age)
{
	struct q_worker_info w = { .pid = 1, .cpus = 1, .lease_s = lease };
	struct q_error err = Q_ERROR_INIT;
	char rel[256];
	snprintf(w.id, sizeof(w.id), "%s", id);
	snprintf(w.host, sizeof(w.host), "%s", host);
	cr_assert_eq(q_worker_register(t->sp, &w, &err), 0, "%s", err.message);
	snprintf(rel, sizeof(rel), "workers/%s", id);
	if (age)
		tage(t, rel, age);
}

/* Entries in the directory `path`, dot files aside. */
static inline int tdir_entries(const char *path)
{
	DIR *d = opendir(path);
	cr_assert_not_null(d, "%s", path);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Entries in the spool's tmp/, dot files aside. */
static inline int ttmp_entries(struct tspool *t)
{
	char dir[160];
	snprintf(dir, sizeof(dir), "%s/tmp", t->path);
	return tdir_entries(dir);
}

/* Does `rel` exist below the spool? */
static inline bool texists(struct tspool *t, const char *rel)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", t->path, rel);
	return access(path, F_OK) == 0;
}

/* A job with one command group of `count` items ("true"), chunk size 1. */
static inline struct q_job *tjob_simple(const char *name, uint64_t count)
{
	struct q_job *job = q_job_new(name);
	struct q_group *g = q_job_add_group(job, name, Q_TASK_COMMAND);
	q_group_add_argv(g, "true");
	g->count = count;
	g->array = count > 1;
	g->chunk_size = 1;
	return job;
}

static inline uint64_t tsubmit(struct tspool *t, struct q_job *job)
{
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(q_submit(t->sp, job, &err), 0, "%s", err.message);
	uint64_t id = job->id;
	q_job_release(job);
	return id;
}

/* Finish a claimed chunk with every item in `state` and no output. */
static inline int tfinish(struct tspool *t, struct q_jobh *h,
			  const struct q_claim *claim, enum q_state state)
{
	struct q_error err = Q_ERROR_INIT;
	uint64_t first, count;
	q_job_chunk_items(q_jobh_job(h), claim->chunk, &first, &count);
	struct q_outcome *o = calloc(count, sizeof(*o));
	for (uint64_t i = 0; i < count; i++) {
		o[i].item = first + i;
		o[i].state = state;
		o[i].exit_code = state == Q_STATE_DONE ? 0 : 1;
		o[i].start_ns = o[i].end_ns = 1;
	}
	int ret = q_commit(h, t->cache, claim, "tester.1.000001", o, count,
			   &err);
	cr_assert_geq(ret, 0, "%s", err.message);
	free(o);
	return ret;
}

/* Claim one chunk of job `id` or fail the test. */
static inline struct q_jobh *tclaim(struct tspool *t, uint64_t id,
				    struct q_claim *claim)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t->cache, id, &err);
	cr_assert_not_null(h, "%s", err.message);
	cr_assert_eq(q_claim_next(h, "tester.1.000001", 0, 64, 64, claim,
				  &err), 1, "job %llu: nothing to claim %s",
		     (unsigned long long)id, err.message);
	return h;
}

/* 1 if job `id` has a ready chunk right now, else 0. */
static inline int tready(struct tspool *t, uint64_t id)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h = q_jobcache_get(t->cache, id, &err);
	cr_assert_not_null(h);
	struct q_counts c;
	cr_assert_eq(q_job_counts(h, &c, &err), 0, "%s", err.message);
	return c.ready > 0;
}

#endif
