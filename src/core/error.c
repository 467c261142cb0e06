#include "tinyq/core.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char last_error[1024];

const char *tq_last_error(void) { return last_error[0] ? last_error : "no error"; }

void tq_clear_error(void) { last_error[0] = 0; }

tq_status tq_fail(tq_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
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
  return code;
}

void tq_assert_failed(const char *cond, const char *file, int line) {
  fprintf(stderr, "tinyq: internal invariant failed: %s (%s:%d)\n", cond, file, line);
  abort();
}

void *tq_alloc(size_t bytes) {
  if (bytes == 0) bytes = 1;
  size_t rounded = (bytes + 63) & ~(size_t)63;
  void *p = aligned_alloc(64, rounded);
  if (!p) {
    tq_fail(TQ_ERR_MEMORY, "out of memory allocating %zu bytes", bytes);
    return NULL;
  }
  memset(p, 0, rounded);
  return p;
}

void *tq_alloc_floats(size_t count) { return tq_alloc(count * sizeof(float)); }

void tq_free(void *p) { free(p); }
