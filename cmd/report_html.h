/*
 * report_html.h: the text side of the report (docs/report.md): every
 * string that reaches the page goes through report_html_escape, so a
 * task name, host or stderr line can never become markup; plus the
 * small formatting helpers the parts share.
 */
#ifndef SPOOLQ_REPORT_HTML_H
#define SPOOLQ_REPORT_HTML_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Write s[0..len) as HTML text, safe both between tags and inside a
 * double- or single-quoted attribute: & < > " ' become entities; bytes
 * that are not valid UTF-8, and control characters other than tab and
 * newline, become U+FFFD (a carriage return becomes a newline, so a
 * progress bar's output stays readable); NUL bytes too.
 */
void report_html_escape(FILE *out, const char *s, size_t len);
/* The same for a NUL-terminated string; NULL writes nothing. */
void report_html_text(FILE *out, const char *s);

/*
 * The length of the longest prefix of s[0..len) that is whole UTF-8
 * sequences or bytes that can never start one: cutting a string there
 * does not split a character. (For tails: report_tail_get uses the
 * mirror, skipping continuation bytes at the start.)
 */
size_t report_utf8_cut(const char *s, size_t len);

/* A duration for people: "0.42 s", "12.3 s", "4 min 05 s", "2 h 03 min". */
void report_fmt_duration(char *out, size_t size, double seconds);

/* A count with commas between thousands: "100,000". */
void report_fmt_count(char *out, size_t size, uint64_t n);

/* The page around the parts: doctype, head with the inline style sheet,
 * and the opening of the body; the end of the body. */
void report_html_begin(FILE *out, const char *title);
void report_html_end(FILE *out);

#endif
