/*
 * pi_plain: the pi kernel's Monte-Carlo loop (workers/kernels/pi.c) as a
 * plain C + OpenMP program: the same counter-based generator (splitmix.h),
 * the same loop body, the same static schedule and reduction, compiled
 * with the same flags. The baseline the pi kernel is compared with: any
 * gap is the queue's overhead, not a different algorithm. Its hit count
 * equals the kernel's for the same seed and sample count, which
 * bench/wl_pi.sh checks.
 *
 * Usage: pi_plain SAMPLES THREADS [SEED]   (SEED default 0, the kernel's
 * default for array item 0)
 * Prints "hits %llu", "seconds %.6f" and "samples_per_s %.6g".
 */
#include <errno.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "splitmix.h"

static uint64_t pi_hits(uint64_t key, uint64_t samples, unsigned threads)
{
	const double scale = 1.0 / 4294967296.0;
	uint64_t hits = 0;

#pragma omp parallel for num_threads(threads) reduction(+ : hits) \
	schedule(static)
	for (uint64_t j = 0; j < samples; j++) {
		uint64_t r = q_counter_random(key, j);
		double x = (double)(r >> 32) * scale;
		double y = (double)(r & 0xffffffffu) * scale;
		hits += x * x + y * y < 1.0;
	}
	return hits;
}

/* A positive integer, in decimal or like 2e8; -1 if not. */
static int parse(const char *s, unsigned long long max,
		 unsigned long long *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || v < 0 || v > (double)max ||
	    v != (double)(unsigned long long)v)
		return -1;
	*out = (unsigned long long)v;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long samples, threads, seed = 0;
	struct timespec a, b;

	if (argc < 3 || argc > 4 || parse(argv[1], 1ULL << 53, &samples) < 0 ||
	    parse(argv[2], 4096, &threads) < 0 ||
	    (argc > 3 && parse(argv[3], 1ULL << 53, &seed) < 0) ||
	    samples == 0 || threads == 0) {
		fprintf(stderr, "usage: pi_plain SAMPLES THREADS [SEED]   "
			"(SAMPLES and SEED up to 2^53, e.g. 2e8; THREADS "
			"1 to 4096)\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	uint64_t hits = pi_hits(q_stream_key(seed), samples,
				(unsigned)threads);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (double)(b.tv_sec - a.tv_sec) +
		   (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
	printf("hits %llu\nseconds %.6f\nsamples_per_s %.6g\n",
	       (unsigned long long)hits, s, (double)samples / s);
	return fflush(stdout) == 0 ? 0 : 1;
}
