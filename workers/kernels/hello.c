/*
 * hello.c: the multi-node hello world: who runs this task, where, on
 * which cores, with how many threads.
 *
 * Result: a line for the task (host, pid, cwd, cores) and one per OpenMP
 * thread with the CPU it runs on, in thread order.
 */
#include <limits.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <spoolq/kernel.h>

#include "kernels.h"

/* "0-3,6" style list of the calling thread's CPUs. */
static void cpu_list(char *out, size_t size)
{
	cpu_set_t set;
	size_t n = 0;
	out[0] = '\0';
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return;
	for (int i = 0; i < CPU_SETSIZE && n + 16 < size; i++) {
		if (!CPU_ISSET(i, &set))
			continue;
		int j = i;
		while (j + 1 < CPU_SETSIZE && CPU_ISSET(j + 1, &set))
			j++;
		n += (size_t)snprintf(out + n, size - n, "%s%d", n ? "," : "",
				      i);
		if (j > i)
			n += (size_t)snprintf(out + n, size - n, "-%d", j);
		i = j;
	}
}

static int run(struct q_ctx *ctx)
{
	char host[256] = "?", cwd[PATH_MAX] = "?", cpus[512];
	unsigned threads = q_ctx_threads(ctx);

	gethostname(host, sizeof(host) - 1);
	if (!getcwd(cwd, sizeof(cwd)))
		strcpy(cwd, "?");
	cpu_list(cpus, sizeof(cpus));
	q_ctx_printf(ctx, "hello from %s: host %s pid %ld cwd %s cores %s "
		     "threads %u\n", q_ctx_task(ctx), host, (long)getpid(), cwd,
		     cpus, threads);
	int *where = calloc(threads, sizeof(int));
	if (!where)
		return 1;
#pragma omp parallel num_threads(threads)
	where[omp_get_thread_num()] = sched_getcpu();
	for (unsigned t = 0; t < threads; t++)
		q_ctx_printf(ctx, "  thread %u/%u on cpu %d\n", t, threads,
			     where[t]);
	free(where);
	return 0;
}

const struct q_kernel q_kernel_hello = {
	Q_KERNEL_ABI, "hello",
	"print host, pid, working directory, cores and OpenMP threads",
	"(no arguments)",
	run,
};
