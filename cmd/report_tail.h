/*
 * report_tail.h: the last bytes of a stream, in bounded memory, for the
 * failed tasks' stderr tails in the report.
 *
 *   struct report_tail t = REPORT_TAIL_INIT;
 *   FILE *f = report_tail_open(&t);      // or report_tail_add(&t, ...)
 *   q_record_output(h, rec, i, true, f, &err);
 *   fclose(f);
 *   len = report_tail_get(&t, buf);      // buf: REPORT_TAIL_MAX bytes
 *
 * However long the stream, only the last REPORT_TAIL_MAX bytes are kept;
 * t.total counts them all, so the page can say what was cut.
 */
#ifndef SPOOLQ_REPORT_TAIL_H
#define SPOOLQ_REPORT_TAIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define REPORT_TAIL_MAX 2048

struct report_tail {
	char ring[REPORT_TAIL_MAX];
	size_t next;      /* where the next byte goes */
	size_t len;       /* bytes held, <= REPORT_TAIL_MAX */
	uint64_t total;   /* bytes seen */
};

#define REPORT_TAIL_INIT { { 0 }, 0, 0, 0 }

void report_tail_add(struct report_tail *t, const char *data, size_t n);

/* Copy the kept bytes, oldest first, into out (REPORT_TAIL_MAX bytes);
 * when the stream was cut, start after any UTF-8 continuation bytes so
 * the tail does not open with half a character. Returns the length. */
size_t report_tail_get(const struct report_tail *t, char *out);

/* A write-only stream that feeds t (fopencookie); NULL with errno set. */
FILE *report_tail_open(struct report_tail *t);

#endif
