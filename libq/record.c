/*
 * record.c: chunk records (done/<s>/<chunk>): format, parse, read.
 *
 * A record is a header of lines, a "data <n>" line, then n bytes of inline
 * outputs:
 *
 *   spoolq-record 1
 *   job <id>
 *   chunk <chunk> <attempt> <first item> <count>
 *   worker <worker id>
 *   host <host>
 *   claimed <ns>
 *   item <item> <state> <exit> <start ns> <end ns> <slot> <out> <err> <reason>
 *   ...                         (one line per item, in item order)
 *   data <n>
 *   <n bytes>
 *
 * A stream (<out>, <err>) is "-" (none), "i<offset>+<length>" (inline, in
 * the data) or "f<length>" (its own file out/<s>/<item>.a<attempt>.<worker>
 * .out or .err). <reason> is percent-encoded, or "-".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobh_internal.h"
#include "names_internal.h"
#include "text.h"

#define Q_RECORD_MAX ((size_t)64 << 20)
/* The shortest item line: "item 0 done 0 0 0 0 - - -\n". */
#define Q_ITEM_LINE_MIN 26

static const char *const state_names[] = {
	[Q_STATE_WAITING] = "waiting", [Q_STATE_READY] = "ready",
	[Q_STATE_RUNNING] = "running", [Q_STATE_DONE] = "done",
	[Q_STATE_FAILED] = "failed",   [Q_STATE_CANCELLED] = "cancelled",
};

const char *q_state_name(enum q_state s)
{
	if ((size_t)s < Q_ARRAY_SIZE(state_names))
		return state_names[s];
	return "unknown";
}

bool q_state_final(enum q_state s)
{
	return s == Q_STATE_DONE || s == Q_STATE_FAILED ||
	       s == Q_STATE_CANCELLED;
}

static bool parse_state(const char *s, enum q_state *out)
{
	for (size_t i = Q_STATE_DONE; i < Q_ARRAY_SIZE(state_names); i++)
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum q_state)i;
			return true;
		}
	return false;
}

static void format_stream(struct q_buf *b, const struct q_stream *st)
{
	switch (st->where) {
	case Q_STREAM_NONE:
		q__buf_addch(b, '-');
		break;
	case Q_STREAM_INLINE:
		q__buf_printf(b, "i%llu+%llu", (unsigned long long)st->offset,
			      (unsigned long long)st->length);
		break;
	case Q_STREAM_FILE:
		q__buf_printf(b, "f%llu", (unsigned long long)st->length);
		break;
	case Q_STREAM_HELD:
		q__buf_printf(b, "m%llu", (unsigned long long)st->length);
		break;
	}
}

static bool parse_stream(const char *tok, struct q_stream *st)
{
	const char *p;
	memset(st, 0, sizeof(*st));
	if (strcmp(tok, "-") == 0)
		return true;
	if (tok[0] == 'f' || tok[0] == 'm') {
		st->where = tok[0] == 'f' ? Q_STREAM_FILE : Q_STREAM_HELD;
		return q__parse_u64(tok + 1, NULL, &st->length);
	}
	if (tok[0] == 'i') {
		st->where = Q_STREAM_INLINE;
		return q__parse_u64(tok + 1, &p, &st->offset) && *p == '+' &&
		       q__parse_u64(p + 1, NULL, &st->length);
	}
	return false;
}

