#include "tinyq/core.h"

#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static _Thread_local char last_error[1024];

const char *tq_last_error(void) { return last_error[0] ? last_error : "no error"; }

void tq_clear_error(void) { last_error[0] = 0; }

/* Messages quote what the user wrote (JSON keys, quantizer strings, file names), which may hold
 * newlines or other control characters: they become '?', so that an error is always one line
 * (found by fuzz/fuzz_space.c). */
static void one_line(char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

tq_status tq_fail(tq_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  one_line(last_error);
  return code;
}

tq_status tq_fail_prefix(tq_status code, const char *fmt, ...) {
  char prefix[512], old[sizeof last_error];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, last_error, sizeof old);
  size_t n = strlen(prefix);
  if (n > sizeof last_error - 3) n = sizeof last_error - 3;
  memcpy(last_error, prefix, n);
  memcpy(last_error + n, ": ", 2);
  size_t room = sizeof last_error - n - 3, m = strlen(old);
  if (m > room) m = room;
  memcpy(last_error + n + 2, old, m);
  last_error[n + 2 + m] = 0;
  one_line(last_error);
  return code;
}

void tq_assert_failed(const char *cond, const char *file, int line) {
  fprintf(stderr, "tinyq: internal invariant failed: %s (%s:%d)\n", cond, file, line);
  abort();
}

/* ---- Memory: one process-wide budget.
 *
 * Every tensor, dataset and buffer whose size follows from user input comes from tq_alloc, which
 * keeps the live total below a limit: a hostile or mistaken size (a 5000x5000 input, a header
 * claiming a million units) becomes a clear error instead of the kernel's OOM killer (Linux
 * overcommits, so malloc alone would succeed and the memset would kill the machine). The budget
 * is process state like errno; it is set once, before work starts (--max-memory). The size of a
 * block is malloc_usable_size of the pointer both when it is counted and when it is released, so
 * the two always agree. */

static _Atomic size_t mem_limit = 0; /* 0: not yet decided */
static _Atomic size_t mem_live = 0;

static size_t default_limit(void) {
  const char *env = getenv("TINYQ_MAX_MEMORY");
  size_t v;
  if (env && *env && tq_parse_size(env, &v) == TQ_OK) return v;
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  size_t lim = (pages > 0 && page > 0) ? (size_t)pages / 4 * 3 * (size_t)page : (size_t)1 << 32;
  /* Under `ulimit -v` the address space, not RAM, runs out first; leave a quarter of it for
   * code, stacks and the libraries' own allocations. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 4 * 3 < lim)
    lim = (size_t)(rl.rlim_cur / 4 * 3);
  return lim;
}

size_t tq_mem_limit(void) {
  size_t l = atomic_load(&mem_limit);
  if (l == 0) {
    size_t d = default_limit();
    size_t zero = 0;
    atomic_compare_exchange_strong(&mem_limit, &zero, d ? d : 1);
    l = atomic_load(&mem_limit);
  }
  return l;
}

void tq_mem_set_limit(size_t bytes) { atomic_store(&mem_limit, bytes); }

size_t tq_mem_in_use(void) { return atomic_load(&mem_live); }

void tq_format_size(char *buf, size_t n, double bytes) {
  static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 6) bytes /= 1024.0, u++;
  if (u == 0) snprintf(buf, n, "%.0f bytes", bytes);
  else snprintf(buf, n, "%.1f %s", bytes, unit[u]);
}

static tq_status over_budget(size_t bytes) {
  char want[32], used[32], lim[32];
  tq_format_size(want, sizeof want, (double)bytes);
  tq_format_size(used, sizeof used, (double)tq_mem_in_use());
  tq_format_size(lim, sizeof lim, (double)tq_mem_limit());
  return tq_fail(TQ_ERR_MEMORY, "needs %s more memory, over the limit of %s (%s in use; raise it with --max-memory)",
                 want, lim, used);
}

tq_status tq_mem_check(size_t bytes) {
  size_t lim = tq_mem_limit(), live = tq_mem_in_use();
  if (bytes > lim || live > lim - bytes) return over_budget(bytes);
  return TQ_OK;
}

tq_status tq_mem_check_product(size_t a, size_t b, size_t c) {
  if ((b && a > SIZE_MAX / b) || (c && a * b > SIZE_MAX / c)) return over_budget(SIZE_MAX);
  return tq_mem_check(a * b * c);
}

tq_status tq_parse_size(const char *s, size_t *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || errno || !(v >= 0) || !isfinite(v)) return tq_fail(TQ_ERR_ARG, "'%s' is not a size", s);
  double mult = 1;
  switch (*end) {
    case 'k': case 'K': mult = 1024.0; end++; break;
    case 'm': case 'M': mult = 1024.0 * 1024; end++; break;
    case 'g': case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
    case 't': case 'T': mult = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
  }
  if (mult > 1 && *end == 'i') end++; /* GiB: the multiples are binary either way */
  if (*end == 'B' || *end == 'b') end++;
  if (*end) return tq_fail(TQ_ERR_ARG, "'%s' is not a size (expected e.g. 512M, 4G, 1500000000)", s);
  v *= mult;
  if (v < 1 || v >= 18446744073709551615.0)
    return tq_fail(TQ_ERR_ARG, "'%s': size must be at least 1 byte and below 16 EiB", s);
  *out = (size_t)v;
  return TQ_OK;
}

void *tq_alloc(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes > SIZE_MAX - 64) {
    over_budget(bytes);
    return NULL;
  }
  size_t rounded = (bytes + 63) & ~(size_t)63;
  if (tq_mem_check(rounded)) return NULL;
  void *p = aligned_alloc(64, rounded);
  if (!p) {
    char want[32];
    tq_format_size(want, sizeof want, (double)bytes);
    tq_fail(TQ_ERR_MEMORY, "out of memory allocating %s", want);
    return NULL;
  }
  atomic_fetch_add(&mem_live, malloc_usable_size(p));
  memset(p, 0, rounded);
  return p;
}

void *tq_alloc_floats(size_t count) {
  if (count > SIZE_MAX / sizeof(float)) {
    over_budget(SIZE_MAX);
    return NULL;
  }
  return tq_alloc(count * sizeof(float));
}

void tq_free(void *p) {
  if (!p) return;
  atomic_fetch_sub(&mem_live, malloc_usable_size(p));
  free(p);
}
