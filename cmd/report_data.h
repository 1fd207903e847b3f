/*
 * report_data.h: what the report shows, gathered in one pass over the
 * job's attempts (q_job_for_each_attempt) and summed up once.
 *
 *   struct report_data d;
 *   report_data_init(&d, job);
 *   q_job_for_each_attempt(h, report_data_add, &d, &err);
 *   report_data_set_workers(&d, infos, ninfos);   // registered cpus
 *   report_data_finish(&d, now_ns);
 *   ... draw (report_svg.h), list (report_tables.h) ...
 *   report_data_release(&d);
 *
 * Memory stays bounded for a million tasks: one small struct per attempt,
 * no string per attempt (worker ids, hosts and reasons are interned), and
 * fixed-size lists for the tables.
 */
#ifndef SPOOLQ_REPORT_DATA_H
#define SPOOLQ_REPORT_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spoolq/spoolq.h>

#define REPORT_NONE UINT32_MAX
#define REPORT_SLOWEST 20        /* rows of the slowest-tasks table */
#define REPORT_FAILED_MAX 100    /* failed tasks listed, with stderr */
#define REPORT_OTHER_MAX 100     /* retried, handed-back, lost attempts */
#define REPORT_SLOTS_MAX 1024    /* rows per worker: slots beyond are
				  * drawn in the last row */
/* Past these the task stream is drawn as time bins per row (a bar per
 * attempt would be narrower than a pixel, and the page too big). */
#define REPORT_DETAIL_MAX 20000  /* bars in all */
#define REPORT_ROW_DETAIL_MAX 400/* bars in one row */
/* Past this many worker x slot rows, one row per worker. */
#define REPORT_ROWS_MAX 1024

/* Interned strings: index 0 is always "". */
struct report_strings {
	char **v;
	size_t n, cap;
	uint32_t *slot;     /* open addressing: index + 1, or 0 */
	size_t nslot;       /* a power of two */
};

void report_strings_init(struct report_strings *s);
void report_strings_release(struct report_strings *s);
uint32_t report_strings_intern(struct report_strings *s, const char *str);
/* The index of str, or REPORT_NONE when it was never interned. */
uint32_t report_strings_find(const struct report_strings *s,
			     const char *str);

struct report_attempt {
	uint64_t item;
	int64_t claimed_ns, start_ns, end_ns;  /* Unix ns, 0 unknown */
	uint32_t worker;      /* index into report_data.w, or REPORT_NONE */
	uint32_t group;       /* index into job->groups */
	uint32_t reason;      /* in report_data.names */
	uint32_t attempt;
	uint32_t slot;        /* clamped below REPORT_SLOTS_MAX */
	int32_t exit_code;
	uint16_t threads;
	uint8_t end;          /* enum q_attempt_end */
	uint8_t state;        /* enum q_state */
	bool reused;
};

struct report_worker {
	uint32_t id;          /* in report_data.worker_ids */
	uint32_t host;        /* in report_data.names */
	unsigned cpus;        /* as registered, or 0 when it is gone */
	unsigned slots;       /* its rows: cpus, or the slots seen used */
	uint64_t runs, failed;
	double busy_core_s;   /* sum of run time x threads */
	int64_t first_ns;     /* its first claim in this job */
	int64_t last_ns;      /* its last end (now while it runs a task) */
	size_t row;           /* its first row in the task stream */
};

struct report_data {
	const struct q_job *job;
	struct report_attempt *a;
	size_t n, cap;
	struct report_strings names;       /* hosts and reasons */
	struct report_strings worker_ids;  /* index = worker index */
	struct report_worker *w;
	size_t nw, capw;
	size_t *order;          /* worker indices by host, then id */
	int64_t origin_ns;      /* the job's first claim: time 0 */
	int64_t end_ns;         /* its last end, or now while tasks run */
	int64_t now_ns;
	/* The task stream. */
	size_t nrows;
	bool per_worker_rows;   /* one row per worker, not per slot */
	bool aggregate;         /* time bins, not a bar per attempt */
	uint64_t ndrawn;        /* attempts with a bar */
	uint64_t max_row;       /* most bars in one row */
	/* Tables: indices into a. */
	size_t slowest[REPORT_SLOWEST];
	size_t nslowest;
	size_t failed[REPORT_FAILED_MAX];
	size_t nfailed_listed;
	size_t other[REPORT_OTHER_MAX];
	size_t nother_listed;
	/* Counts of attempts by how they ended. */
	uint64_t nfinal_failed, nretry, nhandback, nlost, nrunning, nreused;
};

void report_data_init(struct report_data *d, const struct q_job *job);
void report_data_release(struct report_data *d);
/* A q_attempt_fn: copy one attempt in (ctx is the report_data). */
int report_data_add(void *ctx, const struct q_attempt *a);
/* Take the cpus of workers still registered (the others are gone, and
 * their rows come from the slots their tasks used). */
void report_data_set_workers(struct report_data *d,
			     const struct q_worker_info *info, size_t n);
/* Sum up: time origin and end, rows, aggregation, per-worker figures,
 * the tables' lists. `now_ns` ends the bars of running attempts. */
void report_data_finish(struct report_data *d, int64_t now_ns);

/* The span of attempt a's bar in the task stream: true and [*s, *e)
 * (Unix ns) when it has one; false for an attempt that did not run
 * (reused, cancelled before it started) or has no worker. */
bool report_attempt_span(const struct report_data *d,
			 const struct report_attempt *a, int64_t *s,
			 int64_t *e);
/* Its first row and how many rows it covers (per-worker rows: 1). */
void report_attempt_rows(const struct report_data *d,
			 const struct report_attempt *a, size_t *row,
			 size_t *nrows);

/* Grow *v to hold `need` elements of `size` bytes (aborts when out of
 * memory, like every spoolq command). */
void report_grow(void *v, size_t *cap, size_t need, size_t size);

#endif
