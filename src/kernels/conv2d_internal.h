/* What the Conv2D kernels share (private to src/kernels): conv2d.c (shapes, forward, din, the
 * im2col + GEMM path, scratch) and conv2d_wgrad.c (the direct path's dw tiles) use the same vector
 * types, tile shape and parallel threshold, so that the kernels of both files compute with the same
 * widths and the same rounding.
 *
 * Including this header turns on multiply-add contraction for the rest of the including file: ISO C
 * mode (-std=c11) turns it off in GCC, and the direct kernels are nothing but multiply-adds. Both
 * files take it from here, so their floats round alike (and as before the split). (Clang contracts
 * within a statement by default.) */
#ifndef TINYQ_KERNELS_CONV2D_INTERNAL_H
#define TINYQ_KERNELS_CONV2D_INTERNAL_H

#include <stddef.h>

#include "tinyq/kernels.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

#define CONV_PARALLEL_MACS 200000 /* multiply-adds below which a kernel stays on one thread */

/* K: the taps of one output value (a row of w (K, OC), a column of the col matrix). */
static inline size_t conv_k(const tq_conv_shape *s) { return (size_t)s->kh * s->kw * s->c; }

/* ---- Direct path: a tile of DIRECT_PX pixels x 16 output channels per kernel call.
 * The vector width follows the machine (-march=native): 8 floats (AVX2, NEON pairs) or 16 (AVX-512).
 * A tile is 12 accumulator vectors either way: 6 pixels x 2 vectors, or 12 pixels x 1 vector, which
 * is enough independent multiply-add chains to cover the FMA latency and leaves registers for the
 * weights and the broadcast input. TQ_DIRECT_VW overrides the width (to test the 16-wide code on
 * an AVX2 machine). */

#if defined(TQ_DIRECT_VW)
#define VW TQ_DIRECT_VW
#elif defined(__AVX512F__)
#define VW 16
#else
#define VW 8
#endif
#define DIRECT_OC 16        /* output channels per tile: OC must be a multiple */
#define NV (DIRECT_OC / VW) /* vectors per tile row */
#define DIRECT_PX (12 / NV) /* tile rows: pixels (forward) or kernel taps (dw) */

typedef float vf __attribute__((vector_size(VW * sizeof(float))));
typedef float vf_u __attribute__((vector_size(VW * sizeof(float)), aligned(4), may_alias)); /* unaligned */
#define VLOAD(p) ((vf)(*(const vf_u *)(p)))
#define VSTORE(p, v) (*(vf_u *)(p) = (v))

/* x - 0 is exactly x for every float (signed zeros too), so this folds to one broadcast. */
#define VSPLAT(x) ((x) - (vf){0})

static inline int conv_direct_ok(const tq_conv_shape *s) { return s->oc % DIRECT_OC == 0; }

/* 8-column panels (OC a multiple of 8 only; conv2d.c: conv_direct_forward_ok): one 8-float vector
 * per tile row, DIRECT8_PX rows (pixels forward, kernel taps for dw). */
#define DIRECT8_PX 12
typedef float v8 __attribute__((vector_size(8 * sizeof(float))));
typedef float v8_u __attribute__((vector_size(8 * sizeof(float)), aligned(4), may_alias));

/* The tile kernels' helpers: inlined whatever the compiler's size estimate, so that a tile's
 * accumulators stay in registers. */
#define TILE_INLINE static inline __attribute__((always_inline))

/* dw (K,OC) += col^T · dout over the whole batch, by direct tiles (conv2d_wgrad.c), when
 * conv_direct_forward_ok(s): x is the frame the windows read (the input, or its zero-padded copy;
 * row stride `row` floats, image stride img floats), koff scratch for K floats, lanes scratch for
 * tq_conv2d_direct_dw_floats(s) floats. */
void tq_conv2d_direct_dw(float *dw, const float *x, int row, size_t img, const float *dout,
                         const tq_conv_shape *s, float *koff, float *lanes);
/* The per-lane partial sums tq_conv2d_direct_dw needs in `lanes` (0: it sums in place). */
size_t tq_conv2d_direct_dw_floats(const tq_conv_shape *s);

/* Winograd F(2x2, 3x3) for the training forward and the stride-1 din (conv2d_winograd.c). */
int tq_conv2d_winograd_ok(const tq_conv_shape *s);
size_t tq_conv2d_winograd_floats(const tq_conv_shape *s); /* the transformed kernel u */
void tq_conv2d_winograd_weights(float *u, const float *w, int C, int OC);
void tq_conv2d_winograd_forward(float *out, const float *x, int row, size_t img, const float *u, const float *b,
                                const tq_conv_shape *s);
size_t tq_conv2d_winograd_dw_floats(const tq_conv_shape *s); /* the per-lane dU sums */
void tq_conv2d_winograd_dw(float *dw, const float *x, int row, size_t img, const float *dout,
                           const tq_conv_shape *s, float *lanes);

#endif
