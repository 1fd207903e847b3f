/*
 * test_cpus.c: the worker's core count and slots (workers/cpus.c).
 *
 * Slurm's variables come from a fake getenv over a small table, so the
 * tests do not depend on (or disturb) the real environment. Tests that
 * narrow the CPU affinity mask do so in their own process: Criterion runs
 * each test in a fresh one.
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "cpus.h"

/* ---- a fake environment ---- */

/* Name/value pairs, NULL-terminated; the current test's table. */
static const char *const *fake_vars;

static const char *fake_env(const char *name)
{
	for (size_t i = 0; fake_vars && fake_vars[i]; i += 2)
		if (strcmp(fake_vars[i], name) == 0)
			return fake_vars[i + 1];
	return NULL;
}

static const char *const no_vars[] = { NULL };

/* q_cpus_from_slurm over `vars`; `source` gets its explanation. */
static unsigned slurm(const char *const *vars, char *source, size_t size)
{
	fake_vars = vars;
	source[0] = '\0';
	return q_cpus_from_slurm(fake_env, source, size);
}

/* The CPUs of the process's affinity mask, ascending; returns how many. */
static unsigned affinity(int *cpus)
{
	cpu_set_t mask;
	unsigned n = 0;
	cr_assert_eq(sched_getaffinity(0, sizeof(mask), &mask), 0);
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &mask))
			cpus[n++] = i;
	cr_assert_eq(n, (unsigned)CPU_COUNT(&mask));
	return n;
}

/* Narrow this process's mask to the single CPU `cpu`. */
static void pin_to(int cpu)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	cr_assert_eq(sched_setaffinity(0, sizeof(one), &one), 0);
}

/* ---- q_cpus_from_slurm ---- */

Test(cpus_slurm, no_slurm_variables_gives_zero)
{
	char src[128];
	cr_assert_eq(slurm(no_vars, src, sizeof(src)), 0);
	cr_assert_str_empty(src);
	/* Variables that do not say how many CPUs are not enough. */
	const char *const v[] = { "SLURM_JOB_ID", "42", "SLURM_STEP_ID", "0",
				  "SLURM_NTASKS_PER_NODE", "4", NULL };
	cr_assert_eq(slurm(v, src, sizeof(src)), 0);
}

Test(cpus_slurm, cpus_per_task_wins)
{
	char src[128];
	const char *const v[] = { "SLURM_CPUS_PER_TASK", "3",
				  "SLURM_CPUS_ON_NODE", "8",
				  "SLURM_NTASKS_PER_NODE", "4",
				  "SLURM_STEP_ID", "0", NULL };
	cr_assert_eq(slurm(v, src, sizeof(src)), 3);
	cr_assert_str_eq(src, "SLURM_CPUS_PER_TASK=3");
}

Test(cpus_slurm, on_node_split_by_ntasks_per_node_in_a_step)
{
	char src[128];
	const char *const v[] = { "SLURM_CPUS_ON_NODE", "8",
				  "SLURM_NTASKS_PER_NODE", "4",
				  "SLURM_STEP_ID", "0", NULL };
	cr_assert_eq(slurm(v, src, sizeof(src)), 2);
	cr_assert_str_eq(src, "SLURM_CPUS_ON_NODE=8 / 4 tasks");
}

Test(cpus_slurm, ntasks_per_node_wins_over_tasks_per_node)
{
	char src[128];
	const char *const v[] = { "SLURM_CPUS_ON_NODE", "8",
				  "SLURM_NTASKS_PER_NODE", "4",
				  "SLURM_TASKS_PER_NODE", "1(x4)",
				  "SLURM_NODEID", "2",
				  "SLURM_STEP_ID", "0", NULL };
	cr_assert_eq(slurm(v, src, sizeof(src)), 2);
}

