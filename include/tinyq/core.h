/* tinyq core: status codes, errors, deterministic RNG, checked allocation, atomic file writes. */
#ifndef TINYQ_CORE_H
#define TINYQ_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
  TQ_OK = 0,
  TQ_ERR_ARG,     /* a bad value from the caller or the user */
  TQ_ERR_IO,      /* a file could not be opened, read or written */
  TQ_ERR_FORMAT,  /* a file or string is malformed, truncated or foreign */
  TQ_ERR_MEMORY,  /* an allocation failed */
  TQ_ERR_NUMERIC, /* NaN or Inf appeared */
  TQ_ERR_UNSUPPORTED
} tq_status;

/* The library's version, "MAJOR.MINOR.PATCH" (CMakeLists.txt's project(VERSION); before 1.0 a new
 * MINOR may change the API and ABI), and the git commit it was built from: 12 hex digits, with
 * "-dirty" when the checkout had uncommitted changes, "" when not built from a checkout. */
const char *tq_version(void);
const char *tq_version_commit(void);

/* The message of the last error on this thread ("<where>: <what>"). Like errno, it is
 * thread-local state; it is the only mutable state tinyq keeps outside explicit contexts. */
const char *tq_last_error(void);
/* Records an error and returns code, so that `return tq_fail(TQ_ERR_ARG, "...")` reads naturally. */
tq_status tq_fail(tq_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes the current message with "<where>: ". */
tq_status tq_fail_prefix(tq_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tq_clear_error(void);

/* Allocation that records an error on failure. Memory is 64-byte aligned and zeroed. Blocks
 * from tq_alloc must be released with tq_free (not free, nor grown with realloc): the live total
 * is counted against the process's memory limit, and a request beyond it fails with a clear
 * error instead of being left to the OOM killer. */
void *tq_alloc(size_t bytes);
void *tq_alloc_floats(size_t count);
void tq_free(void *p);
/* The limit (default: 3/4 of physical RAM, or of `ulimit -v` when lower; TINYQ_MAX_MEMORY or
 * --max-memory override it) and the bytes tq_alloc has live. */
size_t tq_mem_limit(void);
void tq_mem_set_limit(size_t bytes);
size_t tq_mem_in_use(void);
/* TQ_OK if `bytes` more would fit under the limit now; for buffers that cannot come from
 * tq_alloc (zlib, realloc growth), checked before they are allocated. The _product form checks
 * a*b*c without overflowing. */
tq_status tq_mem_check(size_t bytes);
tq_status tq_mem_check_product(size_t a, size_t b, size_t c);
/* "1500000000", "512M", "4G", "1.5GiB" (binary multiples) -> bytes. */
tq_status tq_parse_size(const char *s, size_t *bytes);
/* "1.5 GiB" */
void tq_format_size(char *buf, size_t n, double bytes);

/* Always-on invariant check (never fed unvalidated user input). */
#define TQ_ASSERT(cond)                                                                     \
  do {                                                                                      \
    if (!(cond)) tq_assert_failed(#cond, __FILE__, __LINE__);                               \
  } while (0)
void tq_assert_failed(const char *cond, const char *file, int line) __attribute__((noreturn));

/* Deterministic RNG (xoshiro256**, seeded by splitmix64). Explicit state, no globals. */
typedef struct {
  uint64_t s[4];
} tq_rng;
void tq_rng_seed(tq_rng *r, uint64_t seed);
uint64_t tq_rng_u64(tq_rng *r);
float tq_rng_uniform(tq_rng *r);               /* [0, 1) */
/* out[i] = what n calls of tq_rng_uniform would return, in order (and the same state after). */
void tq_rng_uniform_fill(tq_rng *r, float *out, size_t n);
float tq_rng_normal(tq_rng *r);                /* N(0, 1) */
uint32_t tq_rng_below(tq_rng *r, uint32_t n);  /* [0, n) */
void tq_rng_shuffle(tq_rng *r, int *idx, int n);
/* An independent stream derived from (seed, stream) — used per epoch / per layer / per thread. */
void tq_rng_derive(tq_rng *out, uint64_t seed, uint64_t stream);

/* Atomic file writes: data goes to PATH.tmp.<pid>, is flushed and fsync'd, then renamed over PATH. */
typedef struct tq_atomic_file tq_atomic_file;
tq_status tq_atomic_open(tq_atomic_file **out, const char *path);
FILE *tq_atomic_stream(tq_atomic_file *f);
tq_status tq_atomic_commit(tq_atomic_file *f); /* closes; on failure removes the temp file */
void tq_atomic_abort(tq_atomic_file *f);       /* closes and removes the temp file */
tq_status tq_write_file_atomic(const char *path, const void *data, size_t size);

/* Reads a whole file into memory (caller frees with free()). */
tq_status tq_read_file(const char *path, unsigned char **data, size_t *size);
/* JSON text that a parser would read differently from how it looks: a NUL byte (the text ends
 * there for a C string) or a \u0000 escape (a key "conv2d\u0000evil" would become "conv2d").
 * TQ_OK, or an error naming source and the offset. */
tq_status tq_json_text_check(const char *text, size_t n, const char *source);
/* mkdir -p */
tq_status tq_mkdirs(const char *path);

/* CRC-32 (IEEE) for file checksums. */
uint32_t tq_crc32(uint32_t crc, const void *data, size_t n);

double tq_now_seconds(void);

#endif
