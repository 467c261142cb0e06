/* Batch normalization over the last axis of (rows, C), rows = N*H*W.
 *
 * Per-channel sums over rows are the only reductions. They are split into a fixed number of row
 * blocks (a function of rows only, never of the thread count), each block sums into its own partial
 * in float, and the partials are combined in block order in double: parallel, vectorised over the
 * contiguous channel axis, and bit-identical for any number of threads. The forward's statistics
 * use fixed row groups of their own, which the layer before may fill while it writes its output
 * (tq_conv2d_forward_train_stats; "Batch statistics in fixed row groups" below).
 *
 * gamma and beta may be NULL (Keras scale=False / center=False): treated as 1 and 0. moving_mean and
 * moving_var may be NULL in training when moving statistics are not tracked. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels/dropout_draw.h"
#include "tinyq/kernels.h"

#define BN_MAX_BLOCKS 32
#define BN_MIN_BLOCK_ROWS 64
#define BN_PARALLEL_VALUES 32768
#define BN_STACK_FLOATS 16384 /* 64 KB: the group statistics of every ResNet/DS-CNN/MobileNet layer stay off the heap */

#define BN_INLINE static inline __attribute__((always_inline))

/* The passes with the channel count a constant for the common narrow layers (MobileNet alpha 0.25:
 * 8..64; DS-CNN: 64): a row is then one or a few whole vectors, with no loop around them. */
#define BN_CASES(call, c)                                                                                     \
  switch (c) {                                                                                               \
    case 8: call(8); break;                                                                                  \
    case 16: call(16); break;                                                                                \
    case 32: call(32); break;                                                                                \
    case 64: call(64); break;                                                                                \
    default: call(c);                                                                                        \
  }

static int bn_blocks(int rows) {
  int nb = rows / BN_MIN_BLOCK_ROWS;
  if (nb < 1) nb = 1;
  return nb < BN_MAX_BLOCKS ? nb : BN_MAX_BLOCKS;
}

/* Small per-call workspace: on the stack when it fits, else on the heap. */
typedef struct {
  _Alignas(16) float local[BN_STACK_FLOATS]; /* doubles may be carved out of it */
  float *p;
} bn_ws;

static float *bn_ws_get(bn_ws *w, size_t floats) {
  w->p = floats <= BN_STACK_FLOATS ? w->local : tq_alloc_floats(floats);
  TQ_ASSERT(w->p != NULL);
  return w->p;
}

static void bn_ws_release(bn_ws *w) {
  if (w->p != w->local) tq_free(w->p);
}

/* Per-channel sums of (x - sh) and its square over rows [r0, r1), four rows per update of the partials
 * (fewer load/store chains). */
BN_INLINE void moments_block(float *restrict s1, float *restrict s2, const float *restrict sh, const float *in, int r0,
                             int r1, int c) {
  memset(s1, 0, (size_t)c * sizeof(float));
  memset(s2, 0, (size_t)c * sizeof(float));
  int r = r0;
  for (; r + 4 <= r1; r += 4) {
    const float *restrict x0 = in + (size_t)r * c, *restrict x1 = x0 + c, *restrict x2 = x1 + c,
                          *restrict x3 = x2 + c;
#pragma omp simd
    for (int j = 0; j < c; j++) {
      float d0 = x0[j] - sh[j], d1 = x1[j] - sh[j], d2 = x2[j] - sh[j], d3 = x3[j] - sh[j];
      s1[j] += (d0 + d1) + (d2 + d3);
      s2[j] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3);
    }
  }
  for (; r < r1; r++) {
    const float *restrict x = in + (size_t)r * c;
#pragma omp simd
    for (int j = 0; j < c; j++) {
      float d = x[j] - sh[j];
      s1[j] += d;
      s2[j] += d * d;
    }
  }
}

/* ---- Batch statistics in fixed row groups.
 * The rows are cut into groups of G rows (a multiple of 24, a function of rows only, at most
 * BN_MAX_GROUPS groups); each group keeps per channel the float sums of (x - its first row) and of
 * their squares, and that first row. Shifting by a row of the group keeps the E[d^2] - E[d]^2
 * cancellation harmless when |mean| >> std. The groups are then combined in group order in double
 * (Chan et al.: the group means, then the squared deviations around the batch mean). A layer that
 * writes the batch norm's input can compute its groups while they are still in cache
 * (tq_conv2d_forward_train_stats): the same function on the same rows, so the same bits, and the
 * batch norm's own pass over its input disappears. */
#define BN_MAX_GROUPS 32 /* few enough for the partials to stay on the stack (BN_STACK_FLOATS) */
#define BN_GROUP_ALIGN 24 /* the conv kernels' pixel blocks (6, 12, 24) divide it */

