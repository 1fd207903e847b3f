/*
 * events.c: the event logs of attempts that leave no record, and every
 * attempt of a job put together (spoolq/events.h).
 *
 * A log is jobs/<id>/events/<writer id>:
 *
 *   spoolq-events 1
 *   a <chunk> <attempt> <end> <item> <state> <exit> <slot> <claimed ns>
 *     <start ns> <end ns> <esc worker> <esc host> <esc reason>
 *   ...                   (one line per item, on one line in the file)
 *
 * <end> is retry, handback or lost; <exit> is a number or "-"; <reason>
 * is "-" when there is none.
 *
 * Design notes
 * 1. Only the writer appends to its log (the file is named after it), one
 *    write(2) per attempt under a mutex, with O_APPEND: lines of the
 *    process's threads never interleave. A crash can leave a torn last
 *    line; readers ignore a last line without its newline.
 * 2. Not fsynced, and never a reason to fail the caller: the queue's
 *    state is in the directories, and an event log only tells people what
 *    happened. A record-less attempt is rare (a failure with retries, a
 *    stop, a dead worker), so the logs cost nothing in the common case.
 * 3. A few logs stay open per process (one per job it logged for
 *    recently), so a retry storm does not open a file per event.
 * 4. Readers trust nothing: a log is read up to 256 MiB, a line that
 *    does not parse or names an item outside its chunk is reported with
 *    the log's path and line number, and the rest of that log skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobh_internal.h"
#include "sysio.h"
#include "text.h"

#define Q_EVENTS_MAGIC "spoolq-events 1"
#define Q_EVENTS_DIR "events"
#define Q_EVENTS_READ_MAX ((size_t)256 << 20)

static const char *const end_names[] = {
	[Q_END_FINAL] = "final",       [Q_END_RUNNING] = "running",
	[Q_END_RETRY] = "retry",       [Q_END_HANDBACK] = "handback",
	[Q_END_LOST] = "lost",
};

const char *q_attempt_end_name(enum q_attempt_end end)
{
	if ((size_t)end < Q_ARRAY_SIZE(end_names))
		return end_names[end];
	return "unknown";
}

static bool parse_end(const char *s, enum q_attempt_end *out)
{
	/* Only the ends a log holds. */
	for (size_t i = Q_END_RETRY; i < Q_ARRAY_SIZE(end_names); i++)
		if (strcmp(s, end_names[i]) == 0) {
			*out = (enum q_attempt_end)i;
			return true;
		}
	return false;
}

static bool parse_state(const char *s, enum q_state *out)
{
	for (int i = Q_STATE_RUNNING; i <= Q_STATE_CANCELLED; i++)
		if (strcmp(s, q_state_name((enum q_state)i)) == 0) {
			*out = (enum q_state)i;
			return true;
		}
	return false;
}

/* ---- writing ---- */

void q_spool_set_events(struct q_spool *sp, bool on)
{
	sp->events_off = !on;
}

/* The open log of this process for job `job`, opening (and creating)
 * it when needed. Called with events_lock held. fd, or -errno. */
static int log_fd(struct q_jobh *h, const char *writer, struct q_error *err)
{
	struct q_spool *sp = h->sp;
	uint64_t job = h->job->id;
	struct q_events_fd *slots = sp->events_fds;

	for (size_t i = 0; i < Q_EVENTS_OPEN; i++)
		if (slots[i].fd >= 0 && slots[i].job == job)
			return slots[i].fd;
	if (q__spool_mkdirat(sp, h->dirfd, Q_EVENTS_DIR) != 0 &&
	    errno != EEXIST)
		goto fail;
	int dirfd = q__open_dir_beneath(h->dirfd, Q_EVENTS_DIR);
	if (dirfd < 0)
		goto fail;
	/* O_NONBLOCK: a FIFO planted under our name must not block us
	 * (it is then refused below as not a regular file). */
	int fd = q__openat(dirfd, writer,
			   O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW |
				   O_NONBLOCK | O_CLOEXEC,
			   sp->file_mode);
	int saved = errno;
	close(dirfd);
	errno = saved;
	if (fd < 0)
		goto fail;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_size == 0 &&
	     q__write_all(fd, Q_EVENTS_MAGIC "\n",
			  sizeof(Q_EVENTS_MAGIC)) != 0)) {
		saved = S_ISREG(st.st_mode) ? errno : EINVAL;
		close(fd);
		errno = saved;
		goto fail;
	}
	/* Keep it; the oldest open log makes room (design note 3). */
	size_t victim = sp->events_next++ % Q_EVENTS_OPEN;
	if (slots[victim].fd >= 0)
		close(slots[victim].fd);
	slots[victim].fd = fd;
	slots[victim].job = job;
	return fd;
