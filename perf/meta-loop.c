/*
 * meta-loop DIR N
 *
 * Metadata round trips without a shell in the way: in DIR (which must exist and be empty of
 * names f0000000...), creates N empty files (open O_CREAT|O_EXCL|O_WRONLY, close), then stat()s
 * each of them, then unlink()s each of them, and prints on stdout
 *   N files in S s = R files/s (create C s, stat T s, unlink U s)
 * where one "file" is the whole create + stat + unlink cycle. Exits non-zero with a message on
 * stderr as soon as one call fails, so a broken mount can never be reported as a fast one
 * (files it created are left behind in that case; the caller removes DIR).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
    perror("meta-loop: clock_gettime");
    exit(2);
  }
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void fail(const char *what, const char *path, long i) {
  int e = errno;
  fprintf(stderr, "meta-loop: FAILED: %s(\"%s\") at file %ld: %s (errno %d)\n", what, path, i,
          strerror(e), e);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s DIR N\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  char *end;
  long n = strtol(argv[2], &end, 10);
  if (*argv[2] == '\0' || *end != '\0' || n <= 0 || n > 99999999) {
    fprintf(stderr, "meta-loop: N must be a positive integer below 10^8, got '%s'\n", argv[2]);
    return 2;
  }
  size_t len = strlen(dir) + 16;
  char *path = malloc(len);
  if (path == NULL) {
    perror("meta-loop: malloc");
    return 2;
  }
  struct stat st;
  double t0 = now();
  for (long i = 0; i < n; i++) {
    snprintf(path, len, "%s/f%07ld", dir, i);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) fail("open", path, i);
    if (close(fd) != 0) fail("close", path, i);
  }
  double t1 = now();
  for (long i = 0; i < n; i++) {
    snprintf(path, len, "%s/f%07ld", dir, i);
    if (stat(path, &st) != 0) fail("stat", path, i);
    if (!S_ISREG(st.st_mode) || st.st_size != 0) {
      errno = EIO;
      fail("stat (not an empty regular file)", path, i);
    }
  }
  double t2 = now();
  for (long i = 0; i < n; i++) {
    snprintf(path, len, "%s/f%07ld", dir, i);
    if (unlink(path) != 0) fail("unlink", path, i);
  }
  double t3 = now();
  double s = t3 - t0;
  printf("%ld files in %.3f s = %.0f files/s (create %.3f s, stat %.3f s, unlink %.3f s)\n", n, s,
         (double) n / s, t1 - t0, t2 - t1, t3 - t2);
  free(path);
  return 0;
}
