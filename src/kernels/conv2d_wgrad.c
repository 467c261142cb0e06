/* Conv2D's weight gradient on the direct path (conv2d.c's top comment: OC a multiple of 16, or of 8
 * with few input channels): dw (K,OC) += col^T · dout computed in register tiles of kernel taps x 16
 * (or 8) output channels, straight from the input frame, with no col matrix. The transpose of the
 * forward's direct tiles, on its own because its tiles run over taps and pixels, not pixels and
 * taps: tile heights chosen to divide K, a pixel chunk that stays in L1, and parallel over tiles.
 * The vector types, tile shape and multiply-add contraction come from conv2d_internal.h, as in
 * conv2d.c. */
#include <omp.h>
#include <string.h>

#include "kernels/conv2d_internal.h"

/* dw tile (R rows of K, 16 columns of OC) += sum over np pixels of x[pix[p] + koff[j]] * g[p][0..16]:
 * the transpose of direct_tile, kernel taps x output channels accumulated over pixels. R is the
 * tile height that divides K (dw_tile_rows): every row computed is a row kept. With 32 vector
 * registers a tile may be 16 rows (16 sums, the dout vector and a broadcast). */
#define DW_MAX_ROWS (NV == 1 ? 16 : DIRECT_PX)
TILE_INLINE void dw_tile_r(float *dw, int ldw, const float *x, const float *koff, const ptrdiff_t *pix, int np,
                           const float *g, int ldg, const int R) {
  vf acc[DW_MAX_ROWS][NV];
  const float *xk[DW_MAX_ROWS];
  for (int j = 0; j < R; j++) {
    xk[j] = x + (ptrdiff_t)koff[j];
    for (int v = 0; v < NV; v++) acc[j][v] = VLOAD(dw + (size_t)j * ldw + v * VW);
  }
  for (int p = 0; p < np; p++, g += ldg) {
    vf r[NV];
    for (int v = 0; v < NV; v++) r[v] = VLOAD(g + v * VW);
    for (int j = 0; j < R; j++) {
      vf xj = VSPLAT(xk[j][pix[p]]);
      for (int v = 0; v < NV; v++) acc[j][v] += xj * r[v];
    }
  }
  for (int j = 0; j < R; j++)
    for (int v = 0; v < NV; v++) VSTORE(dw + (size_t)j * ldw + v * VW, acc[j][v]);
}

/* dw_tile_r when the tile's R taps are R consecutive channels of one kernel tap (koff[j] = koff[0] + j,
 * every tile when C is a multiple of the tile height): one base pointer, the taps at constant
 * displacements. With a pointer per tap, 16 pointers do not fit the 16 general registers and gcc
 * reloads one from the stack for every multiply-add. The same products in the same order: the same bits. */
TILE_INLINE void dw_tile_c(float *dw, int ldw, const float *xb, const ptrdiff_t *pix, int np, const float *g,
                           int ldg, const int R) {
  vf acc[DW_MAX_ROWS][NV];
  for (int j = 0; j < R; j++)
    for (int v = 0; v < NV; v++) acc[j][v] = VLOAD(dw + (size_t)j * ldw + v * VW);
  for (int p = 0; p < np; p++, g += ldg) {
    vf r[NV];
    for (int v = 0; v < NV; v++) r[v] = VLOAD(g + v * VW);
    const float *xp = xb + pix[p];
    for (int j = 0; j < R; j++) {
      vf xj = VSPLAT(xp[j]);
      for (int v = 0; v < NV; v++) acc[j][v] += xj * r[v];
    }
  }
  for (int j = 0; j < R; j++)
    for (int v = 0; v < NV; v++) VSTORE(dw + (size_t)j * ldw + v * VW, acc[j][v]);
}

/* dw_tile_c for 8 consecutive taps x two adjacent 16-column panels (32 columns), when a tile row
 * is one vector (AVX-512): each broadcast feeds two multiply-adds, 10 loads per 16 multiply-adds
 * where dw_tile_c's 16-tap tile needs 17 (see conv2d.c's direct_tile2). The same sums in the same
 * (pixel) order: the same bits. */