fail:;
	int e = errno;
	char where[512];
	q__jobh_where(h, Q_EVENTS_DIR, where, sizeof(where));
	return q_error_set(err, Q_ERR_SYSTEM, e, "cannot open the event log "
			   "'%s/%s'", where, writer);
}

static void add_line(struct q_buf *b, const struct q_claim *claim,
		     enum q_attempt_end end, uint64_t item, enum q_state state,
		     int exit_code, unsigned slot, int64_t start,
		     int64_t end_ns, const char *worker, const char *host,
		     const char *reason)
{
	q__buf_printf(b, "a %llu %u %s %llu %s ",
		      (unsigned long long)claim->chunk, claim->attempt,
		      end_names[end], (unsigned long long)item,
		      q_state_name(state));
	if (exit_code == Q_EXIT_NONE)
		q__buf_addstr(b, "-");
	else
		q__buf_printf(b, "%d", exit_code);
	q__buf_printf(b, " %u %lld %lld %lld ", slot,
		      (long long)claim->claimed_ns, (long long)start,
		      (long long)end_ns);
	q__esc_append(b, worker);
	q__buf_addch(b, ' ');
	q__esc_append(b, host);
	q__buf_addch(b, ' ');
	if (reason && reason[0])
		q__esc_append(b, reason);
	else
		q__buf_addstr(b, "-");
	q__buf_addch(b, '\n');
}

int q_events_log(struct q_jobh *h, const char *writer,
		 const struct q_claim *claim, enum q_attempt_end end,
		 const char *worker, const struct q_outcome *o, size_t n,
		 struct q_error *err)
{
	struct q_spool *sp = h->sp;
	if (sp->events_off)
		return 0;
	if (end != Q_END_RETRY && end != Q_END_HANDBACK && end != Q_END_LOST)
		return q_error_set(err, Q_ERR_INPUT, EINVAL, "an event log "
				   "holds only retry, handback and lost "
				   "attempts");
	struct q_buf b = Q_BUF_INIT;
	if (end == Q_END_LOST) {
		char host[Q_NAME_MAX + 1];
		uint64_t first, count;
		q__host_of_worker(worker, host, sizeof(host));
		q_job_chunk_items(h->job, claim->chunk, &first, &count);
		int64_t now = q__now_ns();
		for (uint64_t i = 0; i < count; i++)
			add_line(&b, claim, end, first + i, Q_STATE_RUNNING,
				 Q_EXIT_NONE, 0, 0, now, worker, host, NULL);
	} else {
		for (size_t i = 0; i < n; i++)
			add_line(&b, claim, end, o[i].item, o[i].state,
				 o[i].exit_code, o[i].slot, o[i].start_ns,
				 o[i].end_ns, worker, q__hostname(),
				 o[i].reason);
	}
	int ret = 0;
	if (b.len) {
		pthread_mutex_lock(&sp->events_lock);
		int fd = log_fd(h, writer, err);
		if (fd < 0)
			ret = fd;
		else if (q__write_all(fd, b.data, b.len) != 0)
			ret = q_error_set(err, Q_ERR_SYSTEM, errno,
					  "cannot append to the event log of "
					  "job %llu",
					  (unsigned long long)h->job->id);
		pthread_mutex_unlock(&sp->events_lock);
	}
	q__buf_release(&b);
	return ret;
}

