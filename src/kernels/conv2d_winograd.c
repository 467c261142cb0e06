/* Conv2D's 3x3 stride-1 'same' convolutions in training as Winograd F(2x2, 3x3) (Lavin & Gray,
 * "Fast Algorithms for Convolutional Neural Networks", 2016): a 2x2 block of outputs ("tile") from
 * the 4x4 block of inputs around it with 16 multiply-adds per channel pair instead of 36.
 *
 *   U = G g G^T   (per input/output channel pair, once per call)      g: the 3x3 kernel
 *   V = B^T d B   (per tile and input channel)                         d: the 4x4 input block
 *   M[xi] = sum over channels of V[xi] * U[xi]   (16 products, xi = 4a + b: a GEMM per xi)
 *   Y = A^T M A   (per tile and output channel: the 2x2 outputs)
 *
 * The transforms cost adds only (Zen 4 and most x86 cores run them beside the multiply-adds), so
 * the GEMMs' 16 products replace the direct kernel's 36: ResNet-8's 32x32x16 layer ran 1.6x faster
 * (bench: build/train_throughput --profile). A block of WINO_T tiles is transformed into a
 * per-thread buffer, multiplied 16 output channels at a time and transformed back, so V and M never
 * leave L1/L2.
 *
 * Rounding: G's halves and the transforms' additions round differently from the direct sum (a few
 * units in the last place at these sizes; tests bound it), so only training uses this path
 * (tq_conv2d_forward_train, and the stride-1 din inside tq_conv2d_backward); inference and the
 * deployment simulation keep the direct sum. Every output is computed by one thread in a fixed
 * order: the same bits for any thread count. */
#include <string.h>

#include "kernels/conv2d_internal.h"

#define WINO_T DIRECT_PX   /* tiles per block: the rows of a GEMM tile */
#define WINO_MAX_C 128     /* the widest input it takes (V: 16 * WINO_T * C floats per thread) */

int tq_conv2d_winograd_ok(const tq_conv_shape *s) {
  return s->kh == 3 && s->kw == 3 && s->sh == 1 && s->sw == 1 && s->pad_top == 1 && s->pad_left == 1 &&
         s->oh == s->h && s->ow == s->w && s->oh % 2 == 0 && s->ow % 2 == 0 && s->c % DIRECT_OC == 0 &&
         s->c <= WINO_MAX_C && s->oc % DIRECT_OC == 0;
}

size_t tq_conv2d_winograd_floats(const tq_conv_shape *s) { return (size_t)16 * s->c * s->oc; }

/* u (16, C, OC): u[4a+b][c][o] = (G g G^T)[a][b] with g[ky][kx] = w[ky][kx][c][o],
 * G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]. */
void tq_conv2d_winograd_weights(float *u, const float *w, int C, int OC) {
  const size_t plane = (size_t)C * OC;
#pragma omp parallel for schedule(static) if (plane > 8192)
  for (int c = 0; c < C; c++) {
    const float *g = w + (size_t)c * OC; /* tap (ky, kx) at g[(ky*3 + kx) * plane] */
    float *uc = u + (size_t)c * OC;
    for (int o = 0; o < OC; o++) {
      float t[4][3];
      for (int kx = 0; kx < 3; kx++) {
        float g0 = g[(size_t)kx * plane + o], g1 = g[(size_t)(3 + kx) * plane + o],
              g2 = g[(size_t)(6 + kx) * plane + o];
        t[0][kx] = g0;
        t[1][kx] = 0.5f * (g0 + g1 + g2);
        t[2][kx] = 0.5f * (g0 - g1 + g2);
        t[3][kx] = g2;
      }
      for (int a = 0; a < 4; a++) {
        float t0 = t[a][0], t1 = t[a][1], t2 = t[a][2];
        uc[(size_t)(4 * a + 0) * plane + o] = t0;
        uc[(size_t)(4 * a + 1) * plane + o] = 0.5f * (t0 + t1 + t2);
        uc[(size_t)(4 * a + 2) * plane + o] = 0.5f * (t0 - t1 + t2);
        uc[(size_t)(4 * a + 3) * plane + o] = t2;
      }
    }
  }
}

