/* Integer runtime: conv2d and depthwise conv2d, every type combination, against a naive int128
 * reference written here (padding as real zero, unfolded bias), torch-made golden vectors, and
 * hand-derived cases. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/runtime_golden.h"
#include "data/runtime_ref.h"
#include "test_runtime_weighted.h"
#include "tq_rt.h"
#include "tq_test.h"

/* ---- type-erased wrappers: int32 data in, typed kernel call, int32 data out ------------------------ */
typedef tq_rt_status (*conv_wrap)(int32_t *out, const int32_t *x, size_t nx, const int32_t *w,
                                  size_t nw, const int64_t *bias, const tq_rt_conv_geom *g,
                                  int32_t zx, const tq_rt_requant *rq);
typedef COMBO(conv_wrap) combo;

#define WRAP(op, xn, wn, on, an)                                                                    \
  static tq_rt_status WRAP_NAME(op, xn, wn, on, an)(                                                \
      int32_t *out, const int32_t *x, size_t nx, const int32_t *w, size_t nw, const int64_t *bias,  \
      const tq_rt_conv_geom *g, int32_t zx, const tq_rt_requant *rq) {                              \
    const size_t no = (size_t)g->n * g->out_h * g->out_w * g->out_c, nb = (size_t)g->out_c;         \
    tq_rt_status st;                                                                                \
    TYPED_CALL(xn, wn, on, an, TQ_RT_WNAME(op, xn, wn, on, an)(ot, xt, wt, bt, g, zx, rq));         \
    return st;                                                                                      \
  }
TQ_RT_WEIGHTED_TYPES(WRAP, conv2d)
TQ_RT_WEIGHTED_TYPES(WRAP, depthwise_conv2d)

static const combo conv_combos[24] = {TQ_RT_WEIGHTED_TYPES(COMBO_ENTRY, conv2d)};
static const combo dw_combos[24] = {TQ_RT_WEIGHTED_TYPES(COMBO_ENTRY, depthwise_conv2d)};

/* ---- naive reference: weights in the kernel layout (OHWI for conv, (KH,KW,OC) for depthwise) ------ */
static void ref_conv(int32_t *out, const int32_t *x, const int32_t *w, const int64_t *bias,
                     const tq_rt_conv_geom *g, int32_t zx, const tq_rt_requant *rq, int dw) {
  int b, oh, ow, oc, kh, kw, ci;
  for (b = 0; b < g->n; b++)
    for (oh = 0; oh < g->out_h; oh++)
      for (ow = 0; ow < g->out_w; ow++)
        for (oc = 0; oc < g->out_c; oc++) {
          i128 acc = bias[oc];
          const int ch = rq->per_channel ? oc : 0;
          for (kh = 0; kh < g->k_h; kh++)
            for (kw = 0; kw < g->k_w; kw++) {
              const int ih = oh * g->stride_h - g->pad_top + kh;
              const int iw = ow * g->stride_w - g->pad_left + kw;
              if (ih < 0 || ih >= g->in_h || iw < 0 || iw >= g->in_w) continue; /* real zero */
              if (dw) {
                const int c = oc / g->depth_mult;
                const int64_t xv = x[(((size_t)b * g->in_h + ih) * g->in_w + iw) * g->in_c + c];
                acc += (i128)w[(kh * g->k_w + kw) * g->out_c + oc] * (xv - zx);
              } else {
                for (ci = 0; ci < g->in_c; ci++) {
                  const int64_t xv = x[(((size_t)b * g->in_h + ih) * g->in_w + iw) * g->in_c + ci];
                  acc += (i128)w[((oc * g->k_h + kh) * g->k_w + kw) * g->in_c + ci] * (xv - zx);
                }
              }
            }
          out[(((size_t)b * g->out_h + oh) * g->out_w + ow) * g->out_c + oc] =
              ref_requant(acc, rq->mode, rq->mode ? rq->mult[ch] : 0, rq->shift[ch], rq->out_zp,
                          rq->act_min, rq->act_max);
        }
}

