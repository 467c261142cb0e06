/* Conv2D and DepthwiseConv2D: TF 'same'/'valid' geometry, hand-computed outputs, the fast im2col+GEMM
 * path against the plain-loop reference, every gradient against central finite differences, and
 * bit-identical results for 1 and 2 threads. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "tinyq/kernels.h"
#include "kernel_test_util.h"
#include "tq_test.h"

/* ---- helpers */

static float *copy_of(const float *x, size_t n) {
  float *p = tq_alloc_floats(n);
  TQ_ASSERT(p);
  memcpy(p, x, n * sizeof(float));
  return p;
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
  return m;
}


/* ---- geometry */

static void test_shape_init(void) {
  tq_conv_shape s;
  /* stride 2 'same', even input: out 2, pad_total 1, all of it at the bottom/right */
  CHECK(tq_conv_shape_init(&s, 1, 4, 4, 1, 3, 3, 2, 2, 1, TQ_PAD_SAME) == TQ_OK);
  CHECK_EQ_INT(s.oh, 2);
  CHECK_EQ_INT(s.ow, 2);
  CHECK_EQ_INT(s.pad_top, 0);
  CHECK_EQ_INT(s.pad_left, 0);
  /* odd input: out 3, pad_total 2, one each side */
  CHECK(tq_conv_shape_init(&s, 1, 5, 5, 1, 3, 3, 2, 2, 1, TQ_PAD_SAME) == TQ_OK);
  CHECK_EQ_INT(s.oh, 3);
  CHECK_EQ_INT(s.pad_top, 1);
  /* DS-CNN first layer: 49x10, 10x4 kernel, stride 2: out 25x5, pad 9 (4 top) x 2 (1 left) */
  CHECK(tq_conv_shape_init(&s, 1, 49, 10, 1, 10, 4, 2, 2, 64, TQ_PAD_SAME) == TQ_OK);
  CHECK_EQ_INT(s.oh, 25);
  CHECK_EQ_INT(s.ow, 5);
  CHECK_EQ_INT(s.pad_top, 4);
  CHECK_EQ_INT(s.pad_left, 1);
  CHECK(tq_conv_shape_init(&s, 1, 49, 10, 1, 10, 4, 2, 2, 64, TQ_PAD_VALID) == TQ_OK);
  CHECK_EQ_INT(s.oh, 20);
  CHECK_EQ_INT(s.ow, 4);
  CHECK_EQ_INT(s.pad_top, 0);
  /* stride larger than kernel: 'same' padding clamps at 0 */
  CHECK(tq_conv_shape_init(&s, 1, 4, 4, 1, 1, 1, 2, 2, 1, TQ_PAD_SAME) == TQ_OK);
  CHECK_EQ_INT(s.oh, 2);
  CHECK_EQ_INT(s.pad_top, 0);
  /* errors: kernel larger than a 'valid' input, non-positive sizes */
  CHECK(tq_conv_shape_init(&s, 1, 3, 3, 1, 5, 5, 1, 1, 1, TQ_PAD_VALID) == TQ_ERR_ARG);
  CHECK(tq_conv_shape_init(&s, 0, 3, 3, 1, 1, 1, 1, 1, 1, TQ_PAD_VALID) == TQ_ERR_ARG);
  CHECK(tq_conv_shape_init(&s, 1, 3, 3, 1, 3, 3, 0, 1, 1, TQ_PAD_SAME) == TQ_ERR_ARG);
}

/* ---- hand-computed conv outputs */

static void run_conv(float *out, const float *in, const float *w, const float *b, const tq_conv_shape *s) {
  float *scratch = tq_alloc_floats(tq_conv2d_scratch_floats(s));
  tq_conv2d_forward(out, in, w, b, s, scratch);
  tq_free(scratch);
}

static void test_conv_hand(void) {
  tq_conv_shape s;
  float in[16], out[9], ref[9];
  for (int i = 0; i < 16; i++) in[i] = (float)(i + 1);

  /* 3x3 'same' on the 3x3 input 1..9 with kernel w[ky][kx] = 1..9 (cross-correlation, as TF):
   * out(1,1) = 1*1 + 2*2 + ... + 9*9 = 285; out(0,0) = 1*5 + 2*6 + 4*8 + 5*9 = 94 */
  float w[9];
  for (int i = 0; i < 9; i++) w[i] = (float)(i + 1);
  float bias = 0.5f;
  CHECK(tq_conv_shape_init(&s, 1, 3, 3, 1, 3, 3, 1, 1, 1, TQ_PAD_SAME) == TQ_OK);
  run_conv(out, in, w, &bias, &s);
  CHECK_NEAR(out[4], 285.5, 1e-4);
  CHECK_NEAR(out[0], 94.5, 1e-4);
  /* out(0,2) = in(0,1)*w(1,0) + in(0,2)*w(1,1) + in(1,1)*w(2,0) + in(1,2)*w(2,1) = 8+15+35+48 */
  CHECK_NEAR(out[2], 106.5, 1e-4);
  tq_conv2d_forward_ref(ref, in, w, &bias, &s);
  CHECK(max_abs_diff(out, ref, 9) == 0.0);

  /* all-ones kernel: each output is its neighbourhood sum */
  for (int i = 0; i < 9; i++) w[i] = 1.0f;
  run_conv(out, in, w, NULL, &s);
  const float sums[9] = {12, 21, 16, 27, 45, 33, 24, 39, 28};
  for (int i = 0; i < 9; i++) CHECK_NEAR(out[i], sums[i], 1e-4);

  /* stride 2 'same' on 4x4 (1..16): windows start at rows/cols 0 and 2, padding only after */
  CHECK(tq_conv_shape_init(&s, 1, 4, 4, 1, 3, 3, 2, 2, 1, TQ_PAD_SAME) == TQ_OK);
  run_conv(out, in, w, NULL, &s);
  CHECK_NEAR(out[0], 1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11, 1e-4);
  CHECK_NEAR(out[1], 3 + 4 + 7 + 8 + 11 + 12, 1e-4);
  CHECK_NEAR(out[2], 9 + 10 + 11 + 13 + 14 + 15, 1e-4);
  CHECK_NEAR(out[3], 11 + 12 + 15 + 16, 1e-4);

  /* HWIO indexing: 1x1 kernel (C=2, OC=2) = [[1,2],[3,4]] on the pixel [1,2] gives [7,10] */
  const float px[2] = {1, 2}, wk[4] = {1, 2, 3, 4}, b2[2] = {0.25f, -1.0f};
  CHECK(tq_conv_shape_init(&s, 1, 1, 1, 2, 1, 1, 1, 1, 2, TQ_PAD_VALID) == TQ_OK);
  run_conv(out, px, wk, b2, &s);
  CHECK_NEAR(out[0], 7.25, 1e-6);
  CHECK_NEAR(out[1], 9.0, 1e-6);
}

/* ---- fast vs reference, finite differences, determinism */

