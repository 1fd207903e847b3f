/*
 * dot.c: a job's task graph as Graphviz DOT (qstatus JOB --dot), the
 * `.visualize()` of spoolq.
 *
 * Design notes
 * 1. One node per group (task definition), never one per item: an array
 *    of a million items is one node "name [1000000]", so the graph is as
 *    small as the job's spec and Graphviz can lay it out.
 * 2. Every id and label is a quoted DOT string, escaped by dot_str alone:
 *    names may hold '.', '+' and '-', which bare DOT ids cannot. Groups of
 *    this job are named by their names; groups of earlier jobs by
 *    "<job>:<name>", which cannot clash with them (names have no ':').
 * 3. Edges: for each dependency, one edge from every group its item range
 *    touches (a range may cover several groups, or part of one: then the
 *    edge is labelled with the array indices). An element-wise dependency
 *    is labelled "each". Dependencies on earlier jobs come from dashed
 *    nodes by dashed edges labelled "job <id>"; each such node is written
 *    once however many edges leave it.
 * 4. A node's fill is its group's state; a group in several states lists
 *    the count of each and takes the colour of the most pressing one:
 *    failed > running > ready > waiting > cancelled > done (cancelled
 *    ranks below every unfinished state: it is final, like done, but is
 *    not success). Counts come from q_job_group_counts: one scan of the
 *    job's state directories, records read only where not known done.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Fill colours (X11 names Graphviz knows), by enum q_state. */
static const char *const state_fill[] = {
	[Q_STATE_WAITING] = "white",      [Q_STATE_READY] = "lightblue",
	[Q_STATE_RUNNING] = "orange",     [Q_STATE_DONE] = "palegreen",
	[Q_STATE_FAILED] = "tomato",      [Q_STATE_CANCELLED] = "lightgrey",
};


/* A quoted DOT string: '"' and '\' escaped, a newline as the label
 * escape \n, other control characters as spaces (design note 2). */
static void dot_str(FILE *out, const char *s)
{
	putc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", out);
		else if (ch < 0x20 || ch == 0x7f)
			putc(' ', out);
		else
			putc(ch, out);
	}
	putc('"', out);
}

/* "name" or "name [count]" for a group. */
static void group_title(struct q_buf *b, const struct q_group *g)
{
	q__buf_addstr(b, g->name);
	if (g->array || g->count > 1)
		q__buf_printf(b, " [%llu]", (unsigned long long)g->count);
}

/* The label's count line and the fill colour (design note 4). */
static const char *describe_state(struct q_buf *b, const struct q_counts *c)
{
	int states = 0;
	for (int s = Q_STATE_WAITING; s <= Q_STATE_CANCELLED; s++)
		states += q_counts_in(c, (enum q_state)s) > 0;
	if (states > 1) {
		const char *sep = "\n";
		for (int s = Q_STATE_WAITING; s <= Q_STATE_CANCELLED; s++) {
			uint64_t n = q_counts_in(c, (enum q_state)s);
			if (!n)
				continue;
			q__buf_printf(b, "%s%llu %s", sep, (unsigned long long)n,
				      q_state_name((enum q_state)s));
			sep = ", ";
		}
	}
	/* Design note 4: the most pressing state's colour. */
	return state_fill[q_counts_pressing(c)];
}

/* An earlier job's handle and per-group counts, looked up once. */
struct ext_job {
	uint64_t id;
	struct q_jobh *h;           /* NULL when it cannot be loaded */
	struct q_counts *counts;    /* per group, or NULL */
	bool *written;              /* per group: node already written */
	bool written_unknown;       /* the "job <id>" fallback node */
};

struct dot {
	FILE *out;
	struct q_jobcache *cache;
	struct ext_job *ext;
	size_t next, cap;
};

static struct ext_job *ext_job(struct dot *d, uint64_t id)
{
	for (size_t i = 0; i < d->next; i++)
		if (d->ext[i].id == id)
			return &d->ext[i];
	q__grow(&d->ext, &d->cap, d->next + 1, sizeof(*d->ext));
	struct ext_job *e = &d->ext[d->next++];
	memset(e, 0, sizeof(*e));
	e->id = id;
	if (!d->cache)
		return e;
	/* A job that cannot be read is drawn as "job <id>", not an error:
	 * the graph of this job is still worth showing. */
	struct q_error ignored = Q_ERROR_INIT;
	e->h = q_jobcache_get(d->cache, id, &ignored);
	if (!e->h)
		return e;
	size_t ng = q_jobh_job(e->h)->ngroups;
	e->written = q__calloc(ng, sizeof(*e->written));
	e->counts = q__calloc(ng, sizeof(*e->counts));
	if (q_job_group_counts(e->h, e->counts, &ignored) < 0) {
		free(e->counts);
		e->counts = NULL;
	}
	return e;
}

static void node(struct dot *d, const char *id, const char *label,
		 const char *fill, bool dashed)
{
	fputs("  ", d->out);
	dot_str(d->out, id);
	fputs(" [label=", d->out);
	dot_str(d->out, label);
	fprintf(d->out, ", fillcolor=\"%s\"%s];\n", fill,
		dashed ? ", style=\"rounded,filled,dashed\"" : "");
}

static void edge(struct dot *d, const char *from, const char *to,
		 const char *label, bool dashed)
{
	fputs("  ", d->out);
	dot_str(d->out, from);
	fputs(" -> ", d->out);
	dot_str(d->out, to);
	if (label || dashed) {
		const char *sep = "";
		fputs(" [", d->out);
		if (dashed) {
			fputs("style=dashed", d->out);
			sep = ", ";
		}
		if (label) {
			fprintf(d->out, "%slabel=", sep);
			dot_str(d->out, label);
		}
		putc(']', d->out);
	}
	fputs(";\n", d->out);
}

