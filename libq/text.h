/*
 * text.h: the line format of spoolq's own files (job, spec, records).
 *
 * A file is lines of space-separated tokens. A token that carries a user
 * string is percent-encoded: '%', bytes up to ' ' and DEL become %XX, so a
 * token never holds a space, a newline or a NUL. Parsers are strict and
 * bounded: a malformed line is an error with its line number, never a
 * crash.
 */
#ifndef LIBQ_TEXT_H
#define LIBQ_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

void q__esc_append(struct q_buf *b, const char *s);
/* Decode a token; NULL when it holds a bad escape or %00. */
char *q__unesc(const char *tok);

#define Q_MAX_TOKENS 16

struct q_lines {
	char *p;        /* next unread byte */
	char *end;
	unsigned lineno;
};

/* Iterate over a writable buffer; the lines are split in place. data[len]
 * must be writable too: a last line without '\n' is ended there (buffers
 * from q__read_file and struct q_buf have their NUL there). */
void q__lines_init(struct q_lines *it, char *data, size_t len);
/*
 * Next line split into tokens (at most Q_MAX_TOKENS; more is an error).
 * Returns the token count, 0 at the end, -1 for a malformed line (too many
 * tokens, empty token, or a NUL byte).
 */
int q__lines_next(struct q_lines *it, char **tok);

bool q__tok_u64(const char *tok, uint64_t *v);
bool q__tok_i64(const char *tok, int64_t *v);

#endif
