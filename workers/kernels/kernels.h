/*
 * kernels.h: the built-in kernels (one file each) and their testable
 * cores.
 */
#ifndef QWORKER_KERNELS_H
#define QWORKER_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <spoolq/kernel.h>

extern const struct q_kernel q_kernel_hello;
extern const struct q_kernel q_kernel_sleep;
extern const struct q_kernel q_kernel_pi;
extern const struct q_kernel q_kernel_sum;
extern const struct q_kernel q_kernel_blob;
extern const struct q_kernel q_kernel_blob_check;
extern const struct q_kernel q_kernel_bcast_slice;

/* pi: hits among `samples` counter-based samples of stream `key`. */
uint64_t q_pi_hits(uint64_t key, uint64_t samples, unsigned threads);

/* sum: add one text's columns into sums (see sum.c). */
int q_sum_text(const char *text, size_t len, double *sums, size_t *ncols,
	       size_t max_cols, long *bad_line);

/* blob: words[k] = word first + k of stream `key`, little-endian. */
void q_blob_fill(uint64_t *words, uint64_t first, size_t nwords,
		 uint64_t key, unsigned threads);

/* blob_check: fold one input's bytes into the running sum (0 to start;
 * see blob.c). */
uint64_t q_blob_hash(uint64_t sum, const void *data, size_t len);

/* Register all of the above (idempotent). */
void q_builtin_kernels_register(void);

#endif
