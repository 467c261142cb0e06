/* Dense, activations, softmax/cross-entropy, MSE, pooling, add, channel multiply, zero padding,
 * dropout and the threads' round trip: hand-computed values, every backward against central finite
 * differences, and determinism where threads or randomness are involved (batch normalization:
 * test_kernels_bn.c). */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernel_test_util.h"
#include "tinyq/kernels.h"
#include "tq_test.h"

/* ---- dense */

typedef struct {
  float *in, *w, *b, *out, *dout, *scratch;
  int n, i, o;
} dense_ctx;

static double dense_obj(void *p) {
  dense_ctx *d = p;
  tq_dense_forward(d->out, d->in, d->w, d->b, d->n, d->i, d->o, d->scratch);
  return dot(d->out, d->dout, (size_t)d->n * d->o);
}

static void test_dense(void) {
  /* in (2,3) · w (3,2) + b */
  const float in[6] = {1, 2, 3, -1, 0, 2}, w[6] = {1, 0, 0, 1, 2, -1}, b[2] = {0.5f, -0.5f};
  float out[4];
  tq_dense_forward(out, in, w, b, 2, 3, 2, NULL);
  CHECK_NEAR(out[0], 1 + 6 + 0.5, 1e-6);
  CHECK_NEAR(out[1], 2 - 3 - 0.5, 1e-6);
  CHECK_NEAR(out[2], -1 + 4 + 0.5, 1e-6);
  CHECK_NEAR(out[3], 0 - 2 - 0.5, 1e-6);
  tq_dense_forward(out, in, w, NULL, 2, 3, 2, NULL);
  CHECK_NEAR(out[0], 7.0, 1e-6);

  tq_rng r;
  tq_rng_seed(&r, 7);
  dense_ctx d = {.n = 5, .i = 7, .o = 4};
  d.in = randn(&r, 35, 1), d.w = randn(&r, 28, 0.5f), d.b = randn(&r, 4, 0.5f);
  d.out = tq_alloc_floats(20), d.dout = randn(&r, 20, 1);
  float *din = tq_alloc_floats(35), *dw = tq_alloc_floats(28), *db = tq_alloc_floats(4);
  for (int j = 0; j < 28; j++) dw[j] = 2.0f; /* accumulates */
  tq_dense_backward(din, dw, db, d.dout, d.in, d.w, 5, 7, 4, NULL);
  for (int j = 0; j < 28; j++) dw[j] -= 2.0f;
  check_grad("dense din", d.in, din, 35, dense_obj, &d, 1e-2f);
  check_grad("dense dw", d.w, dw, 28, dense_obj, &d, 1e-2f);
  check_grad("dense db", d.b, db, 4, dense_obj, &d, 1e-2f);
  tq_free(d.in), tq_free(d.w), tq_free(d.b), tq_free(d.out), tq_free(d.dout);
  tq_free(din), tq_free(dw), tq_free(db);
}

/* O a multiple of 16 with scratch: Conv2D's direct tiles (a 1x1 convolution). The same values as
 * the OpenBLAS path (to rounding), the gradients against finite differences, no scratch for other
 * widths, and the same bits on one and two threads. I = 8 takes the GEMM din of the transposed
 * convolution, I = 48 the direct one. */
