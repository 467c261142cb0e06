/* Conv2D over NHWC inputs with Keras HWIO kernels.
 *
 * As matrices: col (M,K) has one row per output pixel (M = N*OH*OW) and one column per kernel tap
 * (K = KH*KW*C, ordered ky, kx, c: exactly the flattening of w (KH,KW,C,OC)), and
 *   out (M,OC) = col · w (K,OC) + b       dw (K,OC) += col^T · dout       db (OC) += colsum(dout)
 *   din = col2im(dout · w^T)                                                  (strided convs)
 *   din = conv(dout, w flipped in space, channel axes swapped, padded k-1-pad)   (stride 1)
 * The stride-1 din is a forward-shaped product (inner dimension KH*KW*OC) instead of one with inner
 * dimension OC (often 16) followed by a scatter-add, and it writes din without zeroing it first.
 *
 * Two ways to compute the products:
 *  - direct, when OC is a multiple of 16 (every conv of ResNet-8, DS-CNN, MobileNet): no col matrix
 *    at all. Register-blocked kernels compute a tile of pixels x 16 output channels (forward) or of
 *    kernel taps x 16 output channels (dw) straight from a zero-padded copy of the input. On
 *    ResNet-8's shapes this runs 1.5-2x faster than im2col + OpenBLAS, whose packing and the im2col
 *    copy cost as much as the multiply when the matrices are this skinny (N = OC = 16..64).
 *  - im2col + GEMM through OpenBLAS (any other OC): the rows are split into CONV_LANES fixed lanes; a
 *    lane im2cols an L2-sized chunk into its own slice of the scratch and multiplies it at once
 *    (OpenBLAS runs single-threaded inside the parallel loop). The whole-batch col matrix would be
 *    19 MB for the 32x32x16 layer at batch 32, and one GEMM streaming it is 2-3x slower.
 *
 * Determinism: every output value, and every direct dw tile, is computed by one thread in a fixed
 * order; a GEMM dw and db are summed per fixed lane (never per thread), then over lanes in lane
 * order. Results do not depend on the thread count. Backward lanes are whole images, because the
 * scatter of neighbouring output rows of one image adds into the same input pixels.
 *
 * This file: shapes, the forward (both paths), din, the GEMM dw and db, scratch sizes and the plain-loop
 * references. The direct dw tiles are in conv2d_wgrad.c; what both use, in conv2d_internal.h. */
#include <omp.h>
#include <string.h>

#include "kernels/window.h"
#include "tinyq/kernels.h"

/* also turns on multiply-add contraction for the rest of this file (the direct kernels): see there */
#include "kernels/conv2d_internal.h"

#define CONV_LANES 16
#define CONV_CHUNK_FLOATS 32768 /* im2col chunk target: 128 KB, stays in L2 next to w */

tq_status tq_conv_shape_init(tq_conv_shape *s, int n, int h, int w, int c, int kh, int kw, int sh, int sw,
                             int oc, tq_padding pad) {
  if (n <= 0 || h <= 0 || w <= 0 || c <= 0 || kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 || oc <= 0)
    return tq_fail(TQ_ERR_ARG, "conv shape: non-positive size (n=%d h=%d w=%d c=%d k=%dx%d s=%dx%d oc=%d)", n,
                   h, w, c, kh, kw, sh, sw, oc);
  if (pad != TQ_PAD_VALID && pad != TQ_PAD_SAME)
    return tq_fail(TQ_ERR_ARG, "conv shape: unknown padding %d", (int)pad);
  /* Every later size (im2col rows, MACs, scratch) multiplies these: bound them here, in 64-bit
   * arithmetic, so that none of those products can overflow. */
  const int64_t lim = INT32_MAX; /* products compared in double: exact below 2^53, no overflow */
  if ((double)h * w * c > (double)lim || (double)kh * kw * c > (double)lim)
    return tq_fail(TQ_ERR_ARG, "conv shape: %dx%dx%d input with a %dx%d window is too large (more than %lld values)",
                   h, w, c, kh, kw, (long long)lim);
  int64_t oh, ow, pad_top = 0, pad_left = 0;
  if (pad == TQ_PAD_SAME) {
    /* TensorFlow: out = ceil(in/stride); the odd padding row/column goes at the bottom/right. */
    oh = ((int64_t)h + sh - 1) / sh;
    ow = ((int64_t)w + sw - 1) / sw;
    int64_t pad_h = (oh - 1) * sh + kh - h, pad_w = (ow - 1) * sw + kw - w;
    pad_top = pad_h > 0 ? pad_h / 2 : 0;
    pad_left = pad_w > 0 ? pad_w / 2 : 0;
  } else {
    if (h < kh || w < kw)
      return tq_fail(TQ_ERR_ARG, "conv shape: %dx%d kernel larger than %dx%d input with 'valid' padding", kh,
                     kw, h, w);
    oh = (h - kh) / sh + 1;
    ow = (w - kw) / sw + 1;
  }
  if ((double)oh * ow * oc > (double)lim || (double)n * oh * ow > (double)lim)
    return tq_fail(TQ_ERR_ARG, "conv shape: a %lldx%lldx%d output (batch %d) is too large (more than 2^31-1 values)", (long long)oh,
                   (long long)ow, oc, n);
  s->n = n, s->h = h, s->w = w, s->c = c, s->kh = kh, s->kw = kw, s->sh = sh, s->sw = sw, s->oc = oc;
  s->oh = (int)oh, s->ow = (int)ow, s->pad_top = (int)pad_top, s->pad_left = (int)pad_left;
  return TQ_OK;
}

/* A 1x1 stride-1 convolution needs no im2col: the input (N*H*W, C) already is the col matrix. */
static int conv_is_pointwise(const tq_conv_shape *s) {
  return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->pad_top == 0 && s->pad_left == 0 &&
         s->oh == s->h && s->ow == s->w;
}

static size_t conv_chunk_rows(const tq_conv_shape *s) {
  size_t rows = CONV_CHUNK_FLOATS / conv_k(s);
  if (rows < 16) rows = 16;
  size_t m = (size_t)s->n * s->oh * s->ow;
  return rows < m ? rows : m;
}

