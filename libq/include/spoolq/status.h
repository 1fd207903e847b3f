/*
 * spoolq/status.h: reading the state of jobs, tasks and workers.
 *
 * Readers take no locks: they list directories and read immutable files,
 * so what they report is a consistent-enough snapshot of a moving spool.
 * A chunk that changes state during a scan may be counted in the state
 * it left; at quiescence the counts are exact and sum to the job's tasks.
 */
#ifndef SPOOLQ_STATUS_H
#define SPOOLQ_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <spoolq/error.h>
#include <spoolq/export.h>
#include <spoolq/names.h>
#include <spoolq/queue.h>
#include <spoolq/record.h>

struct q_counts {
	uint64_t waiting, ready, running, done, failed, cancelled;
	uint64_t cached;      /* of the done ones: reused, not run */
	uint64_t total;
};

/* The count of state `s` in `counts`. */
Q_EXPORT uint64_t q_counts_in(const struct q_counts *counts, enum q_state s);
/* The most pressing state with tasks: failed > running > ready > waiting
 * > cancelled > done (how --dot and --report colour a group); WAITING
 * when there are none. */
Q_EXPORT enum q_state q_counts_pressing(const struct q_counts *counts);

Q_EXPORT int q_job_counts(struct q_jobh *h, struct q_counts *counts,
			  struct q_error *err);
/* The same per group (task definition): `counts` has one entry per group
 * of the job, in group order; each total is the group's item count. */
Q_EXPORT int q_job_group_counts(struct q_jobh *h, struct q_counts *counts,
				struct q_error *err);

struct q_task_info {
	uint64_t item;
	int64_t index;               /* array index */
	char label[Q_NAME_MAX + 32]; /* name or name[index] */
	enum q_state state;
	unsigned attempt;            /* 0 when never claimed */
	char worker[Q_WORKER_ID_MAX];
	char host[Q_NAME_MAX + 1];
	int exit_code;               /* Q_EXIT_NONE when not finished */
	int64_t claimed_ns, start_ns, end_ns;   /* 0 when unknown */
	char reason[256];
	uint64_t chunk;
	unsigned slot;               /* finished: the worker's first core
					slot it ran on */
	bool reused;                 /* done with an earlier result */
};

typedef int (*q_task_fn)(void *ctx, const struct q_task_info *task);

/* Call fn for every task of the job in item order; stops at fn's first
 * non-zero return and returns it. */
Q_EXPORT int q_job_for_each_task(struct q_jobh *h, q_task_fn fn, void *ctx,
				 struct q_error *err);

/* A running chunk: its claim. */
struct q_claim_info {
	uint64_t chunk;
	unsigned attempt;
	const char *worker;          /* the claimant's id */
	int64_t claimed_ns;          /* the claim's ctime (its rename) */
};

typedef int (*q_claim_fn)(void *ctx, const struct q_claim_info *claim);

/* Call fn for every claim of the job: a listing of its claim/ shards
 * alone, with no record read, so cheap on a job of a million tasks
 * (which workers are busy). The strings are valid during the call only.
 * Stops at fn's first non-zero return and returns it; 0, or -errno with
 * err set. */
Q_EXPORT int q_job_for_each_claim(struct q_jobh *h, q_claim_fn fn, void *ctx,
				  struct q_error *err);

/*
 * The job's task graph as Graphviz DOT on `out`: one node per group
 * (an array folded into one node, "name [count]"), filled by state
 * (done green, failed red, cancelled grey, running orange, ready light
 * blue, waiting white; a group in several states shows the count of each
 * and takes the colour of the most pressing: failed > running > ready >
 * waiting > cancelled > done), one edge per dependency between groups,
 * and a dashed node and edge, labelled with the job id, for each group
 * of an earlier job it depends on (looked up through `cache`; with a
 * NULL cache, or an earlier job that cannot be read, that job is one node
 * "job <id>"). 0, or -errno with err set (also when writing `out` fails).
 */
Q_EXPORT int q_job_write_dot(struct q_jobh *h, struct q_jobcache *cache,
			     FILE *out, struct q_error *err);

/* ---- workers ---- */

struct q_worker_info {
	char id[Q_WORKER_ID_MAX];
	char host[Q_NAME_MAX + 1];
	long pid;
	unsigned cpus;
	unsigned lease_s;            /* the worker's lease, seconds */
	int64_t started_ns;
	int64_t heartbeat_ns;        /* mtime of its heartbeat file */
	/* Under Slurm: the job, step, task and node the worker runs in
	 * (SLURM_JOB_ID, SLURM_STEP_ID, SLURM_PROCID, SLURMD_NODENAME);
	 * all "" otherwise. The node is Slurm's name for it, which need not
	 * be the host name. */
	char slurm_job[32];
	char slurm_step[16];
	char slurm_procid[16];
	char slurm_node[Q_NAME_MAX + 1];
	/* Who the process is on its node, so that a reclaimer on the same
	 * node can prove it dead without waiting for its lease (libq/proc.c).
	 * "" / 0 when unknown (an older worker): the lease alone decides. */
	char boot_id[40];            /* /proc/sys/kernel/random/boot_id */
	uint64_t pid_ns;             /* inode of /proc/self/ns/pid */
	uint64_t start_ticks;        /* field 22 of /proc/<pid>/stat */
	bool alive;                  /* heartbeat younger than its lease, and
					not provably gone */
	bool gone;                   /* provably not running (same node and
					pid namespace as the reader) */
};

/* Fill info's pid, boot_id, pid_ns and start_ticks for this process;
 * they stay empty where /proc cannot tell. */
Q_EXPORT void q_worker_identify(struct q_worker_info *info);

/* Register this worker (workers/<id>), refresh its heartbeat, and remove
 * it on a clean exit. */
Q_EXPORT int q_worker_register(struct q_spool *spool,
			       const struct q_worker_info *info,
			       struct q_error *err);
Q_EXPORT int q_worker_heartbeat(struct q_spool *spool, const char *id);
Q_EXPORT int q_worker_unregister(struct q_spool *spool, const char *id);

/* Every registered worker; *out is malloc'ed. Liveness is judged with the
 * file server's clock where the spool is writable. */
Q_EXPORT int q_workers_list(struct q_spool *spool, struct q_worker_info **out,
			    size_t *n_out, struct q_error *err);

#endif
