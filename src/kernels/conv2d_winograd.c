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
#include <omp.h>
#include <string.h>

#include "kernels/conv2d_internal.h"

#define WINO_T DIRECT_PX   /* tiles per block: the rows of a GEMM tile */
#define WINO_MAX_C 128     /* per-thread V buffer on the stack: 16 * WINO_T * C floats */

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
TILE_INLINE void output_transform(float *y, size_t orow, int OC, const float *m, size_t mstep, vf bias) {
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
  long chunk = blocks / (8L * omp_get_max_threads());
  chunk = chunk < 1 ? 1 : chunk > 16 ? 16 : chunk;
#pragma omp parallel for schedule(dynamic, chunk) if (tiles * 16 * C * OC > CONV_PARALLEL_MACS)
  for (long bi = 0; bi < blocks; bi++) {
    _Alignas(64) float v[16 * WINO_T * WINO_MAX_C];
    _Alignas(64) float mb[16 * WINO_T * DIRECT_OC];
    const size_t t0 = (size_t)bi * WINO_T;
    const int nt = tiles - t0 < WINO_T ? (int)(tiles - t0) : WINO_T;
    size_t n = t0 / per_img, q = t0 % per_img;
    int ty = (int)(q / tw), tx = (int)(q % tw);
    const float *src[WINO_T];
    float *dst[WINO_T];
    for (int i = 0; i < WINO_T; i++) {
      if (i >= nt) { /* a short last block repeats its first tile and drops the copies */
        src[i] = src[0], dst[i] = NULL;
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
        for (int q = 0; q < NV; q++) {
          const vf bias = b ? VLOAD(b + p * DIRECT_OC + q * VW) : VSPLAT(0.0f);
          output_transform(dst[i] + p * DIRECT_OC + q * VW, orow, OC, mb + i * DIRECT_OC + q * VW,
                           (size_t)WINO_T * DIRECT_OC, bias);
        }
    }
  }
}
