/*
 * sysio.h: every spool-changing system call goes through this table.
 *
 * Like SQLite's VFS, one seam lets tests inject faults: a unit test can
 * swap a function pointer, and any binary honours SPOOLQ_FAULT (see
 * sysio.c) to fail or crash at the k-th spool-changing call. Reads that do
 * not change the spool (openat without O_CREAT, read, fstatat, readdir) call
 * libc directly.
 *
 * All wrappers return what libc returns (-1 with errno set) so call sites
 * read like the system calls they are; they retry EINTR themselves.
 */
#ifndef LIBQ_SYSIO_H
#define LIBQ_SYSIO_H

#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

struct q_sysio {
	int (*openat)(int dirfd, const char *path, int flags, mode_t mode);
	ssize_t (*write)(int fd, const void *buf, size_t len);
	int (*fsync)(int fd);
	int (*close)(int fd);
	int (*renameat)(int olddirfd, const char *oldpath, int newdirfd,
			const char *newpath);
	int (*linkat)(int olddirfd, const char *oldpath, int newdirfd,
		      const char *newpath, int flags);
	int (*unlinkat)(int dirfd, const char *path, int flags);
	int (*mkdirat)(int dirfd, const char *path, mode_t mode);
	int (*mknodat)(int dirfd, const char *path, mode_t mode, dev_t dev);
	int (*utimensat)(int dirfd, const char *path,
			 const struct timespec times[2], int flags);
};

/* The table in use; tests may replace entries and must restore them. */
extern struct q_sysio q__sysio;
/* The libc defaults, for restoring. */
extern const struct q_sysio q__sysio_libc;

int q__openat(int dirfd, const char *path, int flags, mode_t mode);
/* Writes all of buf (retrying short writes and EINTR); 0 or -1/errno. */
int q__write_all(int fd, const void *buf, size_t len);
int q__fsync(int fd);
int q__close(int fd);
int q__renameat(int olddirfd, const char *oldpath, int newdirfd,
		const char *newpath);
int q__linkat(int olddirfd, const char *oldpath, int newdirfd,
	      const char *newpath);
int q__unlinkat(int dirfd, const char *path, int flags);
int q__mkdirat(int dirfd, const char *path, mode_t mode);
/* Create an empty regular file (mknodat with S_IFREG: one call, where
 * open and close are two). -1 with EEXIST when the name exists. */
int q__create_empty(int dirfd, const char *path, mode_t mode);
int q__touchat(int dirfd, const char *path);

/* Forget the fault spec and the call count, and read SPOOLQ_FAULT again
 * (for tests that set it after the process started). */
void q__sysio_fault_reset(void);

/* Number of spool-changing calls made so far by this process. */
unsigned long q__sysio_calls(void);

#endif