/* The array indices of items [lo, hi] of group g: "[a]" or "[a-b]". */
static void index_range(struct q_buf *b, const struct q_job *job,
			uint64_t lo, uint64_t hi)
{
	long long a = (long long)q_job_index_of(job, lo);
	long long z = (long long)q_job_index_of(job, hi);
	if (a == z)
		q__buf_printf(b, "[%lld]", a);
	else
		q__buf_printf(b, "[%lld-%lld]", a, z);
}

/*
 * The edges of dependency `a` of group `to` whose items are in `src` (this
 * job, or an earlier one when `ext` is set): one per group of src the
 * range touches (design note 3).
 */
static void dep_edges(struct dot *d, const struct q_job *src,
		      struct ext_job *ext, const struct q_after *a,
		      const char *to)
{
	uint64_t first = a->first, last = a->first + a->count - 1;
	struct q_buf id = Q_BUF_INIT, label = Q_BUF_INIT;

	for (size_t k = 0; k < src->ngroups; k++) {
		const struct q_group *g = &src->groups[k];
		if (g->count == 0 || first > g->first + g->count - 1 ||
		    last < g->first)
			continue;
		uint64_t lo = first > g->first ? first : g->first;
		uint64_t hi = last < g->first + g->count - 1
				      ? last
				      : g->first + g->count - 1;
		q__buf_reset(&id);
		q__buf_reset(&label);
		if (ext) {
			q__buf_printf(&id, "%llu:%s", (unsigned long long)ext->id,
				      g->name);
			if (!ext->written[k]) {
				struct q_buf nl = Q_BUF_INIT;
				group_title(&nl, g);
				q__buf_printf(&nl, "\njob %llu",
					      (unsigned long long)ext->id);
				const char *fill =
					ext->counts
						? describe_state(&nl,
								 &ext->counts[k])
						: state_fill[Q_STATE_WAITING];
				node(d, id.data, nl.data, fill, true);
				q__buf_release(&nl);
				ext->written[k] = true;
			}
			q__buf_printf(&label, "job %llu",
				      (unsigned long long)ext->id);
		} else {
			q__buf_addstr(&id, g->name);
		}
		if (a->mode != Q_AFTER_ALL) {
			q__buf_addstr(&label, label.len ? " " : "");
			q__buf_addstr(&label, "each");
		} else if (lo != g->first || hi != g->first + g->count - 1) {
			q__buf_addstr(&label, label.len ? " " : "");
			index_range(&label, src, lo, hi);
		}
		edge(d, id.data, to, label.len ? label.data : NULL, ext != NULL);
	}
	q__buf_release(&id);
	q__buf_release(&label);
}

int q_job_write_dot(struct q_jobh *h, struct q_jobcache *cache, FILE *out,
		    struct q_error *err)
{
	const struct q_job *job = q_jobh_job(h);
	struct q_counts *counts = q__calloc(job->ngroups ? job->ngroups : 1,
					    sizeof(*counts));
	struct dot d = { out, cache, NULL, 0, 0 };
	struct q_buf b = Q_BUF_INIT;
	int ret;

	if ((ret = q_job_group_counts(h, counts, err)) < 0)
		goto out;
	q__buf_printf(&b, "job %llu: %s", (unsigned long long)job->id,
		      job->name);
	fputs("digraph ", out);
	dot_str(out, b.data);
	fputs(" {\n  label=", out);
	dot_str(out, b.data);
	fputs(";\n  labelloc=t;\n"
	      "  node [shape=box, style=\"rounded,filled\", "
	      "fontname=\"Helvetica\"];\n"
	      "  edge [fontname=\"Helvetica\", fontsize=10];\n", out);
	for (size_t k = 0; k < job->ngroups; k++) {
		const struct q_group *g = &job->groups[k];
		q__buf_reset(&b);
		group_title(&b, g);
		const char *fill = describe_state(&b, &counts[k]);
		node(&d, g->name, b.data, fill, false);
	}
	for (size_t k = 0; k < job->ngroups; k++) {
		const struct q_group *g = &job->groups[k];
		for (size_t j = 0; j < g->nafter; j++) {
			const struct q_after *a = &g->after[j];
			if (a->count == 0)
				continue;
			if (a->job == 0 || a->job == job->id) {
				dep_edges(&d, job, NULL, a, g->name);
				continue;
			}
			struct ext_job *e = ext_job(&d, a->job);
			if (e->h) {
				dep_edges(&d, q_jobh_job(e->h), e, a, g->name);
				continue;
			}
			/* Unreadable earlier job: one node for it. */
			q__buf_reset(&b);
			q__buf_printf(&b, "job %llu", (unsigned long long)a->job);
			if (!e->written_unknown) {
				node(&d, b.data, b.data,
				     state_fill[Q_STATE_WAITING], true);
				e->written_unknown = true;
			}
			edge(&d, b.data, g->name, b.data, true);
		}
	}
	fputs("}\n", out);
	int e = fflush(out) != 0 ? errno : 0;
	if (e || ferror(out))
		ret = q_error_set(err, Q_ERR_SYSTEM, e ? e : EIO,
				  "cannot write the graph of job %llu",
				  (unsigned long long)job->id);
out:
	for (size_t i = 0; i < d.next; i++) {
		free(d.ext[i].counts);
		free(d.ext[i].written);
	}
	free(d.ext);
	q__buf_release(&b);
	free(counts);
	return ret;
}