typedef struct {
  tq_conv_shape s;
  float *in, *w, *b, *out, *dout, *scratch;
  size_t n_in, n_w, n_out, n_scratch; /* scratch has 16 guard floats after n_scratch */
  int depthwise;
} conv_case;

static double conv_objective(void *ctx) {
  conv_case *k = ctx;
  if (k->depthwise)
    tq_depthwise_forward(k->out, k->in, k->w, k->b, &k->s);
  else
    tq_conv2d_forward(k->out, k->in, k->w, k->b, &k->s, k->scratch);
  return dot(k->out, k->dout, k->n_out);
}

static void conv_case_init(conv_case *k, tq_rng *r, int n, int h, int w, int c, int kh, int kw, int sh,
                           int sw, int oc, tq_padding pad, int depthwise) {
  memset(k, 0, sizeof *k);
  TQ_ASSERT(tq_conv_shape_init(&k->s, n, h, w, c, kh, kw, sh, sw, oc, pad) == TQ_OK);
  k->depthwise = depthwise;
  k->n_in = (size_t)n * h * w * c;
  k->n_w = (size_t)kh * kw * oc * (depthwise ? 1 : c);
  k->n_out = (size_t)n * k->s.oh * k->s.ow * oc;
  k->in = randn(r, k->n_in, 1.0f);
  k->w = randn(r, k->n_w, 0.5f);
  k->b = randn(r, (size_t)oc, 0.5f);
  k->out = tq_alloc_floats(k->n_out);
  k->dout = randn(r, k->n_out, 1.0f);
  if (!depthwise) {
    k->n_scratch = tq_conv2d_scratch_floats(&k->s);
    k->scratch = tq_alloc_floats(k->n_scratch + 16);
    for (int i = 0; i < 16; i++) k->scratch[k->n_scratch + i] = 12345.0f;
  }
}

/* The kernels stay inside the scratch size they ask for. */
static int scratch_guard_ok(const conv_case *k) {
  for (int i = 0; i < 16 && k->scratch; i++)
    if (k->scratch[k->n_scratch + i] != 12345.0f) return 0;
  return 1;
}

static void conv_case_free(conv_case *k) {
  tq_free(k->in), tq_free(k->w), tq_free(k->b), tq_free(k->out), tq_free(k->dout), tq_free(k->scratch);
}

/* Plain-loop depthwise reference: the definition, written independently of the kernel. */
static void depthwise_ref(float *out, const float *in, const float *w, const float *b,
                          const tq_conv_shape *s) {
  const int M = s->oc / s->c;
  for (int n = 0; n < s->n; n++)
    for (int oy = 0; oy < s->oh; oy++)
      for (int ox = 0; ox < s->ow; ox++)
        for (int c = 0; c < s->c; c++)
          for (int m = 0; m < M; m++) {
            double acc = b ? b[c * M + m] : 0.0;
            for (int ky = 0; ky < s->kh; ky++)
              for (int kx = 0; kx < s->kw; kx++) {
                int iy = oy * s->sh - s->pad_top + ky, ix = ox * s->sw - s->pad_left + kx;
                if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) continue;
                acc += (double)in[(((size_t)n * s->h + iy) * s->w + ix) * s->c + c] *
                       w[(((size_t)ky * s->kw + kx) * s->c + c) * M + m];
              }
            out[(((size_t)n * s->oh + oy) * s->ow + ox) * s->oc + c * M + m] = (float)acc;
          }
}

/* Plain-loop depthwise backward reference: din overwritten, dw and db overwritten (not accumulated). */
static void depthwise_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                                   const float *w, const tq_conv_shape *s) {
  const int M = s->oc / s->c;
  const size_t n_in = (size_t)s->n * s->h * s->w * s->c, n_w = (size_t)s->kh * s->kw * s->oc;
  double *din_d = calloc(n_in, sizeof(double)), *dw_d = calloc(n_w, sizeof(double)),
         *db_d = calloc((size_t)s->oc, sizeof(double));
  CHECK(din_d && dw_d && db_d);
  for (int n = 0; n < s->n; n++)
    for (int oy = 0; oy < s->oh; oy++)
      for (int ox = 0; ox < s->ow; ox++)
        for (int o = 0; o < s->oc; o++) {
          const double g = dout[(((size_t)n * s->oh + oy) * s->ow + ox) * s->oc + o];
          db_d[o] += g;
          for (int ky = 0; ky < s->kh; ky++)
            for (int kx = 0; kx < s->kw; kx++) {
              int iy = oy * s->sh - s->pad_top + ky, ix = ox * s->sw - s->pad_left + kx;
              if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) continue;
              size_t i = (((size_t)n * s->h + iy) * s->w + ix) * s->c + o / M, k = ((size_t)ky * s->kw + kx) * s->oc + o;
              din_d[i] += g * w[k];
              dw_d[k] += g * in[i];
            }
        }
  for (size_t i = 0; i < n_in; i++) din[i] = (float)din_d[i];
  for (size_t i = 0; i < n_w; i++) dw[i] = (float)dw_d[i];
  for (int o = 0; o < s->oc; o++) db[o] = (float)db_d[o];
  free(din_d), free(dw_d), free(db_d);
}

/* Runs backward (fast) with dw/db starting from non-zero values, so accumulation is tested too. */
static void conv_backward(conv_case *k, float *din, float *dw, float *db) {
  if (k->depthwise)
    tq_depthwise_backward(din, dw, db, k->dout, k->in, k->w, &k->s);
  else
    tq_conv2d_backward(din, dw, db, k->dout, k->in, k->w, &k->s, k->scratch);
}

