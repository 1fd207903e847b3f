/*
 * test_progress.c: cmd/progress.c, the pieces of a progress display
 * (bars, rates, durations, fitting lines, frames) and the terminal that
 * redraws them, on a pseudo-terminal of its own.
 *
 * progress.c is compiled into this test (it is not in cli_lib: qstatus
 * and qcollect build it themselves), which also lets the checks see its
 * static helpers.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.c"

static struct q_counts counts(uint64_t total, uint64_t done, uint64_t failed,
			      uint64_t cancelled, uint64_t running)
{
	struct q_counts c = { 0 };
	c.total = total;
	c.done = done;
	c.failed = failed;
	c.cancelled = cancelled;
	c.running = running;
	c.ready = total - done - failed - cancelled - running;
	return c;
}

/* "#####>...." style expectation: n of each character in turn. */
static void expect_bar(const char *got, const char *want)
{
	cr_assert_str_eq(got, want, "bar: got '%s', want '%s'", got, want);
}

static char *repeat(char *out, char ch, unsigned n)
{
	size_t len = strlen(out);
	memset(out + len, ch, n);
	out[len + n] = '\0';
	return out;
}

Test(bar, widths_10_40_200)
{
	char buf[1024], want[1024];
	struct q_counts c = counts(100, 50, 0, 0, 10);
	unsigned widths[] = { 10, 40, 200 };
	for (size_t i = 0; i < 3; i++) {
		unsigned w = widths[i];
		size_t len = q_progress_bar(buf, sizeof(buf), &c, w, false);
		want[0] = '\0';
		repeat(want, '#', w / 2);
		repeat(want, '>', w / 10);
		repeat(want, '.', w - w / 2 - w / 10);
		expect_bar(buf, want);
		cr_assert_eq(len, w);
		cr_assert_eq(q_progress_width(buf), w);
	}
}

Test(bar, full_only_when_all_finished)
{
	char buf[512], want[512];
	struct q_counts c = counts(1000, 999, 0, 0, 0);
	unsigned widths[] = { 10, 40, 200 };
	for (size_t i = 0; i < 3; i++) {
		q_progress_bar(buf, sizeof(buf), &c, widths[i], false);
		want[0] = '\0';
		repeat(want, '#', widths[i] - 1);
		repeat(want, '.', 1);
		expect_bar(buf, want);
	}
	c = counts(1000, 990, 7, 3, 0);
	q_progress_bar(buf, sizeof(buf), &c, 10, false);
	cr_assert_eq(strchr(buf, '.'), NULL, "all finished: no rest: %s", buf);
	cr_assert_eq(q_progress_percent(&c), 100);
	c = counts(1000, 999, 0, 0, 0);
	cr_assert_eq(q_progress_percent(&c), 99);
	c = counts(0, 0, 0, 0, 0);
	q_progress_bar(buf, sizeof(buf), &c, 10, false);
	expect_bar(buf, "##########");
	cr_assert_eq(q_progress_percent(&c), 100);
}

Test(bar, one_failure_among_many_shows)
{
	char buf[256];
	struct q_counts c = counts(10000, 5000, 1, 0, 0);
	q_progress_bar(buf, sizeof(buf), &c, 10, false);
	expect_bar(buf, "#####!....");
	c = counts(10000, 5000, 0, 1, 1);
	q_progress_bar(buf, sizeof(buf), &c, 10, false);
	expect_bar(buf, "#####x>...");
	/* Too narrow for every state: no state is drawn twice over. */
	c = counts(100, 40, 1, 1, 1);
	q_progress_bar(buf, sizeof(buf), &c, 2, false);
	cr_assert_eq(strlen(buf), 2);
}