/* bias_eff = bias - zx * sum(W[oc]) computed here independently */
static void fold(int64_t *be, const int64_t *bias, const int32_t *w, const tq_rt_conv_geom *g,
                 int32_t zx, int dw) {
  int oc, j;
  const int k = dw ? g->k_h * g->k_w : g->k_h * g->k_w * g->in_c;
  for (oc = 0; oc < g->out_c; oc++) {
    int64_t s = 0;
    for (j = 0; j < k; j++) s += dw ? w[j * g->out_c + oc] : w[oc * k + j];
    be[oc] = bias[oc] - (int64_t)zx * s;
  }
}

static int ilog2(uint64_t v) {
  int r = 0;
  while (v > 1) {
    v >>= 1;
    r++;
  }
  return r;
}

/* One random case for combo c: returns number of mismatches (and checks status). */
static int random_case(const combo *c, int dw, int force_mult) {
  tq_rt_conv_geom g;
  int32_t *x, *w, *got, *want;
  int64_t *bias, *be;
  int32_t mult[64];
  int8_t shift[64];
  tq_rt_requant rq;
  size_t nx, nw, no, i;
  int32_t xmax, wmax, zx, k, bad = 0;
  const int32_t omin = c->o16 ? -32768 : -128, omax = c->o16 ? 32767 : 127;
  int64_t accmag;
  memset(&g, 0, sizeof g);
  g.n = (int32_t)ref_randi(1, 2);
  g.in_h = (int32_t)ref_randi(1, 7);
  g.in_w = (int32_t)ref_randi(1, 7);
  g.in_c = (int32_t)ref_randi(1, dw ? 9 : 7);
  g.depth_mult = dw ? (int32_t)ref_randi(1, 3) : 1;
  if (dw && g.depth_mult > 1) g.in_c = (int32_t)ref_randi(1, 4);
  g.out_c = dw ? g.in_c * g.depth_mult : (int32_t)ref_randi(1, 11);
  g.k_h = (int32_t)ref_randi(1, 4);
  g.k_w = (int32_t)ref_randi(1, 4);
  g.stride_h = (int32_t)ref_randi(1, 3);
  g.stride_w = (int32_t)ref_randi(1, 3);
  g.pad_top = (int32_t)ref_randi(0, 3);
  g.pad_bottom = (int32_t)ref_randi(0, 3);
  g.pad_left = (int32_t)ref_randi(0, 3);
  g.pad_right = (int32_t)ref_randi(0, 3);
  if (g.in_h + g.pad_top + g.pad_bottom < g.k_h) g.pad_bottom += g.k_h;
  if (g.in_w + g.pad_left + g.pad_right < g.k_w) g.pad_right += g.k_w;
  g.out_h = (g.in_h + g.pad_top + g.pad_bottom - g.k_h) / g.stride_h + 1;
  g.out_w = (g.in_w + g.pad_left + g.pad_right - g.k_w) / g.stride_w + 1;
  k = dw ? g.k_h * g.k_w : g.k_h * g.k_w * g.in_c;
  /* value ranges: full type ranges, reduced for 32-bit accumulators so the contract bound holds */
  xmax = c->x16 ? 32767 : 127;
  wmax = c->wbits == 4 ? 7 : c->wbits == 8 ? 127 : 32767;
  if (!c->acc64) {
    while ((int64_t)k * (xmax + (int64_t)xmax) * wmax > ((int64_t)1 << 30)) {
      if (wmax > 7 && wmax >= xmax / 16) wmax /= 2;
      else xmax /= 2;
    }
  }
  if (ref_randi(0, 3) == 0) xmax = (int32_t)ref_randi(1, xmax); /* small-valued layers too */
  zx = (int32_t)ref_randi(-xmax, xmax);
  if (ref_randi(0, 4) == 0) zx = 0;
  nx = (size_t)g.n * g.in_h * g.in_w * g.in_c;
  nw = dw ? (size_t)k * g.out_c : (size_t)g.out_c * k;
  no = (size_t)g.n * g.out_h * g.out_w * g.out_c;
  x = malloc(nx * 4);
  w = malloc(nw * 4);
  got = malloc(no * 4);
  want = malloc(no * 4);
  bias = malloc((size_t)g.out_c * 8);
  be = malloc((size_t)g.out_c * 8);
  for (i = 0; i < nx; i++) x[i] = (int32_t)ref_randi(-xmax - 1 < (c->x16 ? -32768 : -128) ? -xmax : -xmax - 1, xmax);
  for (i = 0; i < nw; i++) w[i] = (int32_t)ref_randi(c->wbits == 4 ? -8 : -wmax, wmax);
  accmag = (int64_t)k * xmax * wmax / 2 + 1;
  for (i = 0; i < (size_t)g.out_c; i++) bias[i] = ref_randi(-accmag / 2, accmag / 2);
  fold(be, bias, w, &g, zx, dw);
  rq.mode = force_mult || ref_randi(0, 2) == 0 ? TQ_RT_RQ_MULT : TQ_RT_RQ_PO2;
  rq.per_channel = (int32_t)ref_randi(0, 3) != 0;
  rq.mult = mult;
  rq.shift = shift;
  rq.out_zp = (int32_t)ref_randi(omin / 4, omax / 4);
  switch (ref_randi(0, 3)) {
    case 0: rq.act_min = omin; rq.act_max = omax; break;
    case 1: rq.act_min = rq.out_zp; rq.act_max = omax; break; /* ReLU */
    case 2: rq.act_min = rq.out_zp; rq.act_max = rq.out_zp + (omax - rq.out_zp) / 3; break; /* ReLU6-like */
    default: rq.act_min = -omax; rq.act_max = omax; break;
  }
  {
    /* shift so that typical |acc| lands around a quarter of the output range, +-2 */
    const int base = ilog2((uint64_t)accmag) - ilog2((uint64_t)omax) + 2;
    for (i = 0; i < 64; i++) {
      shift[i] = (int8_t)(base + ref_randi(-2, 2));
      mult[i] = (int32_t)ref_randi(1 << 30, INT32_MAX);
      if (rq.mode == TQ_RT_RQ_MULT && shift[i] < -31) shift[i] = -31;
    }
  }
  ref_conv(want, x, w, bias, &g, zx, &rq, dw);
  CHECK_EQ_INT(c->fn(got, x, nx, w, nw, be, &g, zx, &rq), TQ_RT_OK);
  for (i = 0; i < no; i++)
    if (got[i] != want[i]) {
      if (bad < 3)
        fprintf(stderr, "%s: mismatch at %zu: got %d want %d (n%d %dx%dx%d->%dx%dx%d k%dx%d s%d,%d p%d,%d,%d,%d zx %d mode %d)\n",
                c->name, i, got[i], want[i], g.n, g.in_h, g.in_w, g.in_c, g.out_h, g.out_w, g.out_c,
                g.k_h, g.k_w, g.stride_h, g.stride_w, g.pad_top, g.pad_bottom, g.pad_left,
                g.pad_right, zx, rq.mode);
      bad++;
    }
  free_n(6, x, w, got, want, bias, be);
  return bad;
}

