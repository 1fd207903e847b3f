/*
 * worker.h: the qworker loop, as a library so tests can drive it.
 *
 *   struct q_worker_options opt = Q_WORKER_OPTIONS_INIT;
 *   opt.cpus = 2; opt.exit_when_idle = true;
 *   int status = q_worker_main(spool, &opt);   // an exit status
 *
 * The worker claims chunks from every job in the spool (oldest job first)
 * while their tasks' threads fit in its free cores, runs each chunk in a
 * thread of its own bound to the chunk's cores, and commits the results.
 * SIGTERM or SIGINT stop it: it claims nothing more, lets running tasks
 * finish for --grace seconds, then stops them and hands their chunks
 * back; a second signal skips the grace period.
 */
#ifndef QWORKER_WORKER_H
#define QWORKER_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <spoolq/spoolq.h>

struct q_worker_options {
	unsigned cpus;             /* 0: detect */
	bool exit_when_idle;       /* exit when no work is left anywhere */
	double idle_seconds;       /* >= 0: also exit after this long idle */
	uint64_t max_tasks;        /* 0: no limit */
	double grace_seconds;      /* running tasks get this long on stop */
	unsigned lease_seconds;    /* recorded in the heartbeat file */
	bool verbose;              /* a line per task on stderr */
	const char *prog;          /* for messages */
	bool mpi;                  /* join the MPI world (mpipath.h) */
	size_t mpi_threshold;      /* 0: Q_MPI_THRESHOLD_DEFAULT */
	size_t mpi_mem;            /* 0: a quarter of the node's memory */
	size_t mpi_prefault;       /* bytes to fault in at start, or 0 */
};

#define Q_WORKER_OPTIONS_INIT \
	{ 0, false, -1.0, 0, 10.0, 60, false, "qworker", false, 0, 0, 0 }

/* Run until stopped or idle; returns the exit status (0, or 3 for a spool
 * or system error). */
int q_worker_main(struct q_spool *spool, const struct q_worker_options *opt);

/* Register the built-in kernels (hello, sleep, pi, sum); idempotent. */
void q_builtin_kernels_register(void);

#endif
