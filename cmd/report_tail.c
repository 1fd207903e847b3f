/*
 * report_tail.c: the last bytes of a stream (report_tail.h).
 *
 * A ring buffer: adding n bytes costs O(min(n, REPORT_TAIL_MAX)), so a
 * failed task that printed a gigabyte to stderr costs the report one
 * pass over it and 2 KiB of memory. The FILE wrapper lets
 * q_record_output stream into it, inline or file-backed alike.
 */
#include <errno.h>
#include <string.h>

#include "report_tail.h"

void report_tail_add(struct report_tail *t, const char *data, size_t n)
{
	t->total += n;
	if (n >= REPORT_TAIL_MAX) {
		memcpy(t->ring, data + n - REPORT_TAIL_MAX, REPORT_TAIL_MAX);
		t->next = 0;
		t->len = REPORT_TAIL_MAX;
		return;
	}
	size_t first = REPORT_TAIL_MAX - t->next;
	if (first > n)
		first = n;
	memcpy(t->ring + t->next, data, first);
	memcpy(t->ring, data + first, n - first);
	t->next = (t->next + n) % REPORT_TAIL_MAX;
	t->len = t->len + n > REPORT_TAIL_MAX ? REPORT_TAIL_MAX : t->len + n;
}

size_t report_tail_get(const struct report_tail *t, char *out)
{
	size_t start = (t->next + REPORT_TAIL_MAX - t->len) % REPORT_TAIL_MAX;
	size_t first = REPORT_TAIL_MAX - start;
	if (first > t->len)
		first = t->len;
	memcpy(out, t->ring + start, first);
	memcpy(out + first, t->ring, t->len - first);
	size_t skip = 0;
	if (t->total > t->len)
		while (skip < 3 && skip < t->len &&
		       ((unsigned char)out[skip] & 0xc0) == 0x80)
			skip++;
	if (skip)
		memmove(out, out + skip, t->len - skip);
	return t->len - skip;
}

static ssize_t tail_write(void *cookie, const char *buf, size_t size)
{
	report_tail_add(cookie, buf, size);
	return (ssize_t)size;
}

FILE *report_tail_open(struct report_tail *t)
{
	cookie_io_functions_t io = { NULL, tail_write, NULL, NULL };
	return fopencookie(t, "w", io);
}
