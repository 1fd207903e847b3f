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
 *    The name is the worker's, not the thread's: a worker whose threads
 *    claim (workers/runner.c note 9) claims in one thread at a time,
 *    and q_claim_chunk, which renames a name it did not just list,
 *    first checks that no sibling thread holds that claim: else a lost
 *    rename would look won.
 * 2. A claim reads one shard directory (a few hundred entries at most,
 *    job.c design note 3), never the whole ready set. Workers start at
 *    different shards to spread contention, and take the chunk of the
 *    highest priority (a task's `priority`), then the lowest chunk of a
 *    shard, so a job runs roughly in priority and submission order.
 * 3. A bundle (q_claim_bundle) is several chunks of one shard claimed one
 *    rename each, in claim order, all of the same thread count, so they
 *    run one after another on the same cores and commit together. It
 *    takes at most 1/Q_BUNDLE_SHARE of the chunks the shard holds ready
 *    (at least one): the caller sizes bundles from measured chunk times,
 *    and this keeps a big bundle from emptying a shard that others
 *    could share, so the tail of a job still balances.
 * 4. The claim's name is D.aN@W whatever suffix the ready entry has:
 *    every reader of claim/ parses that form.
 * 5. Locality (the MPI fast path): a chunk made ready by a rank of an
 *    MPI world is named with that rank (D.a1.h<world>-<rank>): it just
 *    finished one of the chunk's inputs and holds its result. Within a
 *    priority, that rank takes its own hinted chunks first, everyone
 *    takes unhinted ones next and other ranks' hinted ones last. A
 *    preference, never a reservation: a rank with nothing else takes
 *    another's, so nobody starves and the load still balances.
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

/* Design note 3. */
#define Q_BUNDLE_SHARE 4

struct ready_entry {
	uint64_t chunk;
	unsigned attempt;
	int priority;
	int locality;           /* 0 hinted to us, 1 no hint, 2 to another */
	int64_t not_before;     /* a retry's back-off: unix seconds, or 0 */
	char name[64];          /* the entry as it is in ready/ */
};

/* Higher priority first, then locality (note 5), then the lower chunk
 * (submission order). */
static int cmp_ready(const void *a, const void *b)
{
	const struct ready_entry *x = a, *y = b;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	if (x->locality != y->locality)
		return x->locality < y->locality ? -1 : 1;
	return x->chunk < y->chunk ? -1 : x->chunk > y->chunk;
}

/* Design note 5: who a ready entry's hint points to, for this worker. */
static int locality_of(const struct q_spool *sp,
		       const struct q__ready_hint *hint)
{
	if (!hint->world[0] || strcmp(hint->world, sp->world) != 0)
		return 1;
	return hint->rank == sp->world_rank ? 0 : 2;
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
static int list_shard(const struct q_jobh *h, int fd,
		      struct ready_entry **out, size_t *n_out, size_t max)
{
	const struct q_job *job = h->job;
	DIR *d = q__opendir_at(fd, NULL);
	if (!d)
		return -errno;
	struct ready_entry *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL && n < max) {
		struct ready_entry e;
		struct q__ready_hint hint;
		/* Anything else (dot files, junk) is not a ready chunk. */
		if (strlen(de->d_name) >= sizeof(e.name) ||
		    !q__parse_ready_hinted(de->d_name, &e.chunk, &e.attempt,
					   &e.not_before, &hint))
			continue;
		e.locality = locality_of(h->sp, &hint);
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

/*
 * Design note 3: claim up to `max` chunks of shard s from its listing v,
 * into claims[*n...]. Returns 0, or -errno with err set.
 */
static int claim_from_shard(struct q_jobh *h, unsigned s, struct ready_entry *v,
			    size_t nv, const char *worker_id,
			    unsigned free_cores, unsigned total_cores,
			    size_t max, struct q_claim *claims, size_t *n,
			    struct q_error *err)
{
	const struct q_job *job = h->job;
	int readyfd = q__jobh_shard_fd(h, Q_SHARD_READY, s);
	int claimfd = q__jobh_shard_fd(h, Q_SHARD_CLAIM, s);
	char where[512];
	unsigned threads = 0;
	time_t now = time(NULL);

	for (size_t k = 0; k < nv && *n < max; k++) {
		/* Entries in the wrong shard or beyond the job are junk:
		 * never claim them. */
		if (v[k].chunk >= job->nchunks ||
		    q_job_shard_of(job, v[k].chunk) != s)
			continue;
		unsigned t = q_chunk_threads(job, v[k].chunk, total_cores);
		if (t > free_cores || (threads && t != threads))
			continue;
		/* each_worker markers are run by every worker in place,
		 * never claimed (each.c). */
		if (q_chunk_each_worker(job, v[k].chunk))
			continue;
		/* A retry waits out its back-off (a hint: judged by this
		 * node's clock, which only shifts when it runs). */
		if (v[k].not_before && v[k].not_before > now)
			continue;
		struct q_claim *claim = &claims[*n];
		/* The claim's name is D.aN@W whatever the ready entry's
		 * suffix (a retry's back-off): the name every reader of
		 * claim/ parses (reclaim, repair, status). */
		snprintf(claim->name, sizeof(claim->name), "%llu.a%u@%s",
			 (unsigned long long)v[k].chunk, v[k].attempt,
			 worker_id);
		if (q__renameat(readyfd, v[k].name, claimfd, claim->name) != 0 &&
		    !claimed_by_us(claimfd, claim->name)) {
			if (errno == ENOENT)
				continue; /* lost the race */
			if (*n > 0)
				return 0; /* keep what we have */
			int e = errno;
			q__jobh_where(h, "claim", where, sizeof(where));
			return q_error_set(err, Q_ERR_SYSTEM, e,
					   "cannot claim '%s/%u/%s'", where, s,
					   claim->name);
		}
		claim->chunk = v[k].chunk;
		claim->attempt = v[k].attempt;
		claim->shard = s;
		claim->claimed_ns = q__now_ns();
		threads = t;
		(*n)++;
	}
	return 0;
}

int q_claim_bundle(struct q_jobh *h, const char *worker_id,
		   unsigned start_shard, unsigned free_cores,
		   unsigned total_cores, size_t max, struct q_claim *claims,
		   struct q_error *err)
{
	const struct q_job *job = h->job;
	char where[512];

	if (q_jobh_finished(h) || max == 0)
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
		size_t nv = 0, n = 0;
		int ret = list_shard(h, readyfd, &v, &nv, 4096);
		if (ret < 0) {
			q__jobh_where(h, "ready", where, sizeof(where));
			return q_error_set(err, Q_ERR_SYSTEM, -ret,
					   "cannot read '%s/%u'", where, s);
		}
		/* Design note 3: a share of the shard, so others find work
		 * and the tail balances. */
		size_t share = nv / Q_BUNDLE_SHARE;
		size_t limit = max < share ? max : share;
		ret = claim_from_shard(h, s, v, nv, worker_id, free_cores,
				       total_cores, limit ? limit : 1, claims,
				       &n, err);
		free(v);
		if (ret < 0)
			return ret;
		if (n > 0)
			return (int)n;
	}
	return 0;
}

int q_claim_chunk(struct q_jobh *h, const char *worker_id, uint64_t chunk,
		  unsigned cores, struct q_claim *claim, struct q_error *err)
{
	const struct q_job *job = h->job;
	char from[64], where[512];

	/* Exactly the thread count of the slot it would run on. */
	if (chunk >= job->nchunks || q_chunk_each_worker(job, chunk) ||
	    q_chunk_threads(job, chunk, cores) != cores)
		return 0;
	unsigned s = q_job_shard_of(job, chunk);
	int readyfd = q__jobh_shard_fd(h, Q_SHARD_READY, s);
	int claimfd = q__jobh_shard_fd(h, Q_SHARD_CLAIM, s);
	if (readyfd < 0 || claimfd < 0)
		return 0;   /* finished meanwhile, or nothing to take */
	/* The name this process's promotion gave it (with its hint). */
	q__ready_name_promoted(h, from, sizeof(from), chunk);
	snprintf(claim->name, sizeof(claim->name), "%llu.a1@%s",
		 (unsigned long long)chunk, worker_id);
	/* A sibling thread's claim of it under the same name (note 1): ours
	 * would fail with ENOENT and then look won. */
	if (claimed_by_us(claimfd, claim->name))
		return 0;
	if (q__renameat(readyfd, from, claimfd, claim->name) != 0 &&
	    !claimed_by_us(claimfd, claim->name)) {
		if (errno == ENOENT)
			return 0;
		int e = errno;
		q__jobh_where(h, "claim", where, sizeof(where));
		return q_error_set(err, Q_ERR_SYSTEM, e,
				   "cannot claim '%s/%u/%s'", where, s,
				   claim->name);
	}
	claim->chunk = chunk;
	claim->attempt = 1;
	claim->shard = s;
	claim->claimed_ns = q__now_ns();
	return 1;
}

int q_claim_next(struct q_jobh *h, const char *worker_id,
		 unsigned start_shard, unsigned free_cores,
		 unsigned total_cores, struct q_claim *claim,
		 struct q_error *err)
{
	return q_claim_bundle(h, worker_id, start_shard, free_cores,
			      total_cores, 1, claim, err);
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