Test(cpus_slurm, tasks_per_node_list_by_node_id)
{
	char src[128];
	/* Two tasks on each of nodes 0-2, one on node 3. */
	const char *const last[] = { "SLURM_CPUS_ON_NODE", "12",
				     "SLURM_TASKS_PER_NODE", "2(x3),1",
				     "SLURM_NODEID", "3",
				     "SLURM_STEP_ID", "7", NULL };
	cr_assert_eq(slurm(last, src, sizeof(src)), 12);
	cr_assert_str_eq(src, "SLURM_CPUS_ON_NODE=12 / 1 task");

	const char *const mid[] = { "SLURM_CPUS_ON_NODE", "12",
				    "SLURM_TASKS_PER_NODE", "2(x3),1",
				    "SLURM_NODEID", "1",
				    "SLURM_STEP_ID", "7", NULL };
	cr_assert_eq(slurm(mid, src, sizeof(src)), 6);
	cr_assert_str_eq(src, "SLURM_CPUS_ON_NODE=12 / 2 tasks");

	/* Node 0 spelled "0", which parses as no number at all. */
	const char *const first[] = { "SLURM_CPUS_ON_NODE", "12",
				      "SLURM_TASKS_PER_NODE", "2(x3),1",
				      "SLURM_NODEID", "0",
				      "SLURM_STEP_ID", "7", NULL };
	cr_assert_eq(slurm(first, src, sizeof(src)), 6);
}

Test(cpus_slurm, tasks_per_node_several_entries)
{
	char src[128];
	const char *const v[] = { "SLURM_CPUS_ON_NODE", "12",
				  "SLURM_TASKS_PER_NODE", "1,4(x2),3",
				  "SLURM_NODEID", "2",
				  "SLURM_STEP_ID", "0", NULL };
	cr_assert_eq(slurm(v, src, sizeof(src)), 3);
	const char *const w[] = { "SLURM_CPUS_ON_NODE", "12",
				  "SLURM_TASKS_PER_NODE", "1,4(x2),3",
				  "SLURM_NODEID", "3",
				  "SLURM_STEP_ID", "0", NULL };
	cr_assert_eq(slurm(w, src, sizeof(src)), 4);
	/* A node past the list: no split. */
	const char *const x[] = { "SLURM_CPUS_ON_NODE", "12",
				  "SLURM_TASKS_PER_NODE", "1,4(x2),3",
				  "SLURM_NODEID", "9",
				  "SLURM_STEP_ID", "0", NULL };
	cr_assert_eq(slurm(x, src, sizeof(src)), 12);
}

Test(cpus_slurm, batch_script_gets_the_whole_node)
{
	char src[128];
	/* No SLURM_STEP_ID: one worker started by the batch script. */
	const char *const v[] = { "SLURM_CPUS_ON_NODE", "8",
				  "SLURM_NTASKS_PER_NODE", "4",
				  "SLURM_TASKS_PER_NODE", "4", NULL };
	cr_assert_eq(slurm(v, src, sizeof(src)), 8);
	cr_assert_str_eq(src, "SLURM_CPUS_ON_NODE=8 / 1 task");
}

Test(cpus_slurm, more_tasks_than_cpus_gives_one_each)
{
	char src[128];
	/* srun --overcommit: 4 workers on 2 CPUs must not take 2 each. */
	const char *const v[] = { "SLURM_CPUS_ON_NODE", "2",
				  "SLURM_NTASKS_PER_NODE", "4",
				  "SLURM_STEP_ID", "0", NULL };
	cr_assert_eq(slurm(v, src, sizeof(src)), 1);
	cr_assert_str_eq(src, "SLURM_CPUS_ON_NODE=2 / 4 tasks");
}

