/* What the depthwise kernels share (private to src/kernels): depthwise.c (forward and input
 * gradient) and depthwise_wgrad.c (weight and bias gradients) use the same vector type, the same
 * multiply-add and the same row-run blocking, so that both round alike.
 *
 * Including this header turns on multiply-add contraction for the rest of the including file: ISO C
 * mode (-std=c11) turns it off in GCC, and these loops are multiply-adds. */
#ifndef TINYQ_KERNELS_DEPTHWISE_INTERNAL_H
#define TINYQ_KERNELS_DEPTHWISE_INTERNAL_H

#include <omp.h>
#include <string.h>
#if defined(__FMA__)
#include <immintrin.h>
#endif

#include "tinyq/kernels.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

#define DW_PARALLEL_MACS 100000

typedef float v8f __attribute__((vector_size(32)));
typedef float v8f_u __attribute__((vector_size(32), aligned(4), may_alias)); /* unaligned access */
#define V8_LOAD(p) ((v8f)(*(const v8f_u *)(p)))
#define V8_STORE(p, v) (*(v8f_u *)(p) = (v))

#define DW_INLINE static inline __attribute__((always_inline))

/* acc + x*w, one fused multiply-add where x86 has them. The row runs promise every value the
 * same rounding on every path, and gcc's contraction of `acc += x * w` is not a promise (it left one
 * edge pixel of the stride-1 din as a product and a sum). */
#if defined(__FMA__)
#define V8_MADD(acc, x, w) ((v8f)_mm256_fmadd_ps((__m256)(x), (__m256)(w), (__m256)(acc)))
#else
#define V8_MADD(acc, x, w) ((acc) + (x) * (w))
#endif
/* Keeps a loaded vector in a register: opaque to the optimiser, which cannot then fold its load into
 * each use again. */
#if defined(__AVX__)
#define V8_IN_REGISTER(v) __asm__("" : "+x"(v))
#else
#define V8_IN_REGISTER(v) ((void)0)
#endif

/* 16-float vectors for layers whose channels are a multiple of 16, where the machine has them: the
 * same multiply-adds lane for lane as two 8-float vectors (the same bits), in half the instructions. */
#if defined(__AVX512F__)
#define DW_V16 1
typedef float v16f __attribute__((vector_size(64)));
typedef float v16f_u __attribute__((vector_size(64), aligned(4), may_alias));
#define V16_LOAD(p) ((v16f)(*(const v16f_u *)(p)))
#define V16_STORE(p, v) (*(v16f_u *)(p) = (v))
#define V16_MADD(acc, x, w) ((v16f)_mm512_fmadd_ps((__m512)(x), (__m512)(w), (__m512)(acc)))
#define V16_IN_REGISTER(v) __asm__("" : "+v"(v))
#else
#define DW_V16 0
#endif

#define DW_SLIDE_ROWS 8 /* windows taller than this take the one-pixel kernels */

/* Row runs (depthwise.c): blocks of up to DWR_PX pixels x 8 channels. */
#if defined(__AVX512F__)
#define DWR_PX 8 /* eight independent multiply-add chains cover the FMA latency; 8 + 17 + 1 registers */
#else
#define DWR_PX 4 /* 16 registers: 4 sums + 9 sources + 1 weight */
#endif

/* BLOCK(n, lcut, rcut) for the np (8, 4, 2 or 1) and the cuts in scope, each as a constant. */
#define DWR_CUTS(BLOCK, n) \
  (lcut ? (rcut ? BLOCK(n, 1, 1) : BLOCK(n, 1, 0)) : (rcut ? BLOCK(n, 0, 1) : BLOCK(n, 0, 0)))
#if DWR_PX == 8
#define DWR_SWITCH(BLOCK) \
  switch (np) { \
    case 8: DWR_CUTS(BLOCK, 8); break; \
    case 4: DWR_CUTS(BLOCK, 4); break; \
    case 2: DWR_CUTS(BLOCK, 2); break; \
    default: DWR_CUTS(BLOCK, 1); \
  }
#else
#define DWR_SWITCH(BLOCK) \
  switch (np) { \
    case 4: DWR_CUTS(BLOCK, 4); break; \
    case 2: DWR_CUTS(BLOCK, 2); break; \
    default: DWR_CUTS(BLOCK, 1); \
  }
#endif

/* The shapes the row runs take: multiplier 1, 3-wide windows, C a multiple of 8. */
static inline int run_ok(const tq_conv_shape *s) {
  return s->oc == s->c && s->c % 8 == 0 && s->kw == 3 && s->kh <= DW_SLIDE_ROWS;
}

/* The threads a kernel with a pre-op (tq_bn_relu_pre) runs on, each with `per` floats of its scratch:
 * as many as OpenMP gives, no more than the scratch has room for (the model sized it for the thread
 * count it had when it was finalised). */
static inline int tq_pre_threads(const tq_bn_relu_pre *pre, size_t per) {
  const int t = omp_get_max_threads();
  const size_t room = pre->scratch_floats / per;
  TQ_ASSERT(room >= 1);
  return room < (size_t)t ? (int)room : t;
}

/* dw (KH,KW,OC) += and db (OC) += of tq_depthwise_backward (either may be NULL). */
void tq_depthwise_wgrad(float *dw, float *db, const float *dout, const float *in, const tq_bn_relu_pre *pre,
                        const tq_conv_shape *s);

#endif
