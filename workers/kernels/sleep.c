/*
 * sleep.c: sleep for a while, waking every 10 ms to honour a cancel.
 *
 * Arguments: seconds=S (default 1; fractions allowed). Result: nothing.
 */
#include <errno.h>
#include <time.h>

#include <spoolq/kernel.h>

#include "kernels.h"

static int run(struct q_ctx *ctx)
{
	double seconds;

	if (q_ctx_arg_double(ctx, "seconds", 1.0, &seconds) < 0)
		return 2;
	if (seconds < 0) {
		q_ctx_log(ctx, "sleep: seconds must not be negative\n");
		return 2;
	}
	struct timespec now, end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)seconds;
	end.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		if (q_ctx_cancelled(ctx))
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			return 0;
		struct timespec slice = now;
		slice.tv_nsec += 10000000L;
		if (slice.tv_nsec >= 1000000000L) {
			slice.tv_sec++;
			slice.tv_nsec -= 1000000000L;
		}
		if (slice.tv_sec > end.tv_sec ||
		    (slice.tv_sec == end.tv_sec && slice.tv_nsec > end.tv_nsec))
			slice = end;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &slice,
				       NULL) == EINTR)
			;
	}
}

const struct q_kernel q_kernel_sleep = {
	Q_KERNEL_ABI, "sleep",
	"sleep for a while (checks for cancellation every 10 ms)",
	"seconds=S (default 1)",
	run,
};