static void test_dense_direct(void) {
  CHECK(tq_dense_scratch_floats(64, 32, 24) == 0);
  CHECK(tq_dense_scratch_floats(64, 32, 48) > 0);
  const int dims[2][2] = {{48, 32}, {8, 16}};
  for (int t = 0; t < 2; t++) {
    const int n = 301, I = dims[t][0], O = dims[t][1]; /* over the kernels' parallel threshold */
    tq_rng r;
    tq_rng_seed(&r, 11 + t);
    dense_ctx d = {.n = n, .i = I, .o = O};
    d.in = randn(&r, (size_t)n * I, 1), d.w = randn(&r, (size_t)I * O, 0.5f), d.b = randn(&r, O, 0.5f);
    d.out = tq_alloc_floats((size_t)n * O), d.dout = randn(&r, (size_t)n * O, 1);
    d.scratch = tq_alloc_floats(tq_dense_scratch_floats(n, I, O));
    float *ref = tq_alloc_floats((size_t)n * O);
    tq_dense_forward(ref, d.in, d.w, d.b, n, I, O, NULL);
    tq_dense_forward(d.out, d.in, d.w, d.b, n, I, O, d.scratch);
    double err = 0;
    for (int j = 0; j < n * O; j++) err = fmax(err, fabs(d.out[j] - ref[j]));
    CHECK(err < 1e-4);
    float *din[2], *dw[2], *db[2];
    const int threads = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
      din[k] = tq_alloc_floats((size_t)n * I), dw[k] = tq_alloc_floats((size_t)I * O), db[k] = tq_alloc_floats(O);
      memset(dw[k], 0, (size_t)I * O * sizeof(float));
      memset(db[k], 0, (size_t)O * sizeof(float));
      omp_set_num_threads(k + 1);
      tq_dense_backward(din[k], dw[k], db[k], d.dout, d.in, d.w, n, I, O, d.scratch);
    }
    omp_set_num_threads(threads);
    CHECK(memcmp(din[0], din[1], (size_t)n * I * sizeof(float)) == 0);
    CHECK(memcmp(dw[0], dw[1], (size_t)I * O * sizeof(float)) == 0);
    CHECK(memcmp(db[0], db[1], (size_t)O * sizeof(float)) == 0);
    check_grad("dense direct din", d.in, din[0], (size_t)n * I, dense_obj, &d, 1e-2f);
    check_grad("dense direct dw", d.w, dw[0], (size_t)I * O, dense_obj, &d, 1e-2f);
    check_grad("dense direct db", d.b, db[0], O, dense_obj, &d, 1e-2f);
    for (int k = 0; k < 2; k++) tq_free(din[k]), tq_free(dw[k]), tq_free(db[k]);
    tq_free(d.in), tq_free(d.w), tq_free(d.b), tq_free(d.out), tq_free(d.dout), tq_free(d.scratch), tq_free(ref);
  }
}

/* ---- activations */

typedef struct {
  void (*fwd)(float *, const float *, size_t);
  float *in, *out, *dout;
  size_t n;
} act_ctx;

static double act_obj(void *p) {
  act_ctx *a = p;
  a->fwd(a->out, a->in, a->n);
  return dot(a->out, a->dout, a->n);
}

static void relu6_fwd(float *out, const float *in, size_t n) { tq_relu_max_forward(out, in, n, 6.0f); }

