/*
 * deps.c: dependencies between chunks.
 *
 * Design notes
 * 1. A group's "after" entries are item ranges. They turn into wait units
 *    at chunk granularity: chunk D of a group waits for
 *      - ALL through a barrier (the group has several chunks and the range
 *        several items): the one unit x<B>; barrier B waits for every chunk
 *        of the range;
 *      - ALL without a barrier: every chunk covering the range;
 *      - EACH: the chunks covering the items matching D's items.
 *    Unit names: c<C> (a chunk of this job), j<J>.c<C> (chunk C of an
 *    earlier job J), x<B> (a barrier of this job).
 * 2. The same enumeration runs both ways: forward at submission (which
 *    entries to create under wait/) and backward at completion (who waits
 *    for the chunk that just finished), so the two always agree.
 * 3. Whether a dependency failed is decided per item when the dependent is
 *    about to run (q_dep_check), from the dependencies' records: releasing
 *    never looks at outcomes, so a failure cannot lose a wakeup.
 * 4. Who waits for a finished chunk is looked up among the groups that
 *    wait for anything (without a barrier), listed once per job handle:
 *    a workflow of 100,000 independent tasks has 100,000 groups, and a
 *    scan of them all for each finished chunk cost more than the task.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deps_internal.h"
#include "jobh_internal.h"

void q__unit_name(char *out, size_t size, uint64_t self_id, uint64_t job,
		  uint64_t chunk)
{
	if (job == 0 || job == self_id)
		snprintf(out, size, "c%llu", (unsigned long long)chunk);
	else
		snprintf(out, size, "j%llu.c%llu", (unsigned long long)job,
			 (unsigned long long)chunk);
}

void q__unit_bucket(const char *unit, char *out, size_t size)
{
	const char *dot = strrchr(unit, '.');
	const char *num = (dot ? dot + 1 : unit) + 1; /* after 'c' or 'x' */
	unsigned long long n = strtoull(num, NULL, 10) / Q_WAIT_BUCKET;
	if (unit[0] == 'x')
		snprintf(out, size, "xb%llu", n);
	else if (dot)
		snprintf(out, size, "%.*sb%llu", (int)(dot - unit + 1), unit, n);
	else
		snprintf(out, size, "b%llu", n);
}

/* The chunks of `dep` covering items [first, first+count). */
static void chunk_span(const struct q_job *dep, uint64_t first,
		       uint64_t count, uint64_t *c0, uint64_t *c1)
{
	*c0 = q_job_chunk_of(dep, first);
	*c1 = q_job_chunk_of(dep, first + count - 1);
}

/*
 * The units chunk D of group g waits for under dependency a (not through
 * a barrier). Each item's range is [first + k*stride, + width); ranges
 * never move backwards as k grows (stride >= 0), so the chunks come out
 * in order and each is reported once.
 */
static int chunk_units(const struct q_job *job, const struct q_group *g,
		       const struct q_after *a, const struct q_job *dep,
		       uint64_t D, q__wait_fn fn, void *ctx)
{
	uint64_t df, dn, next = 0;
	int ret;

	if (a->mode == Q_AFTER_ALL) {
		df = g->first;
		dn = 1;
	} else {
		q_job_chunk_items(job, D, &df, &dn);
	}
	for (uint64_t k = df - g->first; k < df - g->first + dn; k++) {
		uint64_t first, count, c0, c1;
		q_after_items(a, k, &first, &count);
		chunk_span(dep, first, count, &c0, &c1);
		for (uint64_t c = c0 > next ? c0 : next; c <= c1; c++)
			if ((ret = fn(ctx, Q_WAITER_CHUNK, D, a->job, c,
				      false)) < 0)
				return ret;
		if (c1 + 1 > next)
			next = c1 + 1;
	}
	return 0;
}

int q__for_each_wait(const struct q_job *job, q__dep_job_fn dep_of,
		     void *dep_ctx, q__wait_fn fn, void *ctx)
{
	int ret;

	/* Barriers first, so callers can learn which ones are satisfied
	 * before the chunks that wait on them. */
	for (size_t b = 0; b < job->nbarriers; b++) {
		const struct q_barrier *bar = &job->barriers[b];
		const struct q_job *dep = bar->job ? dep_of(dep_ctx, bar->job)
						   : job;
		if (!dep)
			return -ENOENT;
		uint64_t c0, c1;
		chunk_span(dep, bar->first, bar->count, &c0, &c1);
		for (uint64_t c = c0; c <= c1; c++)
			if ((ret = fn(ctx, Q_WAITER_BARRIER, b, bar->job, c,
				      false)) < 0)
				return ret;
	}
	for (size_t i = 0; i < job->ngroups; i++) {
		const struct q_group *g = &job->groups[i];
		for (size_t k = 0; k < g->nafter; k++) {
			const struct q_after *a = &g->after[k];
			const struct q_job *dep = a->job ? dep_of(dep_ctx, a->job)
							 : job;
			if (!dep)
				return -ENOENT;
			for (uint64_t d = 0; d < g->nchunks; d++) {
				uint64_t D = g->first_chunk + d;
				if (a->barrier >= 0) {
					if ((ret = fn(ctx, Q_WAITER_CHUNK, D, 0,
						      (uint64_t)a->barrier,
						      true)) < 0)
						return ret;
					continue;
				}
				if ((ret = chunk_units(job, g, a, dep, D, fn,
						       ctx)) < 0)
					return ret;
			}
		}
	}
	return 0;
}

static uint64_t real_job(const struct q_jobh *h, uint64_t job)
{
	return job ? job : h->job->id;
}