static void test_conv_case(const char *name, int n, int h, int w, int c, int kh, int kw, int sh, int sw,
                           int oc, tq_padding pad, int depthwise, int check_fd) {
  tq_rng r;
  tq_rng_seed(&r, 1234 + (uint64_t)h * 31 + (uint64_t)oc * 7 + (uint64_t)kh);
  conv_case k;
  conv_case_init(&k, &r, n, h, w, c, kh, kw, sh, sw, oc, pad, depthwise);
  const size_t noc = (size_t)oc;

  /* forward: fast vs reference */
  float *ref = tq_alloc_floats(k.n_out);
  conv_objective(&k);
  if (depthwise)
    depthwise_ref(ref, k.in, k.w, k.b, &k.s);
  else
    tq_conv2d_forward_ref(ref, k.in, k.w, k.b, &k.s);
  double scale = 1.0 + sqrt((double)kh * kw * (depthwise ? 1 : c));
  if (max_abs_diff(k.out, ref, k.n_out) > 1e-5 * scale) {
    fprintf(stderr, "%s: forward differs from reference by %g\n", name, max_abs_diff(k.out, ref, k.n_out));
    tq_test_failures++;
  }

  /* backward; dw/db start at 1 to check that they accumulate */
  float *din = tq_alloc_floats(k.n_in), *dw = tq_alloc_floats(k.n_w), *db = tq_alloc_floats(noc);
  for (size_t i = 0; i < k.n_w; i++) dw[i] = 1.0f;
  for (size_t i = 0; i < noc; i++) db[i] = 1.0f;
  for (size_t i = 0; i < k.n_in; i++) din[i] = 1e9f; /* must be overwritten */
  conv_backward(&k, din, dw, db);
  for (size_t i = 0; i < k.n_w; i++) dw[i] -= 1.0f;
  for (size_t i = 0; i < noc; i++) db[i] -= 1.0f;

  {
    float *din_r = tq_alloc_floats(k.n_in), *dw_r = tq_alloc_floats(k.n_w), *db_r = tq_alloc_floats(noc);
    if (depthwise)
      depthwise_backward_ref(din_r, dw_r, db_r, k.dout, k.in, k.w, &k.s);
    else
      tq_conv2d_backward_ref(din_r, dw_r, db_r, k.dout, k.in, k.w, &k.s);
    double tol = 1e-5 * (1.0 + sqrt((double)k.n_out / oc)) * 4;
    if (max_abs_diff(din, din_r, k.n_in) > 1e-5 * scale * 4 || max_abs_diff(dw, dw_r, k.n_w) > tol ||
        max_abs_diff(db, db_r, noc) > tol) {
      fprintf(stderr, "%s: backward differs from reference: din %g dw %g db %g\n", name,
              max_abs_diff(din, din_r, k.n_in), max_abs_diff(dw, dw_r, k.n_w), max_abs_diff(db, db_r, noc));
      tq_test_failures++;
    }
    tq_free(din_r), tq_free(dw_r), tq_free(db_r);
  }

  if (check_fd) {
    char what[128];
    snprintf(what, sizeof what, "%s din", name);
    check_grad(what, k.in, din, k.n_in, conv_objective, &k, 1e-2f);
    snprintf(what, sizeof what, "%s dw", name);
    check_grad(what, k.w, dw, k.n_w, conv_objective, &k, 1e-2f);
    snprintf(what, sizeof what, "%s db", name);
    check_grad(what, k.b, db, noc, conv_objective, &k, 1e-2f);
  }

  /* NULL gradients are skipped and do not disturb the others */
  float *dw2 = tq_alloc_floats(k.n_w);
  conv_backward(&k, NULL, dw2, NULL);
  if (max_abs_diff(dw, dw2, k.n_w) > 1e-4 * scale) {
    fprintf(stderr, "%s: dw alone differs\n", name);
    tq_test_failures++;
  }
  float *din2 = tq_alloc_floats(k.n_in);
  conv_backward(&k, din2, NULL, NULL);
  CHECK(max_abs_diff(din, din2, k.n_in) == 0.0);

  /* determinism: 1 thread and 2 threads give bit-identical forward and backward */
  int threads = omp_get_max_threads();
  float *out1 = copy_of(k.out, k.n_out), *din1 = tq_alloc_floats(k.n_in), *dw1 = tq_alloc_floats(k.n_w);
  float *dinb = tq_alloc_floats(k.n_in), *dwb = tq_alloc_floats(k.n_w);
  omp_set_num_threads(1);
  conv_objective(&k);
  memcpy(out1, k.out, k.n_out * sizeof(float));
  conv_backward(&k, din1, dw1, NULL);
  omp_set_num_threads(2);
  conv_objective(&k);
  conv_backward(&k, dinb, dwb, NULL);
  omp_set_num_threads(threads);
  if (memcmp(out1, k.out, k.n_out * sizeof(float)) || memcmp(din1, dinb, k.n_in * sizeof(float)) ||
      memcmp(dw1, dwb, k.n_w * sizeof(float))) {
    fprintf(stderr, "%s: results differ between 1 and 2 threads\n", name);
    tq_test_failures++;
  }

  if (!scratch_guard_ok(&k)) {
    fprintf(stderr, "%s: wrote past the scratch size\n", name);
    tq_test_failures++;
  }
  tq_free(out1), tq_free(din1), tq_free(dw1), tq_free(dinb), tq_free(dwb), tq_free(din2), tq_free(dw2);
  tq_free(ref), tq_free(din), tq_free(dw), tq_free(db);
  conv_case_free(&k);
}