Test(bar, colour_and_none)
{
	char buf[512];
	struct q_counts c = counts(10, 5, 2, 0, 1);
	q_progress_bar(buf, sizeof(buf), &c, 10, true);
	cr_assert_str_eq(buf, "\033[32m#####\033[0m\033[31m!!\033[0m"
		     "\033[33m>\033[0m..");
	cr_assert_eq(q_progress_width(buf), 10);
	q_progress_bar(buf, sizeof(buf), &c, 10, false);
	cr_assert_str_eq(buf, "#####!!>..");
	cr_assert_eq(strchr(buf, '\033'), NULL);
}

Test(bar, small_buffers_and_zero_width)
{
	char buf[8];
	struct q_counts c = counts(10, 5, 0, 0, 0);
	size_t len = q_progress_bar(buf, sizeof(buf), &c, 40, false);
	cr_assert_eq(len, 7);
	cr_assert_str_eq(buf, "#######");
	len = q_progress_bar(buf, sizeof(buf), &c, 0, false);
	cr_assert_eq(len, 0);
	cr_assert_str_eq(buf, "");
}

Test(bar, counts_of_a_moving_spool)
{
	/* A scan can see a task twice (running, then done): the bar still
	 * has its width and does not overflow. */
	char buf[64];
	struct q_counts c = { .total = 10, .done = 8, .running = 4 };
	cr_assert_eq(q_progress_bar(buf, sizeof(buf), &c, 12, false), 12);
	cr_assert_str_eq(buf, "########>>>>");
}

Test(rate, unknown_then_smoothed)
{
	char buf[64];
	struct q_rate r = Q_RATE_INIT;
	q_progress_fmt_rate(buf, sizeof(buf), &r);
	cr_assert_str_eq(buf, "-- tasks/s");
	q_rate_add(&r, 90.0, 0);
	cr_assert(!q_rate_known(&r));
	q_progress_fmt_eta(buf, sizeof(buf), &r, 5);
	cr_assert_str_eq(buf, "--");
	/* Ten seconds of nothing (waiting for workers): still unknown, and
	 * not counted against the rate once tasks finish. */
	q_rate_add(&r, 100.0, 0);
	cr_assert(!q_rate_known(&r));
	q_rate_add(&r, 101.0, 10);
	cr_assert(q_rate_known(&r));
	q_progress_fmt_rate(buf, sizeof(buf), &r);
	cr_assert_str_eq(buf, "10.0 tasks/s");
	/* A second with nothing finished: one tenth of the way (tau 10 s)
	 * towards zero, not zero. */
	q_rate_add(&r, 102.0, 10);
	cr_assert_float_eq(r.per_s, 10.0 * exp(-0.1), 1e-9);
	q_progress_fmt_rate(buf, sizeof(buf), &r);
	cr_assert_str_eq(buf, "9.0 tasks/s");
	/* Samples too close together change nothing. */
	double before = r.per_s;
	q_rate_add(&r, 102.0 + 1e-6, 1000);
	cr_assert_float_eq(r.per_s, before, 1e-12);
	/* A count that goes back (another set of jobs) starts over. */
	q_rate_add(&r, 103.0, 5);
	cr_assert(!q_rate_known(&r));
}

static void expect_rate(double per_s, const char *want)
{
	char buf[64];
	struct q_rate r = { .per_s = per_s, .samples = 2 };
	q_progress_fmt_rate(buf, sizeof(buf), &r);
	cr_assert_str_eq(buf, want, "%g/s: got '%s', want '%s'", per_s, buf,
			 want);
}

Test(rate, formats)
{
	expect_rate(35.24, "35.2 tasks/s");
	expect_rate(350, "350 tasks/s");
	expect_rate(1234, "1.2k tasks/s");
	expect_rate(45678, "45.7k tasks/s");
	expect_rate(456789, "457k tasks/s");
	expect_rate(3.4e6, "3.4M tasks/s");
	expect_rate(1.0, "1.0 tasks/s");
	expect_rate(0.5, "30.0 tasks/min");
	expect_rate(1.0 / 7200, "0.5 tasks/h");
	expect_rate(0, "0.0 tasks/s");
}

