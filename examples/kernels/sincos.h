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
#include <string.h>

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

/*
 * v < 2^53 as a double, exactly: (double)v, computed from two 32-bit
 * halves placed in the mantissa of 2^52 (every step is exact). A 64-bit
 * integer conversion has no vector instruction before AVX-512, so
 * (double)v kept the row's loop from vectorising; this does not.
 */
static inline double sincos_u53(uint64_t v)
{
	const uint64_t exp52 = 0x4330000000000000ULL;   /* the bits of 2^52 */
	uint64_t hb = (v >> 32) | exp52, lb = (v & 0xffffffffULL) | exp52;
	double h, l;
	memcpy(&h, &hb, sizeof(h));
	memcpy(&l, &lb, sizeof(l));
	return (h - 0x1p52) * 0x1p32 + (l - 0x1p52);
}

/* x[i][j], uniform in [0, 1): the top 53 bits of element i * n + j. */
static inline double sincos_x(uint64_t key, uint64_t n, uint64_t i,
			      uint64_t j)
{
	uint64_t r = sincos_mix(key + (i * n + j + 1) * SINCOS_GOLDEN);
	return sincos_u53(r >> 11) * 0x1p-53;
}

/*
 * Vector sin and cos. glibc's libmvec (which -lm links when used) has
 * them, but <math.h> declares them only under -ffast-math, which we do
 * not use (it would let the compiler reorder the sums). Declared here,
 * GCC calls them from the vectorised loop of sincos_row: 2 lanes with
 * SSE2, 4 with AVX2, in a clone of sincos_row picked at load time on CPUs
 * that have AVX2 (target_clones; the default clone runs everywhere else).
 * libmvec's results are within 4 ulp of libm's (on this VM the 2000 x
 * 2000 block sums come out the same to the last bit); the tests and the
 * benchmark compare totals to 1e-9 relative. Other compilers and C
 * libraries get the scalar loop.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
	defined(__GLIBC__)
__attribute__((simd("notinbranch"))) double sin(double);
__attribute__((simd("notinbranch"))) double cos(double);
#define SINCOS_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SINCOS_CLONES
#endif

/*
 * Row i's part of the sum over columns [c0, c1): sin(x[i][j]) +
 * cos(x.T[i][j]), and x.T[i][j] is x[j][i]. The terms are computed a
 * strip at a time into t[] (the loop that vectorises) and added in column
 * order, as the single loop `s += sin(..) + cos(..)` did: the sum's
 * order, and so its rounding, does not depend on the vector width.
 */
SINCOS_CLONES
static inline double sincos_row(uint64_t key, uint64_t n, uint64_t i,
				uint64_t c0, uint64_t c1)
{
	enum { STRIP = 256 };
	double t[STRIP], s = 0.0;

	for (uint64_t j0 = c0; j0 < c1; j0 += STRIP) {
		uint64_t m = c1 - j0 < STRIP ? c1 - j0 : STRIP;
		for (uint64_t k = 0; k < m; k++)
			t[k] = sin(sincos_x(key, n, i, j0 + k)) +
			       cos(sincos_x(key, n, j0 + k, i));
		for (uint64_t k = 0; k < m; k++)
			s += t[k];
	}
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