#define DW_PAIR_ROWS 8
static void dw_tile_c2(float *dw, int ldw, const float *xb, const ptrdiff_t *pix, int np, const float *g,
                       int ldg) {
  vf acc[DW_PAIR_ROWS][2];
  for (int j = 0; j < DW_PAIR_ROWS; j++)
    for (int v = 0; v < 2; v++) acc[j][v] = VLOAD(dw + (size_t)j * ldw + v * DIRECT_OC);
  for (int p = 0; p < np; p++, g += ldg) {
    const vf r0 = VLOAD(g), r1 = VLOAD(g + DIRECT_OC);
    const float *xp = xb + pix[p];
    for (int j = 0; j < DW_PAIR_ROWS; j++) {
      const vf xj = VSPLAT(xp[j]);
      acc[j][0] += xj * r0;
      acc[j][1] += xj * r1;
    }
  }
  for (int j = 0; j < DW_PAIR_ROWS; j++)
    for (int v = 0; v < 2; v++) VSTORE(dw + (size_t)j * ldw + v * DIRECT_OC, acc[j][v]);
}

static void direct_dw_tile(float *dw, int ldw, const float *x, const float *koff, const ptrdiff_t *pix, int np,
                           const float *g, int ldg, int rows) {
  if (koff[rows - 1] - koff[0] == (float)(rows - 1)) { /* offsets rise strictly: all steps are 1 */
    const float *xb = x + (ptrdiff_t)koff[0];
    if (NV == 1 && rows == 16)
      dw_tile_c(dw, ldw, xb, pix, np, g, ldg, NV == 1 ? 16 : DIRECT_PX);
    else if (NV == 1 && rows == 8)
      dw_tile_c(dw, ldw, xb, pix, np, g, ldg, NV == 1 ? 8 : DIRECT_PX);
    else
      dw_tile_c(dw, ldw, xb, pix, np, g, ldg, DIRECT_PX);
    return;
  }
  if (NV == 1 && rows == 16)
    dw_tile_r(dw, ldw, x, koff, pix, np, g, ldg, NV == 1 ? 16 : DIRECT_PX);
  else if (NV == 1 && rows == 8)
    dw_tile_r(dw, ldw, x, koff, pix, np, g, ldg, NV == 1 ? 8 : DIRECT_PX);

  else
    dw_tile_r(dw, ldw, x, koff, pix, np, g, ldg, DIRECT_PX);
}

/* Tile height for a dw of K rows: one that divides K, else DIRECT_PX (the last tile short). */
static int dw_tile_rows(int K) {
  if (NV != 1) return DIRECT_PX;
  return K % 16 == 0 ? 16 : K % DIRECT_PX == 0 ? DIRECT_PX : K % 8 == 0 ? 8 : DIRECT_PX;
}

/* direct_dw_tile for nk <= rows taps (the last tile of K): through a local tile whose extra
 * rows repeat the first tap and are dropped. */
static void direct_dw_tile_n(float *dw, int ldw, const float *x, const float *koff, int nk, int rows,
                             const ptrdiff_t *pix, int np, const float *g, int ldg) {
  if (nk == rows) {
    direct_dw_tile(dw, ldw, x, koff, pix, np, g, ldg, rows);
    return;
  }
  float k[DW_MAX_ROWS];
  float tile[DW_MAX_ROWS * DIRECT_OC];
  for (int j = 0; j < rows; j++) {
    k[j] = koff[j < nk ? j : 0];
    if (j < nk)
      memcpy(tile + j * DIRECT_OC, dw + (size_t)j * ldw, DIRECT_OC * sizeof(float));
    else
      memset(tile + j * DIRECT_OC, 0, DIRECT_OC * sizeof(float));
  }
  direct_dw_tile(tile, DIRECT_OC, x, k, pix, np, g, ldg, rows);
  for (int j = 0; j < nk; j++) memcpy(dw + (size_t)j * ldw, tile + j * DIRECT_OC, DIRECT_OC * sizeof(float));
}

/* direct_dw_tile for 8 output channels (OC a multiple of 8 only): nk <= R taps, extra rows repeat
 * the first tap and are dropped. */
#define DIRECT8_DW_MAX 16
TILE_INLINE void dw8_tile_r(float *dw, int ldw, const float *x, const float *koff, int nk, const ptrdiff_t *pix,
                            int np, const float *g, int ldg, const int R) {
  v8 acc[DIRECT8_DW_MAX] = {{0}}; /* all set below for j < R; gcc cannot see nk <= R */
  const float *xk[DIRECT8_DW_MAX];
  for (int j = 0; j < R; j++) {
    xk[j] = x + (ptrdiff_t)koff[j < nk ? j : 0];
    acc[j] = j < nk ? (v8)(*(const v8_u *)(dw + (size_t)j * ldw)) : (v8){0};
  }
  for (int p = 0; p < np; p++, g += ldg) {
    const v8 gv = *(const v8_u *)g;
    for (int j = 0; j < R; j++) acc[j] += (xk[j][pix[p]] - (v8){0}) * gv;
  }
  for (int j = 0; j < nk; j++) *(v8_u *)(dw + (size_t)j * ldw) = acc[j];
}

