/* Integer runtime: dense, every type combination, against a naive int128 reference written here,
 * torch-made golden vectors, hand-derived and overflow cases. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/runtime_golden.h"
#include "data/runtime_ref.h"
#include "test_runtime_weighted.h"
#include "tq_rt.h"
#include "tq_test.h"

typedef tq_rt_status (*dense_wrap)(int32_t *out, const int32_t *x, const int32_t *w,
                                   const int64_t *bias, int32_t n, int32_t in_dim, int32_t out_dim,
                                   const tq_rt_requant *rq);
typedef COMBO(dense_wrap) combo;

#define WRAP(op, xn, wn, on, an)                                                                    \
  static tq_rt_status WRAP_NAME(op, xn, wn, on, an)(int32_t *out, const int32_t *x,                 \
                                                    const int32_t *w, const int64_t *bias,          \
                                                    int32_t n, int32_t in_dim, int32_t out_dim,     \
                                                    const tq_rt_requant *rq) {                      \
    const size_t nx = (size_t)n * in_dim, nw = (size_t)in_dim * out_dim, no = (size_t)n * out_dim;  \
    const size_t nb = (size_t)out_dim;                                                              \
    tq_rt_status st;                                                                                \
    TYPED_CALL(xn, wn, on, an,                                                                      \
               TQ_RT_WNAME(op, xn, wn, on, an)(ot, xt, wt, bt, n, in_dim, out_dim, rq));            \
    return st;                                                                                      \
  }
TQ_RT_WEIGHTED_TYPES(WRAP, dense)

static const combo combos[24] = {TQ_RT_WEIGHTED_TYPES(COMBO_ENTRY, dense)};

/* naive reference with the raw bias and the zero point inside the sum */
static void ref_dense(int32_t *out, const int32_t *x, const int32_t *w, const int64_t *bias,
                      int32_t n, int32_t in_dim, int32_t out_dim, int32_t zx, const tq_rt_requant *rq) {
  int b, o, i;
  for (b = 0; b < n; b++)
    for (o = 0; o < out_dim; o++) {
      const int ch = rq->per_channel ? o : 0;
      i128 acc = bias[o];
      for (i = 0; i < in_dim; i++) acc += (i128)w[o * in_dim + i] * ((int64_t)x[b * in_dim + i] - zx);
      out[b * out_dim + o] = ref_requant(acc, rq->mode, rq->mode ? rq->mult[ch] : 0, rq->shift[ch],
                                         rq->out_zp, rq->act_min, rq->act_max);
    }
}

static int random_case(const combo *c) {
  const int32_t n = (int32_t)ref_randi(1, 3), in_dim = (int32_t)ref_randi(1, 40),
                out_dim = (int32_t)ref_randi(1, 13);
  const int32_t omin = c->o16 ? -32768 : -128, omax = c->o16 ? 32767 : 127;
  int32_t xmax = c->x16 ? 32767 : 127, wmax = c->wbits == 4 ? 7 : c->wbits == 8 ? 127 : 32767;
  int32_t *x = malloc((size_t)n * in_dim * 4), *w = malloc((size_t)in_dim * out_dim * 4);
  int32_t *got = malloc((size_t)n * out_dim * 4), *want = malloc((size_t)n * out_dim * 4);
  int64_t *bias = malloc((size_t)out_dim * 8), *be = malloc((size_t)out_dim * 8);
  int32_t mult[16], zx, i, o, bad = 0;
  int8_t shift[16];
  int64_t accmag;
  int lg = 0;
  tq_rt_requant rq;
  if (!c->acc64)
    while ((int64_t)in_dim * 2 * xmax * wmax > ((int64_t)1 << 30)) {
      if (wmax > 7 && wmax >= xmax / 16) wmax /= 2;
      else xmax /= 2;
    }
  zx = (int32_t)ref_randi(-xmax, xmax);
  for (i = 0; i < n * in_dim; i++) x[i] = (int32_t)ref_randi(-xmax, xmax);
  for (i = 0; i < in_dim * out_dim; i++) w[i] = (int32_t)ref_randi(c->wbits == 4 ? -8 : -wmax, wmax);
  accmag = (int64_t)in_dim * xmax * wmax / 2 + 1;
  for (o = 0; o < out_dim; o++) {
    int64_t s = 0;
    bias[o] = ref_randi(-accmag / 2, accmag / 2);
    for (i = 0; i < in_dim; i++) s += w[o * in_dim + i];
    be[o] = bias[o] - (int64_t)zx * s;
  }
  while ((accmag >> lg) > 1) lg++;
  rq.mode = ref_randi(0, 1) ? TQ_RT_RQ_MULT : TQ_RT_RQ_PO2;
  rq.per_channel = (int32_t)ref_randi(0, 1);
  rq.mult = mult;
  rq.shift = shift;
  rq.out_zp = (int32_t)ref_randi(omin / 4, omax / 4);
  rq.act_min = ref_randi(0, 1) ? omin : rq.out_zp;
  rq.act_max = omax;
  for (i = 0; i < 16; i++) {
    shift[i] = (int8_t)(lg - (c->o16 ? 15 : 7) + 2 + ref_randi(-2, 2));
    if (shift[i] < -31) shift[i] = -31;
    mult[i] = (int32_t)ref_randi(1 << 30, INT32_MAX);
  }
  ref_dense(want, x, w, bias, n, in_dim, out_dim, zx, &rq);
  CHECK_EQ_INT(c->fn(got, x, w, be, n, in_dim, out_dim, &rq), TQ_RT_OK);
  for (i = 0; i < n * out_dim; i++) bad += got[i] != want[i];
  free_n(6, x, w, got, want, bias, be);
  return bad;
}

