/*
 * spoolq/events.h: every attempt at every task, for timelines.
 *
 * Where the facts live: a task's final attempt (its claim, start and end
 * times, worker, host, slot, exit status) is in its chunk's record
 * (spoolq/record.h), and a running attempt in its claim. The attempts
 * that leave no record (one that failed with retries left, one handed
 * back by a stopping worker or a full spool, one lost with its worker)
 * are appended to event logs, one per writing process and job:
 * jobs/<id>/events/<writer id> (docs/spool-format.md). So recording
 * costs nothing for an attempt that commits: its record is its event.
 *
 * q_job_for_each_attempt puts the three sources together.
 */
#ifndef SPOOLQ_EVENTS_H
#define SPOOLQ_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spoolq/error.h>
#include <spoolq/export.h>
#include <spoolq/queue.h>
#include <spoolq/record.h>

/* How an attempt ended. */
enum q_attempt_end {
	Q_END_FINAL,     /* its record counts: the task's result */
	Q_END_RUNNING,   /* still running (no end yet) */
	Q_END_RETRY,     /* failed with attempts left: the task runs again */
	Q_END_HANDBACK,  /* given back unfinished: its worker was stopping,
			  * or the spool was full; the task runs again */
	Q_END_LOST,      /* its worker died or lost its lease; another
			  * process requeued (or failed) the task */
};

/* "final", "running", "retry", "handback", "lost". */
Q_EXPORT const char *q_attempt_end_name(enum q_attempt_end end);

struct q_attempt {
	uint64_t item;
	uint64_t chunk;
	unsigned attempt;         /* 1, 2, ...: the claim's attempt number
				   * (a handed-back attempt's number is
				   * used again by the next claim) */
	enum q_attempt_end end;
	/* FINAL, RETRY, HANDBACK: DONE, FAILED or CANCELLED (a handed-back
	 * task that was interrupted: CANCELLED). RUNNING and LOST:
	 * RUNNING (how far a lost attempt got is unknown). */
	enum q_state state;
	int exit_code;            /* exit status, -signal, or Q_EXIT_NONE */
	bool reused;              /* FINAL: an earlier result, not run */
	unsigned slot;            /* the first of the worker's core slots
				   * it ran on (0-based) */
	/* Unix ns, 0 when unknown. The claim time is the chunk's (a chunk's
	 * items run one after another). RUNNING: start and end are 0.
	 * LOST: start is 0 and end is when the loss was found. */
	int64_t claimed_ns, start_ns, end_ns;
	const char *worker;       /* worker id, "" when unknown */
	const char *host;         /* "" when unknown */
	const char *reason;       /* why it failed or ended so, or "" */
};

typedef int (*q_attempt_fn)(void *ctx, const struct q_attempt *a);

/*
 * Call fn for every attempt of every task of the job, in item order and,
 * per item, in the order the attempts were claimed (the final or running
 * one last). Tasks never claimed have no attempt. The strings in *a are
 * valid during the call only. Stops at fn's first non-zero return and
 * returns it; 0, or -errno with err set. A damaged event log line is
 * reported on stderr with the log's path and line number and skipped.
 */
Q_EXPORT int q_job_for_each_attempt(struct q_jobh *h, q_attempt_fn fn,
				    void *ctx, struct q_error *err);

/*
 * Writing. Event logs are on by default; a process turns them off for a
 * spool handle with q_spool_set_events(sp, false) (qworker --no-events).
 */
Q_EXPORT void q_spool_set_events(struct q_spool *spool, bool on);

/*
 * Log the end of an attempt that leaves no record: RETRY or HANDBACK
 * with the outcomes of the items that ran (o[0..n)), or LOST with o NULL
 * (one line per item of the chunk). `writer` is the logging process's
 * id (a worker id; it names the log file) and `worker` the id of the
 * worker whose attempt it was (the same, except for LOST). Appends one
 * write to jobs/<id>/events/<writer>; not fsynced: an event log is for
 * looking at, and the queue never depends on it. 0, or -errno with err
 * set (the caller warns and goes on).
 */
Q_EXPORT int q_events_log(struct q_jobh *h, const char *writer,
			  const struct q_claim *claim, enum q_attempt_end end,
			  const char *worker, const struct q_outcome *o,
			  size_t n, struct q_error *err);

#endif
