/*
 * command.h: running a command task as a child process.
 *
 * The child gets its own session and process group (so a stop or timeout
 * reaches every process it started), stdin from /dev/null, stdout and
 * stderr on the files given, an explicit environment, and the calling
 * thread's CPU affinity (the worker sets it to the task's cores first).
 * Its stdout and stderr go through pipes that the calling thread copies
 * into the sinks `out` and `err`, so a failed write is the worker's to
 * see.
 */
#ifndef QWORKER_COMMAND_H
#define QWORKER_COMMAND_H

#include <stdbool.h>
#include <stdint.h>

#include <spoolq/spoolq.h>

struct q_command {
	char *const *argv;
	char *const *envp;
	const char *cwd;        /* NULL: the worker's directory */
	struct q_sink *out, *err;
};

/* Why the wait loop should stop the child: polled every ~100 ms. */
typedef bool (*q_stop_fn)(void *ctx);

struct q_command_result {
	int exit_code;          /* exit status, or -signal */
	bool stopped;           /* killed because stop_fn said so */
	int spawn_errno;        /* the command could not be started */
	int capture_errno;      /* its output could not be stored (ENOSPC,
				 * EDQUOT, ...): it was stopped, and the
				 * result is worthless */
};

/* Run and wait. Returns 0 (see result) or -errno for a worker-side
 * failure that is not the command's fault. */
int q_command_run(const struct q_command *cmd, q_stop_fn stop, void *ctx,
		  struct q_command_result *res);

#endif