static void test_conv_cases(void) {
  /* clang-format off */
  /* name, then n, h, w, c, kh, kw, sh, sw, oc, padding, depthwise?, finite differences? */
  test_conv_case("3x3 same",                2,  5,  5,  3,  3,  3,  1,  1,  4, TQ_PAD_SAME,  0, 1);
  test_conv_case("3x3 s2 same odd",         2,  7,  5,  2,  3,  3,  2,  2,  5, TQ_PAD_SAME,  0, 1);
  test_conv_case("3x3 s2 same even",        2,  8,  6,  3,  3,  3,  2,  2,  4, TQ_PAD_SAME,  0, 1);
  test_conv_case("3x3 valid",               2,  6,  7,  3,  3,  3,  1,  1,  2, TQ_PAD_VALID, 0, 1);
  test_conv_case("1x1",                     2,  4,  5,  4,  1,  1,  1,  1,  6, TQ_PAD_SAME,  0, 1);
  test_conv_case("1x1 s2",                  2,  5,  6,  4,  1,  1,  2,  2,  3, TQ_PAD_SAME,  0, 1);
  test_conv_case("10x4 s2 same (DS-CNN)",   2, 13,  7,  1, 10,  4,  2,  2,  5, TQ_PAD_SAME,  0, 1);
  test_conv_case("10x4 s2 valid",           2, 13,  7,  2, 10,  4,  2,  2,  3, TQ_PAD_VALID, 0, 1);
  test_conv_case("2x3 s(1,2) valid",        3,  5,  8,  2,  2,  3,  1,  2,  3, TQ_PAD_VALID, 0, 1);
  test_conv_case("5x3 s(2,1) same",         2,  6,  5,  2,  5,  3,  2,  1,  3, TQ_PAD_SAME,  0, 1);
  /* OC a multiple of 16: the direct kernel (and, with C a multiple of 16, for the stride-1 din) */
  test_conv_case("direct 3x3 same",         2,  5,  5,  3,  3,  3,  1,  1, 16, TQ_PAD_SAME,  0, 1);
  test_conv_case("direct 3x3 s2 c16",       2,  7,  6, 16,  3,  3,  2,  2, 32, TQ_PAD_SAME,  0, 1);
  test_conv_case("direct valid c16",        2,  6,  7, 16,  3,  3,  1,  1, 16, TQ_PAD_VALID, 0, 1);
  test_conv_case("direct 1x1 c16",          3,  4,  5, 16,  1,  1,  1,  1, 16, TQ_PAD_SAME,  0, 1);
  test_conv_case("direct 10x4 s2",          2, 13,  7,  1, 10,  4,  2,  2, 16, TQ_PAD_SAME,  0, 1);
  test_conv_case("direct 2x3 s(1,2)",       2,  5,  8, 32,  2,  3,  1,  2, 16, TQ_PAD_VALID, 0, 1);
  test_conv_case("direct 4x4 same even",    1,  6,  6, 16,  4,  4,  1,  1, 48, TQ_PAD_SAME,  0, 1);
  test_conv_case("direct 1x1 s2 c32",       2,  7,  6, 32,  1,  1,  2,  2, 16, TQ_PAD_SAME,  0, 1);
  test_conv_case("direct 5x3 s(2,1) c16",   2,  9,  6, 16,  5,  3,  2,  1, 16, TQ_PAD_VALID, 0, 1);
  test_conv_case("direct s2 big",          20, 16, 16, 16,  3,  3,  2,  2, 32, TQ_PAD_SAME,  0, 0);
  /* dw tile heights that divide K (16, 12, 8 rows; a short last tile otherwise), MobileNet's pointwise */
  test_conv_case("direct dw 1x1 c8 (8 rows)",  3,  7,  9,  8,  1,  1,  1,  1, 16, TQ_PAD_SAME,  0, 1);
  test_conv_case("direct dw 1x1 c48 (16)",     2,  5,  7, 48,  1,  1,  1,  1, 32, TQ_PAD_SAME,  0, 1);
  test_conv_case("direct dw 1x1 c40 (8)",      2,  6,  5, 40,  1,  1,  1,  1, 16, TQ_PAD_SAME,  0, 0);
  test_conv_case("direct dw 1x1 c20 (short)",  2,  6,  5, 20,  1,  1,  1,  1, 16, TQ_PAD_SAME,  0, 0);
  test_conv_case("direct pointwise big",      11, 13, 13,  8,  1,  1,  1,  1, 16, TQ_PAD_SAME,  0, 0);
  /* OC a multiple of 8 only, few input channels: the 8-column direct forward (MobileNet's first conv) */
  test_conv_case("direct8 3x3 s2 c3",       2,  9, 11,  3,  3,  3,  2,  2,  8, TQ_PAD_SAME,  0, 1);
  test_conv_case("direct8 oc24 valid",      2,  7,  6,  2,  3,  2,  1,  1, 24, TQ_PAD_VALID, 0, 1);
  test_conv_case("direct8 big",            13, 17, 15,  3,  3,  3,  2,  2,  8, TQ_PAD_SAME,  0, 0);
  /* rows of 24+ outputs: 24-pixel row tiles (3 channels, windows 6 or 3 floats apart) beside pieces */
  test_conv_case("direct8 row tiles s2",    2,  7, 50,  3,  3,  3,  2,  2,  8, TQ_PAD_SAME,  0, 1);
  /* direct dw with few tiles (fewer than 32) and at least 4 x 48 pixels: summed in 4 pixel lanes */
  /* two 16-column panels per tile on AVX-512 (test_panel_pairs_bits): a pair and a single, pairs over taps */
  test_conv_case("panel pairs 1x1 c24 oc48",  3,  5,  6, 24,  1,  1,  1,  1, 48, TQ_PAD_SAME,  0, 1);
  test_conv_case("panel pairs 3x3 c8 oc32",   2,  6,  5,  8,  3,  3,  1,  1, 32, TQ_PAD_SAME,  0, 1);
  test_conv_case("dw lanes 1x1 8->16",      4,  8,  9,  8,  1,  1,  1,  1, 16, TQ_PAD_SAME,  0, 0);
  test_conv_case("dw lanes 3x3 16->32",     2, 11,  9, 16,  3,  3,  1,  1, 32, TQ_PAD_SAME,  0, 0);
  test_conv_case("dw lanes stem s2 3->8",   2, 24, 19,  3,  3,  3,  2,  2,  8, TQ_PAD_SAME,  0, 0);
  test_conv_case("dw lanes, short lanes",   1,  7, 29, 16,  1,  1,  1,  1, 32, TQ_PAD_VALID, 0, 1);
  test_conv_case("direct8 row tiles s1",    2,  4, 30,  3,  3,  3,  1,  1, 24, TQ_PAD_SAME,  0, 0);
  test_conv_case("direct8 row tiles 96",    3, 12, 96,  3,  3,  3,  2,  2,  8, TQ_PAD_SAME,  0, 0);
  /* bigger: several im2col chunks per lane, chunks crossing images, more images than lanes,
   * many direct tiles per thread */
  test_conv_case("gemm 16x16x8",           20, 16, 16,  8,  3,  3,  1,  1,  8, TQ_PAD_SAME,  0, 0);
  test_conv_case("direct 32x32x16",         3, 32, 32, 16,  3,  3,  1,  1, 16, TQ_PAD_SAME,  0, 0);
  /* stride-1 3x3 'same' with C and OC multiples of 16 and even sizes: din by Winograd F(2x2, 3x3) */
  test_conv_case("winograd din 16->32",     2,  4,  6, 16,  3,  3,  1,  1, 32, TQ_PAD_SAME,  0, 1);
  test_conv_case("winograd din 32->16",     3,  6,  4, 32,  3,  3,  1,  1, 16, TQ_PAD_SAME,  0, 0);
  test_conv_case("winograd din 64->64",     2,  8,  8, 64,  3,  3,  1,  1, 64, TQ_PAD_SAME,  0, 0);
  test_conv_case("1x1 s2, gemm din",       17, 12, 12,  8,  1,  1,  2,  2, 16, TQ_PAD_SAME,  0, 0);
  test_conv_case("gemm pointwise",         18,  9,  9, 16,  1,  1,  1,  1, 24, TQ_PAD_VALID, 0, 0);
  /* depthwise, multiplier 1 and 2; 64/32/8-channel register blocks and scalar tails; several
   * 32-channel dw groups */
  test_conv_case("dw 3x3 same m1",          2,  5,  5,  3,  3,  3,  1,  1,  3, TQ_PAD_SAME,  1, 1);
  test_conv_case("dw 3x3 s2 same m2",       2,  7,  6,  3,  3,  3,  2,  2,  6, TQ_PAD_SAME,  1, 1);
  test_conv_case("dw 3x3 valid m2",         2,  6,  5,  2,  3,  3,  1,  1,  4, TQ_PAD_VALID, 1, 1);
  test_conv_case("dw 2x3 s(2,1) m1",        2,  6,  7,  4,  2,  3,  2,  1,  4, TQ_PAD_SAME,  1, 1);
  test_conv_case("dw 40 ch m1",             3,  6,  6, 40,  3,  3,  1,  1, 40, TQ_PAD_SAME,  1, 1);
  test_conv_case("dw 20 ch m2",             2,  5,  5, 20,  3,  3,  2,  2, 40, TQ_PAD_SAME,  1, 1);
  test_conv_case("dw 72 ch s2 m1",          2,  7,  6, 72,  3,  3,  2,  2, 72, TQ_PAD_SAME,  1, 1);
  test_conv_case("dw 33 ch valid m1",       2,  6,  5, 33,  3,  3,  1,  1, 33, TQ_PAD_VALID, 1, 1);
  test_conv_case("dw 64 ch 5x5 m1",         2,  9,  7, 64,  5,  5,  1,  1, 64, TQ_PAD_SAME,  1, 1);
  test_conv_case("dw big",                 16, 25,  5, 64,  3,  3,  1,  1, 64, TQ_PAD_SAME,  1, 0);
  /* sliding blocks (8, 4, 2 pixels x 8 channels): MobileNet's narrow rows, stride 1 and 2 (din by
   * column phase), odd widths, channel tails, windows narrower than 3 and taller than wide */
  test_conv_case("dw slide c8 s1",          2,  9, 21,  8,  3,  3,  1,  1,  8, TQ_PAD_SAME,  1, 1);
  test_conv_case("dw slide c16 s2 even",    2, 12, 22, 16,  3,  3,  2,  2, 16, TQ_PAD_SAME,  1, 1);
  test_conv_case("dw slide c16 s2 odd",     2, 11, 23, 16,  3,  3,  2,  2, 16, TQ_PAD_SAME,  1, 0);
  test_conv_case("dw slide c24 valid s2",   2,  9, 19, 24,  3,  3,  2,  2, 24, TQ_PAD_VALID, 1, 0);
  test_conv_case("dw slide c13 s1",         2,  7, 17, 13,  3,  3,  1,  1, 13, TQ_PAD_SAME,  1, 1);
  test_conv_case("dw slide c32 s(1,2)",     3,  8, 20, 32,  3,  3,  1,  2, 32, TQ_PAD_SAME,  1, 0);
  test_conv_case("dw slide c8 5x2",         2, 10, 18,  8,  5,  2,  1,  1,  8, TQ_PAD_SAME,  1, 0);
  test_conv_case("dw slide c40 1x3 s2",     2,  6, 25, 40,  1,  3,  2,  2, 40, TQ_PAD_SAME,  1, 0);
  test_conv_case("dw slide c8 m2",          2,  6, 20,  8,  3,  3,  1,  1, 16, TQ_PAD_SAME,  1, 0);
  /* clang-format on */
}

