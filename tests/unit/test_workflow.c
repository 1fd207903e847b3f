/*
 * test_workflow.c: YAML workflows into jobs (libq/workflow.c).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <spoolq/spoolq.h>

#include "kernels.h"

static struct q_job *load_ok(const char *text, struct q_workflow_info *info)
{
	struct q_job *job;
	struct q_error err = Q_ERROR_INIT;
	q_builtin_kernels_register();
	cr_assert_eq(q_workflow_parse("/tmp/w/flow.yaml", text, strlen(text),
				      NULL, &job, info, &err),
		     0, "%s", err.message);
	return job;
}

/* The load fails with `want` in the message at line:col (col 0: any). */
static void load_bad(const char *text, unsigned line, unsigned col,
		     const char *want)
{
	struct q_job *job = NULL;
	struct q_error err = Q_ERROR_INIT;
	q_builtin_kernels_register();
	cr_assert_lt(q_workflow_parse("/tmp/w/flow.yaml", text, strlen(text),
				      NULL, &job, NULL, &err),
		     0, "accepted:\n%s", text);
	cr_assert_null(job);
	cr_assert_eq(err.kind, Q_ERR_INPUT);
	char where[64];
	if (line && col)
		snprintf(where, sizeof(where), "line %u, column %u: ", line,
			 col);
	else if (line)
		snprintf(where, sizeof(where), "line %u, ", line);
	else
		where[0] = '\0';
	cr_assert(strstr(err.message, "cannot read '/tmp/w/flow.yaml': "),
		  "%s", err.message);
	cr_assert(strstr(err.message, where), "expected '%s' in: %s", where,
		  err.message);
	cr_assert(strstr(err.message, want), "expected '%s' in: %s", want,
		  err.message);
}

static const char *const example =
	"name: pi-sweep\n"
	"defaults: {threads: 1, retries: 2, timeout: 30m, env: {A: \"1\"}}\n"
	"tasks:\n"
	"  sample:\n"
	"    kernel: pi\n"
	"    array: 0..99\n"
	"    args: {samples: 2000000, seed: \"{i}\"}\n"
	"    threads: 2\n"
	"  total:\n"
	"    kernel: sum\n"
	"    after: [sample]\n"
	"  square:\n"
	"    array: 0..99\n"
	"    cmd: \"my-tool --in {i}\"\n"
	"    after: [\"sample[{i}]\"]\n"
	"  report:\n"
	"    cmd: \"printf 'pi=%s\\\\n' \\\"$(cat \\\"$Q_INPUT_0\\\")\\\"\"\n"
	"    after: [total]\n";

Test(workflow, the_issue_example)
{
	struct q_workflow_info info;
	struct q_job *job = load_ok(example, &info);
	cr_assert_str_eq(job->name, "pi-sweep");
	cr_assert_eq(job->ngroups, 4);
	cr_assert_eq(info.tasks, 202);
	cr_assert_eq(info.definitions, 4);
	cr_assert_eq(info.depth, 3);   /* sample -> total -> report */
	const struct q_group *s = &job->groups[0], *t = &job->groups[1];
	const struct q_group *q = &job->groups[2], *r = &job->groups[3];
	cr_assert_eq(s->kind, Q_TASK_KERNEL);
	cr_assert_str_eq(s->kernel, "pi");
	cr_assert_eq(s->count, 100);
	cr_assert_eq(s->threads, 2);
	cr_assert_eq(s->retries, 2);
	cr_assert_eq(s->timeout_s, 1800);
	cr_assert(s->pure);
	cr_assert_eq(s->nargs, 2);
	cr_assert_str_eq(s->args[1], "seed={i}");
	cr_assert_str_eq(s->env[0], "A=1");
	cr_assert_eq(t->nafter, 1);
	cr_assert_eq(t->after[0].mode, Q_AFTER_ALL);
	cr_assert_eq(t->after[0].first, 0);
	cr_assert_eq(t->after[0].count, 100);
	cr_assert_eq(q->kind, Q_TASK_COMMAND);
	cr_assert_not(q->pure);
	cr_assert_str_eq(q->argv[0], "/bin/sh");
	cr_assert_str_eq(q->argv[2], "my-tool --in {i}");
	cr_assert_eq(q->after[0].mode, Q_AFTER_EACH);
	cr_assert_eq(q->after[0].first, 0);
	cr_assert_eq(r->after[0].first, 100);
	cr_assert_eq(r->after[0].count, 1);
	q_job_release(job);
}

