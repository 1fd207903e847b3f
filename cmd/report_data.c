/*
 * report_data.c: the report's facts, in one pass (report_data.h).
 *
 * Design notes
 * 1. Bounded memory: an attempt is a 64-byte struct; worker ids, hosts
 *    and reasons are interned (a job has few distinct ones), so a million
 *    tasks cost ~64 MB and no allocation per task.
 * 2. Rows: a worker has one row per core slot, as many as it registered
 *    (q_workers_list) or, once it is gone, as many as its tasks were seen
 *    to use (first slot + threads). A task of several threads covers
 *    several rows. Past REPORT_ROWS_MAX rows in all, one row per worker.
 * 3. Time 0 is the job's first claim, not its submission: what the page
 *    shows is the work, and a job submitted long before its workers came
 *    would otherwise be a mostly empty picture.
 * 4. What has a bar: an attempt that ran, from start to end; a lost one
 *    from its claim to when the loss was found (how far it got is
 *    unknown); a running one from its claim to now. A reused result and a
 *    task cancelled before it started have none.
 */
#include <stdlib.h>
#include <string.h>

#include "report_data.h"

void report_grow(void *v, size_t *cap, size_t need, size_t size)
{
	void **p = v;
	if (need <= *cap)
		return;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	void *n = realloc(*p, c * size);
	if (!n)
		abort();
	*p = n;
	*cap = c;
}

/* ---- interned strings ---- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void rehash(struct report_strings *s, size_t nslot)
{
	uint32_t *slot = calloc(nslot, sizeof(*slot));
	if (!slot)
		abort();
	for (size_t i = 0; i < s->n; i++) {
		size_t k = hash_str(s->v[i]) & (nslot - 1);
		while (slot[k])
			k = (k + 1) & (nslot - 1);
		slot[k] = (uint32_t)i + 1;
	}
	free(s->slot);
	s->slot = slot;
	s->nslot = nslot;
}

void report_strings_init(struct report_strings *s)
{
	memset(s, 0, sizeof(*s));
	report_strings_intern(s, "");
}

void report_strings_release(struct report_strings *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

uint32_t report_strings_find(const struct report_strings *s,
			     const char *str)
{
	if (!s->nslot)
		return REPORT_NONE;
	size_t k = hash_str(str) & (s->nslot - 1);
	for (; s->slot[k]; k = (k + 1) & (s->nslot - 1))
		if (strcmp(s->v[s->slot[k] - 1], str) == 0)
			return s->slot[k] - 1;
	return REPORT_NONE;
}

uint32_t report_strings_intern(struct report_strings *s, const char *str)
{
	uint32_t i = report_strings_find(s, str);
	if (i != REPORT_NONE)
		return i;
	if ((s->n + 1) * 2 > s->nslot)
		rehash(s, s->nslot ? s->nslot * 2 : 64);
	report_grow(&s->v, &s->cap, s->n + 1, sizeof(*s->v));
	s->v[s->n] = strdup(str);
	if (!s->v[s->n])
		abort();
	size_t k = hash_str(str) & (s->nslot - 1);
	while (s->slot[k])
		k = (k + 1) & (s->nslot - 1);
	s->slot[k] = (uint32_t)s->n + 1;
	return (uint32_t)s->n++;
}

/* ---- gathering ---- */

void report_data_init(struct report_data *d, const struct q_job *job)
{
	memset(d, 0, sizeof(*d));
	d->job = job;
	report_strings_init(&d->names);
	report_strings_init(&d->worker_ids);
}

void report_data_release(struct report_data *d)
{
	free(d->a);
	free(d->w);
	free(d->order);
	report_strings_release(&d->names);
	report_strings_release(&d->worker_ids);
	memset(d, 0, sizeof(*d));
}

static uint32_t worker_of(struct report_data *d, const char *id,
			  const char *host)
{
	if (!id[0])
		return REPORT_NONE;
	uint32_t i = report_strings_intern(&d->worker_ids, id);
	/* Index 0 of worker_ids is "", so worker k is string k + 1. */
	size_t k = i - 1;
	if (k < d->nw) {
		if (d->w[k].host == 0 && host[0])
			d->w[k].host = report_strings_intern(&d->names, host);
		return (uint32_t)k;
	}
	report_grow(&d->w, &d->capw, d->nw + 1, sizeof(*d->w));
	struct report_worker *w = &d->w[d->nw];
	memset(w, 0, sizeof(*w));
	w->id = i;
	w->host = report_strings_intern(&d->names, host);
	return (uint32_t)d->nw++;
}