/* V = B^T d B for one tile and VW channels, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]:
 * d row i at x + i*row, column j at + j*C; V[xi] stored at v + xi*vstep. */
TILE_INLINE void input_transform(float *v, size_t vstep, const float *x, int row, int C) {
  vf d[4][4], t[4][4];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) d[i][j] = VLOAD(x + (size_t)i * row + (size_t)j * C);
  for (int j = 0; j < 4; j++) {
    t[0][j] = d[0][j] - d[2][j];
    t[1][j] = d[1][j] + d[2][j];
    t[2][j] = d[2][j] - d[1][j];
    t[3][j] = d[1][j] - d[3][j];
  }
  for (int i = 0; i < 4; i++) {
    VSTORE(v + (size_t)(4 * i + 0) * vstep, t[i][0] - t[i][2]);
    VSTORE(v + (size_t)(4 * i + 1) * vstep, t[i][1] + t[i][2]);
    VSTORE(v + (size_t)(4 * i + 2) * vstep, t[i][2] - t[i][1]);
    VSTORE(v + (size_t)(4 * i + 3) * vstep, t[i][1] - t[i][3]);
  }
}

/* Y = A^T M A (+ bias) for one tile and VW channels, A^T = [1 1 1 0; 0 1 -1 -1]: M[xi] at
 * m + xi*mstep, output (i, j) at y + i*orow + j*OC. */
TILE_INLINE void output_transform(float *y, size_t orow, int OC, const float *m, size_t mstep, const float *b) {
  /* b: VW biases or NULL (vectors are not passed by value: without AVX enabled that changes the ABI) */
  const vf bias = b ? VLOAD(b) : VSPLAT(0.0f);
  vf s[2][4];
  for (int j = 0; j < 4; j++) {
    vf m0 = VLOAD(m + (size_t)j * mstep), m1 = VLOAD(m + (size_t)(4 + j) * mstep),
       m2 = VLOAD(m + (size_t)(8 + j) * mstep), m3 = VLOAD(m + (size_t)(12 + j) * mstep);
    s[0][j] = m0 + m1 + m2;
    s[1][j] = m1 - m2 - m3;
  }
  for (int i = 0; i < 2; i++) {
    VSTORE(y + (size_t)i * orow, bias + (s[i][0] + s[i][1] + s[i][2]));
    VSTORE(y + (size_t)i * orow + OC, bias + (s[i][1] - s[i][2] - s[i][3]));
  }
}

/* mb (WINO_T, 16) = v (WINO_T, C) . u (C, 16 of OC): the direct kernel's register tile, with the
 * tiles' rows at constant displacements from one pointer (C a constant). */
TILE_INLINE void gemm_tile(float *mb, const float *v, const float *u, int OC, const int C) {
  vf acc[WINO_T][NV];
  for (int i = 0; i < WINO_T; i++)
    for (int q = 0; q < NV; q++) acc[i][q] = VSPLAT(0.0f);
  for (int c = 0; c < C; c++, u += OC) {
    vf r[NV];
    for (int q = 0; q < NV; q++) r[q] = VLOAD(u + q * VW);
    for (int i = 0; i < WINO_T; i++) {
      vf xi = VSPLAT(v[i * C + c]);
      for (int q = 0; q < NV; q++) acc[i][q] += xi * r[q];
    }
  }
  for (int i = 0; i < WINO_T; i++)
    for (int q = 0; q < NV; q++) VSTORE(mb + i * DIRECT_OC + q * VW, acc[i][q]);
}