static void expect_duration(double s, const char *want)
{
	char buf[64];
	q_progress_fmt_duration(buf, sizeof(buf), s);
	cr_assert_str_eq(buf, want, "%g s: got '%s', want '%s'", s, buf, want);
}

Test(eta, durations)
{
	expect_duration(0, "0s");
	expect_duration(44.2, "45s");
	expect_duration(59, "59s");
	expect_duration(60, "1m00s");
	expect_duration(725, "12m05s");
	expect_duration(12000, "3h20m");
	expect_duration(187200, "2d04h");
	expect_duration(99 * 86400.0 + 3600, "99d01h");
	expect_duration(1e9, ">99d");
	expect_duration(-5, "0s");
	expect_duration(NAN, "0s");
}

Test(eta, from_rate)
{
	char buf[64];
	struct q_rate r = { .per_s = 10, .samples = 2 };
	q_progress_fmt_eta(buf, sizeof(buf), &r, 220);
	cr_assert_str_eq(buf, "22s");
	q_progress_fmt_eta(buf, sizeof(buf), &r, 0);
	cr_assert_str_eq(buf, "0s");
	r.per_s = 0;
	q_progress_fmt_eta(buf, sizeof(buf), &r, 5);
	cr_assert_str_eq(buf, "--");
}

Test(fit, cuts_columns_not_escapes)
{
	char line[64];
	strcpy(line, "\033[32m#####\033[0m...");
	q_progress_fit(line, sizeof(line), 6);
	cr_assert_str_eq(line, "\033[32m#####\033[0m.");
	strcpy(line, "\033[32m#####\033[0m...");
	q_progress_fit(line, sizeof(line), 3);
	cr_assert_str_eq(line, "\033[32m###\033[0m", "a cut in colour resets");
	strcpy(line, "short");
	q_progress_fit(line, sizeof(line), 10);
	cr_assert_str_eq(line, "short");
	strcpy(line, "h\xc3\xa9llo world");
	cr_assert_eq(q_progress_width(line), 11);
	q_progress_fit(line, sizeof(line), 5);
	cr_assert_str_eq(line, "h\xc3\xa9llo");
	/* No room for the reset after the cut: the cut moves back. */
	char tight[12] = "\033[31m!!!!!!";
	q_progress_fit(tight, sizeof(tight), 5);
	cr_assert_str_eq(tight, "\033[31m!!\033[0m");
}

Test(clean, control_bytes)
{
	char out[32];
	q_progress_clean(out, sizeof(out), "a\033[2Jb\n\x7f");
	cr_assert_str_eq(out, "a?[2Jb??");
	q_progress_clean(out, 4, "abcdef");
	cr_assert_str_eq(out, "abc");
}

Test(layout, window_widths)
{
	char line[Q_LINE_MAX];
	struct q_bar_layout lay;
	struct q_counts c = counts(2000, 1218, 2, 0, 4);
	unsigned widths[] = { 10, 20, 40, 80, 200 };
	for (size_t i = 0; i < 5; i++) {
		q_bar_layout(&lay, widths[i], true, 12, 2000, 24);
		q_bar_line(line, &lay, "job 12 sweep", &c,
			   "35.2 tasks/s  ETA 22s");
		cr_assert_leq(q_progress_width(line), widths[i] - 1,
			      "%u columns: '%s'", widths[i], line);
	}
	q_bar_layout(&lay, 80, false, 12, 2000, 24);
	cr_assert_gt(lay.bar_w, Q_BAR_MIN);
	q_bar_line(line, &lay, "job 12 sweep", &c, "35.2 tasks/s  ETA 22s");
	cr_assert(strstr(line, " 61% 1220/2000  35.2 tasks/s  ETA 22s"), "%s",
		  line);
	cr_assert_eq(strncmp(line, "job 12 sweep  [", 15), 0, "%s", line);
	/* Narrow: no bar, the numbers stay. */
	q_bar_layout(&lay, 40, false, 12, 2000, 0);
	cr_assert_eq(lay.bar_w, 0);
	q_bar_line(line, &lay, "job 12 sweep", &c, NULL);
	cr_assert_str_eq(line, "job 12 sweep   61% 1220/2000");
	/* Very narrow: the label gives way (to 8 columns), the numbers
	 * come first. */
	q_bar_layout(&lay, 30, false, 12, 2000, 24);
	cr_assert_eq(lay.label_w, 8);
	q_bar_line(line, &lay, "job 12 sweep", &c, "35.2 tasks/s  ETA 22s");
	cr_assert_str_eq(line, "job 12 s   61% 1220/2000  35.");
	/* Wide: the bar stops growing. */
	q_bar_layout(&lay, 200, false, 12, 2000, 24);
	cr_assert_eq(lay.bar_w, Q_BAR_MAX);
	/* A label with an escape in it cannot reach the terminal. */
	q_bar_layout(&lay, 80, false, 12, 2000, 0);
	q_bar_line(line, &lay, "job \033[2J", &c, NULL);
	cr_assert_eq(strchr(line, '\033'), NULL);
}

