/*
 * sum.c: add up the numbers in the task's inputs, column by column.
 *
 * Each input (a dependency's result) is lines of whitespace-separated
 * numbers; the result is one line with the sum of each column over every
 * line of every input. With the pi kernel's "ESTIMATE HITS SAMPLES" lines
 * the second and third columns are the total hits and samples.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spoolq/kernel.h>

#include "kernels.h"

#define MAX_COLUMNS 64

/* Add one input's lines into sums; -1 on a token that is not a number. */
int q_sum_text(const char *text, size_t len, double *sums, size_t *ncols,
	       size_t max_cols, long *bad_line)
{
	const char *p = text, *end = text + len;
	long line = 1;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		size_t col = 0;
		while (p < stop) {
			while (p < stop && (*p == ' ' || *p == '\t' ||
					    *p == '\r'))
				p++;
			if (p >= stop)
				break;
			char tok[64];
			size_t n = 0;
			while (p < stop && *p != ' ' && *p != '\t' &&
			       *p != '\r' && n + 1 < sizeof(tok))
				tok[n++] = *p++;
			tok[n] = '\0';
			/* A token too long for tok must not be read as two
			 * numbers in two columns: refuse it. */
			if (p < stop && *p != ' ' && *p != '\t' && *p != '\r') {
				*bad_line = line;
				return -1;
			}
			char *e;
			double v = strtod(tok, &e);
			if (*e || !isfinite(v) || col >= max_cols) {
				*bad_line = line;
				return -1;
			}
			sums[col++] += v;
		}
		if (col > *ncols)
			*ncols = col;
		p = stop + (nl ? 1 : 0);
		line++;
	}
	return 0;
}

static int run(struct q_ctx *ctx)
{
	double sums[MAX_COLUMNS] = { 0 };
	size_t ncols = 0;

	for (size_t i = 0; i < q_ctx_input_count(ctx); i++) {
		const char *data;
		size_t len;
		long bad;
		if (q_ctx_input(ctx, i, &data, &len) < 0)
			return 1;
		if (q_sum_text(data, len, sums, &ncols, MAX_COLUMNS, &bad) < 0) {
			q_ctx_log(ctx, "sum: input %zu, line %ld: not a list "
				  "of at most %d numbers\n", i, bad,
				  MAX_COLUMNS);
			return 2;
		}
	}
	if (ncols == 0)
		ncols = 1;
	for (size_t c = 0; c < ncols; c++) {
		double v = sums[c];
		const char *sep = c ? " " : "";
		if (v == floor(v) && fabs(v) < 9007199254740992.0)
			q_ctx_printf(ctx, "%s%.0f", sep, v);
		else
			q_ctx_printf(ctx, "%s%.17g", sep, v);
	}
	q_ctx_printf(ctx, "\n");
	return 0;
}

const struct q_kernel q_kernel_sum = {
	Q_KERNEL_ABI, "sum",
	"add the numbers of its inputs column by column",
	"(no arguments; its inputs are its dependencies' results)",
	run,
};
