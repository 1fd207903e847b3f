/*
 * text.c: escaping and tokenising for spoolq's line-based files.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "names_internal.h"
#include "text.h"

void q__esc_append(struct q_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	if (!*s) {
		/* The empty string is "%" followed by nothing legal... use a
		 * marker that decodes to "". */
		q__buf_addstr(b, "%-");
		return;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= ' ' || *p == '%' || *p == 0x7f) {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			q__buf_add(b, e, 3);
		} else {
			q__buf_addch(b, (char)*p);
		}
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *q__unesc(const char *tok)
{
	if (strcmp(tok, "%-") == 0)
		return q__strdup("");
	size_t n = strlen(tok);
	char *out = q__malloc(n + 1), *o = out;
	for (const char *p = tok; *p; p++) {
		if (*p != '%') {
			*o++ = *p;
			continue;
		}
		int hi = hexval(p[1]), lo = hi >= 0 ? hexval(p[2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		*o++ = (char)(hi * 16 + lo);
		p += 2;
	}
	*o = '\0';
	return out;
}

void q__lines_init(struct q_lines *it, char *data, size_t len)
{
	it->p = data;
	it->end = data + len;
	it->lineno = 0;
}

int q__lines_next(struct q_lines *it, char **tok)
{
	if (it->p >= it->end)
		return 0;
	char *line = it->p;
	char *nl = memchr(line, '\n', (size_t)(it->end - line));
	char *stop = nl ? nl : it->end;
	it->p = nl ? nl + 1 : it->end;
	it->lineno++;
	if (memchr(line, '\0', (size_t)(stop - line)))
		return -1;
	*stop = '\0';
	int n = 0;
	char *s = line;
	while (s < stop) {
		char *sp = strchr(s, ' ');
		char *e = sp ? sp : stop;
		if (e == s || n == Q_MAX_TOKENS)
			return -1;
		*e = '\0';
		tok[n++] = s;
		s = e + 1;
		if (!sp)
			break;
		if (s >= stop)
			return -1; /* trailing space */
	}
	if (n == 0)
		return -1;
	return n;
}

bool q__tok_u64(const char *tok, uint64_t *v)
{
	return q__parse_u64(tok, NULL, v);
}

bool q__tok_i64(const char *tok, int64_t *v)
{
	uint64_t u;
	if (tok[0] == '-') {
		/* INT64_MIN is what "%lld" writes for it, so it must parse. */
		if (!q__parse_u64(tok + 1, NULL, &u) ||
		    u > (uint64_t)INT64_MAX + 1)
			return false;
		*v = u > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)u;
		return true;
	}
	if (!q__parse_u64(tok, NULL, &u) || u > (uint64_t)INT64_MAX)
		return false;
	*v = (int64_t)u;
	return true;
}