/* A job "sweep" of groups prepare (1), run (1998), reduce (1). */
struct fixture {
	struct q_group groups[3];
	struct q_job job;
	struct q_counts gc[3];
	struct q_progress_job pj[3];
	struct q_progress_view view;
};

static void fixture_init(struct fixture *f, size_t njobs)
{
	memset(f, 0, sizeof(*f));
	f->groups[0].name = "prepare";
	f->groups[1].name = "run";
	f->groups[2].name = "reduce";
	f->job.name = "sweep";
	f->job.groups = f->groups;
	f->job.ngroups = 3;
	f->gc[0] = counts(1, 1, 0, 0, 0);
	f->gc[1] = counts(1998, 1218, 1, 0, 4);
	f->gc[2] = counts(1, 0, 0, 0, 0);
	for (size_t i = 0; i < njobs; i++) {
		struct q_progress_job *j = &f->pj[i];
		j->id = 12 + i;
		j->job = &f->job;
		j->groups = f->gc;
		for (size_t g = 0; g < 3; g++)
			q_progress_add_counts(&j->sum, &f->gc[g]);
		j->rate = (struct q_rate){ .per_s = 35.2, .samples = 2 };
		q_progress_add_counts(&f->view.all, &j->sum);
	}
	f->view.jobs = f->pj;
	f->view.n = njobs;
	f->view.rate = (struct q_rate){ .per_s = 35.2, .samples = 2 };
	f->view.alive = 4;
	f->view.idle = 1;
	f->view.lost = 1;
	f->view.idle_known = true;
}

static size_t count_lines(const char *text, unsigned cols)
{
	size_t n = 0;
	char line[Q_LINE_MAX];
	for (const char *p = text; *p; n++) {
		const char *eol = strchr(p, '\n');
		cr_assert_not_null(eol, "every line ends in a newline");
		size_t k = (size_t)(eol - p);
		cr_assert_lt(k, sizeof(line));
		memcpy(line, p, k);
		line[k] = '\0';
		cr_assert_leq(q_progress_width(line), cols - 1, "'%s'", line);
		p = eol + 1;
	}
	return n;
}

Test(frame, one_job_with_groups)
{
	struct fixture f;
	fixture_init(&f, 1);
	char *text;
	size_t len;
	cr_assert_eq(q_progress_frame(&f.view, 100, 24, false, &text, &len),
		     0);
	cr_assert_eq(count_lines(text, 100), 6, "%s", text);
	cr_assert(strstr(text, "job 12 sweep"), "%s", text);
	cr_assert(strstr(text, "\n  prepare "), "%s", text);
	cr_assert(strstr(text, "\n  run "), "%s", text);
	cr_assert(strstr(text, "\n  reduce "), "%s", text);
	cr_assert(strstr(text, " 61% 1220/2000  35.2 tasks/s  ETA 23s\n"),
		  "%s", text);
	cr_assert(strstr(text, "tasks: 776 ready, 4 running, 1219 done, 1 "
			 "failed\n"), "the states with tasks: %s", text);
	cr_assert(strstr(text, "workers: 4 alive, 1 idle, 1 lost\n"), "%s",
		  text);
	cr_assert_eq(strchr(text, '\033'), NULL, "no colour asked");
	free(text);
	cr_assert_eq(q_progress_frame(&f.view, 100, 24, true, &text, &len),
		     0);
	cr_assert(strstr(text, "\033[32m"), "colour asked");
	free(text);
}

