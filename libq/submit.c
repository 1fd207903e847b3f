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
 * 5. Staging is mostly creating entries: a million-item array has 16,130
 *    todo markers and as many ready directories, a 100,000-task
 *    element-wise workflow 75,000 entries. They are independent (one
 *    shard's todo and ready entries, one waiter's wait directory), so a
 *    few threads create them, taking units of work from a counter: on
 *    ext4 each create is tens of microseconds of kernel CPU, over NFS or
 *    Lustre a round trip to the server, and both overlap. What to create
 *    is decided first, on one thread (the wait entries are collected,
 *    sorted and deduplicated), so the threads only make system calls.
 *    Small jobs stay on the calling thread. The first failure stops the
 *    others; the staging directory is then removed as in note 4.
 * 6. Markers (todo entries, wait units) are empty files that are only
 *    ever listed and unlinked, never opened, so they are hard links to
 *    an empty template of the thread's instead of files of their own: a
 *    link allocates no inode, and inode allocation is most of a create's
 *    cost on ext4. A template takes at most 512 links, about one shard's
 *    todo entries: every unlink of a marker changes the shared inode, so
 *    committers contend on it (a lock on the metadata server of Lustre)
 *    no more than they already do on the shard's directory. The
 *    templates are named with a leading '.' (ignored by every reader)
 *    and removed before the sync. Where the file system refuses hard
 *    links, each marker is created.
 *
 * This file is past 600 lines because staging and publishing are one
 * transaction (notes 1-6). NEEDSWORK: the entry builder (notes 5 and 6)
 * could move to a stage.c of its own.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deps_internal.h"
#include "jobh_internal.h"
#include "names_internal.h"
#include "sysio.h"

/* Threads that build a staging directory's entries; 0 lets q_submit
 * decide (design note 5). Unit tests set it to exercise both paths. */
int q__submit_threads;

enum {
	STAGE_THREADS_MAX = 8,
	STAGE_SERIAL_BELOW = 2048,  /* entries: fewer are made by one thread */
	MARKER_LINKS = 512,         /* links per marker template */
};

/* One (waiter, unit) pair of wait/: chunk or barrier `waiter` waits for
 * barrier `what` (is_barrier) or chunk `what` of job `dep_job`. */
struct wait_entry {
	uint64_t waiter;
	uint64_t dep_job;
	uint64_t what;
	uint8_t kind;           /* enum q_waiter_kind */
	uint8_t is_barrier;
};

struct stager {
	struct q_spool *sp;
	struct q_job *job;
	struct q_jobcache *cache;
	int stagefd;
	int waitfd;
	int shard_roots[Q_SHARD_KINDS];
	bool *barrier_pending;   /* barrier still has units to wait for */
	bool *chunk_waits;       /* chunk got a wait directory */
	struct wait_entry *waits;   /* sorted by waiter, then unit */
	size_t nwaits, cap_waits;
	size_t *waiter_at;       /* each waiter's first entry, then nwaits */
	size_t nwaiters;
	atomic_size_t next_unit; /* the next unit of work to take */
	atomic_bool failed;      /* a thread failed: the others stop */
	struct q_error *err;
	const char *stage_path;
};

/*
 * Empty marker files (todo entries, wait units) are hard links to an
 * empty template, one per thread (design note 6). `tpl` is "" before the
 * first marker and after release.
 */
struct marker {
	int dirfd;              /* the template's directory: the stage */
	char tpl[48];
	unsigned id, serial, links;
	bool no_links;          /* the file system refused a hard link */
	mode_t mode;
};

/* The state of one thread building the stage. */
struct stage_worker {
	struct stager *st;
	struct marker mk;
	struct q_error err;
	int ret;
};

static const struct q_job *dep_of(void *ctx, uint64_t id)
{
	struct stager *st = ctx;
	struct q_jobh *h = q_jobcache_get(st->cache, id, NULL);
	return h ? h->job : NULL;
}

static int mkdir_at(struct stager *st, int dirfd, const char *name,
		    struct q_error *err)
{
	if (q__spool_mkdirat(st->sp, dirfd, name) != 0 && errno != EEXIST)
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot create '%s/.../%s'", st->stage_path,
				   name);
	return 0;
}

static int open_dir_at(struct stager *st, int dirfd, const char *name,
		       struct q_error *err)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);
	if (fd < 0)
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot open '%s/.../%s'", st->stage_path,
				   name);
	return fd;
}

