/*
 * test_bigbuf.c: big buffers kept for reuse, split and joined, lent
 * (libq/bigbuf.c). Criterion runs each test in a process of its own, so
 * the keep limit starts at 0 in each.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <spoolq/spoolq.h>

#define MIB ((size_t)1 << 20)

Test(bigbuf, small_requests_are_plain_malloc)
{
	q_big_keep_limit(64 * MIB);
	char *p = q_big_alloc(100);
	cr_assert_not_null(p);
	memset(p, 'x', 100);
	q_big_free(p);
	cr_assert_eq(q_big_kept(), 0, "malloc'd memory is never kept");
	q_big_free(NULL);
}

Test(bigbuf, without_a_limit_nothing_is_kept)
{
	char *p = q_big_alloc(8 * MIB);
	cr_assert_not_null(p);
	cr_assert_eq((uintptr_t)p % (2 * MIB), 0, "aligned to 2 MiB");
	memset(p, 'x', 8 * MIB);
	q_big_free(p);
	cr_assert_eq(q_big_kept(), 0);
}

Test(bigbuf, a_released_buffer_is_given_out_again)
{
	q_big_keep_limit(64 * MIB);
	char *p = q_big_alloc(8 * MIB + 1);
	memset(p, 'a', 8 * MIB + 1);
	q_big_free(p);
	cr_assert_eq(q_big_kept(), 10 * MIB, "rounded up to 2 MiB");
	char *q = q_big_alloc(8 * MIB + 1);
	cr_assert_eq(q, p, "the kept buffer, not fresh memory");
	unsigned long given, reused;
	q_big_counts(&given, &reused);
	cr_assert_eq(given, 2);
	cr_assert_eq(reused, 1);
	cr_assert_eq(q_big_kept(), 0);
	cr_assert_eq(q[8 * MIB], 'a', "kept memory is not cleared");
	q_big_free(q);
}

Test(bigbuf, a_reserve_is_split_and_joined_again)
{
	q_big_keep_limit(64 * MIB);
	cr_assert_eq(q_big_reserve(64 * MIB), 0);
	cr_assert_eq(q_big_kept(), 64 * MIB);
	char *a = q_big_alloc(8 * MIB), *b = q_big_alloc(16 * MIB);
	cr_assert_eq(q_big_kept(), 40 * MIB, "taken from the reserve");
	memset(a, 'a', 8 * MIB);
	memset(b, 'b', 16 * MIB);
	cr_assert(b >= a + 8 * MIB || a >= b + 16 * MIB, "no overlap");
	q_big_free(a);
	q_big_free(b);
	cr_assert_eq(q_big_kept(), 64 * MIB);
	char *all = q_big_alloc(64 * MIB);
	cr_assert_eq(q_big_kept(), 0, "the parts joined into one again");
	memset(all, 'c', 64 * MIB);
	q_big_free(all);
}

Test(bigbuf, the_limit_bounds_what_is_kept)
{
	q_big_keep_limit(20 * MIB);
	char *a = q_big_alloc(16 * MIB), *b = q_big_alloc(16 * MIB);
	q_big_free(a);
	q_big_free(b);
	cr_assert_eq(q_big_kept(), 16 * MIB, "the second did not fit");
	q_big_keep_limit(8 * MIB);
	cr_assert_eq(q_big_kept(), 0, "a lower limit gives memory back");
	cr_assert_eq(q_big_reserve(16 * MIB), -ENOSPC);
	cr_assert_eq(q_big_kept(), 0);
	q_big_keep_limit(64 * MIB);
	cr_assert_eq(q_big_reserve(16 * MIB), 0);
	q_big_trim(0);
	cr_assert_eq(q_big_kept(), 0, "trim keeps the limit, drops memory");
}

static void count_release(void *arg)
{
	(*(int *)arg)++;
}

Test(bigbuf, lent_memory_goes_back_to_its_owner)
{
	static char owned[100];
	int released = 0;
	q_big_lend(owned, count_release, &released);
	q_big_lend(owned, count_release, &released);
	cr_assert(q_big_is_lent(owned));
	q_big_free(owned);
	cr_assert_eq(released, 1, "one release per lending");
	cr_assert(q_big_is_lent(owned), "lent once more");
	q_big_free(owned);
	cr_assert_eq(released, 2);
	cr_assert_not(q_big_is_lent(owned));
}

/* Many threads taking and giving back: every buffer stays theirs alone
 * while they hold it (each checks its own pattern), and the books
 * balance at the end. */
static void *churn(void *arg)
{
	uintptr_t me = (uintptr_t)arg;
	for (int i = 0; i < 50; i++) {
		size_t n = (4 + (me + (uintptr_t)i) % 5 * 2) * MIB;
		unsigned char *p = q_big_alloc(n);
		cr_assert_not_null(p);
		memset(p, (int)me, n);
		for (size_t k = 0; k < n; k += 4096)
			cr_assert_eq(p[k], (unsigned char)me, "shared memory");
		q_big_free(p);
	}
	return NULL;
}

Test(bigbuf, threads_share_the_kept_buffers)
{
	/* Room for everything: no part of the reserve is given back. */
	q_big_keep_limit(256 * MIB);
	cr_assert_eq(q_big_reserve(32 * MIB), 0);
	pthread_t t[4];
	for (uintptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, churn, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	size_t kept = q_big_kept();
	cr_assert_geq(kept, 32 * MIB);
	cr_assert_leq(kept, 256 * MIB, "within the limit");
	unsigned long given, reused;
	q_big_counts(&given, &reused);
	cr_assert_eq(given, 4 * 50);
	cr_assert_gt(reused, 0, "kept memory was given out again");
	/* The reserve's parts came back and joined: 32 MiB in one. */
	char *p = q_big_alloc(32 * MIB);
	cr_assert_eq(q_big_kept(), kept - 32 * MIB, "from what was kept");
	q_big_free(p);
}
