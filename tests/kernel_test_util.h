/* Helpers of the kernel tests (test_kernels_*.c): random tensors and float dot products. */
#ifndef TQ_KERNEL_TEST_UTIL_H
#define TQ_KERNEL_TEST_UTIL_H
#include <stddef.h>

#include "tinyq/core.h"

/* n normal values times scale, from r; tq_free it */
static inline float *randn(tq_rng *r, size_t n, float scale) {
  float *p = tq_alloc_floats(n);
  TQ_ASSERT(p);
  for (size_t i = 0; i < n; i++) p[i] = scale * tq_rng_normal(r);
  return p;
}

static inline double dot(const float *a, const float *b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

#endif
