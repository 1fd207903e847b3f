/*
 * sincos_plain: (sin(x) + cos(x.T)).sum() for the n x n array of the
 * chunked-array example, in a plain single-threaded C loop over the whole
 * array, with the same generator as the sincos_block kernel
 * (examples/kernels/sincos.h), and its row function: vectorised the same
 * way (libmvec's sin and cos, an AVX2 clone where the CPU has it), so the
 * comparison is of the chunking, not of the loop. The figure the chunked
 * run is compared with, for its result (to 1e-9 relative) and its time.
 *
 * Usage: sincos_plain [N [SEED]]   (default 20000 0)
 * Prints "total %.17g" and "seconds %.3f", one per line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sincos.h"

static int parse(const char *s, unsigned long long max,
		 unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || *end || errno || v > max || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long n = 20000, seed = 0;
	struct timespec a, b;

	if (argc > 3 || (argc > 1 && parse(argv[1], 4294967295ULL, &n) < 0) ||
	    (argc > 2 && parse(argv[2], ~0ULL, &seed) < 0) || n == 0) {
		fprintf(stderr, "usage: sincos_plain [N [SEED]]   (N from 1 "
			"to 4294967295; default 20000 0)\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	double total = sincos_total(seed, n);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("total %.17g\nseconds %.3f\n", total,
	       (double)(b.tv_sec - a.tv_sec) +
		       (double)(b.tv_nsec - a.tv_nsec) * 1e-9);
	return fflush(stdout) == 0 ? 0 : 1;
}
