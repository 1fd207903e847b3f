/*
 * names_internal.h: name helpers shared inside libq.
 */
#ifndef LIBQ_NAMES_INTERNAL_H
#define LIBQ_NAMES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest file name component libq creates or accepts from the spool. */
#define Q_COMPONENT_MAX 200

/* A component read from the spool that is safe to use under a dirfd:
 * non-empty, bounded, not '.' or '..', no '/', no control characters. */
bool q__safe_component(const char *name);

/* Parse a decimal u64 (no sign, no leading zeros). With end_out NULL the
 * whole string must be the number; otherwise *end_out is where it stopped. */
bool q__parse_u64(const char *s, const char **end_out, uint64_t *v_out);

/* host.pid.ns.counter.purpose: unique across nodes and threads. */
void q__unique_name(char *out, size_t size, const char *purpose);

#endif
