/*
 * test_heartbeat.c: the heartbeat thread (workers/heartbeat.c).
 *
 * It beats every lease/4 while the worker loop turns, whatever the loop
 * is doing in between, and stops once the loop has not turned for a
 * lease, so a wedged worker is presumed dead like a killed one.
 */
#include <sys/stat.h>
#include <time.h>

#include "helpers.h"
#include <criterion/redirect.h>
#include "../../workers/heartbeat.h"

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int64_t mtime_ms(struct tspool *t, const char *id)
{
	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/workers/%s", t->path, id);
	cr_assert_eq(stat(path, &st), 0, "%s", path);
	return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

Test(heartbeat, beats_while_the_loop_turns_and_stops_when_it_does_not,
     .timeout = 30)
{
	struct tspool t;
	tspool_init(&t);
	tworker(&t, "w.1.000001", "h", 1, 0);
	struct q_heartbeat *hb;
	cr_assert_eq(q_heartbeat_start(&hb, t.sp, "w.1.000001", 1, 1, "test"), 0);

	/* The loop turns every 100 ms for 2 s: the beat never gets older
	 * than the lease (1 s); lease/4 plus slack on a loaded machine. */
	int64_t end = mono_ms() + 2000, oldest = 0;
	while (mono_ms() < end) {
		q_heartbeat_loop_turned(hb);
		int64_t age = now_ms() - mtime_ms(&t, "w.1.000001");
		if (age > oldest)
			oldest = age;
		pause_ms(100);
	}
	cr_expect_lt(oldest, 900, "a beat %lld ms old", (long long)oldest);

	/* The loop stops turning: within a lease and a period the beats
	 * stop, and stay stopped. */
	int64_t last = 0, stable_since = mono_ms();
	end = mono_ms() + 10000;
	while (mono_ms() < end && mono_ms() - stable_since < 1500) {
		int64_t m = mtime_ms(&t, "w.1.000001");
		if (m != last) {
			last = m;
			stable_since = mono_ms();
		}
		pause_ms(50);
	}
	cr_assert_geq(mono_ms() - stable_since, 1500,
		      "the heartbeat went on without the loop");
	/* Turning again brings the beats back. */
	q_heartbeat_loop_turned(hb);
	end = mono_ms() + 5000;
	while (mono_ms() < end && mtime_ms(&t, "w.1.000001") == last) {
		q_heartbeat_loop_turned(hb);
		pause_ms(20);
	}
	cr_assert_neq(mtime_ms(&t, "w.1.000001"), last, "no beat after the "
		      "loop turned again");
	q_heartbeat_stop(hb);
	tspool_fini(&t);
}

Test(heartbeat, stop_is_prompt)
{
	struct tspool t;
	tspool_init(&t);
	tworker(&t, "w.1.000002", "h", 60, 0);
	struct q_heartbeat *hb;
	/* A 60 s lease beats every 15 s: stop must not wait for the next. */
	cr_assert_eq(q_heartbeat_start(&hb, t.sp, "w.1.000002", 60, 60, "test"), 0);
	int64_t t0 = mono_ms();
	q_heartbeat_stop(hb);
	cr_assert_lt(mono_ms() - t0, 2000);
	q_heartbeat_stop(NULL);
	tspool_fini(&t);
}

/* Beats that keep failing (the file is gone) say so once, not every
 * quarter lease. */
Test(heartbeat, a_failing_beat_warns_once, .init = cr_redirect_stderr)
{
	struct tspool t;
	tspool_init(&t);
	tworker(&t, "w.1.000003", "h", 1, 0);
	char path[512];
	snprintf(path, sizeof(path), "%s/workers/w.1.000003", t.path);
	cr_assert_eq(unlink(path), 0);
	struct q_heartbeat *hb;
	cr_assert_eq(q_heartbeat_start(&hb, t.sp, "w.1.000003", 1, 5, "test"),
		     0);
	/* About five beats. */
	int64_t end = mono_ms() + 1300;
	while (mono_ms() < end) {
		q_heartbeat_loop_turned(hb);
		pause_ms(50);
	}
	q_heartbeat_stop(hb);
	fflush(stderr);
	FILE *f = cr_get_redirected_stderr();
	char line[512];
	int warnings = 0;
	while (fgets(line, sizeof(line), f))
		warnings += strstr(line, "cannot refresh the heartbeat") != NULL;
	cr_assert_eq(warnings, 1, "%d warnings", warnings);
	tspool_fini(&t);
}
