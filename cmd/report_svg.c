/*
 * report_svg.c: the task stream and the progress, drawn as SVG
 * (report_svg.h).
 *
 * Design notes
 * 1. Both pictures share one time axis: x = REPORT_LEFT + (t - t0) /
 *    (t1 - t0) * REPORT_PLOT_W, t0 the job's first claim, t1 its last
 *    end (report_data.c, design note 3).
 * 2. Detail: a <rect> per attempt, at least 1.5 px wide so that a
 *    short task stays visible, with a <title> (the browser's tooltip),
 *    coloured by its group through a class (g0..g11; the style
 *    sheet holds the colours, so a bar costs ~150 bytes). Failures are
 *    outlined red, retried and handed-back attempts dashed and pale, lost
 *    ones hatched, running ones outlined orange.
 * 3. Aggregate (report_data.aggregate): when bars would be narrower than
 *    a pixel, each row is cut into time bins (REPORT_BIN_PX wide, wider
 *    when rows are so many that rows x bins would pass
 *    REPORT_CELLS_MAX) holding
 *    the busy fraction (as opacity, in 5 steps) and the dominant group
 *    (as colour); neighbouring bins alike are one <rect>, so a row
 *    that is always busy with one group is one element however many
 *    tasks it ran. Bins holding a failure get a red tick on top, bins
 *    holding a retried, handed-back or lost attempt a grey one below.
 *    Size is then bounded by rows x bins, not by tasks.
 * 4. Coordinates are written with one decimal (two for widths): enough
 *    for a screen, and a third of the bytes of %g.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report_html.h"
#include "report_svg.h"

#define TOP 24          /* room for the time labels */
#define PROGRESS_H 200

/* ---- pure pieces ---- */

double report_nice_step(double span, int target)
{
	if (!(span > 0) || target < 1)
		return 1;
	double raw = span / target;
	double mag = pow(10, floor(log10(raw)));
	double norm = raw / mag;
	double f = norm < 1.5 ? 1 : norm < 3.5 ? 2 : norm < 7.5 ? 5 : 10;
	return f * mag;
}

void report_bin_row(const struct report_span *spans, size_t n, int64_t t0,
		    int64_t t1, size_t nbins, struct report_bin *bins,
		    float *votes)
{
	memset(bins, 0, nbins * sizeof(*bins));
	memset(votes, 0, nbins * REPORT_KEYS * sizeof(*votes));
	if (t1 <= t0 || nbins == 0)
		return;
	double width = (double)(t1 - t0) / (double)nbins;
	for (size_t i = 0; i < n; i++) {
		const struct report_span *sp = &spans[i];
		double s = (double)(sp->start - t0), e = (double)(sp->end - t0);
		if (e < 0 || s > (double)(t1 - t0))
			continue;
		if (s < 0)
			s = 0;
		if (e > (double)(t1 - t0))
			e = (double)(t1 - t0);
		size_t b0 = (size_t)(s / width), b1 = (size_t)(e / width);
		if (b0 >= nbins)
			b0 = nbins - 1;
		if (b1 >= nbins)
			b1 = nbins - 1;
		uint32_t key = sp->key < REPORT_KEYS ? sp->key : REPORT_KEYS - 1;
		for (size_t b = b0; b <= b1; b++) {
			double lo = (double)b * width, hi = lo + width;
			double part = (e < hi ? e : hi) - (s > lo ? s : lo);
			if (part < 0)
				part = 0;
			float share = (float)(part / width) * sp->weight;
			bins[b].busy += share;
			votes[b * REPORT_KEYS + key] += share;
			bins[b].marks |= sp->marks;
		}
	}
	for (size_t b = 0; b < nbins; b++) {
		if (bins[b].busy > 1)
			bins[b].busy = 1;
		bins[b].key = REPORT_NONE;
		float best = 0;
		for (uint32_t k = 0; k < REPORT_KEYS; k++)
			if (votes[b * REPORT_KEYS + k] > best) {
				best = votes[b * REPORT_KEYS + k];
				bins[b].key = k;
			}
	}
}