int tq_batchnorm_stats_group_rows(int rows) {
  TQ_ASSERT(rows > 0);
  long long per = ((long long)rows + BN_MAX_GROUPS - 1) / BN_MAX_GROUPS;
  return (int)((per + BN_GROUP_ALIGN - 1) / BN_GROUP_ALIGN * BN_GROUP_ALIGN);
}

static int bn_groups(int rows) {
  int g = tq_batchnorm_stats_group_rows(rows);
  return (rows + g - 1) / g;
}

/* Enough for any number of rows up to `rows` (a smaller last batch can have more groups than a full
 * one): every group has at least BN_GROUP_ALIGN rows, and there are at most BN_MAX_GROUPS. */
size_t tq_batchnorm_stats_floats(int rows, int c) {
  int most = (rows + BN_GROUP_ALIGN - 1) / BN_GROUP_ALIGN;
  return (size_t)3 * (most < BN_MAX_GROUPS ? most : BN_MAX_GROUPS) * c;
}

void tq_batchnorm_stats_group(float *stats, const float *in, int rows, int c, int group) {
  /* stats: tq_batchnorm_stats_floats(rows, c); group g's 3C floats: sums, sums of squares, shift */
  const int g = tq_batchnorm_stats_group_rows(rows), r0 = group * g, r1 = r0 + g < rows ? r0 + g : rows;
  TQ_ASSERT(group >= 0 && r0 < rows);
  float *s1 = stats + (size_t)3 * group * c, *s2 = s1 + c, *shift = s2 + c;
  memcpy(shift, in + (size_t)r0 * c, (size_t)c * sizeof(float));
#define BN_MOMENTS(cc) moments_block(s1, s2, shift, in, r0, r1, cc)
  BN_CASES(BN_MOMENTS, c)
#undef BN_MOMENTS
}

void tq_batchnorm_stats(float *stats, const float *in, int rows, int c) {
  const int ng = bn_groups(rows);
#pragma omp parallel for schedule(static) if ((size_t)rows * c > BN_PARALLEL_VALUES)
  for (int gi = 0; gi < ng; gi++) tq_batchnorm_stats_group(stats, in, rows, c, gi);
}

/* Groups outer, channels inner: each channel's sums still run over the groups in order (the same
 * bits), and the channels' double divisions go through the vector unit. Channel by channel, the
 * scalar divisions of MobileNetV1's 27 batch norms took 0.2-0.3 ms of every training step on one
 * thread while the other waited. */
void tq_batchnorm_moments_from_stats(double *restrict mean, double *restrict var, const float *restrict stats, int rows,
                                     int c) {
  const int g = tq_batchnorm_stats_group_rows(rows), ng = bn_groups(rows);
  for (int j = 0; j < c; j++) mean[j] = 0.0, var[j] = 0.0;
  for (int gi = 0; gi < ng; gi++) {
    const float *s = stats + (size_t)3 * gi * c;
    const int n = gi + 1 < ng ? g : rows - gi * g;
    for (int j = 0; j < c; j++) mean[j] += n * ((double)s[2 * c + j] + (double)s[j] / n); /* n * the group's mean */
  }
  for (int j = 0; j < c; j++) mean[j] /= rows;
  for (int gi = 0; gi < ng; gi++) {
    const float *s = stats + (size_t)3 * gi * c;
    const int n = gi + 1 < ng ? g : rows - gi * g;
    for (int j = 0; j < c; j++) {
      double a = s[j], m2 = (double)s[c + j] - a * a / n, d = (double)s[2 * c + j] + a / n - mean[j];
      var[j] += (m2 > 0.0 ? m2 : 0.0) + n * d * d;
    }
  }
  for (int j = 0; j < c; j++) var[j] /= rows;
}

void tq_batchnorm_moments(double *mean, double *var, const float *in, int rows, int c) {
  TQ_ASSERT(rows > 0 && c > 0);
  bn_ws wsb;
  float *stats = bn_ws_get(&wsb, tq_batchnorm_stats_floats(rows, c));
  tq_batchnorm_stats(stats, in, rows, c);
  tq_batchnorm_moments_from_stats(mean, var, stats, rows, c);
  bn_ws_release(&wsb);
}

/* The dropout after a fused ReLU (rate 0: none): its key and rate. */
typedef struct {
  float rate, keep;
  uint64_t key;
} bn_drop;

/* Rows [r0, r1) of tq_batchnorm_normalize; relu 0: none (xhat kept when not NULL), 1: ReLU, 2: capped;
 * drop: then the dropout's draw, value for value as tq_dropout_forward would multiply. */
