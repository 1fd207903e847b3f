/*
 * blob.c: big deterministic results, and a kernel that reads them back,
 * to measure how fast big results move from the task that makes them to
 * the tasks that use them (issue 6, the MPI fast path).
 *
 * blob: bytes=N (1 to 4 GiB; or mib=N for N * 1048576 bytes) seed=S
 * (default 1). Its result is exactly N bytes: 8-byte word j is
 * q_counter_random(q_stream_key(S), j) stored little-endian, the last
 * word cut to what is left. Words are a pure function of (seed, j)
 * (splitmix.h), so the bytes are the same for any thread count. They are
 * made BLOB_BUF bytes at a time, so memory stays bounded for any N.
 *
 * blob_check: expect_bytes=N (optional). Reads every input in order;
 * once the last one is in memory it reads the wall clock, then hashes
 * them and writes one line:
 *
 *   inputs <n> bytes <total> sum <16 hex digits> ready_ns <ns>
 *
 * ready_ns is CLOCK_REALTIME in nanoseconds when the inputs were all
 * available (before hashing), so the time from a producer's start to it
 * is the time the data took to arrive. It differs from run to run: to
 * compare two runs' results, compare the line without its ready_ns
 * field. With expect_bytes given and a different total, or an input that
 * cannot be read, it logs why, writes no result and returns 1.
 *
 * The sum (q_blob_hash) only has to make two runs comparable, quickly:
 * each input is cut into little-endian 8-byte words (its tail
 * zero-padded into one more word), fed round-robin into four lanes with
 * xxHash64's round (acc = rotl(acc + w * P2, 31) * P1; four independent
 * lanes keep the multiplier busy), and the lanes and the input's length
 * are folded with SplitMix64's finaliser into the running sum, which
 * starts at 0 and goes through the inputs in order. So it depends on
 * every byte, on the input boundaries and on their order. It is not
 * xxHash64 itself and not a cryptographic hash.
 */
#include <endian.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spoolq/kernel.h>

#include "kernels.h"
#include "splitmix.h"

/* Bytes generated per q_ctx_write: big enough for the OpenMP team to be
 * worth starting, small enough to stay in cache-ish memory. A multiple
 * of 8, so every buffer after the first starts on a whole word. */
#define BLOB_BUF ((size_t)4 << 20)
#define BLOB_MAX ((uint64_t)4 << 30)
#define MIB 1048576

/* xxHash64's primes and round. */
#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL

void q_blob_fill(uint64_t *words, uint64_t first, size_t nwords,
		 uint64_t key, unsigned threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
	for (size_t k = 0; k < nwords; k++)
		words[k] = htole64(q_counter_random(key, first + k));
}

static inline uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t round64(uint64_t acc, uint64_t w)
{
	return rotl64(acc + w * P2, 31) * P1;
}

static inline uint64_t load64(const unsigned char *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof(w));
	return le64toh(w);
}

uint64_t q_blob_hash(uint64_t sum, const void *data, size_t len)
{
	const unsigned char *p = data;
	/* Distinct lane seeds, so swapping two words changes the sum. */
	uint64_t lane[4] = { P1, P2, P1 ^ P2, P1 + P2 };
	size_t nwords = len / 8, k = 0;

	for (; k + 4 <= nwords; k += 4, p += 32) {
		lane[0] = round64(lane[0], load64(p));
		lane[1] = round64(lane[1], load64(p + 8));
		lane[2] = round64(lane[2], load64(p + 16));
		lane[3] = round64(lane[3], load64(p + 24));
	}
	for (; k < nwords; k++, p += 8)
		lane[k % 4] = round64(lane[k % 4], load64(p));
	if (len % 8) {
		unsigned char tail[8] = { 0 };
		memcpy(tail, p, len % 8);
		lane[k % 4] = round64(lane[k % 4], load64(tail));
	}
	uint64_t h = sum;
	for (int i = 0; i < 4; i++)
		h = q_splitmix64(h ^ lane[i]);
	return q_splitmix64(h ^ (uint64_t)len);
}