static void gemm_tiles(float *mb, const float *v, const float *u, int OC, int C) {
  /* the 16 products of one block and one 16-channel panel: mb (16, WINO_T, 16), v (16, WINO_T, C),
   * u (16, C, OC) */
  const size_t vs = (size_t)WINO_T * C, us = (size_t)C * OC, ms = (size_t)WINO_T * DIRECT_OC;
  for (int xi = 0; xi < 16; xi++) switch (C) {
      case 16: gemm_tile(mb + xi * ms, v + xi * vs, u + xi * us, OC, 16); break;
      case 32: gemm_tile(mb + xi * ms, v + xi * vs, u + xi * us, OC, 32); break;
      case 64: gemm_tile(mb + xi * ms, v + xi * vs, u + xi * us, OC, 64); break;
      default: gemm_tile(mb + xi * ms, v + xi * vs, u + xi * us, OC, C);
    }
}

/* out (N,OH,OW,OC) = conv(x, w) + b for a shape tq_conv2d_winograd_ok accepts. x: the zero-padded
 * frame (N, H+2, W+2, C), row stride `row` floats, image stride img floats; u from
 * tq_conv2d_winograd_weights; b (OC) or NULL. */
void tq_conv2d_winograd_forward(float *out, const float *x, int row, size_t img, const float *u, const float *b,
                                const tq_conv_shape *s) {
  const int C = s->c, OC = s->oc, tw = s->ow / 2;
  const size_t per_img = (size_t)(s->oh / 2) * tw, tiles = (size_t)s->n * per_img;
  const size_t orow = (size_t)s->ow * OC;
  const long blocks = (long)((tiles + WINO_T - 1) / WINO_T);
#pragma omp parallel if (tiles * 16 * C * OC > CONV_PARALLEL_MACS)
  {
    /* per thread, on the heap: 100+ KB would not fit every platform's thread stacks */
    float *v = tq_alloc_floats((size_t)16 * WINO_T * (C + DIRECT_OC)), *mb = v + (size_t)16 * WINO_T * C;
    TQ_ASSERT(v != NULL);
#pragma omp for schedule(static) /* each thread its share of the batch: conv2d.c */
    for (long bi = 0; bi < blocks; bi++) {
      const size_t t0 = (size_t)bi * WINO_T;
      const int nt = tiles - t0 < WINO_T ? (int)(tiles - t0) : WINO_T;
      size_t n = t0 / per_img, q = t0 % per_img;
      int ty = (int)(q / tw), tx = (int)(q % tw);
      const float *src[WINO_T];
      float *dst[WINO_T];
      for (int i = 0; i < WINO_T; i++) {
        if (i >= nt) { /* a short last block fills its rows with its image's first tile, dropped */
          src[i] = x + (size_t)t0 / per_img * img, dst[i] = NULL;
          continue;
        }
        src[i] = x + n * img + (size_t)2 * ty * row + (size_t)2 * tx * C;
        dst[i] = out + (n * s->oh + 2 * (size_t)ty) * orow + (size_t)2 * tx * OC;
        if (++tx == tw) {
          tx = 0;
          if (++ty == s->oh / 2) ty = 0, n++;
        }
      }
      const size_t vstep = (size_t)WINO_T * C;
      for (int i = 0; i < WINO_T; i++)
        for (int c = 0; c < C; c += VW) input_transform(v + (size_t)i * C + c, vstep, src[i] + c, row, C);
      for (int p = 0; p < OC / DIRECT_OC; p++) {
        gemm_tiles(mb, v, u + p * DIRECT_OC, OC, C);
        for (int i = 0; i < nt; i++)
          for (int q = 0; q < NV; q++)
            output_transform(dst[i] + p * DIRECT_OC + q * VW, orow, OC, mb + i * DIRECT_OC + q * VW,
                             (size_t)WINO_T * DIRECT_OC, b ? b + p * DIRECT_OC + q * VW : NULL);
      }
    }
    tq_free(v);
  }
}

/* ---- The weight gradient by the same transforms: with V = B^T d B per tile and input channel and
 * M' = A dY A^T per tile and output channel (dY: the tile's 2x2 output gradient),
 *   dU[xi][c][o] = sum over tiles of V[xi][c] * M'[xi][o]   (16 GEMMs reducing over tiles)
 *   dw[.][.][c][o] += G^T dU[c][o] G
 * Tiles are split into WINO_LANES fixed lanes (a function of the shape, never of the thread count),
 * each summing its own dU in tile order; the lanes are added in lane order: the same bits for any
 * number of threads. */
