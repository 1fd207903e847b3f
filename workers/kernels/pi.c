/*
 * pi.c: Monte-Carlo estimate of pi.
 *
 * Arguments: samples=N (default 1e6), seed=S (default: the array index).
 * Result: one line "ESTIMATE HITS SAMPLES". Reduce many with the sum
 * kernel and compute 4 * HITS / SAMPLES: averaging estimates of unequal
 * sample counts would be wrong, adding hits and samples is exact.
 *
 * Each sample j draws two 32-bit coordinates from one counter-based
 * random number (splitmix.h); the samples are split statically over the
 * OpenMP team, so the result is the same for any thread count.
 */
#include <omp.h>
#include <stdint.h>

#include <spoolq/kernel.h>

#include "kernels.h"
#include "splitmix.h"

uint64_t q_pi_hits(uint64_t key, uint64_t samples, unsigned threads)
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

static int run(struct q_ctx *ctx)
{
	long samples, seed;

	if (q_ctx_arg_long(ctx, "samples", 1000000, &samples) < 0 ||
	    q_ctx_arg_long(ctx, "seed", (long)q_ctx_index(ctx), &seed) < 0)
		return 2;
	if (samples <= 0) {
		q_ctx_log(ctx, "pi: samples must be positive, got %ld\n",
			  samples);
		return 2;
	}
	uint64_t hits = q_pi_hits(q_stream_key((uint64_t)seed),
				  (uint64_t)samples, q_ctx_threads(ctx));
	if (q_ctx_cancelled(ctx))
		return 1;
	q_ctx_printf(ctx, "%.12f %llu %ld\n", 4.0 * (double)hits / (double)samples,
		     (unsigned long long)hits, samples);
	return 0;
}

const struct q_kernel q_kernel_pi = {
	Q_KERNEL_ABI, "pi",
	"Monte-Carlo estimate of pi; prints ESTIMATE HITS SAMPLES",
	"samples=N (default 1000000) seed=S (default: the array index)",
	run,
};
