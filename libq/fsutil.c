/*
 * fsutil.c: confined path resolution and the atomic-write recipe.
 *
 * Design notes
 * 1. Every path below the spool is resolved with RESOLVE_BENEATH and
 *    RESOLVE_NO_SYMLINKS (openat2, Linux 5.6+), or by walking one component
 *    at a time with O_NOFOLLOW, so a symbolic link planted anywhere in the
 *    spool is never followed.
 * 2. The recipe for every file that becomes visible: create under tmp/
 *    with O_EXCL, write, fsync, close (all checked), then rename or link it
 *    into place and fsync the destination directory. A failed fsync or
 *    close abandons the temporary: it is never fsynced again or published
 *    (fsyncgate).
 * 3. rename and link over NFS may report failure after succeeding (a
 *    retransmitted request). The publish helpers then decide by looking:
 *    the destination names are unique to the caller, so "the temporary is
 *    gone and the destination is ours" means it happened.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "names_internal.h"
#include "spool_internal.h"
#include "sysio.h"

static int openat2_beneath(int dirfd, const char *rel, int flags)
{
#ifdef SYS_openat2
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};
	long fd;
	do
		fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	while (fd < 0 && errno == EINTR);
	return (int)fd;
#else
	errno = ENOSYS;
	return -1;
#endif
}

/* Fallback: one component at a time, each opened with O_NOFOLLOW. */
static int walk_beneath(int dirfd, const char *rel, int flags)
{
	char part[Q_COMPONENT_MAX + 1];
	const char *p = rel;
	int cur = dirfd;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n > Q_COMPONENT_MAX) {
			errno = EINVAL;
			goto fail;
		}
		memcpy(part, p, n);
		part[n] = '\0';
		if (!q__safe_component(part)) {
			errno = EINVAL;
			goto fail;
		}
		int last = !slash;
		int f = last ? flags : O_RDONLY | O_DIRECTORY;
		int fd = openat(cur, part, f | O_CLOEXEC | O_NOFOLLOW);
		int saved = errno;
		if (cur != dirfd)
			close(cur);
		errno = saved;
		if (fd < 0)
			return -1;
		cur = fd;
		if (last)
			return cur;
		p = slash + 1;
	}
fail:
	if (cur != dirfd) {
		int saved = errno;
		close(cur);
		errno = saved;
	}
	return -1;
}

/*
 * Every component non-empty, not '.' or '..', no control characters.
 * openat2 alone would accept "a/../b" and "a//b" (they stay beneath), but
 * the contract refuses '..' anywhere, and the walk below refuses all of
 * these; checking first makes both paths give the same answer.
 */
