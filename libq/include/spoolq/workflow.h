/*
 * spoolq/workflow.h: YAML workflow files (docs/workflow-yaml.md).
 *
 * A workflow is one YAML mapping: an optional job name, defaults, plugins
 * and a mapping of tasks. q_workflow_load reads and validates a file and
 * returns a job ready for q_submit (or for inspection, as qsubmit --check
 * does). Every problem is a Q_ERR_INPUT error of the form
 *
 *   cannot read 'FILE': line L, column C: WHAT (HOW TO FIX)
 *
 * and nothing is written anywhere. Plugins the file lists are loaded
 * (their kernels are checked); dependencies on earlier jobs ("12:task")
 * are resolved against `spool`, which may be NULL when there are none.
 * Kernel names are checked against the registry: register the built-in
 * kernels before loading (qsubmit does).
 */
#ifndef SPOOLQ_WORKFLOW_H
#define SPOOLQ_WORKFLOW_H

#include <stddef.h>
#include <stdint.h>

#include <spoolq/error.h>
#include <spoolq/export.h>

struct q_spool;
struct q_job;

struct q_workflow_info {
	uint64_t tasks;        /* items, counting every array index */
	size_t definitions;    /* task definitions (groups) */
	unsigned depth;        /* task definitions on the longest chain */
};

Q_EXPORT int q_workflow_load(const char *path, struct q_spool *spool,
			     struct q_job **job_out,
			     struct q_workflow_info *info,
			     struct q_error *err);

/* The same from a buffer (tests, fuzzing); `path` names it in messages
 * and anchors relative plugin and cwd paths. */
Q_EXPORT int q_workflow_parse(const char *path, const char *data, size_t len,
			      struct q_spool *spool, struct q_job **job_out,
			      struct q_workflow_info *info,
			      struct q_error *err);

#endif