/* The shape of the convolution that computes din of a stride-1 convolution (see the top). */
static int conv_transposed_shape(tq_conv_shape *t, const tq_conv_shape *s) {
  if (s->sh != 1 || s->sw != 1) return 0;
  *t = *s;
  t->h = s->oh, t->w = s->ow, t->c = s->oc, t->oc = s->c, t->oh = s->h, t->ow = s->w;
  t->pad_top = s->kh - 1 - s->pad_top;
  t->pad_left = s->kw - 1 - s->pad_left;
  return 1;
}

/* ---- Direct path: a tile of DIRECT_PX pixels x 16 output channels per kernel call (the vector
 * width and tile shape: conv2d_internal.h). */

/* The forward also takes the direct path with 8-column panels when OC is a multiple of 8 only and
 * the input has few channels (MobileNet alpha 0.25's first conv: 8 filters over 3 channels, K = 27,
 * 2.4x faster than im2col + OpenBLAS, for which the product is too skinny): tiles of DIRECT8_PX
 * pixels x 8 output channels, one 8-float vector per pixel. So does a pointwise product over at most
 * 16 channels: the stride-1 din of MobileNet alpha 0.25's 8 -> 16 pointwise conv (48x48, batch 32,
 * 2 threads, Intel Xeon with AVX-512: 0.58 -> 0.24 ms; the x86-64-v3 build 0.59 -> 0.26), where
 * OpenBLAS spends more on packing the 16 x 8 panel than on multiplying. */
static int conv_direct_forward_ok(const tq_conv_shape *s) {
  return conv_direct_ok(s) || (s->oc % 8 == 0 && (s->c < 8 || (conv_is_pointwise(s) && s->c <= 16)));
}

/* A tile of DIRECT_PX rows x 16 columns held in registers, and the one operation
 * direct_tile is made of. */
TILE_INLINE void tile_load(vf acc[DIRECT_PX][NV], const float *p, size_t ld) {
  for (int i = 0; i < DIRECT_PX; i++)
    for (int v = 0; v < NV; v++) acc[i][v] = VLOAD(p + i * ld + v * VW);
}
TILE_INLINE void tile_store(float *p, size_t ld, vf acc[DIRECT_PX][NV]) {
  for (int i = 0; i < DIRECT_PX; i++)
    for (int v = 0; v < NV; v++) VSTORE(p + i * ld + v * VW, acc[i][v]);
}
/* acc[i] += x[i][k] * row for every row i: a rank-1 update (DIRECT_PX broadcasts, one row). */
TILE_INLINE void tile_madd(vf acc[DIRECT_PX][NV], const float *const *x, ptrdiff_t k,
                           const float *row) {
  vf r[NV];
  for (int v = 0; v < NV; v++) r[v] = VLOAD(row + v * VW);
  for (int i = 0; i < DIRECT_PX; i++) {
    vf xi = VSPLAT(x[i][k]);
    for (int v = 0; v < NV; v++) acc[i][v] += xi * r[v];
  }
}

/* The input rows/columns the windows read: (OH-1)*stride + k. The direct kernel reads every tap
 * unconditionally, so when any of them falls in padding the input is copied into a zero frame. */
static int conv_padded_dims(const tq_conv_shape *s, int *hp, int *wp) {
  *hp = (s->oh - 1) * s->sh + s->kh;
  *wp = (s->ow - 1) * s->sw + s->kw;
  return s->pad_top > 0 || s->pad_left > 0 || *hp > s->h || *wp > s->w;
}

static size_t conv_padded_floats(const tq_conv_shape *s) {
  int hp, wp;
  return conv_padded_dims(s, &hp, &wp) ? (size_t)s->n * hp * wp * s->c : 0;
}

static void pad_input(float *xp, const float *in, const tq_conv_shape *s, int hp, int wp) {
  /* xp: (N,HP,WP,C)  in: (N,H,W,C) placed at (pad_top, pad_left) */
  const int C = s->c;
#pragma omp parallel for schedule(static) if ((size_t)s->n * hp * wp * C > 65536)
  for (int r = 0; r < s->n * hp; r++) {
    int n = r / hp, y = r % hp - s->pad_top;
    float *d = xp + (size_t)r * wp * C;
    if (y < 0 || y >= s->h) {
      memset(d, 0, (size_t)wp * C * sizeof(float));
      continue;
    }
    int x0 = s->pad_left, x1 = s->pad_left + s->w < wp ? s->pad_left + s->w : wp; /* real columns */
    memset(d, 0, (size_t)x0 * C * sizeof(float));
    memcpy(d + (size_t)x0 * C, in + ((size_t)n * s->h + y) * s->w * C, (size_t)(x1 - x0) * C * sizeof(float));
    memset(d + (size_t)x1 * C, 0, (size_t)(wp - x1) * C * sizeof(float));
  }
}

/* out (DIRECT_PX, 16) = sum over taps and channels of x * w-panel (+ bias).
 * src[i]: window origin of pixel i; the tap (ky,kx) is at ky*row + kx*C from it.
 * wp: 16 columns of the kernel (K rows, ldw floats apart): read in place, each row one cache line
 * (a packed copy of the panel cost the FC-AutoEncoder's step 5 % and gained nothing). */
static void direct_tile(float *out, int ldo, const float *const *src, int kh, int kw, int row, int C,
                        const float *wp, int ldw, const float *bias) {
  vf acc[DIRECT_PX][NV];
  if (bias) {
    tile_load(acc, bias, 0); /* every row starts at the bias */
  } else {
    for (int i = 0; i < DIRECT_PX; i++)
      for (int v = 0; v < NV; v++) acc[i][v] = VSPLAT(0.0f);
  }
  /* the KW taps of a kernel row are KW*C contiguous floats in NHWC, in the kernel's (kx, c) order:
   * one loop over them (a 3-channel input would otherwise loop 3 times per tap) */
  for (int ky = 0; ky < kh; ky++) {
    const float *x[DIRECT_PX];
    for (int i = 0; i < DIRECT_PX; i++) x[i] = src[i] + ky * row;
    for (int j = 0; j < kw * C; j++, wp += ldw) tile_madd(acc, x, j, wp);
  }
  tile_store(out, (size_t)ldo, acc);
}

