/*
 * ydoc.h: a YAML document as a small tree, read with libyaml's event API
 * under limits (ydoc.c). Every node keeps its line and column for error
 * messages. The tree is owned by its struct q_ydoc.
 */
#ifndef LIBQ_YDOC_H
#define LIBQ_YDOC_H

#include <stdbool.h>
#include <stddef.h>

#include <spoolq/error.h>

enum q_ynode_kind { Q_YSCALAR, Q_YSEQ, Q_YMAP };

struct q_ynode {
	enum q_ynode_kind kind;
	unsigned line, col;     /* 1-based */
	char *value;            /* scalars */
	bool plain;             /* a plain (unquoted) scalar */
	struct q_ynode **items; /* seq: items; map: key, value, key, ... */
	size_t n;               /* seq: items; map: 2 * pairs */
};

/* Limits against hostile files. */
#define Q_YAML_MAX_BYTES ((size_t)64 << 20)
#define Q_YAML_MAX_DEPTH 64
#define Q_YAML_MAX_ALIASES 1000
#define Q_YAML_MAX_NODES 10000000

struct q_ydoc {
	struct q_ynode *root;   /* NULL for an empty document */
	struct q_ynode **all;   /* every node, for freeing */
	size_t nall, cap;
	const char *path;       /* for messages */
};

/* Parse a file. Errors are Q_ERR_INPUT "cannot read 'PATH': line L,
 * column C: ...". */
int q__ydoc_load(struct q_ydoc *doc, const char *path, struct q_error *err);
/* Parse a buffer (for tests); `path` is only used in messages. */
int q__ydoc_parse(struct q_ydoc *doc, const char *path, const char *data,
		  size_t len, struct q_error *err);
void q__ydoc_release(struct q_ydoc *doc);

#endif
