/*
 * report_html.c: escaping and the page's frame (report_html.h).
 *
 * Design notes
 * 1. One escaper for everything: text and attribute values alike get
 *    & < > " ' as entities, so a caller cannot pick the wrong one.
 * 2. The page says it is UTF-8, so it must be: a byte that does not
 *    belong to a well-formed sequence (overlong forms and surrogates
 *    included) is written as U+FFFD, never copied. Stderr tails are
 *    whatever a program printed.
 * 3. The style sheet is inline and names no font file or URL: the page
 *    is one file that renders offline (the test checks that no http(s)
 *    URL but the SVG namespace appears).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "report_html.h"

#define REPLACEMENT "\xef\xbf\xbd"

/* The length of the well-formed UTF-8 sequence at s, or 0 (design
 * note 2; the table is Unicode's, chapter 3, table 3-7). */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

void report_html_escape(FILE *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		unsigned char c = p[i];
		switch (c) {
		case '&': fputs("&amp;", out); i++; continue;
		case '<': fputs("&lt;", out); i++; continue;
		case '>': fputs("&gt;", out); i++; continue;
		case '"': fputs("&quot;", out); i++; continue;
		case '\'': fputs("&#39;", out); i++; continue;
		case '\t': case '\n': putc(c, out); i++; continue;
		case '\r': putc('\n', out); i++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			fputs(REPLACEMENT, out);
			i++;
			continue;
		}
		size_t n = utf8_seq(p + i, len - i);
		if (n == 0) {
			fputs(REPLACEMENT, out);
			i++;
			continue;
		}
		fwrite(p + i, 1, n, out);
		i += n;
	}
}

void report_html_text(FILE *out, const char *s)
{
	if (s)
		report_html_escape(out, s, strlen(s));
}

size_t report_utf8_cut(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	/* Look back at most 3 bytes for the start of the last sequence. */
	size_t back = 0;
	while (back < 3 && back < len && (p[len - 1 - back] & 0xc0) == 0x80)
		back++;
	if (back == len)
		return len;   /* only continuation bytes: nothing to protect */
	size_t start = len - 1 - back;
	unsigned char c = p[start];
	size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	if (c < 0x80 || want <= back + 1)
		return len;   /* ASCII, or the last sequence is whole */
	return start;
}

void report_fmt_duration(char *out, size_t size, double s)
{
	if (s < 0)
		s = 0;
	if (s < 10)
		snprintf(out, size, "%.2f s", s);
	else if (s < 60)
		snprintf(out, size, "%.1f s", s);
	else if (s < 3600)
		snprintf(out, size, "%d min %02d s", (int)(s / 60),
			 (int)s % 60);
	else
		snprintf(out, size, "%d h %02d min", (int)(s / 3600),
			 ((int)s % 3600) / 60);
}

void report_fmt_count(char *out, size_t size, uint64_t n)
{
	char digits[32];
	int len = snprintf(digits, sizeof(digits), "%llu",
			   (unsigned long long)n);
	size_t o = 0;
	for (int i = 0; i < len && o + 2 < size; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	if (size)
		out[o < size ? o : size - 1] = '\0';
}

/* Design note 3. Classes: g0..g11 the groups' colours (report_svg.c
 * uses the same palette), f failed, r retried, h handed back, l lost,
 * u running. */
static const char style[] =
	"body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,"
	"Helvetica,Arial,sans-serif;margin:0 auto;max-width:1500px;"
	"padding:12px 20px;color:#222;background:#fff}\n"
	"h1{font-size:22px;margin:4px 0}h2{font-size:17px;margin:22px 0 6px;"
	"border-bottom:1px solid #ddd;padding-bottom:3px}\n"
	".note{color:#555;font-size:13px}.warn{color:#a40}\n"
	".stats{display:flex;flex-wrap:wrap;gap:8px;margin:10px 0}"
	".stats div{border:1px solid #ddd;border-radius:6px;padding:4px 12px;"
	"font-size:12px;color:#555;min-width:70px}.stats b{display:block;"
	"font-size:20px;color:#222}.stats .bad b{color:#c00}\n"
	"table{border-collapse:collapse;font-size:13px}"
	"td,th{padding:2px 8px;text-align:left;vertical-align:top;"
	"border-bottom:1px solid #eee}th{background:#f4f4f4}"
	"td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
	".sw{display:inline-block;width:11px;height:11px;margin-right:4px;"
	"vertical-align:-1px;border:1px solid #0003}\n"
	".bar{display:inline-block;height:10px;background:#4e79a7;"
	"vertical-align:middle}.barbg{display:inline-block;width:120px;"
	"background:#eee;margin-right:6px}\n"
	"pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:6px;"
	"max-height:22em;overflow:auto;white-space:pre-wrap;"
	"word-break:break-all;font-size:12px;margin:4px 0}\n"
	".scroll{overflow:auto;max-height:2400px;border:1px solid #eee}\n"
	"svg text{font:11px system-ui,sans-serif;fill:#333}"
	"svg .ax{stroke:#999;stroke-width:1}svg .gr{stroke:#eee;"
	"stroke-width:1}svg .sep{stroke:#bbb;stroke-width:1}\n"
	".g0{fill:#4e79a7}.g1{fill:#f28e2b}.g2{fill:#76b7b2}"
	".g3{fill:#59a14f}.g4{fill:#edc948}.g5{fill:#b07aa1}"
	".g6{fill:#ff9da7}.g7{fill:#9c755f}.g8{fill:#8cd17d}"
	".g9{fill:#499894}.g10{fill:#86bcb6}.g11{fill:#f1ce63}"
	".gx{fill:#999}\n"
	"rect.f{stroke:#d00;stroke-width:1.5}"
	"rect.r{stroke:#d00;stroke-width:1;stroke-dasharray:3 2;"
	"fill-opacity:.55}"
	"rect.h{stroke:#555;stroke-width:1;stroke-dasharray:3 2;"
	"fill-opacity:.55}"
	"rect.l{fill:url(#hatch);stroke:#555;stroke-width:1}"
	"rect.u{stroke:#e67e00;stroke-width:1.5;stroke-dasharray:4 2}\n"
	".o1{fill-opacity:.15}.o2{fill-opacity:.35}.o3{fill-opacity:.6}"
	".o4{fill-opacity:.8}\n"
	".mk{fill:#d00}.mo{fill:#555}\n"
	"path.done{fill:none;stroke:#2a7;stroke-width:2}"
	"path.fail{fill:none;stroke:#d00;stroke-width:1.5}"
	"path.run{fill:#e67e0033;stroke:#e67e00;stroke-width:1}\n"
	".node rect{stroke:#555;stroke-width:1}.node.ext rect{"
	"stroke-dasharray:4 3}.edge{fill:none;stroke:#777;stroke-width:1.2}"
	".edge.ext{stroke-dasharray:4 3}\n"
	".s-waiting{fill:#fff}.s-ready{fill:#add8e6}.s-running{fill:#ffa500}"
	".s-done{fill:#98fb98}.s-failed{fill:#ff6347}.s-cancelled{"
	"fill:#d3d3d3}\n";

void report_html_begin(FILE *out, const char *title)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	      "<meta charset=\"utf-8\">\n"
	      "<meta name=\"generator\" content=\"spoolq qstatus --report\">\n"
	      "<title>", out);
	report_html_text(out, title);
	fputs("</title>\n<style>\n", out);
	fputs(style, out);
	fputs("</style>\n</head>\n<body>\n", out);
}

void report_html_end(FILE *out)
{
	fputs("</body>\n</html>\n", out);
}
