/*
 * test_text.c: libq/text.c: percent-encoding of tokens, the line
 * tokeniser and the bounded number parsers.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* Escape `s`, check the token is one clean token, decode it back. */
static void expect_round_trip(const char *s)
{
	struct q_buf b = Q_BUF_INIT;

	q__esc_append(&b, s);
	cr_assert_gt(b.len, 0, "empty token for '%s'", s);
	for (size_t i = 0; i < b.len; i++) {
		unsigned char c = (unsigned char)b.data[i];
		cr_assert(c > ' ' && c != 0x7f, "byte 0x%02x in token %s", c,
			  b.data);
	}
	char *back = q__unesc(b.data);
	cr_assert_not_null(back, "cannot decode %s", b.data);
	cr_assert_str_eq(back, s);
	free(back);
	q__buf_release(&b);
}

/* A writable copy with a spare byte at [len], as q__lines_init needs. */
static char *copy_of(const char *s, size_t len)
{
	char *p = malloc(len + 1);
	cr_assert_not_null(p);
	memcpy(p, s, len);
	p[len] = 'Z';
	return p;
}

/* ---- escaping ---- */

Test(text, every_byte_round_trips)
{
	char s[4];

	for (int c = 1; c < 256; c++) {
		/* Alone, and between two ordinary characters. */
		s[0] = (char)c;
		s[1] = '\0';
		expect_round_trip(s);
		s[0] = 'x';
		s[1] = (char)c;
		s[2] = 'y';
		s[3] = '\0';
		expect_round_trip(s);
	}
}

Test(text, all_bytes_in_one_string_round_trip)
{
	char s[256];

	for (int c = 1; c < 256; c++)
		s[c - 1] = (char)c;
	s[255] = '\0';
	expect_round_trip(s);
}

Test(text, empty_string_round_trips)
{
	struct q_buf b = Q_BUF_INIT;

	q__esc_append(&b, "");
	cr_assert_str_eq(b.data, "%-");
	char *back = q__unesc(b.data);
	cr_assert_str_eq(back, "");
	free(back);
	q__buf_release(&b);
	/* A string that looks like the marker is not confused with it. */
	expect_round_trip("%-");
	expect_round_trip("-");
}

Test(text, escape_exact_encoding)
{
	struct q_buf b = Q_BUF_INIT;

	q__esc_append(&b, "a b%c\n\t\x7f~\xc3\xa9");
	cr_assert_str_eq(b.data, "a%20b%25c%0A%09%7F~\xc3\xa9");
	q__buf_release(&b);
}

Test(text, unescape_accepts_both_hex_cases)
{
	char *s = q__unesc("%0a%0A%7f%7F%2b");

	cr_assert_str_eq(s, "\n\n\x7f\x7f+");
	free(s);
}

Test(text, bad_escapes_are_refused)
{
	static const char *const bad[] = {
		"%", "a%", "%4", "a%4", "%G0", "%0G", "%-x", "x%-", "%%",
		"%%41", "% 1", "%00", "a%00b", "%0", "%+1",
	};

	for (size_t i = 0; i < Q_ARRAY_SIZE(bad); i++)
		cr_assert_null(q__unesc(bad[i]), "'%s' decoded", bad[i]);
}

/* ---- q__lines_next ---- */

Test(text, lines_tokenise)
{
	const char in[] = "a b c\nd\nlast line";
	char *buf = copy_of(in, sizeof(in) - 1);
	struct q_lines it;
	char *tok[Q_MAX_TOKENS];

	q__lines_init(&it, buf, sizeof(in) - 1);
	cr_assert_eq(q__lines_next(&it, tok), 3);
	cr_assert_str_eq(tok[0], "a");
	cr_assert_str_eq(tok[1], "b");
	cr_assert_str_eq(tok[2], "c");
	cr_assert_eq(it.lineno, 1);
	cr_assert_eq(q__lines_next(&it, tok), 1);
	cr_assert_str_eq(tok[0], "d");
	cr_assert_eq(it.lineno, 2);
	/* The last line needs no newline. */
	cr_assert_eq(q__lines_next(&it, tok), 2);
	cr_assert_str_eq(tok[0], "last");
	cr_assert_str_eq(tok[1], "line");
	cr_assert_eq(it.lineno, 3);
	cr_assert_eq(q__lines_next(&it, tok), 0);
	cr_assert_eq(q__lines_next(&it, tok), 0);
	free(buf);
}

Test(text, lines_empty_input)
{
	char buf[1] = { 'Z' };
	struct q_lines it;
	char *tok[Q_MAX_TOKENS];

	q__lines_init(&it, buf, 0);
	cr_assert_eq(q__lines_next(&it, tok), 0);
	cr_assert_eq(it.lineno, 0);
}