void q__events_close(struct q_spool *sp)
{
	for (size_t i = 0; i < Q_EVENTS_OPEN; i++)
		if (sp->events_fds[i].fd >= 0) {
			close(sp->events_fds[i].fd);
			sp->events_fds[i].fd = -1;
		}
}

/* ---- reading ---- */

/* One logged attempt of one item. Strings are owned by the table. */
struct logged {
	uint64_t item, chunk;
	unsigned attempt, slot;
	enum q_attempt_end end;
	enum q_state state;
	int exit_code;
	int64_t claimed_ns, start_ns, end_ns;
	char *worker, *host, *reason;
};

struct logged_table {
	struct logged *v;
	size_t n, cap;
};

static void table_release(struct logged_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].worker);
		free(t->v[i].host);
		free(t->v[i].reason);
	}
	free(t->v);
}

/* Parse one "a ..." line into *l: true, or false when it is damaged. */
static bool parse_line(const struct q_job *job, char **tok, int ntok,
		       struct logged *l)
{
	uint64_t attempt, slot, first, count;
	int64_t exit_code = Q_EXIT_NONE;

	memset(l, 0, sizeof(*l));
	if (ntok != 14 || strcmp(tok[0], "a") != 0 ||
	    !q__tok_u64(tok[1], &l->chunk) || l->chunk >= job->nchunks ||
	    !q__tok_u64(tok[2], &attempt) || attempt == 0 ||
	    attempt > 1000000 || !parse_end(tok[3], &l->end) ||
	    !q__tok_u64(tok[4], &l->item) || !parse_state(tok[5], &l->state) ||
	    (strcmp(tok[6], "-") != 0 &&
	     (!q__tok_i64(tok[6], &exit_code) || exit_code < -1000 ||
	      exit_code > 255)) ||
	    !q__tok_u64(tok[7], &slot) || slot > 1000000 ||
	    !q__tok_i64(tok[8], &l->claimed_ns) ||
	    !q__tok_i64(tok[9], &l->start_ns) ||
	    !q__tok_i64(tok[10], &l->end_ns))
		return false;
	q_job_chunk_items(job, l->chunk, &first, &count);
	if (l->item < first || l->item - first >= count)
		return false;
	l->attempt = (unsigned)attempt;
	l->slot = (unsigned)slot;
	l->exit_code = (int)exit_code;
	l->worker = q__unesc(tok[11]);
	l->host = q__unesc(tok[12]);
	l->reason = strcmp(tok[13], "-") == 0 ? q__strdup("")
					      : q__unesc(tok[13]);
	if (!l->worker || !l->host || !l->reason) {
		free(l->worker);
		free(l->host);
		free(l->reason);
		return false;
	}
	return true;
}

/* Add the attempts of log `name` (in events/, dirfd) to t. */
static void read_log(struct q_jobh *h, int dirfd, const char *name,
		     struct logged_table *t)
{
	char *data = NULL;
	size_t len = 0;
	char where[512];
	q__jobh_where(h, Q_EVENTS_DIR, where, sizeof(where));

	int ret = q__read_file(dirfd, name, Q_EVENTS_READ_MAX, &data, &len);
	if (ret < 0) {
		fprintf(stderr, "spoolq: warning: cannot read the event log "
			"'%s/%s': %s\n", where, name, strerror(-ret));
		return;
	}
	/* A torn last line (design note 1) is not an event yet. */
	while (len > 0 && data[len - 1] != '\n')
		len--;
	data[len] = '\0';
	struct q_lines it;
	char *tok[Q_MAX_TOKENS];
	int ntok;
	q__lines_init(&it, data, len);
	ntok = q__lines_next(&it, tok);
	if (ntok == 0)
		goto out;   /* empty: the header is not written yet */
	if (ntok != 2 || strcmp(tok[0], "spoolq-events") != 0 ||
	    strcmp(tok[1], "1") != 0) {
		fprintf(stderr, "spoolq: warning: '%s/%s' line 1: not a "
			"spoolq event log (format 1); skipped\n", where, name);
		goto out;
	}
	while ((ntok = q__lines_next(&it, tok)) != 0) {
		q__grow(&t->v, &t->cap, t->n + 1, sizeof(*t->v));
		if (ntok < 0 || !parse_line(h->job, tok, ntok, &t->v[t->n])) {
			fprintf(stderr, "spoolq: warning: '%s/%s' line %u: "
				"damaged event; the rest of this log is "
				"skipped\n", where, name, it.lineno);
			break;
		}
		t->n++;
	}
out:
	free(data);
}

