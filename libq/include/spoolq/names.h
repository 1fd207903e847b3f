/*
 * spoolq/names.h: the names users give (jobs, tasks) and the ids spoolq
 * gives (jobs, workers).
 *
 * A name is 1 to 64 characters from [A-Za-z0-9._+-], starting with a letter,
 * a digit or '_', and not made of digits only (those are job ids). So a
 * name can never be '..', contain '/', spaces or control characters, or
 * escape the spool when used as a path component.
 */
#ifndef SPOOLQ_NAMES_H
#define SPOOLQ_NAMES_H

#include <stdbool.h>
#include <stdint.h>

#include <spoolq/error.h>
#include <spoolq/export.h>

#define Q_NAME_MAX 64

/* 0 if `name` is a valid name; else -EINVAL and an error naming `what`
 * ("job name", "task name") and the offending character. */
Q_EXPORT int q_name_check(const char *what, const char *name,
			  struct q_error *err);

/* The closest of `candidates` (NULL-terminated) to `word` by edit
 * distance (prefixes count as close), or NULL when none is close: for
 * "did you mean" hints. */
Q_EXPORT const char *q_suggest(const char *word,
			       const char *const *candidates);

/* Parse a job id: decimal, 1..2^63-1, no sign, no leading zero. */
Q_EXPORT bool q_job_id_parse(const char *s, uint64_t *id_out);

#endif