static void test_random_all_combos(void) {
  int ci, t;
  for (ci = 0; ci < 24; ci++) {
    int bad = 0;
    for (t = 0; t < 150; t++) bad += random_case(&conv_combos[ci], 0, t % 5 == 0);
    if (bad) fprintf(stderr, "%s: %d mismatches\n", conv_combos[ci].name, bad);
    CHECK_EQ_INT(bad, 0);
    bad = 0;
    for (t = 0; t < 150; t++) bad += random_case(&dw_combos[ci], 1, t % 5 == 0);
    if (bad) fprintf(stderr, "%s: %d mismatches\n", dw_combos[ci].name, bad);
    CHECK_EQ_INT(bad, 0);
  }
}

/* Hand-derived: x = [1 2 3; 4 5 6; 7 8 9], z_X = 1, kernel 2x2 [1 0; 0 -1], stride 2, pads (0,1,0,1),
 * bias 1, n = 1. Windows: (x00-1) - (x11-1) + 1 = 0 - 4 + 1 = -3 -> -1.5 -> -1;
 * (x02-1) + pad + 1 = 3 -> 1.5 -> 2;  (x20-1) + 1 = 7 -> 3.5 -> 4;  (x22-1) + 1 = 9 -> 4.5 -> 5. */
static void test_hand_conv(void) {
  const int8_t x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const int8_t w[4] = {1, 0, 0, -1};
  int32_t bias[1] = {1};
  const int8_t sh[1] = {1};
  int8_t y[4];
  tq_rt_requant rq = {TQ_RT_RQ_PO2, 0, NULL, sh, 0, -128, 127};
  const tq_rt_conv_geom g = {1, 3, 3, 1, 2, 2, 1, 2, 2, 2, 2, 0, 1, 0, 1, 1};
  CHECK_EQ_INT(tq_rt_fold_bias_s8w(bias, bias, w, 1, 4, 4, 1, 1), TQ_RT_OK);
  CHECK_EQ_INT(bias[0], 1 - (1 + 0 + 0 - 1));
  CHECK_EQ_INT(tq_rt_conv2d_s8_s8w_s8(y, x, w, bias, &g, 1, &rq), TQ_RT_OK);
  CHECK_EQ_INT(y[0], -1);
  CHECK_EQ_INT(y[1], 2);
  CHECK_EQ_INT(y[2], 4);
  CHECK_EQ_INT(y[3], 5);
  /* same through 4-bit weights (4 codes: even count) and a saturating clamp [-1, 3] */
  {
    uint8_t w4[2];
    int8_t y4[4];
    tq_rt_pack_s4(w4, w, 4);
    rq.act_min = -1;
    rq.act_max = 3;
    CHECK_EQ_INT(tq_rt_conv2d_s8_s4w_s8(y4, x, w4, bias, &g, 1, &rq), TQ_RT_OK);
    CHECK(y4[0] == -1 && y4[1] == 2 && y4[2] == 3 && y4[3] == 3);
  }
  /* argument errors leave the output untouched */
  {
    tq_rt_conv_geom bad = g;
    y[0] = 99;
    bad.out_w = 3;
    CHECK_EQ_INT(tq_rt_conv2d_s8_s8w_s8(y, x, w, bias, &bad, 1, &rq), TQ_RT_ERR_ARG);
    CHECK_EQ_INT(tq_rt_conv2d_s8_s8w_s8(y, NULL, w, bias, &g, 1, &rq), TQ_RT_ERR_ARG);
    rq.act_max = 128;
    CHECK_EQ_INT(tq_rt_conv2d_s8_s8w_s8(y, x, w, bias, &g, 1, &rq), TQ_RT_ERR_ARG);
    CHECK_EQ_INT(y[0], 99);
  }
}