void q__record_format(const struct q_record *rec, struct q_buf *b)
{
	q__buf_printf(b, "spoolq-record 1\njob %llu\nchunk %llu %u %llu %llu\n"
		      "worker ",
		      (unsigned long long)rec->job,
		      (unsigned long long)rec->chunk, rec->attempt,
		      (unsigned long long)rec->first,
		      (unsigned long long)rec->count);
	q__esc_append(b, rec->worker);
	q__buf_addstr(b, "\nhost ");
	q__esc_append(b, rec->host);
	q__buf_printf(b, "\nclaimed %lld\n", (long long)rec->claimed_ns);
	for (uint64_t i = 0; i < rec->count; i++) {
		const struct q_item_record *it = &rec->items[i];
		q__buf_printf(b, "item %llu %s %d %lld %lld %u ",
			      (unsigned long long)it->item,
			      q_state_name(it->state), it->exit_code,
			      (long long)it->start_ns, (long long)it->end_ns,
			      it->slot);
		format_stream(b, &it->out);
		q__buf_addch(b, ' ');
		format_stream(b, &it->err);
		q__buf_addch(b, ' ');
		/* A lone "-" means no reason, so a reason "-" is escaped. */
		if (it->reason && strcmp(it->reason, "-") == 0)
			q__buf_addstr(b, "%2D");
		else if (it->reason && *it->reason)
			q__esc_append(b, it->reason);
		else
			q__buf_addch(b, '-');
		q__buf_addch(b, '\n');
	}
	for (uint64_t i = 0; i < rec->count; i++)
		if (rec->items[i].key[0])
			q__buf_printf(b, "key %llu %s\n",
				      (unsigned long long)rec->items[i].item,
				      rec->items[i].key);
	for (uint64_t i = 0; i < rec->count; i++) {
		const struct q_item_record *it = &rec->items[i];
		if (it->out_summed)
			q__buf_printf(b, "sum %llu %016llx\n",
				      (unsigned long long)it->item,
				      (unsigned long long)it->out_sum);
		if (it->out.where == Q_STREAM_HELD)
			q__buf_printf(b, "held %llu %s %u\n",
				      (unsigned long long)it->item,
				      it->held_world, it->held_rank);
	}
	if (rec->chunk_key[0])
		q__buf_printf(b, "chunkkey %s\n", rec->chunk_key);
	if (rec->cached_job)
		q__buf_printf(b, "cached %llu %llu\n",
			      (unsigned long long)rec->cached_job,
			      (unsigned long long)rec->cached_chunk);
	q__buf_printf(b, "data %zu\n", rec->data_len);
	q__buf_add(b, rec->data, rec->data_len);
}

void q_record_release(struct q_record *rec)
{
	if (!rec)
		return;
	if (rec->items)
		for (uint64_t i = 0; i < rec->count; i++)
			free(rec->items[i].reason);
	free(rec->items);
	free(rec->worker);
	free(rec->host);
	free(rec->data);
	memset(rec, 0, sizeof(*rec));
}

static int bad(struct q_error *err, const char *where, unsigned line,
	       const char *what)
{
	return q_error_set(err, Q_ERR_SYSTEM, 0,
			   "record '%s' is damaged: line %u: %s", where, line,
			   what);
}

/* The item a `key`, `sum` or `held` line names, or NULL. */
static struct q_item_record *item_of(struct q_record *rec, bool have_chunk,
				     const char *tok)
{
	uint64_t item;
	if (!have_chunk || !q__tok_u64(tok, &item) || item < rec->first ||
	    item - rec->first >= rec->count)
		return NULL;
	return &rec->items[item - rec->first];
}

/* 16 lower-case hex digits. */
static bool parse_sum(const char *hex, uint64_t *out)
{
	if (strlen(hex) != 16 || strspn(hex, "0123456789abcdef") != 16)
		return false;
	*out = strtoull(hex, NULL, 16);
	return true;
}

bool q__world_valid(const char *world)
{
	size_t n = strlen(world);
	return n == 17 && world[0] == 'w' &&
	       strspn(world + 1, "0123456789abcdef") == n - 1;
}

/*
 * Parse `text` (len bytes, writable; the record keeps a copy of the data
 * part). The header must be complete and consistent, and every inline
 * stream must lie inside the data.
 */
