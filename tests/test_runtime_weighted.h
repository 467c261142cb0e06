/* The weighted kernels (conv2d, depthwise_conv2d, dense) seen through int32 data, for
 * tests/test_runtime_conv.c and tests/test_runtime_dense.c: every combination of
 * TQ_RT_WEIGHTED_TYPES gets a wrapper that converts its inputs to the kernel's types, calls it, and
 * widens its output back, and a table entry naming it. */
#ifndef TQ_TEST_RUNTIME_WEIGHTED_H
#define TQ_TEST_RUNTIME_WEIGHTED_H
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>

#include "data/runtime_ref.h"
#include "tq_rt.h"

/* n values as codes of `bits` (4: packed nibbles, 8, 16, 32 or 64 bits); malloc'ed, never NULL-sized. */
static void *typed_copy(const int32_t *v32, const int64_t *v64, size_t n, int bits) {
  void *p = malloc(n * (size_t)(bits < 8 ? 1 : bits / 8) + 8);
  size_t i;
  if (bits == 4) ref_pack4(p, v32, n);
  for (i = 0; i < n && bits > 4; i++) {
    const int64_t v = v64 ? v64[i] : v32[i];
    if (bits == 8) ((int8_t *)p)[i] = (int8_t)v;
    else if (bits == 16) ((int16_t *)p)[i] = (int16_t)v;
    else if (bits == 32) ((int32_t *)p)[i] = (int32_t)v;
    else ((int64_t *)p)[i] = v;
  }
  return p;
}

/* Frees n buffers (a random case's inputs, weights, biases and outputs). */
static void free_n(int n, ...) {
  va_list ap;
  va_start(ap, n);
  while (n-- > 0) free(va_arg(ap, void *));
  va_end(ap);
}

/* Output buffer of n codes, prefilled with a pattern the kernel must overwrite. */
static void *typed_out(size_t n, int bits) {
  int32_t *fill = malloc(n * sizeof *fill + 4);
  void *p;
  size_t i;
  for (i = 0; i < n; i++) fill[i] = bits == 8 ? 0x5A : 0x5A5A;
  p = typed_copy(fill, NULL, n, bits);
  free(fill);
  return p;
}

static void widen(int32_t *dst, const void *src, size_t n, int bits) {
  size_t i;
  for (i = 0; i < n; i++) dst[i] = bits == 8 ? ((const int8_t *)src)[i] : ((const int16_t *)src)[i];
}

/* A test's table entry for one combination: its name and operand types, and the test's wrapper
 * (WRAP_NAME, of type wrap_type); COMBO_ENTRY makes one from a TQ_RT_WEIGHTED_TYPES entry. */
#define COMBO(wrap_type)                                                                            \
  struct {                                                                                          \
    const char *name;                                                                               \
    int x16, wbits, o16, acc64;                                                                     \
    wrap_type fn;                                                                                   \
  }
#define COMBO_ENTRY(op, xn, wn, on, an)                                                             \
  {TQ_RT_STR(TQ_RT_WNAME(op, xn, wn, on, an)), TQ_RT_BITS(xn) == 16, TQ_RT_BITS(wn),                \
   TQ_RT_BITS(on) == 16, TQ_RT_BITS(an) == 64, WRAP_NAME(op, xn, wn, on, an)},
#define WRAP_NAME(op, xn, wn, on, an) w_##op##_##xn##_##wn##_##on##_##an

/* Calls the kernel `call` (an expression over xt, wt, bt, ot) with typed copies of x (nx), w (nw) and
 * bias (nb), and widens its no outputs into out. */
#define TYPED_CALL(xn, wn, on, an, call)                                                            \
  do {                                                                                              \
    void *xt = typed_copy(x, NULL, nx, TQ_RT_BITS(xn));                                             \
    void *wt = typed_copy(w, NULL, nw, TQ_RT_BITS(wn));                                             \
    void *bt = typed_copy(NULL, bias, nb, TQ_RT_BITS(an)), *ot = typed_out(no, TQ_RT_BITS(on));     \
    st = (call);                                                                                    \
    widen(out, ot, no, TQ_RT_BITS(on));                                                             \
    free(xt);                                                                                       \
    free(wt);                                                                                       \
    free(bt);                                                                                       \
    free(ot);                                                                                       \
  } while (0)

#endif
