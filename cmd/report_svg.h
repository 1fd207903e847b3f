/*
 * report_svg.h: the report's time pictures, as inline SVG: the task
 * stream (a Gantt chart, one row per worker and core slot) and the
 * progress over time, on the same time axis (docs/report.md).
 */
#ifndef SPOOLQ_REPORT_SVG_H
#define SPOOLQ_REPORT_SVG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "report_data.h"

/* Geometry shared by the two pictures, so their time axes line up. */
#define REPORT_LEFT 210      /* room for the row labels */
#define REPORT_PLOT_W 1000   /* the time axis, in px */
#define REPORT_BIN_PX 2      /* an aggregated bin's width, at least */
#define REPORT_CELLS_MAX 150000  /* rows x bins, at most (about) */
#define REPORT_KEYS 64       /* groups told apart in a bin (the rest
				share the last key) */
#define REPORT_PALETTE 12    /* colours g0..g11 (report_html.c) */

/* <svg id="gantt">: a bar per attempt, or time bins when d->aggregate. */
void report_svg_gantt(FILE *out, const struct report_data *d);
/* <svg id="progress">: tasks finished (and failed) over time. */
void report_svg_progress(FILE *out, const struct report_data *d);
/* A swatch's class for group g: "g0".."g11", "gx" for other groups
 * folded into the last key. */
void report_svg_group_class(char *out, size_t size, uint32_t group);

/* ---- the pieces, exposed for the unit tests ---- */

/* Bins per row when aggregating `nrows` rows: REPORT_PLOT_W /
 * REPORT_BIN_PX, fewer when there are so many rows that rows x bins
 * would pass REPORT_CELLS_MAX, but never under 50. */
size_t report_svg_nbins(size_t nrows);

/* A round step (1, 2 or 5 times a power of ten) that cuts `span` into
 * about `target` parts. */
double report_nice_step(double span, int target);

/* One attempt's share of a row, for binning. */
struct report_span {
	int64_t start, end;   /* ns */
	float weight;         /* 1 for a slot row; threads/slots for a
				 worker's row */
	uint32_t key;         /* group, < REPORT_KEYS */
	uint8_t marks;        /* REPORT_MARK_* */
};

#define REPORT_MARK_FAILED 1  /* a failure that counts */
#define REPORT_MARK_OTHER 2   /* retried, handed back or lost */

struct report_bin {
	float busy;           /* fraction of the bin's time, 0..1 */
	uint32_t key;         /* the key with the most busy time, or
				 REPORT_NONE when idle */
	uint8_t marks;
};

/*
 * Spread spans over nbins equal bins of [t0, t1): each bin's busy
 * fraction (capped at 1), its dominant key, and the OR of the marks of
 * the spans touching it. `votes` is scratch of nbins * REPORT_KEYS.
 */
void report_bin_row(const struct report_span *spans, size_t n, int64_t t0,
		    int64_t t1, size_t nbins, struct report_bin *bins,
		    float *votes);

/*
 * counts[x] for x in 0..width: how many of the sorted times ts[0..n) are
 * at or before t0 + x * (t1 - t0) / width (the last column: all of them
 * up to t1).
 */
void report_progress_counts(const int64_t *ts, size_t n, int64_t t0,
			    int64_t t1, size_t width, uint64_t *counts);

#endif
