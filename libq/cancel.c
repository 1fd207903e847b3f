/*
 * cancel.c: cancelling jobs and tasks.
 *
 * The cancel set of a job is the directory jobs/<id>/cancel/ holding
 * empty files: "all", or "r<first>-<last>" (an inclusive item range).
 * Entries are only added. Then:
 *
 *   chunk state  what happens                         by
 *   waiting      rename wait/c<D> to a claim, finish  q_cancel (one rename:
 *                it as cancelled                      it wins against the
 *                                                     promoter or loses)
 *   ready        claim it, finish it as cancelled     q_cancel
 *   running      its worker sees the cancel set       the worker, between
 *                and stops the task                   items and while a
 *                                                     command runs
 *
 * A chunk only partly covered by the set is left to the worker, which
 * cancels the covered items when it gets there.
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

struct range {
	uint64_t first, last;
};

/* Read the cancel set: *all, plus ranges. -ENOENT when there is none. */
static int read_cancel_set(struct q_jobh *h, bool *all, struct range **out,
			   size_t *n_out)
{
	DIR *d = q__opendir_at(h->dirfd, "cancel");
	if (!d)
		return -errno;
	struct range *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	*all = false;
	while ((de = readdir(d)) != NULL) {
		const char *p;
		struct range r;
		if (strcmp(de->d_name, "all") == 0) {
			*all = true;
			continue;
		}
		if (de->d_name[0] != 'r' ||
		    !q__parse_u64(de->d_name + 1, &p, &r.first) || *p != '-' ||
		    !q__parse_u64(p + 1, NULL, &r.last) || r.last < r.first)
			continue;
		q__grow(&v, &cap, n + 1, sizeof(*v));
		v[n++] = r;
	}
	closedir(d);
	*out = v;
	*n_out = n;
	return 0;
}

static bool covered(bool all, const struct range *v, size_t n,
		    uint64_t first, uint64_t count)
{
	if (all)
		return true;
	/* Covered when every item is in some range (ranges may overlap;
	 * walk forward greedily). */
	uint64_t next = first, end = first + count;
	bool progress = true;
	while (next < end && progress) {
		progress = false;
		for (size_t i = 0; i < n; i++)
			if (v[i].first <= next && v[i].last >= next) {
				next = v[i].last + 1;
				progress = true;
			}
	}
	return next >= end;
}

/* A job without cancel/ is looked at again after this long: one stat
 * per item made a short task's checks cost more than the task. */
#define NO_CANCEL_RECHECK_NS (20LL * 1000000)

bool q_cancel_check(struct q_jobh *h, uint64_t item)
{
	struct stat st;
	int64_t now = q__mono_ns();
	if (now < __atomic_load_n(&h->no_cancel_until, __ATOMIC_RELAXED))
		return false;
	if (fstatat(h->dirfd, "cancel", &st, AT_SYMLINK_NOFOLLOW) != 0) {
		__atomic_store_n(&h->no_cancel_until,
				 now + NO_CANCEL_RECHECK_NS, __ATOMIC_RELAXED);
		return false;
	}
	bool all;
	struct range *v;
	size_t n;
	if (read_cancel_set(h, &all, &v, &n) < 0)
		return false;
	bool hit = covered(all, v, n, item, 1);
	free(v);
	return hit;
}

/* Parse "name", "name[i]" or "name[a-b]" into an item range. */
static int task_range(const struct q_job *job, const char *spec,
		      struct range *r, struct q_error *err)
{
	const char *br = strchr(spec, '[');
	size_t nlen = br ? (size_t)(br - spec) : strlen(spec);
	const struct q_group *g = NULL;
	for (size_t i = 0; i < job->ngroups; i++)
		if (strlen(job->groups[i].name) == nlen &&
		    strncmp(job->groups[i].name, spec, nlen) == 0)
			g = &job->groups[i];
	if (!g)
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "job %llu has no task '%.*s' (qstatus %llu "
				   "--tasks lists them)",
				   (unsigned long long)job->id, (int)nlen, spec,
				   (unsigned long long)job->id);
	r->first = g->first;
	r->last = g->first + g->count - 1;
	if (!br)
		return 0;
	char *end;
	long long a = strtoll(br + 1, &end, 10), b = a;
	if (end == br + 1)
		goto bad;
	if (*end == '-') {
		const char *s = end + 1;
		b = strtoll(s, &end, 10);
		if (end == s)
			goto bad;
	}
	if (strcmp(end, "]") != 0 || b < a)
		goto bad;
	if (a < g->index_base ||
	    (uint64_t)(b - g->index_base) >= g->count)
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "task '%s' is outside '%s' (indexes %lld.."
				   "%lld)", spec, g->name,
				   (long long)g->index_base,
				   (long long)(g->index_base +
					       (int64_t)g->count - 1));
	r->first = g->first + (uint64_t)(a - g->index_base);
	r->last = g->first + (uint64_t)(b - g->index_base);
	return 0;
