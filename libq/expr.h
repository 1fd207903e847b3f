/*
 * expr.h: integer expressions in dependency indexes (expr.c).
 */
#ifndef LIBQ_EXPR_H
#define LIBQ_EXPR_H

#include <stdint.h>

/* Evaluate `text`: 0 with *out set, or -1 for any error. */
int q__expr_eval(const char *text, int64_t *out);

#endif
