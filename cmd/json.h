/*
 * json.h: writing JSON (the schema is in docs/json.md).
 */
#ifndef SPOOLQ_JSON_H
#define SPOOLQ_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A JSON string from `len` bytes: escapes control characters, quotes and
 * backslashes; bytes that are not valid UTF-8 become U+FFFD. */
void q_json_str(FILE *out, const char *s, size_t len);
void q_json_cstr(FILE *out, const char *s);   /* NULL prints null */
/* An exit status (exit code, or -signal), or null for none (Q_EXIT_NONE). */
void q_json_exit(FILE *out, int exit_code);
/* Nanoseconds since the epoch as seconds with 6 decimals, or null for 0. */
void q_json_time(FILE *out, int64_t ns);

#endif