BN_INLINE void normalize_rows(float *out, float *xhat, const float *in, const float *mean, const float *invstd,
                              const float *gamma, const float *beta, int r0, int r1, int c, const int relu,
                              float cap, const int drop, bn_drop d) {
  for (int r = r0; r < r1; r++) {
    const float *x = in + (size_t)r * c;
    float *o = out + (size_t)r * c;
    const size_t base = (size_t)r * c;
    const uint32_t blo = (uint32_t)base, bhi = (uint32_t)((uint64_t)base >> 32);
    /* omp simd: without it gcc guards the loop with overlap tests that send short rows (C = 16)
     * down the scalar path, 10x slower */
    if (relu) {
#pragma omp simd
      for (int j = 0; j < c; j++) {
        float v = gamma[j] * ((x[j] - mean[j]) * invstd[j]) + beta[j];
        v = v > 0.0f ? v : 0.0f;
        v = relu == 1 ? v : v < cap ? v : cap; /* min(v, INFINITY) is v: plain ReLU */
        o[j] = drop ? v * tq_dropout_draw32(d.key, TQ_DROPOUT_LO(blo, j), TQ_DROPOUT_HI(blo, bhi, j), d.rate, d.keep)
                    : v;
      }
    } else if (xhat) {
      float *xh = xhat + (size_t)r * c;
#pragma omp simd
      for (int j = 0; j < c; j++) {
        float v = (x[j] - mean[j]) * invstd[j];
        xh[j] = v;
        o[j] = gamma[j] * v + beta[j];
      }
    } else {
#pragma omp simd
      for (int j = 0; j < c; j++) o[j] = gamma[j] * ((x[j] - mean[j]) * invstd[j]) + beta[j];
    }
  }
}

/* One row of c channels of tq_bn_relu_pre_rows: normalize_rows' ReLU expression, value for value. */
BN_INLINE void pre_row(float *restrict o, const float *restrict x, const float *mean, const float *invstd,
                       const float *gamma, const float *beta, const int c, const int relu, float cap) {
#pragma omp simd
  for (int j = 0; j < c; j++) {
    float v = gamma[j] * ((x[j] - mean[j]) * invstd[j]) + beta[j];
    v = v > 0.0f ? v : 0.0f;
    o[j] = relu == 1 ? v : v < cap ? v : cap;
  }
}

/* The same on 8-channel vectors, ng of them, with the channels' statistics held in registers across
 * the rows (pre_row reloads them for every row: 8- to 32-channel rows spent as long on that as on the
 * values). The same operations, no contraction in this file: the same bits. The clamps as masks. */
typedef float pre_v8 __attribute__((vector_size(32)));
typedef float pre_v8_u __attribute__((vector_size(32), aligned(4), may_alias));
typedef int pre_m8 __attribute__((vector_size(32)));
#define PRE_LOAD(p) ((pre_v8)(*(const pre_v8_u *)(p)))
#if defined(__AVX512F__)
#define PRE_GROUPS 4 /* 16 of the 32 vector registers for the statistics */
#else
#define PRE_GROUPS 2
#endif

BN_INLINE void pre_vectors(float *out, size_t ldo, const float *in, size_t ldi, int rows, const float *mean,
                           const float *invstd, const float *gamma, const float *beta, const int ng, const int relu,
                           float cap) {
  pre_v8 m[PRE_GROUPS], is[PRE_GROUPS], g[PRE_GROUPS], b[PRE_GROUPS];
  const pre_v8 zero = {0}, cv = zero + cap;
  for (int k = 0; k < ng; k++)
    m[k] = PRE_LOAD(mean + 8 * k), is[k] = PRE_LOAD(invstd + 8 * k), g[k] = PRE_LOAD(gamma + 8 * k),
    b[k] = PRE_LOAD(beta + 8 * k);
  for (int r = 0; r < rows; r++)
    for (int k = 0; k < ng; k++) {
      pre_v8 v = g[k] * ((PRE_LOAD(in + (size_t)r * ldi + 8 * k) - m[k]) * is[k]) + b[k];
      v = (pre_v8)((pre_m8)(v > zero) & (pre_m8)v);
      if (relu == 2) v = (pre_v8)(((pre_m8)(v < cv) & (pre_m8)v) | (~(pre_m8)(v < cv) & (pre_m8)cv));
      *(pre_v8_u *)(out + (size_t)r * ldo + 8 * k) = v;
    }
}