void report_progress_counts(const int64_t *ts, size_t n, int64_t t0,
			    int64_t t1, size_t width, uint64_t *counts)
{
	size_t j = 0;
	for (size_t x = 0; x <= width; x++) {
		int64_t tx = x == width || width == 0
				     ? t1
				     : t0 + (int64_t)((double)(t1 - t0) *
						      (double)x / (double)width);
		while (j < n && ts[j] <= tx)
			j++;
		counts[x] = j;
	}
}

size_t report_svg_nbins(size_t nrows)
{
	size_t most = REPORT_PLOT_W / REPORT_BIN_PX;
	size_t fit = nrows ? REPORT_CELLS_MAX / nrows : most;
	return fit > most ? most : fit < 50 ? 50 : fit;
}

void report_svg_group_class(char *out, size_t size, uint32_t group)
{
	if (group >= REPORT_KEYS - 1)
		snprintf(out, size, "gx");
	else
		snprintf(out, size, "g%u", group % REPORT_PALETTE);
}

/* ---- the frame ---- */

struct frame {
	int64_t t0, t1;
	double rh;        /* row height */
};

static void frame_of(const struct report_data *d, struct frame *f)
{
	f->t0 = d->origin_ns;
	f->t1 = d->end_ns > d->origin_ns ? d->end_ns : d->origin_ns + 1000000000;
	double rows = d->nrows ? (double)d->nrows : 1;
	f->rh = floor(1600 / rows);
	if (f->rh > 16)
		f->rh = 16;
	if (f->rh < 2)
		f->rh = 2;
}

static double xof(const struct frame *f, int64_t t)
{
	return REPORT_LEFT +
	       (double)(t - f->t0) / (double)(f->t1 - f->t0) * REPORT_PLOT_W;
}

/* Seconds as the axis shows them: "90 s", "1.5 min", "2 h". */
static void axis_label(char *out, size_t size, double s, double unit,
		       const char *name)
{
	snprintf(out, size, "%g %s", round(s / unit * 1000) / 1000, name);
}

/* Vertical grid lines and their labels above y0. */
static void time_axis(FILE *out, const struct frame *f, double y0, double y1)
{
	double span = (double)(f->t1 - f->t0) / 1e9;
	double unit = span >= 7200 ? 3600 : span >= 600 ? 60 : 1;
	const char *name = unit == 3600 ? "h" : unit == 60 ? "min" : "s";
	double step = report_nice_step(span / unit, 10) * unit;
	for (int k = 0; k * step <= span * (1 + 1e-9) && k < 100; k++) {
		double t = k * step;
		double x = REPORT_LEFT + t / span * REPORT_PLOT_W;
		char label[32];
		axis_label(label, sizeof(label), t, unit, name);
		fprintf(out, "<line class=\"gr\" x1=\"%.1f\" y1=\"%.1f\" "
			"x2=\"%.1f\" y2=\"%.1f\"/><text x=\"%.1f\" y=\"%.1f\" "
			"text-anchor=\"middle\">%s</text>\n", x, y0, x, y1, x,
			y0 - 6, label);
	}
}

static const char *group_name(const struct report_data *d, uint32_t key)
{
	if (key >= REPORT_KEYS - 1 && d->job->ngroups > REPORT_KEYS - 1)
		return "other groups";
	return key < d->job->ngroups ? d->job->groups[key].name : "?";
}

