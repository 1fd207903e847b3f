/*
 * ydoc.c: YAML into a tree of nodes, with limits.
 *
 * Design notes
 * 1. libyaml 0.2.5 has no nesting limit and parses deep nesting in time
 *    quadratic in the depth; counting depth in our event loop and
 *    stopping at Q_YAML_MAX_DEPTH rejects a 10-million-deep document in
 *    milliseconds. The file size is checked before parsing.
 * 2. An alias is the anchored node itself, shared, never copied; the
 *    number of aliases is bounded, and so is the number of nodes a walk
 *    can visit through them (the expansion budget), so a "billion laughs"
 *    document is refused instead of expanded.
 * 3. Tags, multiple documents and duplicate mapping keys are refused: a
 *    workflow has one meaning or none.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "internal.h"
#include "ydoc.h"

struct anchor {
	char *name;
	struct q_ynode *node;
	size_t size;            /* nodes in its subtree, counting aliases */
};

struct builder {
	const char *data;       /* the text, for hints about errors */
	size_t len;
	struct q_ydoc *doc;
	struct q_error *err;
	struct anchor *anchors;
	size_t nanchors, cap_anchors;
	size_t aliases;
	size_t expanded;        /* nodes reachable counting alias expansion */
};

static int fail_at(struct builder *b, unsigned line, unsigned col,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail_at(struct builder *b, unsigned line, unsigned col,
		   const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return q_error_set(b->err, Q_ERR_INPUT, 0,
			   "cannot read '%s': line %u, column %u: %s",
			   b->doc->path, line, col, what);
}

static struct q_ynode *new_node(struct builder *b, enum q_ynode_kind kind,
				const yaml_mark_t *mark)
{
	struct q_ynode *n = q__calloc(1, sizeof(*n));
	n->kind = kind;
	n->line = (unsigned)mark->line + 1;
	n->col = (unsigned)mark->column + 1;
	q__grow(&b->doc->all, &b->doc->cap, b->doc->nall + 1,
		sizeof(*b->doc->all));
	b->doc->all[b->doc->nall++] = n;
	return n;
}

static void add_child(struct q_ynode *parent, struct q_ynode *child)
{
	/* Grow by doubling: the capacity is the next power of two. */
	size_t n = parent->n;
	if (n == 0 || (n & (n - 1)) == 0)
		parent->items = q__reallocarray(parent->items, n ? 2 * n : 1,
						sizeof(*parent->items));
	parent->items[parent->n++] = child;
}

/* Nodes in the subtree of n, counting shared (aliased) subtrees again. */
static size_t subtree_size(struct builder *b, const struct q_ynode *n)
{
	for (size_t i = 0; i < b->nanchors; i++)
		if (b->anchors[i].node == n)
			return b->anchors[i].size;
	size_t size = 1;
	for (size_t i = 0; i < n->n; i++)
		size += subtree_size(b, n->items[i]);
	return size;
}

static int check_anchor_and_tag(struct builder *b, const yaml_event_t *ev,
				const yaml_char_t *tag)
{
	if (tag)
		return fail_at(b, (unsigned)ev->start_mark.line + 1,
			       (unsigned)ev->start_mark.column + 1,
			       "tags ('%s') are not supported in workflows",
			       (const char *)tag);
	return 0;
}

static void remember_anchor(struct builder *b, const yaml_char_t *anchor,
			    struct q_ynode *n)
{
	if (!anchor)
		return;
	q__grow(&b->anchors, &b->cap_anchors, b->nanchors + 1,
		sizeof(*b->anchors));
	b->anchors[b->nanchors++] = (struct anchor){
		q__strdup((const char *)anchor), n, 0
	};
}

/* An anchored collection is complete: record its expanded size. */
static void seal_anchor(struct builder *b, struct q_ynode *n)
{
	for (size_t i = 0; i < b->nanchors; i++)
		if (b->anchors[i].node == n && b->anchors[i].size == 0) {
			size_t size = 1;
			for (size_t k = 0; k < n->n; k++)
				size += subtree_size(b, n->items[k]);
			b->anchors[i].size = size;
		}
}

static int cmp_key(const void *a, const void *b)
{
	const struct q_ynode *x = *(const struct q_ynode *const *)a;
	const struct q_ynode *y = *(const struct q_ynode *const *)b;
	int c = strcmp(x->value, y->value);
	if (c)
		return c;
	return x->line != y->line ? (x->line < y->line ? -1 : 1)
				  : (x->col < y->col ? -1 : x->col > y->col);
}

/*
 * A complete mapping: every key a plain value, none twice. Sorting the
 * keys finds duplicates in n log n (a mapping of a million tasks is
 * fine); the later occurrence is reported.
 */
static int check_keys_unique(struct builder *b, const struct q_ynode *m)
{
	size_t n = m->n / 2;
	const struct q_ynode **keys = q__calloc(n + 1, sizeof(*keys));
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		keys[i] = m->items[2 * i];
		if (keys[i]->kind != Q_YSCALAR)
			ret = fail_at(b, keys[i]->line, keys[i]->col,
				      "a mapping key must be a plain value");
	}
	if (ret == 0 && n > 1) {
		qsort(keys, n, sizeof(*keys), cmp_key);
		for (size_t i = 1; i < n && ret == 0; i++)
			if (strcmp(keys[i - 1]->value, keys[i]->value) == 0)
				ret = fail_at(b, keys[i]->line, keys[i]->col,
					      "key '%s' appears twice (first "
					      "at line %u)", keys[i]->value,
					      keys[i - 1]->line);
	}
	free(keys);
	return ret;
}

