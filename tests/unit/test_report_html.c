/*
 * test_report_html.c: the report's escaping and formatting
 * (cmd/report_html.c): nothing from a task reaches the page as markup or
 * as invalid UTF-8.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_html.h"

/* report_html_escape(s[0..len)) as a string (malloc'ed). */
static char *escaped(const char *s, size_t len)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	cr_assert_not_null(f);
	report_html_escape(f, s, len);
	cr_assert_eq(fclose(f), 0);
	return text;
}

#define assert_escapes(in, len, want)                                        \
	do {                                                                  \
		char *got_ = escaped(in, len);                                \
		cr_assert_str_eq(got_, want);                                 \
		free(got_);                                                   \
	} while (0)

#define FFFD "\xef\xbf\xbd"

Test(report_html, markup_characters_become_entities)
{
	const char *s = "</script><img src=x onerror=alert('x')>&\"";
	assert_escapes(s, strlen(s),
		       "&lt;/script&gt;&lt;img src=x onerror=alert(&#39;x&#39;)"
		       "&gt;&amp;&quot;");
}

Test(report_html, valid_utf8_is_kept)
{
	const char *s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e";
	assert_escapes(s, strlen(s), s);
}

Test(report_html, invalid_utf8_becomes_replacement_characters)
{
	/* A stray byte, an overlong '/', a surrogate, a code point past
	 * U+10FFFF, and a sequence cut at the end. */
	assert_escapes("a\xff" "b", 3, "a" FFFD "b");
	assert_escapes("\xc0\xaf", 2, FFFD FFFD);
	assert_escapes("\xed\xa0\x80", 3, FFFD FFFD FFFD);
	assert_escapes("\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD);
	assert_escapes("x\xe2\x82", 3, "x" FFFD FFFD);
}

Test(report_html, control_characters)
{
	/* Tab and newline stay; CR is a newline; NUL, ESC and DEL are
	 * replaced (a terminal's colour codes cannot reach the page). */
	assert_escapes("a\tb\nc\rd", 7, "a\tb\nc\nd");
	assert_escapes("x\0y\x1b[31m\x7f", 9, "x" FFFD "y" FFFD "[31m" FFFD);
}

Test(report_html, text_of_null_writes_nothing)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	report_html_text(f, NULL);
	report_html_text(f, "<");
	cr_assert_eq(fclose(f), 0);
	cr_assert_str_eq(text, "&lt;");
	free(text);
}

Test(report_html, utf8_cut_never_splits_a_character)
{
	cr_assert_eq(report_utf8_cut("abc", 3), 3);
	cr_assert_eq(report_utf8_cut("ab\xe2\x82\xac", 5), 5);
	cr_assert_eq(report_utf8_cut("ab\xe2\x82\xac", 4), 2);
	cr_assert_eq(report_utf8_cut("ab\xe2\x82\xac", 3), 2);
	cr_assert_eq(report_utf8_cut("a\xf0\x9d\x84\x9e", 4), 1);
	cr_assert_eq(report_utf8_cut("a\xc3\xa9", 3), 3);
	cr_assert_eq(report_utf8_cut("\x80\x80", 2), 2);
	cr_assert_eq(report_utf8_cut("", 0), 0);
}

Test(report_html, durations_and_counts)
{
	char s[32];
	report_fmt_duration(s, sizeof(s), 0.4213);
	cr_assert_str_eq(s, "0.42 s");
	report_fmt_duration(s, sizeof(s), 12.34);
	cr_assert_str_eq(s, "12.3 s");
	report_fmt_duration(s, sizeof(s), 245);
	cr_assert_str_eq(s, "4 min 05 s");
	report_fmt_duration(s, sizeof(s), 7380);
	cr_assert_str_eq(s, "2 h 03 min");
	report_fmt_duration(s, sizeof(s), -1);
	cr_assert_str_eq(s, "0.00 s");
	report_fmt_count(s, sizeof(s), 0);
	cr_assert_str_eq(s, "0");
	report_fmt_count(s, sizeof(s), 999);
	cr_assert_str_eq(s, "999");
	report_fmt_count(s, sizeof(s), 100000);
	cr_assert_str_eq(s, "100,000");
	report_fmt_count(s, sizeof(s), 1234567);
	cr_assert_str_eq(s, "1,234,567");
}

Test(report_html, page_frame_is_self_contained)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	report_html_begin(f, "job <1>");
	report_html_end(f);
	cr_assert_eq(fclose(f), 0);
	cr_assert(strncmp(text, "<!DOCTYPE html>", 15) == 0);
	cr_assert_not_null(strstr(text, "<title>job &lt;1&gt;</title>"));
	cr_assert_not_null(strstr(text, "<meta charset=\"utf-8\">"));
	cr_assert_null(strstr(text, "http"), "no URL in the frame");
	cr_assert_null(strstr(text, "<script"));
	cr_assert_not_null(strstr(text, "</html>\n"));
	free(text);
}
