/*
 * repair.c: the idempotent repair sweep.
 *
 * Every multi-step transition in the protocol is ordered so that a crash
 * between its steps leaves a state a sweep can finish by looking at the
 * spool alone (DESIGN invariant 3). For one job the sweep:
 *
 *   1. releases every wait unit whose chunk has a record (or whose
 *      barrier has passed), removes empty buckets, and promotes every
 *      empty wait directory: a finisher that died before releasing, or a
 *      releaser that died before its rmdir or rename, loses no wakeup;
 *   2. releases the dependents of every passed barrier;
 *   3. removes claims of chunks that have a record (the committer died
 *      after publishing it), and counts such chunks off todo/; removes
 *      an emptied todo/<s> and then todo/ itself (the last committer died
 *      between its unlink and its rmdir): the job is finished;
 *
 *   0. first, requeues the claims of workers whose lease expired or
 *      whose process is proven gone (or fails them past their last
 *      attempt: lease.c);
 *
 * and for the whole spool (q_repair_spool) it removes what dead writers
 * left in tmp/: a submission staged but never published (qsubmit died
 * before its publishing rename: it printed no job id, so the submission
 * did not happen and is rolled back, never published by someone else),
 * and temporaries never renamed into place (records, outputs, heartbeat
 * files, clock probes). A tmp/ entry is removed when
 *
 *   a. its name carries its writer's identity (names.c, proc.c) and that
 *      writer is on this node and in this pid namespace and provably gone:
 *      at once; or
 *   b. otherwise, when it is older than Q_TMP_STALE_NS by the file
 *      server's clock and no live worker (by heartbeat) has the host and
 *      pid in its name: a worker's command may write its output file
 *      there for days without touching it, and qsubmit stages a job in
 *      seconds, so an hour is far beyond any live writer.
 *
 * A writer proven alive keeps its entries whatever their age. Names that
 * are not spoolq's are left alone.
 *
 * It also removes the heartbeat file of a worker that has not beaten for
 * Q_WORKER_FORGET_NS (or ten of its leases, if longer): qstatus shows a
 * dead worker as lost for that long, then forgets it. Its claims were
 * requeued long before (a claim without a heartbeat file is judged by its
 * own age anyway: lease.c).
 *
 * Each step is an operation that is harmless when already done, so the
 * sweep can run at any time, from any number of processes at once. It
 * never touches the claims of live workers, so it never makes a task run
 * twice unless its worker died (or stopped heartbeating for a lease).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobh_internal.h"
#include "names_internal.h"
#include "proc_internal.h"
#include "sysio.h"

/* Age after which a tmp/ entry whose writer cannot be judged is stale
 * (rule b above). */
#define Q_TMP_STALE_NS (3600LL * 1000000000)
/* A dead worker's heartbeat file is removed after this long. */
#define Q_WORKER_FORGET_NS (3600LL * 1000000000)

struct names {
	char **v;
	size_t n, cap;
};

static void names_release(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	memset(ns, 0, sizeof(*ns));
}

/* The entries of dirfd/rel (not dot-names); -errno. */
static int list_names(int dirfd, const char *rel, struct names *out)
{
	DIR *d = q__opendir_at(dirfd, rel);
	if (!d)
		return -errno;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !q__safe_component(de->d_name))
			continue;
		q__grow(&out->v, &out->cap, out->n + 1, sizeof(*out->v));
		out->v[out->n++] = q__strdup(de->d_name);
	}
	closedir(d);
	return 0;
}