Test(text, lines_sixteen_tokens_but_not_seventeen)
{
	const char sixteen[] = "0 1 2 3 4 5 6 7 8 9 a b c d e f\n";
	const char seventeen[] = "0 1 2 3 4 5 6 7 8 9 a b c d e f g\n";
	char *tok[Q_MAX_TOKENS];
	struct q_lines it;
	char *buf;

	buf = copy_of(sixteen, sizeof(sixteen) - 1);
	q__lines_init(&it, buf, sizeof(sixteen) - 1);
	cr_assert_eq(q__lines_next(&it, tok), Q_MAX_TOKENS);
	cr_assert_str_eq(tok[15], "f");
	free(buf);
	buf = copy_of(seventeen, sizeof(seventeen) - 1);
	q__lines_init(&it, buf, sizeof(seventeen) - 1);
	cr_assert_eq(q__lines_next(&it, tok), -1);
	free(buf);
}

Test(text, malformed_lines_are_refused_with_their_number)
{
	/* Each bad line comes after one good line, so it is line 2. */
	static const struct { const char *text; size_t len; } bad[] = {
		{ "ok\na  b\n", 8 },      /* empty token */
		{ "ok\n a\n", 6 },        /* leading space */
		{ "ok\na \n", 6 },        /* trailing space */
		{ "ok\na b \n", 8 },      /* trailing space after tokens */
		{ "ok\n \n", 5 },         /* a lone space */
		{ "ok\n\n", 4 },          /* empty line */
		{ "ok\na\0b\n", 7 },      /* NUL inside a token */
		{ "ok\na \0\n", 7 },      /* NUL after a space */
		{ "ok\n\0", 4 },          /* NUL as the last line */
		{ "ok\na\tb \n", 8 },     /* trailing space, tab is a byte */
	};
	char *tok[Q_MAX_TOKENS];

	for (size_t i = 0; i < Q_ARRAY_SIZE(bad); i++) {
		char *buf = copy_of(bad[i].text, bad[i].len);
		struct q_lines it;
		q__lines_init(&it, buf, bad[i].len);
		cr_assert_eq(q__lines_next(&it, tok), 1, "case %zu", i);
		cr_assert_eq(q__lines_next(&it, tok), -1, "case %zu", i);
		cr_assert_eq(it.lineno, 2, "case %zu", i);
		free(buf);
	}
}

Test(text, lines_tab_is_part_of_a_token)
{
	const char in[] = "a\tb c\n";
	char *buf = copy_of(in, sizeof(in) - 1);
	struct q_lines it;
	char *tok[Q_MAX_TOKENS];

	q__lines_init(&it, buf, sizeof(in) - 1);
	cr_assert_eq(q__lines_next(&it, tok), 2);
	cr_assert_str_eq(tok[0], "a\tb");
	free(buf);
}

/* ---- q__tok_u64 and q__tok_i64 ---- */

Test(text, tok_u64_bounds)
{
	static const char *const bad[] = {
		"", "-1", "+1", "01", "00", " 1", "1 ", "1x",
		"18446744073709551616", "100000000000000000000",
	};
	uint64_t v;

	cr_assert(q__tok_u64("0", &v));
	cr_assert_eq(v, 0);
	cr_assert(q__tok_u64("18446744073709551615", &v));
	cr_assert_eq(v, UINT64_MAX);
	for (size_t i = 0; i < Q_ARRAY_SIZE(bad); i++)
		cr_assert_not(q__tok_u64(bad[i], &v), "'%s'", bad[i]);
}

Test(text, tok_i64_bounds)
{
	static const struct { const char *s; int64_t v; } ok[] = {
		{ "0", 0 },
		{ "-1", -1 },
		{ "42", 42 },
		{ "-1000", -1000 },
		{ "9223372036854775807", INT64_MAX },
		{ "-9223372036854775807", -INT64_MAX },
		{ "-9223372036854775808", INT64_MIN },
	};
	static const char *const bad[] = {
		"", "-", "--1", "+1", "-01", "01", " 1", "1 ", "1.0", "-x",
		"9223372036854775808", "-9223372036854775809",
		"18446744073709551615", "-18446744073709551616",
	};
	int64_t v;

	for (size_t i = 0; i < Q_ARRAY_SIZE(ok); i++) {
		v = 1;
		cr_assert(q__tok_i64(ok[i].s, &v), "'%s'", ok[i].s);
		cr_assert_eq(v, ok[i].v, "'%s'", ok[i].s);
	}
	for (size_t i = 0; i < Q_ARRAY_SIZE(bad); i++)
		cr_assert_not(q__tok_i64(bad[i], &v), "'%s'", bad[i]);
}

Test(text, tok_i64_reads_what_lld_writes)
{
	static const int64_t values[] = {
		INT64_MIN, INT64_MIN + 1, -1000, -1, 0, 1, INT64_MAX,
	};

	for (size_t i = 0; i < Q_ARRAY_SIZE(values); i++) {
		char s[32];
		int64_t v;
		snprintf(s, sizeof(s), "%lld", (long long)values[i]);
		cr_assert(q__tok_i64(s, &v), "'%s'", s);
		cr_assert_eq(v, values[i]);
	}
}
