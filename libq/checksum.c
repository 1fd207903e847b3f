/*
 * checksum.c: the checksum of big outputs (records' `sum` lines).
 *
 * XXH3-64 from Debian's libxxhash: a big result is checked on every path
 * it travels (read from its file, pulled over MPI), so the hash must run
 * far faster than the bytes move: XXH3 does tens of GB/s per core, SHA-256
 * (which pure tasks' keys use) well under one. It detects damage, not
 * malice: a spool's files are trusted to its owner (docs/security.md).
 */
#include <stdlib.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "internal.h"
#include "spool_internal.h"

uint64_t q_checksum(const void *data, size_t len)
{
	return XXH3_64bits(data, len);
}

struct q_sum {
	XXH3_state_t *state;
};

struct q_sum *q__sum_new(void)
{
	struct q_sum *s = q__calloc(1, sizeof(*s));
	s->state = XXH3_createState();
	if (!s->state)
		abort();
	XXH3_64bits_reset(s->state);
	return s;
}

void q__sum_add(struct q_sum *s, const void *data, size_t len)
{
	XXH3_64bits_update(s->state, data, len);
}

uint64_t q__sum_value(const struct q_sum *s)
{
	return XXH3_64bits_digest(s->state);
}

void q__sum_free(struct q_sum *s)
{
	if (!s)
		return;
	XXH3_freeState(s->state);
	free(s);
}
