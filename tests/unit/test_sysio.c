/*
 * test_sysio.c: the system-call seam (libq/sysio.c): empty marker files.
 */
#include <errno.h>
#include <sys/stat.h>

#include "helpers.h"
#include "spool_internal.h"
#include "sysio.h"

static int no_mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
	(void)dirfd, (void)path, (void)mode, (void)dev;
	errno = ENOSYS;
	return -1;
}

static void expect_empty_file(struct tspool *t, const char *name)
{
	struct stat st;
	cr_assert_eq(fstatat(t->sp->dirfd, name, &st, AT_SYMLINK_NOFOLLOW), 0,
		     "%s", name);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_size, 0);
	cr_assert_eq(st.st_mode & 077, 0, "mode %o", st.st_mode & 0777);
}

Test(sysio, create_empty_makes_an_empty_regular_file_once)
{
	struct tspool t;
	tspool_init(&t);
	cr_assert_eq(q__create_empty(t.sp->dirfd, "marker", 0600), 0);
	expect_empty_file(&t, "marker");
	errno = 0;
	cr_assert_eq(q__create_empty(t.sp->dirfd, "marker", 0600), -1);
	cr_assert_eq(errno, EEXIST);
	tspool_fini(&t);
}

/* Where mknod of a regular file is not supported, open and close. */
Test(sysio, create_empty_falls_back_without_mknod)
{
	struct tspool t;
	tspool_init(&t);
	q__sysio.mknodat = no_mknodat;
	int ret = q__create_empty(t.sp->dirfd, "marker", 0600);
	int e = errno;
	errno = 0;
	int again = q__create_empty(t.sp->dirfd, "marker", 0600);
	int e2 = errno;
	q__sysio.mknodat = q__sysio_libc.mknodat;
	cr_assert_eq(ret, 0, "%s", strerror(e));
	expect_empty_file(&t, "marker");
	cr_assert_eq(again, -1);
	cr_assert_eq(e2, EEXIST);
	tspool_fini(&t);
}

static int fsyncs;
static int count_fsync(int fd)
{
	(void)fd;
	fsyncs++;
	return 0;
}

/* qworker --no-fsync: q__fsync does not reach the disk, and is back on
 * when enabled again. */
Test(sysio, fsync_can_be_turned_off)
{
	q__sysio.fsync = count_fsync;
	cr_assert_eq(q__fsync(1), 0);
	cr_assert_eq(fsyncs, 1);
	q_fsync_enable(false);
	cr_assert_eq(q__fsync(1), 0);
	cr_assert_eq(fsyncs, 1, "no fsync while off");
	q_fsync_enable(true);
	cr_assert_eq(q__fsync(1), 0);
	cr_assert_eq(fsyncs, 2);
	q__sysio.fsync = q__sysio_libc.fsync;
}