static int release_one(struct q_jobh *h, struct q_jobcache *cache,
		       char waiter_kind, uint64_t waiter, uint64_t dep_job,
		       uint64_t chunk)
{
	char w[48], unit[64];
	snprintf(w, sizeof(w), "%c%llu", waiter_kind,
		 (unsigned long long)waiter);
	q__unit_name(unit, sizeof(unit), h->job->id, dep_job, chunk);
	return q__release(h, cache, w, unit);
}

/*
 * The items k0..k1 of group g (counted from its first item) whose ranges
 * under dependency a meet the dependency's items [cf, cf+cn); false when
 * none do. Item k's range is [first + k*stride, + width) (stride 0 for
 * ALL, 1 and width 1 for EACH).
 */
static bool items_waiting_for(const struct q_after *a, const struct q_group *g,
			      uint64_t cf, uint64_t cn, uint64_t *k0,
			      uint64_t *k1)
{
	uint64_t stride = a->mode == Q_AFTER_ALL ? 0
			  : a->mode == Q_AFTER_EACH ? 1 : a->stride;
	uint64_t width = a->mode == Q_AFTER_ALL ? a->count
			 : a->mode == Q_AFTER_EACH ? 1 : a->width;
	uint64_t end = cf + cn;

	if (stride == 0) {
		if (a->first >= end || a->first + width <= cf)
			return false;
		*k0 = 0;
		*k1 = g->count - 1;
		return true;
	}
	/* first + k*stride < end  and  first + k*stride + width > cf */
	if (a->first >= end)
		return false;
	uint64_t hi = (end - a->first - 1) / stride;
	uint64_t lo = 0;
	if (cf + 1 > a->first + width)
		lo = (cf + 1 - a->first - width + stride - 1) / stride;
	if (hi > g->count - 1)
		hi = g->count - 1;
	if (lo > hi)
		return false;
	*k0 = lo;
	*k1 = hi;
	return true;
}

/* Design note 4: the list, built by the first thread that needs it. */
static const size_t *waiting_groups(struct q_jobh *h)
{
	size_t *list = __atomic_load_n(&h->waiting_groups, __ATOMIC_ACQUIRE);
	if (list)
		return list;
	const struct q_job *job = h->job;
	size_t n = 0;
	list = q__calloc(job->ngroups + 1, sizeof(*list));
	for (size_t i = 0; i < job->ngroups; i++) {
		const struct q_group *g = &job->groups[i];
		for (size_t k = 0; k < g->nafter; k++)
			if (g->after[k].barrier < 0) {
				list[++n] = i;
				break;
			}
	}
	list[0] = n;
	size_t *none = NULL;
	if (!__atomic_compare_exchange_n(&h->waiting_groups, &none, list,
					 false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		free(list);     /* another thread was first */
		return none;
	}
	return list;
}

int q__release_dependents_in(struct q_jobh *h, struct q_jobcache *cache,
			     uint64_t dep_job, uint64_t chunk)
{
	const struct q_job *job = h->job;
	const struct q_job *dep = NULL;
	uint64_t cf, cn;
	int ret;

	if (dep_job == job->id) {
		dep = job;
	} else {
		struct q_error err = Q_ERROR_INIT;
		struct q_jobh *dh = q_jobcache_get(cache, dep_job, &err);
		if (!dh)
			return -ENOENT;
		dep = dh->job;
	}
	q_job_chunk_items(dep, chunk, &cf, &cn);

	for (size_t b = 0; b < job->nbarriers; b++) {
		const struct q_barrier *bar = &job->barriers[b];
		if (real_job(h, bar->job) != dep_job ||
		    cf >= bar->first + bar->count || cf + cn <= bar->first)
			continue;
		if ((ret = release_one(h, cache, 'x', b, dep_job, chunk)) < 0)
			return ret;
	}
	const size_t *waiting = waiting_groups(h);
	for (size_t w = 1; w <= waiting[0]; w++) {
		const struct q_group *g = &job->groups[waiting[w]];
		for (size_t k = 0; k < g->nafter; k++) {
			const struct q_after *a = &g->after[k];
			if (a->barrier >= 0 || real_job(h, a->job) != dep_job)
				continue;
			uint64_t k0, k1;
			if (!items_waiting_for(a, g, cf, cn, &k0, &k1))
				continue;
			uint64_t d0 = q_job_chunk_of(job, g->first + k0);
			uint64_t d1 = q_job_chunk_of(job, g->first + k1);
			for (uint64_t d = d0; d <= d1; d++)
				if ((ret = release_one(h, cache, 'c', d,
						       dep_job, chunk)) < 0)
					return ret;
		}
	}
	return 0;
}

int q__release_barrier_dependents(struct q_jobh *h, struct q_jobcache *cache,
				  uint64_t barrier)
{
	const struct q_job *job = h->job;
	char unit[48];
	int ret;

	snprintf(unit, sizeof(unit), "x%llu", (unsigned long long)barrier);
	for (size_t i = 0; i < job->ngroups; i++) {
		const struct q_group *g = &job->groups[i];
		for (size_t k = 0; k < g->nafter; k++) {
			if (g->after[k].barrier != (int64_t)barrier)
				continue;
			for (uint64_t d = 0; d < g->nchunks; d++) {
				char w[48];
				snprintf(w, sizeof(w), "c%llu",
					 (unsigned long long)(g->first_chunk + d));
				if ((ret = q__release(h, cache, w, unit)) < 0)
					return ret;
			}
		}
	}
	return 0;
}