static void test_activations(void) {
  const float x[7] = {-3, -0.5f, 0, 0.5f, 5.5f, 6, 8};
  float y[7], d[7];
  const float ones[7] = {1, 1, 1, 1, 1, 1, 1};
  tq_relu_forward(y, x, 7);
  const float relu[7] = {0, 0, 0, 0.5f, 5.5f, 6, 8};
  for (int i = 0; i < 7; i++) CHECK_NEAR(y[i], relu[i], 0);
  tq_relu_backward(d, ones, x, 7);
  const float drelu[7] = {0, 0, 0, 1, 1, 1, 1}; /* TF: gradient 0 at x == 0 */
  for (int i = 0; i < 7; i++) CHECK_NEAR(d[i], drelu[i], 0);
  tq_relu_max_forward(y, x, 7, 6.0f);
  const float relu6[7] = {0, 0, 0, 0.5f, 5.5f, 6, 6};
  for (int i = 0; i < 7; i++) CHECK_NEAR(y[i], relu6[i], 0);
  tq_relu_max_backward(d, ones, x, 7, 6.0f);
  const float drelu6[7] = {0, 0, 0, 1, 1, 0, 0}; /* TF Relu6Grad: 0 < x < 6 */
  for (int i = 0; i < 7; i++) CHECK_NEAR(d[i], drelu6[i], 0);
  tq_sigmoid_forward(y, x, 7);
  for (int i = 0; i < 7; i++) CHECK_NEAR(y[i], 1.0 / (1.0 + exp(-x[i])), 1e-6);
  tq_swish_forward(y, x, 7);
  for (int i = 0; i < 7; i++) CHECK_NEAR(y[i], x[i] / (1.0 + exp(-x[i])), 1e-5);
  /* extreme inputs stay finite */
  const float big[2] = {-1000, 1000};
  tq_sigmoid_forward(y, big, 2);
  CHECK_NEAR(y[0], 0.0, 0);
  CHECK_NEAR(y[1], 1.0, 0);
  tq_swish_forward(y, big, 2);
  CHECK_NEAR(y[0], 0.0, 1e-30);
  CHECK_NEAR(y[1], 1000.0, 0);

  /* finite differences, away from the kinks, and bigger than the threading threshold */
  tq_rng r;
  tq_rng_seed(&r, 3);
  size_t n = 70000;
  act_ctx a = {.n = n};
  a.in = randn(&r, n, 4), a.out = tq_alloc_floats(n), a.dout = randn(&r, n, 1);
  for (size_t i = 0; i < n; i++)
    if (fabsf(a.in[i]) < 0.05f || fabsf(a.in[i] - 6.0f) < 0.05f) a.in[i] += 0.2f;
  float *din = tq_alloc_floats(n);
  a.fwd = tq_relu_forward;
  tq_relu_backward(din, a.dout, a.in, n);
  check_grad("relu", a.in, din, n, act_obj, &a, 1e-2f);
  a.fwd = relu6_fwd;
  tq_relu_max_backward(din, a.dout, a.in, n, 6.0f);
  check_grad("relu6", a.in, din, n, act_obj, &a, 1e-2f);
  a.fwd = tq_sigmoid_forward;
  tq_sigmoid_backward(din, a.dout, a.in, n);
  check_grad("sigmoid", a.in, din, n, act_obj, &a, 1e-2f);
  a.fwd = tq_swish_forward;
  tq_swish_backward(din, a.dout, a.in, n);
  check_grad("swish", a.in, din, n, act_obj, &a, 1e-2f);
  tq_free(a.in), tq_free(a.out), tq_free(a.dout), tq_free(din);
}

/* ---- softmax, cross-entropy, MSE */

typedef struct {
  float *logits, *probs, *targets;
  int *labels;
  int n, k;
} xent_ctx;

static double xent_obj(void *p) {
  xent_ctx *x = p;
  return tq_softmax_xent_forward(x->probs, x->logits, x->targets, x->labels, x->n, x->k);
}

static void test_softmax_xent(void) {
  const float z[6] = {1, 2, 3, 0, 0, 0};
  const int labels[2] = {2, 0};
  const float onehot[6] = {0, 0, 1, 1, 0, 0};
  float p[6], d[6];
  double e = exp(1) + exp(2) + exp(3);
  float loss = tq_softmax_xent_forward(p, z, NULL, labels, 2, 3);
  for (int j = 0; j < 3; j++) CHECK_NEAR(p[j], exp(j + 1) / e, 1e-6);
  for (int j = 3; j < 6; j++) CHECK_NEAR(p[j], 1.0 / 3, 1e-6);
  double want = (-log(exp(3) / e) + log(3.0)) / 2;
  CHECK_NEAR(loss, want, 1e-6);
  CHECK_NEAR(tq_softmax_xent_forward(p, z, onehot, NULL, 2, 3), want, 1e-6);
  tq_softmax_xent_backward(d, p, NULL, labels, 2, 3);
  CHECK_NEAR(d[2], (exp(3) / e - 1) / 2, 1e-6);
  CHECK_NEAR(d[0], exp(1) / e / 2, 1e-6);
  float d2[6];
  tq_softmax_xent_backward(d2, p, onehot, NULL, 2, 3);
  for (int j = 0; j < 6; j++) CHECK_NEAR(d[j], d2[j], 1e-7);
  float q[6];
  tq_softmax_forward(q, z, 2, 3);
  for (int j = 0; j < 6; j++) CHECK_NEAR(q[j], p[j], 0);

  /* huge logits: no overflow, loss from log-sum-exp */
  const float hz[2] = {1000, 0};
  const int hl[1] = {1};
  CHECK_NEAR(tq_softmax_xent_forward(p, hz, NULL, hl, 1, 2), 1000.0, 1e-3);

  /* finite differences: labels, and soft targets */
  tq_rng r;
  tq_rng_seed(&r, 11);
  xent_ctx x = {.n = 4, .k = 5};
  int lab[4] = {0, 4, 2, 2};
  x.logits = randn(&r, 20, 2), x.probs = tq_alloc_floats(20), x.labels = lab;
  float *g = tq_alloc_floats(20);
  xent_obj(&x);
  tq_softmax_xent_backward(g, x.probs, NULL, lab, 4, 5);
  check_grad("xent labels", x.logits, g, 20, xent_obj, &x, 1e-2f);
  x.targets = tq_alloc_floats(20);
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 5; j++) x.targets[i * 5 + j] = (float)(j + i) / (float)(10 + 5 * i); /* rows sum 1 */
  xent_obj(&x);
  tq_softmax_xent_backward(g, x.probs, x.targets, NULL, 4, 5);
  check_grad("xent soft targets", x.logits, g, 20, xent_obj, &x, 1e-2f);
  tq_free(x.logits), tq_free(x.probs), tq_free(x.targets), tq_free(g);
}

