/*
 * mpi_raw: what plain MPI moves, as the ceiling for spoolq's MPI fast
 * path (issue 6: big results pulled from the rank that holds them).
 *
 *   mpirun -n 2 mpi_raw [-r R] [-b B] [MiB ...]
 *
 * p2p: for each size (MiB, default 1 16 64 256), rank 0 sends the buffer
 * to rank 1 with MPI_Send/MPI_Recv in chunks of at most 64 MiB (an MPI
 * count is an int), and rank 1 answers with 1 byte; one warm-up message,
 * then R timed repetitions (default 5), each timed on rank 0 from the
 * first send to the acknowledgement. Then R more into fresh memory
 * (p2p_fresh): rank 1 receives each into a new anonymous mapping that
 * nothing touched before, as a program that allocates per message does,
 * so its page faults are timed. Other ranks wait in a barrier that
 * sleeps, so they take no core from ranks 0 and 1.
 *
 * bcast: B MiB (default 256) from rank 0 to every rank with MPI_Bcast,
 * in the same chunks; one warm-up, then R repetitions, each timed on
 * rank 0 from a barrier before to a barrier after.
 *
 * One line per measurement, GB = 1e9 bytes, a rate being the buffer's
 * size over the time (for bcast, not multiplied by the receivers):
 *
 *   p2p 64 MiB: median 5.12 GB/s (min 4.90 max 5.30)
 *   p2p_fresh 64 MiB: median 1.20 GB/s (min 0.90 max 1.30)
 *   bcast 256 MiB to 4 ranks: median 2.01 GB/s (min 1.90 max 2.10)
 *
 * The warm-up carries one byte pattern and the timed repetitions
 * another, and every receiver checks the whole buffer afterwards (not
 * timed): each byte must have come from a timed repetition.
 */
#include <getopt.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define MIB ((size_t)1 << 20)
#define CHUNK (64 * MIB)
#define MAX_SIZES 64
#define MAX_MIB 65536
#define TAG_DATA 1
#define TAG_ACK 2

static int rank, nranks;

/* A failed MPI call: say which and where, and stop every rank. */
static void check(int rc, const char *what)
{
	if (rc == MPI_SUCCESS)
		return;
	char msg[MPI_MAX_ERROR_STRING];
	int len = 0;
	if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
		snprintf(msg, sizeof(msg), "error %d", rc);
	fprintf(stderr, "mpi_raw: rank %d: %s failed: %s\n", rank, what, msg);
	MPI_Abort(MPI_COMM_WORLD, 1);
}

static void die(const char *msg)
{
	fprintf(stderr, "mpi_raw: rank %d: %s\n", rank, msg);
	MPI_Abort(MPI_COMM_WORLD, 1);
}

static unsigned char *alloc(size_t len)
{
	unsigned char *p = malloc(len);
	if (!p)
		die("out of memory");
	/* Touch every page now, so no page fault is timed. */
	memset(p, 0, len);
	return p;
}

/* Byte i of pattern `salt`: not constant over any 251 bytes. */
static void fill(unsigned char *p, size_t len, unsigned salt)
{
	unsigned v = salt;
	for (size_t i = 0; i < len; i++) {
		p[i] = (unsigned char)v;
		v = v == 250 + salt ? salt : v + 1;
	}
}

static void verify(const unsigned char *p, size_t len, unsigned salt,
		   const char *what)
{
	unsigned v = salt;
	for (size_t i = 0; i < len; i++) {
		if (p[i] != (unsigned char)v) {
			char msg[160];
			snprintf(msg, sizeof(msg), "%s: byte %zu is %u, "
				 "expected %u", what, i, p[i],
				 (unsigned char)v);
			die(msg);
		}
		v = v == 250 + salt ? salt : v + 1;
	}
}

static void send_all(const unsigned char *p, size_t len, int to)
{
	for (size_t off = 0; off < len; off += CHUNK) {
		int n = (int)(len - off < CHUNK ? len - off : CHUNK);
		check(MPI_Send(p + off, n, MPI_BYTE, to, TAG_DATA,
			       MPI_COMM_WORLD), "MPI_Send");
	}
}

