/*
 * status_events.c: qstatus JOB --events.
 *
 * One JSON object per line and per attempt, so that a user's own plot is
 * one `jq` or pandas.read_json(lines=True) away. Times are seconds since
 * the epoch with microseconds, like every spoolq JSON time.
 */
#include <errno.h>
#include <stdio.h>

#include <spoolq/spoolq.h>

#include "json.h"
#include "status_events.h"

struct events_print {
	struct q_jobh *h;
	FILE *out;
};

static int print_attempt(void *ctx, const struct q_attempt *a)
{
	struct events_print *ep = ctx;
	const struct q_job *job = q_jobh_job(ep->h);
	FILE *out = ep->out;
	char label[Q_NAME_MAX + 32];

	q_job_item_label(job, a->item, label, sizeof(label));
	fprintf(out, "{\"job\": %llu, \"item\": %llu, \"task\": ",
		(unsigned long long)job->id, (unsigned long long)a->item);
	q_json_cstr(out, label);
	fprintf(out, ", \"index\": %lld, \"attempt\": %u, \"outcome\": ",
		(long long)q_job_index_of(job, a->item), a->attempt);
	q_json_cstr(out, q_attempt_end_name(a->end));
	fprintf(out, ", \"state\": ");
	q_json_cstr(out, q_state_name(a->state));
	fprintf(out, ", \"exit\": ");
	q_json_exit(out, a->exit_code);
	fprintf(out, ", \"reused\": %s, \"worker\": ",
		a->reused ? "true" : "false");
	q_json_cstr(out, a->worker[0] ? a->worker : NULL);
	fprintf(out, ", \"host\": ");
	q_json_cstr(out, a->host[0] ? a->host : NULL);
	fprintf(out, ", \"slot\": %u, \"claimed\": ", a->slot);
	q_json_time(out, a->claimed_ns);
	fprintf(out, ", \"start\": ");
	q_json_time(out, a->start_ns);
	fprintf(out, ", \"end\": ");
	q_json_time(out, a->end_ns);
	fprintf(out, ", \"reason\": ");
	q_json_cstr(out, a->reason[0] ? a->reason : NULL);
	fputs("}\n", out);
	return ferror(out) ? -EIO : 0;
}

int status_print_events(struct q_jobh *h, FILE *out, struct q_error *err)
{
	struct events_print ep = { h, out };
	int ret = q_job_for_each_attempt(h, print_attempt, &ep, err);
	if (ret == -EIO && !err->message[0])
		return q_error_set(err, Q_ERR_SYSTEM, EIO,
				   "cannot write the events to stdout");
	return ret;
}