/* direct_tile for two adjacent 16-column panels at once (32 columns: wp and wp + 16), when a row of
 * the tile is one vector (AVX-512): 24 sums in registers, and each broadcast of an input value feeds
 * two multiply-adds instead of one. A core that issues two vector multiply-adds but only two vector
 * loads per cycle (Intel's AVX-512 cores) is otherwise held to the loads: 13 loads per 12
 * multiply-adds, here 14 per 24. Every sum runs over the same taps in the same order as direct_tile's:
 * the same bits. */
#define DIRECT_PAIR (NV == 1)
static void direct_tile2(float *out, int ldo, const float *const *src, int kh, int kw, int row, int C,
                         const float *wp, int ldw, const float *bias) {
  vf acc[DIRECT_PX][2];
  for (int i = 0; i < DIRECT_PX; i++)
    for (int v = 0; v < 2; v++) acc[i][v] = bias ? VLOAD(bias + v * DIRECT_OC) : VSPLAT(0.0f);
  for (int ky = 0; ky < kh; ky++) {
    const float *x[DIRECT_PX];
    for (int i = 0; i < DIRECT_PX; i++) x[i] = src[i] + ky * row;
    for (int j = 0; j < kw * C; j++, wp += ldw) {
      const vf r0 = VLOAD(wp), r1 = VLOAD(wp + DIRECT_OC);
      for (int i = 0; i < DIRECT_PX; i++) {
        const vf xi = VSPLAT(x[i][j]);
        acc[i][0] += xi * r0;
        acc[i][1] += xi * r1;
      }
    }
  }
  for (int i = 0; i < DIRECT_PX; i++)
    for (int v = 0; v < 2; v++) VSTORE(out + (size_t)i * ldo + v * DIRECT_OC, acc[i][v]);
}

/* direct_tile for np <= DIRECT_PX pixels: a short tile (only the last one of a batch) repeats
 * its first pixel and keeps the first np rows. */
static void direct_tile_n(float *out, int ldo, const float *const *src, int np, int kh, int kw, int row,
                          int C, const float *wp, int ldw, const float *bias) {
  if (np == DIRECT_PX) {
    direct_tile(out, ldo, src, kh, kw, row, C, wp, ldw, bias);
    return;
  }
  const float *full[DIRECT_PX];
  float tile[DIRECT_PX * DIRECT_OC];
  for (int i = 0; i < DIRECT_PX; i++) full[i] = src[i < np ? i : 0];
  direct_tile(tile, DIRECT_OC, full, kh, kw, row, C, wp, ldw, bias);
  for (int i = 0; i < np; i++) memcpy(out + (size_t)i * ldo, tile + i * DIRECT_OC, DIRECT_OC * sizeof(float));
}

/* out (np <= DIRECT8_PX pixels, 8) = sum over taps and channels of x * w-panel (+ bias); wp: (K, 8). */
static void direct8_tile(float *out, int ldo, const float *const *src, int np, int kh, int kw, int row, int C,
                         const float *wp, const float *bias) {
  const float *x[DIRECT8_PX];
  for (int i = 0; i < DIRECT8_PX; i++) x[i] = src[i < np ? i : 0]; /* a short tile repeats pixel 0 */
  v8 acc[DIRECT8_PX];
  for (int i = 0; i < DIRECT8_PX; i++) acc[i] = bias ? (v8)(*(const v8_u *)bias) : (v8){0};
  for (int ky = 0; ky < kh; ky++) {
    const int off = ky * row; /* a kernel row's taps: kw*C contiguous floats, as in direct_tile */
    for (int j = 0; j < kw * C; j++, wp += 8) {
      const v8 wv = *(const v8_u *)wp;
      for (int i = 0; i < DIRECT8_PX; i++) acc[i] += (x[i][off + j] - (v8){0}) * wv;
    }
  }
  for (int i = 0; i < np; i++) *(v8_u *)(out + (size_t)i * ldo) = acc[i];
}

/* direct8_tile for DIRECT8_ROW_PX pixels of one output row, whose windows are `step` floats apart
 * (step = stride * C, a constant): each broadcast is addressed from one base register, where the
 * pointer-per-pixel form spills its pointers and loads each one again before its broadcast. With 32
 * vector registers a row tile is 24 pixels (MobileNet's stem: 3 channels, stride 2, step 6). The
 * sums run over the same taps in the same order as direct8_tile: the same bits. */
#if defined(__AVX512F__) && !defined(TQ_DIRECT_VW)
#define DIRECT8_ROW_PX 24
#else
#define DIRECT8_ROW_PX DIRECT8_PX /* 16 registers: no room for a longer tile */
#endif
TILE_INLINE void direct8_row_core(float *out, int ldo, const float *x0, const int step, int kh, int kwc,
                                  int row, const float *wp, const float *bias) {
  v8 acc[DIRECT8_ROW_PX]; /* unrolled: gcc keeps a 24-long array in memory otherwise */
#pragma GCC unroll 32
  for (int i = 0; i < DIRECT8_ROW_PX; i++) acc[i] = bias ? (v8)(*(const v8_u *)bias) : (v8){0};
  for (int ky = 0; ky < kh; ky++) {
    const float *xr = x0 + (size_t)ky * row;
    for (int j = 0; j < kwc; j++, wp += 8) {
      const v8 wv = *(const v8_u *)wp;
#pragma GCC unroll 32
      for (int i = 0; i < DIRECT8_ROW_PX; i++) acc[i] += (xr[i * step + j] - (v8){0}) * wv;
    }
  }
#pragma GCC unroll 32
  for (int i = 0; i < DIRECT8_ROW_PX; i++) *(v8_u *)(out + (size_t)i * ldo) = acc[i];
}

/* A tile of np pixels x 8 channels: a row tile when the windows are evenly spaced by 3 or 6 floats,
 * else direct8_tile over pieces of DIRECT8_PX pixels. */
