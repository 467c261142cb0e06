/* Quantization-aware training: batch-norm folding (SPEC 1.5) equals the unfolded network, the
 * fold's gradients match finite differences, quantized layers use quantized weights, and QAT
 * training makes progress. */
#include <math.h>
#include <string.h>

#include "tinyq/model.h"
#include "tinyq/qconfig.h"
#include "tq_test.h"

static tq_model *net(void) {
  tq_model *m = tq_model_new("qat_net", (tq_shape3){5, 5, 2});
  int x = tq_activation(m, 0, TQ_ACT_LINEAR);
  x = tq_conv2d(m, x, 3, 3, 3, 1, 1, TQ_PAD_SAME);
  x = tq_batchnorm(m, x);
  x = tq_activation(m, x, TQ_ACT_SIGMOID); /* smooth: finite differences see no kinks */
  x = tq_activation(m, x, TQ_ACT_LINEAR);
  /* A residual block: x feeds both the folded conv and the add, so the conv's input gradient is
   * accumulated through the model's shared temporary. */
  int res = tq_conv2d(m, x, 3, 1, 1, 1, 1, TQ_PAD_SAME);
  res = tq_batchnorm(m, res);
  x = tq_add(m, x, res);
  x = tq_depthwise(m, x, 3, 3, 2, 2, TQ_PAD_SAME, 2);
  x = tq_batchnorm(m, x);
  x = tq_activation(m, x, TQ_ACT_SWISH);
  x = tq_gap(m, x);
  x = tq_dense(m, x, 4);
  x = tq_batchnorm(m, x);
  CHECK(tq_model_finalize(m, 4, TQ_INIT_GLOROT_UNIFORM, 3) == TQ_OK);
  /* Non-trivial BN statistics. */
  tq_rng r;
  tq_rng_seed(&r, 9);
  for (int i = 0; i < tq_model_num_layers(m); i++) {
    tq_layer *l = tq_model_layer(m, i);
    if (l->type != TQ_L_BATCHNORM) continue;
    for (size_t c = 0; c < l->gamma.size; c++) {
      l->gamma.value[c] = (c == 1 ? -1.0f : 1.0f) * (0.5f + tq_rng_uniform(&r)); /* one sign flip */
      l->beta.value[c] = tq_rng_normal(&r) * 0.3f;
      l->moving_mean.value[c] = tq_rng_normal(&r) * 0.2f;
      l->moving_var.value[c] = 0.3f + tq_rng_uniform(&r);
    }
  }
  for (int i = 0; i < tq_model_num_layers(m); i++) {
    tq_layer *l = tq_model_layer(m, i);
    for (size_t c = 0; c < l->bias.size; c++) l->bias.value[c] = tq_rng_normal(&r) * 0.1f;
  }
  return m;
}

static void spec_example(void) {
  /* SPEC 1.5: W = [0.5, -1], b = 0.1, gamma 2, beta 0.3, mean 0.2, var 0.249 -> [2, -4], -0.1 */
  tq_model *m = tq_model_new("spec", (tq_shape3){1, 1, 2});
  int d = tq_dense(m, 0, 1);
  tq_batchnorm(m, d);
  CHECK(tq_model_finalize(m, 1, TQ_INIT_GLOROT_UNIFORM, 1) == TQ_OK);
  tq_layer *l = tq_model_layer(m, 1), *bn = tq_model_layer(m, 2);
  l->kernel.value[0] = 0.5f;
  l->kernel.value[1] = -1.0f;
  l->bias.value[0] = 0.1f;
  bn->gamma.value[0] = 2.0f;
  bn->beta.value[0] = 0.3f;
  bn->moving_mean.value[0] = 0.2f;
  bn->moving_var.value[0] = 0.249f;
  CHECK(tq_model_fold_bn(m, 1, 2) == TQ_OK);
  float x[2] = {1.0f, 0.0f};
  const float *y = tq_model_forward(m, x, 1, 0, NULL);
  CHECK_NEAR(l->aux[0], 2.0f, 1e-6);
  CHECK_NEAR(l->aux[1], -4.0f, 1e-6);
  CHECK_NEAR(l->aux2[0], -0.1f, 1e-6);
  CHECK_NEAR(y[0], 2.0f - 0.1f, 1e-6);
  tq_model_free(m);
}

