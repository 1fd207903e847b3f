/*
 * report_graph.c: the job's task graph as SVG (report_graph.h).
 *
 * Design notes
 * 1. The graph's structure is libq/dot.c's: a node per group, an edge
 *    from every group a dependency's item range touches, a node per
 *    earlier job (here one per job, not per group of it: the report is
 *    about this job, and reading the earlier one costs a load).
 * 2. Layout: a node's layer is its dependency depth (the longest path
 *    from a node with no dependency in this job), by relaxing the edges
 *    until nothing changes (at most one pass per node: workflows have no
 *    cycles, and a damaged job cannot make it loop). Within a layer,
 *    nodes are ordered by the mean position of their sources (one
 *    top-down barycentre pass: enough to untangle the usual fan-out,
 *    fan-in and chains), and a layer wider than REPORT_GRAPH_PER_ROW
 *    wraps, so a job of hundreds of groups stays a page wide.
 * 3. A node's fill is the state of its group, as --dot has it: the most
 *    pressing of failed > running > ready > waiting > cancelled > done.
 */
#include <stdlib.h>
#include <string.h>

#include "report_graph.h"
#include "report_html.h"

#define NODE_W 180
#define NODE_H 44
#define GAP_X 24
#define GAP_Y 56
#define MARGIN 16

static uint32_t add_node(struct report_graph *g, uint32_t group,
			 uint64_t ext_job)
{
	report_grow(&g->node, &g->capnode, g->nnode + 1, sizeof(*g->node));
	struct report_gnode *n = &g->node[g->nnode];
	memset(n, 0, sizeof(*n));
	n->group = group;
	n->ext_job = ext_job;
	return (uint32_t)g->nnode++;
}

static void add_edge(struct report_graph *g, uint32_t from, uint32_t to,
		     bool each)
{
	if (from == to)
		return;
	for (size_t i = 0; i < g->nedge; i++)
		if (g->edge[i].from == from && g->edge[i].to == to) {
			g->edge[i].each = g->edge[i].each && each;
			return;
		}
	report_grow(&g->edge, &g->capedge, g->nedge + 1, sizeof(*g->edge));
	g->edge[g->nedge++] = (struct report_gedge){ from, to, each };
}

static uint32_t ext_node(struct report_graph *g, size_t ngroups,
			 uint64_t job)
{
	for (size_t i = ngroups; i < g->nnode; i++)
		if (g->node[i].ext_job == job)
			return (uint32_t)i;
	return add_node(g, REPORT_NONE, job);
}

/* Design note 1. */
static void build_edges(struct report_graph *g, const struct q_job *job)
{
	for (size_t t = 0; t < job->ngroups; t++) {
		const struct q_group *to = &job->groups[t];
		for (size_t j = 0; j < to->nafter; j++) {
			const struct q_after *a = &to->after[j];
			bool each = a->mode != Q_AFTER_ALL;
			if (a->count == 0)
				continue;
			if (a->job != 0 && a->job != job->id) {
				add_edge(g, ext_node(g, job->ngroups, a->job),
					 (uint32_t)t, each);
				continue;
			}
			uint64_t last = a->first + a->count - 1;
			for (size_t k = 0; k < job->ngroups; k++) {
				const struct q_group *src = &job->groups[k];
				if (src->count == 0 || a->first >
				    src->first + src->count - 1 ||
				    last < src->first)
					continue;
				add_edge(g, (uint32_t)k, (uint32_t)t, each);
			}
		}
	}
}

/* Design note 2: depths. */
static void assign_depths(struct report_graph *g)
{
	bool changed = true;
	for (size_t pass = 0; changed && pass <= g->nnode; pass++) {
		changed = false;
		for (size_t i = 0; i < g->nedge; i++) {
			struct report_gnode *from = &g->node[g->edge[i].from];
			struct report_gnode *to = &g->node[g->edge[i].to];
			if (to->depth < from->depth + 1 &&
			    from->depth + 1 <= g->nnode) {
				to->depth = from->depth + 1;
				changed = true;
			}
		}
	}
	g->depth = 0;
	for (size_t i = 0; i < g->nnode; i++)
		if (g->node[i].depth > g->depth)
			g->depth = g->node[i].depth;
}

struct ranked {
	uint32_t node;
	double key;
};

static int by_key(const void *x, const void *y)
{
	const struct ranked *a = x, *b = y;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return a->node < b->node ? -1 : a->node > b->node;
}

/* Design note 2: order within layers, wrap, place. */
static void place(struct report_graph *g)
{
	struct ranked *layer = calloc(g->nnode ? g->nnode : 1, sizeof(*layer));
	double *pos = calloc(g->nnode ? g->nnode : 1, sizeof(*pos));
	if (!layer || !pos)
		abort();
	double y = MARGIN, widest = 0;
	for (unsigned dep = 0; dep <= g->depth; dep++) {
		size_t n = 0;
		for (size_t i = 0; i < g->nnode; i++) {
			if (g->node[i].depth != dep)
				continue;
			double sum = 0;
			size_t m = 0;
			for (size_t e = 0; e < g->nedge; e++)
				if (g->edge[e].to == i &&
				    g->node[g->edge[e].from].depth < dep) {
					sum += pos[g->edge[e].from];
					m++;
				}
			layer[n].node = (uint32_t)i;
			layer[n].key = m ? sum / (double)m : (double)i;
			n++;
		}
		if (dep > 0)
			qsort(layer, n, sizeof(*layer), by_key);
		for (size_t k = 0; k < n; k++) {
			size_t col = k % REPORT_GRAPH_PER_ROW;
			if (k > 0 && col == 0)
				y += NODE_H + GAP_Y / 2;
			struct report_gnode *node = &g->node[layer[k].node];
			node->x = MARGIN + (double)col * (NODE_W + GAP_X);
			node->y = y;
			pos[layer[k].node] = (double)k;
			double right = node->x + NODE_W + MARGIN;
			if (right > widest)
				widest = right;
		}
		if (n)
			y += NODE_H + GAP_Y;
	}
	g->width = widest > 200 ? widest : 200;
	g->height = y - GAP_Y + MARGIN;
	if (g->height < 60)
		g->height = 60;
	free(pos);
	free(layer);
}

