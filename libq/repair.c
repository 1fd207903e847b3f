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
 *      after publishing it), and counts such chunks off todo/;
 *
 *   0. first, requeues the claims of workers whose lease expired (or
 *      fails them past their last attempt: lease.c);
 *
 * Each step is an operation that is harmless when already done, so the
 * sweep can run at any time, from any number of processes at once. It
 * never touches the claims of live workers, so it never makes a task run
 * twice unless its worker died (or stopped heartbeating for a lease).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobh_internal.h"
#include "names_internal.h"
#include "sysio.h"

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
	    (ret = sweep_barriers(h, cache)) == 0)
		ret = sweep_waiters(h, cache, rep);
	if (ret < 0)
		return q_error_set(err, Q_ERR_SYSTEM, -ret,
				   "cannot repair job %llu in '%s'",
				   (unsigned long long)h->job->id, h->sp->path);
	return 0;
}