Test(frame, short_window)
{
	struct fixture f;
	fixture_init(&f, 3);
	char *text;
	size_t len;
	/* 24 rows: three jobs of three groups fit (12 lines + 3). */
	cr_assert_eq(q_progress_frame(&f.view, 80, 24, false, &text, &len), 0);
	cr_assert_eq(count_lines(text, 80), 15, "%s", text);
	cr_assert(strstr(text, "\n3 jobs  "), "a bar for all: %s", text);
	cr_assert(strstr(text, " 61% 3660/6000  35.2 tasks/s  ETA 1m07s\n"),
		  "%s", text);
	cr_assert(strstr(text, "\ntasks: 2328 ready, 12 running, 3657 done, "
			 "3 failed\n"), "%s", text);
	free(text);
	/* 10 rows: the groups of the first job only. */
	cr_assert_eq(q_progress_frame(&f.view, 80, 10, false, &text, &len), 0);
	cr_assert_eq(count_lines(text, 80), 9, "%s", text);
	cr_assert(strstr(text, "job 12 sweep  [###"), "%s", text);
	cr_assert(strstr(text, "\n  prepare "), "%s", text);
	cr_assert(strstr(text, "\njob 13 sweep  [###"), "%s", text);
	free(text);
	/* 6 rows: one job, and a line for the others. */
	cr_assert_eq(q_progress_frame(&f.view, 80, 6, false, &text, &len), 0);
	cr_assert_eq(count_lines(text, 80), 5, "%s", text);
	cr_assert(strstr(text, "job 12 sweep"), "%s", text);
	cr_assert(strstr(text, "\n... and 2 more jobs\n"), "%s", text);
	free(text);
}

Test(frame, summary_and_log_lines)
{
	struct fixture f;
	fixture_init(&f, 1);
	char line[Q_LINE_MAX];
	q_progress_summary(&f.view, 80, false, line);
	cr_assert(strncmp(line, "job 12 sweep  [", 15) == 0, "%s", line);
	cr_assert(strstr(line, "  35.2 tasks/s  ETA 23s  1 failed\n"), "%s",
		  line);
	q_progress_log_line(&f.view, "2025-01-02 03:04:05", line);
	cr_assert_str_eq(line, "2025-01-02 03:04:05 job 12 sweep: 1220/2000 "
			 "finished (61%): 0 waiting, 776 ready, 4 running, "
			 "1219 done, 1 failed, 0 cancelled; 35.2 tasks/s  ETA "
			 "23s; workers: 4 alive, 1 idle, 1 lost\n");
	f.pj[0].finished = true;
	q_progress_log_finished(&f.pj[0], "T", line);
	cr_assert_str_eq(line, "T job 12 sweep finished: 0 waiting, 776 ready, "
			 "4 running, 1219 done, 1 failed, 0 cancelled\n");
}

/* ---- the terminal, on a pseudo-terminal ---- */

static int open_pty(int *slave)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	cr_assert_geq(master, 0);
	cr_assert_eq(grantpt(master), 0);
	cr_assert_eq(unlockpt(master), 0);
	*slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	cr_assert_geq(*slave, 0);
	return master;
}

