/*
 * test_report_graph.c: the task graph the report draws itself
 * (cmd/report_graph.c): edges as --dot has them, layers by dependency
 * depth, wrapping, and the SVG.
 */
#include "report_graph.h"
#include "report_helpers.h"

static bool has_edge(const struct report_graph *g, uint32_t from,
		     uint32_t to, bool each)
{
	for (size_t i = 0; i < g->nedge; i++)
		if (g->edge[i].from == from && g->edge[i].to == to)
			return g->edge[i].each == each;
	return false;
}

/* prep 0; sample 1..6; total 7 (after sample); sq 8..13 (each sample);
 * last 14 (after total and sq, and job 7). */
static struct q_job *diamond(void)
{
	struct q_job *job = q_job_new("diamond");
	rgroup(job, "prep", 1, 1);
	struct q_group *g = rgroup(job, "sample", 6, 1);
	rafter(g, 0, 0, 1, Q_AFTER_ALL);
	g = rgroup(job, "total", 1, 1);
	rafter(g, 0, 1, 6, Q_AFTER_ALL);
	g = rgroup(job, "sq", 6, 1);
	rafter(g, 0, 1, 6, Q_AFTER_EACH);
	g = rgroup(job, "last", 1, 1);
	rafter(g, 0, 7, 7, Q_AFTER_ALL);   /* total and sq in one range */
	rafter(g, 7, 0, 3, Q_AFTER_ALL);
	rafter(g, 7, 5, 1, Q_AFTER_ALL);   /* the same earlier job again */
	job->id = 9;
	rfinalize(job);
	return job;
}

Test(report_graph, edges_and_depths)
{
	struct q_job *job = diamond();
	struct report_graph g;
	report_graph_build(&g, job);
	cr_assert_eq(g.nnode, 6, "5 groups and one node for job 7");
	cr_assert_eq(g.node[5].group, REPORT_NONE);
	cr_assert_eq(g.node[5].ext_job, 7);
	cr_assert_eq(g.nedge, 6);
	cr_assert(has_edge(&g, 0, 1, false));
	cr_assert(has_edge(&g, 1, 2, false));
	cr_assert(has_edge(&g, 1, 3, true));
	cr_assert(has_edge(&g, 2, 4, false));
	cr_assert(has_edge(&g, 3, 4, false));
	cr_assert(has_edge(&g, 5, 4, false));
	unsigned depth[6] = { 0, 1, 2, 2, 3, 0 };
	for (size_t i = 0; i < 6; i++)
		cr_assert_eq(g.node[i].depth, depth[i], "node %zu", i);
	cr_assert_eq(g.depth, 3);
	/* Layers go down; a layer's nodes sit side by side. */
	cr_assert_lt(g.node[0].y, g.node[1].y);
	cr_assert_lt(g.node[1].y, g.node[2].y);
	cr_assert_eq(g.node[2].y, g.node[3].y);
	cr_assert_neq(g.node[2].x, g.node[3].x);
	cr_assert_eq(g.node[0].y, g.node[5].y);
	cr_assert_lt(g.node[3].y, g.node[4].y);
	for (size_t i = 0; i < 6; i++) {
		cr_assert_leq(g.node[i].x + 180, g.width);
		cr_assert_leq(g.node[i].y + 44, g.height);
	}
	report_graph_release(&g);
	q_job_release(job);
}

Test(report_graph, wide_layers_wrap)
{
	struct q_job *job = q_job_new("wide");
	char name[16];
	for (int i = 0; i < 3 * REPORT_GRAPH_PER_ROW + 1; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		rgroup(job, name, 1, 1);
	}
	rfinalize(job);
	struct report_graph g;
	report_graph_build(&g, job);
	cr_assert_eq(g.nedge, 0);
	double maxx = 0;
	int rows = 0;
	double lasty = -1;
	for (size_t i = 0; i < g.nnode; i++) {
		if (g.node[i].x > maxx)
			maxx = g.node[i].x;
		if (g.node[i].y != lasty)
			rows++, lasty = g.node[i].y;
	}
	cr_assert_eq(rows, 4);
	cr_assert_lt(g.width, (REPORT_GRAPH_PER_ROW + 1) * 210.0);
	report_graph_release(&g);
	q_job_release(job);
}

Test(report_graph, svg_nodes_coloured_by_state)
{
	struct q_job *job = diamond();
	struct report_graph g;
	report_graph_build(&g, job);
	struct q_counts c[5] = { 0 };
	c[0].done = c[0].total = 1;
	c[1].done = 5, c[1].failed = 1, c[1].total = 6;
	c[2].cancelled = c[2].total = 1;
	c[3].running = 2, c[3].waiting = 4, c[3].total = 6;
	c[4].waiting = c[4].total = 1;
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	report_graph_svg(f, &g, job, c);
	cr_assert_eq(fclose(f), 0);
	cr_assert(strncmp(text, "<svg id=\"graph\"", 15) == 0);
	cr_assert_eq(occurrences(text, "<g class=\"node\">"), 5);
	cr_assert_eq(occurrences(text, "<g class=\"node ext\">"), 1);
	cr_assert_eq(occurrences(text, "class=\"edge"), 6);
	cr_assert_eq(occurrences(text, ">each</text>"), 1);
	cr_assert(strstr(text, "class=\"s-done\"/><text"));
	cr_assert(strstr(text, "class=\"s-failed\"/><text"));
	cr_assert(strstr(text, "sample [6]: 5 done, 1 failed</title>"));
	cr_assert(strstr(text, "class=\"s-cancelled\""));
	cr_assert(strstr(text, "class=\"s-running\""));
	cr_assert(strstr(text, "class=\"s-waiting\""));
	cr_assert(strstr(text, ">job 7</text>"));
	free(text);
	report_graph_release(&g);
	q_job_release(job);
}