/* Worker bands: background, tooltip, label, separator. */
static void row_labels(FILE *out, const struct report_data *d,
		       const struct frame *f)
{
	for (size_t k = 0; k < d->nw; k++) {
		const struct report_worker *w = &d->w[d->order[k]];
		size_t nrows = d->per_worker_rows ? 1 : w->slots;
		double y = TOP + (double)w->row * f->rh, h = nrows * f->rh;
		fprintf(out, "<rect x=\"0\" y=\"%.1f\" width=\"%d\" "
			"height=\"%.1f\" fill=\"%s\"><title>", y,
			REPORT_LEFT + REPORT_PLOT_W, h,
			k % 2 ? "#f6f6f6" : "#fff");
		report_html_text(out, d->worker_ids.v[w->id]);
		fprintf(out, " on ");
		report_html_text(out, d->names.v[w->host]);
		fprintf(out, ": %u slots%s</title></rect>\n", w->slots,
			w->cpus ? "" : " seen (the worker is gone)");
		if (h >= 11) {
			fprintf(out, "<text x=\"4\" y=\"%.1f\">", y + 11);
			/* Long ids are cut for the margin; the band's title
			 * has them whole. */
			const char *id = d->worker_ids.v[w->id];
			size_t len = strlen(id);
			size_t cut = len > 34 ? report_utf8_cut(id, 32) : len;
			report_html_escape(out, id, cut);
			fprintf(out, "%s</text>\n", cut < len ? "\xe2\x80\xa6" : "");
		}
		if (!d->per_worker_rows && f->rh >= 11)
			for (unsigned s = 1; s < w->slots; s++)
				fprintf(out, "<text x=\"%d\" y=\"%.1f\" "
					"text-anchor=\"end\" fill=\"#888\">"
					"%u</text>\n", REPORT_LEFT - 4,
					y + (s + 1) * f->rh - 3, s);
		fprintf(out, "<line class=\"sep\" x1=\"0\" y1=\"%.1f\" x2=\"%d\" "
			"y2=\"%.1f\"/>\n", y + h, REPORT_LEFT + REPORT_PLOT_W,
			y + h);
	}
}

static const char *attempt_class(const struct report_attempt *a)
{
	switch ((enum q_attempt_end)a->end) {
	case Q_END_FINAL:
		return a->state == Q_STATE_FAILED      ? " f"
		       : a->state == Q_STATE_CANCELLED ? " h"
						       : "";
	case Q_END_RUNNING: return " u";
	case Q_END_RETRY: return " r";
	case Q_END_HANDBACK: return " h";
	case Q_END_LOST: return " l";
	}
	return "";
}

/* Design note 2. */
static void detail_bars(FILE *out, const struct report_data *d,
			const struct frame *f)
{
	char label[Q_NAME_MAX + 32], cls[8], from[32], len[32];
	for (size_t i = 0; i < d->n; i++) {
		const struct report_attempt *a = &d->a[i];
		int64_t s, e;
		if (!report_attempt_span(d, a, &s, &e))
			continue;
		size_t row, nrows;
		report_attempt_rows(d, a, &row, &nrows);
		double x = xof(f, s), w = xof(f, e) - x;
		double gap = f->rh >= 6 ? 1 : 0;
		report_svg_group_class(cls, sizeof(cls), a->group);
		fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" "
			"height=\"%.1f\" class=\"%s%s\"><title>",
			x, TOP + (double)row * f->rh + gap / 2,
			w < 1.5 ? 1.5 : w, nrows * f->rh - gap, cls,
			attempt_class(a));
		q_job_item_label(d->job, a->item, label, sizeof(label));
		report_html_text(out, label);
		report_fmt_duration(from, sizeof(from),
				    (double)(s - d->origin_ns) / 1e9);
		report_fmt_duration(len, sizeof(len), (double)(e - s) / 1e9);
		fprintf(out, ", attempt %u: %s", a->attempt,
			q_state_name((enum q_state)a->state));
		if (a->end != Q_END_FINAL)
			fprintf(out, " (%s)",
				q_attempt_end_name((enum q_attempt_end)a->end));
		fprintf(out, ", %s from %s", len, from);
		if (a->exit_code != Q_EXIT_NONE)
			fprintf(out, ", exit %d", a->exit_code);
		if (a->reason) {
			fputs(", ", out);
			report_html_text(out, d->names.v[a->reason]);
		}
		fputs(" on ", out);
		report_html_text(out, d->names.v[d->w[a->worker].host]);
		fprintf(out, " slot %u</title></rect>\n", a->slot);
	}
}