static void direct8_tiles(float *out, int ldo, const float *const *src, int np, int kh, int kw, int row, int C,
                          const float *wp, const float *bias) {
  const ptrdiff_t step = np > 1 ? src[1] - src[0] : 0;
  int even = np == DIRECT8_ROW_PX && (step == 3 || step == 6);
  for (int i = 2; even && i < np; i++) even = src[i] - src[i - 1] == step;
  if (even && step == 6)
    direct8_row_core(out, ldo, src[0], 6, kh, kw * C, row, wp, bias);
  else if (even)
    direct8_row_core(out, ldo, src[0], 3, kh, kw * C, row, wp, bias);
  else
    for (int i = 0; i < np; i += DIRECT8_PX)
      direct8_tile(out + (size_t)i * ldo, ldo, src + i, np - i < DIRECT8_PX ? np - i : DIRECT8_PX, kh, kw, row,
                   C, wp, bias);
}

/* What every pixel block of a direct forward shares. */
typedef struct {
  float *out;
  const float *x, *w, *panels, *b; /* the frame the windows read, w in place (16 columns) or as panels (8) */
  const tq_conv_shape *s;
  size_t M, P, img; /* output pixels, per image; floats per image of the frame */
  int row, pw, px;  /* frame row stride; panel width; pixels per block */
} direct_fwd;

/* Output pixels [bi*px, bi*px + px) (fewer at the end of the batch), every panel of channels. */
static void direct_block(const direct_fwd *d, long bi) {
  const tq_conv_shape *s = d->s;
  const int C = s->c, OC = s->oc, K = (int)conv_k(s), px = d->px, pw = d->pw;
  size_t p0 = (size_t)bi * px;
  int np = d->M - p0 < (size_t)px ? (int)(d->M - p0) : px;
  const float *src[DIRECT8_ROW_PX > DIRECT_PX ? DIRECT8_ROW_PX : DIRECT_PX];
  /* the first pixel's position by division, the others by stepping: three divisions per pixel
   * cost more than the multiply-adds of a tile when K is small (pointwise convs over 8 channels) */
  size_t n = p0 / d->P, q = p0 % d->P;
  int oy = (int)(q / s->ow), ox = (int)(q % s->ow);
  for (int i = 0; i < np; i++) {
    src[i] = d->x + n * d->img + (size_t)oy * s->sh * d->row + (size_t)ox * s->sw * C;
    if (++ox == s->ow) {
      ox = 0;
      if (++oy == s->oh) oy = 0, n++;
    }
  }
  int p = 0;
  if (DIRECT_PAIR && pw == DIRECT_OC && np == DIRECT_PX)
    for (; p + 1 < OC / pw; p += 2)
      direct_tile2(d->out + p0 * OC + p * DIRECT_OC, OC, src, s->kh, s->kw, d->row, C, d->w + p * DIRECT_OC, OC,
                   d->b ? d->b + p * DIRECT_OC : NULL);
  for (; p < OC / pw; p++)
    if (pw == 8)
      direct8_tiles(d->out + p0 * OC + p * 8, OC, src, np, s->kh, s->kw, d->row, C, d->panels + (size_t)p * K * 8,
                    d->b ? d->b + p * 8 : NULL);
    else
      direct_tile_n(d->out + p0 * OC + p * DIRECT_OC, OC, src, np, s->kh, s->kw, d->row, C, d->w + p * DIRECT_OC,
                    OC, d->b ? d->b + p * DIRECT_OC : NULL);
}

static void conv_forward_direct(float *out, const float *in, const float *w, const float *b,
                                const tq_conv_shape *s, float *scratch, float *stats) {
  /* out: (N,OH,OW,OC)  in: (N,H,W,C)  w: (K,OC)  b: (OC) or NULL
   * scratch: padded input (N,HP,WP,C) if needed, then for 8-column tiles w as panels (OC/8, K, 8)
   * stats: NULL, or tq_batchnorm_stats of out (tq_conv2d_forward_train_stats) */
  const int C = s->c, OC = s->oc, K = (int)conv_k(s);
  int hp, wp;
  const float *x = in;
  int rows_in = s->h, row = s->w * C; /* the frame the windows read: height and row stride */
  if (conv_padded_dims(s, &hp, &wp)) {
    pad_input(scratch, in, s, hp, wp);
    x = scratch, rows_in = hp, row = wp * C;
    scratch += (size_t)s->n * hp * wp * C;
  }
  /* 8-column panels (few-channel inputs) contiguous, so the kernel streams them with unit stride;
   * 16-column tiles read w in place */
  const int pw = conv_direct_ok(s) ? DIRECT_OC : 8, px = pw == 8 ? DIRECT8_ROW_PX : DIRECT_PX;
  float *panels = scratch;
  for (int p = 0; pw == 8 && p < OC / pw; p++)
    for (int k = 0; k < K; k++)
      memcpy(panels + ((size_t)p * K + k) * pw, w + (size_t)k * OC + p * pw, (size_t)pw * sizeof(float));

  const size_t P = (size_t)s->oh * s->ow, M = (size_t)s->n * P;
  const direct_fwd d = {out, x, w, panels, b, s, M, P, (size_t)rows_in * row, row, pw, px};
  const long blocks = (long)((M + px - 1) / px);
  if (stats) {
    /* By the batch norm's row groups: a group's blocks, then its statistics while they are in cache. */
    const int gr = tq_batchnorm_stats_group_rows((int)M), ng = (int)((M + gr - 1) / gr);
    TQ_ASSERT(gr % px == 0);
#pragma omp parallel for schedule(static) if (M * K * OC > CONV_PARALLEL_MACS)
    for (int gi = 0; gi < ng; gi++) {
      long b1 = (long)(gi + 1) * (gr / px);
      for (long bi = (long)gi * (gr / px); bi < (b1 < blocks ? b1 : blocks); bi++) direct_block(&d, bi);
      tq_batchnorm_stats_group(stats, out, (int)M, OC, gi);
    }
    return;
  }
  /* Static, contiguous: thread t takes the t-th share of the pixels, i.e. of the batch, as the batch
   * norm's passes and the depthwise kernels do, so that in every layer, forward and backward, each
   * thread works on the samples whose activations it wrote itself and finds them in its own core's
   * caches. Taking work dynamically (a thread that lost its core held the other up less) moved half
   * of every tensor between the cores from layer to layer: on the 2-vCPU machines of the README,
   * whose vCPUs do not always share an L3, static schedules train MobileNetV1 10 % faster when they
   * do and 29 % when they do not (DS-CNN 12 % and 30 %; kernels/round_trip.c). */
#pragma omp parallel for schedule(static) if (M * K * OC > CONV_PARALLEL_MACS)
  for (long bi = 0; bi < blocks; bi++) direct_block(&d, bi);
}