void tq_bn_relu_pre_rows(float *out, size_t ldo, const float *in, size_t ldi, int rows, int c0, int nc,
                         const tq_bn_relu_pre *pre) {
  const float *mean = pre->mean + c0, *invstd = pre->invstd + c0, *gamma = pre->gamma + c0, *beta = pre->beta + c0;
  const float cap = pre->relu_max;
  in += c0;
  if (nc % 8 == 0) {
    for (int c = 0; c < nc; c += 8 * PRE_GROUPS) {
      const int ng = (nc - c) / 8 < PRE_GROUPS ? (nc - c) / 8 : PRE_GROUPS;
#define PRE_VEC(n, relu) \
  pre_vectors(out + c, ldo, in + c, ldi, rows, mean + c, invstd + c, gamma + c, beta + c, n, relu, cap)
#if PRE_GROUPS == 4
#define PRE_NG(relu)                                                                                          \
  switch (ng) {                                                                                               \
    case 1: PRE_VEC(1, relu); break;                                                                          \
    case 2: PRE_VEC(2, relu); break;                                                                          \
    case 3: PRE_VEC(3, relu); break;                                                                          \
    default: PRE_VEC(4, relu);                                                                                \
  }
#else
#define PRE_NG(relu)                                                                                          \
  switch (ng) {                                                                                               \
    case 1: PRE_VEC(1, relu); break;                                                                          \
    default: PRE_VEC(2, relu);                                                                                \
  }
#endif
      if (cap > 0.0f) {
        PRE_NG(2)
      } else {
        PRE_NG(1)
      }
#undef PRE_NG
#undef PRE_VEC
    }
    return;
  }
#define PRE_ROWS(cc, relu)                                                                                    \
  for (int r = 0; r < rows; r++)                                                                              \
  pre_row(out + (size_t)r * ldo, in + (size_t)r * ldi, mean, invstd, gamma, beta, cc, relu, cap)
#define PRE(cc)                                                                                               \
  if (cap > 0.0f) {                                                                                           \
    PRE_ROWS(cc, 2);                                                                                          \
  } else {                                                                                                    \
    PRE_ROWS(cc, 1);                                                                                          \
  }
  BN_CASES(PRE, nc)
#undef PRE
#undef PRE_ROWS
}

static void bn_normalize(float *out, float *xhat, const float *in, const float *mean, const float *invstd,
                         const float *gamma, const float *beta, int rows, int c, int relu, float relu_max,
                         bn_drop d) {
  const int nb = bn_blocks(rows), mode = !relu ? 0 : (relu_max > 0.0f ? 2 : 1) + (d.rate > 0.0f ? 2 : 0);
#pragma omp parallel for schedule(static) if ((size_t)rows * c > BN_PARALLEL_VALUES)
  for (int blk = 0; blk < nb; blk++) {
    int r0 = (int)((long long)rows * blk / nb), r1 = (int)((long long)rows * (blk + 1) / nb);
#define BN_NORM_MODE(cc, relu, drop)                                                                          \
  normalize_rows(out, xhat, in, mean, invstd, gamma, beta, r0, r1, cc, relu, relu_max, drop, d)
#define BN_NORM(cc)                                                                                           \
  mode == 4   ? BN_NORM_MODE(cc, 2, 1)                                                                        \
  : mode == 3 ? BN_NORM_MODE(cc, 1, 1)                                                                        \
  : mode == 2 ? BN_NORM_MODE(cc, 2, 0)                                                                        \
  : mode == 1 ? BN_NORM_MODE(cc, 1, 0)                                                                        \
              : BN_NORM_MODE(cc, 0, 0)
    BN_CASES(BN_NORM, c)
#undef BN_NORM
#undef BN_NORM_MODE
  }
}

void tq_batchnorm_normalize(float *out, float *xhat, const float *in, const float *mean, const float *invstd,
                            const float *gamma, const float *beta, int rows, int c, int relu, float relu_max) {
  /* out: (rows,C) (may be in)  xhat: (rows,C) or NULL  in: (rows,C)  mean, invstd, gamma, beta: (C)
   * relu: clamp as tq_relu_forward / tq_relu_max_forward (relu_max > 0) would, value for value */
  bn_normalize(out, xhat, in, mean, invstd, gamma, beta, rows, c, relu, relu_max, (bn_drop){0});
}

void tq_batchnorm_normalize_dropout(float *out, const float *in, const float *mean, const float *invstd,
                                    const float *gamma, const float *beta, int rows, int c, float relu_max,
                                    float rate, uint64_t key) {
  /* out: (rows,C) = dropout(relu(...)) with the draws of tq_dropout_forward's key `key` */
  bn_normalize(out, NULL, in, mean, invstd, gamma, beta, rows, c, 1, relu_max,
               (bn_drop){rate, tq_dropout_keep(rate), key});
}

