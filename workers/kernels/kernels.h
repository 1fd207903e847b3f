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

/* pi: hits among `samples` counter-based samples of stream `key`. */
uint64_t q_pi_hits(uint64_t key, uint64_t samples, unsigned threads);

/* sum: add one text's columns into sums (see sum.c). */
int q_sum_text(const char *text, size_t len, double *sums, size_t *ncols,
	       size_t max_cols, long *bad_line);

/* Register all of the above (idempotent). */
void q_builtin_kernels_register(void);

#endif