static void recv_all(unsigned char *p, size_t len, int from)
{
	for (size_t off = 0; off < len; off += CHUNK) {
		int n = (int)(len - off < CHUNK ? len - off : CHUNK), got;
		MPI_Status st;
		check(MPI_Recv(p + off, n, MPI_BYTE, from, TAG_DATA,
			       MPI_COMM_WORLD, &st), "MPI_Recv");
		check(MPI_Get_count(&st, MPI_BYTE, &got), "MPI_Get_count");
		if (got != n)
			die("short message");
	}
}

static void bcast_all(unsigned char *p, size_t len)
{
	for (size_t off = 0; off < len; off += CHUNK) {
		int n = (int)(len - off < CHUNK ? len - off : CHUNK);
		check(MPI_Bcast(p + off, n, MPI_BYTE, 0, MPI_COMM_WORLD),
		      "MPI_Bcast");
	}
}

/* A barrier that waits in 1 ms sleeps (ranks 0 and 1 block as usual):
 * idle ranks polling MPI would take cores from the ranks measured. */
static void quiet_barrier(void)
{
	MPI_Request req;
	int done = 0;
	check(MPI_Ibarrier(MPI_COMM_WORLD, &req), "MPI_Ibarrier");
	if (rank < 2) {
		check(MPI_Wait(&req, MPI_STATUS_IGNORE), "MPI_Wait");
		return;
	}
	while (!done) {
		check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), "MPI_Test");
		if (!done)
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Print "<label>: median G GB/s (min G max G)" for len bytes in secs. */
static void report(const char *label, size_t len, double *secs, int reps)
{
	double *rate = malloc(sizeof(double) * (size_t)reps);
	if (!rate)
		die("out of memory");
	for (int i = 0; i < reps; i++)
		rate[i] = (double)len / secs[i] / 1e9;
	qsort(rate, (size_t)reps, sizeof(double), cmp_double);
	double med = reps % 2 ? rate[reps / 2]
			      : (rate[reps / 2 - 1] + rate[reps / 2]) / 2;
	printf("%s: median %.2f GB/s (min %.2f max %.2f)\n", label, med,
	       rate[0], rate[reps - 1]);
	fflush(stdout);
	free(rate);
}

/* Rank 0: send buf to rank 1 `reps` times, each timed from the first
 * send to rank 1's acknowledgement. */
static void time_sends(const unsigned char *buf, size_t len, int reps,
		       double *secs)
{
	unsigned char ack;
	for (int r = 0; r < reps; r++) {
		double t0 = MPI_Wtime();
		send_all(buf, len, 1);
		check(MPI_Recv(&ack, 1, MPI_BYTE, 1, TAG_ACK, MPI_COMM_WORLD,
			       MPI_STATUS_IGNORE), "MPI_Recv (ack)");
		secs[r] = MPI_Wtime() - t0;
	}
}

static void p2p(size_t mib, int reps, double *secs)
{
	const size_t len = mib * MIB;
	unsigned char ack = 0;

	if (rank == 0) {
		unsigned char *buf = alloc(len);
		fill(buf, len, 1);
		send_all(buf, len, 1);
		check(MPI_Recv(&ack, 1, MPI_BYTE, 1, TAG_ACK, MPI_COMM_WORLD,
			       MPI_STATUS_IGNORE), "MPI_Recv (ack)");
		fill(buf, len, 2);
		time_sends(buf, len, reps, secs);
		char label[64];
		snprintf(label, sizeof(label), "p2p %zu MiB", mib);
		report(label, len, secs, reps);
		time_sends(buf, len, reps, secs);
		free(buf);
		snprintf(label, sizeof(label), "p2p_fresh %zu MiB", mib);
		report(label, len, secs, reps);
	} else if (rank == 1) {
		unsigned char *buf = alloc(len);
		for (int r = 0; r < reps + 1; r++) {
			recv_all(buf, len, 0);
			check(MPI_Send(&ack, 1, MPI_BYTE, 0, TAG_ACK,
				       MPI_COMM_WORLD), "MPI_Send (ack)");
		}
		verify(buf, len, 2, "p2p");
		free(buf);
		for (int r = 0; r < reps; r++) {
			unsigned char *fresh = mmap(NULL, len,
						    PROT_READ | PROT_WRITE,
						    MAP_PRIVATE | MAP_ANONYMOUS,
						    -1, 0);
			if (fresh == MAP_FAILED)
				die("out of memory");
			recv_all(fresh, len, 0);
			check(MPI_Send(&ack, 1, MPI_BYTE, 0, TAG_ACK,
				       MPI_COMM_WORLD), "MPI_Send (ack)");
			if (r == reps - 1)
				verify(fresh, len, 2, "p2p_fresh");
			munmap(fresh, len);
		}
	}
	quiet_barrier();
}

