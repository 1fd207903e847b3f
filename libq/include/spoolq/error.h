/*
 * spoolq/error.h: errors a user must act on.
 *
 * Functions that can fail for a reason the user must read return 0 or a
 * negative errno value AND fill a struct q_error. The struct carries the
 * whole sentence (what failed, the subject quoted, the cause, how to fix it
 * where known) and the class of the failure, which the commands map to their
 * exit status:
 *
 *   Q_ERR_INPUT   bad input: options, names, workflow files, an unknown
 *                 spool format. Exit status 2. The spool is left unchanged.
 *   Q_ERR_SYSTEM  the spool or the system failed: I/O errors, full disks,
 *                 permissions. Exit status 3.
 *
 * The first error set wins: later q_error_set calls on an error that is
 * already set are ignored, so the innermost cause is what the user reads.
 * A struct q_error owns no heap memory; it needs no release.
 */
#ifndef SPOOLQ_ERROR_H
#define SPOOLQ_ERROR_H

#include <stdbool.h>
#include <stdio.h>

#include <spoolq/export.h>

enum q_error_kind {
	Q_ERR_NONE = 0,
	Q_ERR_INPUT,
	Q_ERR_SYSTEM,
};

#define Q_ERROR_MSG_MAX 1024

struct q_error {
	enum q_error_kind kind;
	int errnum;                 /* errno of the cause, 0 if none */
	char message[Q_ERROR_MSG_MAX];
};

#define Q_ERROR_INIT { Q_ERR_NONE, 0, { 0 } }

/*
 * Record an error. `errnum` (an errno value, 0 for none) is appended as
 * ": strerror(errnum)" when the message is printed. Returns -errnum, or
 * -EINVAL when errnum is 0, so callers can write `return q_error_set(...)`.
 */
Q_EXPORT int q_error_set(struct q_error *err, enum q_error_kind kind,
			 int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

Q_EXPORT bool q_error_is_set(const struct q_error *err);
Q_EXPORT void q_error_clear(struct q_error *err);

/* "prog: message[: strerror]\n" on `out`. */
Q_EXPORT void q_error_print(FILE *out, const char *prog,
			    const struct q_error *err);

/* The exit status a command returns for this error: 2 input, 3 system. */
Q_EXPORT int q_error_exit_status(const struct q_error *err);

#endif