/* din of a strided convolution with C a multiple of 16, for output rows [r0, r1) (whole images, din
 * zeroed): each block of DIRECT_PX output pixels times a 16-column panel of w^T (one tap, 16 channels) is a
 * direct_tile with a single 1x1 "tap" of depth OC, added straight into din where the tap lands: the
 * col2im fused into the product, with no dcol matrix. */
static void direct_din_scatter_rows(float *din, const float *dout, const float *wt_panels,
                                    const tq_conv_shape *s, size_t r0, size_t r1) {
  /* din: (N,H,W,C) +=   dout: (N,OH,OW,OC)   wt_panels: w^T as (K/16, OC, 16) */
  const int C = s->c, OC = s->oc, K = (int)conv_k(s);
  const size_t P = (size_t)s->oh * s->ow;
  float tile[DIRECT_PX * DIRECT_OC];
  for (size_t p0 = r0; p0 < r1; p0 += DIRECT_PX) {
    int np = r1 - p0 < DIRECT_PX ? (int)(r1 - p0) : DIRECT_PX;
    const float *src[DIRECT_PX];
    size_t img[DIRECT_PX];
    int iy0[DIRECT_PX], ix0[DIRECT_PX]; /* window origins in the input */
    for (int i = 0; i < np; i++) {
      size_t p = p0 + i, q = p % P;
      src[i] = dout + p * OC;
      img[i] = p / P;
      iy0[i] = (int)(q / s->ow) * s->sh - s->pad_top;
      ix0[i] = (int)(q % s->ow) * s->sw - s->pad_left;
    }
    for (int j = 0; j < K / DIRECT_OC; j++) {
      direct_tile_n(tile, DIRECT_OC, src, np, 1, 1, 0, OC, wt_panels + (size_t)j * OC * DIRECT_OC, DIRECT_OC, NULL);
      const int tap = j * DIRECT_OC / C, c0 = j * DIRECT_OC % C, ky = tap / s->kw, kx = tap % s->kw;
      for (int i = 0; i < np; i++) {
        int iy = iy0[i] + ky, ix = ix0[i] + kx;
        if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) continue; /* the tap fell in padding */
        float *d = din + ((img[i] * s->h + iy) * s->w + ix) * C + c0;
        for (int q = 0; q < DIRECT_OC; q++) d[q] += tile[i * DIRECT_OC + q];
      }
    }
  }
}

/* ---- im2col + GEMM path */

/* Row r of the batch-wide col matrix: the window of its output pixel, in image *n. */
static inline tq_window col_row_window(const tq_conv_shape *s, size_t r, size_t *n) {
  *n = r / ((size_t)s->ow * s->oh);
  return tq_window_at(s, (int)(r / s->ow % s->oh), (int)(r % s->ow));
}

/* Rows [r0, r1) of the batch-wide col matrix into col (r1-r0, K). Padding taps are zeros. */
static void im2col_rows(float *col, const float *in, const tq_conv_shape *s, size_t r0, size_t r1) {
  const int H = s->h, W = s->w, C = s->c, KH = s->kh, KW = s->kw;
  const size_t K = (size_t)KH * KW * C, seg = (size_t)KW * C;
  for (size_t r = r0, n; r < r1; r++) {
    const tq_window wd = col_row_window(s, r, &n);
    const float *img = in + n * H * W * C; /* (H,W,C) */
    float *dst = col + (r - r0) * K;
    const int iy0 = wd.iy0, ix0 = wd.ix0, interior_x = wd.kx0 == 0 && wd.kx1 == KW;
    for (int ky = 0; ky < KH; ky++, dst += seg) {
      int iy = iy0 + ky;
      if (iy < 0 || iy >= H) {
        memset(dst, 0, seg * sizeof(float));
      } else if (interior_x) {
        /* the KW taps of one kernel row are KW*C contiguous floats in NHWC */
        memcpy(dst, img + ((size_t)iy * W + ix0) * C, seg * sizeof(float));
      } else {
        for (int kx = 0; kx < KW; kx++) {
          int ix = ix0 + kx;
          if (ix < 0 || ix >= W)
            memset(dst + kx * C, 0, C * sizeof(float));
          else
            memcpy(dst + kx * C, img + ((size_t)iy * W + ix) * C, C * sizeof(float));
        }
      }
    }
  }
}

/* The adjoint of im2col_rows: din += the taps of dcol (r1-r0, K) at their input positions. */
static void col2im_rows(float *din, const float *dcol, const tq_conv_shape *s, size_t r0, size_t r1) {
  const int H = s->h, W = s->w, C = s->c, KH = s->kh, KW = s->kw;
  const size_t K = (size_t)KH * KW * C, seg = (size_t)KW * C;
  for (size_t r = r0, n; r < r1; r++) {
    const tq_window wd = col_row_window(s, r, &n);
    float *img = din + n * H * W * C; /* (H,W,C) */
    const float *src = dcol + (r - r0) * K;
    const int iy0 = wd.iy0, ix0 = wd.ix0, kx0 = wd.kx0, kx1 = wd.kx1; /* valid taps [kx0, kx1) */
    for (int ky = 0; ky < KH; ky++, src += seg) {
      int iy = iy0 + ky;
      if (iy < 0 || iy >= H || kx0 >= kx1) continue;
      float *d = img + ((size_t)iy * W + ix0 + kx0) * C;
      const float *g = src + (size_t)kx0 * C;
      size_t len = (size_t)(kx1 - kx0) * C;
      for (size_t i = 0; i < len; i++) d[i] += g[i];
    }
  }
}

static void fill_bias_rows(float *out, const float *b, size_t rows, int oc) {
  for (size_t r = 0; r < rows; r++) memcpy(out + r * oc, b, (size_t)oc * sizeof(float));
}

/* out = conv(in, w) + b over CONV_LANES fixed row ranges, each im2col'ing chunk by chunk into its
 * own buffer (chunk, K) of the scratch. */