static uint8_t marks_of(const struct report_attempt *a)
{
	if (a->end == Q_END_FINAL)
		return a->state == Q_STATE_FAILED ? REPORT_MARK_FAILED : 0;
	return a->end == Q_END_RUNNING ? 0 : REPORT_MARK_OTHER;
}

/* Shades of busy: 0 idle (nothing drawn), 1..4 pale to dark (o1..o4),
 * 5 full. Any work at all is level 1, so a job of tasks much shorter
 * than a bin (a no-op array) still shows where it ran. */
static int level_of(float busy)
{
	return busy <= 0 ? 0 : busy < 0.15f ? 1 : busy < 0.45f ? 2
		: busy < 0.75f ? 3 : busy < 0.95f ? 4 : 5;
}

/* One row's bins as runs of like bins, then its marks (note 3). */
static void emit_bins(FILE *out, const struct report_data *d,
		      const struct frame *f, size_t row, const char *who,
		      unsigned slot, const struct report_bin *bins,
		      size_t nbins)
{
	double y = TOP + (double)row * f->rh, h = f->rh >= 6 ? f->rh - 1
							   : f->rh;
	double bw = (double)REPORT_PLOT_W / (double)nbins;
	double secs = (double)(f->t1 - f->t0) / 1e9 / (double)nbins;
	char cls[8], from[32], to[32];
	for (size_t b = 0; b < nbins;) {
		int lv = level_of(bins[b].busy);
		size_t e = b + 1;
		double busy = bins[b].busy;
		while (e < nbins && level_of(bins[e].busy) == lv &&
		       (lv == 0 || bins[e].key == bins[b].key))
			busy += bins[e++].busy;
		if (lv > 0) {
			report_svg_group_class(cls, sizeof(cls), bins[b].key);
			report_fmt_duration(from, sizeof(from), (double)b * secs);
			report_fmt_duration(to, sizeof(to), (double)e * secs);
			fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" "
				"width=\"%.1f\" height=\"%.1f\" "
				"class=\"%s%s\"><title>", REPORT_LEFT + b * bw,
				y, (double)(e - b) * bw, h, cls,
				lv == 1 ? " o1" : lv == 2 ? " o2"
				: lv == 3 ? " o3" : lv == 4 ? " o4" : "");
			report_html_text(out, who);
			if (!d->per_worker_rows)
				fprintf(out, " slot %u", slot);
			double pct = 100.0 * busy / (double)(e - b);
			if (pct < 0.5)
				fprintf(out, ", %s to %s: busy &lt;1%%, mostly ",
					from, to);
			else
				fprintf(out, ", %s to %s: busy %.0f%%, mostly ",
					from, to, pct);
			report_html_text(out, group_name(d, bins[b].key));
			fputs("</title></rect>\n", out);
		}
		b = e;
	}
	double mh = f->rh * 0.35 < 1.5 ? 1.5 : f->rh * 0.35;
	for (uint8_t m = REPORT_MARK_FAILED; m <= REPORT_MARK_OTHER; m++)
		for (size_t b = 0; b < nbins;) {
			if (!(bins[b].marks & m)) {
				b++;
				continue;
			}
			size_t e = b + 1;
			while (e < nbins && (bins[e].marks & m))
				e++;
			fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				"height=\"%.1f\" class=\"%s\"><title>%s</title>"
				"</rect>\n", REPORT_LEFT + b * bw,
				m == REPORT_MARK_FAILED ? y : y + h - mh,
				(double)(e - b) * bw, mh,
				m == REPORT_MARK_FAILED ? "mk" : "mo",
				m == REPORT_MARK_FAILED
					? "failed attempts in this time"
					: "retried, handed-back or lost "
					  "attempts in this time");
			b = e;
		}
}