/* Golden vectors from torch (tests/data/runtime_golden.h). */
static void test_golden_conv(void) {
  enum { C = 3, OC = 5, KH = 3, KW = 3 };
  int8_t w_ohwi[OC * KH * KW * C];
  int32_t be[OC];
  int8_t y[GOLD_CONV_OH * GOLD_CONV_OW * OC];
  int o, kh, kw, c, i, bad = 0;
  const tq_rt_conv_geom g = {1, 7, 6, C, GOLD_CONV_OH, GOLD_CONV_OW, OC, KH, KW, 2, 2, 1, 2, 0, 1, 1};
  const tq_rt_requant rq = {TQ_RT_RQ_PO2, 1, NULL, gold_conv_shift, GOLD_CONV_ZY, -127, 127};
  for (o = 0; o < OC; o++) /* Keras HWIO -> OHWI */
    for (kh = 0; kh < KH; kh++)
      for (kw = 0; kw < KW; kw++)
        for (c = 0; c < C; c++)
          w_ohwi[((o * KH + kh) * KW + kw) * C + c] = gold_conv_w_hwio[((kh * KW + kw) * C + c) * OC + o];
  CHECK_EQ_INT(tq_rt_fold_bias_s8w(be, gold_conv_bias, w_ohwi, OC, KH * KW * C, KH * KW * C, 1, GOLD_CONV_ZX), TQ_RT_OK);
  CHECK_EQ_INT(tq_rt_conv2d_s8_s8w_s8(y, gold_conv_x, w_ohwi, be, &g, GOLD_CONV_ZX, &rq), TQ_RT_OK);
  for (i = 0; i < (int)sizeof y; i++) bad += y[i] != gold_conv_y[i];
  CHECK_EQ_INT(bad, 0);
  /* the same layer as 4-bit weights is not possible (8-bit values); as acc64 and s16 output instead */
  {
    int64_t be64[OC];
    int16_t y16[sizeof y];
    const tq_rt_requant rq16 = {TQ_RT_RQ_PO2, 1, NULL, gold_conv_shift, GOLD_CONV_ZY, -127, 127};
    for (o = 0; o < OC; o++) be64[o] = be[o];
    CHECK_EQ_INT(tq_rt_conv2d_s8_s8w_s16_acc64(y16, gold_conv_x, w_ohwi, be64, &g, GOLD_CONV_ZX, &rq16), TQ_RT_OK);
    bad = 0;
    for (i = 0; i < (int)sizeof y; i++) bad += y16[i] != gold_conv_y[i];
    CHECK_EQ_INT(bad, 0);
  }
}

