/*
 * progress.c: bars, rates, time left, and a terminal redrawn in place
 * (progress.h has the calling sequence).
 *
 * Past 600 lines: three parts of one concept, each needing the others'
 * helpers: the pieces (pure), the views that compose them into frames
 * and lines (pure), the terminal (the only I/O). Split the terminal out
 * first if it grows.
 *
 * Design notes
 * 1. Only what a person watches gets escapes: a terminal whose TERM is
 *    set and is not "dumb". Anything else (a pipe, a file, a batch log,
 *    Emacs' shell) gets no byte from struct q_term at all; the callers
 *    decide what plain text, if any, to write there instead.
 * 2. One write per frame: cursor up over the old frame, each line
 *    rewritten from column 0 and cleared to its end, then the screen
 *    cleared below (the new frame may be shorter). Nothing is cleared
 *    before it is overwritten, so nothing flickers.
 * 3. The redraw counts lines, so no line may wrap: every line is fitted
 *    to the width, and a frame never has more lines than the window
 *    (cursor-up stops at the top of the screen).
 * 4. The cursor is hidden only while a frame is up, and the flag that
 *    says so is set before the escape is written: a signal arriving in
 *    between shows a cursor that may not have been hidden, which is
 *    harmless, never the other way round. The handlers use write(2) and
 *    sigaction only (async-signal-safe).
 * 5. A fatal signal is not turned into an exit status: after showing the
 *    cursor the handler lets the signal kill the process as it would
 *    have, so a shell loop around the command sees the interrupt and
 *    stops (the shell reports 130 for SIGINT, 143 for SIGTERM).
 * 6. Colour is decoration: every state also has its own character, so
 *    NO_COLOR (https://no-color.org) loses no information.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <spoolq/spoolq.h>

#include "progress.h"

#define SGR_RESET "\033[0m"

/* ---- pieces ---- */

uint64_t q_progress_finished(const struct q_counts *c)
{
	return c->done + c->failed + c->cancelled;
}

unsigned q_progress_percent(const struct q_counts *c)
{
	uint64_t fin = q_progress_finished(c);
	if (c->total == 0 || fin >= c->total)
		return 100;
	return (unsigned)((double)fin * 100.0 / (double)c->total);
}

/* The bar's states, in drawing order; the last is the rest. */
enum { B_DONE, B_FAILED, B_CANCELLED, B_RUNNING, B_REST, B_N };

static const char bar_char[B_N] = { '#', '!', 'x', '>', '.' };
static const char *const bar_sgr[B_N] = { "\033[32m", "\033[31m", "\033[35m",
					   "\033[33m", NULL };

/* Append [s, s+n) to buf at *len, keeping room for the NUL. */
static void put(char *buf, size_t size, size_t *len, const char *s, size_t n)
{
	if (*len + 1 >= size)
		return;
	if (n > size - 1 - *len)
		n = size - 1 - *len;
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
}

static void put_str(char *buf, size_t size, size_t *len, const char *s)
{
	put(buf, size, len, s, strlen(s));
}

static void put_run(char *buf, size_t size, size_t *len, char ch, unsigned n)
{
	char run[256];
	while (n > 0) {
		unsigned k = n < sizeof(run) ? n : (unsigned)sizeof(run);
		memset(run, ch, k);
		put(buf, size, len, run, k);
		n -= k;
	}
}