/* The training forward's Winograd F(2x2, 3x3) path (3x3 stride-1 'same', C and OC multiples of 16,
 * even output sizes): against the reference within the direct path's tolerance, with and without a
 * bias, blocks of tiles that cross rows and images and a short last block, the same bits for 1 and 2
 * threads, inside its scratch; shapes it does not take give tq_conv2d_forward's bits. */
static void winograd_case(const char *name, int n, int h, int w, int c, int oc, int with_bias, int eligible) {
  tq_rng r;
  tq_rng_seed(&r, 99 + (uint64_t)h * 13 + (uint64_t)c * 5 + (uint64_t)oc);
  conv_case k;
  conv_case_init(&k, &r, n, h, w, c, 3, 3, 1, 1, oc, TQ_PAD_SAME, 0);
  const float *b = with_bias ? k.b : NULL;
  float *ref = tq_alloc_floats(k.n_out), *direct = tq_alloc_floats(k.n_out), *one = tq_alloc_floats(k.n_out);
  tq_conv2d_forward_ref(ref, k.in, k.w, b, &k.s);
  tq_conv2d_forward(direct, k.in, k.w, b, &k.s, k.scratch);
  for (size_t i = 0; i < k.n_out; i++) k.out[i] = NAN;
  tq_conv2d_forward_train(k.out, k.in, k.w, b, &k.s, k.scratch);
  double scale = 1.0 + sqrt(9.0 * c), d = max_abs_diff(k.out, ref, k.n_out);
  if (!(d <= 1e-5 * scale)) {
    fprintf(stderr, "winograd %s: differs from the reference by %g\n", name, d);
    tq_test_failures++;
  }
  /* eligible shapes round differently from the direct sum somewhere; the others not at all */
  int same = memcmp(k.out, direct, k.n_out * sizeof(float)) == 0;
  if (same == eligible) {
    fprintf(stderr, "winograd %s: %s the direct path's bits\n", name, same ? "has" : "does not have");
    tq_test_failures++;
  }
  int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  tq_conv2d_forward_train(one, k.in, k.w, b, &k.s, k.scratch);
  omp_set_num_threads(2);
  tq_conv2d_forward_train(k.out, k.in, k.w, b, &k.s, k.scratch);
  omp_set_num_threads(threads);
  if (memcmp(one, k.out, k.n_out * sizeof(float))) {
    fprintf(stderr, "winograd %s: 1 and 2 threads differ\n", name);
    tq_test_failures++;
  }
  if (!scratch_guard_ok(&k)) {
    fprintf(stderr, "winograd %s: wrote past the scratch size\n", name);
    tq_test_failures++;
  }
  tq_free(ref), tq_free(direct), tq_free(one);
  conv_case_free(&k);
}

static void test_winograd(void) {
  /* name, n, h, w, c, oc, bias?, taken by the Winograd path? */
  winograd_case("16->32 8x6", 3, 8, 6, 16, 32, 1, 1);
  winograd_case("32->16 4x4 no bias", 2, 4, 4, 32, 16, 0, 1);
  winograd_case("64->48 6x10", 5, 6, 10, 64, 48, 1, 1);
  winograd_case("128->16 2x2", 1, 2, 2, 128, 16, 1, 1);
  winograd_case("48->16 8x8 (C not unrolled)", 2, 8, 8, 48, 16, 1, 1);
  winograd_case("ResNet-8 32x32x16", 2, 32, 32, 16, 16, 1, 1);
  winograd_case("odd 5x5: direct", 2, 5, 5, 16, 16, 1, 0);
  winograd_case("C 8: direct", 2, 8, 8, 8, 16, 1, 0);
  winograd_case("C 256: direct", 1, 4, 4, 256, 16, 1, 0);
}

/* The training forward that also gathers a batch norm's statistics of its output: the output has
 * tq_conv2d_forward_train's bits, the statistics tq_batchnorm_stats' bits (computed group by group
 * inside the direct path, after it elsewhere), the same for 1 and 2 threads, inside the scratch. */
