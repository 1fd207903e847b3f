/*
 * submit.c: publishing a job, all or nothing.
 *
 * State table of a submission:
 *
 *   state       what exists                         moved on by
 *   staging     tmp/<stage>/ with everything        stage_job (here)
 *   published   jobs/<id>/ (one rename)             publish: renameat
 *   watched     jobs/<dep>/watch/<id> for each      register_watches
 *               earlier job it depends on
 *
 * Design notes
 * 1. Everything a job needs (job file, spec, lines, its todo/ countdown,
 *    ready/ entries, wait/ directories) is built under tmp/ and made
 *    durable (syncfs: one journal commit instead of one per directory),
 *    then published by renaming the directory into jobs/: the job appears
 *    all at once or not at all. A crash before the rename leaves only a
 *    stale staging directory under tmp/.
 * 2. Job ids are allocated by that rename: the next number after the
 *    largest existing id; a lost race (the name exists, ENOTEMPTY) moves
 *    on to the next number. The job file carries a unique stage token, so
 *    an ambiguous rename error (NFS) is resolved by reading it back.
 * 3. Dependencies on earlier jobs: chunks already finished are left out
 *    of the wait entries. After publishing, the job registers in each
 *    earlier job's watch/ and then releases what finished in between.
 *    Either the finisher sees the watch entry, or we see its record: no
 *    lost wakeup (the repair sweep covers a crash in between).
 * 4. Any failure before the publishing rename removes the staging
 *    directory: the spool is as it was. A full disk or an exceeded quota
 *    (ENOSPC, EDQUOT) can hit any of the staging writes; the error then
 *    names the spool rather than the staging file, since what the user
 *    must do (free space, raise the quota) is about the spool.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deps_internal.h"
#include "jobh_internal.h"
#include "names_internal.h"
#include "sysio.h"

struct stager {
	struct q_spool *sp;
	struct q_job *job;
	struct q_jobcache *cache;
	int stagefd;
	int waitfd;
	bool *barrier_pending;   /* barrier still has units to wait for */
	bool *chunk_waits;       /* chunk got a wait directory */
	struct q_error *err;
	const char *stage_path;
};

static const struct q_job *dep_of(void *ctx, uint64_t id)
{
	struct stager *st = ctx;
	struct q_jobh *h = q_jobcache_get(st->cache, id, NULL);
	return h ? h->job : NULL;
}

static int mkdir_at(struct stager *st, int dirfd, const char *name)
{
	if (q__spool_mkdirat(st->sp, dirfd, name) != 0 && errno != EEXIST)
		return q_error_set(st->err, Q_ERR_SYSTEM, errno,
				   "cannot create '%s/.../%s'", st->stage_path,
				   name);
	return 0;
}

/* An empty marker file (a todo entry, a wait unit). */
static int touch_at(struct stager *st, int dirfd, const char *name)
{
	if (q__create_empty(dirfd, name, st->sp->file_mode) != 0 &&
	    errno != EEXIST)
		return q_error_set(st->err, Q_ERR_SYSTEM, errno,
				   "cannot create '%s/.../%s'", st->stage_path,
				   name);
	return 0;
}

static int write_file_at(struct stager *st, const char *name,
			 const void *data, size_t len)
{
	int fd = q__openat(st->stagefd, name,
			   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			   st->sp->file_mode);
	if (fd < 0 || q__write_all(fd, data, len) != 0) {
		int e = errno;
		if (fd >= 0)
			(void)q__close(fd);
		return q_error_set(st->err, Q_ERR_SYSTEM, e,
				   "cannot write '%s/%s'", st->stage_path,
				   name);
	}
	if (q__close(fd) != 0)
		return q_error_set(st->err, Q_ERR_SYSTEM, errno,
				   "cannot write '%s/%s'", st->stage_path,
				   name);
	return 0;
}

/* Does chunk `chunk` of earlier job `id` have a record already? */
static bool dep_finished(struct stager *st, uint64_t id, uint64_t chunk)
{
	struct q_jobh *h = q_jobcache_get(st->cache, id, NULL);
	return h && q__chunk_has_record(h, chunk) == 1;
}