static void direct8_dw_tile(float *dw, int ldw, const float *x, const float *koff, int nk, int rows,
                            const ptrdiff_t *pix, int np, const float *g, int ldg) {
  if (rows == 14)
    dw8_tile_r(dw, ldw, x, koff, nk, pix, np, g, ldg, 14);
  else
    dw8_tile_r(dw, ldw, x, koff, nk, pix, np, g, ldg, DIRECT8_PX);
}

/* Taps per 8-column dw tile: 14 where 12 would leave a short last tile (MobileNet's stem, K = 27:
 * two tiles of 14 and 13, not three of 12, 12 and 3). 14 sums and the dout vector fit in 16 registers. */
static int dw8_tile_rows(int K) { return K > DIRECT8_PX && K % DIRECT8_PX != 0 && K <= 28 ? 14 : DIRECT8_PX; }

/* Pixels per dw pass: their input windows and dout rows stay in L1 across the tiles. */
#define DIRECT_DW_PIXELS 48

/* What every pixel pass of a direct dw shares. */
typedef struct {
  const float *x, *koff, *dout;
  const tq_conv_shape *s;
  int row, pw, kt, panels, K, OC;
  size_t img;
  int pair; /* tiles of DW_PAIR_ROWS taps x 32 columns (dw_tile_c2); kt and panels then count those */
} direct_dw;

/* Tiles [t0, t1) of dw (ldw = OC) += their sums over the pixels [c0, c1), in pixel order, one
 * L1-sized chunk of pixels at a time. */
static void dw_pass(float *dw, const direct_dw *d, int t0, int t1, size_t c0, size_t c1) {
  const tq_conv_shape *s = d->s;
  const int C = s->c, OC = d->OC;
  const size_t P = (size_t)s->oh * s->ow;
  ptrdiff_t pix[DIRECT_DW_PIXELS];
  size_t n = c0 / P;
  int oy = (int)(c0 % P / s->ow), ox = (int)(c0 % P % s->ow); /* then advanced incrementally: no divisions */
  for (; c0 < c1 && t0 < t1; c0 += DIRECT_DW_PIXELS) {
    int np = c1 - c0 < DIRECT_DW_PIXELS ? (int)(c1 - c0) : DIRECT_DW_PIXELS;
    for (int i = 0; i < np; i++) {
      pix[i] = (ptrdiff_t)(n * d->img + (size_t)oy * s->sh * d->row + (size_t)ox * s->sw * C);
      if (++ox == s->ow) {
        ox = 0;
        if (++oy == s->oh) oy = 0, n++;
      }
    }
    for (int t = t0; t < t1; t++) {
      const int k0 = t / d->panels * d->kt, p = t % d->panels, nk = d->K - k0 < d->kt ? d->K - k0 : d->kt;
      if (d->pair)
        dw_tile_c2(dw + (size_t)k0 * OC + p * 2 * DIRECT_OC, OC, d->x + (ptrdiff_t)d->koff[k0], pix, np,
                   d->dout + c0 * OC + p * 2 * DIRECT_OC, OC);
      else if (d->pw == 8)
        direct8_dw_tile(dw + (size_t)k0 * OC + p * 8, OC, d->x, d->koff + k0, nk, d->kt, pix, np,
                        d->dout + c0 * OC + p * 8, OC);
      else
        direct_dw_tile_n(dw + (size_t)k0 * OC + p * DIRECT_OC, OC, d->x, d->koff + k0, nk, d->kt, pix, np,
                         d->dout + c0 * OC + p * DIRECT_OC, OC);
    }
  }
}

static int direct_dw_tiles(const tq_conv_shape *s, int *pw, int *kt) {
  const int K = (int)conv_k(s);
  *pw = conv_direct_ok(s) ? DIRECT_OC : 8;
  *kt = *pw == 8 ? dw8_tile_rows(K) : dw_tile_rows(K);
  return (K + *kt - 1) / *kt * (s->oc / *pw);
}