int q__record_parse(struct q_record *rec, char *text, size_t len,
		    const char *where, struct q_error *err)
{
	struct q_lines it;
	char *tok[Q_MAX_TOKENS];
	int n;
	uint64_t nitems = 0;
	bool have_chunk = false;

	memset(rec, 0, sizeof(*rec));
	/* The header ends at "\ndata "; split it off so binary data never
	 * reaches the line parser. */
	char *data_line = NULL;
	for (char *p = text; p < text + len;) {
		char *nl = memchr(p, '\n', (size_t)(text + len - p));
		if (!nl)
			break;
		if (strncmp(p, "data ", 5) == 0) {
			data_line = p;
			break;
		}
		p = nl + 1;
	}
	if (!data_line)
		return bad(err, where, 0, "no data line (truncated?)");
	char *nl = memchr(data_line, '\n', (size_t)(text + len - data_line));
	*nl = '\0';
	uint64_t data_len;
	if (!q__parse_u64(data_line + 5, NULL, &data_len) ||
	    data_len != (uint64_t)(text + len - (nl + 1)))
		return bad(err, where, 0, "data length does not match");

	/* The items are allocated before their lines are read: a count the
	 * header cannot hold would make a few bytes allocate gigabytes
	 * (found by tests/fuzz/fuzz_record). */
	size_t header_len = (size_t)(data_line - text);
	q__lines_init(&it, text, header_len);
	n = q__lines_next(&it, tok);
	if (n != 2 || strcmp(tok[0], "spoolq-record") || strcmp(tok[1], "1"))
		return bad(err, where, it.lineno, "not a format-1 record");
	while ((n = q__lines_next(&it, tok)) > 0) {
		const char *k = tok[0];
		/* A known key with the wrong number of tokens is damage,
		 * not an unknown key to skip. */
		static const struct { const char *key; int ntok; } known[] = {
			{ "job", 2 },	  { "chunk", 5 },   { "worker", 2 },
			{ "host", 2 },	  { "claimed", 2 }, { "item", 10 },
			{ "key", 3 },	  { "chunkkey", 2 }, { "cached", 3 },
			{ "sum", 3 },	  { "held", 4 },
		};
		for (size_t j = 0; j < Q_ARRAY_SIZE(known); j++)
			if (strcmp(k, known[j].key) == 0 && n != known[j].ntok)
				goto malformed;
		if (strcmp(k, "job") == 0 && n == 2) {
			if (!q__tok_u64(tok[1], &rec->job))
				goto malformed;
		} else if (strcmp(k, "chunk") == 0 && n == 5) {
			uint64_t a;
			if (have_chunk || !q__tok_u64(tok[1], &rec->chunk) ||
			    !q__tok_u64(tok[2], &a) || a > 1000000 ||
			    !q__tok_u64(tok[3], &rec->first) ||
			    !q__tok_u64(tok[4], &rec->count) ||
			    rec->count == 0 || rec->count > (1u << 24) ||
			    rec->count > header_len / Q_ITEM_LINE_MIN)
				goto malformed;
			rec->attempt = (unsigned)a;
			rec->items = q__calloc(rec->count, sizeof(*rec->items));
			have_chunk = true;
		} else if ((strcmp(k, "worker") == 0 || strcmp(k, "host") == 0) &&
			   n == 2) {
			char *s = q__unesc(tok[1]);
			if (!s)
				goto malformed;
			char **dst = k[0] == 'w' ? &rec->worker : &rec->host;
			free(*dst);
			*dst = s;
		} else if (strcmp(k, "claimed") == 0 && n == 2) {
			if (!q__tok_i64(tok[1], &rec->claimed_ns))
				goto malformed;
		} else if (strcmp(k, "key") == 0 || strcmp(k, "chunkkey") == 0) {
			const char *hex = tok[n - 1];
			uint64_t kitem = 0;
			if (strlen(hex) != Q_KEY_HEX - 1 ||
			    strspn(hex, "0123456789abcdef") != Q_KEY_HEX - 1)
				goto malformed;
			if (k[0] == 'c') {
				memcpy(rec->chunk_key, hex, Q_KEY_HEX);
			} else {
				if (!have_chunk || !q__tok_u64(tok[1], &kitem) ||
				    kitem < rec->first ||
				    kitem - rec->first >= rec->count)
					goto malformed;
				memcpy(rec->items[kitem - rec->first].key, hex,
				       Q_KEY_HEX);
			}
		} else if (strcmp(k, "sum") == 0 || strcmp(k, "held") == 0) {
			struct q_item_record *r = item_of(rec, have_chunk,
							  tok[1]);
			if (!r)
				goto malformed;
			if (k[0] == 's') {
				if (!parse_sum(tok[2], &r->out_sum))
					goto malformed;
				r->out_summed = true;
			} else {
				uint64_t rank;
				if (!q__world_valid(tok[2]) ||
				    !q__tok_u64(tok[3], &rank) ||
				    rank > 1u << 24)
					goto malformed;
				snprintf(r->held_world, sizeof(r->held_world),
					 "%s", tok[2]);
				r->held_rank = (unsigned)rank;
			}
		} else if (strcmp(k, "cached") == 0) {
			if (!q__tok_u64(tok[1], &rec->cached_job) ||
			    !q__tok_u64(tok[2], &rec->cached_chunk) ||
			    rec->cached_job == 0)
				goto malformed;
		} else if (strcmp(k, "item") == 0 && n == 10) {
			if (!have_chunk || nitems >= rec->count)
				goto malformed;
			struct q_item_record *r = &rec->items[nitems];
			int64_t ex, slot;
			if (!q__tok_u64(tok[1], &r->item) ||
			    r->item != rec->first + nitems ||
			    !parse_state(tok[2], &r->state) ||
			    !q__tok_i64(tok[3], &ex) || ex < -100000 ||
			    ex > 100000 || !q__tok_i64(tok[4], &r->start_ns) ||
			    !q__tok_i64(tok[5], &r->end_ns) ||
			    !q__tok_i64(tok[6], &slot) || slot < 0 ||
			    slot > 1000000 || !parse_stream(tok[7], &r->out) ||
			    !parse_stream(tok[8], &r->err))
				goto malformed;
			r->exit_code = (int)ex;
			r->slot = (unsigned)slot;
			const struct q_stream *ss[2] = { &r->out, &r->err };
			for (int j = 0; j < 2; j++)
				if (ss[j]->where == Q_STREAM_INLINE &&
				    (ss[j]->offset > data_len ||
				     ss[j]->length > data_len - ss[j]->offset))
					goto malformed;
			if (strcmp(tok[9], "-") != 0 &&
			    !(r->reason = q__unesc(tok[9])))
				goto malformed;
			nitems++;
		}
		/* Other keys: later format-1 writers may add some. */
	}
	if (n < 0)
		goto malformed;
	/* Every format-1 writer writes both ids; readers print them and a
	 * reader's formatter copies them, so a record without one is
	 * damaged (found by tests/fuzz/fuzz_record). */
	if (!have_chunk || nitems != rec->count || !rec->worker || !rec->host)
		return bad(err, where, it.lineno, "incomplete header");
	/* A held output must say where, and what its bytes sum to; only a
	 * held one has a place. */
	for (uint64_t i = 0; i < rec->count; i++) {
		const struct q_item_record *r = &rec->items[i];
		bool held = r->out.where == Q_STREAM_HELD;
		if (held != (r->held_world[0] != '\0') ||
		    (held && !r->out_summed))
			return bad(err, where, it.lineno,
				   "a held output without its place or sum, "
				   "or a place for one that is not held");
	}
	rec->data_len = (size_t)data_len;
	rec->data = q__malloc(rec->data_len + 1);
	memcpy(rec->data, nl + 1, rec->data_len);
	rec->data[rec->data_len] = '\0';
	if (!q__safe_component(rec->worker))
		return bad(err, where, it.lineno, "bad worker id");
	return 0;
malformed:
	return bad(err, where, it.lineno, "malformed line");
}