/* Is the unit (c<C>, j<J>.c<C>, x<B>) finished? 1, 0, or -errno. */
static int unit_finished(struct q_jobh *h, struct q_jobcache *cache,
			 const char *unit)
{
	uint64_t job = h->job->id, n;
	const char *p = unit;
	if (p[0] == 'x') {
		if (!q__parse_u64(p + 1, NULL, &n))
			return -EINVAL;
		int fd = q__jobh_dir_fd(h, Q_DIR_PASSED);
		if (fd < 0)
			return fd;
		return faccessat(fd, unit, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	}
	if (p[0] == 'j') {
		if (!q__parse_u64(p + 1, &p, &job) || p[0] != '.')
			return -EINVAL;
		p++;
	}
	if (p[0] != 'c' || !q__parse_u64(p + 1, NULL, &n))
		return -EINVAL;
	struct q_jobh *dh = job == h->job->id ? h
					      : q_jobcache_get(cache, job, NULL);
	if (!dh || n >= dh->job->nchunks)
		return -ENOENT;
	return q__chunk_has_record(dh, n);
}

static int sweep_waiters(struct q_jobh *h, struct q_jobcache *cache,
			 struct q_repair_report *rep)
{
	int waitfd = q__jobh_dir_fd(h, Q_DIR_WAIT);
	if (waitfd < 0)
		return waitfd == -ENOENT ? 0 : waitfd;
	struct names waiters = { 0 };
	int ret = list_names(waitfd, NULL, &waiters);
	for (size_t i = 0; i < waiters.n && ret == 0; i++) {
		const char *w = waiters.v[i];
		struct names buckets = { 0 };
		if (list_names(waitfd, w, &buckets) < 0)
			continue; /* promoted meanwhile */
		for (size_t b = 0; b < buckets.n && ret == 0; b++) {
			char rel[256];
			struct names units = { 0 };
			snprintf(rel, sizeof(rel), "%s/%s", w, buckets.v[b]);
			if (list_names(waitfd, rel, &units) < 0)
				continue;
			for (size_t u = 0; u < units.n && ret == 0; u++) {
				int fin = unit_finished(h, cache, units.v[u]);
				if (fin != 1)
					continue;
				ret = q__release(h, cache, w, units.v[u]);
				rep->released++;
			}
			names_release(&units);
			/* A releaser that died between unlinking the last
			 * unit and removing its bucket left it empty. */
			int wfd = q__open_dir_beneath(waitfd, w);
			if (wfd >= 0) {
				(void)q__rmdir(wfd, buckets.v[b]);
				close(wfd);
			}
		}
		names_release(&buckets);
		/* Empty now, or already (a releaser died before the
		 * rename)? */
		if (ret == 0 && q__dir_is_empty(waitfd, w) == 1) {
			ret = q__try_promote(h, cache, w);
			rep->promoted++;
		}
	}
	names_release(&waiters);
	return ret;
}

static int sweep_barriers(struct q_jobh *h, struct q_jobcache *cache)
{
	int fd = q__jobh_dir_fd(h, Q_DIR_PASSED);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	struct names passed = { 0 };
	int ret = list_names(fd, NULL, &passed);
	for (size_t i = 0; i < passed.n && ret == 0; i++) {
		uint64_t b;
		if (passed.v[i][0] == 'x' &&
		    q__parse_u64(passed.v[i] + 1, NULL, &b) &&
		    b < h->job->nbarriers)
			ret = q__release_barrier_dependents(h, cache, b);
	}
	names_release(&passed);
	return ret;
}

static int sweep_finished_claims(struct q_jobh *h, struct q_jobcache *cache,
				 struct q_repair_report *rep)
{
	int ret = 0;
	for (unsigned s = 0; s < h->job->nshards && ret == 0; s++) {
		int fd = q__jobh_shard_fd(h, Q_SHARD_CLAIM, s);
		if (fd < 0)
			continue;
		struct names claims = { 0 };
		list_names(fd, NULL, &claims);
		for (size_t i = 0; i < claims.n; i++) {
			uint64_t c;
			unsigned a;
			const char *w;
			if (!q__parse_claim_name(claims.v[i], &c, &a, &w) ||
			    c >= h->job->nchunks ||
			    q__chunk_has_record(h, c) != 1)
				continue;
			if (q__unlinkat(fd, claims.v[i], AT_REMOVEDIR) != 0 &&
			    (errno == ENOTEMPTY || errno == EEXIST))
				q__remove_tree(fd, claims.v[i]);
			rep->claims_removed++;
		}
		names_release(&claims);
	}
	/* Chunks with a record still listed in todo/. */
	for (unsigned s = 0; s < h->job->nshards && ret == 0; s++) {
		int fd = q__jobh_shard_fd(h, Q_SHARD_TODO, s);
		if (fd < 0)
			continue;
		struct names todo = { 0 };
		list_names(fd, NULL, &todo);
		for (size_t i = 0; i < todo.n && ret == 0; i++) {
			uint64_t c;
			if (!q__parse_u64(todo.v[i], NULL, &c) ||
			    c >= h->job->nchunks ||
			    q__chunk_has_record(h, c) != 1)
				continue;
			ret = q__todo_countdown(h, c);
			if (ret == 0)
				ret = q__release_dependents(h, cache, c);
			rep->counted_off++;
		}
		names_release(&todo);
	}
	(void)cache;
	return ret;
}

/*
 * The last committer of a shard (or of the job) died after unlinking its
 * todo entry, before the rmdir: an empty todo/<s> or todo/ is left and
 * the job never counts as finished. Entries are only ever removed from a
 * published todo/, so empty means every chunk has its record.
 */
static int close_empty_todo(struct q_jobh *h, struct q_repair_report *rep)
{
	int rootfd = q__jobh_dir_fd(h, Q_DIR_TODO);
	int ret;

	if (rootfd < 0)
		return rootfd == -ENOENT ? 0 : rootfd;
	for (unsigned s = 0; s < h->job->nshards; s++) {
		char name[16];
		snprintf(name, sizeof(name), "%u", s);
		if (q__dir_is_empty(rootfd, name) != 1)
			continue;
		ret = q__rmdir(rootfd, name);
		if (ret == 0)
			rep->todo_closed++;
		else if (ret != -ENOENT && ret != -ENOTEMPTY)
			return ret;
	}
	if (q__dir_is_empty(h->dirfd, "todo") != 1)
		return 0;
	ret = q__rmdir(h->dirfd, "todo");
	if (ret == 0)
		rep->todo_closed++;
	if (ret == 0 || ret == -ENOENT) {
		__atomic_store_n(&h->finished, true, __ATOMIC_RELEASE);
		return 0;
	}
	return ret == -ENOTEMPTY ? 0 : ret;
}

int q_repair(struct q_jobh *h, struct q_jobcache *cache,
	     struct q_repair_report *rep, struct q_error *err)
{
	struct q_repair_report local = { 0 };
	int ret;

	if (!rep)
		rep = &local;
	/* Claims of dead workers go back to ready (or fail) first. */
	char id[Q_WORKER_ID_MAX], reclaimer[Q_WORKER_ID_MAX + 8];
	q_worker_id_make(id, sizeof(id));
	snprintf(reclaimer, sizeof(reclaimer), "%.*s.repair",
		 Q_WORKER_ID_MAX - 8, id);
	if ((ret = q_reclaim_expired(h, cache, reclaimer, &rep->reclaimed,
				     err)) < 0)
		return ret;
	if ((ret = sweep_finished_claims(h, cache, rep)) == 0 &&
	    (ret = close_empty_todo(h, rep)) == 0 &&
	    (ret = sweep_barriers(h, cache)) == 0)
		ret = sweep_waiters(h, cache, rep);
	if (ret < 0)
		return q_error_set(err, Q_ERR_SYSTEM, -ret,
				   "cannot repair job %llu in '%s'",
				   (unsigned long long)h->job->id, h->sp->path);
	return 0;
}

/*
 * A spoolq temporary's name: <host>.<pid>.<ns>.<counter>[.<token>].<purpose>
 * (host and purpose have no dots). False for any other name.
 */
static bool parse_tmp_name(const char *name, char *host, size_t hsize,
			   long *pid_out, char *token, size_t tsize)
{
	const char *dot = strchr(name, '.');
	const char *p;
	uint64_t pid, v;

	if (!dot || (size_t)(dot - name) >= hsize || dot == name)
		return false;
	memcpy(host, name, (size_t)(dot - name));
	host[dot - name] = '\0';
	if (!q__parse_u64(dot + 1, &p, &pid) || *p != '.' || pid == 0 ||
	    pid > (uint64_t)INT32_MAX ||
	    !q__parse_u64(p + 1, &p, &v) || *p != '.' ||
	    !q__parse_u64(p + 1, &p, &v) || *p != '.')
		return false;
	p++;
	const char *last = strrchr(p, '.');
	token[0] = '\0';
	if (last) {
		if ((size_t)(last - p) >= tsize)
			return false;
		memcpy(token, p, (size_t)(last - p));
		token[last - p] = '\0';
		p = last + 1;
	}
	if (!*p)
		return false;
	*pid_out = (long)pid;
	return true;
}

/* Does a live worker have this host and pid (its id is <host>.<pid>.<r>)? */
static bool live_worker_has(const struct q_worker_info *w, size_t nw,
			    const char *host, long pid)
{
	char prefix[Q_NAME_MAX + 32];
	int n = snprintf(prefix, sizeof(prefix), "%s.%ld.", host, pid);
	for (size_t i = 0; i < nw; i++)
		if (w[i].alive && strncmp(w[i].id, prefix, (size_t)n) == 0)
			return true;
	return false;
}

/* Is tmp/<name> a dead writer's leftover (rules a and b above)? */
static bool tmp_is_stale(const char *name, const struct stat *st,
			 const struct q_worker_info *w, size_t nw, int64_t now)
{
	char host[Q_NAME_MAX + 1], token[64];
	long pid;

	if (!parse_tmp_name(name, host, sizeof(host), &pid, token,
			    sizeof(token)))
		return false;
	if (token[0] && strcmp(host, q__hostname()) == 0) {
		enum q__proc_fate f = q__proc_token_fate(token, pid);
		if (f != Q_PROC_UNKNOWN)
			return f == Q_PROC_GONE;
	}
	if (live_worker_has(w, nw, host, pid))
		return false;
	int64_t mtime = (int64_t)st->st_mtim.tv_sec * 1000000000 +
			st->st_mtim.tv_nsec;
	return now - mtime > Q_TMP_STALE_NS;
}

int q_repair_spool(struct q_spool *sp, struct q_repair_report *rep,
		   struct q_error *err)
{
	struct q_repair_report local = { 0 };
	struct q_worker_info *w = NULL;
	struct names tmp = { 0 };
	size_t nw = 0;
	int ret;

	if (!rep)
		rep = &local;
	if ((ret = q_workers_list(sp, &w, &nw, err)) < 0)
		return ret;
	int64_t now = q__server_now(sp);
	if ((ret = list_names(sp->tmpfd, NULL, &tmp)) < 0) {
		free(w);
		return q_error_set(err, Q_ERR_SYSTEM, -ret,
				   "cannot read '%s/tmp'", sp->path);
	}
	for (size_t i = 0; i < tmp.n; i++) {
		const char *name = tmp.v[i];
		struct stat st;
		if (fstatat(sp->tmpfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !tmp_is_stale(name, &st, w, nw, now))
			continue;
		if (S_ISDIR(st.st_mode)) {
			/* A staging directory: the job was never published. */
			q__remove_tree(sp->tmpfd, name);
			if (faccessat(sp->tmpfd, name, F_OK,
				      AT_SYMLINK_NOFOLLOW) != 0)
				rep->stages_removed++;
		} else if (q__unlinkat(sp->tmpfd, name, 0) == 0) {
			rep->tmp_removed++;
		}
	}
	names_release(&tmp);
	for (size_t i = 0; i < nw; i++) {
		int64_t forget = 10LL * w[i].lease_s * 1000000000;
		if (forget < Q_WORKER_FORGET_NS)
			forget = Q_WORKER_FORGET_NS;
		if (!w[i].alive && now - w[i].heartbeat_ns > forget &&
		    q__unlinkat(sp->workersfd, w[i].id, 0) == 0)
			rep->workers_forgotten++;
	}
	free(w);
	return 0;
}