int report_data_add(void *ctx, const struct q_attempt *a)
{
	struct report_data *d = ctx;
	const struct q_group *g = q_job_group_of(d->job, a->item);
	report_grow(&d->a, &d->cap, d->n + 1, sizeof(*d->a));
	struct report_attempt *r = &d->a[d->n++];
	memset(r, 0, sizeof(*r));
	r->item = a->item;
	r->claimed_ns = a->claimed_ns;
	r->start_ns = a->start_ns;
	r->end_ns = a->end_ns;
	r->worker = worker_of(d, a->worker, a->host);
	r->group = g ? (uint32_t)(g - d->job->groups) : 0;
	r->reason = report_strings_intern(&d->names, a->reason);
	r->attempt = a->attempt;
	r->slot = a->slot < REPORT_SLOTS_MAX ? a->slot : REPORT_SLOTS_MAX - 1;
	r->exit_code = a->exit_code;
	unsigned threads = g && g->threads ? g->threads : 1;
	r->threads = (uint16_t)(threads < REPORT_SLOTS_MAX ? threads
							   : REPORT_SLOTS_MAX);
	r->end = (uint8_t)a->end;
	r->state = (uint8_t)a->state;
	r->reused = a->reused;
	return 0;
}

void report_data_set_workers(struct report_data *d,
			     const struct q_worker_info *info, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t k = report_strings_find(&d->worker_ids, info[i].id);
		if (k != REPORT_NONE && k > 0 && k - 1 < d->nw)
			d->w[k - 1].cpus = info[i].cpus;
	}
}

/* ---- summing up ---- */

bool report_attempt_span(const struct report_data *d,
			 const struct report_attempt *a, int64_t *s,
			 int64_t *e)
{
	if (a->reused || a->worker == REPORT_NONE)
		return false;
	switch ((enum q_attempt_end)a->end) {
	case Q_END_RUNNING:
		*s = a->start_ns ? a->start_ns : a->claimed_ns;
		*e = d->now_ns;
		break;
	case Q_END_LOST:
		*s = a->start_ns ? a->start_ns : a->claimed_ns;
		*e = a->end_ns;
		break;
	default:
		*s = a->start_ns;
		*e = a->end_ns;
		break;
	}
	if (*s <= 0 || *e <= 0)
		return false;
	if (*e < *s)
		*e = *s;
	return true;
}

void report_attempt_rows(const struct report_data *d,
			 const struct report_attempt *a, size_t *row,
			 size_t *nrows)
{
	const struct report_worker *w = &d->w[a->worker];
	if (d->per_worker_rows) {
		*row = w->row;
		*nrows = 1;
		return;
	}
	unsigned slot = a->slot < w->slots ? a->slot : w->slots - 1;
	unsigned n = a->threads ? a->threads : 1;
	if (slot + n > w->slots)
		n = w->slots - slot;
	*row = w->row + slot;
	*nrows = n;
}

static int by_host_then_id(const void *x, const void *y, void *ctx)
{
	const struct report_data *d = ctx;
	const struct report_worker *a = &d->w[*(const size_t *)x];
	const struct report_worker *b = &d->w[*(const size_t *)y];
	int c = strcmp(d->names.v[a->host], d->names.v[b->host]);
	return c ? c : strcmp(d->worker_ids.v[a->id], d->worker_ids.v[b->id]);
}

/* Keep the REPORT_SLOWEST longest runs, longest first. */
static void consider_slowest(struct report_data *d, size_t i)
{
	const struct report_attempt *a = &d->a[i];
	int64_t dur = a->end_ns - a->start_ns;
	size_t k = d->nslowest;
	while (k > 0) {
		const struct report_attempt *b = &d->a[d->slowest[k - 1]];
		if (b->end_ns - b->start_ns >= dur)
			break;
		k--;
	}
	if (k >= REPORT_SLOWEST)
		return;
	size_t last = d->nslowest < REPORT_SLOWEST ? d->nslowest
						    : REPORT_SLOWEST - 1;
	memmove(&d->slowest[k + 1], &d->slowest[k],
		(last - k) * sizeof(d->slowest[0]));
	d->slowest[k] = i;
	if (d->nslowest < REPORT_SLOWEST)
		d->nslowest++;
}