size_t q_progress_bar(char *buf, size_t size, const struct q_counts *c,
		      unsigned width, bool color)
{
	uint64_t n[B_N] = { c->done, c->failed, c->cancelled, c->running, 0 };
	unsigned cells[B_N] = { 0 };
	size_t len = 0;

	if (size == 0)
		return 0;
	buf[0] = '\0';
	/* A moving spool can count a task in two states for one scan: the
	 * denominator is whichever is larger, the total or the sum. */
	uint64_t sum = c->done + c->failed + c->cancelled + c->running +
		       c->waiting + c->ready;
	uint64_t denom = sum > c->total ? sum : c->total;
	if (denom == 0) {
		n[B_DONE] = denom = 1;   /* nothing to do: all done */
	} else {
		n[B_REST] = denom - (n[B_DONE] + n[B_FAILED] + n[B_CANCELLED] +
				     n[B_RUNNING]);
	}
	/* Cumulative shares rounded down: the bar fills only at the end. */
	uint64_t cum = 0;
	unsigned used = 0;
	for (int s = 0; s < B_REST; s++) {
		cum += n[s];
		unsigned upto = (unsigned)((double)width * (double)cum /
					   (double)denom);
		if (upto > width)
			upto = width;
		cells[s] = upto - used;
		used = upto;
	}
	cells[B_REST] = width - used;
	/* Every state with tasks gets a cell, taken from the rest (so done
	 * stays exact) or else from the widest, which keeps at least one: a
	 * single failure among thousands shows. */
	for (int s = 0; s < B_N; s++) {
		if (n[s] == 0 || cells[s] > 0)
			continue;
		int widest = B_REST;
		for (int k = 0; k < B_N && cells[B_REST] < 2; k++)
			if (cells[k] > cells[widest])
				widest = k;
		if (cells[widest] < 2)
			break;
		cells[widest]--;
		cells[s]++;
	}
	for (int s = 0; s < B_N; s++) {
		if (cells[s] == 0)
			continue;
		bool sgr = color && bar_sgr[s];
		if (sgr)
			put_str(buf, size, &len, bar_sgr[s]);
		put_run(buf, size, &len, bar_char[s], cells[s]);
		if (sgr)
			put_str(buf, size, &len, SGR_RESET);
	}
	return len;
}

void q_rate_add(struct q_rate *r, double t, uint64_t finished)
{
	if (r->samples == 0 || finished < r->last_n) {
		/* The first sample, or a count that went back (a different
		 * set of jobs): a new baseline. */
		r->last_t = t;
		r->last_n = finished;
		r->samples = 1;
		return;
	}
	if (r->samples == 1 && finished == r->last_n) {
		/* Nothing finished yet: no rate, and no zeros for the
		 * average to climb out of once the job gets going (it may
		 * wait for another job, or for workers). */
		r->last_t = t;
		return;
	}
	double dt = t - r->last_t;
	if (dt < 1e-3)
		return;     /* too close to tell anything */
	double now = (double)(finished - r->last_n) / dt;
	if (r->samples == 1)
		r->per_s = now;
	else
		r->per_s += (1.0 - exp(-dt / Q_RATE_TAU)) * (now - r->per_s);
	r->last_t = t;
	r->last_n = finished;
	if (r->samples < 2)
		r->samples = 2;
}

bool q_rate_known(const struct q_rate *r)
{
	return r->samples >= 2;
}

/* "35.2", "350", "1.2k", "12k", "3.4M": three significant figures at
 * most, so the field keeps its width. */
static void fmt_amount(char *buf, size_t size, double v)
{
	const char *unit = "";
	if (v >= 999.5e3) {
		v /= 1e6;
		unit = "M";
	} else if (v >= 999.5) {
		v /= 1e3;
		unit = "k";
	}
	snprintf(buf, size, v < 99.95 ? "%.1f%s" : "%.0f%s", v, unit);
}

void q_progress_fmt_rate(char *buf, size_t size, const struct q_rate *r)
{
	char amount[32];
	if (!q_rate_known(r)) {
		snprintf(buf, size, "-- tasks/s");
		return;
	}
	/* Slow tasks (hours each) read better per minute or per hour. */
	double v = r->per_s;
	const char *per = "s";
	if (v > 0 && v < 0.995 / 60) {
		v *= 3600;
		per = "h";
	} else if (v > 0 && v < 0.995) {
		v *= 60;
		per = "min";
	}
	fmt_amount(amount, sizeof(amount), v);
	snprintf(buf, size, "%s tasks/%s", amount, per);
}