/* Read and check the record `name` in dirfd, for `chunk` of h's job. */
static int record_read_at(struct q_jobh *h, int fd, const char *name,
			  uint64_t chunk, const char *where,
			  struct q_record *rec, struct q_error *err)
{
	char *text = NULL;
	size_t len;
	int ret = q__record_text_read(fd, name, h->job->id, chunk, Q_RECORD_MAX,
				      &text, &len);
	if (ret == -ENOENT)
		return ret;
	if (ret == -EBADMSG)
		return q_error_set(err, Q_ERR_SYSTEM, 0, "record '%s' is "
				   "damaged: a segment without chunk %llu, or "
				   "a damaged index", where,
				   (unsigned long long)chunk);
	if (ret < 0)
		return q_error_set(err, Q_ERR_SYSTEM, -ret, "cannot read '%s'",
				   where);
	ret = q__record_parse(rec, text, len, where, err);
	free(text);
	if (ret == 0) {
		uint64_t first, count;
		q_job_chunk_items(h->job, chunk, &first, &count);
		if (rec->chunk != chunk || rec->first != first ||
		    rec->count != count)
			ret = q_error_set(err, Q_ERR_SYSTEM, 0,
					  "record '%s' is damaged: it describes "
					  "another chunk", where);
	}
	if (ret < 0)
		q_record_release(rec);
	return ret;
}

