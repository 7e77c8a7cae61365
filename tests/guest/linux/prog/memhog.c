/*
 * memhog: anonymous memory with a known pattern, for swap tests and benchmarks
 * in the Linux guests (built static for s390x by scripts/guest-image.sh).
 *
 *   memhog MIB ROUNDS [SEED]        fill MIB, then ROUNDS times: check every
 *                                   page and rewrite it with the next round's
 *                                   pattern; then check once more
 *   memhog MIB hold FIFO [SEED]     fill MIB, print "memhog: filled", wait for
 *                                   a line on FIFO, then check everything
 *
 * An eighth of each page is pseudo-random and the rest zeros, so a
 * compressing swap (zram) sees data about as compressible as real memory.
 * The last line is "memhog: ok ..." or "memhog: FAILED ..."; exit status 0
 * only if every byte was as written.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE 4096
#define WORDS (PAGE / 8)
#define RANDOM_WORDS (WORDS / 8)

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void fill(uint64_t *p, uint64_t page, uint64_t seed)
{
	uint64_t base = mix(seed ^ (page << 20));
	int i;

	for (i = 0; i < RANDOM_WORDS; i++)
		p[i] = mix(base + i);
	memset(p + RANDOM_WORDS, 0, (WORDS - RANDOM_WORDS) * 8);
}

static uint64_t check(const uint64_t *p, uint64_t page, uint64_t seed)
{
	uint64_t base = mix(seed ^ (page << 20)), bad = 0;
	int i;

	for (i = 0; i < RANDOM_WORDS; i++)
		bad += p[i] != mix(base + i);
	for (; i < WORDS; i++)
		bad += p[i] != 0;
	return bad;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint64_t mib, pages, pg, bad = 0, badpages = 0, seed = 1;
	const char *fifo = NULL;
	long rounds = 0, r;
	uint64_t *mem;
	double t0;

	if (argc < 3) {
		fprintf(stderr, "usage: memhog MIB ROUNDS [SEED] | memhog MIB hold FIFO [SEED]\n");
		return 2;
	}
	mib = strtoull(argv[1], NULL, 0);
	if (!strcmp(argv[2], "hold")) {
		if (argc < 4)
			return 2;
		fifo = argv[3];
		if (argc > 4)
			seed = strtoull(argv[4], NULL, 0);
	} else {
		rounds = strtol(argv[2], NULL, 0);
		if (argc > 3)
			seed = strtoull(argv[3], NULL, 0);
	}
	pages = mib * (1024 * 1024 / PAGE);
	mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("memhog: mmap");
		return 2;
	}
	t0 = now();
	for (pg = 0; pg < pages; pg++)
		fill(mem + pg * WORDS, pg, seed);
	printf("memhog: filled %llu MiB in %.2f s\n", (unsigned long long)mib,
	       now() - t0);
	fflush(stdout);

	if (fifo) {
		char line[64];
		FILE *f = fopen(fifo, "r");

		if (!f || !fgets(line, sizeof(line), f)) {
			perror("memhog: fifo");
			return 2;
		}
		fclose(f);
	}
	for (r = 0; r <= rounds; r++) {
		double t = now();

		for (pg = 0; pg < pages; pg++) {
			uint64_t b = check(mem + pg * WORDS, pg, seed + r);

			bad += b;
			badpages += b != 0;
			if (r < rounds)
				fill(mem + pg * WORDS, pg, seed + r + 1);
		}
		printf("memhog: round %ld %.2f s\n", r, now() - t);
		fflush(stdout);
	}
	if (bad) {
		printf("memhog: FAILED %llu bad words in %llu pages of %llu\n",
		       (unsigned long long)bad, (unsigned long long)badpages,
		       (unsigned long long)pages);
		return 1;
	}
	printf("memhog: ok %llu pages, %ld rounds, %.2f s\n",
	       (unsigned long long)pages, rounds, now() - t0);
	return 0;
}
