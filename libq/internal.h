/*
 * internal.h: declarations shared by libq's source files and its unit
 * tests, not installed. Internal non-static names carry the q__ prefix.
 */
#ifndef LIBQ_INTERNAL_H
#define LIBQ_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <spoolq/spoolq.h>

#define Q_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- memory (mem.c) ----
 * Allocation failure is not recoverable in any useful way in these tools;
 * like git's xmalloc, these print "out of memory" and abort.
 */
void *q__malloc(size_t n);
void *q__calloc(size_t n, size_t size);
void *q__realloc(void *p, size_t n);
void *q__reallocarray(void *p, size_t n, size_t size);
char *q__strdup(const char *s);
char *q__strndup(const char *s, size_t n);
char *q__asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grow *arr (of *cap elements of `size` bytes) to hold at least `need`. */
void q__grow(void *arrp, size_t *cap, size_t need, size_t size);

/* ---- growable byte buffer (buf.c) ---- */
struct q_buf {
	char *data;   /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
};
#define Q_BUF_INIT { NULL, 0, 0 }
void q__buf_add(struct q_buf *b, const void *data, size_t len);
void q__buf_addstr(struct q_buf *b, const char *s);
void q__buf_addch(struct q_buf *b, char c);
void q__buf_printf(struct q_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void q__buf_vprintf(struct q_buf *b, const char *fmt, va_list ap);
void q__buf_reset(struct q_buf *b);
char *q__buf_detach(struct q_buf *b);
void q__buf_release(struct q_buf *b);

/* ---- time (clock.c) ---- */
int64_t q__now_ns(void);        /* CLOCK_REALTIME, for records only */
int64_t q__mono_ns(void);       /* CLOCK_MONOTONIC, for local timeouts */

/* ---- host identity (names.c) ---- */
const char *q__hostname(void);  /* short host name, validated, cached */

#endif
