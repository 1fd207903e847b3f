/*
 * buf.c: a growable, always NUL-terminated byte buffer (git's strbuf, in
 * small). The buffer owns its memory; _detach hands it to the caller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void reserve(struct q_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	b->data = q__realloc(b->data, cap);
	b->cap = cap;
}

void q__buf_add(struct q_buf *b, const void *data, size_t len)
{
	reserve(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void q__buf_addstr(struct q_buf *b, const char *s)
{
	q__buf_add(b, s, strlen(s));
}

void q__buf_addch(struct q_buf *b, char c)
{
	q__buf_add(b, &c, 1);
}

void q__buf_vprintf(struct q_buf *b, const char *fmt, va_list ap)
{
	va_list copy;

	va_copy(copy, ap);
	int n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		return;
	reserve(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void q__buf_printf(struct q_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	q__buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void q__buf_reset(struct q_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *q__buf_detach(struct q_buf *b)
{
	char *s = b->data ? b->data : q__strdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

void q__buf_release(struct q_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
