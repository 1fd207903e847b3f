/*
 * progress.h: live progress for people at a terminal (qstatus --watch
 * and --wait, qcollect --follow): bars, task rates, time left, and a
 * terminal frame redrawn in place.
 *
 * Two halves. The pieces (bars, rates, durations, lines fitted to a
 * width) are pure: text into a caller's buffer, no I/O, so they are unit
 * tested. The terminal (struct q_term) does the I/O:
 *
 *   struct q_term t;
 *   q_term_init(&t, STDOUT_FILENO);      // live only on a real terminal
 *   while (...) {
 *       q_term_changed(&t);              // window resized? re-reads it
 *       ... build the frame's lines for t.cols columns, t.rows rows ...
 *       q_term_draw(&t, text, len);      // one write per frame
 *   }
 *   q_term_end(&t, true);                // keep the last frame
 *
 * A frame is redrawn by moving the cursor up over the last one and
 * rewriting each line ("\r...\033[K"), never by clearing the screen
 * (that flickers). The cursor is hidden while frames are drawn and shown
 * again however the process ends: q_term_end, exit (atexit), SIGINT and
 * SIGTERM (then the signal kills the process as it would have: the shell
 * sees 130 or 143), Ctrl-Z (shown while stopped, hidden again after fg).
 * Only one terminal is live per process.
 */
#ifndef SPOOLQ_PROGRESS_H
#define SPOOLQ_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spoolq/status.h>

/* ---- pieces ---- */

/*
 * A bar of `width` columns for the tasks in `c`: '#' done, '!' failed,
 * 'x' cancelled, '>' running, '.' the rest (waiting or ready); with
 * `color`, in green, red, magenta, yellow and the default colour (SGR
 * escapes around each run, which take no columns). Each state's cells
 * are its cumulative share rounded down, so the bar is full only when
 * every task finished; a state with tasks has at least one cell when the
 * width allows (a single failure must show). Writes a NUL-terminated
 * string into buf (cut short if size is too small) and returns its
 * length.
 */
size_t q_progress_bar(char *buf, size_t size, const struct q_counts *c,
		      unsigned width, bool color);

/* Finished tasks (done, failed, cancelled) and the whole percent of
 * `total` they make, rounded down: 100 only when all finished (and for
 * an empty job). */
uint64_t q_progress_finished(const struct q_counts *c);
unsigned q_progress_percent(const struct q_counts *c);

/*
 * Tasks per second, smoothed: an exponentially weighted moving average
 * of the finished count's change between samples, with a time constant
 * of Q_RATE_TAU seconds, so one burst (a chunk of tasks committed at
 * once) does not swing it. Unknown until a task finishes after the first
 * sample: from the interval in which that happened on.
 */
#define Q_RATE_TAU 10.0

struct q_rate {
	double per_s;        /* the smoothed rate, when known */
	double last_t;       /* seconds, any monotonic origin */
	uint64_t last_n;
	unsigned samples;
};

#define Q_RATE_INIT { 0, 0, 0, 0 }

/* Add a sample: `finished` tasks at time `t` seconds. */
void q_rate_add(struct q_rate *r, double t, uint64_t finished);
bool q_rate_known(const struct q_rate *r);

/* "35.2 tasks/s", "350 tasks/s", "1.2k tasks/s", "4.0 tasks/min",
 * "2.5 tasks/h"; "-- tasks/s" while unknown. */
void q_progress_fmt_rate(char *buf, size_t size, const struct q_rate *r);

/* A duration for people: "45s", "12m05s", "3h20m", "2d04h", ">99d". */
void q_progress_fmt_duration(char *buf, size_t size, double seconds);

/* Time left for `remaining` tasks at the rate: a duration, "0s" when
 * none remain, "--" while the rate is unknown or zero. */
void q_progress_fmt_eta(char *buf, size_t size, const struct q_rate *r,
			uint64_t remaining);

/* Columns `s` takes on a terminal: SGR escapes take none, a UTF-8
 * sequence one (wide characters are not told apart). */
unsigned q_progress_width(const char *s);

/*
 * Cut `line` (NUL-terminated, in place, in a buffer of `size` bytes) to
 * at most `cols` columns, so a frame's lines never wrap (a wrapped line
 * breaks the redraw, which counts lines); a cut inside colour ends with
 * a reset.
 */
void q_progress_fit(char *line, size_t size, unsigned cols);

/* Copy `src` into dst (always NUL-terminated) with every control byte
 * ('\033' above all) made '?': text from the spool (a job or task name)
 * cannot move the cursor or change colours. */
void q_progress_clean(char *dst, size_t size, const char *src);