/* hand-derived: x = [3, -1, 2], z_X = 1 -> (2, -2, 1); W = [[1, 2, 3], [-4, 0, 5]], b = [0, 1]
 * acc = [2 - 4 + 3, -8 + 0 + 5 + 1] = [1, -2]; n = 1: 0.5 -> 1, -1 -> -1; z_Y = 10 -> [11, 9] */
static void test_hand(void) {
  const int8_t x[3] = {3, -1, 2}, w[6] = {1, 2, 3, -4, 0, 5};
  int32_t b[2] = {0, 1};
  const int8_t sh[1] = {1};
  int8_t y[2];
  const tq_rt_requant rq = {TQ_RT_RQ_PO2, 0, NULL, sh, 10, -128, 127};
  CHECK_EQ_INT(tq_rt_fold_bias_s8w(b, b, w, 2, 3, 3, 1, 1), TQ_RT_OK);
  CHECK_EQ_INT(tq_rt_dense_s8_s8w_s8(y, x, w, b, 1, 3, 2, &rq), TQ_RT_OK);
  CHECK_EQ_INT(y[0], 11);
  CHECK_EQ_INT(y[1], 9);
  /* 4-bit, odd total count (6 codes even, but in_dim 3 is odd: row 1 starts on a high nibble) */
  {
    uint8_t w4[3];
    int8_t y4[2];
    CHECK_EQ_INT(tq_rt_pack_s4(w4, w, 6), TQ_RT_OK);
    CHECK_EQ_INT(tq_rt_dense_s8_s4w_s8(y4, x, w4, b, 1, 3, 2, &rq), TQ_RT_OK);
    CHECK(y4[0] == 11 && y4[1] == 9);
  }
  CHECK_EQ_INT(tq_rt_dense_s8_s8w_s8(y, x, w, b, 1, 0, 2, &rq), TQ_RT_ERR_ARG);
}

static void test_golden(void) {
  enum { I = 7, O = 3 };
  int8_t w_oi[O * I];
  int32_t be[O];
  int16_t y[2 * O];
  int i, o;
  const tq_rt_requant rq = {TQ_RT_RQ_PO2, 1, NULL, gold_dense_shift, GOLD_DENSE_ZY, -32767, 32767};
  for (o = 0; o < O; o++)
    for (i = 0; i < I; i++) w_oi[o * I + i] = gold_dense_w_io[i * O + o]; /* Keras IO -> (O,I) */
  CHECK_EQ_INT(tq_rt_fold_bias_s8w(be, gold_dense_bias, w_oi, O, I, I, 1, GOLD_DENSE_ZX), TQ_RT_OK);
  CHECK_EQ_INT(tq_rt_dense_s16_s8w_s16(y, gold_dense_x, w_oi, be, 2, I, O, &rq), TQ_RT_OK);
  for (i = 0; i < 2 * O; i++) CHECK_EQ_INT(y[i], gold_dense_y[i]);
}

/* int64 accumulator with sums beyond int32; multiplier mode on top */
static void test_acc64(void) {
  enum { I = 9 };
  int16_t x[I], w[2 * I];
  int64_t be[2];
  const int64_t b0[2] = {0, 7};
  int16_t y[2];
  const int32_t m[1] = {1518500250}; /* ~ 0.7071 */
  const int8_t sh[1] = {20};
  const tq_rt_requant rq = {TQ_RT_RQ_MULT, 0, m, sh, -3, -32768, 32767};
  int i;
  for (i = 0; i < I; i++) {
    x[i] = (int16_t)(32767 - 1000 * i);
    w[i] = (int16_t)(-32768 + 7 * i);
    w[I + i] = (int16_t)(32767 - 3 * i);
  }
  CHECK_EQ_INT(tq_rt_fold_bias_s16w_acc64(be, b0, w, 2, I, I, 1, 5), TQ_RT_OK);
  CHECK_EQ_INT(tq_rt_dense_s16_s16w_s16_acc64(y, x, w, be, 1, I, 2, &rq), TQ_RT_OK);
  for (i = 0; i < 2; i++) {
    i128 acc = b0[i];
    int j;
    for (j = 0; j < I; j++) acc += (i128)w[i * I + j] * (x[j] - 5);
    CHECK(acc > INT32_MAX || acc < INT32_MIN);
    CHECK_EQ_INT(y[i], ref_requant(acc, 1, m[0], 20, -3, -32768, 32767));
    /* and against the real-valued model: |y - (z + acc * M * 2^-51)| <= 1 */
    CHECK_NEAR(y[i], -3 + (double)acc * m[0] * ldexp(1.0, -51), 1.0);
  }
}

int main(void) {
  int ci, t;
  test_hand();
  test_golden();
  test_acc64();
  for (ci = 0; ci < 24; ci++) {
    int bad = 0;
    for (t = 0; t < 300; t++) bad += random_case(&combos[ci]);
    if (bad) fprintf(stderr, "%s: %d mismatches\n", combos[ci].name, bad);
    CHECK_EQ_INT(bad, 0);
  }
  TEST_MAIN_END();
}