#define WDW_ROWS (NV == 1 ? 16 : 4) /* dU tile: input channels x 16 output channels in registers */
#define WDW_BLOCK_FLOATS 65536      /* a block's V and M' (16 x tiles x (C + OC)): 256 KB, in L2 */

static int wino_lanes(const tq_conv_shape *s) { return (size_t)s->c * s->oc <= 1024 ? 8 : 4; }

size_t tq_conv2d_winograd_dw_floats(const tq_conv_shape *s) {
  return (size_t)wino_lanes(s) * tq_conv2d_winograd_floats(s);
}

static int wdw_block_tiles(const tq_conv_shape *s) {
  int t = WDW_BLOCK_FLOATS / (16 * (s->c + s->oc));
  return t > 48 ? 48 : t < 1 ? 1 : t;
}

/* M' = A dY A^T for one tile and VW channels, A = [1 0; 1 1; 1 -1; 0 -1]: dY (i, j) at
 * g + i*orow + j*OC, M'[xi] stored at m + xi*mstep. */
TILE_INLINE void grad_transform(float *m, size_t mstep, const float *g, size_t orow, int OC) {
  vf y[2][2], r[4][2];
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++) y[i][j] = VLOAD(g + (size_t)i * orow + (size_t)j * OC);
  for (int j = 0; j < 2; j++) {
    r[0][j] = y[0][j];
    r[1][j] = y[0][j] + y[1][j];
    r[2][j] = y[0][j] - y[1][j];
    r[3][j] = VSPLAT(0.0f) - y[1][j];
  }
  for (int a = 0; a < 4; a++) {
    VSTORE(m + (size_t)(4 * a + 0) * mstep, r[a][0]);
    VSTORE(m + (size_t)(4 * a + 1) * mstep, r[a][0] + r[a][1]);
    VSTORE(m + (size_t)(4 * a + 2) * mstep, r[a][0] - r[a][1]);
    VSTORE(m + (size_t)(4 * a + 3) * mstep, VSPLAT(0.0f) - r[a][1]);
  }
}

/* du (WDW_ROWS, 16; row stride OC) += sum over nt tiles of v[t*C + r] * mp[t*OC + 0..16]: the rows'
 * broadcasts at constant displacements from one pointer per tile. */
TILE_INLINE void du_tile(float *du, int OC, const float *v, int C, const float *mp, int nt) {
  vf acc[WDW_ROWS][NV];
  for (int r = 0; r < WDW_ROWS; r++)
    for (int q = 0; q < NV; q++) acc[r][q] = VLOAD(du + (size_t)r * OC + q * VW);
  for (int t = 0; t < nt; t++) {
    vf g[NV];
    for (int q = 0; q < NV; q++) g[q] = VLOAD(mp + (size_t)t * OC + q * VW);
    const float *vt = v + (size_t)t * C;
    for (int r = 0; r < WDW_ROWS; r++) {
      vf x = VSPLAT(vt[r]);
      for (int q = 0; q < NV; q++) acc[r][q] += x * g[q];
    }
  }
  for (int r = 0; r < WDW_ROWS; r++)
    for (int q = 0; q < NV; q++) VSTORE(du + (size_t)r * OC + q * VW, acc[r][q]);
}

/* dw (3,3,C,OC) += the weight gradient, for a shape tq_conv2d_winograd_ok accepts. x: the
 * zero-padded frame as for the forward; dout (N,OH,OW,OC); lanes: tq_conv2d_winograd_dw_floats(s). */
