/*
 * each.c: tasks that run once on every worker (each_worker: true).
 *
 * State table (an each_worker task is one chunk D of its job, shard s):
 *
 *   state       entries                              moved on by
 *   waiting     wait/c<D>/...                        its dependencies (as
 *                                                    any chunk)
 *   runnable    ready/<s>/<D>.a1/ (a marker no       every worker that meets
 *               worker claims)                       it: runs it, links its
 *                                                    record each/<D>/<worker>
 *   runnable    + each/<D>/<worker> per worker run   q_each_try_finish once
 *                                                    every live worker has a
 *                                                    record: claims the
 *                                                    marker (one rename, one
 *                                                    winner), commits the
 *                                                    summary record
 *   finished    done/<s>/<D> (summary)               -
 *
 * Design notes
 * 1. "Every worker" is every worker alive (heartbeat younger than its
 *    lease) or joining while the task is runnable. Workers look for
 *    runnable each_worker tasks before claiming other work of the job, so
 *    per-node set-up runs on a node before that node's other tasks.
 * 2. The summary's item is done when every worker's run was, failed
 *    otherwise; its output is empty: the results are the per-worker
 *    records, which qcollect prints, one per worker.
 * 3. A worker's record is linked first-wins like any record: running the
 *    task twice on one worker (a restart with the same id cannot happen:
 *    ids carry the pid and a random part) never replaces the first.
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
#include "sysio.h"

static bool is_each_chunk(const struct q_job *job, uint64_t chunk)
{
	const struct q_group *g = q__job_group_of_chunk(job, chunk);
	return g && g->each_worker;
}

bool q_chunk_each_worker(const struct q_job *job, uint64_t chunk)
{
	return is_each_chunk(job, chunk);
}

/* each/<D>, created on first use; an fd, or -errno. */
static int each_dir(struct q_jobh *h, uint64_t chunk, bool create)
{
	char rel[64];
	if (create && q__spool_mkdirat(h->sp, h->dirfd, "each") != 0 &&
	    errno != EEXIST)
		return -errno;
	snprintf(rel, sizeof(rel), "each/%llu", (unsigned long long)chunk);
	int fd = q__open_dir_beneath(h->dirfd, rel);
	if (fd >= 0 || !create || errno != ENOENT)
		return fd >= 0 ? fd : -errno;
	int efd = q__open_dir_beneath(h->dirfd, "each");
	if (efd < 0)
		return -errno;
	snprintf(rel, sizeof(rel), "%llu", (unsigned long long)chunk);
	if (q__spool_mkdirat(h->sp, efd, rel) != 0 && errno != EEXIST) {
		int e = errno;
		close(efd);
		return -e;
	}
	fd = openat(efd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int e = errno;
	close(efd);
	return fd >= 0 ? fd : -e;
}

static bool has_entry(int dirfd, const char *name)
{
	struct stat st;
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static bool marker_present(struct q_jobh *h, uint64_t chunk)
{
	char name[48];
	int fd = q__jobh_shard_fd(h, Q_SHARD_READY,
				  q_job_shard_of(h->job, chunk));
	q__ready_name(name, sizeof(name), chunk, 1);
	return fd >= 0 && has_entry(fd, name);
}

int q_each_pending(struct q_jobh *h, const char *worker_id,
		   uint64_t *chunk_out)
{
	const struct q_job *job = h->job;
	for (size_t i = 0; job->neach_worker && i < job->ngroups; i++) {
		const struct q_group *g = &job->groups[i];
		if (!g->each_worker)
			continue;
		uint64_t chunk = g->first_chunk;
		if (!marker_present(h, chunk) ||
		    q__chunk_has_record(h, chunk) == 1)
			continue;
		int fd = each_dir(h, chunk, false);
		bool ran = fd >= 0 && has_entry(fd, worker_id);
		if (fd >= 0)
			close(fd);
		if (!ran) {
			*chunk_out = chunk;
			return 1;
		}
	}
	return 0;
}

int q_each_try_finish(struct q_jobh *h, struct q_jobcache *cache,
		      uint64_t chunk, const char *worker_id,
		      struct q_error *err)
{
	if (!marker_present(h, chunk) || q__chunk_has_record(h, chunk) == 1)
		return 0;
	int fd = each_dir(h, chunk, false);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	struct q_worker_info *w = NULL;
	size_t n = 0;
	int ret = q_workers_list(h->sp, &w, &n, err);
	bool all = ret == 0;
	for (size_t i = 0; i < n && all; i++)
		if (w[i].alive && !has_entry(fd, w[i].id))
			all = false;
	free(w);
	if (!all) {
		close(fd);
		return ret;
	}
	/* Every live worker ran it: was any run not done? */
	bool failed = false;
	DIR *d = q__opendir_at(fd, NULL);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		struct q_record rec;
		struct q_error rerr = Q_ERROR_INIT;
		if (q__each_record_read(h, fd, chunk, de->d_name, &rec,
					&rerr) < 0) {
			failed = true;
			continue;
		}
		if (rec.items[0].state != Q_STATE_DONE)
			failed = true;
		q_record_release(&rec);
	}
	if (d)
		closedir(d);
	close(fd);

	/* Take the marker: one winner among the finishers. */
	struct q_claim claim = { .chunk = chunk, .attempt = 1 };
	claim.shard = q_job_shard_of(h->job, chunk);
	char from[48];
	q__ready_name(from, sizeof(from), chunk, 1);
	snprintf(claim.name, sizeof(claim.name), "%s@%.*s", from, 200,
		 worker_id);
	int readyfd = q__jobh_shard_fd(h, Q_SHARD_READY, claim.shard);
	int claimfd = q__jobh_shard_fd(h, Q_SHARD_CLAIM, claim.shard);
	if (readyfd < 0 || claimfd < 0 ||
	    q__renameat(readyfd, from, claimfd, claim.name) != 0)
		return 0;   /* another worker finishes it */
	claim.claimed_ns = q__now_ns();
	ret = q__finish_chunk_as(h, cache, &claim, worker_id,
				 failed ? Q_STATE_FAILED : Q_STATE_DONE,
				 failed ? "it failed on some worker" : "", err);
	return ret < 0 ? ret : 1;
}

int q_each_commit(struct q_jobh *h, struct q_jobcache *cache, uint64_t chunk,
		  int64_t started_ns, const char *worker_id,
		  struct q_outcome *outcome, struct q_error *err)
{
	/* The worker's run is committed as a record of the chunk, published
	 * as each/<D>/<worker> instead of done/<s>/<D>. */
	struct q_claim claim = { .chunk = chunk, .attempt = 1,
				 .claimed_ns = started_ns };
	claim.shard = q_job_shard_of(h->job, chunk);
	int fd = each_dir(h, chunk, true);
	if (fd < 0)
		return q_error_set(err, Q_ERR_SYSTEM, -fd,
				   "cannot create job %llu's each/%llu",
				   (unsigned long long)h->job->id,
				   (unsigned long long)chunk);
	int ret = q__commit_to(h, cache, &claim, worker_id, outcome, 1, fd,
			       worker_id, err);
	close(fd);
	if (ret < 0)
		return ret;
	return q_each_try_finish(h, cache, chunk, worker_id, err) < 0 ? -EIO
								      : 0;
}

int q_each_records(struct q_jobh *h, uint64_t chunk, struct q_record **out,
		   size_t *n_out, struct q_error *err)
{
	*out = NULL;
	*n_out = 0;
	int fd = each_dir(h, chunk, false);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return q_error_set(err, Q_ERR_SYSTEM, -fd,
				   "cannot open job %llu's each/%llu",
				   (unsigned long long)h->job->id,
				   (unsigned long long)chunk);
	DIR *d = q__opendir_at(fd, NULL);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !q__safe_component(de->d_name))
			continue;
		q__grow(&names, &cap, n + 1, sizeof(*names));
		names[n++] = q__strdup(de->d_name);
	}
	if (d)
		closedir(d);
	/* By worker id: a stable order for people and tests. */
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0;
		     k--) {
			char *t = names[k];
			names[k] = names[k - 1];
			names[k - 1] = t;
		}
	struct q_record *recs = q__calloc(n + 1, sizeof(*recs));
	size_t got = 0;
	for (size_t i = 0; i < n; i++) {
		struct q_error rerr = Q_ERROR_INIT;
		if (q__each_record_read(h, fd, chunk, names[i], &recs[got],
					&rerr) == 0)
			got++;
		else
			fprintf(stderr, "spoolq: warning: %s\n", rerr.message);
		free(names[i]);
	}
	free(names);
	close(fd);
	*out = recs;
	*n_out = got;
	return 0;
}