Test(cpus_slurm, garbage_values_are_ignored)
{
	char src[128];
	static const char *const junk[] = { "abc", "4x", "x4", "0", "-2", "",
					    "4.5", "99999999999" };
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		/* A bad SLURM_CPUS_PER_TASK falls back to the node count. */
		const char *const a[] = { "SLURM_CPUS_PER_TASK", junk[i],
					  "SLURM_CPUS_ON_NODE", "6", NULL };
		cr_assert_eq(slurm(a, src, sizeof(src)), 6, "'%s'", junk[i]);
		cr_assert_str_eq(src, "SLURM_CPUS_ON_NODE=6 / 1 task");

		/* A bad SLURM_CPUS_ON_NODE means no Slurm count at all. */
		const char *const b[] = { "SLURM_CPUS_ON_NODE", junk[i],
					  "SLURM_NTASKS_PER_NODE", "2",
					  "SLURM_STEP_ID", "0", NULL };
		cr_assert_eq(slurm(b, src, sizeof(src)), 0, "'%s'", junk[i]);

		/* A bad task count does not split the node. */
		const char *const c[] = { "SLURM_CPUS_ON_NODE", "6",
					  "SLURM_NTASKS_PER_NODE", junk[i],
					  "SLURM_STEP_ID", "0", NULL };
		cr_assert_eq(slurm(c, src, sizeof(src)), 6, "'%s'", junk[i]);
	}
	static const char *const bad_lists[] = { "abc", "2(x3", "2(x3)x",
						 "2;1", "(x2)", "" };
	for (size_t i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]);
	     i++) {
		const char *const d[] = { "SLURM_CPUS_ON_NODE", "6",
					  "SLURM_TASKS_PER_NODE", bad_lists[i],
					  "SLURM_NODEID", "0",
					  "SLURM_STEP_ID", "0", NULL };
		cr_assert_eq(slurm(d, src, sizeof(src)), 6, "'%s'",
			     bad_lists[i]);
	}
}

/* ---- q_cpus_init ---- */

Test(cpus_init, default_is_the_affinity_mask)
{
	int allowed[CPU_SETSIZE];
	unsigned naff = affinity(allowed);
	struct q_cpus c;
	char want[128];

	fake_vars = no_vars;
	cr_assert_eq(q_cpus_init(&c, 0, fake_env), 0);
	cr_assert_eq(c.n, naff);
	cr_assert_eq(c.nfree, naff);
	for (unsigned k = 0; k < c.n; k++) {
		cr_assert_eq(c.cpu[k], allowed[k]);
		cr_assert_not(c.busy[k]);
	}
	snprintf(want, sizeof(want), "CPU affinity (%u CPUs)", naff);
	cr_assert_str_eq(c.source, want);
	q_cpus_release(&c);
}

Test(cpus_init, mask_cpu_numbers_not_zero_based)
{
	int allowed[CPU_SETSIZE];
	unsigned naff = affinity(allowed);
	int last = allowed[naff - 1];
	struct q_cpus c;

	pin_to(last);
	fake_vars = no_vars;
	cr_assert_eq(q_cpus_init(&c, 0, fake_env), 0);
	cr_assert_eq(c.n, 1);
	cr_assert_eq(c.cpu[0], last);
	cr_assert_str_eq(c.source, "CPU affinity (1 CPUs)");
	q_cpus_release(&c);
}

Test(cpus_init, requested_slots_round_robin_over_the_mask)
{
	int allowed[CPU_SETSIZE];
	unsigned naff = affinity(allowed);
	struct q_cpus c;

	/* --cpus wins over Slurm's variables. */
	const char *const v[] = { "SLURM_CPUS_PER_TASK", "1", NULL };
	fake_vars = v;
	cr_assert_eq(q_cpus_init(&c, 5, fake_env), 0);
	cr_assert_eq(c.n, 5);
	cr_assert_eq(c.nfree, 5);
	for (unsigned k = 0; k < 5; k++)
		cr_assert_eq(c.cpu[k], allowed[k % naff], "slot %u", k);
	cr_assert_str_eq(c.source, "--cpus 5");
	q_cpus_release(&c);
}

Test(cpus_init, requested_on_one_cpu_shares_it)
{
	int allowed[CPU_SETSIZE];
	affinity(allowed);
	struct q_cpus c;

	pin_to(allowed[0]);
	fake_vars = no_vars;
	cr_assert_eq(q_cpus_init(&c, 3, fake_env), 0);
	cr_assert_eq(c.n, 3);
	for (unsigned k = 0; k < 3; k++)
		cr_assert_eq(c.cpu[k], allowed[0]);
	q_cpus_release(&c);
}

