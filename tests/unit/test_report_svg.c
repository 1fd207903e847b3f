/*
 * test_report_svg.c: the task stream and progress pictures
 * (cmd/report_svg.c): round axis steps, time bins for dense jobs,
 * progress counts, and the SVG they make.
 */
#include "report_helpers.h"
#include "report_svg.h"

Test(report_svg, nice_steps)
{
	cr_assert_float_eq(report_nice_step(10, 10), 1, 1e-12);
	cr_assert_float_eq(report_nice_step(7, 10), 0.5, 1e-12);
	cr_assert_float_eq(report_nice_step(95, 10), 10, 1e-12);
	cr_assert_float_eq(report_nice_step(1500, 8), 200, 1e-9);
	cr_assert_float_eq(report_nice_step(0.03, 10), 0.002, 1e-15);
	cr_assert_float_eq(report_nice_step(0, 10), 1, 0);
	cr_assert_float_eq(report_nice_step(-5, 10), 1, 0);
}

Test(report_svg, bins_per_row_shrink_with_many_rows)
{
	cr_assert_eq(report_svg_nbins(0), REPORT_PLOT_W / REPORT_BIN_PX);
	cr_assert_eq(report_svg_nbins(8), REPORT_PLOT_W / REPORT_BIN_PX);
	cr_assert_eq(report_svg_nbins(1000), REPORT_CELLS_MAX / 1000);
	cr_assert_eq(report_svg_nbins(1000000), 50);
}

static struct report_bin bins[10];
static float votes[10 * REPORT_KEYS];

static struct report_span span(double s, double e, uint32_t key)
{
	struct report_span sp = { T0 + (int64_t)(s * SEC),
				  T0 + (int64_t)(e * SEC), 1.0f, key, 0 };
	return sp;
}

Test(report_svg, bins_hold_busy_fractions_and_the_dominant_key)
{
	/* 10 bins of 1 s: key 3 fills 0..4 s, key 5 4..6.5 s, and key 3
	 * again 6.7..7 s (a minority of bin 6); nothing after 7 s. */
	struct report_span s[3] = { span(0, 4, 3), span(4, 6.5, 5),
				    span(6.7, 7, 3) };
	report_bin_row(s, 3, T0, T0 + 10 * SEC, 10, bins, votes);
	for (int b = 0; b < 4; b++) {
		cr_assert_float_eq(bins[b].busy, 1, 1e-6, "bin %d", b);
		cr_assert_eq(bins[b].key, 3);
	}
	cr_assert_float_eq(bins[5].busy, 1, 1e-6);
	cr_assert_eq(bins[5].key, 5);
	cr_assert_float_eq(bins[6].busy, 0.8, 1e-6);
	cr_assert_eq(bins[6].key, 5, "0.5 s of key 5 beats 0.3 s of key 3");
	for (int b = 7; b < 10; b++) {
		cr_assert_float_eq(bins[b].busy, 0, 1e-6);
		cr_assert_eq(bins[b].key, REPORT_NONE);
	}
}

Test(report_svg, bins_weights_marks_and_clipping)
{
	struct report_span s[4] = { span(0.25, 0.75, 1), span(-5, 1.5, 2),
				    span(20, 30, 4), span(9.5, 12, 7) };
	s[0].marks = REPORT_MARK_FAILED;
	s[1].weight = 0.25f;
	s[3].marks = REPORT_MARK_OTHER;
	report_bin_row(s, 4, T0, T0 + 10 * SEC, 10, bins, votes);
	/* Bin 0: 0.5 of key 1 plus 0.25 of key 2. */
	cr_assert_float_eq(bins[0].busy, 0.75, 1e-6);
	cr_assert_eq(bins[0].key, 1);
	cr_assert_eq(bins[0].marks, REPORT_MARK_FAILED);
	cr_assert_float_eq(bins[1].busy, 0.125, 1e-6);
	cr_assert_eq(bins[1].key, 2);
	cr_assert_eq(bins[1].marks, 0);
	/* The span past the end is clipped; the one after it ignored. */
	cr_assert_float_eq(bins[9].busy, 0.5, 1e-6);
	cr_assert_eq(bins[9].marks, REPORT_MARK_OTHER);
	/* Overlapping spans cap at fully busy. */
	struct report_span o[2] = { span(0, 1, 0), span(0, 1, 1) };
	report_bin_row(o, 2, T0, T0 + 10 * SEC, 10, bins, votes);
	cr_assert_float_eq(bins[0].busy, 1, 1e-6);
}

Test(report_svg, progress_counts)
{
	int64_t ts[5] = { T0 + 1 * SEC, T0 + 2 * SEC, T0 + 3 * SEC,
			  T0 + 3 * SEC, T0 + 10 * SEC };
	uint64_t c[11];
	report_progress_counts(ts, 5, T0, T0 + 10 * SEC, 10, c);
	uint64_t want[11] = { 0, 1, 2, 4, 4, 4, 4, 4, 4, 4, 5 };
	for (int x = 0; x <= 10; x++)
		cr_assert_eq(c[x], want[x], "column %d", x);
	report_progress_counts(ts, 0, T0, T0 + 10 * SEC, 10, c);
	cr_assert_eq(c[10], 0);
}

