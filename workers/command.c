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
 * 4. stdout and stderr reach the task's sinks (memory while small, a file
 *    in tmp/ when big: spoolq/sink.h) through pipes, copied here,
 *    so a write that fails (a full disk, an exceeded quota) is seen by
 *    the worker rather than by the command, which might ignore it and
 *    leave a truncated result that looks complete, or fail for a reason
 *    that is not its own. The first such error is in capture_errno; the
 *    command is then stopped, since its output is lost anyway.
 * 5. A command name without '/' is looked up in the child's PATH once
 *    per name and PATH, not by posix_spawnp for every task: execvp
 *    tries each PATH directory with an execve that fails (ten of them
 *    for `true` here, a tenth of a short task's cost). The lookup is
 *    execvp's (first regular executable file); a task with its own
 *    directory (cwd:, where a relative PATH entry means something else)
 *    and a name not found are left to posix_spawnp.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "command.h"

#define POLL_MS 100
#define KILL_GRACE_NS (2LL * 1000000000)
/* After the child exits, how long its pipes may stay open. */
#define DRAIN_NS (1LL * 1000000000)

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

/* PATH as the child will see it (design note 5). */
static const char *child_path(char *const *envp)
{
	for (char *const *p = envp; p && *p; p++)
		if (strncmp(*p, "PATH=", 5) == 0)
			return *p + 5;
	return "/bin:/usr/bin";
}

/* `name` looked up in `path` the way execvp would: the first regular,
 * executable file, malloc'ed; NULL when there is none. */
static char *lookup(const char *name, const char *path)
{
	size_t nlen = strlen(name);
	for (const char *p = path;; p++) {
		const char *colon = strchr(p, ':');
		size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
		char *full = malloc(dlen + nlen + 3);
		if (!full)
			return NULL;
		/* An empty entry is the current directory, as for execvp. */
		snprintf(full, dlen + nlen + 3, "%.*s%s%s", (int)dlen,
			 dlen ? p : ".", "/", name);
		struct stat st;
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(full, X_OK) == 0)
			return full;
		free(full);
		if (!colon)
			return NULL;
		p = colon;
	}
}

/*
 * Design note 5: lookup() remembered for the last name and PATH (runner
 * threads come and go, so the memory is the process's, under a lock).
 * Writes the path into `out`; false when not found (posix_spawnp then
 * reports why) or too long.
 */
static bool resolve(const char *name, const char *path, char *out,
		    size_t size)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char *last_name, *last_path, *last_found;
	bool ok = false;

	pthread_mutex_lock(&lock);
	if (!last_name || strcmp(last_name, name) != 0 ||
	    strcmp(last_path, path) != 0) {
		free(last_name);
		free(last_path);
		free(last_found);
		last_name = strdup(name);
		last_path = strdup(path);
		last_found = last_name && last_path ? lookup(name, path) : NULL;
		if (!last_name || !last_path) {
			free(last_name);
			free(last_path);
			last_name = last_path = NULL;
		}
	}
	if (last_found && strlen(last_found) < size) {
		strcpy(out, last_found);
		ok = true;
	}
	pthread_mutex_unlock(&lock);
	return ok;
}

/* Start the child with stdout and stderr on `out_w` and `err_w`. */
static int spawn(const struct q_command *cmd, int out_w, int err_w,
		 pid_t *pid_out)
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
	posix_spawn_file_actions_adddup2(&fa, out_w, 1);
	posix_spawn_file_actions_adddup2(&fa, err_w, 2);
	if (cmd->cwd)
		posix_spawn_file_actions_addchdir_np(&fa, cmd->cwd);
	sigemptyset(&none);
	sigfillset(&dflt);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dflt);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
					       POSIX_SPAWN_SETSIGMASK |
					       POSIX_SPAWN_SETSIGDEF);
	char found[PATH_MAX];
	if (!strchr(cmd->argv[0], '/') && !cmd->cwd &&
	    resolve(cmd->argv[0], child_path(env), found, sizeof(found)))
		ret = posix_spawn(pid_out, found, &fa, &attr, cmd->argv, env);
	else
		ret = posix_spawnp(pid_out, cmd->argv[0], &fa, &attr,
				   cmd->argv, env);
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

/* One captured stream: the read end of the child's pipe (-1 at EOF)
 * and the task's sink it is copied into. */