typedef struct {
  float *pred, *target;
  size_t n;
} mse_ctx;

static double mse_obj(void *p) {
  mse_ctx *m = p;
  return tq_mse_forward(m->pred, m->target, m->n);
}

static void test_mse(void) {
  const float a[4] = {1, 2, 3, 4}, b[4] = {1, 0, 4, 1};
  CHECK_NEAR(tq_mse_forward(a, b, 4), (0 + 4 + 1 + 9) / 4.0, 1e-6);
  float d[4];
  tq_mse_backward(d, a, b, 4);
  CHECK_NEAR(d[1], 2.0 * 2 / 4, 1e-7);
  CHECK_NEAR(d[2], -2.0 / 4, 1e-7);
  tq_rng r;
  tq_rng_seed(&r, 5);
  mse_ctx m = {.n = 30};
  m.pred = randn(&r, 30, 1), m.target = randn(&r, 30, 1);
  float *g = tq_alloc_floats(30);
  tq_mse_backward(g, m.pred, m.target, 30);
  check_grad("mse", m.pred, g, 30, mse_obj, &m, 1e-2f);
  tq_free(m.pred), tq_free(m.target), tq_free(g);
}

/* ---- pooling */

typedef struct {
  tq_conv_shape s;
  float *in, *out, *dout;
  int32_t *argmax;
  int max;
} pool_ctx;

static double pool_obj(void *p) {
  pool_ctx *c = p;
  if (c->max)
    tq_maxpool_forward(c->out, c->argmax, c->in, &c->s);
  else
    tq_avgpool_forward(c->out, c->in, &c->s);
  return dot(c->out, c->dout, (size_t)c->s.n * c->s.oh * c->s.ow * c->s.c);
}