Test(workflow, windows_ranges_and_later_definitions)
{
	struct q_job *job = load_ok(
		"tasks:\n"
		"  partial:\n"
		"    kernel: sum\n"
		"    array: 0..9\n"
		"    after: [\"blocks[{i}*10..{i}*10+9]\"]\n"
		"  some:\n"
		"    cmd: [echo, hi]\n"
		"    after: [\"blocks[3..5]\", \"blocks[7]\"]\n"
		"  blocks:\n"
		"    kernel: sleep\n"
		"    array: 100\n",
		NULL);
	cr_assert_str_eq(job->name, "flow");   /* from the file name */
	const struct q_group *p = &job->groups[0], *s = &job->groups[1];
	const struct q_group *b = &job->groups[2];
	cr_assert_eq(b->count, 100);
	cr_assert_eq(b->index_base, 0);
	cr_assert_eq(p->after[0].mode, Q_AFTER_MAP);
	cr_assert_eq(p->after[0].stride, 10);
	cr_assert_eq(p->after[0].width, 10);
	cr_assert_eq(p->after[0].first, b->first);
	cr_assert_eq(p->after[0].count, 100);
	cr_assert_eq(s->after[0].mode, Q_AFTER_ALL);
	cr_assert_eq(s->after[0].first, b->first + 3);
	cr_assert_eq(s->after[0].count, 3);
	cr_assert_eq(s->after[1].first, b->first + 7);
	cr_assert_str_eq(s->argv[0], "echo");
	q_job_release(job);
}

Test(workflow, shifted_indexes)
{
	struct q_job *job = load_ok(
		"tasks:\n"
		"  a: {cmd: 'true', array: 10..19}\n"
		"  b: {cmd: 'true', array: 0..9, after: ['a[{i}+10]']}\n",
		NULL);
	cr_assert_eq(job->groups[1].after[0].mode, Q_AFTER_EACH);
	cr_assert_eq(job->groups[1].after[0].first, 0);
	q_job_release(job);
}

Test(workflow, unknown_keys_suggest)
{
	load_bad("tasks:\n  a:\n    cmd: x\n    afer: [b]\n", 4, 5,
		 "unknown key 'afer' in task 'a' (did you mean 'after'?)");
	load_bad("taks:\n  a: {cmd: x}\n", 1, 1,
		 "unknown key 'taks' at the top level (did you mean "
		 "'tasks'?)");
	load_bad("defaults: {thread: 2}\ntasks: {a: {cmd: x}}\n", 1, 12,
		 "did you mean 'threads'?");
	load_bad("tasks: {a: {cmd: x, zzzzzz: 1}}\n", 1, 21,
		 "unknown key 'zzzzzz' in task 'a' (known keys: kernel, cmd");
}

Test(workflow, wrong_types)
{
	load_bad("tasks: {a: {cmd: x, threads: two}}\n", 1, 30,
		 "threads must be a whole number, got 'two'");
	load_bad("tasks: {a: {cmd: x, threads: '2'}}\n", 1, 30,
		 "threads must be a whole number");
	load_bad("tasks: {a: {cmd: x, threads: 0}}\n", 1, 30,
		 "threads must be from 1 to 4096");
	load_bad("tasks: {a: {cmd: x, pure: yes}}\n", 1, 27,
		 "pure must be true or false, got 'yes'");
	load_bad("tasks: {a: {cmd: x, timeout: soon}}\n", 1, 30,
		 "timeout must be a duration");
	load_bad("tasks: {a: {cmd: x, env: [A]}}\n", 1, 26,
		 "env must be a mapping");
	load_bad("tasks: {a: {cmd: x, env: {1A: x}}}\n", 1, 27,
		 "environment variable name '1A'");
	load_bad("tasks: {a: {kernel: pi, args: [1]}}\n", 1, 31,
		 "args must be a mapping");
	load_bad("tasks: {a: {cmd: x, args: {n: 1}}}\n", 1, 21,
		 "args are for kernels");
	load_bad("tasks: [a, b]\n", 1, 8, "tasks must be a mapping");
	load_bad("tasks: {a: 1}\n", 1, 12, "task 'a' must be a mapping");
	load_bad("tasks: {a: {cmd: {x: 1}}}\n", 1, 18,
		 "cmd must be a command line or a list");
	load_bad("tasks: {a: {cmd: x, array: 5..2}}\n", 1, 28,
		 "array 5..2 is empty");
	load_bad("tasks: {a: {cmd: x, array: a..b}}\n", 1, 28,
		 "array must be A..B");
}

Test(workflow, kernel_and_cmd)
{
	load_bad("tasks: {a: {kernel: pi, cmd: x}}\n", 1, 30,
		 "task 'a' has both kernel: and cmd:");
	load_bad("tasks: {a: {threads: 2}}\n", 1, 9,
		 "task 'a' needs kernel: NAME or cmd: COMMAND");
	load_bad("tasks: {a: {kernel: pii}}\n", 1, 21,
		 "unknown kernel 'pii' (did you mean 'pi'?");
}

