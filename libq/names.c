/*
 * names.c: validating names from users and from the spool, and making the
 * unique names the spool needs.
 *
 * Design notes
 * 1. A user's name is checked once, at the edge (qsubmit); a name read back
 *    from the spool is checked again before it is used in a path, because
 *    nothing read from the spool is trusted.
 * 2. Unique temporary names carry host, pid, a nanosecond time and a
 *    per-process counter: pids repeat across nodes, and a process may make
 *    many names in one clock tick.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "names_internal.h"
#include "proc_internal.h"

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '+' ||
	       c == '-';
}

static const char *describe_char(char c, char *tmp, size_t size)
{
	if (c == ' ')
		return "a space";
	if (c == '/')
		return "'/'";
	if ((unsigned char)c < 0x20 || c == 0x7f) {
		snprintf(tmp, size, "control character 0x%02x",
			 (unsigned char)c);
		return tmp;
	}
	snprintf(tmp, size, "'%c'", c);
	return tmp;
}

int q_name_check(const char *what, const char *name, struct q_error *err)
{
	static const char *rule =
		"use 1 to 64 letters, digits, '.', '_', '+' or '-', starting "
		"with a letter, digit or '_'";
	char tmp[40];
	size_t len = strlen(name);
	bool all_digits = true;

	if (len == 0)
		return q_error_set(err, Q_ERR_INPUT, 0, "empty %s (%s)", what,
				   rule);
	if (len > Q_NAME_MAX)
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "%s '%.64s...' is too long: %zu characters "
				   "(%s)", what, name, len, rule);
	for (size_t i = 0; i < len; i++) {
		if (!name_char(name[i]))
			return q_error_set(
				err, Q_ERR_INPUT, 0,
				"invalid %s '%s': %s is not allowed (%s)",
				what, name,
				describe_char(name[i], tmp, sizeof(tmp)), rule);
		if (!isdigit((unsigned char)name[i]))
			all_digits = false;
	}
	if (name[0] == '.' || name[0] == '-' || name[0] == '+')
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "invalid %s '%s': it must not start with "
				   "'%c' (%s)", what, name, name[0], rule);
	if (strstr(name, ".."))
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "invalid %s '%s': '..' is not allowed (%s)",
				   what, name, rule);
	if (all_digits)
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "invalid %s '%s': a name made of digits "
				   "only would read as a job id (add a letter)",
				   what, name);
	return 0;
}

bool q_job_id_parse(const char *s, uint64_t *id_out)
{
	uint64_t v = 0;

	if (!s || !*s || *s == '0')
		return false;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return false;
		/* Exact bound: 2^63-1 itself is a valid id. */
		uint64_t d = (uint64_t)(*p - '0');
		if (v > ((uint64_t)INT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*id_out = v;
	return true;
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return 99;
	size_t prev[65], cur[65];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins)
					   : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof(size_t));
	}
	return prev[lb];
}

const char *q_suggest(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	for (size_t i = 0; candidates[i]; i++) {
		size_t d = edit_distance(word, candidates[i]);
		/* A prefix of an option ("--exit") also counts as close. */
		if (strncmp(candidates[i], word, strlen(word)) == 0 &&
		    strlen(word) >= 3)
			d = d < 1 ? d : 1;
		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	size_t limit = strlen(word) / 3 + 1;
	return best && best_d <= (limit < 3 ? limit : 3) ? best : NULL;
}

bool q__safe_component(const char *name)
{
	size_t len = strnlen(name, Q_COMPONENT_MAX + 1);

	if (len == 0 || len > Q_COMPONENT_MAX)
		return false;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '/' || c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

bool q__parse_u64(const char *s, const char **end_out, uint64_t *v_out)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return false;
	/* A leading zero is only allowed for the number 0 itself. */
	if (*p == '0' && isdigit((unsigned char)p[1]))
		return false;
	for (; isdigit((unsigned char)*p); p++) {
		/* Exact bound: UINT64_MAX itself parses. */
		uint64_t d = (uint64_t)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*v_out = v;
	if (end_out)
		*end_out = p;
	else if (*p)
		return false;
	return true;
}

static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static char host_name[Q_NAME_MAX + 1];

static void init_hostname(void)
{
	char raw[256] = "";
	size_t n = 0;

	if (gethostname(raw, sizeof(raw) - 1) != 0)
		raw[0] = '\0';
	/* Keep the short name, and only characters safe in file names. */
	for (size_t i = 0; raw[i] && raw[i] != '.' && n < Q_NAME_MAX; i++)
		host_name[n++] = name_char(raw[i]) ? raw[i] : '_';
	if (n == 0)
		host_name[n++] = 'h';
	host_name[n] = '\0';
}

const char *q__hostname(void)
{
	pthread_once(&host_once, init_hostname);
	return host_name;
}

/*
 * <host>.<pid>.<ns>.<counter>.<start>-<tag>.<purpose>: the fifth token
 * names the writing process on its node (proc.c), so a repair sweep on
 * the same node can tell a dead writer's leftovers at once (repair.c);
 * it is left out when /proc cannot tell.
 */
void q__unique_name(char *out, size_t size, const char *purpose)
{
	static atomic_ulong counter;
	unsigned long n = atomic_fetch_add(&counter, 1);
	char token[64];

	q__proc_token(token, sizeof(token));
	snprintf(out, size, "%s.%ld.%lld.%lu.%s%s%s", q__hostname(),
		 (long)getpid(), (long long)q__now_ns(), n, token,
		 token[0] ? "." : "", purpose);
}