void tq_conv2d_winograd_dw(float *dw, const float *x, int row, size_t img, const float *dout,
                           const tq_conv_shape *s, float *lanes) {
  const int C = s->c, OC = s->oc, tw = s->ow / 2, L = wino_lanes(s), tb = wdw_block_tiles(s);
  const size_t per_img = (size_t)(s->oh / 2) * tw, tiles = (size_t)s->n * per_img;
  const size_t orow = (size_t)s->ow * OC, plane = (size_t)16 * C * OC;
  const size_t vstep = (size_t)tb * C, mstep = (size_t)tb * OC;
#pragma omp parallel if (tiles * 16 * C * OC > CONV_PARALLEL_MACS)
  {
    float *buf = tq_alloc_floats((size_t)16 * tb * (C + OC)); /* V (16, tb, C), then M' (16, tb, OC) */
    TQ_ASSERT(buf != NULL);
    float *v = buf, *mp = buf + 16 * vstep;
#pragma omp for schedule(static)
    for (int l = 0; l < L; l++) {
      float *du = lanes + (size_t)l * plane;
      memset(du, 0, plane * sizeof(float));
      const size_t l0 = tiles * l / L, l1 = tiles * (l + 1) / L;
      size_t n = l0 / per_img, q = l0 % per_img;
      int ty = (int)(q / tw), tx = (int)(q % tw);
      for (size_t t0 = l0; t0 < l1; t0 += tb) {
        const int nt = l1 - t0 < (size_t)tb ? (int)(l1 - t0) : tb;
        for (int t = 0; t < nt; t++) {
          const float *src = x + n * img + (size_t)2 * ty * row + (size_t)2 * tx * C;
          const float *g = dout + (n * s->oh + 2 * (size_t)ty) * orow + (size_t)2 * tx * OC;
          for (int c = 0; c < C; c += VW) input_transform(v + (size_t)t * C + c, vstep, src + c, row, C);
          for (int o = 0; o < OC; o += VW) grad_transform(mp + (size_t)t * OC + o, mstep, g + o, orow, OC);
          if (++tx == tw) {
            tx = 0;
            if (++ty == s->oh / 2) ty = 0, n++;
          }
        }
        for (int xi = 0; xi < 16; xi++)
          for (int c0 = 0; c0 < C; c0 += WDW_ROWS)
            for (int p = 0; p < OC; p += DIRECT_OC)
              du_tile(du + (size_t)xi * C * OC + (size_t)c0 * OC + p, OC, v + xi * vstep + c0, C, mp + xi * mstep + p,
                      nt);
      }
    }
    tq_free(buf);
  }
  /* dU summed over the lanes in lane order, then dw += G^T dU G per channel pair, VW pairs at a time */
  const size_t cc = (size_t)C * OC;
#pragma omp parallel for schedule(static) if (cc * L > 65536)
  for (int c = 0; c < C; c++)
    for (int o = 0; o < OC; o += VW) {
      const size_t e = (size_t)c * OC + o;
      vf d[16], t[3][4];
      for (int xi = 0; xi < 16; xi++) {
        vf a = VLOAD(lanes + xi * cc + e);
        for (int l = 1; l < L; l++) a += VLOAD(lanes + (size_t)l * plane + xi * cc + e);
        d[xi] = a;
      }
      const vf half = VSPLAT(0.5f);
      for (int b = 0; b < 4; b++) {
        vf u0 = d[b], u1 = d[4 + b], u2 = d[8 + b], u3 = d[12 + b];
        t[0][b] = u0 + half * (u1 + u2);
        t[1][b] = half * (u1 - u2);
        t[2][b] = half * (u1 + u2) + u3;
      }
      for (int ky = 0; ky < 3; ky++) {
        vf u0 = t[ky][0], u1 = t[ky][1], u2 = t[ky][2], u3 = t[ky][3];
        float *d0 = dw + ((size_t)(ky * 3 + 0) * C + c) * OC + o, *d1 = d0 + cc, *d2 = d1 + cc;
        VSTORE(d0, VLOAD(d0) + (u0 + half * (u1 + u2)));
        VSTORE(d1, VLOAD(d1) + half * (u1 - u2));
        VSTORE(d2, VLOAD(d2) + (half * (u1 + u2) + u3));
      }
    }
}
