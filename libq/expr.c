/*
 * expr.c: integer expressions in dependency indexes ("blocks[{i}*10+9]").
 *
 * Grammar (after "{i}" has been replaced by a number):
 *   expr   := term (('+' | '-') term)*
 *   term   := factor (('*' | '/' | '%') factor)*
 *   factor := ['-'] (number | '(' expr ')')
 * Spaces are allowed between tokens. Division truncates toward zero;
 * dividing by zero, overflowing 64 bits, nesting deeper than 32
 * parentheses or trailing junk are errors. Bounded and recursion-limited:
 * the text comes from untrusted workflow files.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "expr.h"

#define MAX_NESTING 32

struct parser {
	const char *p;
	int depth;
	bool bad;
};

static void skip_spaces(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t')
		ps->p++;
}

static int64_t expr(struct parser *ps);

static int64_t factor(struct parser *ps)
{
	skip_spaces(ps);
	if (*ps->p == '-') {
		ps->p++;
		int64_t v = factor(ps);
		if (v == INT64_MIN)
			ps->bad = true;
		return ps->bad ? 0 : -v;
	}
	if (*ps->p == '(') {
		if (++ps->depth > MAX_NESTING) {
			ps->bad = true;
			return 0;
		}
		ps->p++;
		int64_t v = expr(ps);
		skip_spaces(ps);
		if (*ps->p != ')')
			ps->bad = true;
		else
			ps->p++;
		ps->depth--;
		return v;
	}
	if (!isdigit((unsigned char)*ps->p)) {
		ps->bad = true;
		return 0;
	}
	int64_t v = 0;
	while (isdigit((unsigned char)*ps->p)) {
		int d = *ps->p++ - '0';
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, d, &v)) {
			ps->bad = true;
			return 0;
		}
	}
	return v;
}

static int64_t term(struct parser *ps)
{
	int64_t v = factor(ps);
	for (;;) {
		skip_spaces(ps);
		char op = *ps->p;
		if (ps->bad || (op != '*' && op != '/' && op != '%'))
			return v;
		ps->p++;
		int64_t r = factor(ps);
		if (ps->bad)
			return 0;
		if (op == '*') {
			if (__builtin_mul_overflow(v, r, &v))
				ps->bad = true;
		} else if (r == 0 || (v == INT64_MIN && r == -1)) {
			ps->bad = true;
		} else {
			v = op == '/' ? v / r : v % r;
		}
	}
}

static int64_t expr(struct parser *ps)
{
	int64_t v = term(ps);
	for (;;) {
		skip_spaces(ps);
		char op = *ps->p;
		if (ps->bad || (op != '+' && op != '-'))
			return v;
		ps->p++;
		int64_t r = term(ps);
		if (ps->bad)
			return 0;
		if (op == '+' ? __builtin_add_overflow(v, r, &v)
			      : __builtin_sub_overflow(v, r, &v))
			ps->bad = true;
	}
}

int q__expr_eval(const char *text, int64_t *out)
{
	struct parser ps = { text, 0, false };
	int64_t v = expr(&ps);
	skip_spaces(&ps);
	if (ps.bad || *ps.p)
		return -1;
	*out = v;
	return 0;
}
