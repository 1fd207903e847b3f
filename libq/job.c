/*
 * job.c: the job model: building a job, laying out items and chunks, and
 * the lookups everyone uses (which group, chunk, shard holds an item).
 *
 * Design notes
 * 1. Layout is a pure function of the groups (count and chunk size, in
 *    order), so qsubmit and every reader compute the same chunk table from
 *    the spec; the job file's totals are checked against it on load.
 * 2. Chunks never span groups (format 1), so a chunk's items share one
 *    definition, one thread count and one dependency list.
 * 3. Default chunking keeps a group to at most Q_CHUNKS_PER_GROUP chunks and
 *    a shard to about Q_CHUNKS_PER_SHARD entries, so no spool directory
 *    grows past a few thousand entries whatever the job size.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job_internal.h"
#include "names_internal.h"

struct q_job *q_job_new(const char *name)
{
	struct q_job *job = q__calloc(1, sizeof(*job));
	job->name = q__strdup(name ? name : "job");
	job->uid = (uint32_t)getuid();
	job->submit_host = q__strdup(q__hostname());
	return job;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

bool q_parse_size(const char *text, uint64_t *out)
{
	static const char units[] = "KMGT";
	const char *end;
	uint64_t v;
	if (!q__parse_u64(text, &end, &v))
		return false;
	if (*end) {
		const char *u = strchr(units, *end);
		if (!u || (end[1] && strcmp(end + 1, "iB") != 0))
			return false;
		unsigned shift = 10 * (unsigned)(u - units + 1);
		if (v > (UINT64_MAX >> shift))
			return false;
		v <<= shift;
	}
	*out = v;
	return true;
}

void q_job_release(struct q_job *job)
{
	if (!job)
		return;
	for (size_t i = 0; i < job->ngroups; i++) {
		struct q_group *g = &job->groups[i];
		free(g->name);
		free_strv(g->argv, g->argc);
		free(g->kernel);
		free_strv(g->args, g->nargs);
		free_strv(g->env, g->nenv);
		free(g->cwd);
		for (size_t k = 0; k < g->nafter; k++)
			free(g->after[k].label);
		free(g->after);
	}
	free(job->groups);
	free_strv(job->plugins, job->nplugins);
	free(job->broadcast);
	free(job->barriers);
	free(job->name);
	free(job->submit_host);
	free(job->lines);
	free(job->line_off);
	free(job);
}

struct q_group *q_job_add_group(struct q_job *job, const char *name,
				enum q_task_kind kind)
{
	q__grow(&job->groups, &job->cap_groups, job->ngroups + 1,
		sizeof(*job->groups));
	struct q_group *g = &job->groups[job->ngroups++];
	memset(g, 0, sizeof(*g));
	g->name = q__strdup(name);
	g->kind = kind;
	g->count = 1;
	g->threads = 1;
	/* Kernels are pure by default (like Dask's tasks); commands may
	 * have side effects. */
	g->pure = kind == Q_TASK_KERNEL;
	return g;
}

static void push_str(char ***v, size_t *n, const char *s)
{
	*v = q__reallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = q__strdup(s);
}

void q_group_add_argv(struct q_group *g, const char *arg)
{
	push_str(&g->argv, &g->argc, arg);
}

void q_group_add_arg(struct q_group *g, const char *key_value)
{
	push_str(&g->args, &g->nargs, key_value);
}

void q_group_add_env(struct q_group *g, const char *key_value)
{
	push_str(&g->env, &g->nenv, key_value);
}

void q_job_add_plugin(struct q_job *job, const char *path)
{
	for (size_t i = 0; i < job->nplugins; i++)
		if (strcmp(job->plugins[i], path) == 0)
			return;
	push_str(&job->plugins, &job->nplugins, path);
}

void q_group_add_after(struct q_group *g, const struct q_after *a)
{
	g->after = q__reallocarray(g->after, g->nafter + 1, sizeof(*g->after));
	struct q_after *d = &g->after[g->nafter++];
	*d = *a;
	d->label = q__strdup(a->label ? a->label : "");
	d->barrier = -1;
}

/* Index the lines of a --tasks job: offsets of each line. */
static void index_lines(struct q_job *job)
{
	free(job->line_off);
	job->line_off = NULL;
	job->nlines = 0;
	size_t cap = 0;
	size_t start = 0;
	for (size_t i = 0; i <= job->lines_len; i++) {
		if (i == job->lines_len || job->lines[i] == '\n') {
			if (i > start) {
				q__grow(&job->line_off, &cap, job->nlines + 1,
					sizeof(*job->line_off));
				job->line_off[job->nlines++] = start;
			}
			start = i + 1;
		}
	}
}

void q_job_set_lines(struct q_job *job, char *lines, size_t len)
{
	free(job->lines);
	job->lines = lines;
	job->lines_len = len;
	index_lines(job);
}

