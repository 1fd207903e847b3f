/*
 * proc.c: process identity on this node, and proof that a process is gone.
 *
 * Leases (lease.c) must wait a whole lease before they may presume a
 * worker dead, because on another node nothing better can be known. On
 * the reclaimer's own node much more is known: the kernel can say that a
 * pid does not exist. This file turns that into a rule that is never
 * wrong, so the claims of a worker that died on this node are reclaimed
 * at once (and the temporaries of a dead writer removed at once).
 *
 * Design notes
 * 1. A process is (boot id, pid namespace, pid, start time). The boot id
 *    (/proc/sys/kernel/random/boot_id) is random per boot of a kernel, so
 *    it names the node and the boot; containers on one node share it. The
 *    pid namespace (inode of /proc/self/ns/pid) says whose numbering the
 *    pid is in. The start time (field 22 of /proc/<pid>/stat, clock ticks
 *    since boot) tells a process from a later one that reuses its pid.
 * 2. Judged only when boot id and pid namespace both equal the judge's:
 *    then "gone" is certain when kill(pid, 0) says ESRCH, when the pid's
 *    start time differs (reused), or when it is a zombie with no thread
 *    left. kill(pid, 0) is used rather than the presence of /proc/<pid>
 *    because /proc mounted with hidepid hides other users' processes
 *    (group spools) and would make a live worker look dead; kill's ESRCH
 *    does not depend on permissions. When /proc/<pid>/stat cannot be
 *    read (hidepid even reports ENOENT for a live process) and kill()
 *    does not say ESRCH, the answer is "unknown", never "gone".
 * 3. Everything else is "unknown": another node, another namespace, a
 *    record without these fields (an older writer), a /proc that cannot
 *    be read. Callers then keep their old rule (leases, ages).
 * 4. The /proc the judge reads must number processes as its kill() does
 *    (a /proc mounted for another pid namespace does not): otherwise the
 *    judge has no identity and judges nothing.
 * 5. The identity is read once per process (per pid: a forked child
 *    reads its own) under a mutex; temporary names ask for it on every
 *    write, so it must be cheap.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "names_internal.h"
#include "proc_internal.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

/* Read a small file into buf (NUL-terminated): length, or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	return n;
}

/*
 * State (field 3), threads (field 20) and start time (field 22) of
 * /proc/<pid>/stat. The command name (field 2) may hold spaces and ')',
 * so fields are counted from the last ')'.
 */
static int read_stat(long pid, char *state_out, long *threads_out,
		     uint64_t *start_out)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	ssize_t n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EINVAL;
	p += 2;
	*state_out = *p;
	*threads_out = -1;
	for (int field = 3; *p; field++) {
		char *end;
		if (field == 20)
			*threads_out = strtol(p, &end, 10);
		if (field == 22) {
			unsigned long long v = strtoull(p, &end, 10);
			if (end == p)
				return -EINVAL;
			*start_out = v;
			return 0;
		}
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
	}
	return -EINVAL;
}

static int read_self(struct q__proc_id *id)
{
	char buf[64];
	struct stat st;
	char state;
	long threads;
	ssize_t n;

	memset(id, 0, sizeof(*id));
	if ((n = read_small(BOOT_ID_PATH, buf, sizeof(buf))) < 0)
		return (int)n;
	buf[strcspn(buf, "\n")] = '\0';
	if (!buf[0] || strlen(buf) >= sizeof(id->boot_id) ||
	    !q__safe_component(buf))
		return -EINVAL;
	if (stat("/proc/self/ns/pid", &st) != 0)
		return -errno;
	id->pid = (long)getpid();
	/* A /proc mounted for another pid namespace (unshare --pid without
	 * --mount-proc) numbers processes differently from kill(): every
	 * judgement through it could be wrong, so make none. */
	char self[32], want[32];
	ssize_t len = readlink("/proc/self", self, sizeof(self) - 1);
	if (len <= 0)
		return -EINVAL;
	self[len] = '\0';
	snprintf(want, sizeof(want), "%ld", id->pid);
	if (strcmp(self, want) != 0)
		return -EXDEV;
	int ret = read_stat(id->pid, &state, &threads, &id->start);
	if (ret < 0)
		return ret;
	memcpy(id->boot_id, buf, strlen(buf) + 1);   /* length checked */
	id->pid_ns = (uint64_t)st.st_ino;
	return 0;
}

