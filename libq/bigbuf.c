/*
 * bigbuf.c: memory for big results and inputs (spoolq/bigbuf.h).
 *
 * Design notes
 * 1. Why keep memory at all: the first touch of fresh memory is the
 *    slow part of receiving a big result. On this VM (virtio-balloon with
 *    free page reporting: memory a process frees goes back to the host)
 *    faulting in 256 MiB took 36-47 ms when the pages were still warm
 *    and 440-470 ms when they were not, against about 80 ms for Open
 *    MPI to move the bytes. A worker keeps what it released and gives
 *    it out again, so it pays for its memory once, not per task.
 * 2. Buffers are anonymous mappings in multiples of 2 MiB, aligned to
 *    2 MiB and marked for transparent huge pages (Debian offers them
 *    only on request): 128 faults for 256 MiB rather than 65,536, all
 *    taken at once with MADV_POPULATE_WRITE (faulted one by one inside
 *    the copy that fills the buffer, process_vm_readv for an MPI pull,
 *    they ran 2-3x slower here). Being mappings, a kept buffer can be
 *    split to serve a smaller request and its parts unmapped on their
 *    own, and neighbours released again are joined: one reserve
 *    (q_big_reserve) serves any mix of sizes.
 * 3. Small requests are plain malloc: big buffers are few, so one list
 *    under one lock is enough, and q_big_free tells a big buffer by
 *    finding it there; anything it does not find came from malloc.
 * 4. Lending: the MPI store lends a result it holds to this worker's own
 *    consumer instead of copying it (a copy of 256 MiB into fresh memory
 *    was 280-420 ms of a hand-over). A lending is an entry naming the
 *    memory and who to tell; q_big_free answers the first one found.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <spoolq/bigbuf.h>

#include "internal.h"

#define HUGE_PAGE ((size_t)2 << 20)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23   /* Linux 5.14; older kernels say EINVAL */
#endif

/* A mapping of ours: in use, or kept for reuse. */
struct region {
	char *base;
	size_t size;
	bool kept;
	struct region *next;
};

