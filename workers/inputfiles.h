/*
 * inputfiles.h: a command task's inputs, as files it can read.
 *
 * A task's inputs are its dependencies' results (their stdout, or the
 * result a kernel wrote), in `after` order (q_item_inputs). A command gets
 * them as paths:
 *
 *   Q_INPUTS        the number of inputs (always set, 0 when none)
 *   Q_INPUT_0 ...   the path of each input
 *   {inputs}        in the argv: as a whole argument, one argument per
 *                   path; inside a longer argument, the paths joined by
 *                   spaces. In a --tasks line: the paths quoted for
 *                   /bin/sh, joined by spaces.
 *
 * Beyond Q_INPUTS_DIRECT_MAX inputs, or Q_INPUTS_DIRECT_BYTES of paths,
 * they would not fit in a process's arguments and environment (ARG_MAX):
 * the command then gets only Q_INPUTS and Q_INPUTS_FILE (a file listing
 * one path per line), and a command that uses {inputs} fails with a
 * reason that says so.
 *
 * Calling sequence (runner.c):
 *   struct q_input_files in = Q_INPUT_FILES_INIT;
 *   if (q_input_files_prepare(&in, h, cache, item, &err) < 0) ... fail
 *   ... q_input_files_env, q_input_files_argv / q_input_files_line ...
 *   ... run the command ...
 *   q_input_files_release(&in);     (removes the temporary files)
 */
#ifndef QWORKER_INPUTFILES_H
#define QWORKER_INPUTFILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spoolq/spoolq.h>

/* Limits for passing inputs one by one (see design note 4 in
 * inputfiles.c); beyond either, only Q_INPUTS_FILE. */
#define Q_INPUTS_DIRECT_MAX 10000
#define Q_INPUTS_DIRECT_BYTES (112 * 1024)

struct q_input_files {
	struct q_spool *sp;
	size_t n;              /* inputs */
	bool listed;           /* too many: only in the list file */
	char **paths;          /* n absolute paths, unless listed */
	char *list_path;       /* Q_INPUTS_FILE when listed, else NULL */
	char **tmps;           /* names in the spool's tmp/ to remove */
	size_t ntmps, cap_tmps;
};

#define Q_INPUT_FILES_INIT { NULL, 0, false, NULL, NULL, NULL, 0, 0 }

/*
 * Make `item`'s inputs files: a result stored as a file of its own is
 * passed by its path, an inline one is copied into a temporary file in
 * the spool's tmp/, an empty one is /dev/null. 0, or -errno with err set
 * (a dependency's record cannot be read, or tmp/ cannot be written); in
 * either case release `in` afterwards.
 */
int q_input_files_prepare(struct q_input_files *in, struct q_jobh *h,
			  struct q_jobcache *cache, uint64_t item,
			  struct q_error *err);

/* Remove the temporary files and free everything; accepts NULL. */
void q_input_files_release(struct q_input_files *in);

/* The environment entries ("KEY=VALUE", each malloc'ed, in a malloc'ed
 * NULL-terminated array): Q_INPUTS and either Q_INPUT_<k> or
 * Q_INPUTS_FILE. */
char **q_input_files_env(const struct q_input_files *in);

/*
 * Expand {inputs} in an argv of `argc` strings into a new malloc'ed
 * NULL-terminated argv (fresh strings; the caller still owns `argv`).
 * -E2BIG with err set when {inputs} is used but the inputs are listed.
 */
int q_input_files_argv(const struct q_input_files *in, char *const *argv,
		       size_t argc, char ***argv_out, size_t *argc_out,
		       struct q_error *err);

/* Expand {inputs} in a shell line (paths quoted for /bin/sh) into
 * *line_out (malloc'ed). -E2BIG with err set as above. */
int q_input_files_line(const struct q_input_files *in, const char *line,
		       char **line_out, struct q_error *err);

/* `s` quoted for /bin/sh, appended to nothing: a malloc'ed string. */
char *q_shell_quote(const char *s);

#endif