static void test_pool_hand(void) {
  /* 3x3 single channel, values 1..9 */
  float in[9], out[9], din[9];
  int32_t am[9];
  for (int i = 0; i < 9; i++) in[i] = (float)(i + 1);
  tq_conv_shape s;
  /* 2x2 stride 2 'same': out 2x2, padding after only; bottom-right window holds only in(2,2) */
  CHECK(tq_conv_shape_init(&s, 1, 3, 3, 1, 2, 2, 2, 2, 1, TQ_PAD_SAME) == TQ_OK);
  tq_avgpool_forward(out, in, &s);
  CHECK_NEAR(out[0], (1 + 2 + 4 + 5) / 4.0, 1e-6);
  CHECK_NEAR(out[1], (3 + 6) / 2.0, 1e-6);
  CHECK_NEAR(out[2], (7 + 8) / 2.0, 1e-6);
  CHECK_NEAR(out[3], 9.0, 1e-6);
  tq_maxpool_forward(out, am, in, &s);
  CHECK_NEAR(out[0], 5, 0);
  CHECK_NEAR(out[1], 6, 0);
  CHECK_NEAR(out[2], 8, 0);
  CHECK_NEAR(out[3], 9, 0);
  CHECK_EQ_INT(am[0], 4);
  CHECK_EQ_INT(am[3], 8);
  const float g[4] = {1, 2, 3, 4};
  tq_maxpool_backward(din, g, am, &s);
  const float want_max[9] = {0, 0, 0, 0, 1, 2, 0, 3, 4};
  for (int i = 0; i < 9; i++) CHECK_NEAR(din[i], want_max[i], 0);
  tq_avgpool_backward(din, g, &s);
  const float want_avg[9] = {0.25f, 0.25f, 1, 0.25f, 0.25f, 1, 1.5f, 1.5f, 4};
  for (int i = 0; i < 9; i++) CHECK_NEAR(din[i], want_avg[i], 1e-7);
  /* 3x3 stride 1 'same' average: corners divide by 4, edges by 6, centre by 9 */
  CHECK(tq_conv_shape_init(&s, 1, 3, 3, 1, 3, 3, 1, 1, 1, TQ_PAD_SAME) == TQ_OK);
  tq_avgpool_forward(out, in, &s);
  CHECK_NEAR(out[0], 12 / 4.0, 1e-6);
  CHECK_NEAR(out[1], 21 / 6.0, 1e-6);
  CHECK_NEAR(out[4], 45 / 9.0, 1e-6);
  /* 2x2 'valid' stride 1 */
  CHECK(tq_conv_shape_init(&s, 1, 3, 3, 1, 2, 2, 1, 1, 1, TQ_PAD_VALID) == TQ_OK);
  tq_avgpool_forward(out, in, &s);
  CHECK_NEAR(out[3], (5 + 6 + 8 + 9) / 4.0, 1e-6);
  /* max ignores padding even when every real input is negative */
  for (int i = 0; i < 9; i++) in[i] = -(float)(i + 1);
  CHECK(tq_conv_shape_init(&s, 1, 3, 3, 1, 2, 2, 2, 2, 1, TQ_PAD_SAME) == TQ_OK);
  tq_maxpool_forward(out, am, in, &s);
  CHECK_NEAR(out[3], -9, 0);
  CHECK_NEAR(out[1], -3, 0);
}

static void test_pool_grad(int max, int h, int w, int c, int k, int st, tq_padding pad) {
  tq_rng r;
  tq_rng_seed(&r, 17 + (uint64_t)h + (uint64_t)max);
  pool_ctx p = {.max = max};
  TQ_ASSERT(tq_conv_shape_init(&p.s, 3, h, w, c, k, k, st, st, c, pad) == TQ_OK);
  size_t n_in = (size_t)3 * h * w * c, n_out = (size_t)3 * p.s.oh * p.s.ow * c;
  /* distinct values spaced well beyond eps, so the argmax never flips under perturbation */
  p.in = tq_alloc_floats(n_in);
  for (size_t i = 0; i < n_in; i++) p.in[i] = 0.1f * (float)i;
  for (size_t i = n_in - 1; i > 0; i--) { /* shuffle */
    size_t j = tq_rng_below(&r, (uint32_t)(i + 1));
    float t = p.in[i];
    p.in[i] = p.in[j], p.in[j] = t;
  }
  p.out = tq_alloc_floats(n_out), p.dout = randn(&r, n_out, 1), p.argmax = tq_alloc(n_out * sizeof(int32_t));
  float *din = tq_alloc_floats(n_in);
  pool_obj(&p);
  if (max)
    tq_maxpool_backward(din, p.dout, p.argmax, &p.s);
  else
    tq_avgpool_backward(din, p.dout, &p.s);
  check_grad(max ? "maxpool" : "avgpool", p.in, din, n_in, pool_obj, &p, 1e-2f);
  tq_free(p.in), tq_free(p.out), tq_free(p.dout), tq_free(p.argmax), tq_free(din);
}

typedef struct {
  float *in, *out, *dout;
  int n, hw, c;
} gap_ctx;

static double gap_obj(void *p) {
  gap_ctx *g = p;
  tq_gap_forward(g->out, g->in, g->n, g->hw, g->c);
  return dot(g->out, g->dout, (size_t)g->n * g->c);
}

