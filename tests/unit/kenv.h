/*
 * kenv.h: running kernels through a real context, as the worker does
 * (runner.c), for the kernel and plugin tests: a temporary spool, a job
 * of one kernel group, one item run with its result and log collected.
 */
#ifndef TESTS_KENV_H
#define TESTS_KENV_H

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spoolq/spoolq.h>

#include "kernels.h"

struct kenv {
	char dir[64];
	char path[96];
	struct q_spool *sp;
	struct q_jobcache *cache;
};

/* A fresh spool in a temporary directory, built-in kernels registered. */
static inline void kenv_init(struct kenv *e)
{
	struct q_error err = Q_ERROR_INIT;
	snprintf(e->dir, sizeof(e->dir), "/tmp/spoolq-kenv.XXXXXX");
	cr_assert_not_null(mkdtemp(e->dir), "mkdtemp: %s", strerror(errno));
	snprintf(e->path, sizeof(e->path), "%s/spool", e->dir);
	cr_assert_eq(q_spool_open(&e->sp, e->path,
				  Q_SPOOL_CREATE | Q_SPOOL_WRITE, &err), 0,
		     "%s", err.message);
	e->cache = q_jobcache_new(e->sp);
	cr_assert_not_null(e->cache);
	q_builtin_kernels_register();
}

static inline int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static inline void kenv_fini(struct kenv *e)
{
	q_jobcache_release(e->cache);
	q_spool_close(e->sp);
	cr_assert_eq(nftw(e->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0,
		     "cannot remove %s", e->dir);
}

/* Submit a job of one kernel group: `count` items (an array if > 1) with
 * the NULL-terminated "KEY=VALUE" `args`. Returns the job id. */
static inline uint64_t submit_kernel(struct kenv *e, const char *kernel,
			      const char *const *args, uint64_t count)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_job *job = q_job_new("ktest");
	struct q_group *g = q_job_add_group(job, "t", Q_TASK_KERNEL);
	g->kernel = strdup(kernel);
	cr_assert_not_null(g->kernel);
	for (size_t i = 0; args && args[i]; i++)
		q_group_add_arg(g, args[i]);
	g->count = count;
	g->array = count > 1;
	cr_assert_eq(q_submit(e->sp, job, &err), 0, "%s", err.message);
	uint64_t id = job->id;
	cr_assert_gt(id, 0);
	q_job_release(job);
	return id;
}

static inline char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	cr_assert_not_null(m);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		cr_assert_eq(fwrite(buf, 1, n, m), n);
	cr_assert_not(ferror(f));
	fclose(f);
	cr_assert_eq(fclose(m), 0);
	return text;
}

static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct krun {
	int rc;          /* what kernel->run returned */
	int fin;         /* what q_ctx_finish returned */
	double seconds;  /* how long run took */
	char *out;       /* the result file's contents */
	char *err;       /* the log file's contents */
};

/* Run `item` of job `id` the way the worker does (runner.c) and collect
 * what it wrote; the tmp files are removed afterwards. */
static inline void run_item(struct kenv *e, uint64_t id, uint64_t item,
		     unsigned threads, int cancel, struct krun *r)
{
	struct q_error err = Q_ERROR_INIT;
	struct q_jobh *h;
	char out_name[Q_CLAIM_NAME_MAX], err_name[Q_CLAIM_NAME_MAX];
	char file[512];
	volatile int cancel_flag = cancel;

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
				      err_fd, &cancel_flag);
	cr_assert_not_null(ctx);
	omp_set_num_threads((int)threads);
	double t0 = now_s();
	r->rc = k->run(ctx);
	r->seconds = now_s() - t0;
	r->fin = q_ctx_finish(ctx);
	q_ctx_release(ctx);
	cr_assert_eq(close(out_fd), 0);
	cr_assert_eq(close(err_fd), 0);

	snprintf(file, sizeof(file), "%s/tmp/%s", q_spool_path(e->sp),
		 out_name);
	r->out = slurp(file);
	snprintf(file, sizeof(file), "%s/tmp/%s", q_spool_path(e->sp),
		 err_name);
	r->err = slurp(file);
	q_spool_tmp_remove(e->sp, out_name);
	q_spool_tmp_remove(e->sp, err_name);
	cr_assert_eq(access(file, F_OK), -1, "tmp file left behind");
	q_jobh_close(h);
}

static inline void krun_release(struct krun *r)
{
	free(r->out);
	free(r->err);
}

/* Parse the pi kernel's "ESTIMATE HITS SAMPLES\n" and check it. */

#endif