bad:
	return q_error_set(err, Q_ERR_INPUT, 0,
			   "cannot read task '%s' (write NAME, NAME[I] or "
			   "NAME[A-B])", spec);
}

static int add_cancel_entry(struct q_jobh *h, const char *name,
			    struct q_error *err)
{
	char where[512];
	q__jobh_where(h, "cancel", where, sizeof(where));
	if (q__spool_mkdirat(h->sp, h->dirfd, "cancel") != 0 &&
	    errno != EEXIST)
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot create '%s'", where);
	int cfd = q__open_dir_beneath(h->dirfd, "cancel");
	if (cfd < 0)
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot open '%s'", where);
	int fd = q__openat(cfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW |
					      O_CLOEXEC,
			   h->sp->file_mode);
	int ret = 0;
	if (fd < 0 || q__close(fd) != 0 || q__fsync_dir(cfd) != 0)
		ret = q_error_set(err, Q_ERR_SYSTEM, errno,
				  "cannot write '%s/%s'", where, name);
	close(cfd);
	return ret;
}

static int finish_cancelled(struct q_jobh *h, struct q_jobcache *cache,
			    struct q_claim *claim, const char *who,
			    struct q_error *err)
{
	claim->claimed_ns = q__now_ns();
	int ret = q__finish_chunk_as(h, cache, claim, who, Q_STATE_CANCELLED,
				     "cancelled by qcancel", err);
	return ret < 0 ? ret : 0;
}

/*
 * The tasks this qcancel cancels: those it asked for whose chunk had no
 * record once the cancel entry was in place. Counted then, not from what
 * qcancel finishes itself, because workers race it: they stop running
 * tasks and may claim ready ones and record them cancelled first. (A task
 * already committing at that moment may still end done.)
 */
static uint64_t count_unfinished(struct q_jobh *h, bool all,
				 const struct range *want, size_t nwant)
{
	const struct q_job *job = h->job;
	uint64_t count = 0;

	for (uint64_t c = 0; c < job->nchunks; c++) {
		uint64_t first, n;
		q_job_chunk_items(job, c, &first, &n);
		if (q__chunk_has_record(h, c) == 1)
			continue;
		for (uint64_t i = 0; i < n; i++)
			if (covered(all, want, nwant, first + i, 1))
				count++;
	}
	return count;
}

int q_cancel(struct q_jobh *h, struct q_jobcache *cache,
	     const char *const *tasks, size_t ntasks, uint64_t *cancelled_out,
	     struct q_error *err)
{
	const struct q_job *job = h->job;
	char who[Q_WORKER_ID_MAX + 16];
	int ret = 0;
	uint64_t count = 0;

	*cancelled_out = 0;
	/* Validate everything before changing anything. */
	struct range *want = q__calloc(ntasks + 1, sizeof(*want));
	for (size_t i = 0; i < ntasks; i++)
		if ((ret = task_range(job, tasks[i], &want[i], err)) < 0)
			goto out;
	if (ntasks == 0) {
		ret = add_cancel_entry(h, "all", err);
	} else {
		for (size_t i = 0; i < ntasks && ret == 0; i++) {
			char name[64];
			snprintf(name, sizeof(name), "r%llu-%llu",
				 (unsigned long long)want[i].first,
				 (unsigned long long)want[i].last);
			ret = add_cancel_entry(h, name, err);
		}
	}
	if (ret < 0 || q_jobh_finished(h))
		goto out;
	count = count_unfinished(h, ntasks == 0, want, ntasks);

