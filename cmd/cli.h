/*
 * cli.h: what every spoolq command does the same way: option parsing
 * with helpful errors, --help and --version, number and time parsing, and
 * the exit statuses (0 success, 1 tasks failed, 2 usage or bad input,
 * 3 spool or system error, 4 not finished within a time limit).
 */
#ifndef SPOOLQ_CLI_H
#define SPOOLQ_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define Q_EXIT_OK 0
#define Q_EXIT_TASKS_FAILED 1
#define Q_EXIT_USAGE 2
#define Q_EXIT_SYSTEM 3
#define Q_EXIT_NOT_FINISHED 4   /* qstatus --wait=SECONDS ran out */

struct q_cli {
	const char *prog;
	const char *usage;
	const struct option *options;
	bool permute;      /* options may follow operands (qstatus 12 --json) */
};

#define Q_CLI_INIT(prog, usage, options) { (prog), (usage), (options), false }

/*
 * getopt_long, by default in "stop at the first non-option" mode (so
 * qsubmit's command keeps its own options), with the library's
 * own messages off. Returns the option's val, -1 at the end, or a code
 * q_cli_default understands ('?' unknown, ':' missing value).
 */
int q_cli_next(struct q_cli *cli, int argc, char **argv);

/* Handle 'h' (help on stdout, exit status 0), 'V' (version), '?' and ':'
 * (a message with a suggestion, status 2). Returns the exit status. */
int q_cli_default(struct q_cli *cli, int c);

/* Print "prog: message" and "Try 'prog --help'"; returns 2. */
int q_cli_usage_error(struct q_cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A whole number in [min, max]; -1 (message printed) otherwise. */
int q_cli_u64(struct q_cli *cli, const char *opt, const char *text,
	      uint64_t min, uint64_t max, uint64_t *out);
/* A size in bytes: a whole number, or with a suffix K, M, G, T (KiB,
 * MiB, GiB, TiB; "KiB", "MiB", ... also), in [min, max]. */
int q_cli_bytes(struct q_cli *cli, const char *opt, const char *text,
		uint64_t min, uint64_t max, uint64_t *out);
/* A duration: a number of seconds, or with a suffix s, m, h, d. */
int q_cli_seconds(struct q_cli *cli, const char *opt, const char *text,
		  double *out);

struct q_jobh;
struct q_record;
struct q_error;

/*
 * --output DIR (qcollect, qrun): write item i of `rec` to DIR/NAME.out
 * (arrays and --tasks lines: DIR/NAME.INDEX.out), and its stderr to the
 * same name with .err when it wrote any. 0 or -errno with err set.
 */
int q_cli_write_output(struct q_jobh *h, const struct q_record *rec,
		       size_t i, const char *dir, struct q_error *err);

/*
 * One line of spoolq.collect/1 (docs/json.md) for item i of `rec` on
 * `out`: its result (a command's stdout, a kernel's result), or with
 * want_err its stderr; a result stored as a file is given by its path,
 * checked to be still spoolq's file. 0, or -errno with err set.
 */
int q_cli_collect_json(struct q_jobh *h, const struct q_record *rec, size_t i,
		       bool want_err, FILE *out, struct q_error *err);

/* Unix ns as local "YYYY-MM-DD HH:MM:SS", or "-" for 0. */
void q_cli_local_time(int64_t ns, char *out, size_t size);

/* The closest of `candidates` (NULL-terminated) to `word`, or NULL. */
const char *q_cli_suggest(const char *word, const char *const *candidates);

#endif
