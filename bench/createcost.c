/*
 * createcost: microseconds per create+unlink of an empty file in DIR,
 * averaged over N files. The spool's cost floor: every task publishes at
 * least one file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: createcost DIR N\n");
		return 2;
	}
	int dfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int n = atoi(argv[2]);
	if (dfd < 0 || n <= 0) {
		perror(argv[1]);
		return 2;
	}
	struct timespec a, b;
	char name[64];
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), ".createcost.%d.%d", getpid(), i);
		int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL |
						   O_CLOEXEC, 0600);
		if (fd < 0 || close(fd) != 0 || unlinkat(dfd, name, 0) != 0) {
			perror(name);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f\n", ((double)(b.tv_sec - a.tv_sec) * 1e9 +
			  (double)(b.tv_nsec - a.tv_nsec)) / n / 1e3);
	return 0;
}