static void test_gap(void) {
  const float in[8] = {1, 10, 2, 20, 3, 30, 6, 60}; /* (1, 4, 2) */
  float out[2];
  tq_gap_forward(out, in, 1, 4, 2);
  CHECK_NEAR(out[0], 3.0, 1e-6);
  CHECK_NEAR(out[1], 30.0, 1e-5);
  tq_rng r;
  tq_rng_seed(&r, 23);
  gap_ctx g = {.n = 3, .hw = 5, .c = 4};
  g.in = randn(&r, 60, 1), g.out = tq_alloc_floats(12), g.dout = randn(&r, 12, 1);
  float *din = tq_alloc_floats(60);
  tq_gap_backward(din, g.dout, 3, 5, 4);
  check_grad("gap", g.in, din, 60, gap_obj, &g, 1e-2f);
  tq_free(g.in), tq_free(g.out), tq_free(g.dout), tq_free(din);
}

/* ---- add, chanmul, zeropad, dropout */

typedef struct {
  float *x, *s, *out, *dout;
  int n, hw, c;
} cm_ctx;

static double cm_obj(void *p) {
  cm_ctx *m = p;
  tq_chanmul_forward(m->out, m->x, m->s, m->n, m->hw, m->c);
  return dot(m->out, m->dout, (size_t)m->n * m->hw * m->c);
}

typedef struct {
  float *in, *out, *dout;
} zp_ctx;

static double zp_obj(void *p) {
  zp_ctx *z = p;
  tq_zeropad_forward(z->out, z->in, 2, 3, 2, 2, 1, 2, 0, 1); /* (2,3,2,2) -> (2,6,3,2) */
  return dot(z->out, z->dout, 2 * 6 * 3 * 2);
}

