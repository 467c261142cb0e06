/* Shared by the libFuzzer harnesses: a per-process scratch directory in memory-backed /dev/shm
 * (the loaders take paths; tmpfs keeps a write + read per input in the microseconds), and the
 * process settings every harness wants. */
#ifndef TINYQ_FUZZ_COMMON_H
#define TINYQ_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "tinyq/core.h"

/* A broken invariant is a crash: libFuzzer saves the input as a reproducer. */
#define FUZZ_CHECK(cond, ...)                                              \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "fuzz: invariant failed: %s (%s:%d): ", #cond,       \
              __FILE__, __LINE__);                                         \
      fprintf(stderr, __VA_ARGS__);                                        \
      fputc('\n', stderr);                                                 \
      abort();                                                             \
    }                                                                      \
  } while (0)

static char fuzz_dir[256];

static inline void fuzz_cleanup(void) {
  if (!fuzz_dir[0]) return;
  char cmd[300];
  /* Only the directory this process created, named by its pid. */
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir);
  if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir);
}

/* One thread (libFuzzer runs one input at a time; OpenMP pools only cost time here), and a
 * tinyq memory budget below libFuzzer's malloc limit (-malloc_limit_mb, 2 GB by default) so
 * that an oversized request must be refused by tinyq's own check, not reported by libFuzzer. */
static inline void fuzz_setup(void) {
  setenv("OMP_NUM_THREADS", "1", 1);
  setenv("OPENBLAS_NUM_THREADS", "1", 1);
  setenv("TINYQ_MAX_MEMORY", "1G", 1);
  const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  snprintf(fuzz_dir, sizeof fuzz_dir, "%s/tinyq-fuzz-%ld", base, (long)getpid());
  if (mkdir(fuzz_dir, 0700) != 0) {
    perror(fuzz_dir);
    abort();
  }
  atexit(fuzz_cleanup);
}

/* fuzz_dir/name, in a static buffer per call site. */
static inline void fuzz_path(char *out, size_t cap, const char *name) {
  int n = snprintf(out, cap, "%s/%s", fuzz_dir, name);
  if (n < 0 || (size_t)n >= cap) abort();
}

static inline void fuzz_write(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
    perror(path);
    abort();
  }
}

/* The file a loader reads, gzip'd by the harness when gz (so that valid gzip streams reach the
 * parser underneath; the raw bytes may be gzip themselves too). */
static inline void fuzz_write_maybe_gz(const char *path, const uint8_t *d, size_t n, int gz) {
  if (!gz) {
    fuzz_write(path, d, n);
    return;
  }
  gzFile g = gzopen(path, "wb1");
  if (!g || (n && gzwrite(g, d, (unsigned)n) != (int)n) || gzclose(g) != Z_OK) {
    fprintf(stderr, "fuzz: cannot write %s\n", path);
    abort();
  }
}

/* The input as a C string for the text parsers (caller frees), or NULL when it is longer than
 * max_size: inputs beyond what the parser's limits are about only slow the fuzzer down. */
static inline char *fuzz_text(const uint8_t *data, size_t size, size_t max_size) {
  if (size > max_size) return NULL;
  char *text = malloc(size + 1);
  if (!text) abort();
  memcpy(text, data, size);
  text[size] = 0;
  return text;
}

#endif
