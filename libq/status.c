/*
 * status.c: counting and listing tasks.
 */
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobh_internal.h"
#include "names_internal.h"

struct chunk_view {
	enum q_state state;     /* READY, RUNNING, or WAITING; DONE = record */
	unsigned attempt;
	bool has_record;
	int64_t claimed_ns;
	char *worker;           /* RUNNING: claimant */
};

/* Call fn(name) for each entry of dirfd (not . or ..). */
static int scan_dir(int dirfd, void (*fn)(void *, const char *, int), void *ctx,
		    int arg)
{
	DIR *d = q__opendir_at(dirfd, NULL);
	if (!d)
		return -errno;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			fn(ctx, de->d_name, arg);
	closedir(d);
	return 0;
}

struct view_ctx {
	struct q_jobh *h;
	struct chunk_view *v;
	unsigned shard;
};

static void see_done(void *ctx, const char *name, int shard)
{
	struct view_ctx *vc = ctx;
	uint64_t c;
	if (q__parse_u64(name, NULL, &c) && c < vc->h->job->nchunks &&
	    q_job_shard_of(vc->h->job, c) == (unsigned)shard)
		vc->v[c].has_record = true;
}

static void see_claim(void *ctx, const char *name, int shard)
{
	struct view_ctx *vc = ctx;
	uint64_t c;
	unsigned a;
	const char *w;
	if (!q__parse_claim_name(name, &c, &a, &w) || c >= vc->h->job->nchunks ||
	    q_job_shard_of(vc->h->job, c) != (unsigned)shard)
		return;
	struct chunk_view *cv = &vc->v[c];
	cv->state = Q_STATE_RUNNING;
	cv->attempt = a;
	free(cv->worker);
	cv->worker = q__strdup(w);
	struct stat st;
	int fd = q__jobh_shard_fd(vc->h, Q_SHARD_CLAIM, (unsigned)shard);
	/* The claim's rename sets the entry's ctime (by the file server's
	 * clock); its mtime is still when the chunk became ready. */
	if (fd >= 0 && fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		cv->claimed_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 +
				 st.st_ctim.tv_nsec;
}

static void see_ready(void *ctx, const char *name, int shard)
{
	struct view_ctx *vc = ctx;
	uint64_t c;
	unsigned a;
	if (!q__parse_ready_name(name, &c, &a) || c >= vc->h->job->nchunks ||
	    q_job_shard_of(vc->h->job, c) != (unsigned)shard)
		return;
	if (vc->v[c].state == Q_STATE_WAITING) {
		vc->v[c].state = Q_STATE_READY;
		vc->v[c].attempt = a - 1;
	}
}

/* One pass over done/, claim/, ready/ (in that order: a chunk moving on
 * while we look is seen in its older state or not at all). */
static int build_view(struct q_jobh *h, struct chunk_view **out,
		      struct q_error *err)
{
	const struct q_job *job = h->job;
	struct chunk_view *v = q__calloc(job->nchunks, sizeof(*v));
	struct view_ctx vc = { h, v, 0 };
	static const enum q_shard_kind order[] = { Q_SHARD_DONE, Q_SHARD_CLAIM,
						   Q_SHARD_READY };
	void (*fns[])(void *, const char *, int) = { see_done, see_claim,
						     see_ready };
	for (uint64_t c = 0; c < job->nchunks; c++)
		v[c].state = Q_STATE_WAITING;
	for (size_t k = 0; k < Q_ARRAY_SIZE(order); k++) {
		for (unsigned s = 0; s < job->nshards; s++) {
			int fd = q__jobh_shard_fd(h, order[k], s);
			if (fd < 0) {
				char where[512];
				q__jobh_where(h, q__shard_dir_names[order[k]],
					      where, sizeof(where));
				for (uint64_t c = 0; c < job->nchunks; c++)
					free(v[c].worker);
				free(v);
				return q_error_set(err, Q_ERR_SYSTEM, -fd,
						   "cannot open '%s/%u'", where,
						   s);
			}
			scan_dir(fd, fns[k], &vc, (int)s);
		}
	}
	*out = v;
	return 0;
}

static void free_view(const struct q_job *job, struct chunk_view *v)
{
	if (!v)
		return;
	for (uint64_t c = 0; c < job->nchunks; c++)
		free(v[c].worker);
	free(v);
}

/* Count by state into counts[0], or by group into counts[0..ngroups)
 * (a chunk never spans groups). */
static int count_states(struct q_jobh *h, struct q_counts *out,
			bool by_group, struct q_error *err)
{
	const struct q_job *job = h->job;
	struct q_counts *counts = out;   /* where the chunk at hand counts */
	struct chunk_view *v;
	size_t gi = 0;
	int ret;

	if (by_group) {
		memset(out, 0, job->ngroups * sizeof(*out));
		for (size_t g = 0; g < job->ngroups; g++)
			out[g].total = job->groups[g].count;
	} else {
		memset(out, 0, sizeof(*out));
		out->total = job->nitems;
	}
	if ((ret = build_view(h, &v, err)) < 0)
		return ret;
	for (uint64_t c = 0; c < job->nchunks && ret == 0; c++) {
		uint64_t first, n;
		q_job_chunk_items(job, c, &first, &n);
		if (by_group) {
			while (gi + 1 < job->ngroups &&
			       c >= job->groups[gi].first_chunk +
					    job->groups[gi].nchunks)
				gi++;
			counts = &out[gi];
		}
		if (!v[c].has_record) {
			if (v[c].state == Q_STATE_RUNNING)
				counts->running += n;
			else if (v[c].state == Q_STATE_READY)
				counts->ready += n;
			else
				counts->waiting += n;
			continue;
		}
		/* Chunks known to be all done need no second read. */
		uint8_t health = __atomic_load_n(&h->chunk_health[c],
						 __ATOMIC_RELAXED);
		if (health == Q_HEALTH_ALL_DONE || health == Q_HEALTH_CACHED) {
			counts->done += n;
			if (health == Q_HEALTH_CACHED)
				counts->cached += n;
			continue;
		}
		struct q_record rec;
		struct q_error rerr = Q_ERROR_INIT;
		ret = q_record_read(h, c, &rec, &rerr);
		if (ret < 0) {
			/* A damaged record is reported, not fatal. */
			fprintf(stderr, "spoolq: warning: %s\n", rerr.message);
			counts->failed += n;
			ret = 0;
			continue;
		}
		bool all_done = true;
		for (uint64_t i = 0; i < rec.count; i++) {
			switch (rec.items[i].state) {
			case Q_STATE_DONE: counts->done++; break;
			case Q_STATE_CANCELLED:
				counts->cancelled++;
				all_done = false;
				break;
			default:
				counts->failed++;
				all_done = false;
				break;
			}
		}
		if (all_done && rec.cached_job)
			counts->cached += n;
		__atomic_store_n(&h->chunk_health[c],
				 !all_done ? Q_HEALTH_NOT_ALL_DONE
				 : rec.cached_job ? Q_HEALTH_CACHED
						  : Q_HEALTH_ALL_DONE,
				 __ATOMIC_RELAXED);
		q_record_release(&rec);
	}
	free_view(job, v);
	return ret;
}

uint64_t q_counts_in(const struct q_counts *c, enum q_state s)
{
	switch (s) {
	case Q_STATE_WAITING: return c->waiting;
	case Q_STATE_READY: return c->ready;
	case Q_STATE_RUNNING: return c->running;
	case Q_STATE_DONE: return c->done;
	case Q_STATE_FAILED: return c->failed;
	case Q_STATE_CANCELLED: return c->cancelled;
	}
	return 0;
}

enum q_state q_counts_pressing(const struct q_counts *c)
{
	static const enum q_state order[] = {
		Q_STATE_FAILED,  Q_STATE_RUNNING,   Q_STATE_READY,
		Q_STATE_WAITING, Q_STATE_CANCELLED, Q_STATE_DONE,
	};
	for (size_t i = 0; i < Q_ARRAY_SIZE(order); i++)
		if (q_counts_in(c, order[i]))
			return order[i];
	return Q_STATE_WAITING;
}

int q_job_counts(struct q_jobh *h, struct q_counts *counts,
		 struct q_error *err)
{
	return count_states(h, counts, false, err);
}

int q_job_group_counts(struct q_jobh *h, struct q_counts *counts,
		       struct q_error *err)
{
	return count_states(h, counts, true, err);
}

void q__host_of_worker(const char *worker, char *host, size_t size)
{
	/* Worker ids are host.pid.random: the host is all but the last two
	 * dot-separated parts. */
	const char *end = worker + strlen(worker);
	for (int dots = 0; end > worker && dots < 2; )
		if (*--end == '.')
			dots++;
	size_t n = end > worker ? (size_t)(end - worker) : strlen(worker);
	if (n >= size)
		n = size - 1;
	memcpy(host, worker, n);
	host[n] = '\0';
}

int q_job_for_each_task(struct q_jobh *h, q_task_fn fn, void *ctx,
			struct q_error *err)
{
	const struct q_job *job = h->job;
	struct chunk_view *v;
	int ret;

	if ((ret = build_view(h, &v, err)) < 0)
		return ret;
	for (uint64_t c = 0; c < job->nchunks && ret == 0; c++) {
		uint64_t first, n;
		struct q_record rec;
		bool have_rec = false;
		q_job_chunk_items(job, c, &first, &n);
		if (v[c].has_record) {
			struct q_error rerr = Q_ERROR_INIT;
			if (q_record_read(h, c, &rec, &rerr) == 0)
				have_rec = true;
			else
				fprintf(stderr, "spoolq: warning: %s\n",
					rerr.message);
		}
		for (uint64_t i = 0; i < n && ret == 0; i++) {
			struct q_task_info t;
			memset(&t, 0, sizeof(t));
			t.item = first + i;
			t.chunk = c;
			t.index = q_job_index_of(job, t.item);
			q_job_item_label(job, t.item, t.label, sizeof(t.label));
			t.exit_code = Q_EXIT_NONE;
			t.attempt = v[c].attempt;
			if (have_rec) {
				const struct q_item_record *r = &rec.items[i];
				t.state = r->state;
				t.attempt = rec.attempt;
				snprintf(t.worker, sizeof(t.worker), "%s",
					 rec.worker);
				snprintf(t.host, sizeof(t.host), "%s",
					 rec.host ? rec.host : "");
				t.exit_code = r->exit_code;
				t.slot = r->slot;
				t.reused = rec.cached_job != 0;
				t.claimed_ns = rec.claimed_ns;
				t.start_ns = r->start_ns;
				t.end_ns = r->end_ns;
				snprintf(t.reason, sizeof(t.reason), "%s",
					 r->reason ? r->reason : "");
			} else if (v[c].has_record) {
				t.state = Q_STATE_FAILED;
				snprintf(t.reason, sizeof(t.reason),
					 "record unreadable");
			} else {
				t.state = v[c].state;
				if (v[c].worker) {
					snprintf(t.worker, sizeof(t.worker),
						 "%s", v[c].worker);
					q__host_of_worker(v[c].worker, t.host,
						       sizeof(t.host));
				}
				t.claimed_ns = v[c].claimed_ns;
			}
			ret = fn(ctx, &t);
		}
		if (have_rec)
			q_record_release(&rec);
	}
	free_view(job, v);
	return ret;
}

int q_job_for_each_claim(struct q_jobh *h, q_claim_fn fn, void *ctx,
			 struct q_error *err)
{
	const struct q_job *job = h->job;
	int ret = 0;
	for (unsigned s = 0; s < job->nshards && ret == 0; s++) {
		int fd = q__jobh_shard_fd(h, Q_SHARD_CLAIM, s);
		if (fd == -ENOENT)
			continue;   /* the shard never had a claim */
		DIR *d = fd >= 0 ? q__opendir_at(fd, NULL) : NULL;
		if (!d) {
			char where[512];
			q__jobh_where(h, q__shard_dir_names[Q_SHARD_CLAIM],
				      where, sizeof(where));
			return q_error_set(err, Q_ERR_SYSTEM,
					   fd < 0 ? -fd : errno,
					   "cannot list '%s/%u'", where, s);
		}
		struct dirent *de;
		while (ret == 0 && (de = readdir(d)) != NULL) {
			struct q_claim_info c = { 0 };
			struct stat st;
			if (de->d_name[0] == '.' ||
			    !q__parse_claim_name(de->d_name, &c.chunk,
						 &c.attempt, &c.worker) ||
			    c.chunk >= job->nchunks ||
			    q_job_shard_of(job, c.chunk) != s)
				continue;
			if (fstatat(fd, de->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) == 0)
				c.claimed_ns = (int64_t)st.st_ctim.tv_sec *
						       1000000000 +
					       st.st_ctim.tv_nsec;
			ret = fn(ctx, &c);
		}
		closedir(d);
	}
	return ret;
}
