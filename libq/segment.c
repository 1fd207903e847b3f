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
 * A worker appends: its segment file stays open in tmp/, and each commit
 * adds one region, a complete segment as above (index, then records),
 * fsyncs the file and links it under the new chunks' names. A reader
 * walks the regions from the start, each region's index telling where
 * the next one begins, until it finds its chunk. The file is replaced by
 * a new one after Q_SEGMENT_REGIONS regions or Q_SEGMENT_BYTES bytes, and
 * after any failed write or fsync (whose pages may be lost).
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
 *    Q_SEGMENT_INDEX_MAX bytes, an entry must lie inside the file, a
 *    walk reads at most Q_SEGMENT_REGIONS regions, and a segment without
 *    the asked-for chunk is damage (-EBADMSG), reported by the caller
 *    with the file's path.
 * 3. Why append: creating a file is the most expensive step of a commit
 *    on ext4 here (0.1 to 1 ms, several times a rename, because inode
 *    allocation scans past recently freed inodes); a chain of tasks paid
 *    it once per link. Appending to an open file creates one per 64
 *    commits. Published bytes never change: a region is only written
 *    beyond every linked one, and a crash in the middle of an append
 *    leaves a torn last region that no name points into (its chunks are
 *    linked only after the fsync); walkers stop before it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobh_internal.h"
#include "names_internal.h"
#include "spool_internal.h"
#include "sysio.h"
#include "text.h"

#define SEGMENT_MAGIC "spoolq-segment 1\n"
/* 4096 records of at most ~60 bytes of index line each. */
#define Q_SEGMENT_INDEX_MAX ((size_t)256 << 10)
#define Q_SEGMENT_RECORDS_MAX 4096
/* A writer starts a new file after this many regions or bytes. */
#define Q_SEGMENT_REGIONS 64
#define Q_SEGMENT_BYTES ((uint64_t)8 << 20)
/* The first read of a region's index; grown up to the maximum. */
#define INDEX_READ 4096

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
	uint64_t job;             /* of `chunk`; set again from each region */
	uint64_t chunk;
	const char *key;          /* NULL: look for `chunk` of `job` */
	/* Found: */
	uint64_t found_job, found_chunk, off, len;
};

/*
 * Look `q` up in the index of the region at `base` of a file of `size`
 * bytes: 0 found (q->off, q->len: the record's place in the file), 1 not
 * in this region (*next: where the next region starts), or -errno
 * (-EBADMSG: not a region, or a damaged index).
 */
static int find_in_region(int fd, uint64_t size, uint64_t base,
			  struct index_query *q, uint64_t *next)
{
	size_t want = INDEX_READ, cap = 0;
	char *head = NULL, *end = NULL;
	int ret;

	/* Read until "end\n" is in: 4 KiB first, at most the maximum. */
	for (;;) {
		cap = size - base < want ? (size_t)(size - base) : want;
		head = q__realloc(head, cap + 1);
		if ((ret = read_at(fd, head, cap, (off_t)base)) < 0) {
			free(head);
			return ret;
		}
		head[cap] = '\0';
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
		if (end || cap < want || want >= Q_SEGMENT_INDEX_MAX)
			break;
		want *= 4;
	}
	ret = -EBADMSG;
	if (!end)
		goto out;
	uint64_t header_len = (uint64_t)(end - head);
	uint64_t body = size - base - header_len;   /* bytes after it */
	uint64_t region_end = 0;
	struct q_lines it;
	char *tok[Q_MAX_TOKENS];
	int n;
	q__lines_init(&it, head, (size_t)header_len);
	if (q__lines_next(&it, tok) != 2 || strcmp(tok[0], "spoolq-segment") ||
	    strcmp(tok[1], "1") || q__lines_next(&it, tok) != 2 ||
	    strcmp(tok[0], "job") != 0 || !q__tok_u64(tok[1], &q->found_job))
		goto out;
	/* A file holds regions of several jobs: look in this one's only. */
	bool ours = q->key || q->found_job == q->job;
	unsigned records = 0;
	bool found = false;
	while ((n = q__lines_next(&it, tok)) > 0) {
		if (n == 1 && strcmp(tok[0], "end") == 0)
			break;
		uint64_t c, off, len;
		if (n != 5 || strcmp(tok[0], "at") != 0 ||
		    !q__tok_u64(tok[1], &c) || !q__tok_u64(tok[2], &off) ||
		    !q__tok_u64(tok[3], &len) ||
		    ++records > Q_SEGMENT_RECORDS_MAX ||
		    off > body || len > body - off)
			goto out;
		if (off + len > region_end)
			region_end = off + len;
		if (found || !ours || (q->key ? strcmp(tok[4], q->key) != 0
					      : c != q->chunk))
			continue;
		q->found_chunk = c;
		q->off = base + header_len + off;
		q->len = len;
		found = true;
	}
	ret = found ? 0 : 1;
	*next = base + header_len + region_end;
out:
	free(head);
	return ret;
}