/* A batch norm's training forward, and the same fused with the ReLU (or ReLU6, relu_max > 0) after it:
 * per channel the batch statistics, then one pass that normalises (and clamps). Unfused it keeps
 * xhat for the backward pass; fused it keeps the batch mean instead (the backward recomputes xhat
 * and the ReLU's mask from the input, in the same operations: the same bits) and writes only the
 * ReLU's output, or, with the dropout after the ReLU fused too (d.rate > 0), only the dropout's. The
 * arithmetic is that of the separate passes, value for value. */
static void bn_forward_train(float *out, float *xhat, float *mean_out, float *invstd, float *moving_mean,
                             float *moving_var, const float *in, const float *stats, const float *gamma,
                             const float *beta, int rows, int c, float momentum, float eps, int relu,
                             float relu_max, bn_drop d) {
  TQ_ASSERT(rows > 0 && c > 0);
  bn_ws wsb;
  /* layout: batch mean, variance (2C doubles) | mean as float (C) | the group statistics, unless given */
  size_t sws = stats ? 0 : tq_batchnorm_stats_floats(rows, c);
  float *ws = bn_ws_get(&wsb, 5 * (size_t)c + sws);
  double *bmean = (double *)ws, *bvar = bmean + c;
  float *mean = mean_out ? mean_out : ws + 4 * (size_t)c;
  if (!stats) {
    float *own = ws + 5 * (size_t)c;
    tq_batchnorm_stats(own, in, rows, c);
    stats = own;
  }
  tq_batchnorm_moments_from_stats(bmean, bvar, stats, rows, c);
  for (int j = 0; j < c; j++) {
    double var = bvar[j];
    mean[j] = (float)bmean[j];
    invstd[j] = (float)(1.0 / sqrt(var + eps));
    /* Keras keeps the unbiased batch variance in the moving average */
    double unbiased = rows > 1 ? var * rows / (rows - 1) : var;
    if (moving_mean) moving_mean[j] = momentum * moving_mean[j] + (1.0f - momentum) * mean[j];
    if (moving_var) moving_var[j] = momentum * moving_var[j] + (1.0f - momentum) * (float)unbiased;
  }
  float *g = ws, *bt = ws + c; /* the moments are spent: reuse them for gamma/beta */
  for (int j = 0; j < c; j++) {
    g[j] = gamma ? gamma[j] : 1.0f;
    bt[j] = beta ? beta[j] : 0.0f;
  }
  if (out) bn_normalize(out, xhat, in, mean, invstd, g, bt, rows, c, relu, relu_max, d);
  bn_ws_release(&wsb);
}

void tq_batchnorm_forward_train_stats(float *out, float *xhat, float *invstd, float *moving_mean,
                                      float *moving_var, const float *in, const float *stats, const float *gamma,
                                      const float *beta, int rows, int c, float momentum, float eps) {
  /* out, xhat: (rows,C)  invstd: (C)  moving_mean, moving_var: (C) updated  in: (rows,C)
   * stats: tq_batchnorm_stats of in, or NULL  gamma, beta: (C) or NULL */
  bn_forward_train(out, xhat, NULL, invstd, moving_mean, moving_var, in, stats, gamma, beta, rows, c, momentum,
                   eps, 0, 0.0f, (bn_drop){0});
}

void tq_batchnorm_forward_train(float *out, float *xhat, float *invstd, float *moving_mean, float *moving_var,
                                const float *in, const float *gamma, const float *beta, int rows, int c,
                                float momentum, float eps) {
  tq_batchnorm_forward_train_stats(out, xhat, invstd, moving_mean, moving_var, in, NULL, gamma, beta, rows, c,
                                   momentum, eps);
}

void tq_batchnorm_relu_forward_train_stats(float *out, float *mean, float *invstd, float *moving_mean,
                                           float *moving_var, const float *in, const float *stats,
                                           const float *gamma, const float *beta, int rows, int c, float momentum,
                                           float eps, float relu_max, float dropout_rate, uint64_t dropout_key) {
  /* out: (rows,C) = relu(batchnorm(in)), or dropout(relu(...)) with dropout_rate > 0; NULL: only the
   * statistics, for a reader that normalises as it reads (tq_bn_relu_pre)
   * mean, invstd: (C) for the backward pass  moving_mean, moving_var: (C) updated
   * stats: tq_batchnorm_stats of in, or NULL  gamma, beta: (C) or NULL  relu_max: 0 or the ReLU6 cap */
  bn_forward_train(out, NULL, mean, invstd, moving_mean, moving_var, in, stats, gamma, beta, rows, c, momentum,
                   eps, 1, relu_max,
                   dropout_rate > 0.0f ? (bn_drop){dropout_rate, tq_dropout_keep(dropout_rate), dropout_key}
                                       : (bn_drop){0});
}

