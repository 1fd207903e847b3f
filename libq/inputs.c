/*
 * inputs.c: what a task sees of its dependencies: whether one failed
 * (q_dep_check) and their results (q_item_inputs, q_item_output).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobh_internal.h"

static struct q_jobh *dep_handle(struct q_jobh *h, struct q_jobcache *cache,
				 uint64_t job, struct q_error *err)
{
	if (job == 0 || job == h->job->id)
		return h;
	return q_jobcache_get(cache, job, err);
}

/* Is any item of [first, first+count) of dh not DONE? 1 with a reason. */
static int range_failed(struct q_jobh *dh, uint64_t first, uint64_t count,
			bool external, char *reason, size_t size,
			struct q_error *err)
{
	uint64_t c0 = q_job_chunk_of(dh->job, first);
	uint64_t c1 = q_job_chunk_of(dh->job, first + count - 1);

	for (uint64_t c = c0; c <= c1; c++) {
		uint8_t health = __atomic_load_n(&dh->chunk_health[c],
						 __ATOMIC_RELAXED);
		if (health == Q_HEALTH_ALL_DONE || health == Q_HEALTH_CACHED)
			continue;
		struct q_record rec;
		int ret = q_record_read(dh, c, &rec, err);
		if (ret == -ENOENT)
			continue; /* not finished: not failed (yet) */
		if (ret < 0)
			return ret;
		bool all_done = true;
		int found = 0;
		for (uint64_t i = 0; i < rec.count; i++) {
			const struct q_item_record *r = &rec.items[i];
			if (r->state == Q_STATE_DONE)
				continue;
			all_done = false;
			if (found || r->item < first || r->item >= first + count)
				continue;
			char label[Q_NAME_MAX + 32];
			q_job_item_label(dh->job, r->item, label, sizeof(label));
			char jobpart[48] = "";
			if (external)
				snprintf(jobpart, sizeof(jobpart), "job %llu ",
					 (unsigned long long)dh->job->id);
			snprintf(reason, size, "dependency %s'%s' %s", jobpart,
				 label,
				 r->state == Q_STATE_FAILED ? "failed"
							    : "was cancelled");
			found = 1;
		}
		__atomic_store_n(&dh->chunk_health[c],
				 !all_done ? Q_HEALTH_NOT_ALL_DONE
				 : rec.cached_job ? Q_HEALTH_CACHED
						  : Q_HEALTH_ALL_DONE,
				 __ATOMIC_RELAXED);
		q_record_release(&rec);
		if (found)
			return 1;
	}
	return 0;
}

int q_dep_check(struct q_jobh *h, struct q_jobcache *cache, uint64_t item,
		char *reason, size_t size, struct q_error *err)
{
	const struct q_group *g = q_job_group_of(h->job, item);
	if (!g)
		return -EINVAL;
	for (size_t k = 0; k < g->nafter; k++) {
		const struct q_after *a = &g->after[k];
		struct q_jobh *dh = dep_handle(h, cache, a->job, err);
		if (!dh)
			return -EIO;
		uint64_t first, count;
		q_after_items(a, item - g->first, &first, &count);
		int ret = range_failed(dh, first, count, dh != h, reason, size,
				       err);
		if (ret != 0)
			return ret;
	}
	return 0;
}

int q_item_inputs(struct q_jobh *h, uint64_t item,
		  struct q_input_ref **inputs_out, size_t *n_out,
		  struct q_error *err)
{
	const struct q_group *g = q_job_group_of(h->job, item);
	struct q_input_ref *v = NULL;
	size_t n = 0, cap = 0;

	if (!g)
		return q_error_set(err, Q_ERR_SYSTEM, EINVAL,
				   "no item %llu in job %llu",
				   (unsigned long long)item,
				   (unsigned long long)h->job->id);
	for (size_t k = 0; k < g->nafter; k++) {
		const struct q_after *a = &g->after[k];
		uint64_t job = a->job ? a->job : h->job->id;
		uint64_t first, count;
		q_after_items(a, item - g->first, &first, &count);
		q__grow(&v, &cap, n + count, sizeof(*v));
		for (uint64_t i = 0; i < count; i++)
			v[n++] = (struct q_input_ref){ job, first + i };
	}
	*inputs_out = v;
	*n_out = n;
	return 0;
}

int q_item_output(struct q_jobcache *cache, uint64_t job, uint64_t item,
		  size_t max, char **data_out, size_t *len_out,
		  struct q_error *err)
{
	struct q_jobh *h = q_jobcache_get(cache, job, err);
	if (!h)
		return -EIO;
	if (item >= h->job->nitems)
		return q_error_set(err, Q_ERR_SYSTEM, EINVAL,
				   "no item %llu in job %llu",
				   (unsigned long long)item,
				   (unsigned long long)job);
	uint64_t chunk = q_job_chunk_of(h->job, item);
	struct q_record rec;
	int ret = q_record_read(h, chunk, &rec, err);
	if (ret == -ENOENT)
		return q_error_set(err, Q_ERR_SYSTEM, ENOENT,
				   "job %llu item %llu has no result yet",
				   (unsigned long long)job,
				   (unsigned long long)item);
	if (ret < 0)
		return ret;
	ret = q_record_output_mem(h, &rec, (size_t)(item - rec.first), false,
				  max, data_out, len_out, err);
	q_record_release(&rec);
	return ret;
}
