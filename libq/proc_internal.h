/*
 * proc_internal.h: who a process is on this node, and whether a process
 * recorded in the spool is provably gone (libq/proc.c).
 *
 * A process is named by its node's boot id, its pid namespace, its pid and
 * its start time. Another process on the same boot and in the same pid
 * namespace can tell for sure that it is gone (no such pid, a zombie, or
 * the pid reused by a process that started at another time). Anywhere
 * else nothing can be told, and callers fall back to leases and ages.
 */
#ifndef LIBQ_PROC_INTERNAL_H
#define LIBQ_PROC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define Q_BOOT_ID_MAX 40

struct q__proc_id {
	char boot_id[Q_BOOT_ID_MAX];  /* /proc/sys/kernel/random/boot_id */
	uint64_t pid_ns;              /* inode of /proc/self/ns/pid */
	long pid;
	uint64_t start;               /* field 22 of /proc/<pid>/stat */
};

enum q__proc_fate {
	Q_PROC_UNKNOWN,   /* another node or namespace, or fields missing */
	Q_PROC_ALIVE,     /* this node and namespace: running */
	Q_PROC_GONE,      /* this node and namespace: provably not running */
};

/* This process's identity: 0, or -errno when /proc cannot tell (then
 * *out is zeroed and others judge us by leases and ages only). */
int q__proc_self(struct q__proc_id *out);

/* Is the process `p` gone? Judged only when boot id and pid namespace
 * equal ours and every field is known. */
enum q__proc_fate q__proc_fate(const struct q__proc_id *p);

/*
 * The token temporary names carry so that a repair sweep can apply the
 * same rule to them: "<start>-<tag>", the tag a 64-bit hash of boot id
 * and pid namespace in hex; "" when this process has no identity.
 * q__proc_token_fate parses such a token for the process `pid` and judges
 * it (Q_PROC_UNKNOWN for a malformed token or another node/namespace).
 */
void q__proc_token(char *out, size_t size);
enum q__proc_fate q__proc_token_fate(const char *token, long pid);

#endif