void q_progress_fmt_duration(char *buf, size_t size, double seconds)
{
	if (!(seconds >= 0))     /* NaN too */
		seconds = 0;
	if (seconds >= 100 * 86400.0) {
		snprintf(buf, size, ">99d");
		return;
	}
	unsigned long s = (unsigned long)ceil(seconds);
	if (s < 60)
		snprintf(buf, size, "%lus", s);
	else if (s < 3600)
		snprintf(buf, size, "%lum%02lus", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%luh%02lum", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, size, "%lud%02luh", s / 86400, s % 86400 / 3600);
}

void q_progress_fmt_eta(char *buf, size_t size, const struct q_rate *r,
			uint64_t remaining)
{
	if (remaining == 0)
		snprintf(buf, size, "0s");
	else if (!q_rate_known(r) || !(r->per_s > 0))
		snprintf(buf, size, "--");
	else
		q_progress_fmt_duration(buf, size, (double)remaining / r->per_s);
}

/* Length of the escape sequence at s (an SGR or any CSI: ESC [ params
 * final), 0 if s does not start one. */
static size_t escape_len(const char *s)
{
	if (s[0] != '\033' || s[1] != '[')
		return 0;
	size_t i = 2;
	while (s[i] && !(s[i] >= 0x40 && s[i] <= 0x7e))
		i++;
	return s[i] ? i + 1 : i;
}

static bool continuation(unsigned char ch)
{
	return (ch & 0xc0) == 0x80;
}

unsigned q_progress_width(const char *s)
{
	unsigned w = 0;
	while (*s) {
		size_t e = escape_len(s);
		if (e) {
			s += e;
			continue;
		}
		if (!continuation((unsigned char)*s))
			w++;
		s++;
	}
	return w;
}

void q_progress_fit(char *line, size_t size, unsigned cols)
{
	unsigned w = 0;
	bool colored = false;   /* an SGR other than a reset is in effect */
	char *p = line;
	while (*p) {
		size_t e = escape_len(p);
		if (e) {
			if (p[e - 1] == 'm')   /* an SGR: is it a reset? */
				colored = !(e == 3 || (e == 4 && p[2] == '0'));
			p += e;
			continue;
		}
		if (!continuation((unsigned char)*p)) {
			if (w == cols)
				break;
			w++;
		}
		p++;
	}
	if (!*p)
		return;
	*p = '\0';
	if (!colored)
		return;
	/* Room for the reset: step back over whole characters if need be. */
	size_t need = sizeof(SGR_RESET) - 1;
	while ((size_t)(p - line) + need + 1 > size && p > line) {
		do
			p--;
		while (p > line && continuation((unsigned char)*p));
		*p = '\0';
	}
	memcpy(p, SGR_RESET, need + 1);
}

void q_progress_clean(char *dst, size_t size, const char *src)
{
	size_t i = 0;
	if (size == 0)
		return;
	for (; src[i] && i + 1 < size; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	dst[i] = '\0';
}

static unsigned digits(uint64_t v)
{
	unsigned d = 1;
	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* Columns of a line without its bar: label, two spaces, "100%", a
 * space, "FINISHED/TOTAL", and two spaces and the extra. */
static unsigned fixed_width(unsigned label_w, unsigned count_w,
			    unsigned extra_w)
{
	return label_w + 2 + 4 + 1 + 2 * count_w + 1 +
	       (extra_w ? 2 + extra_w : 0);
}

void q_bar_layout(struct q_bar_layout *l, unsigned cols, bool color,
		  unsigned label_w, uint64_t max_total, unsigned extra_w)
{
	unsigned avail = cols > 1 ? cols - 1 : 1;
	l->cols = cols;
	l->color = color;
	l->count_w = digits(max_total);
	unsigned fixed = fixed_width(label_w, l->count_w, extra_w);
	/* Too narrow for everything: the label gives way first (down to 8
	 * columns); q_progress_fit cuts what still does not fit. */
	if (fixed > avail && label_w > 8) {
		unsigned over = fixed - avail;
		label_w = label_w > over + 8 ? label_w - over : 8;
		fixed = fixed_width(label_w, l->count_w, extra_w);
	}
	l->label_w = label_w;
	/* "[", the bar, "] " */
	unsigned room = avail > fixed + 3 ? avail - fixed - 3 : 0;
	l->bar_w = room < Q_BAR_MIN ? 0 : room > Q_BAR_MAX ? Q_BAR_MAX : room;
}

void q_bar_line(char *buf, const struct q_bar_layout *l, const char *label,
		const struct q_counts *c, const char *extra)
{
	char text[Q_LINE_MAX];
	size_t len = 0;
	size_t size = Q_LINE_MAX;

	buf[0] = '\0';
	q_progress_clean(text, sizeof(text), label);
	q_progress_fit(text, sizeof(text), l->label_w);
	put_str(buf, size, &len, text);
	put_run(buf, size, &len, ' ', l->label_w - q_progress_width(text) + 2);
	if (l->bar_w) {
		put_str(buf, size, &len, "[");
		len += q_progress_bar(buf + len, size - len, c, l->bar_w,
				      l->color);
		put_str(buf, size, &len, "] ");
	}
	snprintf(text, sizeof(text), "%3u%% %*llu/%-*llu",
		 q_progress_percent(c), (int)l->count_w,
		 (unsigned long long)q_progress_finished(c), (int)l->count_w,
		 (unsigned long long)c->total);
	put_str(buf, size, &len, text);
	if (extra && extra[0]) {
		put_str(buf, size, &len, "  ");
		q_progress_clean(text, sizeof(text), extra);
		put_str(buf, size, &len, text);
	}
	/* Trailing blanks would only be cleared again by the redraw. */
	while (len > 0 && buf[len - 1] == ' ')
		buf[--len] = '\0';
	q_progress_fit(buf, size, l->cols > 1 ? l->cols - 1 : 1);
}

/* ---- views ---- */

void q_progress_add_counts(struct q_counts *to, const struct q_counts *c)
{
	to->waiting += c->waiting;
	to->ready += c->ready;
	to->running += c->running;
	to->done += c->done;
	to->failed += c->failed;
	to->cancelled += c->cancelled;
	to->cached += c->cached;
	to->total += c->total;
}

bool q_progress_all_finished(const struct q_progress_view *v)
{
	for (size_t i = 0; i < v->n; i++)
		if (!v->jobs[i].finished)
			return false;
	return true;
}

static unsigned max_u(unsigned a, unsigned b)
{
	return a > b ? a : b;
}

/* "job 12 sweep" (the name cleaned) or, for several, "3 jobs". */
static void view_label(const struct q_progress_view *v,
		       const struct q_progress_job *j, char *out, size_t size)
{
	char name[Q_NAME_MAX + 1];
	if (!j) {
		snprintf(out, size, "%zu jobs", v->n);
		return;
	}
	q_progress_clean(name, sizeof(name), j->job ? j->job->name : "");
	snprintf(out, size, "job %llu %s", (unsigned long long)j->id, name);
}

/* What follows a bar: "35.2 tasks/s  ETA 22s", or how it ended. */
static void view_extra(const struct q_counts *c, const struct q_rate *r,
		       bool finished, char *out, size_t size)
{
	char rate[32], eta[32];
	if (finished && c->failed + c->cancelled)
		snprintf(out, size, "finished: %llu failed, %llu cancelled",
			 (unsigned long long)c->failed,
			 (unsigned long long)c->cancelled);
	else if (finished)
		snprintf(out, size, "finished");
	else {
		q_progress_fmt_rate(rate, sizeof(rate), r);
		q_progress_fmt_eta(eta, sizeof(eta), r,
				   c->total - q_progress_finished(c));
		snprintf(out, size, "%s  ETA %s", rate, eta);
	}
}

/* "N waiting, N ready, N running, N done, N failed, N cancelled"; on a
 * terminal (`brief`) the states with tasks only, so the line fits. */
static void counts_text(const struct q_counts *c, bool brief, char *out,
			size_t size)
{
	const uint64_t n[] = { c->waiting, c->ready, c->running, c->done,
			       c->failed, c->cancelled };
	static const char *const what[] = { "waiting", "ready", "running",
					    "done", "failed", "cancelled" };
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
		if (brief && n[i] == 0)
			continue;
		char part[64];
		snprintf(part, sizeof(part), "%s%llu %s", len ? ", " : "",
			 (unsigned long long)n[i], what[i]);
		put_str(out, size, &len, part);
	}
	if (len == 0)
		snprintf(out, size, "none");
}

static void workers_text(const struct q_progress_view *v, char *out,
			 size_t size)
{
	if (v->idle_known)
		snprintf(out, size, "workers: %zu alive, %zu idle, %zu lost",
			 v->alive, v->idle, v->lost);
	else
		snprintf(out, size, "workers: %zu alive, %zu lost", v->alive,
			 v->lost);
}

/* A line of text into the frame, fitted. */
static void frame_text(FILE *m, char *line, unsigned cols)
{
	q_progress_fit(line, Q_LINE_MAX, cols > 1 ? cols - 1 : 1);
	fputs(line, m);
	fputc('\n', m);
}

int q_progress_frame(const struct q_progress_view *v, unsigned cols,
		     unsigned rows, bool color, char **text_out,
		     size_t *len_out)
{
	char label[Q_LINE_MAX], extra[128], line[Q_LINE_MAX];
	char counts[256];
	size_t avail = rows > 1 ? rows - 1 : 1;
	size_t summary = v->n > 1 ? 3 : 2, njobs = v->n;
	bool more = njobs + summary > avail;
	if (more)
		njobs = avail > summary + 1 ? avail - summary - 1 : 0;
	size_t used = njobs + summary + more;
	size_t room = avail > used ? avail - used : 0;

	/* One layout for every line shown, so the bars line up; the extra
	 * keeps room for a rate and a long ETA, so the bars do not jump. */
	unsigned label_w = 0, extra_w = 24;
	uint64_t max_total = v->n > 1 ? v->all.total : 0;
	for (size_t i = 0; i < njobs; i++) {
		const struct q_progress_job *j = &v->jobs[i];
		view_label(v, j, label, sizeof(label));
		label_w = max_u(label_w, q_progress_width(label));
		view_extra(&j->sum, &j->rate, j->finished, extra,
			   sizeof(extra));
		extra_w = max_u(extra_w, q_progress_width(extra));
		for (size_t g = 0; j->groups && j->job->ngroups > 1 &&
		     g < j->job->ngroups; g++)
			label_w = max_u(label_w, 2 + q_progress_width(
						j->job->groups[g].name));
		if (j->sum.total > max_total)
			max_total = j->sum.total;
	}
	struct q_bar_layout lay;
	q_bar_layout(&lay, cols, color, label_w > 24 ? 24 : label_w,
		     max_total, extra_w);

	FILE *m = open_memstream(text_out, len_out);
	if (!m)
		return -errno;
	for (size_t i = 0; i < njobs; i++) {
		const struct q_progress_job *j = &v->jobs[i];
		view_label(v, j, label, sizeof(label));
		view_extra(&j->sum, &j->rate, j->finished, extra,
			   sizeof(extra));
		q_bar_line(line, &lay, label, &j->sum, extra);
		fprintf(m, "%s\n", line);
		if (!j->groups || j->job->ngroups < 2 ||
		    j->job->ngroups > room)
			continue;
		room -= j->job->ngroups;
		for (size_t g = 0; g < j->job->ngroups; g++) {
			snprintf(label, sizeof(label), "  %s",
				 j->job->groups[g].name);
			q_bar_line(line, &lay, label, &j->groups[g], NULL);
			fprintf(m, "%s\n", line);
		}
	}
	if (more) {
		snprintf(line, sizeof(line), "... and %zu more jobs",
			 v->n - njobs);
		frame_text(m, line, cols);
	}
	if (v->n > 1) {
		/* All of them: a bar of its own, with their rate. */
		view_label(v, NULL, label, sizeof(label));
		view_extra(&v->all, &v->rate, q_progress_all_finished(v),
			   extra, sizeof(extra));
		q_bar_line(line, &lay, label, &v->all, extra);
		fprintf(m, "%s\n", line);
	}
	counts_text(&v->all, true, counts, sizeof(counts));
	snprintf(line, sizeof(line), "tasks: %s", counts);
	frame_text(m, line, cols);
	workers_text(v, line, sizeof(line));
	frame_text(m, line, cols);
	if (fclose(m) != 0) {
		int e = errno;
		free(*text_out);
		*text_out = NULL;
		return -e;
	}
	return 0;
}

void q_progress_summary(const struct q_progress_view *v, unsigned cols,
			bool color, char *buf)
{
	char label[Q_LINE_MAX], extra[128];
	size_t n;
	view_label(v, v->n == 1 ? &v->jobs[0] : NULL, label, sizeof(label));
	view_extra(&v->all, &v->rate, q_progress_all_finished(v), extra,
		   sizeof(extra));
	if (v->all.failed && !q_progress_all_finished(v)) {
		n = strlen(extra);
		snprintf(extra + n, sizeof(extra) - n, "  %llu failed",
			 (unsigned long long)v->all.failed);
	}
	unsigned label_w = q_progress_width(label);
	struct q_bar_layout lay;
	q_bar_layout(&lay, cols, color, label_w > 24 ? 24 : label_w,
		     v->all.total, q_progress_width(extra));
	q_bar_line(buf, &lay, label, &v->all, extra);
	n = strlen(buf);
	if (n + 1 < Q_LINE_MAX) {
		buf[n] = '\n';
		buf[n + 1] = '\0';
	}
}

void q_progress_log_line(const struct q_progress_view *v, const char *stamp,
			 char *buf)
{
	char label[Q_NAME_MAX + 32], counts[256], extra[128], workers[128];
	view_label(v, v->n == 1 ? &v->jobs[0] : NULL, label, sizeof(label));
	counts_text(&v->all, false, counts, sizeof(counts));
	view_extra(&v->all, &v->rate, q_progress_all_finished(v), extra,
		   sizeof(extra));
	workers_text(v, workers, sizeof(workers));
	snprintf(buf, Q_LINE_MAX, "%s %s: %llu/%llu finished (%u%%): %s; "
		 "%s; %s\n", stamp, label,
		 (unsigned long long)q_progress_finished(&v->all),
		 (unsigned long long)v->all.total,
		 q_progress_percent(&v->all), counts, extra, workers);
}

void q_progress_log_finished(const struct q_progress_job *j,
			     const char *stamp, char *buf)
{
	char name[Q_NAME_MAX + 1], counts[256];
	q_progress_clean(name, sizeof(name), j->job ? j->job->name : "");
	counts_text(&j->sum, false, counts, sizeof(counts));
	snprintf(buf, Q_LINE_MAX, "%s job %llu %s finished: %s\n", stamp,
		 (unsigned long long)j->id, name, counts);
}

/* ---- the terminal ---- */

static const char show_cursor[] = "\033[?25h";
static const char hide_cursor[] = "\033[?25l";

/* For the handlers: the live terminal's fd, and whether its cursor is
 * hidden (design note 4). */
static volatile sig_atomic_t live_fd = -1;
static volatile sig_atomic_t cursor_hidden;
static volatile sig_atomic_t window_changed;
static volatile sig_atomic_t was_stopped;

static void restore_cursor(void)
{
	if (cursor_hidden && live_fd >= 0) {
		cursor_hidden = 0;
		/* Nothing can be done about a failed write here: the
		 * terminal is gone or the process is on its way out. */
		ssize_t r = write(live_fd, show_cursor, sizeof(show_cursor) - 1);
		(void)r;
	}
}

static void set_handler(int sig, void (*fn)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	/* Restart the spool's reads and writes; poll() and nanosleep()
	 * still return early, so a resize redraws at once. */
	sa.sa_flags = SA_RESTART;
	sigaction(sig, &sa, NULL);
}

/* SIGINT, SIGTERM: the cursor back, then die of the signal (design
 * note 5). It is blocked while this runs, so raise() takes effect on
 * return. */
static void on_fatal(int sig)
{
	int saved = errno;
	restore_cursor();
	set_handler(sig, SIG_DFL);
	raise(sig);
	errno = saved;
}

/* Ctrl-Z: the shell gets a visible cursor while this is stopped. */
static void on_tstp(int sig)
{
	int saved = errno;
	restore_cursor();
	set_handler(sig, SIG_DFL);
	raise(sig);
	errno = saved;
}

/* Continued (fg, bg): the shell wrote below the old frame meanwhile, so
 * the next frame starts afresh; Ctrl-Z is caught again. */
static void on_cont(int sig)
{
	(void)sig;
	int saved = errno;
	set_handler(SIGTSTP, on_tstp);
	was_stopped = 1;
	window_changed = 1;
	errno = saved;
}

static void on_winch(int sig)
{
	(void)sig;
	window_changed = 1;
}

static void read_window(struct q_term *t)
{
	struct winsize ws;
	t->cols = 80;
	t->rows = 24;
	if (ioctl(t->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 &&
	    ws.ws_row > 0) {
		t->cols = ws.ws_col;
		t->rows = ws.ws_row;
	}
}

void q_term_init(struct q_term *t, int fd)
{
	const char *term = getenv("TERM");
	const char *no_color = getenv("NO_COLOR");
	memset(t, 0, sizeof(*t));
	t->fd = fd;
	t->live = isatty(fd) && term && term[0] && strcmp(term, "dumb") != 0;
	t->color = t->live && !(no_color && no_color[0]);
	t->cols = 80;
	t->rows = 24;
	if (t->live)
		read_window(t);
}

bool q_term_changed(struct q_term *t)
{
	bool changed = window_changed;
	window_changed = 0;
	if (t->live)
		read_window(t);
	return changed;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The first frame: handlers that give the cursor back (only now: a
 * command that never draws changes no signal disposition). */
static void install(struct q_term *t)
{
	static bool installed;
	live_fd = t->fd;
	if (installed)
		return;
	installed = true;
	atexit(restore_cursor);
	set_handler(SIGINT, on_fatal);
	set_handler(SIGTERM, on_fatal);
	set_handler(SIGTSTP, on_tstp);
	set_handler(SIGCONT, on_cont);
	set_handler(SIGWINCH, on_winch);
}

int q_term_draw(struct q_term *t, const char *text, size_t len)
{
	if (!t->live)
		return 0;
	install(t);
	if (was_stopped) {
		was_stopped = 0;
		t->shown = 0;
	}
	unsigned max_lines = t->rows > 1 ? t->rows - 1 : 1;
	size_t nl = 0;
	for (size_t i = 0; i < len; i++)
		nl += text[i] == '\n';
	char *out = malloc(len + 4 * nl + 64);
	if (!out)
		return -ENOMEM;
	size_t n = 0;
	if (!cursor_hidden) {
		cursor_hidden = 1;
		memcpy(out + n, hide_cursor, sizeof(hide_cursor) - 1);
		n += sizeof(hide_cursor) - 1;
	}
	if (t->shown)
		n += (size_t)sprintf(out + n, "\033[%uA", t->shown);
	unsigned lines = 0;
	for (size_t i = 0; i < len && lines < max_lines; lines++) {
		const char *eol = memchr(text + i, '\n', len - i);
		size_t k = eol ? (size_t)(eol - (text + i)) : len - i;
		out[n++] = '\r';
		memcpy(out + n, text + i, k);
		n += k;
		memcpy(out + n, "\033[K\n", 4);
		n += 4;
		i += k + 1;
	}
	memcpy(out + n, "\033[J", 3);
	n += 3;
	int ret = write_all(t->fd, out, n);
	free(out);
	t->shown = lines;
	return ret;
}

int q_term_erase(struct q_term *t)
{
	char seq[32];
	if (!t->live || t->shown == 0)
		return 0;
	int n = snprintf(seq, sizeof(seq), "\033[%uA\r\033[J", t->shown);
	t->shown = 0;
	return write_all(t->fd, seq, (size_t)n);
}

int q_term_end(struct q_term *t, bool keep)
{
	int ret = 0;
	if (!t->live)
		return 0;
	if (!keep)
		ret = q_term_erase(t);
	t->shown = 0;
	if (cursor_hidden) {
		cursor_hidden = 0;
		int r = write_all(t->fd, show_cursor, sizeof(show_cursor) - 1);
		if (ret == 0)
			ret = r;
	}
	return ret;
}
