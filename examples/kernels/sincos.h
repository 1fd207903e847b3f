/*
 * sincos.h: the course's chunked-array example, (sin(x) + cos(x.T)).sum()
 * on an n x n array x, without ever storing x.
 *
 * x[i][j] is a pure function of (seed, i, j): the SplitMix64 output
 * function of a counter (element i * n + j of the seed's stream), the
 * same counter-based generator as the built-in pi kernel's
 * (workers/kernels/splitmix.h, repeated here so that this example builds
 * on its own against the installed <spoolq/kernel.h>). So any process can
 * generate any block of x, and the block of x.T at (bi, bj) is block
 * (bj, bi) of x read with the indices swapped: nothing is shipped.
 *
 * Shared by the plugin's sincos_block kernel, bench/sincos_plain.c (the
 * single-threaded loop over the whole array) and the tests.
 */
#ifndef QEXAMPLE_SINCOS_H
#define QEXAMPLE_SINCOS_H

#include <math.h>
#include <stdint.h>

#define SINCOS_GOLDEN 0x9E3779B97F4A7C15ULL

static inline uint64_t sincos_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* The stream key of a seed. */
static inline uint64_t sincos_key(uint64_t seed)
{
	return sincos_mix(seed + SINCOS_GOLDEN);
}

/* x[i][j], uniform in [0, 1): the top 53 bits of element i * n + j. */
static inline double sincos_x(uint64_t key, uint64_t n, uint64_t i,
			      uint64_t j)
{
	uint64_t r = sincos_mix(key + (i * n + j + 1) * SINCOS_GOLDEN);
	return (double)(r >> 11) * 0x1p-53;
}

/* Row i's part of the sum over columns [c0, c1): sin(x[i][j]) +
 * cos(x.T[i][j]), and x.T[i][j] is x[j][i]. */
static inline double sincos_row(uint64_t key, uint64_t n, uint64_t i,
				uint64_t c0, uint64_t c1)
{
	double s = 0.0;
	for (uint64_t j = c0; j < c1; j++)
		s += sin(sincos_x(key, n, i, j)) + cos(sincos_x(key, n, j, i));
	return s;
}

/*
 * The whole sum in one thread: the plain loop the chunked version is
 * compared with. Rows are summed first and then added up, not every
 * element into one accumulator: numpy's .sum() adds pairwise, and a
 * single running sum of 4e8 terms could be 1e-8 off in the worst case,
 * more than the 1e-9 the comparison allows.
 */
static inline double sincos_total(uint64_t seed, uint64_t n)
{
	const uint64_t key = sincos_key(seed);
	double total = 0.0;
	for (uint64_t i = 0; i < n; i++)
		total += sincos_row(key, n, i, 0, n);
	return total;
}

#endif
