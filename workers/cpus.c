/*
 * cpus.c: the worker's cores.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpus.h"

static unsigned parse_count(const char *s)
{
	if (!s || !*s)
		return 0;
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	/* SLURM_CPUS_ON_NODE is a plain number; be strict. */
	if (*end || v == 0 || v > 1u << 20)
		return 0;
	return (unsigned)v;
}

/*
 * SLURM_TASKS_PER_NODE looks like "2(x3),1": two tasks on each of the
 * first three nodes, one on the fourth. Return the count for node `node`,
 * or 0 when the node is past the list or the list is malformed anywhere
 * (the whole list is checked, so "2;1" is not read as "2").
 */
static unsigned tasks_on_node(const char *spec, unsigned node)
{
	const char *p = spec;
	unsigned seen = 0, found = 0;

	while (p && *p) {
		char *end;
		unsigned long tasks = strtoul(p, &end, 10), reps = 1;
		if (end == p)
			return 0;
		p = end;
		if (strncmp(p, "(x", 2) == 0) {
			reps = strtoul(p + 2, &end, 10);
			if (*end != ')')
				return 0;
			p = end + 1;
		}
		if (node >= seen && node < seen + reps)
			found = (unsigned)tasks;
		seen += (unsigned)reps;
		if (*p == ',')
			p++;
		else if (*p)
			return 0;
	}
	return found;
}

unsigned q_cpus_from_slurm(const char *(*env)(const char *name), char *source,
			   size_t size)
{
	unsigned per_task = parse_count(env("SLURM_CPUS_PER_TASK"));
	if (per_task) {
		snprintf(source, size, "SLURM_CPUS_PER_TASK=%u", per_task);
		return per_task;
	}
	unsigned on_node = parse_count(env("SLURM_CPUS_ON_NODE"));
	if (!on_node)
		return 0;
	/* Several workers (srun tasks) on one node share its CPUs. */
	unsigned tasks = parse_count(env("SLURM_NTASKS_PER_NODE"));
	if (!tasks) {
		const char *tpn = env("SLURM_TASKS_PER_NODE");
		unsigned node = parse_count(env("SLURM_NODEID"));
		const char *nodeid = env("SLURM_NODEID");
		if (nodeid && strcmp(nodeid, "0") == 0)
			node = 0;
		if (tpn)
			tasks = tasks_on_node(tpn, node);
	}
	/* More tasks than CPUs (srun --overcommit) gives each one CPU
	 * below, not the whole node each. */
	if (!tasks)
		tasks = 1;
	/* Only a job step (srun) splits the node; a batch script that
	 * starts one worker gets the node's whole allocation. */
	if (!env("SLURM_STEP_ID"))
		tasks = 1;
	snprintf(source, size, "SLURM_CPUS_ON_NODE=%u / %u task%s", on_node,
		 tasks, tasks == 1 ? "" : "s");
	return on_node / tasks ? on_node / tasks : 1;
}

int q_cpus_init(struct q_cpus *c, unsigned requested,
		const char *(*env)(const char *name))
{
	cpu_set_t mask;
	int allowed[CPU_SETSIZE];
	unsigned naff = 0;

	memset(c, 0, sizeof(*c));
	if (sched_getaffinity(0, sizeof(mask), &mask) != 0)
		return -errno;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &mask))
			allowed[naff++] = i;
	if (naff == 0)
		return -EINVAL;

	unsigned n;
	if (requested) {
		n = requested;
		snprintf(c->source, sizeof(c->source), "--cpus %u", n);
	} else if ((n = q_cpus_from_slurm(env, c->source,
					  sizeof(c->source))) != 0) {
		/* Never more than the CPUs we may run on. */
		if (n > naff) {
			n = naff;
			strncat(c->source, ", capped by the affinity mask",
				sizeof(c->source) - strlen(c->source) - 1);
		}
	} else {
		n = naff;
		snprintf(c->source, sizeof(c->source),
			 "CPU affinity (%u CPUs)", naff);
	}
	c->n = n;
	c->nfree = n;
	c->mask = mask;
	/*
	 * Pin each task to cores of its own only when this worker owns its
	 * whole mask. Two workers started by hand with --cpus 1 on one node
	 * share a mask; pinning would put both on its first CPU. They are
	 * left to the kernel's scheduler within the mask instead (Slurm's
	 * task/affinity gives each srun task a mask of its own, so workers
	 * under srun are pinned).
	 */
	c->pin = n == naff;
	c->cpu = calloc(n, sizeof(int));
	c->busy = calloc(n, sizeof(bool));
	if (!c->cpu || !c->busy) {
		q_cpus_release(c);
		return -ENOMEM;
	}
	/* With --cpus above the mask, slots share CPUs round-robin: the
	 * user asked to oversubscribe. */
	for (unsigned k = 0; k < n; k++)
		c->cpu[k] = allowed[k % naff];
	return 0;
}

void q_cpus_release(struct q_cpus *c)
{
	if (!c)
		return;
	free(c->cpu);
	free(c->busy);
	c->cpu = NULL;
	c->busy = NULL;
}

bool q_cpus_take(struct q_cpus *c, unsigned n, cpu_set_t *set,
		 unsigned *slot_out, unsigned *slots)
{
	if (n == 0 || n > c->nfree)
		return false;
	CPU_ZERO(set);
	unsigned got = 0;
	for (unsigned k = 0; k < c->n && got < n; k++) {
		if (c->busy[k])
			continue;
		c->busy[k] = true;
		CPU_SET(c->cpu[k], set);
		slots[got++] = k;
	}
	if (!c->pin)
		*set = c->mask;
	c->nfree -= got;
	*slot_out = slots[0];
	return true;
}

void q_cpus_give(struct q_cpus *c, const unsigned *slots, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (slots[i] < c->n && c->busy[slots[i]]) {
			c->busy[slots[i]] = false;
			c->nfree++;
		}
}
