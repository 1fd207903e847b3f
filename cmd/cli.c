/*
 * cli.c: shared command-line handling.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spoolq/spoolq.h>

#include "cli.h"

const char *q_cli_suggest(const char *word, const char *const *candidates)
{
	return q_suggest(word, candidates);
}

int q_cli_next(struct q_cli *cli, int argc, char **argv)
{
	opterr = 0;
	int c = getopt_long(argc, argv, cli->permute ? ":hV" : "+:hV",
			    cli->options, NULL);
	if (c == '?' || c == ':') {
		/* Remember what was wrong for q_cli_default. */
		static char bad[256];
		const char *arg = argv[optind - 1];
		if (c == '?' && optopt && !(arg[0] == '-' && arg[1] == '-'))
			snprintf(bad, sizeof(bad), "-%c", optopt);
		else
			snprintf(bad, sizeof(bad), "%s", arg);
		char *eq = strchr(bad, '=');
		if (eq)
			*eq = '\0';
		optarg = bad;
	}
	return c;
}

int q_cli_usage_error(struct q_cli *cli, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", cli->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n",
		cli->prog);
	return Q_EXIT_USAGE;
}

int q_cli_default(struct q_cli *cli, int c)
{
	switch (c) {
	case 'h':
		fputs(cli->usage, stdout);
		return fflush(stdout) == 0 ? Q_EXIT_OK : Q_EXIT_SYSTEM;
	case 'V':
		printf("%s (spoolq) %s\n", cli->prog, Q_VERSION);
		return Q_EXIT_OK;
	case ':':
		return q_cli_usage_error(cli, "option '%s' needs a value",
					 optarg);
	case '?': {
		const char *names[64];
		char buf[64][40];
		size_t n = 0;
		for (size_t i = 0; cli->options[i].name && n < 63; i++) {
			snprintf(buf[n], sizeof(buf[n]), "--%s",
				 cli->options[i].name);
			names[n] = buf[n];
			n++;
		}
		names[n] = NULL;
		const char *s = q_cli_suggest(optarg, names);
		if (s)
			return q_cli_usage_error(cli, "unknown option '%s' "
						 "(did you mean '%s'?)", optarg,
						 s);
		return q_cli_usage_error(cli, "unknown option '%s'", optarg);
	}
	default:
		return q_cli_usage_error(cli, "unexpected option");
	}
}

int q_cli_u64(struct q_cli *cli, const char *opt, const char *text,
	      uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	/* strtoull would accept a sign and any leading white space
	 * ("\t5", "-1" as a huge number): insist on a digit first. */
	if (!isdigit((unsigned char)text[0]))
		goto bad;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	q_cli_usage_error(cli, "%s needs a whole number from %llu to %llu, "
			  "got '%s'", opt, (unsigned long long)min,
			  (unsigned long long)max, text);
	return -1;
}

int q_cli_bytes(struct q_cli *cli, const char *opt, const char *text,
		uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;
	if (!isdigit((unsigned char)text[0]) || !q_parse_size(text, &v) ||
	    v < min || v > max) {
		q_cli_usage_error(cli, "%s needs a size in bytes from %llu to "
				  "%llu, optionally with K, M, G or T (KiB, "
				  "MiB, ...), got '%s'", opt,
				  (unsigned long long)min,
				  (unsigned long long)max, text);
		return -1;
	}
	*out = v;
	return 0;
}

int q_cli_seconds(struct q_cli *cli, const char *opt, const char *text,
		  double *out)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	double mult = 1;
	if (end != text && *end && !end[1]) {
		switch (*end) {
		case 's': mult = 1; end++; break;
		case 'm': mult = 60; end++; break;
		case 'h': mult = 3600; end++; break;
		case 'd': mult = 86400; end++; break;
		}
	}
	/* "1e305d" is finite until the unit is applied: check the product. */
	/* Beyond a year is a typo, and would overflow the nanosecond
	 * clocks the worker converts durations to. */
	if (end == text || *end || errno || !isfinite(v * mult) || v < 0 ||
	    v * mult > 366.0 * 86400) {
		q_cli_usage_error(cli, "%s needs a duration up to a year, "
				  "such as 30, 30s, 5m or 2h, got '%s'", opt,
				  text);
		return -1;
	}
	*out = v * mult;
	return 0;
}

static int write_stream(struct q_jobh *h, const struct q_record *rec, size_t i,
			bool want_err, const char *path, struct q_error *err)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot create '%s'", path);
	int ret = q_record_output(h, rec, i, want_err, f, err);
	if (fclose(f) != 0 && ret == 0)
		ret = q_error_set(err, Q_ERR_SYSTEM, errno, "cannot write '%s'",
				  path);
	return ret;
}

int q_cli_write_output(struct q_jobh *h, const struct q_record *rec,
		       size_t i, const char *dir, struct q_error *err)
{
	const struct q_job *job = q_jobh_job(h);
	uint64_t item = rec->items[i].item;
	const struct q_group *g = q_job_group_of(job, item);
	char stem[4096];
	if (g->array || g->kind == Q_TASK_LINES)
		snprintf(stem, sizeof(stem), "%s/%s.%lld", dir, g->name,
			 (long long)q_job_index_of(job, item));
	else
		snprintf(stem, sizeof(stem), "%s/%s", dir, g->name);
	char path[4200];
	snprintf(path, sizeof(path), "%s.out", stem);
	int ret = write_stream(h, rec, i, false, path, err);
	const struct q_stream *e = &rec->items[i].err;
	if (ret == 0 && e->where != Q_STREAM_NONE && e->length) {
		snprintf(path, sizeof(path), "%s.err", stem);
		ret = write_stream(h, rec, i, true, path, err);
	}
	return ret;
}

void q_cli_local_time(int64_t ns, char *out, size_t size)
{
	if (ns == 0) {
		snprintf(out, size, "-");
		return;
	}
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm);
}
