/*
 * test_worker.c: the qworker loop (workers/worker.c) as others see it in
 * the spool.
 *
 * A live worker must look alive to every reclaimer all the time: if its
 * heartbeat ever gets older than its lease, a reclaimer requeues its
 * running task and the task runs twice without anyone dying. Found by
 * the chaos test: with --lease 1 the heartbeat came every 1 s (lease/4 in
 * whole seconds, rounded down to 0, then up to 1), so a worker waiting
 * on a long command looked dead for up to 200 ms of every beat.
 */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "helpers.h"
#include "../../workers/worker.h"

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A worker with `lease` runs one `sleep SECONDS` task, then exits. */
static pid_t spawn_qworker(struct tspool *t, unsigned lease,
			   const char *seconds)
{
	struct q_job *job = q_job_new("long");
	struct q_group *g = q_job_add_group(job, "long", Q_TASK_COMMAND);
	q_group_add_argv(g, "sleep");
	q_group_add_argv(g, seconds);
	g->count = 1;
	tsubmit(t, job);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct q_worker_options opt = Q_WORKER_OPTIONS_INIT;
		opt.cpus = 1;
		opt.exit_when_idle = true;
		opt.lease_seconds = lease;
		_exit(q_worker_main(t->sp, &opt));
	}
	return pid;
}

/* Samples of the registry's verdict on every worker while the task runs:
 * how many, and how many said "not alive". */
static void sample(struct tspool *t, int64_t ms, int *seen, int *dead)
{
	int64_t end = mono_ms() + ms;
	*seen = *dead = 0;
	while (mono_ms() < end) {
		struct q_worker_info *w;
		size_t n;
		struct q_error err = Q_ERROR_INIT;
		cr_assert_eq(q_workers_list(t->sp, &w, &n, &err), 0, "%s",
			     err.message);
		for (size_t i = 0; i < n; i++) {
			(*seen)++;
			*dead += !w[i].alive;
		}
		free(w);
		struct timespec ts = { 0, 5 * 1000000L };
		nanosleep(&ts, NULL);
	}
}

static void heartbeat_keeps_up(unsigned lease)
{
	struct tspool t;
	tspool_init(&t);
	pid_t pid = spawn_qworker(&t, lease, "3");
	/* The worker registers within a moment; then 2.5 s of samples
	 * cover at least two heartbeat periods of the old 1 s. */
	int seen = 0, dead = 0;
	int64_t deadline = mono_ms() + 10000;
	while (seen == 0 && mono_ms() < deadline)
		sample(&t, 10, &seen, &dead);
	cr_assert_gt(seen, 0, "the worker never registered");
	sample(&t, 2500, &seen, &dead);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "qworker exit status %d", status);
	cr_expect_eq(dead, 0, "lease %u s: the live worker looked dead in %d "
		     "of %d samples", lease, dead, seen);
	tspool_fini(&t);
}

Test(worker, with_a_1_s_lease_a_live_worker_never_looks_dead, .timeout = 30)
{
	heartbeat_keeps_up(1);
}

Test(worker, with_a_2_s_lease_a_live_worker_never_looks_dead, .timeout = 30)
{
	heartbeat_keeps_up(2);
}