static void test_golden_depthwise(void) {
  enum { C = 3, M = 2, OC = 6, KH = 3, KW = 3 };
  uint8_t w4[(KH * KW * OC + 1) / 2];
  int32_t be[OC];
  int8_t y[GOLD_DW_OH * GOLD_DW_OW * OC];
  int i, bad = 0;
  const tq_rt_conv_geom g = {1, 6, 5, C, GOLD_DW_OH, GOLD_DW_OW, OC, KH, KW, 2, 2, 0, 1, 1, 1, M};
  const tq_rt_requant rq = {TQ_RT_RQ_PO2, 1, NULL, gold_dw_shift, GOLD_DW_ZY, GOLD_DW_ZY, 127};
  /* Keras (KH,KW,C,M) flattened is exactly the runtime layout (KH,KW,C*M); weights fit 4 bits */
  CHECK_EQ_INT(tq_rt_pack_s4(w4, gold_dw_w, KH * KW * OC), TQ_RT_OK);
  CHECK_EQ_INT(tq_rt_fold_bias_s4w(be, gold_dw_bias, w4, OC, KH * KW, 1, OC, GOLD_DW_ZX), TQ_RT_OK);
  CHECK_EQ_INT(tq_rt_depthwise_conv2d_s8_s4w_s8(y, gold_dw_x, w4, be, &g, GOLD_DW_ZX, &rq), TQ_RT_OK);
  for (i = 0; i < (int)sizeof y; i++) bad += y[i] != gold_dw_y[i];
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(tq_rt_fold_bias_s8w(be, gold_dw_bias, gold_dw_w, OC, KH * KW, 1, OC, GOLD_DW_ZX), TQ_RT_OK);
  CHECK_EQ_INT(tq_rt_depthwise_conv2d_s8_s8w_s8(y, gold_dw_x, gold_dw_w, be, &g, GOLD_DW_ZX, &rq), TQ_RT_OK);
  bad = 0;
  for (i = 0; i < (int)sizeof y; i++) bad += y[i] != gold_dw_y[i];
  CHECK_EQ_INT(bad, 0);
}