static void count_and_list(struct report_data *d, size_t i)
{
	const struct report_attempt *a = &d->a[i];
	if (a->reused)
		d->nreused++;
	switch ((enum q_attempt_end)a->end) {
	case Q_END_FINAL:
		if (a->state == Q_STATE_FAILED) {
			d->nfinal_failed++;
			if (d->nfailed_listed < REPORT_FAILED_MAX)
				d->failed[d->nfailed_listed++] = i;
		}
		if (!a->reused && a->start_ns > 0 && a->end_ns >= a->start_ns &&
		    (a->state == Q_STATE_DONE || a->state == Q_STATE_FAILED))
			consider_slowest(d, i);
		return;
	case Q_END_RUNNING:
		d->nrunning++;
		return;
	case Q_END_RETRY: d->nretry++; break;
	case Q_END_HANDBACK: d->nhandback++; break;
	case Q_END_LOST: d->nlost++; break;
	}
	if (d->nother_listed < REPORT_OTHER_MAX)
		d->other[d->nother_listed++] = i;
}

/* Design note 2: rows per worker, and the order workers are drawn in. */
static void lay_out_rows(struct report_data *d)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct report_attempt *a = &d->a[i];
		if (a->worker == REPORT_NONE)
			continue;
		struct report_worker *w = &d->w[a->worker];
		unsigned used = a->slot + (a->threads ? a->threads : 1);
		if (used > REPORT_SLOTS_MAX)
			used = REPORT_SLOTS_MAX;
		if (used > w->slots)
			w->slots = used;
	}
	size_t rows = 0;
	for (size_t k = 0; k < d->nw; k++) {
		struct report_worker *w = &d->w[k];
		if (w->cpus > w->slots)
			w->slots = w->cpus < REPORT_SLOTS_MAX ? w->cpus
							      : REPORT_SLOTS_MAX;
		if (w->slots == 0)
			w->slots = 1;
		rows += w->slots;
	}
	d->order = calloc(d->nw ? d->nw : 1, sizeof(*d->order));
	if (!d->order)
		abort();
	for (size_t k = 0; k < d->nw; k++)
		d->order[k] = k;
	qsort_r(d->order, d->nw, sizeof(*d->order), by_host_then_id, d);
	d->per_worker_rows = rows > REPORT_ROWS_MAX;
	d->nrows = 0;
	for (size_t k = 0; k < d->nw; k++) {
		struct report_worker *w = &d->w[d->order[k]];
		w->row = d->nrows;
		d->nrows += d->per_worker_rows ? 1 : w->slots;
	}
}

void report_data_finish(struct report_data *d, int64_t now_ns)
{
	d->now_ns = now_ns;
	d->origin_ns = 0;
	d->end_ns = 0;
	for (size_t i = 0; i < d->n; i++) {
		const struct report_attempt *a = &d->a[i];
		/* The earlier of claim and start: a clock stepped back
		 * between the two must not put a bar before time 0. */
		int64_t first = a->claimed_ns;
		if (a->start_ns > 0 && (first <= 0 || a->start_ns < first))
			first = a->start_ns;
		if (first > 0 && (d->origin_ns == 0 || first < d->origin_ns))
			d->origin_ns = first;
		if (a->end_ns > d->end_ns)
			d->end_ns = a->end_ns;
		count_and_list(d, i);
	}
	lay_out_rows(d);

	uint32_t *per_row = calloc(d->nrows ? d->nrows : 1, sizeof(*per_row));
	if (!per_row)
		abort();
	for (size_t i = 0; i < d->n; i++) {
		const struct report_attempt *a = &d->a[i];
		int64_t s, e;
		if (!report_attempt_span(d, a, &s, &e))
			continue;
		if (e > d->end_ns)
			d->end_ns = e;
		struct report_worker *w = &d->w[a->worker];
		int64_t first = a->claimed_ns ? a->claimed_ns : s;
		if (w->first_ns == 0 || first < w->first_ns)
			w->first_ns = first;
		if (e > w->last_ns)
			w->last_ns = e;
		if (a->end != Q_END_LOST) {
			w->runs++;
			w->busy_core_s += (double)(e - s) / 1e9 * a->threads;
		}
		if (a->state == Q_STATE_FAILED)
			w->failed++;
		d->ndrawn++;
		size_t row, nrows;
		report_attempt_rows(d, a, &row, &nrows);
		for (size_t r = row; r < row + nrows; r++)
			if (++per_row[r] > d->max_row)
				d->max_row = per_row[r];
	}
	free(per_row);
	if (d->end_ns < d->origin_ns)
		d->end_ns = d->origin_ns;
	d->aggregate = d->per_worker_rows || d->ndrawn > REPORT_DETAIL_MAX ||
		       d->max_row > REPORT_ROW_DETAIL_MAX;
}