/* What the terminal got so far. */
static size_t drain(int master, char *buf, size_t size)
{
	size_t n = 0;
	struct pollfd p = { .fd = master, .events = POLLIN };
	while (n + 1 < size && poll(&p, 1, 100) == 1) {
		ssize_t r = read(master, buf + n, size - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return n;
}

Test(term, not_a_terminal_gets_nothing)
{
	int fds[2];
	struct q_term t;
	cr_assert_eq(pipe(fds), 0);
	setenv("TERM", "xterm", 1);
	q_term_init(&t, fds[1]);
	cr_assert(!t.live);
	cr_assert(!t.color);
	cr_assert_eq(q_term_draw(&t, "a\n", 2), 0);
	cr_assert_eq(q_term_end(&t, true), 0);
	close(fds[1]);
	char buf[8];
	cr_assert_eq(read(fds[0], buf, sizeof(buf)), 0);
	close(fds[0]);
}

Test(term, dumb_and_no_color)
{
	int slave, master = open_pty(&slave);
	struct q_term t;
	setenv("TERM", "dumb", 1);
	q_term_init(&t, slave);
	cr_assert(!t.live, "TERM=dumb draws nothing");
	unsetenv("TERM");
	q_term_init(&t, slave);
	cr_assert(!t.live, "no TERM draws nothing");
	setenv("TERM", "xterm", 1);
	setenv("NO_COLOR", "1", 1);
	q_term_init(&t, slave);
	cr_assert(t.live);
	cr_assert(!t.color);
	setenv("NO_COLOR", "", 1);
	q_term_init(&t, slave);
	cr_assert(t.color, "an empty NO_COLOR is no NO_COLOR");
	close(slave);
	close(master);
}

Test(term, redraws_in_place)
{
	int slave, master = open_pty(&slave);
	char buf[4096];
	struct q_term t;
	setenv("TERM", "xterm", 1);
	q_term_init(&t, slave);
	cr_assert(t.live);
	cr_assert_eq(q_term_draw(&t, "one\ntwo\nthree\n", 14), 0);
	cr_assert_eq(t.shown, 3);
	drain(master, buf, sizeof(buf));
	cr_assert(strstr(buf, "\033[?25l"), "the cursor is hidden");
	cr_assert(strstr(buf, "\rone\033[K"), "%s", buf);
	cr_assert_eq(strstr(buf, "\033[2J"), NULL, "never a clear screen");
	cr_assert_eq(q_term_draw(&t, "uno\n", 4), 0);
	drain(master, buf, sizeof(buf));
	cr_assert(strstr(buf, "\033[3A\runo\033[K"), "%s", buf);
	cr_assert(strstr(buf, "\033[J"), "the old frame's rest is cleared");
	cr_assert_eq(t.shown, 1);
	cr_assert_eq(q_term_end(&t, true), 0);
	drain(master, buf, sizeof(buf));
	cr_assert_str_eq(buf, "\033[?25h");
	cr_assert_eq(q_term_draw(&t, "again\n", 6), 0);
	cr_assert_eq(q_term_end(&t, false), 0);
	drain(master, buf, sizeof(buf));
	cr_assert(strstr(buf, "\033[1A\r\033[J\033[?25h"), "erased: %s", buf);
	close(slave);
	close(master);
}

Test(term, never_taller_than_the_window)
{
	int slave, master = open_pty(&slave);
	struct q_term t;
	struct winsize ws = { .ws_row = 3, .ws_col = 20 };
	cr_assert_eq(ioctl(slave, TIOCSWINSZ, &ws), 0);
	setenv("TERM", "xterm", 1);
	q_term_init(&t, slave);
	cr_assert_eq(t.rows, 3);
	cr_assert_eq(t.cols, 20);
	cr_assert_eq(q_term_draw(&t, "1\n2\n3\n4\n", 8), 0);
	cr_assert_eq(t.shown, 2);
	ws.ws_col = 30;
	cr_assert_eq(ioctl(slave, TIOCSWINSZ, &ws), 0);
	q_term_changed(&t);
	cr_assert_eq(t.cols, 30);
	q_term_end(&t, false);
	close(slave);
	close(master);
}
