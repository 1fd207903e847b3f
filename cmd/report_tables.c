/*
 * report_tables.c: the report's tables (report_tables.h).
 *
 * Every string from the job or the spool (names, hosts, worker ids,
 * reasons, stderr) goes through report_html_text/escape; numbers are
 * printed directly. Times are seconds from the job's first claim, like
 * the pictures' axes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report_html.h"
#include "report_svg.h"
#include "report_tables.h"
#include "report_tail.h"

static void fmt_date(char *out, size_t size, int64_t ns)
{
	if (ns <= 0) {
		snprintf(out, size, "-");
		return;
	}
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%d %H:%M:%S %z", &tm);
}

static double rel(const struct report_data *d, int64_t ns)
{
	return ns > 0 ? (double)(ns - d->origin_ns) / 1e9 : 0;
}

/* One figure of the summary: the number big, its name under it; `warn`
 * colours a non-zero figure that needs a look. */
static void count_cell(FILE *out, const char *name, uint64_t n, bool warn)
{
	char s[32];
	report_fmt_count(s, sizeof(s), n);
	fprintf(out, "<div%s><b>%s</b>%s</div>\n",
		warn && n ? " class=\"bad\"" : "", s, name);
}

void report_tables_summary(FILE *out, const struct report_data *d,
			   const struct q_counts *k,
			   const struct q_counts *per_group)
{
	const struct q_job *job = d->job;
	char when[64], first[64], wall[32];
	fprintf(out, "<h1>spoolq job %llu: ", (unsigned long long)job->id);
	report_html_text(out, job->name);
	fputs("</h1>\n<p class=\"note\">Submitted ", out);
	fmt_date(when, sizeof(when), job->submitted_ns);
	fputs(when, out);
	if (job->submit_host && job->submit_host[0]) {
		fputs(" from ", out);
		report_html_text(out, job->submit_host);
	}
	fmt_date(first, sizeof(first), d->origin_ns);
	fmt_date(when, sizeof(when), d->now_ns);
	fprintf(out, "; first claim %s; report written %s. Times below are "
		"seconds from the first claim.</p>\n", first, when);

	fputs("<div id=\"summary\" class=\"stats\">\n", out);
	count_cell(out, "tasks", k->total, false);
	count_cell(out, "done", k->done, false);
	if (k->cached)
		count_cell(out, "reused (of done)", k->cached, false);
	count_cell(out, "failed", k->failed, true);
	count_cell(out, "cancelled", k->cancelled, true);
	if (k->running)
		count_cell(out, "running", k->running, false);
	if (k->ready + k->waiting)
		count_cell(out, "ready or waiting", k->ready + k->waiting,
			   false);
	count_cell(out, "attempts retried", d->nretry, true);
	count_cell(out, "handed back", d->nhandback, true);
	count_cell(out, "lost with a worker", d->nlost, true);
	count_cell(out, "workers", d->nw, false);
	report_fmt_duration(wall, sizeof(wall),
			    (double)(d->end_ns - d->origin_ns) / 1e9);
	fprintf(out, "<div><b>%s</b>first claim to last end</div>\n</div>\n",
		d->origin_ns ? wall : "-");

	fputs("<p id=\"legend\">", out);
	for (size_t g = 0; g < job->ngroups; g++) {
		char cls[8];
		if (g >= REPORT_KEYS - 1) {
			fprintf(out, "<span><span class=\"sw\" style=\""
				"background:#999\"></span>%zu other groups"
				"</span>", job->ngroups - g);
			break;
		}
		report_svg_group_class(cls, sizeof(cls), (uint32_t)g);
		fprintf(out, "<span style=\"margin-right:14px\"><svg width=\"12\" "
			"height=\"12\"><rect width=\"12\" height=\"12\" "
			"class=\"%s\"/></svg> ", cls);
		report_html_text(out, job->groups[g].name);
		fprintf(out, " (%llu", (unsigned long long)job->groups[g].count);
		if (per_group && per_group[g].failed)
			fprintf(out, ", %llu failed",
				(unsigned long long)per_group[g].failed);
		fputs(")</span>\n", out);
	}
	fputs("</p>\n", out);
}

static void task_cell(FILE *out, const struct report_data *d,
		      const struct report_attempt *a)
{
	char label[Q_NAME_MAX + 32];
	q_job_item_label(d->job, a->item, label, sizeof(label));
	fputs("<td>", out);
	report_html_text(out, label);
	fputs("</td>", out);
}

static void where_cell(FILE *out, const struct report_data *d,
		       const struct report_attempt *a)
{
	fputs("<td>", out);
	if (a->worker != REPORT_NONE) {
		report_html_text(out, d->names.v[d->w[a->worker].host]);
		fprintf(out, " slot %u", a->slot);
	} else {
		fputs("-", out);
	}
	fputs("</td>", out);
}