int q_record_read(struct q_jobh *h, uint64_t chunk, struct q_record *rec,
		  struct q_error *err)
{
	char name[32], where[512];

	memset(rec, 0, sizeof(*rec));
	if (chunk >= h->job->nchunks)
		return -EINVAL;
	unsigned s = q_job_shard_of(h->job, chunk);
	int fd = q__jobh_shard_fd(h, Q_SHARD_DONE, s);
	if (fd < 0)
		return fd == -ENOENT ? -ENOENT
				     : q_error_set(err, Q_ERR_SYSTEM, -fd,
						   "cannot open job %llu's "
						   "done/%u",
						   (unsigned long long)h->job->id,
						   s);
	snprintf(name, sizeof(name), "%llu", (unsigned long long)chunk);
	snprintf(where, sizeof(where), "%s/jobs/%llu/done/%u/%s", h->sp->path,
		 (unsigned long long)h->job->id, s, name);
	return record_read_at(h, fd, name, chunk, where, rec, err);
}

int q__each_record_read(struct q_jobh *h, int dirfd, uint64_t chunk,
			const char *name, struct q_record *rec,
			struct q_error *err)
{
	char where[768];
	memset(rec, 0, sizeof(*rec));
	if (chunk >= h->job->nchunks)
		return -EINVAL;
	snprintf(where, sizeof(where), "%s/jobs/%llu/each/%llu/%s", h->sp->path,
		 (unsigned long long)h->job->id, (unsigned long long)chunk, name);
	return record_read_at(h, dirfd, name, chunk, where, rec, err);
}

static void stream_file_name(char *out, size_t size,
			     const struct q_record *rec, size_t i, bool err)
{
	snprintf(out, size, "%llu.a%u.%s.%s",
		 (unsigned long long)rec->items[i].item, rec->attempt,
		 rec->worker, err ? "err" : "out");
}

/* A stream stored as a file of its own: always, or once spilled. */
static bool has_file(const struct q_stream *st)
{
	return st->where == Q_STREAM_FILE || st->where == Q_STREAM_HELD;
}

char *q_record_output_path(struct q_jobh *h, const struct q_record *rec,
			   size_t i, bool want_err)
{
	const struct q_stream *st = want_err ? &rec->items[i].err
					     : &rec->items[i].out;
	if (!has_file(st))
		return NULL;
	char name[Q_CLAIM_NAME_MAX];
	stream_file_name(name, sizeof(name), rec, i, want_err);
	return q__asprintf("%s/jobs/%llu/out/%u/%s", h->sp->path,
			   (unsigned long long)h->job->id,
			   q_job_shard_of(h->job, rec->chunk), name);
}

/* The output file, checked to be the regular file of the size the
 * record says (fsutil.c): a FIFO or a huge file put in its place is
 * refused with a message naming it. err may be NULL. */
static int stream_open(struct q_jobh *h, const struct q_record *rec,
		       size_t i, bool want_err, struct q_error *err)
{
	const struct q_stream *st = want_err ? &rec->items[i].err
					     : &rec->items[i].out;
	char name[Q_CLAIM_NAME_MAX];
	int dirfd = q__jobh_shard_fd(h, Q_SHARD_OUT,
				     q_job_shard_of(h->job, rec->chunk));
	if (dirfd < 0)
		return q_error_set(err, Q_ERR_SYSTEM, -dirfd,
				   "cannot open the outputs of job %llu",
				   (unsigned long long)rec->job);
	stream_file_name(name, sizeof(name), rec, i, want_err);
	char *shown = q_record_output_path(h, rec, i, want_err);
	int fd = q__open_file_sized(dirfd, name, st->length,
				    shown ? shown : name, err);
	free(shown);
	return fd;
}

int q__record_stream_file(struct q_jobh *h, const struct q_record *rec,
			  size_t i, bool want_err)
{
	return stream_open(h, rec, i, want_err, NULL);
}