static void test_elementwise(void) {
  const float a[3] = {1, 2, 3}, b[3] = {0.5f, -2, 4};
  float o[3];
  tq_add_forward(o, a, b, 3);
  CHECK_NEAR(o[0], 1.5, 0);
  CHECK_NEAR(o[1], 0, 0);
  CHECK_NEAR(o[2], 7, 0);

  /* chanmul: x (1,2,2) * s (1,2) */
  const float x[4] = {1, 2, 3, 4}, sc[2] = {10, -1};
  float y[4];
  tq_chanmul_forward(y, x, sc, 1, 2, 2);
  CHECK_NEAR(y[0], 10, 0);
  CHECK_NEAR(y[1], -2, 0);
  CHECK_NEAR(y[2], 30, 0);
  CHECK_NEAR(y[3], -4, 0);
  tq_rng r;
  tq_rng_seed(&r, 31);
  cm_ctx m = {.n = 2, .hw = 3, .c = 5};
  m.x = randn(&r, 30, 1), m.s = randn(&r, 10, 1), m.out = tq_alloc_floats(30), m.dout = randn(&r, 30, 1);
  float *dx = tq_alloc_floats(30), *ds = tq_alloc_floats(10);
  for (int i = 0; i < 10; i++) ds[i] = 99; /* overwritten: s is an input */
  tq_chanmul_backward(dx, ds, m.dout, m.x, m.s, 2, 3, 5);
  check_grad("chanmul dx", m.x, dx, 30, cm_obj, &m, 1e-2f);
  check_grad("chanmul ds", m.s, ds, 10, cm_obj, &m, 1e-2f);
  tq_free(m.x), tq_free(m.s), tq_free(m.out), tq_free(m.dout), tq_free(dx), tq_free(ds);

  /* zeropad: (1,1,2,1) [5,6] padded top 1, bottom 0, left 1, right 2 -> (1,2,5,1) */
  const float zin[2] = {5, 6};
  float zout[10];
  tq_zeropad_forward(zout, zin, 1, 1, 2, 1, 1, 0, 1, 2);
  const float zwant[10] = {0, 0, 0, 0, 0, 0, 5, 6, 0, 0};
  for (int i = 0; i < 10; i++) CHECK_NEAR(zout[i], zwant[i], 0);
  float zd[2];
  const float zg[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  tq_zeropad_backward(zd, zg, 1, 1, 2, 1, 1, 0, 1, 2);
  CHECK_NEAR(zd[0], 7, 0);
  CHECK_NEAR(zd[1], 8, 0);
  zp_ctx z;
  z.in = randn(&r, 24, 1), z.out = tq_alloc_floats(72), z.dout = randn(&r, 72, 1);
  float *zdin = tq_alloc_floats(24);
  tq_zeropad_backward(zdin, z.dout, 2, 3, 2, 2, 1, 2, 0, 1);
  check_grad("zeropad", z.in, zdin, 24, zp_obj, &z, 1e-2f);
  tq_free(z.in), tq_free(z.out), tq_free(z.dout), tq_free(zdin);
}

/* Add fused with a ReLU / ReLU6: the same bits as tq_add_forward then the ReLU, and the gradient
 * the ReLU's backward (on the Add's output) gives, to both inputs; values at the kinks included. */
static void test_add_relu(float relu_max) {
  const size_t n = 70001; /* over the parallel threshold, odd */
  tq_rng r;
  tq_rng_seed(&r, 5);
  float *a = randn(&r, n, 3), *b = randn(&r, n, 3), *g = randn(&r, n, 1);
  a[0] = 1.0f, b[0] = -1.0f; /* exactly 0 */
  a[1] = 4.0f, b[1] = 2.0f;  /* exactly the cap of 6 */
  float *sum = tq_alloc_floats(n), *ref = tq_alloc_floats(n), *out = tq_alloc_floats(n);
  float *dref = tq_alloc_floats(n), *da = tq_alloc_floats(n), *db = tq_alloc_floats(n);
  tq_add_forward(sum, a, b, n);
  if (relu_max > 0) {
    tq_relu_max_forward(ref, sum, n, relu_max);
    tq_relu_max_backward(dref, g, sum, n, relu_max);
  } else {
    tq_relu_forward(ref, sum, n);
    tq_relu_backward(dref, g, sum, n);
  }
  tq_add_relu_forward(out, a, b, n, relu_max);
  CHECK(memcmp(out, ref, n * sizeof(float)) == 0);
  tq_add_relu_backward(da, db, g, out, n, relu_max);
  CHECK(memcmp(da, dref, n * sizeof(float)) == 0);
  CHECK(memcmp(db, dref, n * sizeof(float)) == 0);
  CHECK(da[0] == 0.0f && (relu_max > 0 ? da[1] == 0.0f : da[1] == g[1]));
  memset(da, 0, n * sizeof(float));
  tq_add_relu_backward(da, NULL, g, out, n, relu_max); /* one input needs no gradient */
  CHECK(memcmp(da, dref, n * sizeof(float)) == 0);
  tq_free(a), tq_free(b), tq_free(g), tq_free(sum), tq_free(ref), tq_free(out), tq_free(dref), tq_free(da),
      tq_free(db);
}

static void test_dropout(void) {
  const size_t n = 100000;
  const float rate = 0.3f;
  tq_rng r1, r2;
  float *in = tq_alloc_floats(n), *out = tq_alloc_floats(n), *mask = tq_alloc_floats(n);
  float *out2 = tq_alloc_floats(n), *mask2 = tq_alloc_floats(n), *din = tq_alloc_floats(n);
  for (size_t i = 0; i < n; i++) in[i] = (float)(i % 17) - 8.0f;
  tq_rng_seed(&r1, 42);
  tq_rng_seed(&r2, 42);
  tq_dropout_forward(out, mask, in, n, rate, &r1);
  tq_dropout_forward(out2, mask2, in, n, rate, &r2);
  CHECK(memcmp(mask, mask2, n * sizeof(float)) == 0); /* same seed, same mask */
  /* one tq_rng_u64 keys the whole mask: the stream goes on from the next value */
  tq_rng_seed(&r2, 42);
  (void)tq_rng_u64(&r2);
  CHECK_EQ_INT(tq_rng_u64(&r2), tq_rng_u64(&r1));
  /* the mask does not depend on the thread count */
  int threads = omp_get_max_threads();
  tq_rng_seed(&r2, 42);
  omp_set_num_threads(1);
  tq_dropout_forward(out2, mask2, in, n, rate, &r2);
  omp_set_num_threads(threads);
  CHECK(memcmp(mask, mask2, n * sizeof(float)) == 0);
  /* draws look independent: each tenth keeps its share, and neighbours are kept together as often
   * as independent draws would be (a correlated counter hash fails this) */
  size_t both = 0, tenth_off = 0;
  for (size_t i = 0; i + 1 < n; i++) both += mask[i] != 0.0f && mask[i + 1] != 0.0f;
  for (size_t t = 0; t < 10; t++) {
    size_t k = 0;
    for (size_t i = t * n / 10; i < (t + 1) * n / 10; i++) k += mask[i] != 0.0f;
    tenth_off += fabs((double)k / (n / 10) - (1.0 - rate)) > 0.02;
  }
  CHECK_EQ_INT(tenth_off, 0);
  CHECK_NEAR((double)both / (n - 1), (1.0 - rate) * (1.0 - rate), 0.01);
  tq_rng_seed(&r1, 42), tq_rng_seed(&r2, 42); /* as before this check */
  tq_dropout_forward(out, mask, in, n, rate, &r1);
  tq_dropout_forward(out2, mask2, in, n, rate, &r2);
  size_t kept = 0, bad = 0;
  for (size_t i = 0; i < n; i++) {
    if (mask[i] != 0.0f) kept++;
    bad += mask[i] != 0.0f && mask[i] != 1.0f / (1.0f - rate);
    bad += out[i] != in[i] * mask[i];
  }
  CHECK_EQ_INT(bad, 0);
  CHECK_NEAR((double)kept / n, 1.0 - rate, 0.01);
  /* a different stream gives a different mask */
  tq_rng_seed(&r2, 43);
  tq_dropout_forward(out2, mask2, in, n, rate, &r2);
  CHECK(memcmp(mask, mask2, n * sizeof(float)) != 0);
  tq_dropout_backward(din, in, mask, n);
  CHECK(memcmp(din, out, n * sizeof(float)) == 0); /* dout * mask, like the forward */
  /* rate 0 keeps everything unscaled */
  tq_dropout_forward(out2, mask2, in, 16, 0.0f, &r1);
  for (int i = 0; i < 16; i++) CHECK_NEAR(mask2[i], 1.0, 0);
  tq_free(in), tq_free(out), tq_free(mask), tq_free(out2), tq_free(mask2), tq_free(din);
}

/* The batch statistics in groups (tq_batchnorm_stats): groups of a multiple of 24 rows, at most 32
 * of them, a buffer size that covers every smaller batch (a short last batch can have more groups
 * than a full one), and the training forward given them has the bits of the one computing them. */
static void test_round_trip(void) {
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  CHECK(tq_thread_round_trip_ns(100) == 0.0);
  omp_set_num_threads(2);
  CHECK(tq_thread_round_trip_ns(0) == 0.0);
  const double ns = tq_thread_round_trip_ns(100);
  CHECK(omp_get_num_procs() < 2 ? ns == 0.0 : ns > 0.0 && ns < 1e9);
  omp_set_num_threads(threads);
}

int main(void) {
  test_round_trip();
  test_dense();
  test_dense_direct();
  test_activations();
  test_softmax_xent();
  test_mse();
  test_pool_hand();
  test_pool_grad(1, 6, 5, 3, 2, 2, TQ_PAD_SAME);
  test_pool_grad(1, 7, 7, 2, 3, 2, TQ_PAD_SAME);
  test_pool_grad(1, 6, 6, 2, 3, 1, TQ_PAD_VALID);
  test_pool_grad(0, 6, 5, 3, 2, 2, TQ_PAD_SAME);
  test_pool_grad(0, 7, 7, 2, 3, 2, TQ_PAD_SAME);
  test_pool_grad(0, 5, 6, 2, 3, 1, TQ_PAD_SAME);
  test_pool_grad(0, 6, 6, 2, 3, 3, TQ_PAD_VALID);
  test_gap();
  test_elementwise();
  test_add_relu(0.0f);
  test_add_relu(6.0f);
  test_dropout();
  TEST_MAIN_END();
}
