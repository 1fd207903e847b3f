/*
 * spoolq/spool.h: a spool directory, the queue itself.
 *
 * Calling sequence:
 *   struct q_spool *sp;
 *   if (q_spool_open(&sp, path, Q_SPOOL_CREATE, &err) < 0) ...
 *   ... q_submit / q_job_load / q_status ... (they take the spool)
 *   q_spool_close(sp);
 *
 * A spool is a directory holding a `format` file ("spoolq-spool 1"), tmp/
 * (staging), jobs/ (one directory per published job) and workers/ (one
 * heartbeat file per live worker). docs/spool-format.md specifies every
 * file. q_spool_open holds a directory handle; every later access is
 * relative to it, so renaming or replacing the spool's path while it is
 * open does not redirect spoolq elsewhere.
 *
 * Errors: a path that is not a directory, a directory that is not a spool,
 * an unknown format version, and a spool the caller may not use are
 * Q_ERR_INPUT: the spool or one of its top-level directories writable by
 * everyone, owned by another user (root included) when the spool is
 * private, or of another group, an owner outside the group, or a caller
 * outside the group when it is group-shared (docs/security.md). I/O
 * failures are Q_ERR_SYSTEM.
 */
#ifndef SPOOLQ_SPOOL_H
#define SPOOLQ_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spoolq/error.h>
#include <spoolq/export.h>

#define Q_SPOOL_FORMAT 1

enum q_spool_flags {
	Q_SPOOL_CREATE = 1 << 0,  /* create the spool if missing */
	Q_SPOOL_GROUP = 1 << 1,   /* when creating: group-shared, mode 2770 */
	Q_SPOOL_WRITE = 1 << 2,   /* we will change it: check it is writable */
};

struct q_spool;

/* The spool path the commands use: --spool DIR, else $QSPOOL, else
 * ./qspool. `option` is the --spool value or NULL. */
Q_EXPORT const char *q_spool_default_path(const char *option);

Q_EXPORT int q_spool_open(struct q_spool **spool_out, const char *path,
			  unsigned flags, struct q_error *err);
Q_EXPORT void q_spool_close(struct q_spool *spool);

/* The spool's path, made absolute (not resolved) when it was opened
 * with a relative one: tasks run in other directories get it. */
Q_EXPORT const char *q_spool_path(const struct q_spool *spool);
/* True when the spool is group-shared (files 0660, directories 2770). */
Q_EXPORT bool q_spool_is_group(const struct q_spool *spool);

/*
 * Create a new temporary file in the spool's tmp/ (for a worker's task
 * output); its name goes to name_out. Returns an fd or -errno. Hand the
 * name to q_commit, which consumes it.
 */
Q_EXPORT int q_spool_tmp_create(struct q_spool *spool, const char *purpose,
				char *name_out, size_t name_size);
/*
 * Durability (DESIGN invariant 2) for this process: on by default. Off,
 * every write stays atomic (written in tmp/, then renamed or linked) but
 * nothing is fsynced: a crash of the process loses nothing, a crash of
 * the machine may lose the last results (qworker --no-fsync).
 */
Q_EXPORT void q_fsync_enable(bool on);

/* Remove a temporary made by q_spool_tmp_create. */
Q_EXPORT void q_spool_tmp_remove(struct q_spool *spool, const char *name);

/*
 * The MPI fast path (workers/mpipath.c). A worker that is a rank of an MPI
 * world says so here: its held outputs are recorded at (world, rank),
 * and a reader of a held output that has not been spilled to the spool
 * calls hooks->fetch (from any thread) to get the bytes, which it then
 * checks against the recorded checksum. Without a fetch hook such a
 * reader reports where the output is held and how to get it written.
 * fetch returns 0 with *data_out (*len_out bytes and a NUL after them)
 * from malloc, q_big_alloc or lent with q_big_lend (spoolq/bigbuf.h;
 * the reader releases it with q_big_free), 1 the same when it has
 * checked the bytes against the record's checksum itself, or -errno
 * with err set. hooks->file_read, if set, hears of every big output (a
 * file of its own) a reader took from the spool: `bytes` of job `job`'s
 * results (the counters qstatus shows). Set once, before any thread
 * reads records; `hooks` is copied.
 */
struct q_jobh;
struct q_record;
typedef int (*q_fetch_fn)(void *arg, struct q_jobh *h,
			  const struct q_record *rec, size_t i,
			  char **data_out, size_t *len_out,
			  struct q_error *err);
struct q_world_hooks {
	q_fetch_fn fetch;
	void (*file_read)(void *arg, uint64_t job, uint64_t bytes);
	/* The job's broadcast input (spoolq/kernel.h q_ctx_broadcast):
	 * 0 with *data (the hook's, valid until the worker stops) and
	 * *len, or -errno with err set. NULL: read the file once here. */
	int (*broadcast)(void *arg, struct q_jobh *h, const char **data,
			 size_t *len, struct q_error *err);
	void *arg;
};
Q_EXPORT void q_spool_set_world(struct q_spool *spool, const char *world,
				unsigned rank,
				const struct q_world_hooks *hooks);

/* XXH3-64 of `len` bytes: the checksum records keep for big outputs. */
Q_EXPORT uint64_t q_checksum(const void *data, size_t len);

#endif