static bool rel_ok(const char *rel)
{
	char part[Q_COMPONENT_MAX + 1];

	for (const char *p = rel;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n > Q_COMPONENT_MAX)
			return false;
		memcpy(part, p, n);
		part[n] = '\0';
		if (!q__safe_component(part))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

static int open_beneath(int dirfd, const char *rel, int flags)
{
	/* Atomic: runner threads open inputs concurrently. */
	static atomic_int have_openat2 = 1;

	if (!rel_ok(rel)) {
		errno = EINVAL;
		return -1;
	}
	if (have_openat2) {
		int fd = openat2_beneath(dirfd, rel, flags);
		if (fd >= 0 || errno != ENOSYS)
			return fd;
		have_openat2 = 0;
	}
	return walk_beneath(dirfd, rel, flags);
}

int q__open_dir_beneath(int dirfd, const char *rel)
{
	return open_beneath(dirfd, rel, O_RDONLY | O_DIRECTORY);
}

int q__open_file_beneath(int dirfd, const char *rel)
{
	int fd = open_beneath(dirfd, rel, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	/* Refuse FIFOs, devices and sockets planted in the spool. */
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

static const char *type_text(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "not a regular file";
}

int q__open_file_sized(int dirfd, const char *rel, uint64_t size,
		       const char *shown, struct q_error *err)
{
	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
	int fd = open_beneath(dirfd, rel, O_RDONLY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		if (e == ELOOP || e == EXDEV)
			return q_error_set(err, Q_ERR_INPUT, 0,
					   "refusing '%s': it is a symbolic "
					   "link, and links in a spool are "
					   "never followed (remove it)", shown);
		return q_error_set(err, Q_ERR_SYSTEM, e, "cannot open '%s'",
				   shown);
	}
	struct stat st;
	int ret = 0;
	if (fstat(fd, &st) != 0)
		ret = q_error_set(err, Q_ERR_SYSTEM, errno,
				  "cannot inspect '%s'", shown);
	else if (!S_ISREG(st.st_mode))
		ret = q_error_set(err, Q_ERR_INPUT, 0,
				  "refusing '%s': it is %s, not a regular "
				  "file, so it was not written by spoolq "
				  "(remove it)", shown, type_text(st.st_mode));
	else if (size != Q_SIZE_ANY && (uint64_t)st.st_size != size)
		ret = q_error_set(err, Q_ERR_INPUT, 0,
				  "refusing '%s': it holds %llu bytes but its "
				  "record says %llu, so it was replaced or "
				  "damaged after it was written (it is not "
				  "read)", shown,
				  (unsigned long long)st.st_size,
				  (unsigned long long)size);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

DIR *q__opendir_at(int dirfd, const char *rel)
{
	int fd = rel ? q__open_dir_beneath(dirfd, rel)
		     : fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (!d) {
		int saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	/* A duplicate shares its file offset with the original. */
	rewinddir(d);
	return d;
}

int q__fsync_dir(int dirfd)
{
	return q__fsync(dirfd);
}

int q__tmp_create(struct q_spool *sp, const char *purpose, char *name_out,
		  size_t name_size)
{
	q__unique_name(name_out, name_size, purpose);
	return q__openat(sp->tmpfd, name_out,
			 O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			 sp->file_mode);
}

void q__tmp_remove(struct q_spool *sp, const char *name)
{
	if (name && name[0])
		(void)q__unlinkat(sp->tmpfd, name, 0);
}

int q__tmp_write(struct q_spool *sp, const char *purpose, const void *data,
		 size_t len, char *name_out, size_t name_size,
		 struct q_error *err)
{
	int fd = q__tmp_create(sp, purpose, name_out, name_size);
	if (fd < 0)
		return q_error_set(err, Q_ERR_SYSTEM, errno,
				   "cannot create a file in '%s/tmp'",
				   sp->path);
	if (q__write_all(fd, data, len) != 0 || q__fsync(fd) != 0) {
		int saved = errno;
		(void)q__close(fd);
		q__tmp_remove(sp, name_out);
		return q_error_set(err, Q_ERR_SYSTEM, saved,
				   "cannot write '%s/tmp/%s'", sp->path,
				   name_out);
	}
	if (q__close(fd) != 0) {
		int saved = errno;
		q__tmp_remove(sp, name_out);
		return q_error_set(err, Q_ERR_SYSTEM, saved,
				   "cannot write '%s/tmp/%s'", sp->path,
				   name_out);
	}
	return 0;
}

static bool exists_at(int dirfd, const char *name)
{
	struct stat st;
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int q__publish_replace(struct q_spool *sp, const char *tmpname, int destfd,
		       const char *dest)
{
	if (q__renameat(sp->tmpfd, tmpname, destfd, dest) != 0) {
		int saved = errno;
		/* Happened after all? (NFS retransmit.) */
		if (!(saved != EXDEV && !exists_at(sp->tmpfd, tmpname) &&
		      exists_at(destfd, dest)))
			return -saved;
	}
	if (q__fsync_dir(destfd) != 0)
		return -errno;
	return 0;
}

int q__publish_first(struct q_spool *sp, const char *tmpname, int destfd,
		     const char *dest)
{
	if (q__linkat(sp->tmpfd, tmpname, destfd, dest) != 0) {
		int saved = errno;
		/* The link may exist because ours succeeded (NFS retransmit):
		 * our temporary then has two links. */
		struct stat st;
		if (fstatat(sp->tmpfd, tmpname, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    st.st_nlink < 2) {
			return -saved;
		}
		struct stat dst;
		if (fstatat(destfd, dest, &dst, AT_SYMLINK_NOFOLLOW) != 0 ||
		    dst.st_ino != st.st_ino || dst.st_dev != st.st_dev)
			return -saved;
	}
	if (q__fsync_dir(destfd) != 0)
		return -errno;
	return 0;
}

int q__read_file(int dirfd, const char *rel, size_t max, char **data_out,
		 size_t *len_out)
{
	int fd = q__open_file_beneath(dirfd, rel);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int saved = errno;
		close(fd);
		return -saved;
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	size_t cap = (size_t)st.st_size + 1, len = 0;
	char *data = q__malloc(cap);
	for (;;) {
		if (len + 1 >= cap) {
			if (cap > max + 1) {
				free(data);
				close(fd);
				return -EFBIG;
			}
			cap *= 2;
			data = q__realloc(data, cap);
		}
		ssize_t n = read(fd, data + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int saved = errno;
			free(data);
			close(fd);
			return -saved;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > max) {
		free(data);
		return -EFBIG;
	}
	data[len] = '\0';
	*data_out = data;
	if (len_out)
		*len_out = len;
	return 0;
}

int q__spool_mkdirat(const struct q_spool *sp, int dirfd, const char *name)
{
	if (q__mkdirat(dirfd, name, sp->dir_mode) != 0)
		return -1;
	if (sp->group && fchmodat(dirfd, name, sp->dir_mode, 0) != 0)
		return -1;
	return 0;
}

int q__rmdir(int dirfd, const char *name)
{
	if (q__unlinkat(dirfd, name, AT_REMOVEDIR) != 0)
		return errno == EEXIST ? -ENOTEMPTY : -errno;
	return 0;
}

int q__dir_is_empty(int dirfd, const char *rel)
{
	DIR *d = q__opendir_at(dirfd, rel);
	if (!d)
		return -errno;
	int empty = 1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

int q_spool_tmp_create(struct q_spool *sp, const char *purpose,
		       char *name_out, size_t name_size)
{
	int fd = q__tmp_create(sp, purpose, name_out, name_size);
	return fd < 0 ? -errno : fd;
}

void q_spool_tmp_remove(struct q_spool *sp, const char *name)
{
	q__tmp_remove(sp, name);
}