struct lending {
	const void *p;
	void (*release)(void *arg);
	void *arg;
	struct lending *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct region *regions;
static struct lending *lendings;
static size_t kept_bytes, keep_limit;
static unsigned long given, reused;

static size_t round_up(size_t n)
{
	return (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

/* Fresh memory, design note 2; NULL when there is none. */
static char *map_fresh(size_t size)
{
	size_t over = size + HUGE_PAGE;
	char *p = mmap(NULL, over, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	char *base = (char *)(((uintptr_t)p + HUGE_PAGE - 1) &
			      ~(uintptr_t)(HUGE_PAGE - 1));
	if (base > p)
		munmap(p, (size_t)(base - p));
	size_t tail = (size_t)(p + over - (base + size));
	if (tail)
		munmap(base + size, tail);
	(void)madvise(base, size, MADV_HUGEPAGE);
	(void)madvise(base, size, MADV_POPULATE_WRITE);
	return base;
}

/* The smallest kept region of at least `size` bytes (lock held). */
static struct region *best_fit_locked(size_t size)
{
	struct region *pick = NULL;
	for (struct region *r = regions; r; r = r->next)
		if (r->kept && r->size >= size &&
		    (!pick || r->size < pick->size))
			pick = r;
	return pick;
}

/* Take `size` bytes from the front of kept region r (lock held); the
 * rest stays kept as a region of its own. */
static void take_locked(struct region *r, size_t size)
{
	kept_bytes -= r->size;
	r->kept = false;
	if (r->size > size) {
		struct region *rest = q__malloc(sizeof(*rest));
		*rest = (struct region){ r->base + size, r->size - size, true,
					 r->next };
		r->next = rest;
		r->size = size;
		kept_bytes += rest->size;
	}
}

static struct region *add_locked(char *base, size_t size, bool kept)
{
	struct region *r = q__malloc(sizeof(*r));
	*r = (struct region){ base, size, kept, regions };
	regions = r;
	if (kept)
		kept_bytes += size;
	return r;
}

static void remove_locked(struct region *r)
{
	for (struct region **pp = &regions; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	if (r->kept)
		kept_bytes -= r->size;
	free(r);
}

/* Join kept region r with kept neighbours (lock held). */
static void join_locked(struct region *r)
{
	for (bool joined = true; joined;) {
		joined = false;
		for (struct region *o = regions; o; o = o->next) {
			if (o == r || !o->kept)
				continue;
			if (o->base + o->size == r->base) {
				r->base = o->base;
			} else if (r->base + r->size != o->base) {
				continue;
			}
			r->size += o->size;
			kept_bytes += o->size;   /* remove_locked takes it off */
			remove_locked(o);
			joined = true;
			break;
		}
	}
}

/* Give kept regions back until at most `bytes` are kept (lock held). */
static void trim_locked(size_t bytes)
{
	while (kept_bytes > bytes) {
		struct region *big = NULL;
		for (struct region *r = regions; r; r = r->next)
			if (r->kept && (!big || r->size > big->size))
				big = r;
		if (!big)
			break;
		munmap(big->base, big->size);
		remove_locked(big);
	}
}

void *q_big_alloc(size_t n)
{
	if (n < Q_BIG_MIN)
		return malloc(n ? n : 1);
	size_t size = round_up(n);
	if (size < n)
		return NULL;
	pthread_mutex_lock(&lock);
	struct region *r = best_fit_locked(size);
	if (r) {
		take_locked(r, size);
		given++;
		reused++;
		pthread_mutex_unlock(&lock);
		return r->base;
	}
	pthread_mutex_unlock(&lock);
	char *base = map_fresh(size);
	if (!base)
		return NULL;
	pthread_mutex_lock(&lock);
	add_locked(base, size, false);
	given++;
	pthread_mutex_unlock(&lock);
	return base;
}

/* Answer one lending of p (design note 4): true when there was one. */
static bool answer_lending(const void *p)
{
	pthread_mutex_lock(&lock);
	struct lending *l = NULL;
	for (struct lending **pp = &lendings; *pp; pp = &(*pp)->next)
		if ((*pp)->p == p) {
			l = *pp;
			*pp = l->next;
			break;
		}
	pthread_mutex_unlock(&lock);
	if (!l)
		return false;
	l->release(l->arg);
	free(l);
	return true;
}

void q_big_free(void *p)
{
	if (!p || answer_lending(p))
		return;
	pthread_mutex_lock(&lock);
	struct region *r = regions;
	while (r && (r->base != p || r->kept))
		r = r->next;
	if (!r) {
		pthread_mutex_unlock(&lock);
		free(p);
		return;
	}
	if (kept_bytes + r->size <= keep_limit) {
		r->kept = true;
		kept_bytes += r->size;
		join_locked(r);
	} else {
		munmap(r->base, r->size);
		remove_locked(r);
	}
	pthread_mutex_unlock(&lock);
}

void q_big_keep_limit(size_t bytes)
{
	pthread_mutex_lock(&lock);
	keep_limit = bytes;
	trim_locked(bytes);
	pthread_mutex_unlock(&lock);
}

void q_big_trim(size_t bytes)
{
	pthread_mutex_lock(&lock);
	trim_locked(bytes);
	pthread_mutex_unlock(&lock);
}

size_t q_big_kept(void)
{
	pthread_mutex_lock(&lock);
	size_t n = kept_bytes;
	pthread_mutex_unlock(&lock);
	return n;
}

void q_big_counts(unsigned long *given_out, unsigned long *reused_out)
{
	pthread_mutex_lock(&lock);
	*given_out = given;
	*reused_out = reused;
	pthread_mutex_unlock(&lock);
}

int q_big_reserve(size_t bytes)
{
	size_t size = round_up(bytes);
	if (size == 0)
		return 0;
	pthread_mutex_lock(&lock);
	bool room = size >= bytes && kept_bytes + size <= keep_limit;
	pthread_mutex_unlock(&lock);
	if (!room)
		return -ENOSPC;
	char *base = map_fresh(size);
	if (!base)
		return -ENOMEM;
	pthread_mutex_lock(&lock);
	join_locked(add_locked(base, size, true));
	pthread_mutex_unlock(&lock);
	return 0;
}

void q_big_lend(const void *p, void (*release)(void *arg), void *arg)
{
	struct lending *l = q__malloc(sizeof(*l));
	*l = (struct lending){ p, release, arg, NULL };
	pthread_mutex_lock(&lock);
	l->next = lendings;
	lendings = l;
	pthread_mutex_unlock(&lock);
}

bool q_big_is_lent(const void *p)
{
	pthread_mutex_lock(&lock);
	struct lending *l = lendings;
	while (l && l->p != p)
		l = l->next;
	pthread_mutex_unlock(&lock);
	return l != NULL;
}