static void conv_forward_gemm(float *out, const float *in, const float *w, const float *b,
                              const tq_conv_shape *s, float *scratch) {
  /* out: (N,OH,OW,OC)  in: (N,H,W,C)  w: (K,OC)  b: (OC) or NULL  scratch: (CONV_LANES, chunk, K) */
  const size_t M = (size_t)s->n * s->oh * s->ow;
  const int K = (int)conv_k(s), OC = s->oc;
  const int pointwise = conv_is_pointwise(s);
  const size_t chunk = pointwise ? M : conv_chunk_rows(s);
#pragma omp parallel for schedule(static) if (M * K * OC > CONV_PARALLEL_MACS)
  for (int l = 0; l < CONV_LANES; l++) {
    size_t r0 = M * l / CONV_LANES, r1 = M * (l + 1) / CONV_LANES;
    float *col = pointwise ? NULL : scratch + (size_t)l * chunk * K;
    for (size_t c0 = r0; c0 < r1; c0 += chunk) {
      size_t rows = r1 - c0 < chunk ? r1 - c0 : chunk;
      const float *a = in + c0 * K;
      if (!pointwise) {
        im2col_rows(col, in, s, c0, c0 + rows);
        a = col;
      }
      if (b) fill_bias_rows(out + c0 * OC, b, rows, OC);
      tq_sgemm(0, 0, (int)rows, OC, K, 1.0f, a, K, w, OC, b ? 1.0f : 0.0f, out + c0 * OC, OC);
    }
  }
}

/* ---- Scratch. Forward: the direct path's padded input and panels, or the lanes' im2col chunks.
 * Backward runs in two phases that reuse the same floats: (A) dw, db and a strided din (padded
 * input, im2col chunks, per-lane partials, w^T panels), then (B) a stride-1 din (the flipped kernel
 * and the forward scratch of the transposed convolution). */

static size_t conv_forward_floats(const tq_conv_shape *s) {
  if (tq_conv2d_winograd_ok(s)) return conv_padded_floats(s) + tq_conv2d_winograd_floats(s); /* training */
  if (conv_direct_forward_ok(s)) return conv_padded_floats(s) + (conv_direct_ok(s) ? 0 : conv_k(s) * s->oc);
  return conv_is_pointwise(s) ? 0 : (size_t)CONV_LANES * conv_chunk_rows(s) * conv_k(s);
}

/* Backward needs im2col chunks for a GEMM dw, or for a GEMM scatter of a strided din. */
static size_t conv_backward_chunk(const tq_conv_shape *s) {
  int gemm = !conv_direct_ok(s) || ((s->sh != 1 || s->sw != 1) && s->c % DIRECT_OC != 0);
  return gemm && !conv_is_pointwise(s) ? conv_chunk_rows(s) : 0;
}

/* A pointwise conv's din (dout times w^T, on the direct tiles): each of up to DIN_COPIES threads
 * transposes w into its own copy and reads only that one. With one copy, written by one thread and
 * read by all, every line it writes was last read by the other cores, and each write waited for
 * their copies to be dropped: the 256 -> 256 din of MobileNetV1's last block took 370 us against the
 * forward's 190 while the vCPUs did not share an L3. */
#define DIN_COPIES 4

static int pointwise_din_ok(const tq_conv_shape *s) { return conv_is_pointwise(s) && s->c % DIRECT_OC == 0; }

static size_t conv_backward_floats(const tq_conv_shape *s) {
  size_t kw = conv_k(s) * s->oc;
  size_t lane_bufs = (size_t)CONV_LANES * conv_backward_chunk(s) * conv_k(s);
  size_t frame = conv_direct_forward_ok(s) ? conv_padded_floats(s) + conv_k(s) : 0; /* + dw tap offsets */
  size_t partials = (size_t)CONV_LANES * ((conv_direct_ok(s) ? 0 : kw) + s->oc);
  /* + Winograd dw lanes, or direct dw lanes (never both) */
  size_t wino = tq_conv2d_winograd_ok(s) ? tq_conv2d_winograd_dw_floats(s)
                : conv_direct_forward_ok(s) ? tq_conv2d_direct_dw_floats(s)
                                            : 0;
  size_t phase_a = frame + lane_bufs + partials + kw + wino, phase_b = 0;       /* + w^T panels */
  tq_conv_shape t;
  if (conv_transposed_shape(&t, s)) phase_b = kw + conv_forward_floats(&t);
  if (pointwise_din_ok(s) && phase_b < DIN_COPIES * kw) phase_b = DIN_COPIES * kw;
  return phase_a > phase_b ? phase_a : phase_b;
}

size_t tq_conv2d_scratch_floats(const tq_conv_shape *s) {
  size_t f = conv_forward_floats(s), b = conv_backward_floats(s);
  return f > b ? f : b;
}

void tq_conv2d_forward(float *out, const float *in, const float *w, const float *b, const tq_conv_shape *s,
                       float *scratch) {
  if (conv_direct_forward_ok(s))
    conv_forward_direct(out, in, w, b, s, scratch, NULL);
  else
    conv_forward_gemm(out, in, w, b, s, scratch);
}

void tq_conv2d_forward_train_stats(float *out, const float *in, const float *w, const float *b,
                                   const tq_conv_shape *s, float *scratch, float *stats) {
  if (stats && !tq_conv2d_winograd_ok(s) && conv_direct_forward_ok(s)) {
    conv_forward_direct(out, in, w, b, s, scratch, stats);
    return;
  }
  tq_conv2d_forward_train(out, in, w, b, s, scratch);
  if (stats) tq_batchnorm_stats(stats, out, s->n * s->oh * s->ow, s->oc);
}

void tq_conv2d_forward_train(float *out, const float *in, const float *w, const float *b, const tq_conv_shape *s,
                             float *scratch) {
  if (!tq_conv2d_winograd_ok(s)) {
    tq_conv2d_forward(out, in, w, b, s, scratch);
    return;
  }
  int hp, wp;
  conv_padded_dims(s, &hp, &wp);
  float *u = scratch + conv_padded_floats(s);
  pad_input(scratch, in, s, hp, wp);
  tq_conv2d_winograd_weights(u, w, s->c, s->oc);
  tq_conv2d_winograd_forward(out, scratch, wp * s->c, (size_t)hp * wp * s->c, u, b, s);
}