int q_record_output_check(struct q_jobh *h, const struct q_record *rec,
			  size_t i, bool want_err, struct q_error *err)
{
	const struct q_stream *st = want_err ? &rec->items[i].err
					     : &rec->items[i].out;
	if (!has_file(st))
		return 0;
	int fd = stream_open(h, rec, i, want_err, err);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

void q__record_stream_name(char *out, size_t size, const struct q_record *rec,
			   size_t i, bool want_err)
{
	stream_file_name(out, size, rec, i, want_err);
}

/*
 * A held output that is not in the spool (yet): ask the MPI fast path
 * (q_spool_set_world), or say where it is and how to get it written.
 */
static int held_fetch(struct q_jobh *h, const struct q_record *rec, size_t i,
		      char **data_out, size_t *len_out, struct q_error *err)
{
	const struct q_item_record *it = &rec->items[i];
	if (h->sp->hooks.fetch)
		return h->sp->hooks.fetch(h->sp->hooks.arg, h, rec, i,
					  data_out, len_out, err);
	return q_error_set(err, Q_ERR_SYSTEM, EAGAIN,
			   "the result of job %llu item %llu (%llu bytes) is "
			   "held in the memory of worker '%s' (MPI rank %u of "
			   "world %s) and is not in the spool yet: that worker "
			   "writes it when it exits, or at once on SIGUSR1 "
			   "(kill -USR1 on host %s); if the worker was "
			   "killed, the result is lost: a worker of an MPI "
			   "job that needs it recomputes it, or resubmit the "
			   "task", (unsigned long long)rec->job,
			   (unsigned long long)it->item,
			   (unsigned long long)it->out.length, rec->worker,
			   it->held_rank, it->held_world, rec->host);
}

/* The stream's bytes do not match the record's checksum. */
static int sum_mismatch(struct q_jobh *h, const struct q_record *rec,
			size_t i, struct q_error *err)
{
	char *path = q_record_output_path(h, rec, i, false);
	int ret = q_error_set(err, Q_ERR_SYSTEM, EBADMSG,
			      "the result of job %llu item %llu does not match "
			      "its checksum%s%s%s: it was damaged after it was "
			      "written (it is not used)",
			      (unsigned long long)rec->job,
			      (unsigned long long)rec->items[i].item,
			      path ? " ('" : "", path ? path : "",
			      path ? "')" : "");
	free(path);
	return ret;
}

int q__record_sum_check(struct q_jobh *h, const struct q_record *rec,
			size_t i, const void *data, size_t len,
			struct q_error *err)
{
	const struct q_item_record *it = &rec->items[i];
	if (!it->out_summed)
		return 0;
	if (len != it->out.length || q_checksum(data, len) != it->out_sum)
		return sum_mismatch(h, rec, i, err);
	return 0;
}

/* Open a stream's file; for a held one not spilled yet, -ENOENT with
 * err untouched. */
static int stream_open_or_held(struct q_jobh *h, const struct q_record *rec,
			       size_t i, bool want_err, struct q_error *err)
{
	const struct q_stream *st = want_err ? &rec->items[i].err
					     : &rec->items[i].out;
	if (st->where == Q_STREAM_HELD) {
		int fd = stream_open(h, rec, i, want_err, NULL);
		if (fd != -ENOENT && fd < 0)
			return stream_open(h, rec, i, want_err, err);
		return fd;
	}
	return stream_open(h, rec, i, want_err, err);
}

int q_record_output(struct q_jobh *h, const struct q_record *rec, size_t i,
		    bool want_err, FILE *out, struct q_error *err)
{
	const struct q_stream *st = want_err ? &rec->items[i].err
					     : &rec->items[i].out;
	if (st->where == Q_STREAM_NONE)
		return 0;
	if (st->where == Q_STREAM_INLINE) {
		if (st->length &&
		    fwrite(rec->data + st->offset, 1, st->length, out) !=
			    st->length)
			return q_error_set(err, Q_ERR_SYSTEM, errno,
					   "cannot write output");
		return 0;
	}
	int fd = stream_open_or_held(h, rec, i, want_err, err);
	if (fd == -ENOENT) {
		char *data;
		size_t len;
		int ret = held_fetch(h, rec, i, &data, &len, err);
		if (ret < 0)
			return ret;
		if (ret == 0)
			ret = q__record_sum_check(h, rec, i, data, len, err);
		else
			ret = 0;
		if (ret == 0 && len && fwrite(data, 1, len, out) != len)
			ret = q_error_set(err, Q_ERR_SYSTEM, errno,
					  "cannot write output");
		q_big_free(data);
		return ret;
	}
	if (fd < 0)
		return fd;
	bool check = !want_err && rec->items[i].out_summed;
	struct q_sum *sum = check ? q__sum_new() : NULL;
	char buf[65536];
	uint64_t left = st->length;
	int ret = 0;
	while (left > 0) {
		ssize_t n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = q_error_set(err, Q_ERR_SYSTEM,
					  n < 0 ? errno : EIO,
					  "cannot read the output of job %llu "
					  "item %llu (truncated?)",
					  (unsigned long long)rec->job,
					  (unsigned long long)rec->items[i].item);
			break;
		}
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n) {
			ret = q_error_set(err, Q_ERR_SYSTEM, errno,
					  "cannot write output");
			break;
		}
		if (sum)
			q__sum_add(sum, buf, (size_t)n);
		left -= (uint64_t)n;
	}
	close(fd);
	/* Streamed already: a mismatch can only be reported, after. */
	if (ret == 0 && sum && q__sum_value(sum) != rec->items[i].out_sum)
		ret = sum_mismatch(h, rec, i, err);
	q__sum_free(sum);
	return ret;
}