	bool all;
	struct range *set;
	size_t nset;
	if ((ret = read_cancel_set(h, &all, &set, &nset)) < 0) {
		ret = q_error_set(err, Q_ERR_SYSTEM, -ret,
				  "cannot read the cancel set of job %llu",
				  (unsigned long long)job->id);
		goto out;
	}
	char id[Q_WORKER_ID_MAX];
	q_worker_id_make(id, sizeof(id));
	snprintf(who, sizeof(who), "%s.qcancel", id);

	/* Waiting chunks: take them from wait/ before they can be
	 * promoted. */
	int waitfd = q__jobh_dir_fd(h, Q_DIR_WAIT);
	if (waitfd >= 0) {
		DIR *d = q__opendir_at(waitfd, NULL);
		struct dirent *de;
		uint64_t *waiting = NULL;
		size_t nw = 0, cap = 0;
		if (d) {
			while ((de = readdir(d)) != NULL) {
				uint64_t c;
				if (de->d_name[0] == 'c' &&
				    q__parse_u64(de->d_name + 1, NULL, &c) &&
				    c < job->nchunks) {
					q__grow(&waiting, &cap, nw + 1,
						sizeof(*waiting));
					waiting[nw++] = c;
				}
			}
			closedir(d);
		}
		for (size_t i = 0; i < nw && ret == 0; i++) {
			uint64_t first, n;
			q_job_chunk_items(job, waiting[i], &first, &n);
			if (!covered(all, set, nset, first, n))
				continue;
			struct q_claim claim = { .chunk = waiting[i],
						 .attempt = 1 };
			claim.shard = q_job_shard_of(job, waiting[i]);
			char from[48];
			snprintf(from, sizeof(from), "c%llu",
				 (unsigned long long)waiting[i]);
			snprintf(claim.name, sizeof(claim.name), "%llu.a1@%.*s",
				 (unsigned long long)waiting[i], 200, who);
			int claimfd = q__jobh_shard_fd(h, Q_SHARD_CLAIM,
						       claim.shard);
			if (claimfd < 0 ||
			    q__renameat(waitfd, from, claimfd, claim.name) != 0)
				continue; /* promoted meanwhile: see below */
			ret = finish_cancelled(h, cache, &claim, who, err);
		}
		free(waiting);
	}

	/* Ready chunks. */
	for (unsigned s = 0; s < job->nshards && ret == 0; s++) {
		int readyfd = q__jobh_shard_fd(h, Q_SHARD_READY, s);
		if (readyfd < 0)
			continue;
		for (;;) {
			struct q_claim claim;
			/* Claim the lowest covered entry of this shard. */
			DIR *d = q__opendir_at(readyfd, NULL);
			if (!d)
				break;
			struct dirent *de;
			bool found = false;
			while ((de = readdir(d)) != NULL) {
				uint64_t c, first, n;
				unsigned a;
				if (!q__parse_ready_name(de->d_name, &c, &a) ||
				    c >= job->nchunks ||
				    q_job_shard_of(job, c) != s)
					continue;
				q_job_chunk_items(job, c, &first, &n);
				if (!covered(all, set, nset, first, n))
					continue;
				char from[64];
				if (strlen(de->d_name) >= sizeof(from))
					continue;
				snprintf(from, sizeof(from), "%s", de->d_name);
				claim.chunk = c;
				claim.attempt = a;
				claim.shard = s;
				snprintf(claim.name, sizeof(claim.name),
					 "%s@%.*s", from, 200, who);
				int claimfd = q__jobh_shard_fd(h, Q_SHARD_CLAIM,
							       s);
				if (claimfd >= 0 &&
				    q__renameat(readyfd, from, claimfd,
						claim.name) == 0) {
					found = true;
					break;
				}
			}
			closedir(d);
			if (!found)
				break;
			if ((ret = finish_cancelled(h, cache, &claim, who,
						    err)) < 0)
				break;
		}
	}

	/* Running chunks: their workers see the cancel set and stop them. */
	free(set);
out:
	free(want);
	*cancelled_out = count;
	return ret;
}
