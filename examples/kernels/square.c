/*
 * square.c: the smallest useful kernel: n squared.
 *
 * Arguments: n=INT (default 10). Result: one line, n * n.
 */
#include <stdlib.h>

#include <spoolq/kernel.h>

#include "qexample.h"

static int run(struct q_ctx *ctx)
{
	long n;

	if (q_ctx_arg_long(ctx, "n", 10, &n) < 0)
		return 2;
	/* The largest n whose square fits in a long. */
	if (labs(n) > 3037000499L) {
		q_ctx_log(ctx, "square: n=%ld is too big (at most 3037000499 "
			  "in absolute value)\n", n);
		return 2;
	}
	return q_ctx_printf(ctx, "%ld\n", n * n) < 0 ? 1 : 0;
}

const struct q_kernel qexample_square = {
	Q_KERNEL_ABI, "square",
	"n squared (example plugin)",
	"n=INT (default 10)",
	run,
};
