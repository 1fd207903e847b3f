/*
 * claim.c: claiming ready chunks and handing them back.
 *
 * State table (one chunk, shard s):
 *
 *   state    entry                              moved on by
 *   ready    ready/<s>/<D>.a<N>/                q_claim_next: rename to
 *                                               claim/<s>/<D>.a<N>@<worker>
 *   claimed  claim/<s>/<D>.a<N>@<worker>/       q_commit (record, then
 *                                               rmdir); q_claim_handback
 *                                               (rename back to ready,
 *                                               same attempt)
 *
 * Design notes
 * 1. The claim destination is unique to this worker and attempt, so
 *    ownership after any rename error is decided by looking: if our claim
 *    name exists, we won (a retried NFS rename can report ENOENT to the
 *    winner); if not, we lost the race and move on.
 * 2. A claim reads one shard directory (a few hundred entries at most,
 *    job.c design note 3), never the whole ready set. Workers start at
 *    different shards to spread contention, and take the chunk of the
 *    highest priority (a task's `priority`), then the lowest chunk of a
 *    shard, so a job runs roughly in priority and submission order.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jobh_internal.h"
#include "sysio.h"

struct ready_entry {
	uint64_t chunk;
	unsigned attempt;
	int priority;
	int64_t not_before;     /* a retry's back-off: unix seconds, or 0 */
	char name[64];          /* the entry as it is in ready/ */
};

/* Higher priority first, then the lower chunk (submission order). */
static int cmp_ready(const void *a, const void *b)
{
	const struct ready_entry *x = a, *y = b;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return x->chunk < y->chunk ? -1 : x->chunk > y->chunk;
}

/* d_type when the file system fills it in, else one fstatat. */
static bool is_dir_entry(int dirfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

/* List ready entries of one shard (at most `max`) in claim order. */
static int list_shard(const struct q_job *job, int fd,
		      struct ready_entry **out, size_t *n_out, size_t max)
{
	DIR *d = q__opendir_at(fd, NULL);
	if (!d)
		return -errno;
	struct ready_entry *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL && n < max) {
		struct ready_entry e;
		/* Anything else (dot files, junk) is not a ready chunk. */
		if (strlen(de->d_name) >= sizeof(e.name) ||
		    !q__parse_ready_full(de->d_name, &e.chunk, &e.attempt,
					 &e.not_before))
			continue;
		/* A ready entry is an empty directory; a symbolic link or
		 * file planted here is not one, and claiming it would move
		 * the link and run the chunk again. */
		if (!is_dir_entry(fd, de))
			continue;
		strcpy(e.name, de->d_name);
		const struct q_group *g = q__job_group_of_chunk(job, e.chunk);
		e.priority = g ? g->priority : 0;
		q__grow(&v, &cap, n + 1, sizeof(*v));
		v[n++] = e;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_ready);
	*out = v;
	*n_out = n;
	return 0;
}