Test(cpus_init, slurm_count_capped_by_the_mask)
{
	int allowed[CPU_SETSIZE];
	unsigned naff = affinity(allowed);
	char on_node[16], want[128];
	struct q_cpus c;

	snprintf(on_node, sizeof(on_node), "%u", naff + 3);
	const char *const v[] = { "SLURM_CPUS_ON_NODE", on_node, NULL };
	fake_vars = v;
	cr_assert_eq(q_cpus_init(&c, 0, fake_env), 0);
	cr_assert_eq(c.n, naff);
	cr_assert_eq(c.nfree, naff);
	snprintf(want, sizeof(want), "SLURM_CPUS_ON_NODE=%u / 1 task, capped "
		 "by the affinity mask", naff + 3);
	cr_assert_str_eq(c.source, want);
	for (unsigned k = 0; k < c.n; k++)
		cr_assert_eq(c.cpu[k], allowed[k]);
	q_cpus_release(&c);
}

Test(cpus_init, slurm_count_below_the_mask_is_kept)
{
	struct q_cpus c;
	int allowed[CPU_SETSIZE];
	affinity(allowed);

	const char *const v[] = { "SLURM_CPUS_PER_TASK", "1",
				  "SLURM_CPUS_ON_NODE", "64", NULL };
	fake_vars = v;
	cr_assert_eq(q_cpus_init(&c, 0, fake_env), 0);
	cr_assert_eq(c.n, 1);
	cr_assert_eq(c.cpu[0], allowed[0]);
	cr_assert_str_eq(c.source, "SLURM_CPUS_PER_TASK=1");
	q_cpus_release(&c);
}

Test(cpus_init, release_accepts_null_and_twice)
{
	struct q_cpus c;
	fake_vars = no_vars;
	cr_assert_eq(q_cpus_init(&c, 2, fake_env), 0);
	q_cpus_release(&c);
	cr_assert_null(c.cpu);
	cr_assert_null(c.busy);
	q_cpus_release(&c);
	q_cpus_release(NULL);
}

/* ---- q_cpus_take and q_cpus_give ---- */

/* A pinning worker's set holds exactly the CPUs of `slots`; one that
 * does not pin (slots not one per CPU of the mask) hands out the whole
 * mask. */
static void assert_set_of(const struct q_cpus *c, const cpu_set_t *set,
			  const unsigned *slots, unsigned n)
{
	cpu_set_t want;
	CPU_ZERO(&want);
	for (unsigned i = 0; i < n; i++)
		CPU_SET(c->cpu[slots[i]], &want);
	if (c->pin)
		cr_assert(CPU_EQUAL(&want, set),
			  "CPU set is not the slots' CPUs");
	else
		cr_assert(CPU_EQUAL(&c->mask, set),
			  "CPU set is not the whole mask");
}

Test(cpus_init, pins_only_with_one_slot_per_cpu)
{
	int allowed[CPU_SETSIZE];
	unsigned naff = affinity(allowed);
	cpu_set_t mask;
	struct q_cpus c;

	cr_assert_eq(sched_getaffinity(0, sizeof(mask), &mask), 0);
	fake_vars = no_vars;
	cr_assert_eq(q_cpus_init(&c, 0, fake_env), 0);
	cr_assert(c.pin);
	cr_assert(CPU_EQUAL(&c.mask, &mask));
	q_cpus_release(&c);

	/* More slots than CPUs: shared, so not pinned. */
	cr_assert_eq(q_cpus_init(&c, naff + 1, fake_env), 0);
	cr_assert_not(c.pin);
	cr_assert(CPU_EQUAL(&c.mask, &mask));
	q_cpus_release(&c);
}