static void folding_matches_unfolded(void) {
  tq_model *a = net(), *b = net();
  CHECK_EQ_INT(tq_model_fold_all_bn(b), 4);
  float x[4 * 50];
  tq_rng r;
  tq_rng_seed(&r, 4);
  for (int i = 0; i < 200; i++) x[i] = tq_rng_normal(&r);
  float ya[16];
  memcpy(ya, tq_model_forward(a, x, 4, 0, NULL), sizeof ya);
  const float *yb = tq_model_forward(b, x, 4, 0, NULL);
  for (int i = 0; i < 16; i++) CHECK_NEAR(ya[i], yb[i], 1e-4);
  tq_model_free(a);
  tq_model_free(b);
}

static double objective(tq_model *m, const float *x, const float *w) {
  const float *y = tq_model_forward(m, x, 4, 1, NULL);
  double s = 0;
  for (int i = 0; i < 16; i++) s += (double)y[i] * w[i];
  return s;
}

static void fold_gradients(void) {
  tq_model *m = net();
  tq_model_fold_all_bn(m);
  /* Freeze the moving statistics so that the function is fixed during finite differences. */
  for (int i = 0; i < tq_model_num_layers(m); i++) tq_model_layer(m, i)->bn_momentum = 1.0f;
  float x[200], w[16];
  tq_rng r;
  tq_rng_seed(&r, 5);
  for (int i = 0; i < 200; i++) x[i] = tq_rng_normal(&r);
  for (int i = 0; i < 16; i++) w[i] = tq_rng_normal(&r);
  objective(m, x, w);
  tq_model_zero_grad(m);
  tq_model_backward(m, w, 4);
  int checked = 0;
  for (int p = 0; p < tq_model_num_params(m); p++) {
    int li;
    const char *name;
    tq_param *prm = tq_model_param(m, p, &li, &name);
    if (!prm->trainable) continue;
    for (size_t j = 0; j < prm->size; j++) {
      float keep = prm->value[j];
      const float eps = 2e-3f;
      prm->value[j] = keep + eps;
      double lp = objective(m, x, w);
      prm->value[j] = keep - eps;
      double lm = objective(m, x, w);
      prm->value[j] = keep;
      double fd = (lp - lm) / (2 * eps), g = prm->grad[j];
      double tol = 2e-2 * (fabs(fd) + fabs(g)) + 2e-3;
      if (fabs(fd - g) > tol)
        fprintf(stderr, "%s.%s[%zu]: backward %g vs fd %g\n", tq_model_layer(m, li)->name, name, j,
                g, fd);
      CHECK(fabs(fd - g) <= tol);
      checked++;
    }
  }
  CHECK(checked > 40);
  tq_model_free(m);
}

static void quantized_weights_used(void) {
  tq_model *m = net();
  CHECK(tq_qconfig_apply_flat(m, 4, "auto_po2") == TQ_OK);
  float x[200];
  for (int i = 0; i < 200; i++) x[i] = (float)((i * 37) % 11) / 5.0f - 1.0f;
  tq_model_forward(m, x, 4, 0, NULL);
  /* The conv's effective kernel has at most 2*7+1 distinct values per output channel, each a
   * multiple of a power of two. */
  tq_layer *c = tq_model_layer(m, tq_model_find(m, "conv2d"));
  for (int oc = 0; oc < 3; oc++) {
    float vals[64];
    int nv = 0;
    for (size_t i = (size_t)oc; i < c->kernel.size; i += 3) {
      int seen = 0;
      for (int k = 0; k < nv; k++) seen |= vals[k] == c->aux[i];
      if (!seen && nv < 64) vals[nv++] = c->aux[i];
    }
    CHECK(nv <= 15);
    float step = 0;
    for (int k = 0; k < nv; k++)
      if (vals[k] != 0 && (step == 0 || fabsf(vals[k]) < step)) step = fabsf(vals[k]);
    CHECK(step > 0);
    CHECK_NEAR(log2f(step), rintf(log2f(step)), 1e-6); /* the step (code 1 or more) is po2 */
  }
  /* Activation slot outputs lie on the quantizer's grid: at most 15 levels per sample. */
  tq_layer *a = tq_model_layer(m, tq_model_find(m, "activation_2"));
  float vals[64];
  int nv = 0;
  for (int i = 0; i < 75; i++) {
    int seen = 0;
    for (int k = 0; k < nv; k++) seen |= vals[k] == a->out[i];
    if (!seen && nv < 64) vals[nv++] = a->out[i];
  }
  CHECK(nv <= 15);
  tq_model_free(m);
}

