/*
 * command.c: spawn a command task and wait for it.
 *
 * Design notes
 * 1. posix_spawn (vfork-like in glibc) keeps task start cheap even for a
 *    big worker; POSIX_SPAWN_SETSID gives the task its own process group.
 * 2. The wait is a poll on a pidfd with a short timeout, so the worker
 *    notices a cancel or stop request while the command runs; the stop is
 *    SIGTERM to the whole group, then SIGKILL after a grace period.
 * 3. The child's environment is exactly the array the caller built
 *    (runner.c: the worker's environment, then the task's env:, then
 *    spoolq's Q_* variables; docs/security.md), never the worker's
 *    environ, and never changed with setenv (runner threads share it).
 *    Here, at the last step, SPOOLQ_* variables are dropped (fault
 *    injection and other knobs given to a worker are for that worker,
 *    not for a qsubmit a task runs) and so is any entry that is not
 *    KEY=VALUE.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "command.h"

#define POLL_MS 100
#define KILL_GRACE_NS (2LL * 1000000000)

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int pidfd_open_compat(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

/* An entry the child may see: KEY=VALUE with a non-empty key, and not
 * one of spoolq's own SPOOLQ_* knobs. */
static bool env_passes(const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		return false;
	return strncmp(kv, "SPOOLQ_", 7) != 0;
}

/* The child's envp: cmd->envp filtered (design note 3). The array is
 * malloc'ed; its strings are cmd->envp's. NULL when out of memory. */
static char **child_env(const struct q_command *cmd)
{
	size_t n = 0;
	for (char *const *p = cmd->envp; p && *p; p++)
		n++;
	char **env = calloc(n + 1, sizeof(char *));
	if (!env)
		return NULL;
	size_t k = 0;
	for (char *const *p = cmd->envp; p && *p; p++)
		if (env_passes(*p))
			env[k++] = *p;
	env[k] = NULL;
	return env;
}

static int spawn(const struct q_command *cmd, pid_t *pid_out)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dflt;
	int ret;
	char **env = child_env(cmd);

	if (!env)
		return ENOMEM;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, cmd->out_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, cmd->err_fd, 2);
	if (cmd->cwd)
		posix_spawn_file_actions_addchdir_np(&fa, cmd->cwd);
	sigemptyset(&none);
	sigfillset(&dflt);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dflt);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
					       POSIX_SPAWN_SETSIGMASK |
					       POSIX_SPAWN_SETSIGDEF);
	ret = posix_spawnp(pid_out, cmd->argv[0], &fa, &attr, cmd->argv,
			   env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	return ret;
}

static void decode_status(int status, struct q_command_result *res)
{
	if (WIFEXITED(status))
		res->exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		res->exit_code = -WTERMSIG(status);
	else
		res->exit_code = -1;
}

int q_command_run(const struct q_command *cmd, q_stop_fn stop, void *ctx,
		  struct q_command_result *res)
{
	pid_t pid;
	int status;

	memset(res, 0, sizeof(*res));
	int ret = spawn(cmd, &pid);
	if (ret != 0) {
		/* Like a shell: 127 for a command that cannot be found. */
		res->spawn_errno = ret;
		res->exit_code = ret == ENOENT ? 127 : 126;
		dprintf(cmd->err_fd, "qworker: cannot run '%s': %s\n",
			cmd->argv[0], strerror(ret));
		return 0;
	}
	int pfd = pidfd_open_compat(pid);
	int64_t kill_at = 0;
	for (;;) {
		if (pfd >= 0) {
			struct pollfd p = { .fd = pfd, .events = POLLIN };
			int n = poll(&p, 1, POLL_MS);
			if (n < 0 && errno != EINTR)
				break;
		} else {
			/* No pidfd (old kernel): poll waitpid. */
			pid_t r = waitpid(pid, &status, WNOHANG);
			if (r == pid) {
				decode_status(status, res);
				return 0;
			}
			struct timespec ts = { 0, POLL_MS * 1000000L };
			nanosleep(&ts, NULL);
		}
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (!res->stopped && stop && stop(ctx)) {
			res->stopped = true;
			kill(-pid, SIGTERM);
			kill_at = mono_ns() + KILL_GRACE_NS;
		} else if (res->stopped && kill_at && mono_ns() > kill_at) {
			kill(-pid, SIGKILL);
			kill_at = 0;
		}
	}
	if (pfd >= 0)
		close(pfd);
	/* Reap (the loop above may have left on a poll error). */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	decode_status(status, res);
	/* Leave no member of the task's group behind. */
	kill(-pid, SIGKILL);
	return 0;
}