Test(cpus_take, take_and_give)
{
	struct q_cpus c;
	cpu_set_t set;
	unsigned a[4], b[4], slot;

	fake_vars = no_vars;
	cr_assert_eq(q_cpus_init(&c, 4, fake_env), 0);

	/* More than free: refused, nothing taken. */
	cr_assert_not(q_cpus_take(&c, 5, &set, &slot, a));
	cr_assert_eq(c.nfree, 4);
	for (unsigned k = 0; k < 4; k++)
		cr_assert_not(c.busy[k]);

	cr_assert(q_cpus_take(&c, 3, &set, &slot, a));
	cr_assert_eq(c.nfree, 1);
	cr_assert_eq(slot, a[0]);
	cr_assert(a[0] != a[1] && a[0] != a[2] && a[1] != a[2]);
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_lt(a[i], 4);
		cr_assert(c.busy[a[i]]);
	}
	assert_set_of(&c, &set, a, 3);

	cr_assert_not(q_cpus_take(&c, 2, &set, &slot, b));
	cr_assert_eq(c.nfree, 1);
	cr_assert(q_cpus_take(&c, 1, &set, &slot, b));
	cr_assert_eq(c.nfree, 0);
	/* The last slot is the one the first take left. */
	cr_assert(b[0] != a[0] && b[0] != a[1] && b[0] != a[2]);
	cr_assert_eq(slot, b[0]);
	assert_set_of(&c, &set, b, 1);
	cr_assert_not(q_cpus_take(&c, 1, &set, &slot, b));

	q_cpus_give(&c, a, 3);
	cr_assert_eq(c.nfree, 3);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_not(c.busy[a[i]]);
	cr_assert(c.busy[b[0]]);
	q_cpus_give(&c, b, 1);
	cr_assert_eq(c.nfree, 4);

	/* Everything again, in one piece. */
	cr_assert(q_cpus_take(&c, 4, &set, &slot, a));
	cr_assert_eq(c.nfree, 0);
	assert_set_of(&c, &set, a, 4);
	q_cpus_release(&c);
}

Test(cpus_take, one_slot_per_cpu_gives_disjoint_sets)
{
	int allowed[CPU_SETSIZE];
	unsigned naff = affinity(allowed);
	struct q_cpus c;
	cpu_set_t set, seen;
	unsigned s, slot;

	fake_vars = no_vars;
	cr_assert_eq(q_cpus_init(&c, 0, fake_env), 0);
	cr_assert_eq(c.n, naff);
	CPU_ZERO(&seen);
	for (unsigned k = 0; k < naff; k++) {
		cr_assert(q_cpus_take(&c, 1, &set, &slot, &s));
		cr_assert_eq(CPU_COUNT(&set), 1);
		cr_assert(CPU_ISSET(c.cpu[s], &set));
		cr_assert_not(CPU_ISSET(c.cpu[s], &seen),
			      "cpu %d handed out twice", c.cpu[s]);
		CPU_SET(c.cpu[s], &seen);
	}
	cr_assert_eq(CPU_COUNT(&seen), (int)naff);
	cr_assert_not(q_cpus_take(&c, 1, &set, &slot, &s));
	q_cpus_release(&c);
}

Test(cpus_give, ignores_free_and_unknown_slots)
{
	struct q_cpus c;
	cpu_set_t set;
	unsigned a[2], slot;

	fake_vars = no_vars;
	cr_assert_eq(q_cpus_init(&c, 3, fake_env), 0);
	cr_assert(q_cpus_take(&c, 2, &set, &slot, a));
	cr_assert_eq(c.nfree, 1);
	q_cpus_give(&c, a, 2);
	cr_assert_eq(c.nfree, 3);
	/* Giving back twice, or a slot that does not exist, changes
	 * nothing: nfree never exceeds n. */
	q_cpus_give(&c, a, 2);
	cr_assert_eq(c.nfree, 3);
	const unsigned bogus[] = { 3, 99 };
	q_cpus_give(&c, bogus, 2);
	cr_assert_eq(c.nfree, 3);
	q_cpus_release(&c);
}
