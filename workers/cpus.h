/*
 * cpus.h: how many cores a worker may use, and which.
 *
 * The count comes from --cpus, else Slurm (SLURM_CPUS_PER_TASK, else
 * SLURM_CPUS_ON_NODE divided among this node's tasks), else the process's
 * CPU affinity: never the node's total core count, which on a shared node
 * would oversubscribe it. The cores themselves are the CPUs of the
 * affinity mask, handed out to tasks as sets.
 */
#ifndef QWORKER_CPUS_H
#define QWORKER_CPUS_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

struct q_cpus {
	unsigned n;            /* cores this worker uses (slots) */
	int *cpu;              /* cpu[k]: the CPU number of slot k */
	bool *busy;            /* busy[k]: slot k runs a task */
	unsigned nfree;
	bool pin;              /* tasks get their own cores (see cpus.c) */
	cpu_set_t mask;        /* the whole affinity mask */
	char source[128];      /* where n came from, for the log */
};

/* Decide the count and the slots. `requested` is --cpus (0: not given).
 * `env` is a getenv-like lookup (tests pass their own). Returns 0 or
 * -errno. */
int q_cpus_init(struct q_cpus *c, unsigned requested,
		const char *(*env)(const char *name));
void q_cpus_release(struct q_cpus *c);

/* Take `n` free slots into `set` (a CPU set for sched_setaffinity);
 * false when fewer than n are free. `slot_out` gets the first slot. */
bool q_cpus_take(struct q_cpus *c, unsigned n, cpu_set_t *set,
		 unsigned *slot_out, unsigned *slots);
void q_cpus_give(struct q_cpus *c, const unsigned *slots, unsigned n);

/* Cores per task on this node from Slurm's variables, or 0 if not under
 * Slurm (exposed for tests). */
unsigned q_cpus_from_slurm(const char *(*env)(const char *name),
			   char *source, size_t size);

#endif
