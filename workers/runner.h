/*
 * runner.h: running a claimed bundle of chunks in a thread of its own.
 */
#ifndef QWORKER_RUNNER_H
#define QWORKER_RUNNER_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include <spoolq/spoolq.h>

enum q_run_phase { Q_RUN_RUNNING, Q_RUN_COMMITTING, Q_RUN_FINISHED };

struct q_run {
	/* Set by the worker before the thread starts. */
	struct q_spool *spool;
	struct q_jobcache *cache;
	struct q_jobh *h;
	struct q_claim *claims;    /* the bundle: chunks of one job, run in
				    * turn and committed together */
	size_t nclaims;
	bool *settled;             /* per claim: committed, requeued or handed
				    * back (the thread writes it) */
	struct q_claim claim;      /* the chunk running now (the thread) */
	const char *worker_id;
	cpu_set_t cpus;
	unsigned threads;
	unsigned slot;
	unsigned slots[64];        /* the slots it holds (threads of them) */
	bool verbose;
	bool each;                 /* an each_worker run: no claim, its record
				    * goes through q_each_commit */
	bool chain;                /* may run what its commits make ready
				    * (runner.c note 9) */
	pthread_mutex_t *claim_lock; /* the worker's: one claim at a time */
	struct q_mpi *mpi;         /* the MPI fast path (mpipath.h), or NULL */
	int notify_fd;             /* write one byte here when finished */
	const int *stopping;       /* the worker's: non-zero once a stop
				    * signal came (atomic; runner.c note 11) */
	/* Requests from the worker, read by the thread. */
	volatile int stop;         /* stop running items, hand the chunk back */
	/* Written by the thread. */
	volatile int phase;
	volatile uint64_t current_item;
	int result;                /* 1 committed, 0 lost or handed back,
				    * <0 error (err says why; a full disk:
				    * q_disk_full(err.errnum)) */
	uint64_t items_run;
	int64_t run_ns;            /* time spent running chunks, not committing */
	uint64_t chunks_run;
	size_t sink_budget;        /* memory its items' outputs may hold */
	bool handed_back;          /* the chunk went back to ready/, same
				    * attempt */
	struct q_error err;
	pthread_t thread;
	int cancel_flag;           /* what kernels see through their context */
	volatile int64_t deadline; /* a kernel's timeout, monotonic ns; 0 */
	volatile int timed_out;    /* set with cancel_flag at the deadline */
};

/*
 * ENOSPC or EDQUOT: the spool's file system is full or the user is over
 * quota. That is no task's fault: the runner gives the chunk back with
 * the same attempt, and the worker backs off before claiming again.
 */
static inline bool q_disk_full(int errnum)
{
	return errnum == ENOSPC || errnum == EDQUOT;
}

/* Start the chunk's thread. 0 or -errno. */
int q_run_start(struct q_run *run);

#endif