static char *render(const struct report_data *d, bool gantt)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	cr_assert_not_null(f);
	if (gantt)
		report_svg_gantt(f, d);
	else
		report_svg_progress(f, d);
	cr_assert_eq(fclose(f), 0);
	return text;
}

Test(report_svg, detail_has_a_bar_per_attempt_with_its_tooltip)
{
	struct q_job *job = q_job_new("pic");
	rgroup(job, "a", 3, 1);
	rgroup(job, "b", 1, 1);
	rfinalize(job);
	struct report_data d;
	report_data_init(&d, job);
	radd(&d, rattempt(0, "w<1>", 0, 0, 1));
	struct q_attempt a = rattempt(1, "w<1>", 0, 1, 2);
	a.state = Q_STATE_FAILED;
	a.exit_code = 2;
	a.reason = "exit status 2 <&>";
	radd(&d, a);
	a = rattempt(2, "w<1>", 0, 2, 3);
	a.end = Q_END_RETRY;
	a.state = Q_STATE_FAILED;
	radd(&d, a);
	radd(&d, rattempt(3, "w<1>", 0, 3, 4));
	report_data_finish(&d, T0 + 4 * SEC);
	char *text = render(&d, true);
	cr_assert(strncmp(text, "<svg id=\"gantt\"", 15) == 0);
	cr_assert_eq(occurrences(text, "class=\"g0\"><title>a[0], attempt 1"), 1,
		     "%s", text);
	cr_assert_eq(occurrences(text, "class=\"g0 f\"><title>a[1]"), 1);
	cr_assert_eq(occurrences(text, "exit status 2 &lt;&amp;&gt;"), 1);
	cr_assert_eq(occurrences(text, "class=\"g0 r\"><title>a[2]"), 1);
	cr_assert_eq(occurrences(text, "class=\"g1\"><title>b"), 1);
	cr_assert_eq(occurrences(text, "w&lt;1&gt;"), 2, "label and band");
	cr_assert_null(strstr(text, "<1>"));
	cr_assert(strstr(text, "</svg>\n"));
	free(text);

	text = render(&d, false);
	cr_assert(strncmp(text, "<svg id=\"progress\"", 18) == 0);
	cr_assert_eq(occurrences(text, "<path class=\"done\""), 1);
	cr_assert_eq(occurrences(text, "<path class=\"fail\""), 1);
	free(text);
	report_data_release(&d);
	q_job_release(job);
}

Test(report_svg, aggregated_size_is_bounded_by_rows_not_tasks)
{
	/* 100,000 tasks of 10 ms back to back on 4 slots of 2 workers. */
	struct q_job *job = q_job_new("big");
	rgroup(job, "x", 50000, 1);
	rgroup(job, "y", 50000, 1);
	rfinalize(job);
	struct report_data d;
	report_data_init(&d, job);
	for (uint64_t i = 0; i < 100000; i++) {
		unsigned row = (unsigned)(i % 4);
		double s = (double)(i / 4) * 0.01;
		struct q_attempt a = rattempt(i, row < 2 ? "w1" : "w2", row % 2,
					      s, s + 0.01);
		if (i == 777) {
			a.state = Q_STATE_FAILED;
		}
		radd(&d, a);
	}
	report_data_finish(&d, T0 + 300 * SEC);
	cr_assert(d.aggregate);
	char *text = render(&d, true);
	size_t len = strlen(text);
	cr_assert_lt(len, 200000, "%zu bytes", len);
	/* Always busy: a run per row and group change (x then y). */
	cr_assert_eq(occurrences(text, "class=\"g0\"><title>"), 4, "%s", text);
	cr_assert_eq(occurrences(text, "class=\"g1\"><title>"), 4, "%s", text);
	cr_assert_eq(occurrences(text, " o1\"") + occurrences(text, " o2\"") +
			     occurrences(text, " o3\"") +
			     occurrences(text, " o4\""), 0, "%s", text);
	cr_assert_eq(occurrences(text, "class=\"mk\""), 1, "the failure");
	cr_assert(strstr(text, "busy 100%, mostly x"));
	cr_assert(strstr(text, "busy 100%, mostly y"));
	free(text);
	report_data_release(&d);
	q_job_release(job);
}

Test(report_svg, tasks_far_shorter_than_a_bin_still_show)
{
	/* 30,000 no-op tasks of 1 us over 30 s: busy ~0.1% of each bin. */
	struct q_job *job = q_job_new("noop");
	rgroup(job, "n", 30000, 1);
	rfinalize(job);
	struct report_data d;
	report_data_init(&d, job);
	for (uint64_t i = 0; i < 30000; i++) {
		double s = (double)i * 0.001;
		radd(&d, rattempt(i, "w", 0, s, s + 1e-6));
	}
	report_data_finish(&d, T0 + 30 * SEC);
	cr_assert(d.aggregate);
	char *text = render(&d, true);
	cr_assert_eq(occurrences(text, "class=\"g0 o1\"><title>"), 1,
		     "one pale run across the row: %s", text);
	cr_assert(strstr(text, "busy &lt;1%, mostly n"));
	free(text);
	report_data_release(&d);
	q_job_release(job);
}