Test(workflow, dependencies)
{
	load_bad("tasks: {a: {cmd: x, after: [bb]}}\n", 1, 29,
		 "task 'a' depends on 'bb', which is not a task of this "
		 "workflow");
	load_bad("tasks: {ab: {cmd: x}, a: {cmd: x, after: [abc]}}\n", 0, 0,
		 "(did you mean 'ab'?)");
	load_bad("tasks: {a: {cmd: x, after: [a]}}\n", 1, 29,
		 "task 'a' depends on itself");
	load_bad("tasks:\n  a: {cmd: x, array: 0..9}\n"
		 "  b: {cmd: x, array: 0..19, after: ['a[{i}]']}\n", 3, 37,
		 "b[19] would wait for 'a' indexes 19..19, but 'a' has "
		 "indexes 0..9");
	load_bad("tasks:\n  a: {cmd: x, array: 0..19}\n"
		 "  b: {cmd: x, array: 0..9, after: ['a[{i}]']}\n", 3, 36,
		 "element-wise dependencies need arrays of the same length");
	load_bad("tasks:\n  a: {cmd: x, array: 0..9}\n"
		 "  b: {cmd: x, array: 0..3, after: ['a[{i}*{i}]']}\n", 3, 36,
		 "not a window of fixed size moving evenly");
	load_bad("tasks:\n  a: {cmd: x, array: 0..9}\n"
		 "  b: {cmd: x, array: 0..3, after: ['a[9-{i}]']}\n", 3, 36,
		 "moves backwards");
	load_bad("tasks:\n  a: {cmd: x, array: 0..9}\n"
		 "  b: {cmd: x, after: ['a[x]']}\n", 3, 23,
		 "cannot read the index");
	load_bad("tasks:\n  a: {cmd: x}\n  b: {cmd: x, after: ['12:a']}\n",
		 3, 23, "no spool to look in");
}

Test(workflow, cycles_print_their_path)
{
	load_bad("tasks:\n"
		 "  a: {cmd: x, after: [c]}\n"
		 "  b: {cmd: x, after: [a]}\n"
		 "  c: {cmd: x, after: [b]}\n"
		 "  d: {cmd: x}\n",
		 0, 0, "in a cycle: a -> c -> b -> a");
}

Test(workflow, names_and_top_level)
{
	load_bad("", 0, 0, "the file is empty");
	load_bad("- a\n- b\n", 1, 1, "the top level must be a mapping");
	load_bad("name: a/b\ntasks: {a: {cmd: x}}\n", 1, 7,
		 "invalid job name 'a/b'");
	load_bad("tasks: {'a b': {cmd: x}}\n", 1, 9, "invalid task name 'a b'");
	load_bad("name: x\n", 1, 1, "no 'tasks' mapping");
	load_bad("tasks: {}\n", 1, 8, "'tasks' is empty");
	load_bad("tasks: {a: {cmd: x, each_worker: true, array: 0..3}}\n", 0,
		 0, "each_worker runs once on every worker");
}

Test(workflow, defaults_apply_and_tasks_override)
{
	struct q_job *job = load_ok(
		"defaults: {threads: 3, pure: true, chunk: 7, "
		"env: {A: 1, B: 2}, cwd: data}\n"
		"tasks:\n"
		"  a: {cmd: x}\n"
		"  b: {cmd: x, threads: 1, pure: false, env: {B: 3}, "
		"cwd: /abs}\n",
		NULL);
	const struct q_group *a = &job->groups[0], *b = &job->groups[1];
	cr_assert_eq(a->threads, 3);
	cr_assert(a->pure);
	cr_assert_eq(a->chunk_size, 7);
	cr_assert_eq(a->nenv, 2);
	cr_assert_str_eq(a->cwd, "/tmp/w/data");
	cr_assert_eq(b->threads, 1);
	cr_assert_not(b->pure);
	cr_assert_str_eq(b->env[b->nenv - 1], "B=3");
	cr_assert_str_eq(b->cwd, "/abs");
	q_job_release(job);
}

Test(workflow, spec_round_trip_keeps_the_settings)
{
	struct q_job *job = load_ok(
		"tasks:\n"
		"  a: {cmd: x, retries: 3, timeout: 90, priority: 5}\n"
		"  b: {kernel: hello, each_worker: true}\n",
		NULL);
	cr_assert_eq(job->groups[0].retries, 3);
	cr_assert_eq(job->groups[0].timeout_s, 90);
	cr_assert_eq(job->groups[0].priority, 5);
	cr_assert(job->groups[1].each_worker);
	q_job_release(job);
}
