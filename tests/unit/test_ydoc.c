/*
 * test_ydoc.c: reading YAML under limits (libq/ydoc.c).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ydoc.h"

static int parse(const char *text, struct q_ydoc *doc, struct q_error *err)
{
	return q__ydoc_parse(doc, "w.yaml", text, strlen(text), err);
}

static void refused(const char *text, size_t len, const char *want)
{
	struct q_ydoc doc;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_lt(q__ydoc_parse(&doc, "w.yaml", text, len, &err), 0,
		     "accepted: %.60s", text);
	cr_assert_eq(err.kind, Q_ERR_INPUT);
	cr_assert(strstr(err.message, "cannot read 'w.yaml'"), "%s",
		  err.message);
	cr_assert(strstr(err.message, want), "expected '%s' in: %s", want,
		  err.message);
}

Test(ydoc, tree_with_positions)
{
	struct q_ydoc doc;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(parse("a: 1\nb:\n  - x\n  - 'y'\nc: {d: e}\n", &doc, &err),
		     0, "%s", err.message);
	const struct q_ynode *r = doc.root;
	cr_assert_eq(r->kind, Q_YMAP);
	cr_assert_eq(r->n, 6);
	cr_assert_str_eq(r->items[0]->value, "a");
	cr_assert_eq(r->items[3]->kind, Q_YSEQ);
	cr_assert_eq(r->items[3]->n, 2);
	cr_assert(r->items[3]->items[0]->plain);
	cr_assert_not(r->items[3]->items[1]->plain);
	cr_assert_eq(r->items[3]->items[1]->line, 4);
	cr_assert_eq(r->items[3]->items[1]->col, 5);
	cr_assert_eq(r->items[5]->kind, Q_YMAP);
	q__ydoc_release(&doc);
}

Test(ydoc, empty_document_has_no_root)
{
	struct q_ydoc doc;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(parse("", &doc, &err), 0);
	cr_assert_null(doc.root);
	q__ydoc_release(&doc);
	cr_assert_eq(parse("# only a comment\n", &doc, &err), 0);
	cr_assert_null(doc.root);
	q__ydoc_release(&doc);
}

Test(ydoc, syntax_errors_say_where)
{
	refused("a: [1, 2\n", 9, "line 2, column 1:");
	refused("a:\n\t- x\n", 8, "line 2, column 1:");   /* a tab indent */
	refused("a: b: c\n", 8, "line 1, column 5:");
}

Test(ydoc, duplicate_keys)
{
	refused("a: 1\nb: 2\na: 3\n", 15, "key 'a' appears twice (first at "
					    "line 1)");
}

Test(ydoc, tags_and_documents)
{
	refused("a: !!str 1\n", 11, "tags");
	refused("a: 1\n---\nb: 2\n", 14, "one YAML document");
}

Test(ydoc, binary_and_nul)
{
	const char bin[] = "a: 1\n\0\x01\x02";
	refused(bin, sizeof(bin) - 1, "NUL bytes");
}

Test(ydoc, deep_nesting_is_refused_fast)
{
	size_t n = 10000;
	char *text = malloc(2 * n + 2);
	memset(text, '[', n);
	memset(text + n, ']', n);
	text[2 * n] = '\n';
	text[2 * n + 1] = '\0';
	clock_t t0 = clock();
	refused(text, 2 * n + 1, "nested deeper than 64 levels");
	cr_assert_lt((double)(clock() - t0) / CLOCKS_PER_SEC, 1.0);
	free(text);
}

Test(ydoc, aliases_share_and_are_bounded)
{
	struct q_ydoc doc;
	struct q_error err = Q_ERROR_INIT;
	cr_assert_eq(parse("a: &x {k: v}\nb: *x\n", &doc, &err), 0, "%s",
		     err.message);
	cr_assert_eq(doc.root->items[1], doc.root->items[3]);
	q__ydoc_release(&doc);

	/* Billion laughs: 9 levels of 10 aliases each. */
	const char *bomb =
		"a: &a [x,x,x,x,x,x,x,x,x,x]\n"
		"b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
		"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
		"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
		"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
		"f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
		"g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
		"h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
		"i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
	clock_t t0 = clock();
	refused(bomb, strlen(bomb), "expands to more than");
	cr_assert_lt((double)(clock() - t0) / CLOCKS_PER_SEC, 0.5);
	refused("a: *nope\n", 9, "unknown alias '*nope'");
}

Test(ydoc, size_limit)
{
	size_t n = Q_YAML_MAX_BYTES + 1;
	char *text = malloc(n);
	memset(text, '#', n);
	refused(text, n, "more than the limit");
	free(text);
}