/*
 * Lines of bars, aligned: "LABEL  [BAR] PCT% FINISHED/TOTAL  EXTRA".
 * Lay out once for a set of lines (the widest label and extra, the
 * largest total) and a window width; the bar takes what is left, up to
 * Q_BAR_MAX columns, and is left out below Q_BAR_MIN (a narrow window
 * keeps the numbers). Every line fits in cols - 1 columns.
 */
#define Q_BAR_MIN 10
#define Q_BAR_MAX 60
#define Q_LINE_MAX 1024      /* bytes of one frame line, escapes included */

struct q_bar_layout {
	unsigned cols;       /* the window's width */
	unsigned label_w;    /* the label column */
	unsigned count_w;    /* digits of the largest total */
	unsigned bar_w;      /* 0: no bar */
	bool color;
};

void q_bar_layout(struct q_bar_layout *l, unsigned cols, bool color,
		  unsigned label_w, uint64_t max_total, unsigned extra_w);
/* One line into buf (at least Q_LINE_MAX bytes); `extra` may be NULL. */
void q_bar_line(char *buf, const struct q_bar_layout *l, const char *label,
		const struct q_counts *c, const char *extra);

/* ---- views: jobs as qstatus --watch and --wait show them ---- */

struct q_progress_job {
	uint64_t id;
	const struct q_job *job;     /* its name and groups */
	struct q_counts sum;         /* its tasks at the last look */
	struct q_counts *groups;     /* per group (job->ngroups), or NULL */
	struct q_rate rate;
	bool finished;               /* finished, and counted since */
};

struct q_progress_view {
	struct q_progress_job *jobs;
	size_t n;
	struct q_counts all;         /* the sum over the jobs */
	struct q_rate rate;          /* of `all` */
	size_t alive, idle, lost;    /* workers */
	bool idle_known;             /* idle was looked at */
};

void q_progress_add_counts(struct q_counts *to, const struct q_counts *c);
bool q_progress_all_finished(const struct q_progress_view *v);

/*
 * --watch on a terminal: a bar per job ("job 12 sweep") and, for a job
 * of several groups, a bar per group under it; for several jobs a bar
 * for all ("3 jobs"); then "tasks: N ready, N running, ..." (the states
 * with tasks) and "workers: N alive, N idle, N lost". At most rows - 1
 * lines of at most cols - 1 columns: when the window is short the group
 * bars go first, then jobs (a line says how many are not shown).
 * *text_out (malloc'ed) holds whole lines. 0 or -errno.
 */
int q_progress_frame(const struct q_progress_view *v, unsigned cols,
		     unsigned rows, bool color, char **text_out,
		     size_t *len_out);

/* --wait on a terminal and qcollect --follow: one bar for all the jobs,
 * ending in '\n', into buf (Q_LINE_MAX bytes). */
void q_progress_summary(const struct q_progress_view *v, unsigned cols,
			bool color, char *buf);

/*
 * For a log (--watch not on a terminal), each ending in '\n', into buf
 * (Q_LINE_MAX bytes), no escapes:
 *   "STAMP job 12 sweep: 1220/2000 finished (61%): 764 waiting, ...;
 *    35.2 tasks/s  ETA 22s; workers: 4 alive, 1 idle, 0 lost"
 *   "STAMP job 12 sweep finished: 0 waiting, ..., 2 failed, 0 cancelled"
 */
void q_progress_log_line(const struct q_progress_view *v, const char *stamp,
			 char *buf);
void q_progress_log_finished(const struct q_progress_job *j,
			     const char *stamp, char *buf);

/* ---- the terminal ---- */

struct q_term {
	int fd;
	bool live;           /* a terminal (isatty) whose TERM is set and not
				"dumb": frames are drawn; otherwise
				q_term_draw and q_term_end do nothing */
	bool color;          /* live, and NO_COLOR unset or empty */
	unsigned cols, rows; /* the window (80x24 when it cannot be told) */
	unsigned shown;      /* lines of the frame on the screen */
};

/* Look at fd and the environment (TERM, NO_COLOR); draws nothing. */
void q_term_init(struct q_term *t, int fd);

/* Whether the window changed size (SIGWINCH) or the process was
 * continued after a stop since the last call; re-reads cols and rows
 * either way. */
bool q_term_changed(struct q_term *t);

/* Replace the frame on the screen by `text` (whole lines, each ending
 * in '\n', fitted to the window) in one write. 0 or -errno. */
int q_term_draw(struct q_term *t, const char *text, size_t len);

/* Remove the frame from the screen (before other output goes to the
 * same terminal, or when done); the next draw starts a new one below
 * the cursor. 0 or -errno. */
int q_term_erase(struct q_term *t);

/* Done drawing: keep the last frame on the screen or erase it, and show
 * the cursor. 0 or -errno. */
int q_term_end(struct q_term *t, bool keep);

#endif
