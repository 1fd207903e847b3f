/*
 * spoolq/sink.h: an item's output stream as a worker captures it.
 *
 * A command's stdout and stderr, a kernel's result and log: kept in
 * memory while small, so the usual small output costs no file at all (it
 * goes inline into the chunk's record), and moved to a temporary in the
 * spool's tmp/ once it outgrows Q_SINK_MEMORY_MAX or the run's memory
 * budget (big outputs become files of their own at commit anyway).
 *
 * Calling sequence (one thread per sink):
 *   struct q_sink s;
 *   q_sink_init(&s, spool, "out", &budget);
 *   q_sink_write(&s, data, len);           ... as often as needed
 *   q_sink_finish(&s, &outcome->out);      hands the bytes to the outcome
 */
#ifndef SPOOLQ_SINK_H
#define SPOOLQ_SINK_H

#include <stdarg.h>
#include <stddef.h>

#include <spoolq/bigbuf.h>
#include <spoolq/export.h>
#include <spoolq/queue.h>

/* An output kept in memory up to this size; bigger ones spill to tmp/.
 * The same bound as a record's inline outputs (commit.c). */
#define Q_SINK_MEMORY_MAX (64 * 1024)
/* Memory all the sinks of one run (one chunk) may hold together. */
#define Q_SINK_RUN_BUDGET ((size_t)8 << 20)

struct q_sum;

struct q_sink {
	struct q_spool *spool;
	const char *purpose;      /* the temporary's suffix: "out", "err" */
	size_t *budget;           /* memory left for the run, or NULL */
	char *data;               /* in memory (fd < 0) */
	size_t len, cap;
	int fd;                   /* the temporary, once spilled; else -1 */
	char tmp[Q_CLAIM_NAME_MAX];
	int errnum;               /* the first failed write's errno, or 0 */
	size_t hold_max;          /* q_sink_hold: memory it may keep, or 0 */
	struct q_sum *sum;        /* the checksum, once spilled */
};

Q_EXPORT void q_sink_init(struct q_sink *s, struct q_spool *spool,
			  const char *purpose, size_t *budget);
/*
 * Keep up to `max` bytes in memory, beyond Q_SINK_MEMORY_MAX and outside
 * the run's budget: a result the MPI fast path may keep in the worker
 * (workers/mpipath.c). Bigger than that, it spills like any other. Call
 * before the first write.
 */
Q_EXPORT void q_sink_hold(struct q_sink *s, size_t max);
/* 0, or -errno (kept in s->errnum: later writes fail the same way). */
Q_EXPORT int q_sink_write(struct q_sink *s, const void *data, size_t len);
Q_EXPORT int q_sink_printf(struct q_sink *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Close the sink and hand what it holds to `out` (memory or the
 * temporary's name, and the checksum of an output bigger than
 * Q_SINK_MEMORY_MAX), which q_commit consumes; the sink is then empty.
 * Returns 0 or the first write error as -errno (the caller decides: a
 * full disk is nobody's fault, the output is incomplete either way).
 */
Q_EXPORT int q_sink_finish(struct q_sink *s, struct q_output *out);
/* Drop everything: memory, open file and temporary. */
Q_EXPORT void q_sink_discard(struct q_sink *s);
/* Release an output the commit did not consume (memory, temporary). */
Q_EXPORT void q_output_discard(struct q_spool *spool, struct q_output *out);

#endif