void tq_batchnorm_relu_forward_train(float *out, float *mean, float *invstd, float *moving_mean,
                                     float *moving_var, const float *in, const float *gamma, const float *beta,
                                     int rows, int c, float momentum, float eps, float relu_max) {
  tq_batchnorm_relu_forward_train_stats(out, mean, invstd, moving_mean, moving_var, in, NULL, gamma, beta, rows,
                                        c, momentum, eps, relu_max, 0.0f, 0);
}

void tq_batchnorm_forward_infer(float *out, const float *in, const float *gamma, const float *beta,
                                const float *moving_mean, const float *moving_var, int rows, int c,
                                float eps) {
  /* out, in: (rows,C)  gamma, beta: (C) or NULL  moving_mean, moving_var: (C) */
  bn_ws wsb;
  float *scale = bn_ws_get(&wsb, 2 * (size_t)c), *bias = scale + c; /* out = x*scale + bias */
  for (int j = 0; j < c; j++) {
    float is = 1.0f / sqrtf(moving_var[j] + eps);
    scale[j] = (gamma ? gamma[j] : 1.0f) * is;
    bias[j] = (beta ? beta[j] : 0.0f) - moving_mean[j] * scale[j];
  }
#pragma omp parallel for schedule(static) if ((size_t)rows * c > BN_PARALLEL_VALUES)
  for (int r = 0; r < rows; r++) {
    const float *x = in + (size_t)r * c;
    float *o = out + (size_t)r * c;
#pragma omp simd
    for (int j = 0; j < c; j++) o[j] = x[j] * scale[j] + bias[j];
  }
  bn_ws_release(&wsb);
}

/* What the backward pass reads: dout and xhat, or, fused with a ReLU, the ReLU's dout and the batch
 * norm's input, from which xhat and the ReLU's mask are recomputed in the forward's operations. */
typedef struct {
  const float *dout, *xhat;                         /* unfused */
  const float *in, *mean, *invstd, *gamma, *beta; /* fused (gamma, beta: C each, never NULL) */
  float relu_max;
  bn_drop drop; /* fused with the dropout after the ReLU too: dout is the dropout's */
} bn_grad_in;


/* g masked by the (capped) ReLU whose input was the batch norm's output at element i, channel j;
 * xhat recomputed into *h. */
BN_INLINE float bn_masked(float *h, float g, const float *restrict x, const float *restrict mean,
                          const float *restrict invstd, const float *restrict gamma, const float *restrict beta,
                          float cap, int capped, size_t i, int j) {
  float hh = (x[i] - mean[j]) * invstd[j], v = gamma[j] * hh + beta[j];
  *h = hh;
  return v > 0.0f && (!capped || v < cap) ? g : 0.0f;
}

/* Element i (channel j) of the gradient g and of xhat h: unfused (fused 0), dout and xhat
 * themselves; fused with a ReLU (1) or a capped ReLU (2), xhat and the ReLU's mask recomputed from
 * the batch norm's input in the forward's operations. The values stay in registers: staging xhat
 * through memory cost the fused pass 4x its unfused time. (3 and 4, the same with the dropout after
 * the ReLU: BN_GH.) */
BN_INLINE float bn_gh(float *h, const float *restrict dout, const float *restrict xh, const float *restrict x,
                      const float *restrict mean, const float *restrict invstd, const float *restrict gamma,
                      const float *restrict beta, float cap, int fused, size_t i, int j) {
  if (!fused) {
    *h = xh[i];
    return dout[i];
  }
  return bn_masked(h, dout[i], x, mean, invstd, gamma, beta, cap, fused == 2, i, j);
}

/* Element o + off (o: the row's offset, off: within a few rows). With a dropout (fused 3, 4) the
 * dropout's gradient of these rows is staged in gs first (bn_dropout_grad): with the hash in these
 * loops gcc left them unvectorised, 25x slower on AVX2. */
#define BN_GH(h, o, off, j)                                                                                   \
  (fused >= 3 ? bn_masked(&(h), gs[off], a->in, a->mean, a->invstd, a->gamma, a->beta, cap, fused == 4,      \
                          (o) + (size_t)(off), j)                                                             \
              : bn_gh(&(h), a->dout, a->xhat, a->in, a->mean, a->invstd, a->gamma, a->beta, cap, fused,       \
                      (o) + (size_t)(off), j))

/* gs[t] = dout[o + t] times the dropout's keep-or-0 for value o + t: tq_dropout_backward's product
 * with tq_dropout_forward's draws (dropout_draw.h). */