struct stream {
	int pipe_fd;
	struct q_sink *sink;
};

/*
 * Copy what the pipe holds into the sink (design note 4). After a write
 * error the data is read and dropped, so the child never blocks on a
 * full pipe while it is being stopped.
 */
static void pump(struct stream *s, struct q_command_result *res)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(s->pipe_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(s->pipe_fd);
			s->pipe_fd = -1;
			return;
		}
		if (!res->capture_errno) {
			int ret = q_sink_write(s->sink, buf, (size_t)n);
			if (ret < 0)
				res->capture_errno = -ret;
		}
		if ((size_t)n < sizeof(buf))
			return;   /* drained for now */
	}
}

static int open_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -errno;
	/* Only our end is non-blocking: the child sees an ordinary pipe. */
	int fl = fcntl(fds[0], F_GETFL);
	if (fl < 0 || fcntl(fds[0], F_SETFL, fl | O_NONBLOCK) != 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		return -e;
	}
	return 0;
}

int q_command_run(const struct q_command *cmd, q_stop_fn stop, void *ctx,
		  struct q_command_result *res)
{
	struct stream s[2] = { { -1, cmd->out }, { -1, cmd->err } };
	int out_p[2], err_p[2];
	pid_t pid;
	int status = 0;

	memset(res, 0, sizeof(*res));
	int ret = open_pipe(out_p);
	if (ret < 0)
		return ret;
	if ((ret = open_pipe(err_p)) < 0) {
		close(out_p[0]);
		close(out_p[1]);
		return ret;
	}
	ret = spawn(cmd, out_p[1], err_p[1], &pid);
	close(out_p[1]);
	close(err_p[1]);
	s[0].pipe_fd = out_p[0];
	s[1].pipe_fd = err_p[0];
	if (ret != 0) {
		close(out_p[0]);
		close(err_p[0]);
		/* Like a shell: 127 for a command that cannot be found. */
		res->spawn_errno = ret;
		res->exit_code = ret == ENOENT ? 127 : 126;
		q_sink_printf(cmd->err, "qworker: cannot run '%s': %s\n",
			      cmd->argv[0], strerror(ret));
		return 0;
	}
	int pfd = pidfd_open_compat(pid);
	bool exited = false, terminating = false;
	int64_t kill_at = 0, drain_until = 0;
	for (;;) {
		struct pollfd p[3];
		nfds_t n = 0;
		for (int k = 0; k < 2; k++)
			if (s[k].pipe_fd >= 0)
				p[n++] = (struct pollfd){ s[k].pipe_fd, POLLIN, 0 };
		if (exited && n == 0)
			break;
		if (!exited && pfd >= 0)
			p[n++] = (struct pollfd){ pfd, POLLIN, 0 };
		/* No pidfd (old kernel) and both pipes closed: a plain
		 * sleep between waitpid polls. */
		if (poll(p, n, POLL_MS) < 0 && errno != EINTR)
			break;
		for (int k = 0; k < 2; k++)
			if (s[k].pipe_fd >= 0)
				pump(&s[k], res);
		if (exited) {
			/* A process that left the task's group (setsid)
			 * holds the pipe open: stop waiting for its EOF. */
			if (mono_ns() > drain_until)
				break;
			continue;
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			exited = true;
			decode_status(status, res);
			/* Leave no member of the task's group behind. */
			kill(-pid, SIGKILL);
			drain_until = mono_ns() + DRAIN_NS;
			continue;
		}
		/* Output that cannot be stored makes the run worthless: stop
		 * it (the caller gives the task back, design note 4). */
		if (!terminating && (res->capture_errno ||
				     (stop && stop(ctx)))) {
			terminating = true;
			res->stopped = !res->capture_errno;
			kill(-pid, SIGTERM);
			kill_at = mono_ns() + KILL_GRACE_NS;
		} else if (terminating && kill_at && mono_ns() > kill_at) {
			kill(-pid, SIGKILL);
			kill_at = 0;
		}
	}
	for (int k = 0; k < 2; k++)
		if (s[k].pipe_fd >= 0)
			close(s[k].pipe_fd);
	if (pfd >= 0)
		close(pfd);
	if (!exited) {
		/* The loop left on a poll error: reap. */
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		decode_status(status, res);
		kill(-pid, SIGKILL);
	}
	return 0;
}