static void exit_cell(FILE *out, const struct report_attempt *a)
{
	if (a->exit_code == Q_EXIT_NONE)
		fputs("<td class=\"n\">-</td>", out);
	else
		fprintf(out, "<td class=\"n\">%d</td>", a->exit_code);
}

void report_tables_slowest(FILE *out, const struct report_data *d)
{
	fputs("<h2 id=\"slowest\">Slowest tasks</h2>\n", out);
	if (!d->nslowest) {
		fputs("<p class=\"note\">No task has finished yet.</p>\n", out);
		return;
	}
	fputs("<table><tr><th>task</th><th>run time</th><th>started</th>"
	      "<th>state</th><th>exit</th><th>attempt</th><th>where</th></tr>\n",
	      out);
	for (size_t k = 0; k < d->nslowest; k++) {
		const struct report_attempt *a = &d->a[d->slowest[k]];
		char len[32], at[32];
		report_fmt_duration(len, sizeof(len),
				    (double)(a->end_ns - a->start_ns) / 1e9);
		report_fmt_duration(at, sizeof(at), rel(d, a->start_ns));
		fputs("<tr>", out);
		task_cell(out, d, a);
		fprintf(out, "<td class=\"n\">%s</td><td class=\"n\">%s</td>"
			"<td>%s</td>", len, at,
			q_state_name((enum q_state)a->state));
		exit_cell(out, a);
		fprintf(out, "<td class=\"n\">%u</td>", a->attempt);
		where_cell(out, d, a);
		fputs("</tr>\n", out);
	}
	fputs("</table>\n", out);
}

/* The stderr tail of item `item` from its record (note the reading error
 * in the page instead of failing the report). */
static void stderr_tail(FILE *out, struct q_jobh *h,
			const struct q_record *rec, int rec_ret,
			const struct q_error *rec_err, uint64_t item)
{
	if (rec_ret < 0) {
		fputs("<p class=\"warn\">stderr unavailable: ", out);
		report_html_text(out, rec_ret == -ENOENT
					      ? "the task has no record"
					      : rec_err->message);
		fputs("</p>", out);
		return;
	}
	struct report_tail *t = calloc(1, sizeof(*t));
	char *buf = malloc(REPORT_TAIL_MAX);
	struct q_error err = Q_ERROR_INIT;
	if (!t || !buf)
		abort();
	FILE *f = report_tail_open(t);
	int ret = f ? q_record_output(h, rec, (size_t)(item - rec->first),
				      true, f, &err)
		    : -errno;
	if (f && fclose(f) != 0 && ret == 0)
		ret = -EIO;
	size_t len = report_tail_get(t, buf);
	if (ret < 0) {
		fputs("<p class=\"warn\">stderr unavailable: ", out);
		report_html_text(out, err.message[0] ? err.message
						     : strerror(-ret));
		fputs("</p>", out);
	} else if (t->total == 0) {
		fputs("<span class=\"note\">(stderr empty)</span>", out);
	} else {
		char total[32];
		report_fmt_count(total, sizeof(total), t->total);
		fprintf(out, "<details><summary>stderr (%s%s bytes)</summary>"
			"<pre>", t->total > len ? "last part of " : "", total);
		report_html_escape(out, buf, len);
		fputs("</pre></details>", out);
	}
	free(buf);
	free(t);
}

void report_tables_failed(FILE *out, struct q_jobh *h,
			  const struct report_data *d)
{
	char n[32];
	report_fmt_count(n, sizeof(n), d->nfinal_failed);
	fprintf(out, "<h2 id=\"failed\">Failed tasks (%s)</h2>\n", n);
	if (!d->nfailed_listed) {
		fputs("<p class=\"note\">No task failed.</p>\n", out);
		return;
	}
	if (d->nfinal_failed > d->nfailed_listed)
		fprintf(out, "<p class=\"note\">The first %zu, in task order "
			"(qstatus JOB --tasks lists them all).</p>\n",
			d->nfailed_listed);
	fputs("<table><tr><th>task</th><th>exit</th><th>attempt</th>"
	      "<th>reason</th><th>ended</th><th>where</th><th>stderr</th></tr>\n",
	      out);
	struct q_record rec;
	struct q_error rec_err = Q_ERROR_INIT;
	uint64_t rec_chunk = UINT64_MAX;
	int rec_ret = -ENOENT;
	memset(&rec, 0, sizeof(rec));
	for (size_t k = 0; k < d->nfailed_listed; k++) {
		const struct report_attempt *a = &d->a[d->failed[k]];
		uint64_t chunk = q_job_chunk_of(d->job, a->item);
		if (chunk != rec_chunk) {
			if (rec_ret == 0)
				q_record_release(&rec);
			q_error_clear(&rec_err);
			rec_ret = q_record_read(h, chunk, &rec, &rec_err);
			rec_chunk = chunk;
		}
		char at[32];
		report_fmt_duration(at, sizeof(at), rel(d, a->end_ns));
		fputs("<tr>", out);
		task_cell(out, d, a);
		exit_cell(out, a);
		fprintf(out, "<td class=\"n\">%u</td><td>", a->attempt);
		report_html_text(out, d->names.v[a->reason]);
		fprintf(out, "</td><td class=\"n\">%s</td>",
			a->end_ns ? at : "-");
		where_cell(out, d, a);
		fputs("<td>", out);
		bool mine = rec_ret == 0 && a->item >= rec.first &&
			    a->item - rec.first < rec.count;
		stderr_tail(out, h, &rec, mine ? 0 : rec_ret < 0 ? rec_ret
							      : -ENOENT,
			    &rec_err, a->item);
		fputs("</td></tr>\n", out);
	}
	if (rec_ret == 0)
		q_record_release(&rec);
	fputs("</table>\n", out);
}

