/*
 * sysio.c: the system-call table and the fault injector.
 *
 * SPOOLQ_FAULT, read once per process, makes the k-th spool-changing call
 * (counting from 1) misbehave:
 *
 *   SPOOLQ_FAULT=crash:K        _exit(99) just before the K-th call, so the
 *                               spool is left exactly as a SIGKILL there
 *                               would leave it
 *   SPOOLQ_FAULT=fail:K:ERRNO   the K-th call fails with ERRNO (a number or
 *                               one of ENOSPC EDQUOT EIO EROFS EACCES)
 *   SPOOLQ_FAULT=fail:K+:ERRNO  the K-th and every later call fail
 *
 * The crash-point tests (tests/cli) walk K over every call of an operation.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sysio.h"
#include <spoolq/spool.h>

static int libc_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return openat(dirfd, path, flags, mode);
}

const struct q_sysio q__sysio_libc = {
	.openat = libc_openat,
	.write = write,
	.fsync = fsync,
	.close = close,
	.renameat = renameat,
	.linkat = linkat,
	.unlinkat = unlinkat,
	.mkdirat = mkdirat,
	.mknodat = mknodat,
	.utimensat = utimensat,
};

struct q_sysio q__sysio = {
	.openat = libc_openat,
	.write = write,
	.fsync = fsync,
	.close = close,
	.renameat = renameat,
	.linkat = linkat,
	.unlinkat = unlinkat,
	.mkdirat = mkdirat,
	.mknodat = mknodat,
	.utimensat = utimensat,
};

enum fault_mode { FAULT_UNREAD, FAULT_NONE, FAULT_CRASH, FAULT_FAIL };

static struct {
	atomic_int mode;
	unsigned long at;
	int sticky;
	int errnum;
} fault = { FAULT_UNREAD, 0, 0, 0 };

static atomic_ulong calls;

static int errno_by_name(const char *s)
{
	static const struct { const char *name; int value; } names[] = {
		{ "ENOSPC", ENOSPC }, { "EDQUOT", EDQUOT }, { "EIO", EIO },
		{ "EROFS", EROFS },   { "EACCES", EACCES }, { "EINTR", EINTR },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].value;
	return atoi(s);
}

static void read_fault_spec(void)
{
	const char *spec = getenv("SPOOLQ_FAULT");
	int mode = FAULT_NONE;

	if (spec && strncmp(spec, "crash:", 6) == 0) {
		fault.at = strtoul(spec + 6, NULL, 10);
		mode = fault.at ? FAULT_CRASH : FAULT_NONE;
	} else if (spec && strncmp(spec, "fail:", 5) == 0) {
		char *end;
		fault.at = strtoul(spec + 5, &end, 10);
		if (*end == '+') {
			fault.sticky = 1;
			end++;
		}
		fault.errnum = *end == ':' ? errno_by_name(end + 1) : EIO;
		if (fault.errnum <= 0)
			fault.errnum = EIO;
		mode = fault.at ? FAULT_FAIL : FAULT_NONE;
	}
	atomic_store(&fault.mode, mode);
}

/* Called before every spool-changing call: 0 to proceed, or an errno. */
static int fault_point(void)
{
	unsigned long n = atomic_fetch_add(&calls, 1) + 1;
	int mode = atomic_load(&fault.mode);

	if (mode == FAULT_UNREAD) {
		read_fault_spec();
		mode = atomic_load(&fault.mode);
	}
	if (mode == FAULT_CRASH && n == fault.at)
		_exit(99);
	if (mode == FAULT_FAIL &&
	    (n == fault.at || (fault.sticky && n > fault.at)))
		return fault.errnum;
	return 0;
}

void q__sysio_fault_reset(void)
{
	atomic_store(&calls, 0);
	fault.sticky = 0;
	fault.errnum = 0;
	fault.at = 0;
	atomic_store(&fault.mode, FAULT_UNREAD);
}

unsigned long q__sysio_calls(void)
{
	return atomic_load(&calls);
}

#define FAULT_OR_RETURN(...)                   \
	do {                                   \
		int injected_ = fault_point(); \
		if (injected_) {               \
			errno = injected_;     \
			return -1;             \
		}                              \
	} while (0)

int q__openat(int dirfd, const char *path, int flags, mode_t mode)
{
	int fd;

	if (flags & O_CREAT)
		FAULT_OR_RETURN();
	do
		fd = q__sysio.openat(dirfd, path, flags, mode);
	while (fd < 0 && errno == EINTR);
	return fd;
}

int q__write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	FAULT_OR_RETURN();
	while (len > 0) {
		ssize_t n = q__sysio.write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * fsync is never retried after a failure (fsyncgate: the kernel may have
 * dropped the dirty pages); only an interrupted call is repeated.
 */
/* q_fsync_enable: off for a process that chose speed over durability
 * (qworker --no-fsync). */
static bool fsync_enabled = true;

void q_fsync_enable(bool on)
{
	__atomic_store_n(&fsync_enabled, on, __ATOMIC_RELAXED);
}

int q__fsync(int fd)
{
	int ret;

	FAULT_OR_RETURN();
	if (!__atomic_load_n(&fsync_enabled, __ATOMIC_RELAXED))
		return 0;
	do
		ret = q__sysio.fsync(fd);
	while (ret < 0 && errno == EINTR);
	return ret;
}

/* close is not retried on EINTR: on Linux the descriptor is gone anyway. */
int q__close(int fd)
{
	int injected = fault_point();
	int ret = q__sysio.close(fd);
	if (injected) {
		errno = injected;
		return -1;
	}
	return ret;
}

int q__renameat(int olddirfd, const char *oldpath, int newdirfd,
		const char *newpath)
{
	FAULT_OR_RETURN();
	return q__sysio.renameat(olddirfd, oldpath, newdirfd, newpath);
}

int q__linkat(int olddirfd, const char *oldpath, int newdirfd,
	      const char *newpath)
{
	FAULT_OR_RETURN();
	return q__sysio.linkat(olddirfd, oldpath, newdirfd, newpath, 0);
}

int q__unlinkat(int dirfd, const char *path, int flags)
{
	FAULT_OR_RETURN();
	return q__sysio.unlinkat(dirfd, path, flags);
}

int q__mkdirat(int dirfd, const char *path, mode_t mode)
{
	FAULT_OR_RETURN();
	return q__sysio.mkdirat(dirfd, path, mode);
}

int q__create_empty(int dirfd, const char *path, mode_t mode)
{
	FAULT_OR_RETURN();
	if (q__sysio.mknodat(dirfd, path, S_IFREG | (mode & 07777), 0) == 0)
		return 0;
	/* A file system without mknod for regular files (some FUSE ones
	 * answer ENOSYS): create and close instead. */
	if (errno != ENOSYS && errno != EOPNOTSUPP && errno != EPERM)
		return -1;
	int fd = q__sysio.openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL |
					     O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	return q__sysio.close(fd);
}

/* Set a file's times to "now" as the file server sees it (UTIME_NOW). */
int q__touchat(int dirfd, const char *path)
{
	static const struct timespec now[2] = {
		{ .tv_nsec = UTIME_NOW }, { .tv_nsec = UTIME_NOW },
	};

	FAULT_OR_RETURN();
	return q__sysio.utimensat(dirfd, path, now, AT_SYMLINK_NOFOLLOW);
}