static void forward_stats_case(const char *name, int n, int h, int w, int c, int k, int stride, int oc) {
  tq_rng r;
  tq_rng_seed(&r, 7 + (uint64_t)h * 31 + (uint64_t)c * 3 + (uint64_t)oc);
  conv_case kc;
  conv_case_init(&kc, &r, n, h, w, c, k, k, stride, stride, oc, TQ_PAD_SAME, 0);
  const int rows = n * kc.s.oh * kc.s.ow;
  const int gr = tq_batchnorm_stats_group_rows(rows);
  const size_t ns = (size_t)3 * oc * ((rows + gr - 1) / gr); /* the groups' floats */
  CHECK(gr % 24 == 0 && ns <= tq_batchnorm_stats_floats(rows, oc));
  float *plain = tq_alloc_floats(kc.n_out), *want = tq_alloc_floats(ns), *got = tq_alloc_floats(ns + 1),
        *one = tq_alloc_floats(ns);
  tq_conv2d_forward_train(plain, kc.in, kc.w, kc.b, &kc.s, kc.scratch);
  tq_batchnorm_stats(want, plain, rows, oc);
  got[ns] = 777.0f;
  int threads = omp_get_max_threads();
  for (int t = 1; t <= 2; t++) {
    omp_set_num_threads(t);
    for (size_t i = 0; i < kc.n_out; i++) kc.out[i] = NAN;
    for (size_t i = 0; i < ns; i++) got[i] = NAN;
    tq_conv2d_forward_train_stats(kc.out, kc.in, kc.w, kc.b, &kc.s, kc.scratch, got);
    if (memcmp(kc.out, plain, kc.n_out * sizeof(float)) || memcmp(got, want, ns * sizeof(float))) {
      fprintf(stderr, "forward stats %s (%d threads): output or statistics differ from the separate passes\n",
              name, t);
      tq_test_failures++;
    }
    if (t == 1) memcpy(one, got, ns * sizeof(float));
  }
  omp_set_num_threads(threads);
  if (memcmp(one, got, ns * sizeof(float)) || got[ns] != 777.0f || !scratch_guard_ok(&kc)) {
    fprintf(stderr, "forward stats %s: thread-dependent, or wrote past its buffers\n", name);
    tq_test_failures++;
  }
  /* and they are the batch's moments */
  double *mean = malloc(sizeof(double) * 2 * (size_t)oc), *var = mean + oc;
  tq_batchnorm_moments_from_stats(mean, var, got, rows, oc);
  for (int j = 0; j < oc; j++) {
    double m = 0, q = 0;
    for (int i = 0; i < rows; i++) m += plain[(size_t)i * oc + j];
    m /= rows;
    for (int i = 0; i < rows; i++) q += (plain[(size_t)i * oc + j] - m) * (plain[(size_t)i * oc + j] - m);
    q /= rows;
    if (!(fabs(mean[j] - m) <= 1e-5 * (1 + fabs(m)) && fabs(var[j] - q) <= 1e-4 * (1 + q))) {
      fprintf(stderr, "forward stats %s: channel %d mean %g var %g, expected %g %g\n", name, j, mean[j], var[j], m,
              q);
      tq_test_failures++;
      break;
    }
  }
  free(mean);
  tq_free(plain), tq_free(want), tq_free(got), tq_free(one);
  conv_case_free(&kc);
}

/* The depthwise forward with statistics: groups that start and end inside output rows, sliding blocks
 * cut short at a group's end; the output keeps tq_depthwise_forward's bits. And a dense layer's. */
static void depthwise_stats_case(const char *name, int n, int h, int w, int c, int stride) {
  tq_rng r;
  tq_rng_seed(&r, 17 + (uint64_t)h * 7 + (uint64_t)c);
  conv_case kc;
  conv_case_init(&kc, &r, n, h, w, c, 3, 3, stride, stride, c, TQ_PAD_SAME, 1);
  const int rows = n * kc.s.oh * kc.s.ow, gr = tq_batchnorm_stats_group_rows(rows);
  const size_t ns = (size_t)3 * c * ((rows + gr - 1) / gr);
  float *plain = tq_alloc_floats(kc.n_out), *want = tq_alloc_floats(ns), *got = tq_alloc_floats(ns);
  tq_depthwise_forward(plain, kc.in, kc.w, kc.b, &kc.s);
  tq_batchnorm_stats(want, plain, rows, c);
  int threads = omp_get_max_threads();
  for (int t = 1; t <= 2; t++) {
    omp_set_num_threads(t);
    for (size_t i = 0; i < kc.n_out; i++) kc.out[i] = NAN;
    tq_depthwise_forward_stats(kc.out, kc.in, kc.w, kc.b, &kc.s, got);
    if (memcmp(kc.out, plain, kc.n_out * sizeof(float)) || memcmp(got, want, ns * sizeof(float))) {
      fprintf(stderr, "depthwise stats %s (%d threads): output or statistics differ\n", name, t);
      tq_test_failures++;
    }
  }
  omp_set_num_threads(threads);
  tq_free(plain), tq_free(want), tq_free(got);
  conv_case_free(&kc);
}

static void dense_stats_case(int n, int in_dim, int out_dim) {
  tq_rng r;
  tq_rng_seed(&r, 23 + (uint64_t)out_dim);
  float *in = randn(&r, (size_t)n * in_dim, 1.0f), *w = randn(&r, (size_t)in_dim * out_dim, 0.3f);
  float *b = randn(&r, (size_t)out_dim, 0.3f), *plain = tq_alloc_floats((size_t)n * out_dim);
  float *out = tq_alloc_floats((size_t)n * out_dim);
  size_t nsc = tq_dense_scratch_floats(n, in_dim, out_dim), ns = tq_batchnorm_stats_floats(n, out_dim);
  float *scratch = nsc ? tq_alloc_floats(nsc) : NULL, *want = tq_alloc_floats(ns), *got = tq_alloc_floats(ns);
  const int gr = tq_batchnorm_stats_group_rows(n);
  const size_t used = (size_t)3 * out_dim * ((n + gr - 1) / gr);
  tq_dense_forward(plain, in, w, b, n, in_dim, out_dim, scratch);
  tq_batchnorm_stats(want, plain, n, out_dim);
  tq_dense_forward_stats(out, in, w, b, n, in_dim, out_dim, scratch, got);
  if (memcmp(out, plain, (size_t)n * out_dim * sizeof(float)) || memcmp(got, want, used * sizeof(float))) {
    fprintf(stderr, "dense stats %dx%d->%d: output or statistics differ\n", n, in_dim, out_dim);
    tq_test_failures++;
  }
  tq_free(in), tq_free(w), tq_free(b), tq_free(plain), tq_free(out), tq_free(scratch), tq_free(want), tq_free(got);
}

static void test_forward_stats(void) {
  depthwise_stats_case("DS-CNN 25x5x64: groups cut rows", 100, 25, 5, 64, 1);
  depthwise_stats_case("stride 2, 16 channels", 5, 24, 22, 16, 2);
  depthwise_stats_case("12 channels: channel tail", 3, 9, 11, 12, 1);
  dense_stats_case(512, 640, 128); /* the FC-AutoEncoder's: direct tiles */
  dense_stats_case(37, 20, 10);    /* OpenBLAS, statistics after */
  /* name, n, h, w, c, k, stride, oc */
  forward_stats_case("pointwise 16->32, groups of 24", 3, 7, 9, 16, 1, 1, 32);
  forward_stats_case("pointwise 64->64, DS-CNN rows", 100, 25, 5, 64, 1, 1, 64);
  forward_stats_case("3x3 stride 2, 8-column panels", 4, 21, 17, 3, 3, 2, 8);
  forward_stats_case("10x4-like stride 2, short last group", 5, 49, 10, 1, 3, 2, 64);
  forward_stats_case("Winograd shape: statistics after", 2, 8, 8, 16, 3, 1, 16);
  forward_stats_case("OC 12: im2col path, statistics after", 2, 6, 6, 5, 3, 1, 12);
  forward_stats_case("one row", 1, 1, 1, 16, 1, 1, 16);
}

