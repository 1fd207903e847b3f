/*
 * splitmix.h: a counter-based random number generator.
 *
 * Sample j of a stream is a pure function of (stream key, j): SplitMix64's
 * output function applied to key + (j+1) * golden ratio. So a task's
 * samples do not depend on how they are split among threads, the same
 * seed always gives the same estimate, and no generator state is shared.
 */
#ifndef QWORKER_SPLITMIX_H
#define QWORKER_SPLITMIX_H

#include <stdint.h>

static inline uint64_t q_splitmix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static inline uint64_t q_stream_key(uint64_t seed)
{
	return q_splitmix64(seed + 0x9E3779B97F4A7C15ULL);
}

static inline uint64_t q_counter_random(uint64_t key, uint64_t j)
{
	return q_splitmix64(key + (j + 1) * 0x9E3779B97F4A7C15ULL);
}

#endif
