/*
 * test_cli.c: the shared command-line handling of cmd/cli.c.
 *
 * Messages go to stderr; each check captures fd 2 in a memfd (no file
 * system, so nothing to clean up) and compares the exact text, so one
 * test can look at several messages in turn.
 */
#include <criterion/criterion.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <spoolq/spoolq.h>

#include "cli.h"

/* ---- capturing stdout or stderr ---- */

struct capture {
	int target;   /* the fd being captured: 1 or 2 */
	int saved;    /* a copy of the original */
	int fd;       /* the memfd that stands in for it */
};

static void capture_begin(struct capture *c, int target)
{
	fflush(stdout);
	fflush(stderr);
	c->target = target;
	c->fd = memfd_create("capture", MFD_CLOEXEC);
	cr_assert_geq(c->fd, 0);
	c->saved = dup(target);
	cr_assert_geq(c->saved, 0);
	cr_assert_eq(dup2(c->fd, target), target);
}

/* Restore the fd and return what was written to it (malloc'ed). */
static char *capture_end(struct capture *c)
{
	fflush(stdout);
	fflush(stderr);
	cr_assert_eq(dup2(c->saved, c->target), c->target);
	close(c->saved);
	off_t len = lseek(c->fd, 0, SEEK_END);
	cr_assert_geq(len, 0);
	char *text = calloc((size_t)len + 1, 1);
	cr_assert_not_null(text);
	cr_assert_eq(pread(c->fd, text, (size_t)len, 0), len);
	close(c->fd);
	return text;
}

static const char try_help[] = "Try 'qtest --help' for more information.\n";

/* The full two-line usage error q_cli_usage_error prints for `msg`. */
static void assert_usage_error(const char *got, const char *msg)
{
	char want[512];
	snprintf(want, sizeof(want), "qtest: %s\n%s", msg, try_help);
	cr_assert_str_eq(got, want);
}