static void test_depthwise_hand(void) {
  /* one 3x3 input with two channels (c0 = 1..9, c1 = 10*(1..9)), multiplier 2, 'valid' 3x3:
   * out[c*2+m] = sum over the window of in_c * w[.,.,c,m] */
  float in[18], w[36], out[4];
  for (int i = 0; i < 9; i++) in[2 * i] = (float)(i + 1), in[2 * i + 1] = 10.0f * (float)(i + 1);
  for (int t = 0; t < 9; t++) {
    w[t * 4 + 0] = 1.0f;                 /* c0 m0: plain sum = 45 */
    w[t * 4 + 1] = t == 4 ? 1.0f : 0.0f; /* c0 m1: centre tap = 5 */
    w[t * 4 + 2] = t == 0 ? 2.0f : 0.0f; /* c1 m0: 2 * top-left = 20 */
    w[t * 4 + 3] = (float)t;             /* c1 m1: sum 10*(t+1)*t = 2400 */
  }
  tq_conv_shape s;
  CHECK(tq_conv_shape_init(&s, 1, 3, 3, 2, 3, 3, 1, 1, 4, TQ_PAD_VALID) == TQ_OK);
  const float b[4] = {0, 1, 0, -1};
  tq_depthwise_forward(out, in, w, b, &s);
  CHECK_NEAR(out[0], 45.0, 1e-4);
  CHECK_NEAR(out[1], 6.0, 1e-4);
  CHECK_NEAR(out[2], 20.0, 1e-4);
  CHECK_NEAR(out[3], 2399.0, 1e-3);
}

/* One multiply-add, as the depthwise row runs compute it: fused on x86 with FMA, else a product and a
 * sum (this file is compiled without contraction). Elsewhere with FMA (AArch64) the compiler
 * decides, and the bit test below does not run. */
static float madd(float acc, float x, float w) {
#if defined(__FMA__)
  return fmaf(x, w, acc);
#else
  return acc + x * w;
#endif
}

/* The depthwise kernels with multiplier 1, 3-wide windows and C a multiple of 8 promise more than
 * closeness: every output is its bias plus its valid taps, kernel rows then columns, one multiply-add
 * each, and every din value the sum over its covering outputs, rows then columns ascending. Checked
 * bit for bit against those sums in float, on narrow rows (one block with both edges cut), wide rows
 * (blocks of 8, 4, 2, 1), 'valid' windows, odd and even widths at stride 2, and 5-high kernels. */
static void depthwise_bits_case(const char *name, int n, int h, int w, int c, int kh, int s_, tq_padding pad) {
  tq_rng r;
  tq_rng_seed(&r, 99 + (uint64_t)w * 13 + (uint64_t)c);
  conv_case k;
  conv_case_init(&k, &r, n, h, w, c, kh, 3, s_, s_, c, pad, 1);
  const tq_conv_shape *s = &k.s;
  float *want = tq_alloc_floats(k.n_out), *din = tq_alloc_floats(k.n_in), *dwant = tq_alloc_floats(k.n_in);
  for (int b = 0; b < n; b++)
    for (int oy = 0; oy < s->oh; oy++)
      for (int ox = 0; ox < s->ow; ox++)
        for (int ch = 0; ch < c; ch++) {
          float acc = k.b[ch];
          for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < 3; kx++) {
              int iy = oy * s_ - s->pad_top + ky, ix = ox * s_ - s->pad_left + kx;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              acc = madd(acc, k.in[(((size_t)b * h + iy) * w + ix) * c + ch], k.w[((size_t)ky * 3 + kx) * c + ch]);
            }
          want[(((size_t)b * s->oh + oy) * s->ow + ox) * c + ch] = acc;
        }
  for (int b = 0; b < n; b++)
    for (int iy = 0; iy < h; iy++)
      for (int ix = 0; ix < w; ix++)
        for (int ch = 0; ch < c; ch++) {
          float acc = 0.0f;
          for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
              int ky = iy + s->pad_top - oy * s_, kx = ix + s->pad_left - ox * s_;
              if (ky < 0 || ky >= kh || kx < 0 || kx >= 3) continue;
              acc = madd(acc, k.dout[(((size_t)b * s->oh + oy) * s->ow + ox) * c + ch],
                         k.w[((size_t)ky * 3 + kx) * c + ch]);
            }
          dwant[(((size_t)b * h + iy) * w + ix) * c + ch] = acc;
        }
  tq_depthwise_forward(k.out, k.in, k.w, k.b, s);
  tq_depthwise_backward(din, NULL, NULL, k.dout, k.in, k.w, s);
  if (memcmp(k.out, want, k.n_out * sizeof(float)) || memcmp(din, dwant, k.n_in * sizeof(float))) {
    fprintf(stderr, "depthwise bits %s: forward %s, din %s the ordered sums (max diff %g, %g)\n", name,
            memcmp(k.out, want, k.n_out * sizeof(float)) ? "differs from" : "matches",
            memcmp(din, dwant, k.n_in * sizeof(float)) ? "differs from" : "matches", max_abs_diff(k.out, want, k.n_out),
            max_abs_diff(din, dwant, k.n_in));
    tq_test_failures++;
    for (size_t i = 0; i < k.n_in; i++)
      if (din[i] != dwant[i]) {
        fprintf(stderr, "  first din mismatch: pixel %zu, channel %zu: %.9g, not %.9g\n", i / c, i % c, din[i], dwant[i]);
        break;
      }
  }
  tq_free(want), tq_free(din), tq_free(dwant);
  conv_case_free(&k);
}

static void test_depthwise_bits(void) {
#if defined(__ARM_FEATURE_FMA) && !defined(__FMA__)
  return;
#endif
  /* name, n, h, w, c, kh, stride, padding */
  depthwise_bits_case("DS-CNN 25x5x64", 3, 25, 5, 64, 3, 1, TQ_PAD_SAME);
  depthwise_bits_case("MobileNet 48x48x8", 1, 6, 48, 8, 3, 1, TQ_PAD_SAME);
  depthwise_bits_case("one column", 2, 4, 1, 8, 3, 1, TQ_PAD_SAME);
  depthwise_bits_case("two columns, stride 2", 2, 5, 2, 16, 3, 2, TQ_PAD_SAME);
  depthwise_bits_case("wide, stride 2 even", 1, 6, 38, 24, 3, 2, TQ_PAD_SAME);
  depthwise_bits_case("wide, stride 2 odd", 1, 7, 37, 8, 3, 2, TQ_PAD_SAME);
  depthwise_bits_case("valid", 2, 6, 19, 16, 3, 1, TQ_PAD_VALID);
  depthwise_bits_case("valid, stride 2", 2, 7, 20, 8, 3, 2, TQ_PAD_VALID);
  depthwise_bits_case("5x3 kernel", 2, 9, 13, 32, 5, 1, TQ_PAD_SAME);
}