static void bn_dropout_grad(float *restrict gs, const float *restrict dout, const bn_drop *d, size_t o, int n) {
  const uint32_t blo = (uint32_t)o, bhi = (uint32_t)((uint64_t)o >> 32);
  const uint64_t key = d->key;
  const float rate = d->rate, keep = d->keep;
#pragma omp simd
  for (int t = 0; t < n; t++)
    gs[t] = dout[o + (size_t)t] * tq_dropout_draw32(key, TQ_DROPOUT_LO(blo, t), TQ_DROPOUT_HI(blo, bhi, t), rate, keep);
}

/* Per-channel partial sums of g and g*h over rows [r0, r1), four rows per update of the partials. */
BN_INLINE void bn_block_sums(float *restrict s1, float *restrict s2, const bn_grad_in *a, int fused, int r0,
                             int r1, int c, float *restrict gs) {
  const float cap = a->relu_max > 0.0f ? a->relu_max : INFINITY;
  memset(s1, 0, (size_t)c * sizeof(float));
  memset(s2, 0, (size_t)c * sizeof(float));
  int r = r0;
  for (; r + 4 <= r1; r += 4) {
    const size_t o = (size_t)r * c;
    if (fused >= 3) bn_dropout_grad(gs, a->dout, &a->drop, o, 4 * c);
#pragma omp simd
    for (int j = 0; j < c; j++) {
      float h0, h1, h2, h3;
      float g0 = BN_GH(h0, o, j, j), g1 = BN_GH(h1, o, c + j, j), g2 = BN_GH(h2, o, 2 * c + j, j),
            g3 = BN_GH(h3, o, 3 * c + j, j);
      s1[j] += (g0 + g1) + (g2 + g3);
      s2[j] += (g0 * h0 + g1 * h1) + (g2 * h2 + g3 * h3);
    }
  }
  for (; r < r1; r++) {
    const size_t o = (size_t)r * c;
    if (fused >= 3) bn_dropout_grad(gs, a->dout, &a->drop, o, c);
#pragma omp simd
    for (int j = 0; j < c; j++) {
      float h0, g0 = BN_GH(h0, o, j, j);
      s1[j] += g0;
      s2[j] += g0 * h0;
    }
  }
}

/* Rows [r0, r1) of din; din may be dout (in place): each value is read before it is written. */
BN_INLINE void bn_din_rows(float *din, const bn_grad_in *a, int fused, int r0, int r1, int c,
                           const float *restrict k, const float *restrict sd, const float *restrict sdx,
                           float *restrict gs) {
  const float cap = a->relu_max > 0.0f ? a->relu_max : INFINITY;
  for (int r = r0; r < r1; r++) {
    const size_t o = (size_t)r * c;
    float *d = din + o;
    if (fused >= 3) bn_dropout_grad(gs, a->dout, &a->drop, o, c);
#pragma omp simd
    for (int j = 0; j < c; j++) {
      float h, g = BN_GH(h, o, j, j);
      d[j] = k[j] * (g - sd[j] - h * sdx[j]);
    }
  }
}

static void bn_block_sums_any(float *s1, const bn_grad_in *a, int fused, int r0, int r1, int c, float *ks) {
#define BN_SUMS(cc)                                                                                           \
  fused == 4   ? bn_block_sums(s1, s1 + (cc), a, 4, r0, r1, cc, ks)                                              \
  : fused == 3 ? bn_block_sums(s1, s1 + (cc), a, 3, r0, r1, cc, ks)                                              \
  : fused == 2 ? bn_block_sums(s1, s1 + (cc), a, 2, r0, r1, cc, ks)                                              \
  : fused == 1 ? bn_block_sums(s1, s1 + (cc), a, 1, r0, r1, cc, ks)                                              \
               : bn_block_sums(s1, s1 + (cc), a, 0, r0, r1, cc, ks)
  BN_CASES(BN_SUMS, c)
#undef BN_SUMS
}

static void bn_din_rows_any(float *din, const bn_grad_in *a, int fused, int r0, int r1, int c, const float *k,
                            const float *sd, const float *sdx, float *ks) {
#define BN_DIN(cc)                                                                                            \
  fused == 4   ? bn_din_rows(din, a, 4, r0, r1, cc, k, sd, sdx, ks)                                              \
  : fused == 3 ? bn_din_rows(din, a, 3, r0, r1, cc, k, sd, sdx, ks)                                              \
  : fused == 2 ? bn_din_rows(din, a, 2, r0, r1, cc, k, sd, sdx, ks)                                              \
  : fused == 1 ? bn_din_rows(din, a, 1, r0, r1, cc, k, sd, sdx, ks)                                              \
               : bn_din_rows(din, a, 0, r0, r1, cc, k, sd, sdx, ks)
  BN_CASES(BN_DIN, c)
#undef BN_DIN
}

/* With sd = sum(dout), sdx = sum(dout*xhat) over rows:
 *   dgamma += sdx   dbeta += sd   din = gamma*invstd/rows * (rows*dout - sd - xhat*sdx) */