/* sums[o] = the sum of g[r][o] over rows r in order. Eight columns at a time in a register across all
 * rows: the running sums through memory (OC unknown to the compiler) cost a quarter of the first
 * conv's backward. The same additions in the same order as a plain loop. */
static void column_sums(float *sums, const float *g, size_t rows, int oc) {
  int o = 0;
  for (; o + 8 <= oc; o += 8) {
    v8 acc = {0};
    for (size_t r = 0; r < rows; r++) acc += *(const v8_u *)(g + r * oc + o);
    *(v8_u *)(sums + o) = acc;
  }
  for (; o < oc; o++) {
    float a = 0.0f;
    for (size_t r = 0; r < rows; r++) a += g[r * oc + o];
    sums[o] = a;
  }
}

/* dst (cols, rows) = src (rows, cols) transposed, in 16 x 16 tiles: a row-by-row transpose writes
 * one float per cache line and runs serially 3x slower (the FC-AutoEncoder's 128 x 640 kernel:
 * 78 us vs 25 us, on the critical path of every backward step). */
static void transpose_tiles(float *restrict dst, const float *restrict src, int rows, int cols) {
  enum { T = 16 };
  for (int r0 = 0; r0 < rows; r0 += T)
    for (int c0 = 0; c0 < cols; c0 += T) {
      const int r1 = r0 + T < rows ? r0 + T : rows, c1 = c0 + T < cols ? c0 + T : cols;
      for (int c = c0; c < c1; c++)
        for (int r = r0; r < r1; r++) dst[(size_t)c * rows + r] = src[(size_t)r * cols + c];
    }
}

/* din (N,H,W,C) = dout (N,H,W,OC) w^T of a pointwise conv (pointwise_din_ok): the direct forward of
 * the transposed shape t, block for block as tq_conv2d_forward takes it (the same bits), with each
 * thread's own w^T (DIN_COPIES). More threads than copies: one copy, transposed first. */
static void pointwise_din(float *din, const float *dout, const float *w, const tq_conv_shape *s,
                          const tq_conv_shape *t, float *scratch) {
  const size_t kw = (size_t)s->c * s->oc, M = (size_t)t->n * t->oh * t->ow;
  const int threads = omp_get_max_threads(), own = threads <= DIN_COPIES;
  const long blocks = (long)((M + DIRECT_PX - 1) / DIRECT_PX);
  if (!own) transpose_tiles(scratch, w, s->c, s->oc);
#pragma omp parallel if (M * kw > CONV_PARALLEL_MACS)
  {
    float *wt = own ? scratch + (size_t)omp_get_thread_num() * kw : scratch;
    if (own) transpose_tiles(wt, w, s->c, s->oc);
    const direct_fwd d = {din, dout, wt, NULL, NULL, t, M, (size_t)t->oh * t->ow, (size_t)t->h * t->w * t->c,
                          t->w * t->c, DIRECT_OC, DIRECT_PX};
#pragma omp for schedule(static)
    for (long bi = 0; bi < blocks; bi++) direct_block(&d, bi);
  }
}