static void bcast(size_t mib, int reps, double *secs)
{
	const size_t len = mib * MIB;
	unsigned char *buf = alloc(len);

	if (rank == 0)
		fill(buf, len, 1);
	bcast_all(buf, len);
	if (rank == 0)
		fill(buf, len, 2);
	for (int r = 0; r < reps; r++) {
		check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
		double t0 = MPI_Wtime();
		bcast_all(buf, len);
		check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
		secs[r] = MPI_Wtime() - t0;
	}
	if (rank != 0)
		verify(buf, len, 2, "bcast");
	free(buf);
	if (rank == 0) {
		char label[64];
		snprintf(label, sizeof(label), "bcast %zu MiB to %d ranks",
			 mib, nranks);
		report(label, len, secs, reps);
	}
}

/* A whole number in [1, max], or 0. */
static long number(const char *s, long max)
{
	char *end;
	long v = strtol(s, &end, 10);
	return end != s && !*end && v >= 1 && v <= max ? v : 0;
}

static int usage(void)
{
	if (rank == 0)
		fprintf(stderr, "usage: mpirun -n N mpi_raw [-r REPS] "
			"[-b BCAST_MIB] [P2P_MIB ...]\n"
			"  (N >= 2; defaults: -r 5 -b 256, sizes 1 16 64 "
			"256; MiB up to %d)\n", MAX_MIB);
	MPI_Finalize();
	return 2;
}

int main(int argc, char **argv)
{
	size_t sizes[MAX_SIZES] = { 1, 16, 64, 256 };
	int nsizes = 4, reps = 5, opt;
	long bcast_mib = 256;

	check(MPI_Init(&argc, &argv), "MPI_Init");
	/* Errors come back as codes, for check() to name the call. */
	check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN),
	      "MPI_Comm_set_errhandler");
	check(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
	check(MPI_Comm_size(MPI_COMM_WORLD, &nranks), "MPI_Comm_size");

	/* Every rank parses the same argv, so all agree on what to do. */
	while ((opt = getopt(argc, argv, "r:b:")) != -1) {
		if (opt == 'r' && (reps = (int)number(optarg, 1000)) > 0)
			continue;
		if (opt == 'b' && (bcast_mib = number(optarg, MAX_MIB)) > 0)
			continue;
		return usage();
	}
	if (optind < argc) {
		nsizes = 0;
		for (int i = optind; i < argc; i++) {
			long v = number(argv[i], MAX_MIB);
			if (!v || nsizes == MAX_SIZES)
				return usage();
			sizes[nsizes++] = (size_t)v;
		}
	}
	if (nranks < 2) {
		fprintf(stderr, "mpi_raw: needs at least 2 ranks "
			"(mpirun -n 2 ...)\n");
		MPI_Finalize();
		return 2;
	}

	double *secs = malloc(sizeof(double) * (size_t)reps);
	if (!secs)
		die("out of memory");
	for (int i = 0; i < nsizes; i++)
		p2p(sizes[i], reps, secs);
	bcast((size_t)bcast_mib, reps, secs);
	free(secs);
	check(MPI_Finalize(), "MPI_Finalize");
	return 0;
}