static pthread_mutex_t self_lock = PTHREAD_MUTEX_INITIALIZER;
static struct q__proc_id self_id;
static int self_ret;
static long self_pid;    /* whose identity self_id is (0: none read) */

int q__proc_self(struct q__proc_id *out)
{
	long pid = (long)getpid();
	int ret;

	pthread_mutex_lock(&self_lock);
	if (self_pid != pid) {
		self_ret = read_self(&self_id);
		self_pid = pid;
	}
	ret = self_ret;
	*out = self_id;
	pthread_mutex_unlock(&self_lock);
	return ret;
}

enum q__proc_fate q__proc_fate(const struct q__proc_id *p)
{
	struct q__proc_id self;
	char state;
	long threads;
	uint64_t start;

	if (!p->boot_id[0] || !p->pid_ns || !p->start || p->pid <= 0 ||
	    p->pid > INT_MAX)
		return Q_PROC_UNKNOWN;
	if (q__proc_self(&self) < 0 || strcmp(self.boot_id, p->boot_id) != 0 ||
	    self.pid_ns != p->pid_ns)
		return Q_PROC_UNKNOWN;
	if (kill((pid_t)p->pid, 0) != 0 && errno == ESRCH)
		return Q_PROC_GONE;
	int ret = read_stat(p->pid, &state, &threads, &start);
	if (ret < 0) {
		/* Exited after kill() looked, or hidden by hidepid (which
		 * reports ENOENT for a live process): only kill() decides. */
		if (kill((pid_t)p->pid, 0) != 0 && errno == ESRCH)
			return Q_PROC_GONE;
		return Q_PROC_UNKNOWN;
	}
	if (start != p->start)
		return Q_PROC_GONE;      /* the pid belongs to a later process */
	/* A zombie whose thread group is empty runs no code any more (a
	 * leader that left early while its threads run is not one). */
	if ((state == 'Z' || state == 'X') && threads <= 1)
		return Q_PROC_GONE;
	return Q_PROC_ALIVE;
}

/* FNV-1a, 64 bits: a tag, not a secret. */
static uint64_t node_tag(const struct q__proc_id *id)
{
	char buf[Q_BOOT_ID_MAX + 32];
	uint64_t h = 14695981039346656037ULL;
	int n = snprintf(buf, sizeof(buf), "%s/%llu", id->boot_id,
			 (unsigned long long)id->pid_ns);
	for (int i = 0; i < n; i++) {
		h ^= (unsigned char)buf[i];
		h *= 1099511628211ULL;
	}
	return h;
}

void q__proc_token(char *out, size_t size)
{
	struct q__proc_id self;
	if (q__proc_self(&self) < 0) {
		if (size)
			out[0] = '\0';
		return;
	}
	snprintf(out, size, "%llu-%016llx", (unsigned long long)self.start,
		 (unsigned long long)node_tag(&self));
}

enum q__proc_fate q__proc_token_fate(const char *token, long pid)
{
	struct q__proc_id self, p;
	uint64_t start;
	const char *s;

	if (!q__parse_u64(token, &s, &start) || *s != '-' ||
	    strlen(s + 1) != 16 || strspn(s + 1, "0123456789abcdef") != 16)
		return Q_PROC_UNKNOWN;
	if (q__proc_self(&self) < 0 ||
	    strtoull(s + 1, NULL, 16) != node_tag(&self))
		return Q_PROC_UNKNOWN;
	p = self;
	p.pid = pid;
	p.start = start;
	return q__proc_fate(&p);
}