/* Output channels are independent: a convolution with OC = 48 gives, column for column, the bits of
 * three convolutions of 16 columns each, for the forward and the weight and bias gradients. On
 * AVX-512 the wide one runs two 16-column panels per tile (direct_tile2, dw_tile_c2), so this pins
 * their claim of computing every sum in the single panel's order; elsewhere it holds trivially. */
static void test_panel_pairs_bits(void) {
  tq_rng r;
  tq_rng_seed(&r, 91);
  const struct { int n, h, w, c, k, s, oc; } cases[] = {
      /* The weight gradient sums in pixel lanes when a layer has few tiles (conv2d_wgrad.c), and
       * the 16-column layer has a third of the tiles: the cases keep both on one side, on every ISA. */
      {5, 9, 7, 24, 1, 1, 48}, /* pointwise: 26 full 12-pixel blocks and a short one; lanes */
      {2, 8, 9, 8, 3, 1, 64},  /* 3x3, 8 channels: every 8 taps one kernel tap; 144 pixels, no lanes */
      {2, 9, 8, 16, 3, 2, 32}, /* strided, padded frame; no lanes */
  };
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    const int n = cases[ci].n, h = cases[ci].h, w = cases[ci].w, c = cases[ci].c, k = cases[ci].k,
              st = cases[ci].s, oc = cases[ci].oc;
    tq_conv_shape s, s16;
    CHECK(tq_conv_shape_init(&s, n, h, w, c, k, k, st, st, oc, TQ_PAD_SAME) == TQ_OK);
    CHECK(tq_conv_shape_init(&s16, n, h, w, c, k, k, st, st, 16, TQ_PAD_SAME) == TQ_OK);
    const size_t K = (size_t)k * k * c, M = (size_t)n * s.oh * s.ow;
    float *in = randn(&r, (size_t)n * h * w * c, 1.0f), *wt = randn(&r, K * oc, 0.5f), *b = randn(&r, oc, 0.5f);
    float *dout = randn(&r, M * oc, 1.0f), *out = tq_alloc_floats(M * oc), *dw = tq_alloc_floats(K * oc);
    float *db = tq_alloc_floats(oc), *w16 = tq_alloc_floats(K * 16), *dout16 = tq_alloc_floats(M * 16);
    float *out16 = tq_alloc_floats(M * 16), *dw16 = tq_alloc_floats(K * 16), db16[16];
    size_t ns = tq_conv2d_scratch_floats(&s), ns16 = tq_conv2d_scratch_floats(&s16);
    float *scratch = tq_alloc_floats(ns > ns16 ? ns : ns16);
    TQ_ASSERT(out && dw && db && w16 && dout16 && out16 && dw16 && scratch);
    memset(dw, 0, K * oc * sizeof(float));
    memset(db, 0, oc * sizeof(float));
    tq_conv2d_forward(out, in, wt, b, &s, scratch);
    tq_conv2d_backward(NULL, dw, db, dout, in, wt, &s, scratch);
    int same = 1;
    for (int p = 0; p < oc / 16; p++) {
      for (size_t i = 0; i < K; i++) memcpy(w16 + i * 16, wt + i * oc + p * 16, 16 * sizeof(float));
      for (size_t i = 0; i < M; i++) memcpy(dout16 + i * 16, dout + i * oc + p * 16, 16 * sizeof(float));
      memset(dw16, 0, K * 16 * sizeof(float));
      memset(db16, 0, sizeof db16);
      tq_conv2d_forward(out16, in, w16, b + p * 16, &s16, scratch);
      tq_conv2d_backward(NULL, dw16, db16, dout16, in, w16, &s16, scratch);
      for (size_t i = 0; i < M; i++) same &= !memcmp(out16 + i * 16, out + i * oc + p * 16, 16 * sizeof(float));
      for (size_t i = 0; i < K; i++) same &= !memcmp(dw16 + i * 16, dw + i * oc + p * 16, 16 * sizeof(float));
      same &= !memcmp(db16, db + p * 16, sizeof db16);
    }
    CHECK(same);
    tq_free(in), tq_free(wt), tq_free(b), tq_free(dout), tq_free(out), tq_free(dw), tq_free(db), tq_free(w16);
    tq_free(dout16), tq_free(out16), tq_free(dw16), tq_free(scratch);
  }
}

/* A pointwise conv's din on 1, 2 and 5 threads (each thread its own transposed kernel up to four,
 * then one shared): the same bits, and the reference's values. */
static void test_pointwise_din_threads(void) {
  tq_rng r;
  tq_rng_seed(&r, 77);
  tq_conv_shape s;
  CHECK(tq_conv_shape_init(&s, 3, 9, 7, 32, 1, 1, 1, 1, 48, TQ_PAD_SAME) == TQ_OK);
  const size_t ni = (size_t)3 * 9 * 7 * 32, no = (size_t)3 * 9 * 7 * 48;
  float *w = randn(&r, 32 * 48, 0.2f), *dout = randn(&r, no, 1.0f), *in = randn(&r, ni, 1.0f);
  float *scratch = tq_alloc_floats(tq_conv2d_scratch_floats(&s)), *din[3], *ref = tq_alloc_floats(ni);
  const int threads = omp_get_max_threads(), counts[3] = {1, 2, 5};
  for (int k = 0; k < 3; k++) {
    omp_set_num_threads(counts[k]);
    din[k] = tq_alloc_floats(ni);
    tq_conv2d_backward(din[k], NULL, NULL, dout, in, w, &s, scratch);
  }
  omp_set_num_threads(threads);
  tq_conv2d_backward_ref(ref, NULL, NULL, dout, in, w, &s);
  CHECK(memcmp(din[0], din[1], ni * sizeof(float)) == 0 && memcmp(din[0], din[2], ni * sizeof(float)) == 0);
  double worst = 0;
  for (size_t i = 0; i < ni; i++) worst = fmax(worst, fabs(din[0][i] - ref[i]));
  CHECK(worst < 1e-4);
  for (int k = 0; k < 3; k++) tq_free(din[k]);
  tq_free(w), tq_free(dout), tq_free(in), tq_free(scratch), tq_free(ref);
}

int main(void) {
  test_shape_init();
  test_conv_hand();
  test_depthwise_hand();
  test_conv_cases();
  test_winograd();
  test_forward_stats();
  test_depthwise_bits();
  test_pointwise_din_threads();
  test_panel_pairs_bits();
  TEST_MAIN_END();
}
