/*
 * mem.c: allocation that cannot fail. Out of memory prints one line and
 * aborts; there is nothing sensible a queue tool can do half-way through
 * an operation without memory, and every spool change is atomic, so the
 * spool is consistent at any abort point.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void out_of_memory(size_t n)
{
	fprintf(stderr, "spoolq: out of memory (allocating %zu bytes)\n", n);
	abort();
}

void *q__malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		out_of_memory(n);
	return p;
}

void *q__calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		out_of_memory(n * size);
	return p;
}

void *q__realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		out_of_memory(n);
	return q;
}

void *q__reallocarray(void *p, size_t n, size_t size)
{
	void *q = reallocarray(p, n ? n : 1, size ? size : 1);
	if (!q)
		out_of_memory(n * size);
	return q;
}

char *q__strdup(const char *s)
{
	return q__strndup(s, strlen(s));
}

char *q__strndup(const char *s, size_t n)
{
	char *d = q__malloc(n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *q__asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory(0);
	return s;
}

void q__grow(void *arrp, size_t *cap, size_t need, size_t size)
{
	void **arr = arrp;

	if (need <= *cap)
		return;
	size_t ncap = *cap ? *cap : 8;
	while (ncap < need)
		ncap *= 2;
	*arr = q__reallocarray(*arr, ncap, size);
	*cap = ncap;
}
