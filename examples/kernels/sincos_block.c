/*
 * sincos_block.c: one block of (sin(x) + cos(x.T)).sum(), the course's
 * chunked-array example (sincos.h generates x).
 *
 * Arguments:
 *   n=INT      the array is n x n (default 20000)
 *   block=INT  blocks are block x block, the last row and column of
 *              blocks smaller when block does not divide n (default 2000)
 *   seed=INT   which array (default 0)
 *   index=INT  which block, row-major: index = bi * nb + bj with
 *              nb = ceil(n / block) blocks per side (default: the task's
 *              array index, so `--array 0..99` covers a 20000 x 20000
 *              array in 2000 x 2000 blocks)
 *   bi=INT bj=INT  the block row and column, instead of index
 * Result: one line, the block's sum of sin(x[i][j]) + cos(x[j][i]) with
 * %.17g (every digit a double has). The built-in sum kernel adds the
 * blocks' results up: `qsubmit --kernel sum --after JOB`.
 *
 * Design notes
 * 1. The block's rows are spread over q_ctx_threads(ctx) OpenMP threads
 *    (a static schedule), each row summed by one thread into its own slot,
 *    and the row sums added in row order afterwards. A reduction(+:)
 *    clause would add the threads' partial sums in an order that depends
 *    on the thread count and on timing, so the last bits of the result
 *    would too; this way, like the pi kernel, the result is the same for
 *    any thread count, which the key of a pure task needs.
 * 2. Cancellation is checked once per row, in every thread: a cancelled
 *    block stops within a row's time (about 0.1 ms for block=2000).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <spoolq/kernel.h>

#include "qexample.h"
#include "sincos.h"

/* Read argument `key` in [min, max]; -1 after a message in the log. */
static int arg_in(struct q_ctx *ctx, const char *key, long def, long min,
		  long max, long *out)
{
	if (q_ctx_arg_long(ctx, key, def, out) < 0)
		return -1;
	if (*out < min || *out > max) {
		q_ctx_log(ctx, "sincos_block: %s=%ld is out of range (%ld to "
			  "%ld)\n", key, *out, min, max);
		return -1;
	}
	return 0;
}

static int run(struct q_ctx *ctx)
{
	long n, block, seed, index, bi, bj;

	/* n * n elements are numbered in 64 bits. */
	if (arg_in(ctx, "n", 20000, 1, 4294967295L, &n) < 0 ||
	    arg_in(ctx, "block", 2000, 1, n, &block) < 0 ||
	    q_ctx_arg_long(ctx, "seed", 0, &seed) < 0)
		return 2;
	long nb = (n + block - 1) / block;
	bool by_index = !q_ctx_arg(ctx, "bi") && !q_ctx_arg(ctx, "bj");
	if (by_index) {
		if (arg_in(ctx, "index", (long)q_ctx_index(ctx), 0,
			   nb * nb - 1, &index) < 0)
			return 2;
		bi = index / nb;
		bj = index % nb;
	} else if (!q_ctx_arg(ctx, "bi") || !q_ctx_arg(ctx, "bj")) {
		q_ctx_log(ctx, "sincos_block: give both bi and bj, or "
			  "index\n");
		return 2;
	} else if (arg_in(ctx, "bi", 0, 0, nb - 1, &bi) < 0 ||
		   arg_in(ctx, "bj", 0, 0, nb - 1, &bj) < 0) {
		return 2;
	}

	const uint64_t key = sincos_key((uint64_t)seed);
	const uint64_t r0 = (uint64_t)(bi * block), c0 = (uint64_t)(bj * block);
	const uint64_t r1 = r0 + (uint64_t)block < (uint64_t)n
				    ? r0 + (uint64_t)block : (uint64_t)n;
	const uint64_t c1 = c0 + (uint64_t)block < (uint64_t)n
				    ? c0 + (uint64_t)block : (uint64_t)n;
	const int64_t rows = (int64_t)(r1 - r0);
	double *row_sum = calloc((size_t)rows, sizeof(double));
	if (!row_sum) {
		q_ctx_log(ctx, "sincos_block: out of memory\n");
		return 1;
	}

	/* Design note 1. */
#pragma omp parallel for num_threads(q_ctx_threads(ctx)) schedule(static)
	for (int64_t r = 0; r < rows; r++) {
		if (q_ctx_cancelled(ctx))   /* design note 2 */
			continue;
		row_sum[r] = sincos_row(key, (uint64_t)n, r0 + (uint64_t)r, c0,
					c1);
	}
	double sum = 0.0;
	for (int64_t r = 0; r < rows; r++)
		sum += row_sum[r];
	free(row_sum);
	if (q_ctx_cancelled(ctx))
		return 1;
	return q_ctx_printf(ctx, "%.17g\n", sum) < 0 ? 1 : 0;
}

const struct q_kernel qexample_sincos_block = {
	Q_KERNEL_ABI, "sincos_block",
	"one block's sum of sin(x) + cos(x.T), x generated from a seed "
	"(example plugin)",
	"n=INT (default 20000) block=INT (default 2000) seed=INT (default 0) "
	"index=INT (default: the array index) or bi=INT bj=INT",
	run,
};