const char *q__job_line(const struct q_job *job, uint64_t n, size_t *len_out)
{
	if (n >= job->nlines)
		return NULL;
	size_t start = job->line_off[n];
	const char *nl = memchr(job->lines + start, '\n',
				job->lines_len - start);
	*len_out = nl ? (size_t)(nl - (job->lines + start))
		      : job->lines_len - start;
	return job->lines + start;
}

int q__job_layout(struct q_job *job, struct q_error *err)
{
	uint64_t item = 0, chunk = 0;

	job->neach_worker = 0;
	job->max_priority = job->ngroups ? job->groups[0].priority : 0;
	for (size_t i = 0; i < job->ngroups; i++) {
		struct q_group *g = &job->groups[i];
		job->neach_worker += g->each_worker;
		if (g->priority > job->max_priority)
			job->max_priority = g->priority;
		if (g->kind == Q_TASK_LINES)
			g->count = job->nlines;
		if (g->count == 0)
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "task '%s' has no items", g->name);
		if (g->count > Q_MAX_ITEMS || item + g->count > Q_MAX_ITEMS)
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "job '%s' has too many tasks (at "
					   "most %llu)", job->name,
					   (unsigned long long)Q_MAX_ITEMS);
		if (g->chunk_size == 0)
			g->chunk_size = (g->count + Q_CHUNKS_PER_GROUP - 1) /
					Q_CHUNKS_PER_GROUP;
		g->first = item;
		g->first_chunk = chunk;
		g->nchunks = (g->count + g->chunk_size - 1) / g->chunk_size;
		item += g->count;
		chunk += g->nchunks;
	}
	if (chunk > Q_MAX_CHUNKS)
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "job '%s' has %llu chunks, at most %llu "
				   "(claim big arrays in bigger chunks: "
				   "--chunk, or chunk: in a workflow)",
				   job->name, (unsigned long long)chunk,
				   (unsigned long long)Q_MAX_CHUNKS);
	job->nitems = item;
	job->nchunks = chunk;
	uint64_t shards = (chunk + Q_CHUNKS_PER_SHARD - 1) / Q_CHUNKS_PER_SHARD;
	job->nshards = (unsigned)(shards < 1 ? 1
				  : shards > Q_MAX_SHARDS ? Q_MAX_SHARDS
							  : shards);
	return 0;
}

void q_after_items(const struct q_after *a, uint64_t k, uint64_t *first_out,
		   uint64_t *count_out)
{
	switch (a->mode) {
	case Q_AFTER_EACH:
		*first_out = a->first + k;
		*count_out = 1;
		return;
	case Q_AFTER_MAP:
		*first_out = a->first + k * a->stride;
		*count_out = a->width;
		return;
	case Q_AFTER_ALL:
		break;
	}
	*first_out = a->first;
	*count_out = a->count;
}

