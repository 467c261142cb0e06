/* Integer runtime: pad (ZeroPadding2D) for s8 and s16 codes, against hand-derived vectors and a naive
 * reference on random geometries; argument errors leave the output untouched. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/runtime_ref.h"
#include "tq_rt.h"
#include "tq_test.h"

/* (1,1,2,1) [5 6] padded top 1, bottom 0, left 1, right 2 with the zero point -3 -> (1,2,5,1). */
static void test_hand(void) {
  const int8_t x[2] = {5, 6};
  const int8_t want[10] = {-3, -3, -3, -3, -3, /* top row */ -3, 5, 6, -3, -3};
  const tq_rt_conv_geom g = {1, 1, 2, 1, 2, 5, 1, 1, 1, 1, 1, 1, 0, 1, 2, 1};
  int8_t y[10];
  int i;
  CHECK_EQ_INT(tq_rt_pad_s8(y, x, &g, -3), TQ_RT_OK);
  for (i = 0; i < 10; i++) CHECK_EQ_INT(y[i], want[i]);
  /* 16-bit codes, two channels, two samples: (2,1,1,2) padded 1 on every side -> (2,3,3,2) */
  {
    const int16_t x16[4] = {-32768, 32767, 1000, -1000};
    const tq_rt_conv_geom g16 = {2, 1, 1, 2, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    int16_t y16[36];
    CHECK_EQ_INT(tq_rt_pad_s16(y16, x16, &g16, 12345), TQ_RT_OK);
    for (i = 0; i < 36; i++) {
      const int s = i / 18, pix = (i % 18) / 2, c = i % 2;
      CHECK_EQ_INT(y16[i], pix == 4 ? x16[s * 2 + c] : 12345);
    }
  }
}

/* The geometry is checked (out = in + pads, out_c = in_c), and so is the value's range. */
static void test_errors(void) {
  const int8_t x[2] = {5, 6};
  const tq_rt_conv_geom g = {1, 1, 2, 1, 2, 5, 1, 1, 1, 1, 1, 1, 0, 1, 2, 1};
  tq_rt_conv_geom bad = g;
  int8_t y[10];
  memset(y, 99, sizeof y);
  bad.out_w = 4;
  CHECK_EQ_INT(tq_rt_pad_s8(y, x, &bad, 0), TQ_RT_ERR_ARG);
  bad = g;
  bad.out_c = 2;
  CHECK_EQ_INT(tq_rt_pad_s8(y, x, &bad, 0), TQ_RT_ERR_ARG);
  bad = g;
  bad.pad_left = -1;
  CHECK_EQ_INT(tq_rt_pad_s8(y, x, &bad, 0), TQ_RT_ERR_ARG);
  CHECK_EQ_INT(tq_rt_pad_s8(y, x, &g, 128), TQ_RT_ERR_ARG);
  CHECK_EQ_INT(tq_rt_pad_s8(y, NULL, &g, 0), TQ_RT_ERR_ARG);
  CHECK_EQ_INT(tq_rt_pad_s8(y, x, NULL, 0), TQ_RT_ERR_ARG);
  CHECK_EQ_INT(y[0], 99);
  CHECK_EQ_INT(tq_rt_pad_s16((int16_t *)y, (const int16_t *)x, &g, -32769), TQ_RT_ERR_ARG);
}

/* Random geometries (including no padding at all) against a naive reference. */
static void test_random(void) {
  int t, bad = 0;
  for (t = 0; t < 500; t++) {
    const int32_t ih = (int32_t)ref_randi(1, 6), iw = (int32_t)ref_randi(1, 6);
    const int32_t pt = (int32_t)ref_randi(0, 3), pb = (int32_t)ref_randi(0, 3);
    const int32_t pl = (int32_t)ref_randi(0, 3), pr = (int32_t)ref_randi(0, 3);
    const int32_t c = (int32_t)ref_randi(1, 5), n = (int32_t)ref_randi(1, 3);
    const tq_rt_conv_geom g = {n, ih, iw, c, ih + pt + pb, iw + pl + pr, c, 1, 1, 1, 1,
                               pt, pb, pl, pr, 1};
    int16_t *x, *y;
    int8_t *x8, *y8;
    int32_t value;
    size_t nx, ny, i;
    int b, h, w, k;
    nx = (size_t)g.n * g.in_h * g.in_w * g.in_c;
    ny = (size_t)g.n * g.out_h * g.out_w * g.out_c;
    x = malloc(nx * sizeof *x);
    y = malloc(ny * sizeof *y);
    x8 = malloc(nx);
    y8 = malloc(ny);
    value = (int32_t)ref_randi(-128, 127);
    for (i = 0; i < nx; i++) {
      x[i] = (int16_t)ref_randi(-32768, 32767);
      x8[i] = (int8_t)x[i];
    }
    CHECK_EQ_INT(tq_rt_pad_s16(y, x, &g, value * 200), TQ_RT_OK);
    CHECK_EQ_INT(tq_rt_pad_s8(y8, x8, &g, value), TQ_RT_OK);
    i = 0;
    for (b = 0; b < g.n; b++)
      for (h = 0; h < g.out_h; h++)
        for (w = 0; w < g.out_w; w++)
          for (k = 0; k < g.out_c; k++, i++) {
            const int y_ = h - g.pad_top, x_ = w - g.pad_left;
            const int inside = y_ >= 0 && y_ < g.in_h && x_ >= 0 && x_ < g.in_w;
            const size_t src = (((size_t)b * g.in_h + y_) * g.in_w + x_) * g.in_c + k;
            bad += y[i] != (inside ? x[src] : value * 200);
            bad += y8[i] != (inside ? x8[src] : value);
          }
    free(x);
    free(y);
    free(x8);
    free(y8);
  }
  CHECK_EQ_INT(bad, 0);
}

int main(void) {
  test_hand();
  test_errors();
  test_random();
  TEST_MAIN_END();
}