/* The study's collapse: QKeras' po2() floors a quantized_bits(31,31,1,alpha='auto_po2') bias step
 * at 256 and a 16-bit integer=16 kernel's at 2^-7 or coarser; tinyq's layers search the scale on
 * x itself. */
static void po2_floor(void) {
  for (int floor_on = 0; floor_on < 2; floor_on++) {
    tq_model *m = tq_model_new("floor", (tq_shape3){1, 1, 3});
    tq_dense(m, 0, 2);
    CHECK(tq_model_finalize(m, 1, TQ_INIT_GLOROT_UNIFORM, 1) == TQ_OK);
    tq_model_set_qkeras_po2_floor(m, floor_on);
    CHECK(tq_qconfig_apply_json(m,
                                "{\"dense\": {\"kernel_quantizer\": \"quantized_bits(16,16,1,alpha='auto_po2')\","
                                " \"bias_quantizer\": \"quantized_bits(31,31,1,alpha='auto_po2')\"}}",
                                "t") == TQ_OK);
    tq_layer *l = tq_model_layer(m, 1);
    l->bias.value[0] = 0.3f;
    l->bias.value[1] = -1.7f;
    for (int i = 0; i < 6; i++) l->kernel.value[i] = 0.011f * (float)(i + 1);
    float x[3] = {0, 0, 0};
    tq_model_forward(m, x, 1, 0, NULL);
    if (floor_on) {
      CHECK(l->aux2[0] == 0.0f && l->aux2[1] == 0.0f); /* every bias below 128 is gone */
    } else {
      CHECK_NEAR(l->aux2[0], 0.3f, 1e-6);
      CHECK_NEAR(l->aux2[1], -1.7f, 1e-6);
      /* 16 bits: only auto_po2's own clipping of the channel maximum remains (0.066 -> 2^-4). */
      for (int i = 0; i < 6; i++) CHECK_NEAR(l->aux[i], l->kernel.value[i], 0.06 * l->kernel.value[i]);
    }
    tq_model_free(m);
  }
}

/* Training with trained statistics, a folded batch norm normalises with batch statistics: without
 * quantizers the folded network's training forward and its gradients are the float network's. */
static void folded_training_matches_float_training(void) {
  tq_model *a = net(), *b = net();
  tq_model_fold_all_bn(b);
  float x[200], w[16];
  tq_rng r;
  tq_rng_seed(&r, 11);
  for (int i = 0; i < 200; i++) x[i] = 1.5f * tq_rng_normal(&r) + 0.5f;
  for (int i = 0; i < 16; i++) w[i] = tq_rng_normal(&r);
  float ya[16];
  memcpy(ya, tq_model_forward(a, x, 4, 1, NULL), sizeof ya);
  const float *yb = tq_model_forward(b, x, 4, 1, NULL);
  for (int i = 0; i < 16; i++) CHECK_NEAR(ya[i], yb[i], 2e-4 * (1 + fabsf(ya[i])));
  tq_model_zero_grad(a);
  tq_model_zero_grad(b);
  tq_model_backward(a, w, 4);
  tq_model_backward(b, w, 4);
  int checked = 0;
  for (int p = 0; p < tq_model_num_params(a); p++) {
    int li;
    const char *name;
    tq_param *pa = tq_model_param(a, p, &li, &name), *pb = tq_model_param(b, p, NULL, NULL);
    if (!pa->trainable) continue;
    double scale = 1e-2; /* conv biases before a batch norm get ~0 in both */
    for (size_t j = 0; j < pa->size; j++) scale = fmax(scale, fabs(pa->grad[j]));
    for (size_t j = 0; j < pa->size; j++) {
      if (fabs(pa->grad[j] - pb->grad[j]) > 1e-3 * scale + 1e-4)
        fprintf(stderr, "%s.%s[%zu]: float %g vs folded %g\n", tq_model_layer(a, li)->name, name, j,
                pa->grad[j], pb->grad[j]);
      CHECK(fabs(pa->grad[j] - pb->grad[j]) <= 1e-3 * scale + 1e-4);
      checked++;
    }
  }
  CHECK(checked > 40);
  tq_model_free(a);
  tq_model_free(b);
}

/* Folded batch norms estimate the raw layer's batch statistics from the folded output: with
 * momentum 0 their moving statistics equal those of the unfolded network's batch norms; frozen,
 * they do not move. */