static int cmp_name_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Task names are unique in a job; sorted, so a million tasks are fine. */
static int check_names_unique(const struct q_job *job, struct q_error *err)
{
	char **names = q__calloc(job->ngroups + 1, sizeof(char *));
	int ret = 0;
	for (size_t i = 0; i < job->ngroups; i++)
		names[i] = job->groups[i].name;
	qsort(names, job->ngroups, sizeof(char *), cmp_name_ptr);
	for (size_t i = 1; i < job->ngroups && ret == 0; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			ret = q_error_set(err, Q_ERR_INPUT, 0,
					  "task name '%s' is used twice in job "
					  "'%s'", names[i], job->name);
	free(names);
	return ret;
}

int q_job_finalize(struct q_job *job, struct q_error *err)
{
	int ret;

	if ((ret = q_name_check("job name", job->name, err)) < 0)
		return ret;
	if (job->ngroups == 0)
		return q_error_set(err, Q_ERR_INPUT, 0, "job '%s' has no tasks",
				   job->name);
	for (size_t i = 0; i < job->ngroups; i++) {
		struct q_group *g = &job->groups[i];
		if ((ret = q_name_check("task name", g->name, err)) < 0)
			return ret;
		if (g->kind == Q_TASK_COMMAND && g->argc == 0)
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "task '%s' has no command", g->name);
		if (g->kind == Q_TASK_KERNEL && (!g->kernel || !*g->kernel))
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "task '%s' has no kernel", g->name);
		if (g->threads < 1 || g->threads > Q_MAX_THREADS)
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "task '%s': threads must be 1..%d",
					   g->name, Q_MAX_THREADS);
		if (g->timeout_s < 0 || g->timeout_s > 366.0 * 86400)
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "task '%s': timeout must be 0 to a "
					   "year", g->name);
		if (g->kind == Q_TASK_LINES && job->nlines == 0)
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "task '%s' has no lines", g->name);
	}
	if ((ret = check_names_unique(job, err)) < 0)
		return ret;
	if ((ret = q__job_layout(job, err)) < 0)
		return ret;

	/* Dependencies: ranges inside this job must exist; element-wise
	 * ranges must match the group's length. */
	job->nbarriers = 0;
	for (size_t i = 0; i < job->ngroups; i++) {
		struct q_group *g = &job->groups[i];
		for (size_t k = 0; k < g->nafter; k++) {
			struct q_after *a = &g->after[k];
			if (a->count == 0)
				return q_error_set(err, Q_ERR_INPUT, 0,
						   "task '%s': dependency "
						   "'%s' names no tasks",
						   g->name, a->label);
			if (a->job == 0 &&
			    (a->first >= job->nitems ||
			     a->count > job->nitems - a->first))
				return q_error_set(err, Q_ERR_INPUT, 0,
						   "task '%s': dependency "
						   "'%s' is outside the job",
						   g->name, a->label);
			if (a->job == 0 && a->first < g->first + g->count &&
			    a->first + a->count > g->first)
				return q_error_set(err, Q_ERR_INPUT, 0,
						   "task '%s' depends on itself "
						   "through '%s'", g->name,
						   a->label);
			if (a->mode == Q_AFTER_MAP &&
			    (a->width == 0 ||
			     a->count != (g->count - 1) * a->stride + a->width))
				return q_error_set(
					err, Q_ERR_INPUT, 0,
					"task '%s': dependency '%s' does not "
					"cover %llu items of width %llu and "
					"stride %llu", g->name, a->label,
					(unsigned long long)g->count,
					(unsigned long long)a->width,
					(unsigned long long)a->stride);
			if (a->mode == Q_AFTER_EACH && a->count != g->count)
				return q_error_set(
					err, Q_ERR_INPUT, 0,
					"task '%s' (%llu items) depends "
					"element-wise on '%s' (%llu items): "
					"the lengths must match",
					g->name, (unsigned long long)g->count,
					a->label, (unsigned long long)a->count);
			/* A group of several chunks waiting for all of a
			 * range of several items waits through one barrier,
			 * so the wait entries grow as chunks + range, not
			 * chunks x range. */
			a->barrier = -1;
			if (a->mode == Q_AFTER_ALL && g->nchunks > 1 &&
			    a->count > 1) {
				q__grow(&job->barriers, &job->cap_barriers,
					job->nbarriers + 1,
					sizeof(*job->barriers));
				job->barriers[job->nbarriers] =
					(struct q_barrier){ a->job, a->first,
							    a->count };
				a->barrier = (int64_t)job->nbarriers++;
			}
		}
	}
	return 0;
}

static size_t group_index_of_item(const struct q_job *job, uint64_t item)
{
	size_t lo = 0, hi = job->ngroups;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (job->groups[mid].first <= item)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

const struct q_group *q_job_group_of(const struct q_job *job, uint64_t item)
{
	if (item >= job->nitems)
		return NULL;
	return &job->groups[group_index_of_item(job, item)];
}

uint64_t q_job_chunk_of(const struct q_job *job, uint64_t item)
{
	const struct q_group *g = q_job_group_of(job, item);
	return g->first_chunk + (item - g->first) / g->chunk_size;
}

static size_t group_index_of_chunk(const struct q_job *job, uint64_t chunk)
{
	size_t lo = 0, hi = job->ngroups;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (job->groups[mid].first_chunk <= chunk)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

const struct q_group *q__job_group_of_chunk(const struct q_job *job,
					    uint64_t chunk)
{
	if (chunk >= job->nchunks)
		return NULL;
	return &job->groups[group_index_of_chunk(job, chunk)];
}

void q_job_chunk_items(const struct q_job *job, uint64_t chunk,
		       uint64_t *first_out, uint64_t *count_out)
{
	const struct q_group *g = q__job_group_of_chunk(job, chunk);
	uint64_t k = chunk - g->first_chunk;
	uint64_t first = g->first + k * g->chunk_size;
	uint64_t end = g->first + g->count;
	*first_out = first;
	*count_out = first + g->chunk_size <= end ? g->chunk_size : end - first;
}

unsigned q_job_shard_of(const struct q_job *job, uint64_t chunk)
{
	return (unsigned)(chunk % job->nshards);
}

int64_t q_job_index_of(const struct q_job *job, uint64_t item)
{
	const struct q_group *g = q_job_group_of(job, item);
	return g->index_base + (int64_t)(item - g->first);
}

void q_job_item_label(const struct q_job *job, uint64_t item, char *out,
		      size_t size)
{
	const struct q_group *g = q_job_group_of(job, item);
	if (!g)
		snprintf(out, size, "#%llu", (unsigned long long)item);
	else if (g->array || g->kind == Q_TASK_LINES)
		snprintf(out, size, "%s[%lld]", g->name,
			 (long long)(g->index_base + (int64_t)(item - g->first)));
	else
		snprintf(out, size, "%s", g->name);
}