static int build(struct builder *b, yaml_parser_t *parser)
{
	struct q_ynode *stack[Q_YAML_MAX_DEPTH + 1];
	int depth = 0, documents = 0, ret = 0;
	yaml_event_t ev;

	for (;;) {
		if (!yaml_parser_parse(parser, &ev)) {
			size_t at = parser->problem_mark.index;
			bool tab = at < b->len && b->data[at] == '\t';
			return fail_at(b, (unsigned)parser->problem_mark.line + 1,
				       (unsigned)parser->problem_mark.column + 1,
				       "%s%s%s%s", parser->problem
						? parser->problem : "YAML error",
				       parser->context ? " " : "",
				       parser->context ? parser->context : "",
				       tab ? " (a tab: YAML indents with "
					     "spaces only)" : "");
		}
		struct q_ynode *node = NULL;
		/* yaml_event_delete clears the event: remember what we need. */
		bool entering = ev.type == YAML_SEQUENCE_START_EVENT ||
				ev.type == YAML_MAPPING_START_EVENT;
		unsigned line = (unsigned)ev.start_mark.line + 1;
		unsigned col = (unsigned)ev.start_mark.column + 1;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			return 0;
		case YAML_DOCUMENT_START_EVENT:
			if (++documents > 1)
				ret = fail_at(b, line, col,
					      "a workflow is one YAML document; "
					      "remove the second '---'");
			break;
		case YAML_SCALAR_EVENT:
			if ((ret = check_anchor_and_tag(
				     b, &ev, ev.data.scalar.plain_implicit ||
						     ev.data.scalar.quoted_implicit
					     ? NULL
					     : ev.data.scalar.tag)) < 0)
				break;
			node = new_node(b, Q_YSCALAR, &ev.start_mark);
			node->value = q__strndup((const char *)ev.data.scalar.value,
						 ev.data.scalar.length);
			if (strlen(node->value) != ev.data.scalar.length)
				ret = fail_at(b, line, col,
					      "a value contains a NUL byte");
			node->plain = ev.data.scalar.style ==
				      YAML_PLAIN_SCALAR_STYLE;
			remember_anchor(b, ev.data.scalar.anchor, node);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: {
			bool seq = ev.type == YAML_SEQUENCE_START_EVENT;
			const yaml_char_t *tag = seq ? ev.data.sequence_start.tag
						     : ev.data.mapping_start.tag;
			int implicit = seq ? ev.data.sequence_start.implicit
					   : ev.data.mapping_start.implicit;
			if ((ret = check_anchor_and_tag(b, &ev, implicit ? NULL
									  : tag)) < 0)
				break;
			if (depth == Q_YAML_MAX_DEPTH) {
				ret = fail_at(b, line, col,
					      "nested deeper than %d levels",
					      Q_YAML_MAX_DEPTH);
				break;
			}
			node = new_node(b, seq ? Q_YSEQ : Q_YMAP, &ev.start_mark);
			remember_anchor(b, seq ? ev.data.sequence_start.anchor
					       : ev.data.mapping_start.anchor,
					node);
			break;
		}
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0) {
				struct q_ynode *done = stack[--depth];
				if (done->kind == Q_YMAP && done->n % 2)
					ret = fail_at(b, line, col,
						      "mapping without a value");
				else if (done->kind == Q_YMAP)
					ret = check_keys_unique(b, done);
				seal_anchor(b, done);
			}
			break;
		case YAML_ALIAS_EVENT: {
			const char *name = (const char *)ev.data.alias.anchor;
			struct anchor *a = NULL;
			for (size_t i = b->nanchors; i-- > 0;)
				if (strcmp(b->anchors[i].name, name) == 0) {
					a = &b->anchors[i];
					break;
				}
			if (!a) {
				ret = fail_at(b, line, col,
					      "unknown alias '*%s'", name);
				break;
			}
			if (a->size == 0 && a->node->kind != Q_YSCALAR) {
				ret = fail_at(b, line, col,
					      "alias '*%s' inside its own "
					      "anchor", name);
				break;
			}
			if (++b->aliases > Q_YAML_MAX_ALIASES) {
				ret = fail_at(b, line, col,
					      "more than %d aliases",
					      Q_YAML_MAX_ALIASES);
				break;
			}
			node = a->node;
			break;
		}
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (ret < 0)
			return ret;
		if (!node)
			continue;
		b->expanded += subtree_size(b, node);
		if (b->expanded > Q_YAML_MAX_NODES)
			return fail_at(b, line, col,
				       "the document expands to more than %d "
				       "nodes (aliases?)", Q_YAML_MAX_NODES);
		if (depth == 0) {
			if (b->doc->root)
				return fail_at(b, line, col,
					       "a second top-level value");
			b->doc->root = node;
		} else {
			add_child(stack[depth - 1], node);
		}
		/* A new collection (not an alias of one) is entered. */
		if (entering)
			stack[depth++] = node;
	}
}