static void folded_bn_statistics(void) {
  tq_model *a = net(), *b = net();
  tq_model_fold_all_bn(b);
  for (int i = 0; i < tq_model_num_layers(a); i++) {
    tq_model_layer(a, i)->bn_momentum = 0.0f;
    tq_model_layer(b, i)->bn_momentum = 0.0f;
  }
  float x[200];
  tq_rng r;
  tq_rng_seed(&r, 8);
  for (int i = 0; i < 200; i++) x[i] = tq_rng_normal(&r);
  tq_model_forward(a, x, 4, 1, NULL);
  tq_model_forward(b, x, 4, 1, NULL);
  int bns = 0;
  for (int i = 0; i < tq_model_num_layers(a); i++) {
    const tq_layer *la = tq_model_layer(a, i), *lb = tq_model_layer(b, i);
    if (la->type != TQ_L_BATCHNORM) continue;
    CHECK(lb->bn_folded_into >= 0);
    for (size_t c = 0; c < la->gamma.size; c++) {
      CHECK_NEAR(lb->moving_mean.value[c], la->moving_mean.value[c], 1e-4);
      CHECK_NEAR(lb->moving_var.value[c], la->moving_var.value[c], 1e-3 * la->moving_var.value[c]);
    }
    bns++;
  }
  CHECK_EQ_INT(bns, 4);
  /* Frozen: another training batch leaves every folded batch norm's statistics as they are. */
  const tq_layer *bn = tq_model_layer(b, tq_model_find(b, "batch_normalization"));
  float mean0 = bn->moving_mean.value[0], var0 = bn->moving_var.value[0];
  for (int i = 0; i < 200; i++) x[i] = 2.0f * tq_rng_normal(&r) + 1.0f;
  tq_model_freeze_bn_stats(b, 1);
  tq_model_forward(b, x, 4, 1, NULL);
  CHECK(bn->moving_mean.value[0] == mean0 && bn->moving_var.value[0] == var0);
  tq_model_freeze_bn_stats(b, 0);
  tq_model_forward(b, x, 4, 1, NULL);
  CHECK(bn->moving_mean.value[0] != mean0 && bn->moving_var.value[0] != var0);
  tq_model_free(a);
  tq_model_free(b);
}

/* A quantized non-linear activation (Keras imports quantize Activation('relu') layers) recomputes
 * its output in the model's scratch during backward: scratch must hold it even in a model without
 * convolutions (ASan caught a heap overflow on an imported MobileNet). The gradient passes where
 * the ReLU is open. */
static void quantized_relu_activation_backward(void) {
  tq_model *m = tq_model_new("dense_relu", (tq_shape3){1, 1, 8});
  int x = tq_dense(m, 0, 64);
  int a = tq_activation(m, x, TQ_ACT_RELU);
  x = tq_dense(m, a, 2);
  CHECK(tq_model_finalize(m, 4, TQ_INIT_GLOROT_UNIFORM, 5) == TQ_OK);
  tq_quantizer q;
  CHECK(tq_quantizer_parse(&q, "quantized_bits_featuremap(8,8,1,1,alpha='auto',scale_axis=0)") == TQ_OK);
  CHECK(tq_layer_set_act_quantizer(m, a, &q) == TQ_OK);
  float in[32], w[8];
  for (int i = 0; i < 32; i++) in[i] = (float)((i * 13) % 7) / 3.0f - 1.0f;
  for (int i = 0; i < 8; i++) w[i] = 1.0f;
  tq_model_forward(m, in, 4, 1, NULL);
  tq_model_zero_grad(m);
  tq_model_backward(m, w, 4);
  const tq_layer *d = tq_model_layer(m, x), *r = tq_model_layer(m, a), *d0 = tq_model_layer(m, 1);
  int open = 0, closed_zero = 1;
  for (int i = 0; i < 4 * 64; i++) {
    if (d0->out[i] > 0) open++;
    else closed_zero &= d0->dout[i] == 0.0f;
  }
  CHECK(open > 0 && closed_zero);
  CHECK(r->out[0] >= 0.0f && d->out != NULL);
  tq_model_free(m);
}

int main(void) {
  quantized_relu_activation_backward();
  folded_training_matches_float_training();
  folded_bn_statistics();
  po2_floor();
  spec_example();
  folding_matches_unfolded();
  fold_gradients();
  quantized_weights_used();
  TEST_MAIN_END();
}