void report_graph_build(struct report_graph *g, const struct q_job *job)
{
	memset(g, 0, sizeof(*g));
	for (size_t k = 0; k < job->ngroups; k++)
		add_node(g, (uint32_t)k, 0);
	build_edges(g, job);
	assign_depths(g);
	place(g);
}

void report_graph_release(struct report_graph *g)
{
	free(g->node);
	free(g->edge);
	memset(g, 0, sizeof(*g));
}

/* ---- drawing ---- */


/* "3 done, 1 failed" */
static void state_line(FILE *out, const struct q_counts *c)
{
	const char *sep = "";
	for (int s = Q_STATE_WAITING; s <= Q_STATE_CANCELLED; s++) {
		uint64_t n = q_counts_in(c, (enum q_state)s);
		if (!n)
			continue;
		fprintf(out, "%s%llu %s", sep, (unsigned long long)n,
			q_state_name((enum q_state)s));
		sep = ", ";
	}
}

static void group_title(FILE *out, const struct q_group *gr, size_t max)
{
	size_t len = strlen(gr->name);
	size_t cut = len > max ? report_utf8_cut(gr->name, max - 1) : len;
	report_html_escape(out, gr->name, cut);
	if (cut < len)
		fputs("\xe2\x80\xa6", out);
	if (gr->array || gr->count > 1)
		fprintf(out, " [%llu]", (unsigned long long)gr->count);
}

static void draw_node(FILE *out, const struct report_gnode *n,
		      const struct q_job *job, const struct q_counts *counts)
{
	double cx = n->x + NODE_W / 2.0;
	if (n->group == REPORT_NONE) {
		fprintf(out, "<g class=\"node ext\"><title>job %llu, an earlier "
			"job this one depends on</title><rect x=\"%.1f\" "
			"y=\"%.1f\" width=\"%d\" height=\"%d\" rx=\"6\" "
			"class=\"s-waiting\"/><text x=\"%.1f\" y=\"%.1f\" "
			"text-anchor=\"middle\">job %llu</text></g>\n",
			(unsigned long long)n->ext_job, n->x, n->y, NODE_W,
			NODE_H, cx, n->y + NODE_H / 2.0 + 4,
			(unsigned long long)n->ext_job);
		return;
	}
	const struct q_group *gr = &job->groups[n->group];
	const struct q_counts *c = counts ? &counts[n->group] : NULL;
	/* Design note 3: the most pressing state's colour. */
	enum q_state shown = c ? q_counts_pressing(c) : Q_STATE_WAITING;
	fputs("<g class=\"node\"><title>", out);
	group_title(out, gr, 1000);
	if (c) {
		fputs(": ", out);
		state_line(out, c);
	}
	fprintf(out, "</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" "
		"height=\"%d\" rx=\"6\" class=\"s-%s\"/>"
		"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
		"font-weight=\"bold\">", n->x, n->y, NODE_W, NODE_H,
		q_state_name(shown), cx,
		n->y + 18);
	group_title(out, gr, 22);
	fputs("</text>", out);
	if (c) {
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" "
			"text-anchor=\"middle\">", cx, n->y + 35);
		state_line(out, c);
		fputs("</text>", out);
	}
	fputs("</g>\n", out);
}

void report_graph_svg(FILE *out, const struct report_graph *g,
		      const struct q_job *job, const struct q_counts *counts)
{
	fprintf(out, "<svg id=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" "
		"width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n"
		"<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" "
		"refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
		"orient=\"auto\"><path d=\"M0 0L10 5L0 10z\" fill=\"#777\"/>"
		"</marker></defs>\n", g->width, g->height, g->width, g->height);
	for (size_t i = 0; i < g->nedge; i++) {
		const struct report_gnode *a = &g->node[g->edge[i].from];
		const struct report_gnode *b = &g->node[g->edge[i].to];
		double x1 = a->x + NODE_W / 2.0, y1 = a->y + NODE_H;
		double x2 = b->x + NODE_W / 2.0, y2 = b->y;
		double dy = (y2 - y1) / 2;
		fprintf(out, "<path class=\"edge%s\" marker-end=\"url(#arrow)\" "
			"d=\"M%.1f %.1fC%.1f %.1f %.1f %.1f %.1f %.1f\"/>\n",
			a->group == REPORT_NONE ? " ext" : "", x1, y1, x1,
			y1 + dy, x2, y2 - dy, x2, y2);
		if (g->edge[i].each)
			fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" "
				"fill=\"#555\">each</text>\n",
				(x1 + x2) / 2 + 4, (y1 + y2) / 2);
	}
	for (size_t i = 0; i < g->nnode; i++)
		draw_node(out, &g->node[i], job, counts);
	fputs("</svg>\n", out);
}