/* The size from bytes=N or mib=N; -1 (and a log line) when wrong. */
static int blob_size(struct q_ctx *ctx, uint64_t *size_out)
{
	const bool bytes = q_ctx_arg(ctx, "bytes") != NULL;
	const bool mib = q_ctx_arg(ctx, "mib") != NULL;
	const char *key = mib ? "mib" : "bytes";
	const uint64_t unit = mib ? MIB : 1;
	long n;

	if (bytes && mib) {
		q_ctx_log(ctx, "blob: give bytes=N or mib=N, not both\n");
		return -1;
	}
	if (!bytes && !mib) {
		q_ctx_log(ctx, "blob: give the size as bytes=N or mib=N\n");
		return -1;
	}
	if (q_ctx_arg_long(ctx, key, 0, &n) < 0)
		return -1;
	if (n <= 0 || (uint64_t)n > BLOB_MAX / unit) {
		q_ctx_log(ctx, "blob: %s must be between 1 and %" PRIu64
			  " (4 GiB), got %ld\n", key, BLOB_MAX / unit, n);
		return -1;
	}
	*size_out = (uint64_t)n * unit;
	return 0;
}

static int blob_run(struct q_ctx *ctx)
{
	uint64_t size, done = 0;
	long seed;
	int ret = 0;

	if (blob_size(ctx, &size) < 0 ||
	    q_ctx_arg_long(ctx, "seed", 1, &seed) < 0)
		return 2;
	size_t cap = size < BLOB_BUF ? (size_t)(size + 7) / 8 * 8 : BLOB_BUF;
	uint64_t *buf = malloc(cap);
	if (!buf) {
		q_ctx_log(ctx, "blob: cannot allocate %zu bytes\n", cap);
		return 1;
	}
	const uint64_t key = q_stream_key((uint64_t)seed);
	while (done < size) {
		if (q_ctx_cancelled(ctx)) {
			ret = 1;
			break;
		}
		size_t n = size - done < cap ? (size_t)(size - done) : cap;
		q_blob_fill(buf, done / 8, (n + 7) / 8, key,
			    q_ctx_threads(ctx));
		if (q_ctx_write(ctx, buf, n) < 0) {
			/* The worker learns the cause from q_ctx_finish. */
			q_ctx_log(ctx, "blob: cannot write the result after "
				  "%" PRIu64 " bytes\n", done);
			ret = 1;
			break;
		}
		done += n;
	}
	free(buf);
	return ret;
}

static int64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int check_run(struct q_ctx *ctx)
{
	const size_t n = q_ctx_input_count(ctx);
	const char *data;
	size_t len;
	uint64_t total = 0, sum = 0;
	long expect = -1;

	if (q_ctx_arg(ctx, "expect_bytes") &&
	    q_ctx_arg_long(ctx, "expect_bytes", -1, &expect) < 0)
		return 2;
	if (q_ctx_arg(ctx, "expect_bytes") && expect < 0) {
		q_ctx_log(ctx, "blob_check: expect_bytes must not be "
			  "negative, got %ld\n", expect);
		return 2;
	}
	/* First get every input, then read the clock: ready_ns is when the
	 * data had all arrived, whatever hashing it costs afterwards. */
	for (size_t i = 0; i < n; i++) {
		if (q_ctx_input(ctx, i, &data, &len) < 0) {
			q_ctx_log(ctx, "blob_check: input %zu of %zu cannot "
				  "be read\n", i, n);
			return 1;
		}
	}
	const int64_t ready = realtime_ns();
	/* The inputs stay in memory until we return: these calls only
	 * look them up again. */
	for (size_t i = 0; i < n; i++) {
		if (q_ctx_cancelled(ctx))
			return 1;
		if (q_ctx_input(ctx, i, &data, &len) < 0)
			return 1;
		sum = q_blob_hash(sum, data, len);
		total += len;
	}
	if (expect >= 0 && total != (uint64_t)expect) {
		q_ctx_log(ctx, "blob_check: expected %ld bytes, got %" PRIu64
			  " in %zu inputs\n", expect, total, n);
		return 1;
	}
	q_ctx_printf(ctx, "inputs %zu bytes %" PRIu64 " sum %016" PRIx64
		     " ready_ns %" PRId64 "\n", n, total, sum, ready);
	return 0;
}

const struct q_kernel q_kernel_blob = {
	Q_KERNEL_ABI, "blob",
	"write N deterministic pseudo-random bytes (big results, for benchmarks)",
	"bytes=N (1 to 4 GiB) or mib=N, seed=S (default 1)",
	blob_run,
};

const struct q_kernel q_kernel_blob_check = {
	Q_KERNEL_ABI, "blob_check",
	"read all inputs; print inputs, bytes, a hash and when they were ready",
	"expect_bytes=N (optional: fail unless the inputs total N bytes)",
	check_run,
};
