/*
 * mpipath.h: the MPI fast path of a worker (docs/mpi.md).
 *
 * Workers started as one MPI job (`mpirun -n N qworker --mpi`) form a
 * world: one worker per rank, each still claiming from the spool. A
 * pure kernel task's result of at least the threshold stays in the
 * memory of the worker that made it (the record says Q_STREAM_HELD, at
 * this world and rank, with its checksum); a consumer on another rank
 * pulls the bytes over MPI, anyone else reads the file the producer
 * spills when it exits, on SIGUSR1, or when held results outgrow the
 * memory budget. A result whose holder is gone is recomputed by the
 * consumer that needs it (the task is pure: the same bytes, which the
 * checksum confirms) and written to the spool for everyone else.
 *
 * Calling sequence (worker.c, runner.c):
 *   q_mpi_start(spool, worker_id, &opt, &m, &err);   before the loop
 *   ... per item: q_sink_hold(&out, q_mpi_hold_limit(m)) for a pure
 *       kernel task; after q_sink_finish, q_mpi_keep(m, ...) ...
 *   ... after the commit: q_mpi_settle(m, ..., published) per kept item
 *   q_mpi_spill_all(m) on SIGUSR1
 *   q_mpi_stop(m)   at exit: spill, wait for the other ranks, finalize
 *
 * Built without MPI (meson -Dmpi=disabled, or no Open MPI found),
 * q_mpi_start says so and fails; everything else works through files.
 */
#ifndef QWORKER_MPI_H
#define QWORKER_MPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spoolq/spoolq.h>

/* Results this big or bigger are held (qworker --mpi-threshold). */
#define Q_MPI_THRESHOLD_DEFAULT ((size_t)1 << 20)

struct q_mpi_options {
	size_t threshold;   /* hold results of at least this many bytes:
			     * --mpi-threshold, else SPOOL/config's, else
			     * Q_MPI_THRESHOLD_DEFAULT (worker.c) */
	size_t mem;         /* memory held results may use; 0: a quarter of
			     * the machine's (or the cgroup's) memory */
	size_t prefault;    /* receive memory to fault in at start, within
			     * mem (spoolq/bigbuf.h q_big_reserve), or 0 */
	bool verbose;
	const char *prog;   /* for messages */
	/* Called now and then while q_mpi_stop waits for the other ranks,
	 * which may take as long as their last task: the worker's loop is
	 * not turning then, and its heartbeat must go on (heartbeat.c
	 * note 2), or the others would take it for dead. */
	void (*alive)(void *arg);
	void *alive_arg;
};

struct q_mpi;

/* True when this qworker was built with MPI. */
bool q_mpi_available(void);

/* Join the MPI world (MPI_Init_thread, MPI_THREAD_MULTIPLE) and start
 * serving held results. 0, or -errno with err set. */
int q_mpi_start(struct q_spool *spool, const char *worker_id,
		const struct q_mpi_options *opt, struct q_mpi **out,
		struct q_error *err);

/* What to pass to q_sink_hold for a result that may be held (0: none). */
size_t q_mpi_hold_limit(const struct q_mpi *m);

/*
 * A finished item's result: if it is at least the threshold (the task's,
 * when it sets one: a size or Q_MPI_NEVER; else the worker's) and fits
 * the budget (spilling older held results to make room), the store
 * takes its bytes and out->held is set (data NULL, len and sum kept).
 * Returns true when held.
 */
bool q_mpi_keep(struct q_mpi *m, uint64_t job, uint64_t item,
		unsigned attempt, uint64_t task_threshold,
		struct q_output *out);
/* After the commit: published (our record counts: others may now ask
 * for it) or not (the bytes are dropped). */
void q_mpi_settle(struct q_mpi *m, uint64_t job, uint64_t item,
		  unsigned attempt, bool published);

/* Write every held result to the spool (SIGUSR1) and drop it. */
void q_mpi_spill_all(struct q_mpi *m);

/* At exit: spill, keep answering the other ranks until all of them are
 * done too (or gone), then leave the world. Accepts NULL. */
void q_mpi_stop(struct q_mpi *m);

#endif