/* Design note 3: bucket the bars by row, then bin each row. */
static void aggregate_bars(FILE *out, const struct report_data *d,
			   const struct frame *f)
{
	size_t nrows = d->nrows ? d->nrows : 1;
	size_t *start = calloc(nrows + 1, sizeof(*start));
	if (!start)
		abort();
	for (size_t i = 0; i < d->n; i++) {
		int64_t s, e;
		size_t row, n;
		if (!report_attempt_span(d, &d->a[i], &s, &e))
			continue;
		report_attempt_rows(d, &d->a[i], &row, &n);
		for (size_t r = row; r < row + n; r++)
			start[r + 1]++;
	}
	for (size_t r = 0; r < nrows; r++)
		start[r + 1] += start[r];
	size_t *fill = calloc(nrows, sizeof(*fill));
	size_t *idx = calloc(start[nrows] ? start[nrows] : 1, sizeof(*idx));
	size_t nbins = report_svg_nbins(d->nrows);
	struct report_bin *bins = calloc(nbins, sizeof(*bins));
	float *votes = calloc(nbins * REPORT_KEYS, sizeof(*votes));
	struct report_span *spans = NULL;
	size_t cap = 0;
	if (!fill || !idx || !bins || !votes)
		abort();
	for (size_t i = 0; i < d->n; i++) {
		int64_t s, e;
		size_t row, n;
		if (!report_attempt_span(d, &d->a[i], &s, &e))
			continue;
		report_attempt_rows(d, &d->a[i], &row, &n);
		for (size_t r = row; r < row + n; r++)
			idx[start[r] + fill[r]++] = i;
	}
	for (size_t k = 0; k < d->nw; k++) {
		const struct report_worker *w = &d->w[d->order[k]];
		size_t rows = d->per_worker_rows ? 1 : w->slots;
		for (size_t r = w->row; r < w->row + rows; r++) {
			size_t n = start[r + 1] - start[r];
			report_grow(&spans, &cap, n + 1, sizeof(*spans));
			for (size_t j = 0; j < n; j++) {
				const struct report_attempt *a =
					&d->a[idx[start[r] + j]];
				struct report_span *sp = &spans[j];
				report_attempt_span(d, a, &sp->start, &sp->end);
				sp->weight = d->per_worker_rows
						     ? (float)a->threads /
							       (float)w->slots
						     : 1.0f;
				sp->key = a->group < REPORT_KEYS
						  ? a->group
						  : REPORT_KEYS - 1;
				sp->marks = marks_of(a);
			}
			report_bin_row(spans, n, f->t0, f->t1, nbins, bins,
				       votes);
			emit_bins(out, d, f, r, d->worker_ids.v[w->id],
				  (unsigned)(r - w->row), bins, nbins);
		}
	}
	free(spans);
	free(votes);
	free(bins);
	free(idx);
	free(fill);
	free(start);
}

void report_svg_gantt(FILE *out, const struct report_data *d)
{
	struct frame f;
	frame_of(d, &f);
	double height = TOP + (double)d->nrows * f.rh + 6;
	fprintf(out, "<svg id=\"gantt\" xmlns=\"http://www.w3.org/2000/svg\" "
		"width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\">\n",
		REPORT_LEFT + REPORT_PLOT_W + 10, height,
		REPORT_LEFT + REPORT_PLOT_W + 10, height);
	fputs("<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" "
	      "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
	      "<rect width=\"6\" height=\"6\" fill=\"#ddd\"/><line x1=\"0\" "
	      "y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#777\" stroke-width=\"2\"/>"
	      "</pattern></defs>\n", out);
	row_labels(out, d, &f);
	time_axis(out, &f, TOP, TOP + (double)d->nrows * f.rh);
	if (d->aggregate)
		aggregate_bars(out, d, &f);
	else
		detail_bars(out, d, &f);
	fputs("</svg>\n", out);
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return a < b ? -1 : a > b;
}

