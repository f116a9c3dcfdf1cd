/*
 * stat-loop PATH SECONDS
 *
 * Calls stat(2) on PATH in a tight loop for SECONDS (may be fractional) and prints
 *   N stats in S s = R stat/s
 * on stdout. Exits non-zero with a message on stderr as soon as one stat(2) fails,
 * so a broken mount can never be reported as a fast one.
 *
 * The clock is read only every CHECK_EVERY calls to keep its cost out of the loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CHECK_EVERY 256

static double now(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
    perror("stat-loop: clock_gettime");
    exit(2);
  }
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PATH SECONDS\n", argv[0]);
    return 2;
  }
  const char *path = argv[1];
  char *end;
  double seconds = strtod(argv[2], &end);
  if (*argv[2] == '\0' || *end != '\0' || !(seconds > 0)) {
    fprintf(stderr, "stat-loop: SECONDS must be a positive number, got '%s'\n", argv[2]);
    return 2;
  }

  struct stat st;
  unsigned long long n = 0;
  double start = now();
  double deadline = start + seconds;
  double t = start;
  for (;;) {
    for (int i = 0; i < CHECK_EVERY; i++) {
      if (stat(path, &st) != 0) {
        int e = errno;
        fprintf(stderr, "stat-loop: FAILED: stat(\"%s\") after %llu successful calls: %s (errno %d)\n",
                path, n, strerror(e), e);
        return 1;
      }
      n++;
    }
    t = now();
    if (t >= deadline) break;
  }
  double elapsed = t - start;
  printf("%llu stats in %.3f s = %.0f stat/s\n", n, elapsed, (double) n / elapsed);
  return 0;
}
