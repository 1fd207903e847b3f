/*
 * sink.c: an item's output stream, in memory while small (spoolq/sink.h).
 *
 * Design notes
 * 1. Why memory first: a short task's output files used to be most of
 *    its cost (two creates and two unlinks in tmp/ per item, each a
 *    directory change, on top of reading them back at commit). Nearly
 *    every output is small, and small outputs go inline into the record
 *    anyway, so they never need a file.
 * 2. A sink spills to a temporary once it would hold more than
 *    Q_SINK_MEMORY_MAX, or more than the run's budget allows (a chunk of
 *    thousands of chatty items must not hold gigabytes): everything so
 *    far is written to the file and the memory returned to the budget.
 *    The temporary is not synced here; the commit fsyncs what it keeps.
 * 3. Errors are sticky: after a failed write (a full disk, typically)
 *    every later write fails the same way, and q_sink_finish reports it,
 *    so the caller decides once what a lost output means.
 * 4. Checksums: a big output's bytes are hashed as they go to the file
 *    (from the spill on), so nobody reads the file back to checksum it;
 *    a held output is hashed once in memory at the end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "spool_internal.h"
#include "sysio.h"

void q_sink_init(struct q_sink *s, struct q_spool *spool, const char *purpose,
		 size_t *budget)
{
	memset(s, 0, sizeof(*s));
	s->spool = spool;
	s->purpose = purpose;
	s->budget = budget;
	s->fd = -1;
}

void q_sink_hold(struct q_sink *s, size_t max)
{
	s->hold_max = max;
}

/* Memory beyond the small bound is the MPI store's, not the run's. */
static bool uses_budget(const struct q_sink *s)
{
	return s->budget && !s->hold_max;
}

static void give_memory_back(struct q_sink *s)
{
	if (uses_budget(s))
		*s->budget += s->cap;
	free(s->data);
	s->data = NULL;
	s->len = s->cap = 0;
}

/* Design note 2: move what memory holds into a new temporary. */
static int spill(struct q_sink *s)
{
	int fd = q__tmp_create(s->spool, s->purpose, s->tmp, sizeof(s->tmp));
	if (fd < 0) {
		s->tmp[0] = '\0';
		return -errno;
	}
	s->fd = fd;
	s->sum = q__sum_new();
	q__sum_add(s->sum, s->data, s->len);
	if (s->len && q__write_all(fd, s->data, s->len) != 0)
		return -errno;
	give_memory_back(s);
	return 0;
}

/* Room for `len` more bytes in memory, within both bounds: true, or
 * false when the sink must spill instead. */
static bool reserve(struct q_sink *s, size_t len)
{
	size_t bound = s->hold_max > Q_SINK_MEMORY_MAX ? s->hold_max
						       : Q_SINK_MEMORY_MAX;
	size_t need = s->len + len;
	if (need > bound || need < len)
		return false;
	if (need <= s->cap)
		return true;
	size_t cap = s->cap ? s->cap : 256;
	while (cap < need)
		cap *= 2;
	if (cap > bound)
		cap = bound;
	size_t more = cap - s->cap;
	if (uses_budget(s) && *s->budget < more)
		return false;
	char *grown = realloc(s->data, cap);
	if (!grown)
		return false;   /* too big for memory: it spills instead */
	s->data = grown;
	if (uses_budget(s))
		*s->budget -= more;
	s->cap = cap;
	return true;
}

int q_sink_write(struct q_sink *s, const void *data, size_t len)
{
	if (s->errnum)
		return -s->errnum;
	if (len == 0)
		return 0;
	int ret = 0;
	if (s->fd < 0 && reserve(s, len)) {
		memcpy(s->data + s->len, data, len);
		s->len += len;
		return 0;
	}
	if (s->fd < 0)
		ret = spill(s);
	if (ret == 0 && q__write_all(s->fd, data, len) != 0)
		ret = -errno;
	if (ret == 0)
		q__sum_add(s->sum, data, len);
	if (ret < 0)
		s->errnum = -ret;
	return ret;
}

int q_sink_printf(struct q_sink *s, const char *fmt, ...)
{
	char small[512], *text = small;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= sizeof(small)) {
		text = q__malloc((size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(text, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	int ret = q_sink_write(s, text, (size_t)n);
	if (text != small)
		free(text);
	return ret;
}

int q_sink_finish(struct q_sink *s, struct q_output *out)
{
	int ret = s->errnum ? -s->errnum : 0;
	memset(out, 0, sizeof(*out));
	if (s->fd >= 0) {
		/* Written with write(2), never synced here: close reports
		 * nothing worth acting on (the commit fsyncs what it keeps). */
		close(s->fd);
		s->fd = -1;
		snprintf(out->tmp, sizeof(out->tmp), "%s", s->tmp);
		s->tmp[0] = '\0';
		out->summed = true;
		out->sum = q__sum_value(s->sum);
	} else if (s->len) {
		if (s->len > Q_SINK_MEMORY_MAX) {
			out->summed = true;
			out->sum = q_checksum(s->data, s->len);
		}
		/* The budget stays spent until the output is released: the
		 * bytes live on in the outcome. */
		out->data = s->data;
		out->len = s->len;
		s->data = NULL;
		s->len = s->cap = 0;
	}
	q__sum_free(s->sum);
	s->sum = NULL;
	return ret;
}

void q_sink_discard(struct q_sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	q__tmp_remove(s->spool, s->tmp);
	s->tmp[0] = '\0';
	q__sum_free(s->sum);
	s->sum = NULL;
	give_memory_back(s);
}

void q_output_discard(struct q_spool *spool, struct q_output *out)
{
	q__tmp_remove(spool, out->tmp);
	free(out->data);
	memset(out, 0, sizeof(*out));
}