/* A step line through counts[0..REPORT_PLOT_W]. */
static void step_path(FILE *out, const char *cls, const uint64_t *counts,
		      double top, double scale)
{
	fprintf(out, "<path class=\"%s\" d=\"M%d %.1f", cls, REPORT_LEFT,
		top + PROGRESS_H - counts[0] * scale);
	for (size_t x = 1; x <= REPORT_PLOT_W; x++)
		if (counts[x] != counts[x - 1])
			fprintf(out, "H%zu V%.1f", REPORT_LEFT + x,
				top + PROGRESS_H - counts[x] * scale);
	fprintf(out, "H%d\"/>\n", REPORT_LEFT + REPORT_PLOT_W);
}

void report_svg_progress(FILE *out, const struct report_data *d)
{
	struct frame f;
	frame_of(d, &f);
	int64_t *fin = calloc(d->n + 1, sizeof(*fin));
	int64_t *bad = calloc(d->n + 1, sizeof(*bad));
	uint64_t *cfin = calloc(REPORT_PLOT_W + 1, sizeof(*cfin));
	uint64_t *cbad = calloc(REPORT_PLOT_W + 1, sizeof(*cbad));
	if (!fin || !bad || !cfin || !cbad)
		abort();
	size_t nfin = 0, nbad = 0;
	for (size_t i = 0; i < d->n; i++) {
		const struct report_attempt *a = &d->a[i];
		if (a->end != Q_END_FINAL || a->end_ns <= 0)
			continue;
		fin[nfin++] = a->end_ns;
		if (a->state == Q_STATE_FAILED)
			bad[nbad++] = a->end_ns;
	}
	qsort(fin, nfin, sizeof(*fin), cmp_i64);
	qsort(bad, nbad, sizeof(*bad), cmp_i64);
	report_progress_counts(fin, nfin, f.t0, f.t1, REPORT_PLOT_W, cfin);
	report_progress_counts(bad, nbad, f.t0, f.t1, REPORT_PLOT_W, cbad);

	double top = TOP, total = d->job->nitems ? (double)d->job->nitems : 1;
	double scale = PROGRESS_H / total;
	fprintf(out, "<svg id=\"progress\" xmlns=\"http://www.w3.org/2000/svg\" "
		"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
		REPORT_LEFT + REPORT_PLOT_W + 10, TOP + PROGRESS_H + 10,
		REPORT_LEFT + REPORT_PLOT_W + 10, TOP + PROGRESS_H + 10);
	time_axis(out, &f, top, top + PROGRESS_H);
	/* Round counts on the y axis, and the job's size at the top. */
	double ystep = round(report_nice_step(total, 4));
	if (ystep < 1)
		ystep = 1;
	for (double v = 0; v <= total; v += ystep) {
		if (v != total && v > total - ystep / 2)
			v = total;   /* too close to the top: label the top */
		double y = top + PROGRESS_H - v * scale;
		char n[32];
		report_fmt_count(n, sizeof(n), (uint64_t)v);
		fprintf(out, "<line class=\"gr\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
			"y2=\"%.1f\"/><text x=\"%d\" y=\"%.1f\" "
			"text-anchor=\"end\">%s</text>\n", REPORT_LEFT, y,
			REPORT_LEFT + REPORT_PLOT_W, y, REPORT_LEFT - 6, y + 4,
			n);
	}
	fprintf(out, "<line class=\"ax\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
		"y2=\"%.1f\"/>\n", REPORT_LEFT, top + PROGRESS_H,
		REPORT_LEFT + REPORT_PLOT_W, top + PROGRESS_H);
	step_path(out, "done", cfin, top, scale);
	if (nbad)
		step_path(out, "fail", cbad, top, scale);
	fprintf(out, "<text x=\"%d\" y=\"%.1f\">tasks finished (green)%s</text>"
		"\n</svg>\n", REPORT_LEFT + 8, top + 14,
		nbad ? ", failed (red)" : "");
	free(cbad);
	free(cfin);
	free(bad);
	free(fin);
}