void tq_conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                        const tq_conv_shape *s, float *scratch) {
  /* din: (N,H,W,C) overwritten   dw: (K,OC) +=   db: (OC) +=   dout: (N,OH,OW,OC)
   * phase A scratch: padded input and tap offsets (K) for a direct dw, lane chunks (CONV_LANES, chunk, K),
   *                  per-lane partials (CONV_LANES, [K*OC for a GEMM dw] + OC), w^T panels (K*OC)
   * phase B scratch: wt (K*OC), then the transposed convolution's forward scratch */
  const size_t P = (size_t)s->oh * s->ow; /* output pixels per image */
  const int K = (int)conv_k(s), OC = s->oc;
  const int pointwise = conv_is_pointwise(s);
  const int direct_dw_ok = dw && conv_direct_forward_ok(s), gemm_dw = dw && !direct_dw_ok;
  const size_t chunk = conv_backward_chunk(s);
  const size_t pdw_len = conv_direct_ok(s) ? 0 : (size_t)K * OC, part_len = pdw_len + OC; /* dw, db */
  float *frame = scratch;
  float *koff = frame + (conv_direct_forward_ok(s) ? conv_padded_floats(s) : 0); /* (K) for direct dw */
  float *lane_bufs = frame + (conv_direct_forward_ok(s) ? conv_padded_floats(s) + K : 0);
  float *partials = lane_bufs + (size_t)CONV_LANES * chunk * K;
  tq_conv_shape t;
  const int transposed = din && conv_transposed_shape(&t, s);
  const int scatter_din = din && !transposed; /* din scattered from dout in the lanes below */
  const int direct_scatter = scatter_din && s->c % DIRECT_OC == 0;
  const int gemm_scatter = scatter_din && !direct_scatter;
  float *wt_panels = partials + (size_t)CONV_LANES * part_len; /* (K/16, OC, 16) */
  float *dw_lanes = wt_panels + (size_t)K * OC; /* direct dw lanes (conv_backward_floats) */
  const int lanes = s->n < CONV_LANES ? s->n : CONV_LANES;

  if (dw && tq_conv2d_winograd_ok(s)) {
    int hp, wp;
    conv_padded_dims(s, &hp, &wp);
    pad_input(frame, in, s, hp, wp);
    tq_conv2d_winograd_dw(dw, frame, wp * s->c, (size_t)hp * wp * s->c, dout, s,
                          wt_panels + (direct_scatter ? (size_t)K * OC : 0));
  } else if (direct_dw_ok) {
    int hp, wp;
    if (conv_padded_dims(s, &hp, &wp)) {
      pad_input(frame, in, s, hp, wp);
      tq_conv2d_direct_dw(dw, frame, wp * s->c, (size_t)hp * wp * s->c, dout, s, koff, dw_lanes);
    } else {
      tq_conv2d_direct_dw(dw, in, s->w * s->c, (size_t)s->h * s->w * s->c, dout, s, koff, dw_lanes);
    }
  }
  if (direct_scatter)
    for (int k = 0; k < K; k++)
      for (int o = 0; o < OC; o++)
        wt_panels[((size_t)(k / DIRECT_OC) * OC + o) * DIRECT_OC + k % DIRECT_OC] = w[(size_t)k * OC + o];
  if (db || gemm_dw || scatter_din) {
#pragma omp parallel for schedule(static) if (P * s->n * K * OC > CONV_PARALLEL_MACS)
    for (int l = 0; l < lanes; l++) {
      /* lane l owns images [n0, n1): its scatter never touches another lane's din */
      size_t n0 = (size_t)s->n * l / lanes, n1 = (size_t)s->n * (l + 1) / lanes;
      size_t r0 = n0 * P, r1 = n1 * P;
      float *pdw = partials + (size_t)l * part_len, *pdb = pdw + pdw_len;
      if (db) column_sums(pdb, dout + r0 * OC, r1 - r0, OC);
      if (pointwise) {
        /* in is the col matrix itself (a strided 1x1 conv is not pointwise: it scatters) */
        if (gemm_dw)
          tq_sgemm(1, 0, K, OC, (int)(r1 - r0), 1.0f, in + r0 * K, K, dout + r0 * OC, OC, 0.0f, pdw, OC);
        continue;
      }
      if (scatter_din)
        memset(din + n0 * s->h * s->w * s->c, 0, (n1 - n0) * s->h * s->w * s->c * sizeof(float));
      if (direct_scatter) direct_din_scatter_rows(din, dout, wt_panels, s, r0, r1);
      if (!gemm_dw && !gemm_scatter) continue;
      float *col = lane_bufs + (size_t)l * chunk * K; /* (chunk, K) */
      for (size_t c0 = r0; c0 < r1; c0 += chunk) {
        size_t rows = r1 - c0 < chunk ? r1 - c0 : chunk;
        if (gemm_dw) {
          im2col_rows(col, in, s, c0, c0 + rows);
          tq_sgemm(1, 0, K, OC, (int)rows, 1.0f, col, K, dout + c0 * OC, OC, c0 == r0 ? 0.0f : 1.0f, pdw, OC);
        }
        if (gemm_scatter) {
          /* the col chunk is spent: reuse it for dcol */
          tq_sgemm(0, 1, (int)rows, K, OC, 1.0f, dout + c0 * OC, OC, w, OC, 0.0f, col, K);
          col2im_rows(din, col, s, c0, c0 + rows);
        }
      }
    }
    /* lane partials in lane order: the same sum whatever the number of threads */
    for (int l = 0; l < lanes; l++) {
      const float *pdw = partials + (size_t)l * part_len, *pdb = pdw + pdw_len;
      if (gemm_dw)
        for (size_t i = 0; i < (size_t)K * OC; i++) dw[i] += pdw[i];
      if (db)
        for (int o = 0; o < OC; o++) db[o] += pdb[o];
    }
  }
  if (transposed && pointwise_din_ok(s)) {
    pointwise_din(din, dout, w, s, &t, scratch);
  } else if (transposed) {
    /* wt (KH,KW,OC,C): wt[ky][kx][o][c] = w[KH-1-ky][KW-1-kx][c][o] */
    const int C = s->c, KH = s->kh, KW = s->kw;
    float *wt = scratch;
    for (int ky = 0; ky < KH; ky++)
      for (int kx = 0; kx < KW; kx++) {
        const float *src = w + ((size_t)(KH - 1 - ky) * KW + (KW - 1 - kx)) * C * OC;
        transpose_tiles(wt + ((size_t)ky * KW + kx) * OC * C, src, C, OC);
      }
    tq_conv2d_forward_train(din, dout, wt, NULL, &t, scratch + (size_t)K * OC);
  }
}

/* ---- Plain-loop references: the definition the fast path is tested against. */

void tq_conv2d_forward_ref(float *out, const float *in, const float *w, const float *b,
                           const tq_conv_shape *s) {
  const int C = s->c, OC = s->oc;
  for (int n = 0; n < s->n; n++)
    for (int oy = 0; oy < s->oh; oy++)
      for (int ox = 0; ox < s->ow; ox++) {
        float *o = out + tq_nhwc(n, oy, ox, s->oh, s->ow, OC);
        for (int oc = 0; oc < OC; oc++) o[oc] = b ? b[oc] : 0.0f;
        const tq_window wd = tq_window_at(s, oy, ox);
        for (int ky = wd.ky0; ky < wd.ky1; ky++)
          for (int kx = wd.kx0; kx < wd.kx1; kx++) {
            const float *x = in + tq_nhwc(n, wd.iy0 + ky, wd.ix0 + kx, s->h, s->w, C);
            const float *wk = w + ((size_t)ky * s->kw + kx) * C * OC;
            for (int c = 0; c < C; c++)
              for (int oc = 0; oc < OC; oc++) o[oc] += x[c] * wk[(size_t)c * OC + oc];
          }
      }
}

void tq_conv2d_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                            const float *w, const tq_conv_shape *s) {
  const int C = s->c, OC = s->oc;
  if (din) memset(din, 0, (size_t)s->n * s->h * s->w * C * sizeof(float));
  for (int n = 0; n < s->n; n++)
    for (int oy = 0; oy < s->oh; oy++)
      for (int ox = 0; ox < s->ow; ox++) {
        const float *g = dout + tq_nhwc(n, oy, ox, s->oh, s->ow, OC);
        if (db)
          for (int oc = 0; oc < OC; oc++) db[oc] += g[oc];
        const tq_window wd = tq_window_at(s, oy, ox);
        for (int ky = wd.ky0; ky < wd.ky1; ky++)
          for (int kx = wd.kx0; kx < wd.kx1; kx++) {
            size_t xi = tq_nhwc(n, wd.iy0 + ky, wd.ix0 + kx, s->h, s->w, C);
            size_t wi = ((size_t)ky * s->kw + kx) * C * OC;
            for (int c = 0; c < C; c++)
              for (int oc = 0; oc < OC; oc++) {
                if (dw) dw[wi + (size_t)c * OC + oc] += in[xi + c] * g[oc];
                if (din) din[xi + c] += w[wi + (size_t)c * OC + oc] * g[oc];
              }
          }
      }
}