/* q_record_output_mem of a held output that is not in the spool. */
static int held_input(struct q_jobh *h, const struct q_record *rec, size_t i,
		      size_t max, char **data_out, size_t *len_out,
		      struct q_error *err)
{
	char *data;
	size_t len;
	int ret = held_fetch(h, rec, i, &data, &len, err);
	if (ret < 0)
		return ret;
	/* 1: the hook checked the bytes already (a second pass over
	 * 256 MiB costs 40 ms here). */
	if (ret == 0 && (ret = q__record_sum_check(h, rec, i, data, len,
						   err)) < 0) {
		q_big_free(data);
		return ret;
	}
	/* Cut in place, not copied: the hook's buffer has len + 1 bytes.
	 * Lent memory (the holder's own result) is shared: cut a copy. */
	bool lent = q_big_is_lent(data);
	if (len > max && lent) {
		char *cut = q_big_alloc(max + 1);
		if (!cut) {
			q_big_free(data);
			return q_error_set(err, Q_ERR_SYSTEM, ENOMEM,
					   "no memory for %zu bytes of output",
					   max);
		}
		memcpy(cut, data, max);
		q_big_free(data);
		data = cut;
		lent = false;
	}
	if (len > max)
		len = max;
	/* The hook's own memory gets its NUL here; lent memory has one
	 * already (its owner's, not to be written by a reader). */
	if (!lent)
		data[len] = '\0';
	*data_out = data;
	*len_out = len;
	return 0;
}

int q_record_output_mem(struct q_jobh *h, const struct q_record *rec,
			size_t i, bool want_err, size_t max, char **data_out,
			size_t *len_out, struct q_error *err)
{
	const struct q_stream *st = want_err ? &rec->items[i].err
					     : &rec->items[i].out;
	size_t want = st->length < max ? (size_t)st->length : max;
	size_t got = 0;
	int fd = -1;

	/* Opened first: a held output not in the spool comes whole from
	 * the hook, into memory of its own (allocating here first cost a
	 * wasted 256 MiB of page faults per input). */
	if (has_file(st)) {
		fd = stream_open_or_held(h, rec, i, want_err, err);
		if (fd == -ENOENT)
			return held_input(h, rec, i, max, data_out, len_out,
					  err);
		if (fd < 0)
			return fd;
	}
	char *data = q_big_alloc(want + 1);
	if (!data) {
		if (fd >= 0)
			close(fd);
		return q_error_set(err, Q_ERR_SYSTEM, ENOMEM,
				   "no memory for %zu bytes of output", want);
	}
	if (st->where == Q_STREAM_INLINE) {
		memcpy(data, rec->data + st->offset, want);
		got = want;
	} else if (fd >= 0) {
		while (got < want) {
			ssize_t n = read(fd, data + got, want - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		close(fd);
	}
	data[got] = '\0';
	/* A whole result is checked; a cut one cannot be. */
	if (!want_err && want == st->length && has_file(st)) {
		int ret = q__record_sum_check(h, rec, i, data, got, err);
		if (ret < 0) {
			q_big_free(data);
			return ret;
		}
		if (h->sp->hooks.file_read)
			h->sp->hooks.file_read(h->sp->hooks.arg, rec->job, got);
	}
	*data_out = data;
	*len_out = got;
	return 0;
}