static void bn_backward(float *din, float *dgamma, float *dbeta, const bn_grad_in *a, const float *gamma,
                        const float *invstd, int rows, int c) {
  const int nb = bn_blocks(rows),
            fused = !a->in ? 0 : (a->relu_max > 0.0f ? 2 : 1) + (a->drop.rate > 0.0f ? 2 : 0);
  bn_ws wsb;
  /* per block: its partial sums (2C); then sd, sdx, k (C each); then per block, with a dropout, the
   * dropout's gradient of four rows (4C, bn_dropout_grad) */
  const size_t draws = fused >= 3 ? (size_t)4 * c : 0;
  float *ws = bn_ws_get(&wsb, (size_t)2 * nb * c + 3 * (size_t)c + nb * draws);
  float *sd = ws + (size_t)2 * nb * c, *sdx = sd + c, *k = sdx + c; /* (C) each */
  float *ks = k + c;
#pragma omp parallel for schedule(static) if ((size_t)rows * c > BN_PARALLEL_VALUES)
  for (int blk = 0; blk < nb; blk++) {
    float *s1 = ws + (size_t)2 * blk * c;
    int r0 = (int)((long long)rows * blk / nb), r1 = (int)((long long)rows * (blk + 1) / nb);
    bn_block_sums_any(s1, a, fused, r0, r1, c, ks + blk * draws);
  }
  for (int j = 0; j < c; j++) {
    double sum = 0.0, q = 0.0;
    for (int blk = 0; blk < nb; blk++) {
      sum += ws[(size_t)2 * blk * c + j];
      q += ws[(size_t)2 * blk * c + c + j];
    }
    sd[j] = (float)(sum / rows); /* kept as means: din = k * (dout - mean(dout) - xhat*mean(dout*xhat)) */
    sdx[j] = (float)(q / rows);
    k[j] = (gamma ? gamma[j] : 1.0f) * invstd[j];
    if (dbeta) dbeta[j] += (float)sum;
    if (dgamma) dgamma[j] += (float)q;
  }
  if (din) {
#pragma omp parallel for schedule(static) if ((size_t)rows * c > BN_PARALLEL_VALUES)
    for (int blk = 0; blk < nb; blk++) {
      int r0 = (int)((long long)rows * blk / nb), r1 = (int)((long long)rows * (blk + 1) / nb);
      bn_din_rows_any(din, a, fused, r0, r1, c, k, sd, sdx, ks + blk * draws);
    }
  }
  bn_ws_release(&wsb);
}

void tq_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *xhat,
                           const float *gamma, const float *invstd, int rows, int c) {
  /* din: (rows,C) overwritten (may be dout)  dgamma, dbeta: (C) +=  dout, xhat: (rows,C)
   * gamma, invstd: (C) */
  const bn_grad_in a = {dout, xhat, NULL, NULL, NULL, NULL, NULL, 0.0f, {0.0f, 0.0f, 0}};
  bn_backward(din, dgamma, dbeta, &a, gamma, invstd, rows, c);
}

void tq_batchnorm_relu_dropout_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                        const float *mean, const float *gamma, const float *beta,
                                        const float *invstd, int rows, int c, float relu_max, float dropout_rate,
                                        uint64_t dropout_key) {
  /* din: (rows,C) overwritten  dgamma, dbeta: (C) +=  dout: the ReLU's gradient (rows,C), or with
   * dropout_rate > 0 the dropout's  in: the batch norm's input (rows,C)  mean, invstd: (C) from the
   * forward  gamma, beta: (C) or NULL */
  bn_ws wsb;
  float *gb = bn_ws_get(&wsb, 2 * (size_t)c);
  for (int j = 0; j < c; j++) {
    gb[j] = gamma ? gamma[j] : 1.0f;
    gb[c + j] = beta ? beta[j] : 0.0f;
  }
  const bn_drop d = dropout_rate > 0.0f ? (bn_drop){dropout_rate, tq_dropout_keep(dropout_rate), dropout_key}
                                        : (bn_drop){0};
  const bn_grad_in a = {dout, NULL, in, mean, invstd, gb, gb + c, relu_max, d};
  bn_backward(din, dgamma, dbeta, &a, gamma, invstd, rows, c);
  bn_ws_release(&wsb);
}

void tq_batchnorm_relu_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                const float *mean, const float *gamma, const float *beta, const float *invstd,
                                int rows, int c, float relu_max) {
  tq_batchnorm_relu_dropout_backward(din, dgamma, dbeta, dout, in, mean, gamma, beta, invstd, rows, c, relu_max,
                                     0.0f, 0);
}
