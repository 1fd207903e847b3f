/*
 * report_graph.h: the job's task graph drawn as SVG by spoolq itself (no
 * Graphviz needed to read a report): the same graph as qstatus --dot,
 * one node per group (an array folded into "name [count]"), coloured by
 * state, one edge per dependency between groups, a dashed node per
 * earlier job depended on; laid out in layers by dependency depth.
 *
 *   struct report_graph g;
 *   report_graph_build(&g, job);
 *   report_graph_svg(out, &g, job, group_counts);
 *   report_graph_release(&g);
 */
#ifndef SPOOLQ_REPORT_GRAPH_H
#define SPOOLQ_REPORT_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <spoolq/spoolq.h>

#include "report_data.h"   /* REPORT_NONE */

#define REPORT_GRAPH_PER_ROW 8   /* nodes side by side before a layer
				    wraps onto another row */

struct report_gnode {
	uint32_t group;      /* index into job->groups, or REPORT_NONE */
	uint64_t ext_job;    /* REPORT_NONE group: the earlier job's id */
	unsigned depth;      /* 0: depends on nothing in this job */
	double x, y;         /* top-left corner */
};

struct report_gedge {
	uint32_t from, to;   /* node indices */
	bool each;           /* element-wise (after mode each or map) */
};

struct report_graph {
	struct report_gnode *node;   /* the groups first, in group order */
	size_t nnode, capnode;
	struct report_gedge *edge;
	size_t nedge, capedge;
	unsigned depth;              /* layers: 0..depth */
	double width, height;
};

/* Nodes, edges (each pair once), depths and positions. */
void report_graph_build(struct report_graph *g, const struct q_job *job);
void report_graph_release(struct report_graph *g);

/* <svg id="graph">; counts: per group (q_job_group_counts), or NULL. */
void report_graph_svg(FILE *out, const struct report_graph *g,
		      const struct q_job *job, const struct q_counts *counts);

#endif