/* int64 accumulator: 16-bit x 16-bit with sums far beyond int32. */
static void test_acc64_overflow(void) {
  enum { C = 8, OC = 2 };
  int16_t x[2 * 2 * C], w[OC * 2 * 2 * C];
  int64_t be[OC], bias[OC] = {123456789012LL, -5};
  int16_t y[OC];
  int i;
  const int8_t sh[1] = {24};
  const tq_rt_requant rq = {TQ_RT_RQ_PO2, 0, NULL, sh, 0, -32768, 32767};
  const tq_rt_conv_geom g = {1, 2, 2, C, 1, 1, OC, 2, 2, 1, 1, 0, 0, 0, 0, 1};
  const int32_t zx = -32768;
  for (i = 0; i < 2 * 2 * C; i++) x[i] = 32767;
  for (i = 0; i < OC * 2 * 2 * C; i++) w[i] = i < 2 * 2 * C ? 32767 : -32768;
  CHECK_EQ_INT(tq_rt_fold_bias_s16w_acc64(be, bias, w, OC, 2 * 2 * C, 2 * 2 * C, 1, zx), TQ_RT_OK);
  CHECK(tq_rt_acc_bound_s16w(be[0], w, 0, 2 * 2 * C, 2 * 2 * C, 1, 32768) > INT32_MAX);
  CHECK_EQ_INT(tq_rt_conv2d_s16_s16w_s16_acc64(y, x, w, be, &g, zx, &rq), TQ_RT_OK);
  {
    /* acc = bias + 32 * w * (32767 + 32768) */
    const i128 a0 = (i128)bias[0] + (i128)32 * 32767 * 65535;
    const i128 a1 = (i128)bias[1] + (i128)32 * -32768 * 65535;
    CHECK_EQ_INT(y[0], ref_clamp(ref_rshift_round(a0, 24), -32768, 32767));
    CHECK_EQ_INT(y[1], ref_clamp(ref_rshift_round(a1, 24), -32768, 32767));
    CHECK(a0 > INT32_MAX && a1 < INT32_MIN);
    CHECK(y[0] != 32767 && y[1] != -32768); /* not saturated: the exact value came through */
  }
}

/* 4-bit weights with odd row lengths (K = 3*1*3 = 9): channel rows start on odd nibbles. */
static void test_s4_odd(void) {
  enum { C = 3, OC = 5, K = 9 };
  int32_t w32[OC * K], x32[3 * 3 * C], want[3 * 3 * OC], got[3 * 3 * OC];
  int64_t bias[OC], be[OC];
  int i;
  const int8_t sh[1] = {0};
  const tq_rt_requant rq = {TQ_RT_RQ_PO2, 0, NULL, sh, 0, -128, 127};
  const tq_rt_conv_geom g = {1, 3, 3, C, 3, 3, OC, 3, 1, 1, 1, 1, 1, 0, 0, 1};
  for (i = 0; i < OC * K; i++) w32[i] = (i * 7) % 16 - 8;
  for (i = 0; i < 3 * 3 * C; i++) x32[i] = (i * 5) % 15 - 7;
  for (i = 0; i < OC; i++) bias[i] = i - 2;
  fold(be, bias, w32, &g, 2, 0);
  ref_conv(want, x32, w32, bias, &g, 2, &rq, 0);
  CHECK_EQ_INT(w_conv2d_s8_s4_s8_a32(got, x32, 3 * 3 * C, w32, OC * K, be, &g, 2, &rq), TQ_RT_OK);
  for (i = 0; i < 3 * 3 * OC; i++) CHECK_EQ_INT(got[i], want[i]);
}

int main(void) {
  test_hand_conv();
  test_golden_conv();
  test_golden_depthwise();
  test_acc64_overflow();
  test_s4_odd();
  test_random_all_combos();
  TEST_MAIN_END();
}