/* Parallel over tiles, each thread streams every pixel for its tiles: with few tiles (MobileNet's
 * 32->32 pointwise conv has 4 of 16x16, the 8->16 one a single tile) the threads share out little
 * work, each streams the whole input and dout again for its one or two tiles, and one tile leaves a
 * thread idle; the 32->32 dw ran at a quarter of the forward's rate. Such a dw splits the pixels into
 * DW_LANES fixed lanes (a number of the shape, not of the threads), each sums every tile over its
 * pixels into its own partial, and the partials are added in lane order: the same bits for any
 * number of threads. */
#define DW_LANES 4
#define DW_LANE_TILES 32 /* fewer tiles than this: pixel lanes */

size_t tq_conv2d_direct_dw_floats(const tq_conv_shape *s) {
  int pw, kt;
  const size_t M = (size_t)s->n * s->oh * s->ow;
  if (direct_dw_tiles(s, &pw, &kt) >= DW_LANE_TILES || M < (size_t)DW_LANES * DIRECT_DW_PIXELS) return 0;
  return (size_t)DW_LANES * conv_k(s) * s->oc;
}

/* dw (K,OC) += col^T · dout over the whole batch, reading the windows straight from the frame x
 * (the input, or its zero-padded copy; row stride `row` floats, image stride img floats).
 * koff: scratch for K floats, the offset of each kernel tap k = (ky*KW + kx)*C + c in the frame
 * (whole numbers far below 2^24, so exact as floats; the scratch is a float array).
 * Parallel over dw tiles, not over pixels: each tile is summed by one thread over the pixels in
 * batch order, so there are no per-thread partials to reduce and the bits do not depend on the
 * thread count. A group of tiles walks all pixels, one L1-sized chunk at a time. */
void tq_conv2d_direct_dw(float *dw, const float *x, int row, size_t img, const float *dout,
                         const tq_conv_shape *s, float *koff, float *lanes) {
  const int C = s->c, OC = s->oc, K = (int)conv_k(s);
  int pw, kt;
  const int tiles = direct_dw_tiles(s, &pw, &kt);
  const size_t M = (size_t)s->n * s->oh * s->ow;
  for (int k = 0; k < K; k++) {
    int tap = k / C;
    koff[k] = (float)((tap / s->kw) * row + (tap % s->kw) * C + k % C);
  }
  /* Paired tiles (dw_tile_c2) when every 8 taps are consecutive channels of one kernel tap. Whether
   * the sums go by pixel lanes is still decided on the unpaired tiles (tq_conv2d_direct_dw_floats),
   * and the tile groups below only share out work, each tile summed by one thread over all pixels
   * in order: the same sums either way. */
  const int pair = NV == 1 && pw == DIRECT_OC && OC % (2 * DIRECT_OC) == 0 && C % DW_PAIR_ROWS == 0;
  const direct_dw d = {x, koff, dout, s, row, pw, pair ? DW_PAIR_ROWS : kt, OC / (pair ? 2 * pw : pw), K, OC, img,
                       pair};
  const int ntiles = pair ? K / DW_PAIR_ROWS * (OC / (2 * pw)) : tiles;
  if (tq_conv2d_direct_dw_floats(s)) {
    const size_t kw = (size_t)K * OC;
#pragma omp parallel for schedule(static) if (M * K * OC > CONV_PARALLEL_MACS)
    for (int l = 0; l < DW_LANES; l++) {
      float *part = lanes + (size_t)l * kw;
      memset(part, 0, kw * sizeof(float));
      dw_pass(part, &d, 0, ntiles, M * l / DW_LANES, M * (l + 1) / DW_LANES);
    }
    for (size_t i = 0; i < kw; i++) {
      float sum = lanes[i];
      for (int l = 1; l < DW_LANES; l++) sum += lanes[(size_t)l * kw + i];
      dw[i] += sum;
    }
    return;
  }
  /* Tiles in groups of consecutive tiles, two per thread (static schedules: conv2d.c, direct
   * forward). Each group streams all pixels once. */
  const int groups = omp_get_max_threads() > 1 ? 2 * omp_get_max_threads() : 1;
#pragma omp parallel for schedule(static) if (M * K * OC > CONV_PARALLEL_MACS)
  for (int gi = 0; gi < groups; gi++)
    dw_pass(dw, &d, (int)((long long)ntiles * gi / groups), (int)((long long)ntiles * (gi + 1) / groups), 0, M);
}