static bool claimed_by_us(int claimfd, const char *name)
{
	struct stat st;
	return fstatat(claimfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

unsigned q_chunk_threads(const struct q_job *job, uint64_t chunk,
			 unsigned total_cores)
{
	const struct q_group *g = q__job_group_of_chunk(job, chunk);
	unsigned t = g ? g->threads : 1;
	return t < total_cores ? t : (total_cores ? total_cores : 1);
}

int q_claim_next(struct q_jobh *h, const char *worker_id,
		 unsigned start_shard, unsigned free_cores,
		 unsigned total_cores, struct q_claim *claim,
		 struct q_error *err)
{
	const struct q_job *job = h->job;
	char where[512];

	if (q_jobh_finished(h))
		return 0;
	for (unsigned i = 0; i < job->nshards; i++) {
		unsigned s = (start_shard + i) % job->nshards;
		int readyfd = q__jobh_shard_fd(h, Q_SHARD_READY, s);
		int claimfd = q__jobh_shard_fd(h, Q_SHARD_CLAIM, s);
		if (readyfd < 0 || claimfd < 0) {
			int e = readyfd < 0 ? -readyfd : -claimfd;
			if (e == ENOENT && q_jobh_finished(h))
				return 0;
			q__jobh_where(h, "ready", where, sizeof(where));
			return q_error_set(err, Q_ERR_SYSTEM, e,
					   "cannot open '%s/%u'", where, s);
		}
		struct ready_entry *v = NULL;
		size_t n = 0;
		int ret = list_shard(job, readyfd, &v, &n, 4096);
		if (ret < 0) {
			q__jobh_where(h, "ready", where, sizeof(where));
			return q_error_set(err, Q_ERR_SYSTEM, -ret,
					   "cannot read '%s/%u'", where, s);
		}
		for (size_t k = 0; k < n; k++) {
			char from[64];
			/* Entries in the wrong shard or beyond the job are
			 * junk: never claim them. */
			if (v[k].chunk >= job->nchunks ||
			    q_job_shard_of(job, v[k].chunk) != s)
				continue;
			if (q_chunk_threads(job, v[k].chunk, total_cores) >
			    free_cores)
				continue;
			/* each_worker markers are run by every worker in
			 * place, never claimed (each.c). */
			if (q_chunk_each_worker(job, v[k].chunk))
				continue;
			/* A retry waits out its back-off (a hint: judged by
			 * this node's clock, which only shifts when it runs). */
			if (v[k].not_before && v[k].not_before > time(NULL))
				continue;
			snprintf(from, sizeof(from), "%s", v[k].name);
			snprintf(claim->name, sizeof(claim->name), "%s@%s", from,
				 worker_id);
			if (q__renameat(readyfd, from, claimfd, claim->name) !=
				    0 &&
			    !claimed_by_us(claimfd, claim->name)) {
				if (errno == ENOENT)
					continue; /* lost the race */
				int e = errno;
				free(v);
				q__jobh_where(h, "claim", where, sizeof(where));
				return q_error_set(err, Q_ERR_SYSTEM, e,
						   "cannot claim '%s/%u/%s'",
						   where, s, claim->name);
			}
			claim->chunk = v[k].chunk;
			claim->attempt = v[k].attempt;
			claim->shard = s;
			claim->claimed_ns = q__now_ns();
			free(v);
			return 1;
		}
		free(v);
	}
	return 0;
}

/* 1 when a shard directory holds a claim entry (`claims`) or a ready
 * entry, 0 when not, or -errno. */
static int shard_has_entry(int fd, bool claims)
{
	DIR *d = q__opendir_at(fd, NULL);
	if (!d)
		return -errno;
	struct dirent *de;
	int found = 0;
	while (!found && (de = readdir(d)) != NULL) {
		uint64_t chunk;
		unsigned attempt;
		int64_t not_before;
		const char *worker;
		/* Both are directories; a planted link or file is neither. */
		found = (claims ? q__parse_claim_name(de->d_name, &chunk,
						      &attempt, &worker)
				: q__parse_ready_full(de->d_name, &chunk,
						      &attempt, &not_before)) &&
			is_dir_entry(fd, de);
	}
	closedir(d);
	return found;
}

int q_job_in_motion(struct q_jobh *h)
{
	for (unsigned s = 0; s < h->job->nshards; s++) {
		for (int claims = 0; claims < 2; claims++) {
			int fd = q__jobh_shard_fd(h, claims ? Q_SHARD_CLAIM
							    : Q_SHARD_READY, s);
			if (fd == -ENOENT)
				continue;   /* finished meanwhile */
			int ret = fd < 0 ? fd : shard_has_entry(fd, claims);
			if (ret != 0)
				return ret;
		}
	}
	return 0;
}

int q__claim_requeue(struct q_jobh *h, const struct q_claim *claim,
		      const char *ready, struct q_error *err)
{
	char where[512];
	int claimfd = q__jobh_shard_fd(h, Q_SHARD_CLAIM, claim->shard);
	int readyfd = q__jobh_shard_fd(h, Q_SHARD_READY, claim->shard);
	if (claimfd < 0 || readyfd < 0)
		return q_error_set(err, Q_ERR_SYSTEM,
				   claimfd < 0 ? -claimfd : -readyfd,
				   "cannot open job %llu's shard %u",
				   (unsigned long long)h->job->id, claim->shard);
	if (q__renameat(claimfd, claim->name, readyfd, ready) != 0) {
		struct stat st;
		/* It happened after all (an NFS retransmit)? */
		if (fstatat(readyfd, ready, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return 0;
		q__jobh_where(h, "claim", where, sizeof(where));
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot requeue '%s/%u/%s' as '%s'", where,
				   claim->shard, claim->name, ready);
	}
	return 0;
}

/*
 * The same attempt number: the task did not fail (the worker stopped, or
 * the spool's disk is full or over quota). A chunk that has a record
 * already (another attempt's) is not made ready again, where it would
 * only run to lose: its claim stays for the repair sweep, which removes
 * claims behind records.
 */
int q_claim_handback(struct q_jobh *h, const struct q_claim *claim,
		     struct q_error *err)
{
	char ready[48];

	if (q__chunk_has_record(h, claim->chunk) == 1)
		return 0;
	q__ready_name(ready, sizeof(ready), claim->chunk, claim->attempt);
	return q__claim_requeue(h, claim, ready, err);
}
