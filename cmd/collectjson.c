/*
 * collectjson.c: one line of spoolq.collect/1 (docs/json.md), the JSON
 * of a task's result, for qcollect --json and qrun --json.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <spoolq/spoolq.h>

#include "cli.h"
#include "json.h"

int q_cli_collect_json(struct q_jobh *h, const struct q_record *rec, size_t i,
		       bool want_err, FILE *out, struct q_error *err)
{
	const struct q_job *job = q_jobh_job(h);
	const struct q_item_record *r = &rec->items[i];
	const struct q_group *g = q_job_group_of(job, r->item);
	int64_t index = q_job_index_of(job, r->item);
	char label[Q_NAME_MAX + 32];
	q_job_item_label(job, r->item, label, sizeof(label));

	/* A result stored as a file is given by its path: check first that
	 * it is still spoolq's file (not a FIFO or a huge file put in its
	 * place), so a reader of the path gets what the record says. */
	if (q_record_output_check(h, rec, i, want_err, err) < 0)
		return -EIO;
	fprintf(out, "{\"job\": %llu, \"task\": ",
		(unsigned long long)job->id);
	q_json_cstr(out, g->name);
	fprintf(out, ", \"label\": ");
	q_json_cstr(out, label);
	fprintf(out, ", \"index\": %lld, \"item\": %llu, \"state\": ",
		(long long)index, (unsigned long long)r->item);
	q_json_cstr(out, q_state_name(r->state));
	fprintf(out, ", \"exit\": ");
	q_json_exit(out, r->exit_code);
	fprintf(out, ", \"host\": ");
	q_json_cstr(out, rec->host);
	fprintf(out, ", \"worker\": ");
	q_json_cstr(out, rec->worker);
	fprintf(out, ", \"start\": ");
	q_json_time(out, r->start_ns);
	fprintf(out, ", \"end\": ");
	q_json_time(out, r->end_ns);
	fprintf(out, ", \"attempts\": %u", rec->attempt);
	fprintf(out, ", \"reason\": ");
	q_json_cstr(out, r->reason);
	const struct q_stream *st = want_err ? &r->err : &r->out;
	char *path = q_record_output_path(h, rec, i, want_err);
	if (path) {
		fprintf(out, ", \"result\": null, \"result_path\": ");
		q_json_cstr(out, path);
		free(path);
	} else {
		char *data = NULL;
		size_t len = 0;
		if (st->where != Q_STREAM_NONE &&
		    q_record_output_mem(h, rec, i, want_err,
					(size_t)st->length, &data, &len,
					err) < 0)
			return -EIO;
		fprintf(out, ", \"result\": ");
		q_json_str(out, data ? data : "", len);
		q_big_free(data);
	}
	fprintf(out, "}\n");
	return ferror(out) ? q_error_set(err, Q_ERR_SYSTEM, EIO, "cannot "
					 "write the results")
			   : 0;
}
