/*
 * spoolq/record.h: what happened to each task.
 *
 * When a worker finishes a chunk it publishes one record: per item its
 * state, exit status, times and where its output (stdout or the kernel's
 * result) and log (stderr) are. Small outputs are inside the record; big
 * ones are files of their own next to it. A record is immutable and the
 * first record published for a chunk wins (docs/spool-format.md).
 *
 * q_record_read parses a record file; the struct owns its memory and is
 * released with q_record_release. Item outputs are read with
 * q_record_output, which copies inline bytes or streams the file.
 */
#ifndef SPOOLQ_RECORD_H
#define SPOOLQ_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <spoolq/error.h>
#include <spoolq/export.h>

enum q_state {
	Q_STATE_WAITING,    /* dependencies not finished */
	Q_STATE_READY,      /* can be claimed */
	Q_STATE_RUNNING,    /* claimed by a worker */
	Q_STATE_DONE,       /* finished with success */
	Q_STATE_FAILED,     /* finished with failure (exit, signal, error) */
	Q_STATE_CANCELLED,  /* cancelled, or a dependency failed */
};

Q_EXPORT const char *q_state_name(enum q_state s);
Q_EXPORT bool q_state_final(enum q_state s);

/*
 * Where an item's output stream is. Q_STREAM_HELD: a big result kept in
 * the memory of the worker that made it, an MPI rank (the MPI fast path,
 * docs/spool-format.md); once spilled it is the same file a
 * Q_STREAM_FILE stream would be.
 */
enum q_stream_where {
	Q_STREAM_NONE, Q_STREAM_INLINE, Q_STREAM_FILE, Q_STREAM_HELD
};

struct q_stream {
	enum q_stream_where where;
	uint64_t offset;    /* Q_STREAM_INLINE: into the record's data */
	uint64_t length;
};

/* A pure task's key: 64 hex digits of SHA-256, and the NUL. */
#define Q_KEY_HEX 65
/* An MPI world's id ("w" and 16 hex digits), and the NUL. */
#define Q_WORLD_MAX 24

struct q_item_record {
	uint64_t item;
	enum q_state state;   /* DONE, FAILED or CANCELLED */
	int exit_code;        /* exit status, or -signal, or -1000 for none */
	int64_t start_ns, end_ns;
	unsigned slot;
	struct q_stream out, err;
	char *reason;         /* why it failed or was cancelled, or NULL */
	char key[Q_KEY_HEX];  /* a pure task's key, or "" */
	/* A big output's checksum (XXH3-64 of its bytes), when recorded. */
	bool out_summed;
	uint64_t out_sum;
	/* Q_STREAM_HELD: the MPI world and rank holding the output. */
	char held_world[Q_WORLD_MAX];
	unsigned held_rank;
};

struct q_record {
	uint64_t job;
	uint64_t chunk;
	unsigned attempt;
	uint64_t first, count;
	char *worker;
	char *host;
	int64_t claimed_ns;
	struct q_item_record *items;  /* count entries, item order */
	char *data;                   /* inline bytes */
	size_t data_len;
	char chunk_key[Q_KEY_HEX];    /* when every item has a key */
	uint64_t cached_job;          /* reused from job/chunk, 0: ran */
	uint64_t cached_chunk;
};

#define Q_EXIT_NONE (-1000)

struct q_jobh;

/* Read and parse the record of `chunk`: 0, -ENOENT when the chunk has no
 * record yet, or another -errno with err set. */
Q_EXPORT int q_record_read(struct q_jobh *h, uint64_t chunk,
			   struct q_record *rec, struct q_error *err);
Q_EXPORT void q_record_release(struct q_record *rec);

/* Write item `i`'s stream (out when `want_err` is false) to `out`. */
Q_EXPORT int q_record_output(struct q_jobh *h, const struct q_record *rec,
			     size_t i, bool want_err, FILE *out,
			     struct q_error *err);
/* The same stream read into memory, at most `max` bytes (the rest is cut). */
Q_EXPORT int q_record_output_mem(struct q_jobh *h, const struct q_record *rec,
				 size_t i, bool want_err, size_t max,
				 char **data_out, size_t *len_out,
				 struct q_error *err);
/* Path of a stream stored as a file, relative to the spool, or NULL. */
Q_EXPORT char *q_record_output_path(struct q_jobh *h,
				    const struct q_record *rec, size_t i,
				    bool want_err);
/* For a stream stored as a file: check it is still the regular file of
 * the recorded size (not a FIFO, a link, or a file put in its place)
 * before handing its path to a command. 0, or -errno with err set naming
 * the file. Streams that are not files pass. */
Q_EXPORT int q_record_output_check(struct q_jobh *h,
				   const struct q_record *rec, size_t i,
				   bool want_err, struct q_error *err);

#endif
