/*
 * clock.c: the two clocks. Wall-clock time goes into records (when a task
 * started and ended, for people and plots); every local timeout and
 * back-off uses the monotonic clock. No lease or ordering decision ever
 * compares a local wall clock with a time from another node.
 */
#include <time.h>

#include "internal.h"

static int64_t read_clock(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t q__now_ns(void)
{
	return read_clock(CLOCK_REALTIME);
}

int64_t q__mono_ns(void)
{
	return read_clock(CLOCK_MONOTONIC);
}