/* Create wait/<waiter>/<bucket>/<unit>. */
static int add_wait_entry(struct stager *st, const char *waiter,
			  const char *unit)
{
	char bucket[64];
	int ret;

	q__unit_bucket(unit, bucket, sizeof(bucket));
	if ((ret = mkdir_at(st, st->waitfd, waiter)) < 0)
		return ret;
	int wfd = openat(st->waitfd, waiter,
			 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (wfd < 0)
		return q_error_set(st->err, Q_ERR_SYSTEM, errno,
				   "cannot open '%s/wait/%s'", st->stage_path,
				   waiter);
	ret = mkdir_at(st, wfd, bucket);
	if (ret == 0) {
		int bfd = openat(wfd, bucket, O_RDONLY | O_DIRECTORY |
						      O_NOFOLLOW | O_CLOEXEC);
		if (bfd < 0)
			ret = q_error_set(st->err, Q_ERR_SYSTEM, errno,
					  "cannot open '%s/wait/%s/%s'",
					  st->stage_path, waiter, bucket);
		else {
			ret = touch_at(st, bfd, unit);
			close(bfd);
		}
	}
	close(wfd);
	return ret;
}

static int stage_wait(void *ctx, enum q_waiter_kind kind, uint64_t waiter,
		      uint64_t dep_job, uint64_t what, bool unit_is_barrier)
{
	struct stager *st = ctx;
	char w[48], unit[64];

	if (unit_is_barrier) {
		if (!st->barrier_pending[what])
			return 0;
		snprintf(unit, sizeof(unit), "x%llu", (unsigned long long)what);
	} else {
		if (dep_job != 0 && dep_finished(st, dep_job, what))
			return 0;
		q__unit_name(unit, sizeof(unit), 0, dep_job, what);
	}
	if (kind == Q_WAITER_BARRIER) {
		st->barrier_pending[waiter] = true;
		snprintf(w, sizeof(w), "x%llu", (unsigned long long)waiter);
	} else {
		st->chunk_waits[waiter] = true;
		snprintf(w, sizeof(w), "c%llu", (unsigned long long)waiter);
	}
	return add_wait_entry(st, w, unit);
}

static int stage_shards(struct stager *st, const char *kind)
{
	int ret;
	if ((ret = mkdir_at(st, st->stagefd, kind)) < 0)
		return ret;
	int fd = openat(st->stagefd, kind, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						   O_CLOEXEC);
	if (fd < 0)
		return q_error_set(st->err, Q_ERR_SYSTEM, errno,
				   "cannot open '%s/%s'", st->stage_path, kind);
	for (unsigned s = 0; s < st->job->nshards && ret == 0; s++) {
		char name[16];
		snprintf(name, sizeof(name), "%u", s);
		ret = mkdir_at(st, fd, name);
	}
	close(fd);
	return ret;
}

/* Create an entry per chunk: todo/<s>/<c> files, and ready/<s>/<c>.a1
 * directories for chunks that wait for nothing. */
static int stage_chunks(struct stager *st)
{
	const struct q_job *job = st->job;
	int todofd = -1, readyfd = -1, ret = 0;

	int todo_root = openat(st->stagefd, "todo", O_RDONLY | O_DIRECTORY |
							    O_NOFOLLOW | O_CLOEXEC);
	int ready_root = openat(st->stagefd, "ready", O_RDONLY | O_DIRECTORY |
							      O_NOFOLLOW | O_CLOEXEC);
	if (todo_root < 0 || ready_root < 0) {
		ret = q_error_set(st->err, Q_ERR_SYSTEM, errno,
				  "cannot open '%s'", st->stage_path);
		goto out;
	}
	/* Shard-major order keeps one pair of shard handles open at a time. */
	for (unsigned s = 0; s < job->nshards && ret == 0; s++) {
		char name[48];
		snprintf(name, sizeof(name), "%u", s);
		todofd = openat(todo_root, name, O_RDONLY | O_DIRECTORY |
							 O_NOFOLLOW | O_CLOEXEC);
		readyfd = openat(ready_root, name, O_RDONLY | O_DIRECTORY |
							   O_NOFOLLOW | O_CLOEXEC);
		if (todofd < 0 || readyfd < 0) {
			ret = q_error_set(st->err, Q_ERR_SYSTEM, errno,
					  "cannot open '%s/todo/%u'",
					  st->stage_path, s);
			if (todofd >= 0)
				close(todofd);
			if (readyfd >= 0)
				close(readyfd);
			break;
		}
		for (uint64_t c = s; c < job->nchunks && ret == 0;
		     c += job->nshards) {
			snprintf(name, sizeof(name), "%llu",
				 (unsigned long long)c);
			ret = touch_at(st, todofd, name);
			if (ret == 0 && !st->chunk_waits[c]) {
				q__ready_name(name, sizeof(name), c, 1);
				ret = mkdir_at(st, readyfd, name);
			}
		}
		close(todofd);
		close(readyfd);
		todofd = readyfd = -1;
	}
out:
	if (todo_root >= 0)
		close(todo_root);
	if (ready_root >= 0)
		close(ready_root);
	return ret;
}

/* Barriers with nothing left to wait for are passed from the start. */
static int stage_passed_barriers(struct stager *st)
{
	int fd = openat(st->stagefd, "passed", O_RDONLY | O_DIRECTORY |
						       O_NOFOLLOW | O_CLOEXEC);
	int ret = 0;
	if (fd < 0)
		return q_error_set(st->err, Q_ERR_SYSTEM, errno,
				   "cannot open '%s/passed'", st->stage_path);
	for (size_t b = 0; b < st->job->nbarriers && ret == 0; b++) {
		if (st->barrier_pending[b])
			continue;
		char name[48];
		snprintf(name, sizeof(name), "x%zu", b);
		ret = mkdir_at(st, fd, name);
	}
	close(fd);
	return ret;
}

static int stage_job(struct stager *st, const char *stage_token)
{
	struct q_buf b = Q_BUF_INIT;
	int ret;

	q__job_format_meta(st->job, stage_token, &b);
	ret = write_file_at(st, "job", b.data, b.len);
	q__buf_reset(&b);
	if (ret == 0) {
		q__job_format_spec(st->job, &b);
		ret = write_file_at(st, "spec", b.data, b.len);
	}
	q__buf_release(&b);
	if (ret == 0 && st->job->lines)
		ret = write_file_at(st, "lines", st->job->lines,
				    st->job->lines_len);
	for (int k = 0; k < Q_DIR_KINDS && ret == 0; k++)
		if (k != Q_DIR_TODO)
			ret = mkdir_at(st, st->stagefd, q__dir_names[k]);
	for (int k = 0; k < Q_SHARD_KINDS && ret == 0; k++)
		ret = stage_shards(st, q__shard_dir_names[k]);
	if (ret < 0)
		return ret;

	st->waitfd = openat(st->stagefd, "wait", O_RDONLY | O_DIRECTORY |
							 O_NOFOLLOW | O_CLOEXEC);
	if (st->waitfd < 0)
		return q_error_set(st->err, Q_ERR_SYSTEM, errno,
				   "cannot open '%s/wait'", st->stage_path);
	ret = q__for_each_wait(st->job, dep_of, st, stage_wait, st);
	if (ret == -ENOENT && !q_error_is_set(st->err))
		ret = q_error_set(st->err, Q_ERR_INPUT, 0,
				  "a job this one depends on has disappeared");
	if (ret < 0)
		return ret;
	if ((ret = stage_passed_barriers(st)) < 0)
		return ret;
	if ((ret = stage_chunks(st)) < 0)
		return ret;
	/* One commit for everything staged (design note 1). */
	if (syncfs(st->stagefd) != 0)
		return q_error_set(st->err, Q_ERR_SYSTEM, errno,
				   "cannot sync '%s'", st->stage_path);
	return 0;
}

static uint64_t next_job_id(struct q_spool *sp)
{
	uint64_t *ids, next = 1;
	size_t n;
	if (q_job_list(sp, &ids, &n, NULL) == 0) {
		if (n)
			next = ids[n - 1] + 1;
		free(ids);
	}
	return next;
}

/* Did our staging directory become jobs/<id>? (NFS ambiguity.) */
static bool published_as(struct q_spool *sp, uint64_t id, const char *stage,
			 const char *token)
{
	struct stat st;
	if (fstatat(sp->tmpfd, stage, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return false;
	int fd = q__job_open_dir(sp, id);
	if (fd < 0)
		return false;
	char *text = NULL;
	size_t len;
	bool ours = false;
	if (q__read_file(fd, "job", Q_JOB_FILE_MAX, &text, &len) == 0) {
		struct q_job meta = { 0 };
		char got[256] = "";
		if (q__job_parse_meta(&meta, text, len, got, sizeof(got), "job",
				      NULL) == 0)
			ours = strcmp(got, token) == 0;
		free(meta.name);
		free(meta.submit_host);
	}
	free(text);
	close(fd);
	return ours;
}

static int publish(struct q_spool *sp, const char *stage, const char *token,
		   uint64_t *id_out, struct q_error *err)
{
	uint64_t id = next_job_id(sp);

	for (int tries = 0; tries < 1000; tries++, id++) {
		char name[32];
		snprintf(name, sizeof(name), "%llu", (unsigned long long)id);
		if (q__renameat(sp->tmpfd, stage, sp->jobsfd, name) == 0 ||
		    published_as(sp, id, stage, token)) {
			*id_out = id;
			if (q__fsync_dir(sp->jobsfd) != 0)
				return q_error_set(err, Q_ERR_SYSTEM, errno,
						   "job %llu was published, but "
						   "'%s/jobs' could not be "
						   "synced: it may be lost if "
						   "the machine crashes now",
						   (unsigned long long)id,
						   sp->path);
			return 0;
		}
		if (errno != ENOTEMPTY && errno != EEXIST)
			return q_error_set(err, Q_ERR_SYSTEM, errno,
					   "cannot publish the job in '%s/jobs'",
					   sp->path);
		if (tries % 16 == 15)
			id = next_job_id(sp) - 1;
	}
	return q_error_set(err, Q_ERR_SYSTEM, EAGAIN,
			   "cannot allocate a job id in '%s/jobs'", sp->path);
}

/* Remove a staging directory we built (best effort, bounded depth 3). */
static void remove_tree_at(int parent, const char *name, int depth)
{
	DIR *d = q__opendir_at(parent, name);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			if (unlinkat(dirfd(d), de->d_name, 0) != 0 && depth > 0)
				remove_tree_at(dirfd(d), de->d_name,
					       depth - 1);
		}
		closedir(d);
	}
	unlinkat(parent, name, AT_REMOVEDIR);
}

void q__remove_tree(int dirfd, const char *name)
{
	remove_tree_at(dirfd, name, 4);
}

struct watch_ctx {
	struct q_jobh *h;
	struct q_jobcache *cache;
	uint64_t *deps;
	size_t ndeps, cap;
	int phase;    /* 0: collect dependency jobs; 1: release */
};

static int watch_wait(void *ctx, enum q_waiter_kind kind, uint64_t waiter,
		      uint64_t dep_job, uint64_t what, bool unit_is_barrier)
{
	struct watch_ctx *wc = ctx;
	if (unit_is_barrier || dep_job == 0)
		return 0;
	if (wc->phase == 0) {
		for (size_t i = 0; i < wc->ndeps; i++)
			if (wc->deps[i] == dep_job)
				return 0;
		q__grow(&wc->deps, &wc->cap, wc->ndeps + 1, sizeof(*wc->deps));
		wc->deps[wc->ndeps++] = dep_job;
		return 0;
	}
	struct q_jobh *dh = q_jobcache_get(wc->cache, dep_job, NULL);
	if (!dh || q__chunk_has_record(dh, what) != 1)
		return 0;
	char w[48], unit[64];
	snprintf(w, sizeof(w), "%c%llu", kind == Q_WAITER_BARRIER ? 'x' : 'c',
		 (unsigned long long)waiter);
	q__unit_name(unit, sizeof(unit), wc->h->job->id, dep_job, what);
	return q__release(wc->h, wc->cache, w, unit);
}

static const struct q_job *cache_dep_of(void *ctx, uint64_t id)
{
	struct watch_ctx *wc = ctx;
	struct q_jobh *h = q_jobcache_get(wc->cache, id, NULL);
	return h ? h->job : NULL;
}

/* Register in each earlier job's watch/, then catch up (design note 3). */
static int register_watches(struct q_spool *sp, struct q_jobcache *cache,
			    uint64_t id, struct q_error *err)
{
	struct watch_ctx wc = { .cache = cache };
	int ret;

	wc.h = q_jobcache_get(cache, id, err);
	if (!wc.h)
		return -EIO;
	ret = q__for_each_wait(wc.h->job, cache_dep_of, &wc, watch_wait, &wc);
	for (size_t i = 0; i < wc.ndeps && ret == 0; i++) {
		struct q_jobh *dh = q_jobcache_get(cache, wc.deps[i], err);
		if (!dh) {
			ret = -EIO;
			break;
		}
		int wfd = q__jobh_dir_fd(dh, Q_DIR_WATCH);
		char name[32];
		snprintf(name, sizeof(name), "%llu", (unsigned long long)id);
		int fd = wfd < 0 ? -1
				 : q__openat(wfd, name, O_WRONLY | O_CREAT |
							       O_NOFOLLOW |
							       O_CLOEXEC,
					     sp->file_mode);
		if (fd < 0 || q__close(fd) != 0 || q__fsync_dir(wfd) != 0)
			ret = q_error_set(err, Q_ERR_SYSTEM, errno,
					  "cannot register job %llu with job "
					  "%llu (the repair sweep will finish "
					  "it)", (unsigned long long)id,
					  (unsigned long long)wc.deps[i]);
	}
	if (ret == 0) {
		wc.phase = 1;
		ret = q__for_each_wait(wc.h->job, cache_dep_of, &wc,
				       watch_wait, &wc);
		if (ret < 0 && !q_error_is_set(err))
			ret = q_error_set(err, Q_ERR_SYSTEM, -ret,
					  "cannot release job %llu's "
					  "dependencies (the repair sweep will "
					  "finish it)", (unsigned long long)id);
	}
	free(wc.deps);
	return ret;
}

/* Check each dependency on an earlier job: the job exists and the range
 * is inside it. */
static int check_external_deps(struct q_jobcache *cache, struct q_job *job,
			       struct q_error *err)
{
	for (size_t i = 0; i < job->ngroups; i++) {
		struct q_group *g = &job->groups[i];
		for (size_t k = 0; k < g->nafter; k++) {
			struct q_after *a = &g->after[k];
			if (a->job == 0)
				continue;
			struct q_error jerr = Q_ERROR_INIT;
			struct q_jobh *h = q_jobcache_get(cache, a->job, &jerr);
			if (!h) {
				if (jerr.kind == Q_ERR_INPUT)
					return q_error_set(err, Q_ERR_INPUT, 0,
							   "dependency '%s' "
							   "names job %llu, "
							   "which does not "
							   "exist",
							   a->label,
							   (unsigned long long)a->job);
				*err = jerr;
				return -EIO;
			}
			if (a->first >= h->job->nitems ||
			    a->count > h->job->nitems - a->first)
				return q_error_set(err, Q_ERR_INPUT, 0,
						   "dependency '%s' is outside "
						   "job %llu", a->label,
						   (unsigned long long)a->job);
		}
	}
	return 0;
}

int q_submit(struct q_spool *sp, struct q_job *job, struct q_error *err)
{
	char stage[256], token[256];
	int ret;

	job->submitted_ns = q__now_ns();
	if ((ret = q_job_finalize(job, err)) < 0)
		return ret;
	struct q_jobcache *cache = q_jobcache_new(sp);
	if ((ret = check_external_deps(cache, job, err)) < 0)
		goto out_cache;

	q__unique_name(stage, sizeof(stage), "stage");
	snprintf(token, sizeof(token), "%s", stage);
	char *stage_path = q__asprintf("%s/tmp/%s", sp->path, stage);
	struct stager st = {
		.sp = sp,
		.job = job,
		.cache = cache,
		.stagefd = -1,
		.waitfd = -1,
		.barrier_pending = q__calloc(job->nbarriers + 1, sizeof(bool)),
		.chunk_waits = q__calloc(job->nchunks, sizeof(bool)),
		.err = err,
		.stage_path = stage_path,
	};
	if (q__spool_mkdirat(sp, sp->tmpfd, stage) != 0) {
		ret = q_error_set(err, Q_ERR_SYSTEM, errno,
				  "cannot create '%s'", stage_path);
		goto out_stager;
	}
	st.stagefd = openat(sp->tmpfd, stage, O_RDONLY | O_DIRECTORY |
						      O_NOFOLLOW | O_CLOEXEC);
	if (st.stagefd < 0) {
		ret = q_error_set(err, Q_ERR_SYSTEM, errno, "cannot open '%s'",
				  stage_path);
		goto out_remove;
	}
	if ((ret = stage_job(&st, token)) < 0)
		goto out_remove;
	if ((ret = publish(sp, stage, token, &job->id, err)) < 0)
		goto out_remove;
	/* Published: from here on the job exists, whatever happens. */
	struct q_error werr = Q_ERROR_INIT;
	if (register_watches(sp, cache, job->id, &werr) < 0)
		fprintf(stderr, "spoolq: warning: job %llu: %s\n",
			(unsigned long long)job->id, werr.message);
	ret = 0;
	goto out_stager;
out_remove:
	q__remove_tree(sp->tmpfd, stage);
out_stager:
	/* Design note 4. */
	if (ret < 0 && !job->id && err &&
	    (err->errnum == ENOSPC || err->errnum == EDQUOT)) {
		int e = err->errnum;
		q_error_clear(err);
		ret = q_error_set(err, Q_ERR_SYSTEM, e,
				  "cannot write job to spool '%s'", sp->path);
	}
	if (st.waitfd >= 0)
		close(st.waitfd);
	if (st.stagefd >= 0)
		close(st.stagefd);
	free(st.barrier_pending);
	free(st.chunk_waits);
	free(stage_path);
out_cache:
	q_jobcache_release(cache);
	return ret;
}