/* Remove the current template (its links stay). */
static int marker_drop(struct marker *m)
{
	if (!m->tpl[0])
		return 0;
	int ret = q__unlinkat(m->dirfd, m->tpl, 0);
	m->tpl[0] = '\0';
	return ret;
}

static int marker_template(struct marker *m)
{
	if (marker_drop(m) != 0)
		return -1;
	snprintf(m->tpl, sizeof(m->tpl), ".marker.%u.%u", m->id, m->serial++);
	m->links = 0;
	if (q__create_empty(m->dirfd, m->tpl, m->mode) != 0) {
		m->tpl[0] = '\0';
		return -1;
	}
	return 0;
}

/* Link the empty file `name` into dirfd; -1 with errno (EEXIST when the
 * name exists). */
static int marker_create(struct marker *m, int dirfd, const char *name)
{
	if (m->no_links)
		return q__create_empty(dirfd, name, m->mode);
	if ((!m->tpl[0] || m->links >= MARKER_LINKS) &&
	    marker_template(m) != 0)
		return -1;
	if (q__linkat(m->dirfd, m->tpl, dirfd, name) == 0) {
		m->links++;
		return 0;
	}
	/* Too many links already (a file system with a low limit): a new
	 * template, unless this one was new. */
	if (errno == EMLINK && m->links > 0) {
		m->links = MARKER_LINKS;
		return marker_create(m, dirfd, name);
	}
	/* No hard links here (some FUSE file systems, protected_hardlinks
	 * rules): create each marker instead. */
	if (errno == EMLINK || errno == EPERM || errno == EOPNOTSUPP ||
	    errno == ENOSYS || errno == EXDEV) {
		m->no_links = true;
		return q__create_empty(dirfd, name, m->mode);
	}
	return -1;
}

