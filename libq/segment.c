/*
 * segment.c: several chunks' records in one file (a bundle's commit).
 *
 * A worker that ran a bundle of chunks (worker.c) publishes their records
 * together: one file, written and fsynced once, then hard-linked into
 * done/<s>/<chunk> once per chunk (commit.c). Each link is still the
 * chunk's own first-wins commit point; only the fsync is shared. The file
 * starts with an index, so a reader of one chunk reads the index and that
 * chunk's record, never the whole segment:
 *
 *   spoolq-segment 1
 *   job <id>
 *   at <chunk> <offset> <length> <chunk key or ->
 *   ...                              one line per record, offsets counted
 *   end                              from the byte after "end\n"
 *   <record><record>...              each exactly a format-1 record
 *
 * The same file is also linked as the cache index entry of each chunk
 * whose tasks are pure (cache/<2 hex>/<chunk key>, key.c): the index
 * says which chunk of which job has that key, so indexing a result costs
 * one link, not a file of its own.
 *
 * Design notes
 * 1. A file that starts with "spoolq-record 1" is a single record, as
 *    every writer before segments made, and as single-chunk commits,
 *    qcancel and the repair sweep still make: readers take both.
 * 2. Bounded and strict like every spool reader: the index is at most
 *    Q_SEGMENT_INDEX_MAX bytes, an entry must lie inside the file, and a
 *    segment without the asked-for chunk is damage (-EBADMSG), reported
 *    by the caller with the file's path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobh_internal.h"
#include "spool_internal.h"
#include "text.h"

#define SEGMENT_MAGIC "spoolq-segment 1\n"
/* 4096 records of at most ~60 bytes of index line each. */
#define Q_SEGMENT_INDEX_MAX ((size_t)256 << 10)
#define Q_SEGMENT_RECORDS_MAX 4096

void q__segment_format(const struct q_record *recs, size_t n,
		       struct q_buf *out)
{
	struct q_buf body = Q_BUF_INIT;
	q__buf_addstr(out, SEGMENT_MAGIC);
	q__buf_printf(out, "job %llu\n",
		      (unsigned long long)(n ? recs[0].job : 0));
	for (size_t i = 0; i < n; i++) {
		size_t off = body.len;
		q__record_format(&recs[i], &body);
		q__buf_printf(out, "at %llu %zu %zu %s\n",
			      (unsigned long long)recs[i].chunk, off,
			      body.len - off,
			      recs[i].chunk_key[0] ? recs[i].chunk_key : "-");
	}
	q__buf_addstr(out, "end\n");
	q__buf_add(out, body.data, body.len);
	q__buf_release(&body);
}

/* Read up to `len` bytes at `off`; 0, or -errno (-EBADMSG when short). */
static int read_at(int fd, char *buf, size_t len, off_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EBADMSG;
		got += (size_t)n;
	}
	return 0;
}

/* What to look for in a segment's index: a chunk, or a chunk key. */
struct index_query {
	uint64_t chunk;
	const char *key;          /* NULL: look for `chunk` */
	/* Found: */
	uint64_t job, found_chunk, off, len;
};

/* Look `q` up in the index at the start of a segment of `size` bytes
 * (its record's offset in the file and length); 0 or -errno. */
static int find_in_index(int fd, uint64_t size, struct index_query *q)
{
	size_t cap = size < Q_SEGMENT_INDEX_MAX ? (size_t)size
						: Q_SEGMENT_INDEX_MAX;
	char *head = q__malloc(cap + 1);
	int ret = read_at(fd, head, cap, 0);
	if (ret < 0) {
		free(head);
		return ret;
	}
	head[cap] = '\0';
	char *end = NULL;
	for (char *p = head; p < head + cap;) {
		char *nl = memchr(p, '\n', (size_t)(head + cap - p));
		if (!nl)
			break;
		if (nl - p == 3 && memcmp(p, "end", 3) == 0) {
			end = nl + 1;
			break;
		}
		p = nl + 1;
	}
	ret = -EBADMSG;
	if (!end)
		goto out;
	size_t header_len = (size_t)(end - head);
	struct q_lines it;
	char *tok[Q_MAX_TOKENS];
	int n;
	q__lines_init(&it, head, header_len);
	if (q__lines_next(&it, tok) != 2 ||            /* the magic line */
	    q__lines_next(&it, tok) != 2 || strcmp(tok[0], "job") != 0 ||
	    !q__tok_u64(tok[1], &q->job))
		goto out;
	unsigned records = 0;
	while ((n = q__lines_next(&it, tok)) > 0) {
		if (n == 1 && strcmp(tok[0], "end") == 0)
			break;
		uint64_t c, off, len;
		if (n != 5 || strcmp(tok[0], "at") != 0 ||
		    !q__tok_u64(tok[1], &c) || !q__tok_u64(tok[2], &off) ||
		    !q__tok_u64(tok[3], &len) ||
		    ++records > Q_SEGMENT_RECORDS_MAX)
			goto out;
		if (q->key ? strcmp(tok[4], q->key) != 0 : c != q->chunk)
			continue;
		if (off > size - header_len || len > size - header_len - off)
			goto out;
		q->found_chunk = c;
		q->off = header_len + off;
		q->len = len;
		ret = 0;
		goto out;
	}
out:
	free(head);
	return ret;
}

/* 1 when the open file is a segment, 0 when not, -errno. */
static int is_segment(int fd, uint64_t size)
{
	char magic[sizeof(SEGMENT_MAGIC) - 1];
	if (size < sizeof(magic))
		return 0;
	int ret = read_at(fd, magic, sizeof(magic), 0);
	if (ret < 0)
		return ret;
	return memcmp(magic, SEGMENT_MAGIC, sizeof(magic)) == 0;
}

int q__record_text_read(int dirfd, const char *name, uint64_t chunk,
			size_t max, char **text_out, size_t *len_out)
{
	int fd = q__open_file_beneath(dirfd, name);
	if (fd < 0)
		return -errno;
	struct stat st;
	struct index_query q = { .chunk = chunk };
	int ret = 0;
	if (fstat(fd, &st) != 0) {
		ret = -errno;
		goto out;
	}
	q.len = (uint64_t)st.st_size;
	ret = is_segment(fd, (uint64_t)st.st_size);
	if (ret == 1)
		ret = find_in_index(fd, (uint64_t)st.st_size, &q);
	if (ret < 0)
		goto out;
	if (q.len > max) {
		ret = -EFBIG;
		goto out;
	}
	char *text = q__malloc((size_t)q.len + 1);
	if ((ret = read_at(fd, text, (size_t)q.len, (off_t)q.off)) < 0) {
		free(text);
		goto out;
	}
	text[q.len] = '\0';
	*text_out = text;
	*len_out = (size_t)q.len;
out:
	close(fd);
	return ret;
}

int q__segment_find_key(int dirfd, const char *name, const char *key,
			uint64_t *job_out, uint64_t *chunk_out)
{
	int fd = q__open_file_beneath(dirfd, name);
	if (fd < 0)
		return -errno;
	struct stat st;
	struct index_query q = { .key = key };
	int ret = fstat(fd, &st) != 0 ? -errno
				       : is_segment(fd, (uint64_t)st.st_size);
	if (ret == 1)
		ret = find_in_index(fd, (uint64_t)st.st_size, &q);
	else if (ret == 0)
		ret = -EBADMSG;
	close(fd);
	if (ret == 0) {
		*job_out = q.job;
		*chunk_out = q.found_chunk;
	}
	return ret;
}