int q__ydoc_parse(struct q_ydoc *doc, const char *path, const char *data,
		  size_t len, struct q_error *err)
{
	yaml_parser_t parser;
	struct builder b = { .data = data, .len = len, .doc = doc,
			     .err = err };
	int ret;

	memset(doc, 0, sizeof(*doc));
	doc->path = path;
	if (len > Q_YAML_MAX_BYTES)
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "cannot read '%s': it is %zu bytes, more "
				   "than the limit of %zu", path, len,
				   Q_YAML_MAX_BYTES);
	if (memchr(data, '\0', len))
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "cannot read '%s': it contains NUL bytes "
				   "(a binary file?)", path);
	if (!yaml_parser_initialize(&parser))
		return q_error_set(err, Q_ERR_SYSTEM, ENOMEM,
				   "cannot start the YAML parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	ret = build(&b, &parser);
	yaml_parser_delete(&parser);
	for (size_t i = 0; i < b.nanchors; i++)
		free(b.anchors[i].name);
	free(b.anchors);
	if (ret < 0)
		q__ydoc_release(doc);
	return ret;
}

int q__ydoc_load(struct q_ydoc *doc, const char *path, struct q_error *err)
{
	memset(doc, 0, sizeof(*doc));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "workflow file '%s' does not exist",
					   path);
		return q_error_set(err, Q_ERR_INPUT, errno,
				   "cannot open workflow file '%s'", path);
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "workflow file '%s' is not a regular file",
				   path);
	}
	if ((uint64_t)st.st_size > Q_YAML_MAX_BYTES) {
		close(fd);
		return q_error_set(err, Q_ERR_INPUT, 0,
				   "cannot read '%s': it is %lld bytes, more "
				   "than the limit of %zu (split the workflow, "
				   "or use arrays)", path,
				   (long long)st.st_size, Q_YAML_MAX_BYTES);
	}
	size_t len = (size_t)st.st_size, got = 0;
	char *data = q__malloc(len + 1);
	while (got < len) {
		ssize_t n = read(fd, data + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	int ret = q__ydoc_parse(doc, path, data, got, err);
	free(data);
	return ret;
}

void q__ydoc_release(struct q_ydoc *doc)
{
	for (size_t i = 0; i < doc->nall; i++) {
		free(doc->all[i]->value);
		free(doc->all[i]->items);
		free(doc->all[i]);
	}
	free(doc->all);
	doc->all = NULL;
	doc->nall = doc->cap = 0;
	doc->root = NULL;
}