static int touch_at(struct stage_worker *w, int dirfd, const char *name)
{
	if (marker_create(&w->mk, dirfd, name) != 0 && errno != EEXIST)
		return q_error_set(&w->err, Q_ERR_SYSTEM, errno,
				   "cannot create '%s/.../%s'",
				   w->st->stage_path, name);
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

/* Collect one wait entry (q__wait_fn); nothing is created yet. */
static int collect_wait(void *ctx, enum q_waiter_kind kind, uint64_t waiter,
			uint64_t dep_job, uint64_t what, bool unit_is_barrier)
{
	struct stager *st = ctx;

	if (unit_is_barrier) {
		if (!st->barrier_pending[what])
			return 0;
		dep_job = 0;
	} else if (dep_job != 0 && dep_finished(st, dep_job, what)) {
		return 0;
	}
	if (kind == Q_WAITER_BARRIER)
		st->barrier_pending[waiter] = true;
	else
		st->chunk_waits[waiter] = true;
	q__grow(&st->waits, &st->cap_waits, st->nwaits + 1,
		sizeof(*st->waits));
	st->waits[st->nwaits++] = (struct wait_entry){
		.waiter = waiter,
		.dep_job = dep_job,
		.what = what,
		.kind = (uint8_t)kind,
		.is_barrier = unit_is_barrier,
	};
	return 0;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* Waiter, then unit: a waiter's entries, and within them a bucket's, end
 * up next to each other (buckets are unit kind, job and what/1024). */
static int cmp_wait(const void *pa, const void *pb)
{
	const struct wait_entry *a = pa, *b = pb;
	int c;
	if ((c = cmp_u64(a->kind, b->kind)) || (c = cmp_u64(a->waiter, b->waiter)) ||
	    (c = cmp_u64(a->is_barrier, b->is_barrier)) ||
	    (c = cmp_u64(a->dep_job, b->dep_job)))
		return c;
	return cmp_u64(a->what, b->what);
}

/* Sort, drop repeated pairs, and find where each waiter starts. */
static void index_waits(struct stager *st)
{
	size_t n = 0, cap = 0;

	if (st->nwaits > 1)
		qsort(st->waits, st->nwaits, sizeof(*st->waits), cmp_wait);
	for (size_t i = 0; i < st->nwaits; i++)
		if (n == 0 || cmp_wait(&st->waits[n - 1], &st->waits[i]) != 0)
			st->waits[n++] = st->waits[i];
	st->nwaits = n;
	for (size_t i = 0; i < n; i++) {
		const struct wait_entry *p = i ? &st->waits[i - 1] : NULL;
		if (p && p->kind == st->waits[i].kind &&
		    p->waiter == st->waits[i].waiter)
			continue;
		q__grow(&st->waiter_at, &cap, st->nwaiters + 2,
			sizeof(*st->waiter_at));
		st->waiter_at[st->nwaiters++] = i;
	}
	if (st->nwaiters)
		st->waiter_at[st->nwaiters] = n;
}

static void unit_and_bucket(const struct wait_entry *e, char *unit,
			    char *bucket, size_t size)
{
	if (e->is_barrier)
		snprintf(unit, size, "x%llu", (unsigned long long)e->what);
	else
		q__unit_name(unit, size, 0, e->dep_job, e->what);
	q__unit_bucket(unit, bucket, size);
}

/* Build wait/<waiter>/<bucket>/<unit> for waiter number u. */
static int stage_waiter(struct stage_worker *w, size_t u)
{
	struct stager *st = w->st;
	size_t i = st->waiter_at[u], end = st->waiter_at[u + 1];
	char name[48], unit[64], bucket[64], next[64];
	int ret, wfd;

	snprintf(name, sizeof(name), "%c%llu",
		 st->waits[i].kind == Q_WAITER_BARRIER ? 'x' : 'c',
		 (unsigned long long)st->waits[i].waiter);
	if ((ret = mkdir_at(st, st->waitfd, name, &w->err)) < 0)
		return ret;
	if ((wfd = open_dir_at(st, st->waitfd, name, &w->err)) < 0)
		return wfd;
	unit_and_bucket(&st->waits[i], unit, bucket, sizeof(unit));
	while (i < end && ret == 0) {
		int bfd;
		if ((ret = mkdir_at(st, wfd, bucket, &w->err)) < 0 ||
		    (ret = bfd = open_dir_at(st, wfd, bucket, &w->err)) < 0)
			break;
		for (;;) {
			if ((ret = touch_at(w, bfd, unit)) < 0 || ++i == end)
				break;
			unit_and_bucket(&st->waits[i], unit, next,
					sizeof(unit));
			if (strcmp(next, bucket) != 0) {
				memcpy(bucket, next, sizeof(bucket));
				break;
			}
		}
		close(bfd);
	}
	close(wfd);
	return ret < 0 ? ret : 0;
}

/* Shard s: its directory of each kind, a todo/<s>/<c> marker per chunk,
 * and ready/<s>/<c>.a1 for the chunks that wait for nothing. */
static int stage_shard(struct stage_worker *w, unsigned s)
{
	struct stager *st = w->st;
	const struct q_job *job = st->job;
	char name[48];
	int ret = 0, todofd = -1, readyfd = -1;

	snprintf(name, sizeof(name), "%u", s);
	for (int k = 0; k < Q_SHARD_KINDS && ret == 0; k++)
		ret = mkdir_at(st, st->shard_roots[k], name, &w->err);
	if (ret == 0 &&
	    (ret = todofd = open_dir_at(st, st->shard_roots[Q_SHARD_TODO],
					name, &w->err)) >= 0)
		ret = readyfd = open_dir_at(st, st->shard_roots[Q_SHARD_READY],
					    name, &w->err);
	for (uint64_t c = s; c < job->nchunks && ret >= 0; c += job->nshards) {
		snprintf(name, sizeof(name), "%llu", (unsigned long long)c);
		ret = touch_at(w, todofd, name);
		if (ret == 0 && !st->chunk_waits[c]) {
			q__ready_name(name, sizeof(name), c, 1);
			ret = mkdir_at(st, readyfd, name, &w->err);
		}
	}
	if (todofd >= 0)
		close(todofd);
	if (readyfd >= 0)
		close(readyfd);
	return ret < 0 ? ret : 0;
}

/* Take units of work (waiters, then shards) until none is left or a
 * thread failed. */
static void *stage_worker_run(void *arg)
{
	struct stage_worker *w = arg;
	struct stager *st = w->st;
	size_t units = st->nwaiters + st->job->nshards;

	while (!atomic_load(&st->failed)) {
		size_t u = atomic_fetch_add(&st->next_unit, 1);
		if (u >= units)
			break;
		w->ret = u < st->nwaiters
				 ? stage_waiter(w, u)
				 : stage_shard(w, (unsigned)(u - st->nwaiters));
		if (w->ret < 0)
			break;
	}
	char tpl[sizeof(w->mk.tpl)];
	memcpy(tpl, w->mk.tpl, sizeof(tpl));
	if (marker_drop(&w->mk) != 0 && w->ret == 0)
		w->ret = q_error_set(&w->err, Q_ERR_SYSTEM, errno,
				     "cannot remove '%s/%s'",
				     st->stage_path, tpl);
	if (w->ret < 0)
		atomic_store(&st->failed, true);
	return NULL;
}

static unsigned stage_thread_count(const struct stager *st)
{
	size_t units = st->nwaiters + st->job->nshards;
	size_t entries = st->nwaits + 2 * st->job->nchunks;
	long n = q__submit_threads;

	if (n <= 0) {
		cpu_set_t set;
		if (entries < STAGE_SERIAL_BELOW)
			return 1;
		n = sched_getaffinity(0, sizeof(set), &set) == 0
			    ? CPU_COUNT(&set) : 1;
	}
	if (n > STAGE_THREADS_MAX)
		n = STAGE_THREADS_MAX;
	if ((size_t)n > units)
		n = (long)units;
	return n < 1 ? 1 : (unsigned)n;
}

/* Build every wait/, todo/ and ready/ entry, on several threads (design
 * note 5). */
static int stage_entries(struct stager *st)
{
	unsigned n = stage_thread_count(st), started = 1;
	struct stage_worker *w = q__calloc(n, sizeof(*w));
	pthread_t *threads = q__calloc(n, sizeof(*threads));
	int ret = 0;

	for (unsigned i = 0; i < n; i++) {
		w[i] = (struct stage_worker){
			.st = st,
			.mk = { .dirfd = st->stagefd, .id = i,
				.mode = st->sp->file_mode },
			.err = Q_ERROR_INIT,
		};
	}
	/* A thread that cannot start leaves its share to the others. */
	while (started < n &&
	       pthread_create(&threads[started], NULL, stage_worker_run,
			      &w[started]) == 0)
		started++;
	stage_worker_run(&w[0]);
	for (unsigned i = 1; i < started; i++)
		pthread_join(threads[i], NULL);
	for (unsigned i = 0; i < started && ret == 0; i++)
		if (w[i].ret < 0) {
			ret = w[i].ret;
			if (st->err && !q_error_is_set(st->err))
				*st->err = w[i].err;
		}
	free(threads);
	free(w);
	return ret;
}

/* Barriers with nothing left to wait for are passed from the start. */
static int stage_passed_barriers(struct stager *st)
{
	int fd = open_dir_at(st, st->stagefd, "passed", st->err);
	int ret = 0;
	if (fd < 0)
		return fd;
	for (size_t b = 0; b < st->job->nbarriers && ret == 0; b++) {
		if (st->barrier_pending[b])
			continue;
		char name[48];
		snprintf(name, sizeof(name), "x%zu", b);
		ret = mkdir_at(st, fd, name, st->err);
	}
	close(fd);
	return ret;
}

/* The top directories, and a handle on each shard root for the threads. */
static int stage_dirs(struct stager *st)
{
	int ret = 0;

	for (int k = 0; k < Q_DIR_KINDS && ret == 0; k++)
		if (k != Q_DIR_TODO)
			ret = mkdir_at(st, st->stagefd, q__dir_names[k],
				       st->err);
	for (int k = 0; k < Q_SHARD_KINDS && ret == 0; k++) {
		const char *kind = q__shard_dir_names[k];
		if ((ret = mkdir_at(st, st->stagefd, kind, st->err)) == 0 &&
		    (ret = st->shard_roots[k] = open_dir_at(st, st->stagefd,
							    kind, st->err)) > 0)
			ret = 0;
	}
	if (ret == 0 &&
	    (st->waitfd = open_dir_at(st, st->stagefd, "wait", st->err)) < 0)
		ret = st->waitfd;
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
	if (ret < 0 || (ret = stage_dirs(st)) < 0)
		return ret;

	ret = q__for_each_wait(st->job, dep_of, st, collect_wait, st);
	if (ret == -ENOENT && !q_error_is_set(st->err))
		ret = q_error_set(st->err, Q_ERR_INPUT, 0,
				  "a job this one depends on has disappeared");
	if (ret < 0)
		return ret;
	index_waits(st);
	if ((ret = stage_entries(st)) < 0)
		return ret;
	if ((ret = stage_passed_barriers(st)) < 0)
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
	for (int k = 0; k < Q_SHARD_KINDS; k++)
		st.shard_roots[k] = -1;
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
	for (int k = 0; k < Q_SHARD_KINDS; k++)
		if (st.shard_roots[k] >= 0)
			close(st.shard_roots[k]);
	if (st.stagefd >= 0)
		close(st.stagefd);
	free(st.barrier_pending);
	free(st.chunk_waits);
	free(st.waits);
	free(st.waiter_at);
	free(stage_path);
out_cache:
	q_jobcache_release(cache);
	return ret;
}
