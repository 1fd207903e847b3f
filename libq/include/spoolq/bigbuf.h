/*
 * spoolq/bigbuf.h: memory for big results and inputs.
 *
 * A worker of the MPI fast path receives results of hundreds of MiB, task
 * after task. Fresh memory for each costs page faults that can take
 * longer than the transfer (on a VM that hands freed memory back to the
 * host, several times longer), so freed big buffers are kept, up to a
 * limit, and given out again; a worker can also fault memory in when it
 * starts (q_big_reserve). And a result a worker holds itself is lent to
 * its own consumers instead of copied (q_big_lend).
 *
 * Every buffer from q_big_alloc, and every result from
 * q_record_output_mem, q_item_output and q_broadcast_read, is released
 * with q_big_free, never free(): it may be a kept buffer or a lent one.
 * Thread-safe.
 */
#ifndef SPOOLQ_BIGBUF_H
#define SPOOLQ_BIGBUF_H

#include <stdbool.h>
#include <stddef.h>

#include <spoolq/export.h>

/* Memory for `n` bytes (NULL when there is none). From Q_BIG_MIN up:
 * a kept buffer when one is big enough, else fresh memory aligned to
 * 2 MiB, on huge pages where the kernel offers them, faulted in at
 * once. Below it, malloc. Release it with q_big_free. */
#define Q_BIG_MIN ((size_t)4 << 20)
Q_EXPORT void *q_big_alloc(size_t n);

/* Release memory from q_big_alloc, a lent buffer (its owner hears of
 * it), or anything else from malloc (freed). NULL does nothing. */
Q_EXPORT void q_big_free(void *p);

/* Keep up to `bytes` of released big buffers for reuse (0, the default:
 * give them back at once). A lower limit gives the surplus back now. */
Q_EXPORT void q_big_keep_limit(size_t bytes);

/* Give kept buffers back until at most `bytes` are kept; the limit
 * stays. For an owner that needs the memory for something else. */
Q_EXPORT void q_big_trim(size_t bytes);

/* Bytes kept now, ready for reuse. */
Q_EXPORT size_t q_big_kept(void);

/* Since the process started: big buffers given out, and how many of
 * them were kept memory rather than fresh (for qworker --verbose). */
Q_EXPORT void q_big_counts(unsigned long *given, unsigned long *reused);

/* Fault `bytes` in now and keep them (split among later requests of any
 * size): 0, -ENOMEM, or -ENOSPC when the keep limit has no room. */
Q_EXPORT int q_big_reserve(size_t bytes);

/*
 * Lend `p`, memory its owner keeps (not from q_big_alloc), to a reader
 * that releases it with q_big_free: that call runs release(arg) instead
 * of freeing. The same memory may be lent many times over; each
 * q_big_free of it answers one lending. The owner must not change or
 * free the bytes before every lending is answered.
 */
Q_EXPORT void q_big_lend(const void *p, void (*release)(void *arg),
			 void *arg);

/* True when `p` is lent memory (a reader must copy it to change it). */
Q_EXPORT bool q_big_is_lent(const void *p);

#endif