static int logged_order(const void *a, const void *b)
{
	const struct logged *x = a, *y = b;
	if (x->item != y->item)
		return x->item < y->item ? -1 : 1;
	if (x->claimed_ns != y->claimed_ns)
		return x->claimed_ns < y->claimed_ns ? -1 : 1;
	if (x->attempt != y->attempt)
		return x->attempt < y->attempt ? -1 : 1;
	return 0;
}

/* Every event log of the job, sorted by item, then claim time. */
static int read_logs(struct q_jobh *h, struct logged_table *t,
		     struct q_error *err)
{
	int dirfd = q__open_dir_beneath(h->dirfd, Q_EVENTS_DIR);
	if (dirfd < 0) {
		if (errno == ENOENT)
			return 0;   /* nothing logged for this job */
		char where[512];
		q__jobh_where(h, Q_EVENTS_DIR, where, sizeof(where));
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot open '%s'", where);
	}
	DIR *d = q__opendir_at(dirfd, NULL);
	if (!d) {
		int e = errno;
		close(dirfd);
		return q_error_set(err, Q_ERR_SYSTEM, e, "cannot list the "
				   "event logs of job %llu",
				   (unsigned long long)h->job->id);
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			read_log(h, dirfd, de->d_name, t);
	closedir(d);
	close(dirfd);
	if (t->n)
		qsort(t->v, t->n, sizeof(*t->v), logged_order);
	return 0;
}

struct merge {
	struct logged_table logged;
	size_t next;             /* first logged attempt not yet given */
	q_attempt_fn fn;
	void *ctx;
};

static int give_logged(struct merge *m, const struct logged *l)
{
	struct q_attempt a = {
		.item = l->item, .chunk = l->chunk, .attempt = l->attempt,
		.end = l->end, .state = l->state, .exit_code = l->exit_code,
		.slot = l->slot, .claimed_ns = l->claimed_ns,
		.start_ns = l->start_ns, .end_ns = l->end_ns,
		.worker = l->worker, .host = l->host, .reason = l->reason,
	};
	return m->fn(m->ctx, &a);
}

/* For each task in item order: its logged attempts, then its final or
 * running one. */
static int merge_task(void *ctx, const struct q_task_info *t)
{
	struct merge *m = ctx;
	int ret;
	while (m->next < m->logged.n && m->logged.v[m->next].item <= t->item)
		if ((ret = give_logged(m, &m->logged.v[m->next++])) != 0)
			return ret;
	if (t->state != Q_STATE_RUNNING && !q_state_final(t->state))
		return 0;
	struct q_attempt a = {
		.item = t->item,
		.chunk = t->chunk,
		.attempt = t->attempt,
		.end = t->state == Q_STATE_RUNNING ? Q_END_RUNNING
						   : Q_END_FINAL,
		.state = t->state,
		.exit_code = t->exit_code,
		.reused = t->reused,
		.slot = t->slot,
		.claimed_ns = t->claimed_ns,
		.start_ns = t->start_ns,
		.end_ns = t->end_ns,
		.worker = t->worker,
		.host = t->host,
		.reason = t->reason,
	};
	return m->fn(m->ctx, &a);
}

int q_job_for_each_attempt(struct q_jobh *h, q_attempt_fn fn, void *ctx,
			   struct q_error *err)
{
	struct merge m = { .fn = fn, .ctx = ctx };
	int ret = read_logs(h, &m.logged, err);
	if (ret == 0)
		ret = q_job_for_each_task(h, merge_task, &m, err);
	while (ret == 0 && m.next < m.logged.n)
		ret = give_logged(&m, &m.logged.v[m.next++]);
	table_release(&m.logged);
	return ret;
}