void report_tables_other(FILE *out, const struct report_data *d)
{
	fputs("<h2 id=\"attempts\">Retried, handed-back and lost attempts"
	      "</h2>\n", out);
	if (!d->nother_listed) {
		fputs("<p class=\"note\">None: every task ran once.</p>\n", out);
		return;
	}
	uint64_t all = d->nretry + d->nhandback + d->nlost;
	if (all > d->nother_listed)
		fprintf(out, "<p class=\"note\">The first %zu of %llu.</p>\n",
			d->nother_listed, (unsigned long long)all);
	fputs("<table><tr><th>task</th><th>attempt</th><th>how it ended</th>"
	      "<th>exit</th><th>reason</th><th>ended</th><th>where</th></tr>\n",
	      out);
	for (size_t k = 0; k < d->nother_listed; k++) {
		const struct report_attempt *a = &d->a[d->other[k]];
		char at[32];
		report_fmt_duration(at, sizeof(at), rel(d, a->end_ns));
		fputs("<tr>", out);
		task_cell(out, d, a);
		fprintf(out, "<td class=\"n\">%u</td><td>%s</td>", a->attempt,
			q_attempt_end_name((enum q_attempt_end)a->end));
		exit_cell(out, a);
		fputs("<td>", out);
		report_html_text(out, d->names.v[a->reason]);
		fprintf(out, "</td><td class=\"n\">%s</td>",
			a->end_ns ? at : "-");
		where_cell(out, d, a);
		fputs("</tr>\n", out);
	}
	fputs("</table>\n", out);
}

double report_worker_utilisation(const struct report_worker *w)
{
	double span = (double)(w->last_ns - w->first_ns) / 1e9;
	unsigned cpus = w->cpus ? w->cpus : w->slots;
	if (span <= 0 || cpus == 0)
		return 0;
	double u = w->busy_core_s / (span * cpus);
	return u > 1 ? 1 : u;
}

void report_tables_workers(FILE *out, const struct report_data *d)
{
	fputs("<h2 id=\"workers\">Workers</h2>\n", out);
	if (!d->nw) {
		fputs("<p class=\"note\">No worker has claimed a task of this "
		      "job yet.</p>\n", out);
		return;
	}
	fputs("<p class=\"note\">Utilisation: the core-seconds a worker's "
	      "tasks ran (run time &times; threads) over its cores &times; the "
	      "time from its first claim to its last end in this job. A worker "
	      "that has exited is no longer registered; its cores are then "
	      "the slots its tasks were seen to use (marked *).</p>\n"
	      "<table id=\"utilisation\"><tr><th>worker</th><th>host</th>"
	      "<th>cores</th><th>attempts run</th><th>failed</th>"
	      "<th>busy core-s</th><th>span</th><th>utilisation</th></tr>\n",
	      out);
	for (size_t k = 0; k < d->nw; k++) {
		const struct report_worker *w = &d->w[d->order[k]];
		double u = report_worker_utilisation(w);
		char span[32];
		report_fmt_duration(span, sizeof(span),
				    (double)(w->last_ns - w->first_ns) / 1e9);
		fputs("<tr><td>", out);
		report_html_text(out, d->worker_ids.v[w->id]);
		fputs("</td><td>", out);
		report_html_text(out, d->names.v[w->host]);
		fprintf(out, "</td><td class=\"n\">%u%s</td><td class=\"n\">"
			"%llu</td><td class=\"n\">%llu</td><td class=\"n\">"
			"%.1f</td><td class=\"n\">%s</td><td><span "
			"class=\"barbg\"><span class=\"bar\" style=\"width:"
			"%.0f%%\"></span></span>%.0f%%</td></tr>\n",
			w->cpus ? w->cpus : w->slots, w->cpus ? "" : "*",
			(unsigned long long)w->runs,
			(unsigned long long)w->failed, w->busy_core_s, span,
			u * 100, u * 100);
	}
	fputs("</table>\n", out);
}