/* Walk the regions of a segment for `q` (note 2): 0 or -errno. */
static int find_in_segment(int fd, uint64_t size, struct index_query *q)
{
	uint64_t base = 0;
	for (unsigned i = 0; i < Q_SEGMENT_REGIONS && base < size; i++) {
		uint64_t next = size;
		int ret = find_in_region(fd, size, base, q, &next);
		if (ret <= 0)
			return ret;
		if (next <= base)
			break;
		base = next;
	}
	return -EBADMSG;
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

int q__record_text_read(int dirfd, const char *name, uint64_t job,
			uint64_t chunk, size_t max, char **text_out,
			size_t *len_out)
{
	int fd = q__open_file_beneath(dirfd, name);
	if (fd < 0)
		return -errno;
	struct stat st;
	struct index_query q = { .job = job, .chunk = chunk };
	int ret = 0;
	if (fstat(fd, &st) != 0) {
		ret = -errno;
		goto out;
	}
	q.len = (uint64_t)st.st_size;
	ret = is_segment(fd, (uint64_t)st.st_size);
	if (ret == 1)
		ret = find_in_segment(fd, (uint64_t)st.st_size, &q);
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

/* Look `q` up in the segment `name` (not a plain record): 0 or -errno
 * (-EBADMSG: not a segment, or not in it). */
static int query_file(int dirfd, const char *name, struct index_query *q)
{
	int fd = q__open_file_beneath(dirfd, name);
	if (fd < 0)
		return -errno;
	struct stat st;
	int ret = fstat(fd, &st) != 0 ? -errno
				       : is_segment(fd, (uint64_t)st.st_size);
	if (ret == 1)
		ret = find_in_segment(fd, (uint64_t)st.st_size, q);
	else if (ret == 0)
		ret = -EBADMSG;
	close(fd);
	return ret;
}

int q__segment_find_key(int dirfd, const char *name, const char *key,
			uint64_t *job_out, uint64_t *chunk_out)
{
	struct index_query q = { .key = key };
	int ret = query_file(dirfd, name, &q);
	if (ret == 0) {
		*job_out = q.found_job;
		*chunk_out = q.found_chunk;
	}
	return ret;
}

/* ---- the writer (note 3) ---- */

/* Slots of the set of chunks a file holds: a power of two, more than
 * twice the most chunks a file can hold (64 regions of 128 chunks). */
#define HELD_SLOTS 32768

struct q_segw {
	pthread_mutex_t lock;
	int fd;                   /* -1: none open */
	char tmp[Q_CLAIM_NAME_MAX];
	uint64_t size;            /* bytes written and synced */
	unsigned regions;
	/* The (job, chunk) pairs it holds records of, as job << 32 ^ chunk
	 * + 1 (0: empty): a file holds one record per chunk at most, so
	 * that a reader's first match is the one its name was linked for
	 * (another worker's run of an each_worker task in the same process,
	 * a later attempt after a failed link). */
	uint64_t *held;
	unsigned nheld;
};

static uint64_t held_key(uint64_t job, uint64_t chunk)
{
	return ((job << 32) ^ chunk) + 1;
}

/* Is `key` in the set; with `add`, put it there. */
static bool held_has(struct q_segw *w, uint64_t key, bool add)
{
	unsigned i = (unsigned)((key * 0x9e3779b97f4a7c15ull) >> 49);
	for (;; i = (i + 1) & (HELD_SLOTS - 1)) {
		if (w->held[i] == key)
			return true;
		if (w->held[i] == 0) {
			if (add) {
				w->held[i] = key;
				w->nheld++;
			}
			return false;
		}
	}
}

/* Regions per file: Q_SEGMENT_REGIONS, or SPOOLQ_SEGMENT_REGIONS (1 to
 * 64) for tests that need every commit to make a file (disk_full.sh:
 * an append may fit in the last page of a file on a full disk). */
static unsigned max_regions(void)
{
	static unsigned cached;
	unsigned v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	if (v)
		return v;
	const char *e = getenv("SPOOLQ_SEGMENT_REGIONS");
	char *end;
	unsigned long n = e ? strtoul(e, &end, 10) : 0;
	v = e && *e && !*end && n >= 1 && n <= Q_SEGMENT_REGIONS
		    ? (unsigned)n : Q_SEGMENT_REGIONS;
	__atomic_store_n(&cached, v, __ATOMIC_RELAXED);
	return v;
}

/* Drop the open file: its tmp/ name goes, its linked names stay. */
static void segw_drop(struct q_spool *sp, struct q_segw *w)
{
	if (w->fd >= 0) {
		close(w->fd);
		q__tmp_remove(sp, w->tmp);
	}
	w->fd = -1;
	w->tmp[0] = '\0';
	w->size = 0;
	w->regions = 0;
	if (w->nheld)
		memset(w->held, 0, HELD_SLOTS * sizeof(*w->held));
	w->nheld = 0;
}

int q__segment_append(struct q_spool *sp, const void *data, size_t len,
		      uint64_t job, const uint64_t *chunks, size_t nchunks,
		      char *tmp_out, size_t tmp_size, uint64_t *base_out,
		      struct q_error *err)
{
	struct q_segw *w = __atomic_load_n(&sp->segw, __ATOMIC_ACQUIRE);
	if (!w) {
		struct q_segw *fresh = q__calloc(1, sizeof(*fresh));
		pthread_mutex_init(&fresh->lock, NULL);
		fresh->fd = -1;
		fresh->held = q__calloc(HELD_SLOTS, sizeof(*fresh->held));
		struct q_segw *none = NULL;
		if (__atomic_compare_exchange_n(&sp->segw, &none, fresh, false,
						__ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			w = fresh;
		} else {
			/* Another thread was first. */
			pthread_mutex_destroy(&fresh->lock);
			free(fresh->held);
			free(fresh);
			w = none;
		}
	}
	/* Held by the caller through its links: q__segment_release. */
	pthread_mutex_lock(&w->lock);
	bool again = false;
	for (size_t i = 0; i < nchunks && w->fd >= 0 && !again; i++)
		again = held_has(w, held_key(job, chunks[i]), false);
	if (w->fd >= 0 && (again || w->regions >= max_regions() ||
			   w->size + len > Q_SEGMENT_BYTES ||
			   w->nheld + nchunks > HELD_SLOTS / 2))
		segw_drop(sp, w);
	if (w->fd < 0) {
		w->fd = q__tmp_create(sp, "segment", w->tmp, sizeof(w->tmp));
		if (w->fd < 0) {
			int e = errno;
			w->tmp[0] = '\0';
			pthread_mutex_unlock(&w->lock);
			return q_error_set(err, Q_ERR_SYSTEM, e,
					   "cannot create a file in '%s/tmp'",
					   sp->path);
		}
	}
	if (q__write_all(w->fd, data, len) != 0 || q__fsync(w->fd) != 0) {
		/* A torn region, or pages the kernel may have dropped: this
		 * file takes nothing more (note 3). */
		int e = errno;
		segw_drop(sp, w);
		pthread_mutex_unlock(&w->lock);
		return q_error_set(err, Q_ERR_SYSTEM, e,
				   "cannot write a record in '%s/tmp'",
				   sp->path);
	}
	*base_out = w->size;
	w->size += len;
	w->regions++;
	for (size_t i = 0; i < nchunks; i++)
		held_has(w, held_key(job, chunks[i]), true);
	snprintf(tmp_out, tmp_size, "%s", w->tmp);
	return 0;
}

int q__segment_record_at(int dirfd, const char *name, uint64_t job,
			 uint64_t chunk, uint64_t *off_out)
{
	struct index_query q = { .job = job, .chunk = chunk };
	int ret = query_file(dirfd, name, &q);
	if (ret == 0)
		*off_out = q.off;
	return ret;
}

void q__segment_release(struct q_spool *sp, bool failed)
{
	struct q_segw *w = sp->segw;
	/* A full file goes now, not at the next commit: its tmp/ name is
	 * not left behind while the worker idles. */
	if (failed || w->regions >= max_regions() ||
	    w->size >= Q_SEGMENT_BYTES)
		segw_drop(sp, w);
	pthread_mutex_unlock(&w->lock);
}

void q__segment_close(struct q_spool *sp)
{
	struct q_segw *w = sp->segw;
	if (!w)
		return;
	segw_drop(sp, w);
	pthread_mutex_destroy(&w->lock);
	free(w->held);
	free(w);
	sp->segw = NULL;
}