static const struct option options[] = {
	{ "after", required_argument, NULL, 'a' },
	{ "threads", required_argument, NULL, 't' },
	{ "exit-when-idle", optional_argument, NULL, 'e' },
	{ "cpus", required_argument, NULL, 'c' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static struct q_cli cli = Q_CLI_INIT("qtest", "usage: qtest [OPTION]...\n",
				     options);

/* ---- q_cli_suggest ---- */

static const char *const names[] = {
	"--after", "--threads", "--exit-when-idle", "--cpus", "--help",
	"--version", NULL,
};

static void assert_suggests(const char *word, const char *want)
{
	const char *got = q_cli_suggest(word, names);
	if (!want)
		cr_assert_null(got, "'%s' suggested '%s'", word, got);
	else
		cr_assert(got && strcmp(got, want) == 0,
			  "'%s': want '%s', got '%s'", word, want,
			  got ? got : "(null)");
}

Test(cli_suggest, close_typos)
{
	assert_suggests("--afer", "--after");      /* a letter missing */
	assert_suggests("--atfer", "--after");     /* two swapped */
	assert_suggests("--aftr", "--after");
	assert_suggests("--thread", "--threads");
	assert_suggests("--threds", "--threads");
	assert_suggests("--cpu", "--cpus");
	assert_suggests("--verison", "--version");
	assert_suggests("--hepl", "--help");
}

Test(cli_suggest, exact_match_is_itself)
{
	assert_suggests("--after", "--after");
	assert_suggests("--cpus", "--cpus");
}

Test(cli_suggest, prefix_counts_as_close)
{
	/* Far by edit distance, but the start of a longer option. */
	assert_suggests("--exit", "--exit-when-idle");
	assert_suggests("--exit-when", "--exit-when-idle");
	assert_suggests("--vers", "--version");
}

Test(cli_suggest, nothing_for_unrelated_words)
{
	assert_suggests("--zzzz", NULL);
	assert_suggests("--banana", NULL);
	assert_suggests("--output-directory", NULL);
	assert_suggests("x", NULL);
	/* "--" is a prefix of every option but too short to count. */
	assert_suggests("--", NULL);
}

Test(cli_suggest, empty_candidate_list)
{
	const char *const none[] = { NULL };
	cr_assert_null(q_cli_suggest("--after", none));
}

Test(cli_suggest, long_words_do_not_overflow)
{
	char word[200];
	memset(word, 'a', sizeof(word) - 1);
	word[sizeof(word) - 1] = '\0';
	cr_assert_null(q_cli_suggest(word, names));
}

/* ---- q_cli_u64 ---- */

/* u64_ok: `text` is accepted silently; returns the value. u64_bad: it is
 * refused with the exact message and *out is left alone. */
static uint64_t u64_ok(const char *text, uint64_t min, uint64_t max)
{
	struct capture cap;
	uint64_t v = 12345;
	capture_begin(&cap, 2);
	int ret = q_cli_u64(&cli, "--threads", text, min, max, &v);
	char *msg = capture_end(&cap);
	cr_assert_eq(ret, 0, "'%s' refused: %s", text, msg);
	cr_assert_str_empty(msg);
	free(msg);
	return v;
}

static void u64_bad(const char *text, uint64_t min, uint64_t max)
{
	struct capture cap;
	uint64_t v = 12345;
	char want[256];
	capture_begin(&cap, 2);
	int ret = q_cli_u64(&cli, "--threads", text, min, max, &v);
	char *msg = capture_end(&cap);
	cr_assert_eq(ret, -1, "'%s' accepted as %llu", text,
		     (unsigned long long)v);
	cr_assert_eq(v, 12345, "'%s' changed *out on failure", text);
	snprintf(want, sizeof(want), "--threads needs a whole number from "
		 "%llu to %llu, got '%s'", (unsigned long long)min,
		 (unsigned long long)max, text);
	assert_usage_error(msg, want);
	free(msg);
}

Test(cli_u64, accepts_numbers_in_range)
{
	cr_assert_eq(u64_ok("1", 1, 4096), 1);
	cr_assert_eq(u64_ok("4096", 1, 4096), 4096);
	cr_assert_eq(u64_ok("17", 1, 4096), 17);
	cr_assert_eq(u64_ok("0", 0, 10), 0);
	cr_assert_eq(u64_ok("007", 0, 10), 7);
	cr_assert_eq(u64_ok("18446744073709551615", 0, UINT64_MAX),
		     UINT64_MAX);
}

Test(cli_u64, rejects_out_of_bounds)
{
	u64_bad("0", 1, 4096);
	u64_bad("4097", 1, 4096);
	u64_bad("5", 6, 6);
}

Test(cli_u64, rejects_signs_and_junk)
{
	u64_bad("-1", 0, UINT64_MAX);
	u64_bad("+3", 0, UINT64_MAX);
	u64_bad("", 0, UINT64_MAX);
	u64_bad("12x", 0, UINT64_MAX);
	u64_bad("x12", 0, UINT64_MAX);
	u64_bad("1.5", 0, UINT64_MAX);
	u64_bad("0x10", 0, UINT64_MAX);
	u64_bad(" 5", 0, UINT64_MAX);
	u64_bad("5 ", 0, UINT64_MAX);
	/* strtoull skips any leading white space, not only blanks. */
	u64_bad("\t5", 0, UINT64_MAX);
	u64_bad("\n5", 0, UINT64_MAX);
}

Test(cli_u64, rejects_overflow)
{
	u64_bad("18446744073709551616", 0, UINT64_MAX);
	u64_bad("99999999999999999999999", 0, UINT64_MAX);
}

/* ---- q_cli_seconds ---- */

static double seconds_ok(const char *text)
{
	struct capture cap;
	double v = -42;
	capture_begin(&cap, 2);
	int ret = q_cli_seconds(&cli, "--grace", text, &v);
	char *msg = capture_end(&cap);
	cr_assert_eq(ret, 0, "'%s' refused: %s", text, msg);
	cr_assert_str_empty(msg);
	free(msg);
	return v;
}

static void seconds_bad(const char *text)
{
	struct capture cap;
	double v = -42;
	char want[256];
	capture_begin(&cap, 2);
	int ret = q_cli_seconds(&cli, "--grace", text, &v);
	char *msg = capture_end(&cap);
	cr_assert_eq(ret, -1, "'%s' accepted as %g", text, v);
	cr_assert_eq(v, -42, "'%s' changed *out on failure", text);
	snprintf(want, sizeof(want), "--grace needs a duration up to a year, "
		 "such as 30, 30s, 5m or 2h, got '%s'", text);
	assert_usage_error(msg, want);
	free(msg);
}

Test(cli_seconds, plain_numbers)
{
	cr_assert_eq(seconds_ok("30"), 30.0);
	cr_assert_eq(seconds_ok("0"), 0.0);
	cr_assert_eq(seconds_ok("0.25"), 0.25);
	cr_assert_eq(seconds_ok("1e3"), 1000.0);
}

Test(cli_seconds, suffixes)
{
	cr_assert_eq(seconds_ok("30s"), 30.0);
	cr_assert_eq(seconds_ok("5m"), 300.0);
	cr_assert_eq(seconds_ok("2h"), 7200.0);
	cr_assert_eq(seconds_ok("1d"), 86400.0);
	cr_assert_eq(seconds_ok("1.5m"), 90.0);
	cr_assert_eq(seconds_ok("0.5h"), 1800.0);
	cr_assert_eq(seconds_ok("0s"), 0.0);
}

Test(cli_seconds, rejects_negatives)
{
	seconds_bad("-1");
	seconds_bad("-1s");
	seconds_bad("-0.5m");
}

Test(cli_seconds, rejects_junk)
{
	seconds_bad("");
	seconds_bad("abc");
	seconds_bad("s");
	seconds_bad("m");
	seconds_bad("5x");
	seconds_bad("5ms");
	seconds_bad("5 m");
	seconds_bad("5mm");
	seconds_bad("inf");
	seconds_bad("nan");
	seconds_bad("1e400");
}

Test(cli_seconds, rejects_a_suffix_that_overflows)
{
	/* Finite before the unit is applied, infinite after. */
	seconds_bad("1e305d");
	/* Finite but absurd: more than a year. */
	seconds_bad("400d");
	seconds_bad("1e300");
}

/* ---- q_cli_next and q_cli_default ---- */

/* argv for getopt: writable strings, NULL-terminated. */
struct args {
	int argc;
	char *argv[8];
	char buf[8][64];
};

static void args_set(struct args *a, const char *const *words)
{
	a->argc = 0;
	for (; words[a->argc]; a->argc++) {
		snprintf(a->buf[a->argc], sizeof(a->buf[a->argc]), "%s",
			 words[a->argc]);
		a->argv[a->argc] = a->buf[a->argc];
	}
	a->argv[a->argc] = NULL;
	optind = 0;   /* getopt starts over (glibc: full reinitialisation) */
}

/* Run q_cli_next once, then q_cli_default on what it returned; check the
 * status and the exact message. */
static void assert_default(const char *const *words, int want_c,
			   const char *want_msg)
{
	struct args a;
	struct capture cap;
	args_set(&a, words);
	capture_begin(&cap, 2);
	int c = q_cli_next(&cli, a.argc, a.argv);
	int status = q_cli_default(&cli, c);
	char *msg = capture_end(&cap);
	cr_assert_eq(c, want_c, "%s: q_cli_next returned %d", words[1], c);
	cr_assert_eq(status, Q_EXIT_USAGE);
	assert_usage_error(msg, want_msg);
	free(msg);
}

Test(cli_next, unknown_option_with_suggestion)
{
	const char *const w[] = { "qtest", "--afer", "3", NULL };
	assert_default(w, '?',
		       "unknown option '--afer' (did you mean '--after'?)");
}

Test(cli_next, unknown_option_with_value_drops_the_value)
{
	/* Not "--thread": getopt takes an unambiguous prefix. */
	const char *const w[] = { "qtest", "--threds=4", NULL };
	assert_default(w, '?', "unknown option '--threds' "
		       "(did you mean '--threads'?)");
}

Test(cli_next, unknown_option_without_suggestion)
{
	const char *const w[] = { "qtest", "--zzzz", NULL };
	assert_default(w, '?', "unknown option '--zzzz'");
}

Test(cli_next, unknown_short_option)
{
	const char *const w[] = { "qtest", "-z", NULL };
	assert_default(w, '?', "unknown option '-z'");
}

Test(cli_next, missing_value)
{
	const char *const w[] = { "qtest", "--after", NULL };
	assert_default(w, ':', "option '--after' needs a value");
}

Test(cli_next, reusable_after_resetting_optind)
{
	/* Two unrelated parses in one process, as a test suite does. */
	const char *const w1[] = { "qtest", "--afer", NULL };
	const char *const w2[] = { "qtest", "--cpuz", NULL };
	assert_default(w1, '?',
		       "unknown option '--afer' (did you mean '--after'?)");
	assert_default(w2, '?',
		       "unknown option '--cpuz' (did you mean '--cpus'?)");
}

Test(cli_next, options_values_and_stop_at_the_command)
{
	const char *const w[] = { "qtest", "--threads", "4", "--after=7",
				  "--exit-when-idle", "echo", "--afer", NULL };
	struct args a;
	args_set(&a, w);
	cr_assert_eq(q_cli_next(&cli, a.argc, a.argv), 't');
	cr_assert_str_eq(optarg, "4");
	cr_assert_eq(q_cli_next(&cli, a.argc, a.argv), 'a');
	cr_assert_str_eq(optarg, "7");
	cr_assert_eq(q_cli_next(&cli, a.argc, a.argv), 'e');
	cr_assert_null(optarg);
	/* The command's own options are not ours. */
	cr_assert_eq(q_cli_next(&cli, a.argc, a.argv), -1);
	cr_assert_eq(optind, 5);
	cr_assert_str_eq(a.argv[optind], "echo");
}

Test(cli_next, permute_finds_options_after_operands)
{
	struct q_cli p = cli;
	p.permute = true;
	const char *const w[] = { "qtest", "12", "--cpus", "2", NULL };
	struct args a;
	args_set(&a, w);
	cr_assert_eq(q_cli_next(&p, a.argc, a.argv), 'c');
	cr_assert_str_eq(optarg, "2");
	cr_assert_eq(q_cli_next(&p, a.argc, a.argv), -1);
	cr_assert_eq(optind, 3);
	cr_assert_str_eq(a.argv[optind], "12");
}

Test(cli_default, help_goes_to_stdout)
{
	struct capture out, err;
	capture_begin(&err, 2);
	capture_begin(&out, 1);
	int status = q_cli_default(&cli, 'h');
	char *o = capture_end(&out);
	char *e = capture_end(&err);
	cr_assert_eq(status, Q_EXIT_OK);
	cr_assert_str_eq(o, "usage: qtest [OPTION]...\n");
	cr_assert_str_empty(e);
	free(o);
	free(e);
}

Test(cli_default, version)
{
	struct capture out;
	char want[128];
	capture_begin(&out, 1);
	int status = q_cli_default(&cli, 'V');
	char *o = capture_end(&out);
	cr_assert_eq(status, Q_EXIT_OK);
	snprintf(want, sizeof(want), "qtest (spoolq) %s\n", Q_VERSION);
	cr_assert_str_eq(o, want);
	free(o);
}

Test(cli_usage_error, format_and_status)
{
	struct capture cap;
	capture_begin(&cap, 2);
	int status = q_cli_usage_error(&cli, "unexpected argument '%s'", "x");
	char *msg = capture_end(&cap);
	cr_assert_eq(status, Q_EXIT_USAGE);
	assert_usage_error(msg, "unexpected argument 'x'");
	free(msg);
}
