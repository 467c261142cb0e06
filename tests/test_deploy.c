/* Integer deployment: the lowered model computes what the fake-quantized model with the same
 * static scales computes (its static-mode forward simulates the lowering's rounding), the
 * agreement check finds a broken layer, the memory plan never overlaps live tensors, the generated
 * C gives the integer graph's codes, and models that cannot be lowered are refused. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deploy/dmodel.h"
#include "nn/simulate.h"
#include "tinyq/qconfig.h"
#include "tq_test.h"

/* Finalizes m for batches of 64 (Glorot weights from init_seed) and draws biases (normal, mean
 * bias_mean, deviation bias_sd) and batch-norm parameters and statistics from seed. */
static void finalize_random(tq_model *m, uint64_t init_seed, uint64_t seed, float bias_mean,
                            float bias_sd) {
  CHECK(tq_model_finalize(m, 64, TQ_INIT_GLOROT_UNIFORM, init_seed) == TQ_OK);
  tq_rng r;
  tq_rng_seed(&r, seed);
  for (int i = 0; i < tq_model_num_layers(m); i++) {
    tq_layer *l = tq_model_layer(m, i);
    for (size_t k = 0; k < l->bias.size; k++) l->bias.value[k] = bias_mean + bias_sd * tq_rng_normal(&r);
    for (size_t k = 0; k < l->gamma.size; k++) {
      l->gamma.value[k] = 0.7f + 0.6f * tq_rng_uniform(&r);
      l->beta.value[k] = 0.2f * tq_rng_normal(&r);
      l->moving_mean.value[k] = 0.1f * tq_rng_normal(&r);
      l->moving_var.value[k] = 0.5f + tq_rng_uniform(&r);
    }
  }
}

/* A small network with every construct the zoo uses: input slot, conv+BN+ReLU, depthwise,
 * residual add, average pool, dense. Variants: ZEROPAD, the depthwise's 'same' padding is a
 * ZeroPadding2D layer before a 'valid' depthwise instead (MobileNetV2's block_N_pad); RESHAPE,
 * the pool is a global average over the sum reshaped from 5x4x6 to 10x4x3; STEM_PAD, the first conv
 * is 'valid' after a ZeroPadding2D of the input slot (EfficientNet's stem_conv_pad), and the inputs
 * are all far above 0, so that real 0 — the padding — lies outside the input's codes. */
enum { ZEROPAD = 1, RESHAPE = 2, STEM_PAD = 4 };
static tq_model *net(tq_act middle, int variant) {
  const int zeropad = variant & ZEROPAD;
  tq_model *m = tq_model_new("deploy_net", (tq_shape3){9, 7, 2});
  int x = tq_activation(m, 0, TQ_ACT_LINEAR);
  int c = variant & STEM_PAD ? tq_conv2d(m, tq_zeropad(m, x, 1, 1, 1, 1), 6, 3, 3, 2, 2, TQ_PAD_VALID)
                             : tq_conv2d(m, x, 6, 3, 3, 2, 2, TQ_PAD_SAME);
  c = tq_batchnorm(m, c);
  c = tq_relu(m, c, 0);
  int s = tq_activation(m, c, middle);
  int d = zeropad ? tq_depthwise(m, tq_zeropad(m, s, 1, 1, 1, 1), 3, 3, 1, 1, TQ_PAD_VALID, 1)
                  : tq_depthwise(m, s, 3, 3, 1, 1, TQ_PAD_SAME, 1);
  d = tq_batchnorm(m, d);
  d = tq_relu(m, d, 6.0f);
  d = tq_activation(m, d, TQ_ACT_LINEAR);
  int p = tq_conv2d(m, d, 6, 1, 1, 1, 1, TQ_PAD_SAME);
  p = tq_batchnorm(m, p);
  int a = tq_add(m, p, s);
  a = tq_relu(m, a, 0);
  a = tq_activation(m, a, TQ_ACT_LINEAR);
  a = variant & RESHAPE ? tq_gap(m, tq_reshape(m, a, 10, 4, 3))
                        : tq_avgpool(m, a, 5, 4, 5, 4, TQ_PAD_VALID);
  a = tq_activation(m, a, TQ_ACT_LINEAR);
  a = tq_flatten(m, a);
  a = tq_dense(m, a, 5);
  a = tq_activation(m, a, TQ_ACT_LINEAR);
  CHECK(a > 0);
  finalize_random(m, 5, 8, 0, 0.2f);
  return m;
}

static float *samples(int n, uint64_t seed) {
  float *x = tq_alloc_floats((size_t)n * 126);
  tq_rng r;
  tq_rng_seed(&r, seed);
  for (int i = 0; i < n * 126; i++) x[i] = tq_rng_normal(&r);
  return x;
}

/* The generated C (tq_deploy_emit_c), compiled with cc -std=c99, gives the codes tq_deploy_run gave
 * for the first n samples of x (skipped without a C compiler, or outside ctest, which sets TQ_SRC). */
static void check_emitted_c(const tq_dmodel *d, const float *x, int n, const int32_t *codes) {
  const char *src = getenv("TQ_SRC");
  char dir[] = "/tmp/tq_test_deploy_XXXXXX", cmd[4096], rt[2048];
  if (!src || system("command -v cc > /dev/null 2>&1") != 0) {
    printf("  emitted C: skipped (no cc, or TQ_SRC unset)\n");
    return;
  }
  CHECK(mkdtemp(dir) != NULL);
  snprintf(rt, sizeof rt, "%s/runtime", src);
  tq_status st = tq_deploy_emit_c(d, dir, rt);
  if (st) fprintf(stderr, "emit: %s\n", tq_last_error());
  CHECK(st == TQ_OK);
  snprintf(cmd, sizeof cmd, "%s/in.f32", dir);
  FILE *f = fopen(cmd, "wb");
  CHECK(f && fwrite(x, sizeof(float) * tq_deploy_input_size(d), (size_t)n, f) == (size_t)n);
  if (f) fclose(f);
  snprintf(cmd, sizeof cmd,
           "cd %s && make -s CC=cc CFLAGS='-std=c99 -O0 -Wall -Wextra -Werror' > build.txt 2>&1 && "
           "./model_test in.f32 > codes.txt",
           dir);
  CHECK(system(cmd) == 0);
  snprintf(cmd, sizeof cmd, "%s/codes.txt", dir);
  f = fopen(cmd, "r");
  const size_t k = tq_deploy_output_size(d);
  int bad = !f;
  for (size_t i = 0; f && i < (size_t)n * k; i++) {
    long v;
    bad += fscanf(f, "%ld", &v) != 1 || v != codes[i];
  }
  if (f) fclose(f);
  CHECK(bad == 0);
  printf("  emitted C: %s on %d samples\n", bad ? "DIFFERS" : "the same codes", n);
  /* A runtime source including a header the export would not copy is refused, naming both. */
  snprintf(cmd, sizeof cmd,
           "mkdir %s/rt && cp -r %s/* %s/rt/ && echo '#include \"extra.h\"' >> %s/rt/tq_rt_act.c", dir,
           rt, dir, dir);
  CHECK(system(cmd) == 0);
  snprintf(rt, sizeof rt, "%s/rt", dir);
  snprintf(cmd, sizeof cmd, "%s/out2", dir);
  CHECK(tq_deploy_emit_c(d, cmd, rt) != TQ_OK);
  CHECK(strstr(tq_last_error(), "tq_rt_act.c includes \"extra.h\"") != NULL);
  CHECK(access(cmd, F_OK) != 0); /* nothing written */
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0);
}

/* m with static scales calibrated on 256 samples, lowered (NULL, after a failed check, if not). */
static tq_dmodel *lower_static(tq_model *m, const float *calib) {
  CHECK(tq_model_calibrate(m, calib, 256) == TQ_OK);
  CHECK(tq_model_set_static(m, 1, TQ_RANGE_SPEC) == TQ_OK);
  tq_dmodel *d = NULL;
  tq_status st = tq_deploy_lower(&d, m);
  if (st) fprintf(stderr, "lower: %s\n", tq_last_error());
  CHECK(st == TQ_OK && d);
  return d;
}

/* Lowers m under `config` and compares the integer outputs with the static fake-quant forward. */
static void compare(const char *config, int flat, const char *alpha, double min_agree, int variant) {
  const int zeropad = variant & ZEROPAD;
  tq_model *m = net(TQ_ACT_LINEAR, variant);
  tq_status st = config ? tq_qconfig_apply_json(m, config, "test") : tq_qconfig_apply_flat(m, flat, alpha);
  CHECK(st == TQ_OK);
  const int n = 64;
  float *calib = samples(256, 1), *x = samples(n, 2);
  if (variant & STEM_PAD) /* inputs in about [6, 14]: the input slot's zero point is far below its codes */
    for (int i = 0; i < 256 * 126; i++) {
      calib[i] = 10.0f + fmaxf(-4.0f, fminf(4.0f, calib[i]));
      if (i < n * 126) x[i] = 10.0f + fmaxf(-4.0f, fminf(4.0f, x[i]));
    }
  tq_dmodel *d = lower_static(m, calib);
  if (!d) return;
  int32_t codes[64 * 5];
  float yi[64 * 5], yf[64 * 5];
  CHECK(tq_deploy_run(d, x, n, codes, yi) == TQ_OK);
  memcpy(yf, tq_model_forward(m, x, n, 0, NULL), sizeof yf);
  const dtensor *out = &d->t[d->output];
  int agree = 0;
  double maxdiff = 0;
  for (int i = 0; i < n; i++) {
    int bi = 0, bf = 0;
    for (int j = 1; j < 5; j++) {
      if (yi[i * 5 + j] > yi[i * 5 + bi]) bi = j;
      if (yf[i * 5 + j] > yf[i * 5 + bf]) bf = j;
    }
    agree += bi == bf;
    for (int j = 0; j < 5; j++) maxdiff = fmax(maxdiff, fabs(yi[i * 5 + j] - yf[i * 5 + j]));
  }
  /* The static-mode forward simulates the lowering: the same codes, up to float rounding of
   * accumulators too wide for a float (16 bits), which may move a value by one step. */
  printf("%-40s agree %d/%d, max |diff| %.4g (%.1f output steps)%s\n", config ? "config" : alpha,
         agree, n, maxdiff, maxdiff / out->scale,
         zeropad ? ", ZeroPadding2D" : variant & RESHAPE ? ", Reshape" : variant & STEM_PAD ? ", stem pad" : "");
  CHECK(agree >= min_agree * n);
  CHECK(maxdiff <= 1.0001 * out->scale + 1e-6);

  /* Tensor by tensor: no value more than one step apart. */
  tq_agreement a = {0};
  int32_t codes2[64 * 5];
  CHECK(tq_deploy_agreement(&a, d, m, x, n, codes2, NULL) == TQ_OK);
  CHECK(memcmp(codes2, codes, sizeof codes) == 0); /* the integer run of tq_deploy_run */
  CHECK(a.samples == n && a.values == n * 5);
  CHECK(tq_agreement_first_divergence(&a) == -1);
  CHECK(tq_agreement_ok(&a, 1));
  CHECK(a.max_step <= 1);
  tq_agreement_free(&a);
  /* A broken lowering (the biases of one layer moved by 40 * 2^20 accumulator steps) is caught at
   * its own layer, not before and not only at the output. */
  dop *broken = NULL;
  for (int k = 0; k < d->nops; k++)
    if (!strcmp(d->ops[k].layer, "conv2d_1")) broken = &d->ops[k];
  CHECK(broken != NULL);
  if (broken) {
    for (int c = 0; c < 6; c++) {
      if (broken->acc64)
        ((int64_t *)broken->bias)[c] += 40LL << 20;
      else
        ((int32_t *)broken->bias)[c] += 40 << 20;
    }
    CHECK(tq_deploy_agreement(&a, d, m, x, n, NULL, NULL) == TQ_OK);
    int first = tq_agreement_first_divergence(&a);
    CHECK(first >= 0 && !strcmp(a.tensors[first].op, "conv2d_1"));
    if (first >= 0) printf("  broken bias found at %s (tensor %s)\n", a.tensors[first].op, a.tensors[first].name);
    tq_agreement_free(&a);
    for (int c = 0; c < 6; c++) {
      if (broken->acc64)
        ((int64_t *)broken->bias)[c] -= 40LL << 20;
      else
        ((int32_t *)broken->bias)[c] -= 40 << 20;
    }
  }
  if (variant & RESHAPE) check_emitted_c(d, x, 8, codes); /* GAP over the reshaped plane */
  if (zeropad) { /* the padding is an operation of its own, and the generated C runs it too */
    int pads = 0;
    for (int k = 0; k < d->nops; k++) pads += d->ops[k].kind == D_PAD;
    CHECK(pads == 1);
    check_emitted_c(d, x, 8, codes);
  }
  if (variant & STEM_PAD) { /* no pad value fits the codes: the conv pads by the zero point itself */
    int pads = 0;
    for (int k = 0; k < d->nops; k++) pads += d->ops[k].kind == D_PAD;
    const dtensor *in = &d->t[d->input];
    printf("  input zero point %d, codes [%d, %d], pad operations %d\n", in->zp, in->qmin, in->qmax, pads);
    CHECK(pads == 0 && in->zp < in->qmin);
    check_emitted_c(d, x, 8, codes);
  }
  /* The same integers on every run, and batch size does not matter. */
  int32_t one[5];
  CHECK(tq_deploy_run(d, x + 3 * 126, 1, one, NULL) == TQ_OK);
  CHECK(memcmp(one, codes + 15, sizeof one) == 0);

  /* The plan: tensors alive at the same time never overlap, and the arena holds them all. */
  for (int a = 0; a < d->nt; a++)
    for (int b = a + 1; b < d->nt; b++) {
      const dtensor *A = &d->t[a], *B = &d->t[b];
      if (A->first_op < 0 || B->first_op < 0) continue;
      int alive = !(A->last_op < B->first_op || B->last_op < A->first_op);
      size_t ea = A->offset + A->size * (size_t)(A->bits / 8), eb = B->offset + B->size * (size_t)(B->bits / 8);
      if (alive) CHECK(ea <= B->offset || eb <= A->offset);
      CHECK(ea <= d->arena && eb <= d->arena);
    }
  tq_deploy_free(d);
  tq_free(calib);
  tq_free(x);
  tq_model_free(m);
}

/* ---- EfficientNet's block: conv+BN -> swish -> squeeze-excite (GAP -> dense -> swish -> dense ->
 * sigmoid -> Multiply) -> 1x1 conv+BN (project, reading the product without a quantizer of its own,
 * as in Keras' EfficientNet) -> GAP -> dense 5. Variants: SE_CONV, the excite path as Keras builds
 * it (Reshape (1,1,C), 1x1 convs); SE_SLOT, a linear slot after the Multiply; SE_BARE_SWISH, the
 * first swish without a quantizer of its own, a linear slot after it fixing its table's output;
 * SE_PRE_SLOT, a linear slot between the conv and the first swish (the table's input tensor). */
enum { SE_CONV = 1, SE_SLOT = 2, SE_BARE_SWISH = 4, SE_PRE_SLOT = 8 };
static tq_model *se_net(int variant) {
  tq_model *m = tq_model_new("se_net", (tq_shape3){9, 7, 2});
  int x = tq_activation(m, 0, TQ_ACT_LINEAR);
  x = tq_batchnorm(m, tq_conv2d(m, x, 8, 3, 3, 1, 1, TQ_PAD_SAME));
  if (variant & SE_PRE_SLOT) x = tq_activation(m, x, TQ_ACT_LINEAR);
  x = tq_activation(m, x, TQ_ACT_SWISH);
  if (variant & SE_BARE_SWISH) x = tq_activation(m, x, TQ_ACT_LINEAR);
  int s = tq_gap(m, x);
  if (variant & SE_CONV) {
    s = tq_reshape(m, s, 1, 1, 8);
    s = tq_activation(m, tq_conv2d(m, s, 4, 1, 1, 1, 1, TQ_PAD_SAME), TQ_ACT_SWISH);
    s = tq_activation(m, tq_conv2d(m, s, 8, 1, 1, 1, 1, TQ_PAD_SAME), TQ_ACT_SIGMOID);
  } else {
    s = tq_activation(m, tq_dense(m, s, 4), TQ_ACT_SWISH);
    s = tq_activation(m, tq_dense(m, s, 8), TQ_ACT_SIGMOID);
  }
  int y = tq_multiply(m, x, s);
  if (variant & SE_SLOT) y = tq_activation(m, y, TQ_ACT_LINEAR);
  y = tq_batchnorm(m, tq_conv2d(m, y, 6, 1, 1, 1, 1, TQ_PAD_SAME));
  y = tq_activation(m, tq_gap(m, tq_activation(m, y, TQ_ACT_LINEAR)), TQ_ACT_LINEAR);
  y = tq_activation(m, tq_dense(m, y, 5), TQ_ACT_LINEAR);
  CHECK(y > 0);
  finalize_random(m, 11, 12, 0.5f, 1.0f); /* wide biases: sigmoid gates spread over (0, 1) */
  return m;
}

/* The tables against the functions (tq_rt.h's bounds): int8 input, one rounding (s_Y / 2, the
 * QKeras rounding's offset aside); int16 input, two roundings plus linear interpolation
 * h^2/8 max|f''| (h = 2^k s_X; max|f''| 0.0962 for sigmoid, 0.5 for swish) plus the saturated ends
 * (|f| or |1 - f| < 2e-6 beyond -16 and, for sigmoid, 16). */
static void check_lut_tables(void) {
  static const struct {
    tq_act act;
    double sx;
    int32_t zx, xmin, xmax;
    double sy;
    int32_t zy, ymin, ymax;
  } cases[] = {
      {TQ_ACT_SIGMOID, 1.0 / 16, 0, -127, 127, 1.0 / 128, 0, -127, 127},
      {TQ_ACT_SWISH, 0.07, 5, -127, 127, 0.06, -100, -127, 127},
      {TQ_ACT_SWISH, 1.0 / 8, 0, -7, 7, 1.0 / 8, 0, -7, 7}, /* 4-bit codes in int8 */
      {TQ_ACT_SIGMOID, 1.0 / 2048, 0, -32767, 32767, 1.0 / 32768, 0, -32767, 32767},
      {TQ_ACT_SIGMOID, 1.0 / 256, 300, -32767, 32767, 1.0 / 40000, -20000, -32767, 32767},
      {TQ_ACT_SWISH, 1.0 / 2048, 0, -32767, 32767, 1.0 / 2048, 0, -32767, 32767},
      {TQ_ACT_SWISH, 3e-4, -7, -32767, 32767, 3.1e-4, 0, -32767, 32767},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const int wide = cases[c].xmax > 127;
    tq_lut lut;
    CHECK(tq_lut_make(&lut, cases[c].act, cases[c].sx, cases[c].zx, cases[c].xmin, cases[c].xmax, wide,
                      cases[c].sy, cases[c].zy, cases[c].ymin, cases[c].ymax));
    const double h = ldexp(cases[c].sx, lut.k), f2 = cases[c].act == TQ_ACT_SIGMOID ? 0.0962 : 0.5;
    const double bound = wide ? cases[c].sy + h * h / 8 * f2 + 2e-6 : cases[c].sy / 2 + 1e-4 * cases[c].sy;
    double worst = 0;
    for (int32_t q = cases[c].xmin; q <= cases[c].xmax; q++) {
      const double xr = cases[c].sx * (q - cases[c].zx);
      const double f = cases[c].act == TQ_ACT_SIGMOID ? 1 / (1 + exp(-xr)) : xr / (1 + exp(-xr));
      const double lo = cases[c].sy * (cases[c].ymin - cases[c].zy), hi = cases[c].sy * (cases[c].ymax - cases[c].zy);
      if (f < lo || f > hi) continue; /* clamped by the output's range */
      worst = fmax(worst, fabs(cases[c].sy * (tq_lut_code(&lut, q) - cases[c].zy) - f));
    }
    printf("table %-7s %s s_X %.3g s_Y %.3g: ", cases[c].act == TQ_ACT_SIGMOID ? "sigmoid" : "swish",
           wide ? "int16" : "int8", cases[c].sx, cases[c].sy);
    if (wide) printf("window from code %d, 2^%d codes a segment; ", lut.x_min, lut.k);
    printf("max error %.3g (bound %.3g)\n", worst, bound);
    CHECK(worst <= bound);
  }
}

/* Lowers the SE block under a flat width or a configuration: every tensor, the sigmoid/swish
 * tables and the channel multiply included, has the fake-quant model's codes exactly; the
 * generated C has the integer model's. */
static void se_compare(const char *config, int flat, const char *alpha, int variant, int emit) {
  tq_model *m = se_net(variant);
  tq_status st = config ? tq_qconfig_apply_json(m, config, "test") : tq_qconfig_apply_flat(m, flat, alpha);
  CHECK(st == TQ_OK);
  if (variant & SE_BARE_SWISH) {
    tq_quantizer none = {0};
    CHECK(tq_layer_set_act_quantizer(m, tq_model_find(m, "activation_1"), &none) == TQ_OK);
  }
  const int n = 64;
  float *calib = samples(256, 4), *x = samples(n, 5);
  tq_dmodel *d = lower_static(m, calib);
  if (!d) return;
  int luts = 0, muls = 0;
  char kinds[256] = "";
  for (int k = 0; k < d->nops; k++) {
    const dop *o = &d->ops[k];
    if (o->kind != D_LUT && o->kind != D_MUL) continue;
    luts += o->kind == D_LUT;
    muls += o->kind == D_MUL;
    if (!strstr(kinds, tq_dop_kernel_name(d, o)))
      snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), " %s", tq_dop_kernel_name(d, o));
  }
  CHECK(luts == 3 && muls == 1);
  tq_agreement a = {0};
  int32_t codes[64 * 5];
  CHECK(tq_deploy_agreement(&a, d, m, x, n, codes, NULL) == TQ_OK);
  long worst = 0, values = 0;
  for (int t = 0; t < a.ntensors; t++) {
    values += a.tensors[t].values;
    if (a.tensors[t].max_step > worst) worst = a.tensors[t].max_step;
    if (a.tensors[t].max_step)
      fprintf(stderr, "  %s (op %s): %ld steps\n", a.tensors[t].name, a.tensors[t].op, a.tensors[t].max_step);
  }
  printf("SE %s %-8s%s%s%s%s: top-1 %ld/%ld, %ld tensor values, largest difference %ld;%s\n",
         config ? "mixed" : flat == 4 ? "4-bit" : flat == 8 ? "8-bit" : "16-bit", config ? "" : alpha, variant & SE_CONV ? " 1x1-conv excite" : "",
         variant & SE_SLOT ? " +slot" : "", variant & SE_BARE_SWISH ? " bare-swish" : "",
         variant & SE_PRE_SLOT ? " pre-slot" : "", a.top1_same, a.samples, values, worst, kinds);
  CHECK(worst == 0 && a.max_step == 0 && a.top1_same == a.samples);
  tq_agreement_free(&a);
  if (emit) check_emitted_c(d, x, 16, codes);
  tq_deploy_free(d);
  tq_free(calib);
  tq_free(x);
  tq_model_free(m);
}

static void expect_refusal(tq_model *m, const char *needle) {
  tq_dmodel *d = NULL;
  CHECK(tq_deploy_lower(&d, m) != TQ_OK);
  CHECK(d == NULL);
  if (!strstr(tq_last_error(), needle)) fprintf(stderr, "'%s' lacks '%s'\n", tq_last_error(), needle);
  CHECK(strstr(tq_last_error(), needle) != NULL);
}

/* ---- The planner on MobileNetV1's first blocks (alpha 0.25, 8 bits): input 96x96x3 -> conv s2
 * 48x48x8 -> depthwise 48x48x8 -> pointwise 48x48x16 -> depthwise s2 24x24x16. Largest-first
 * placement leaves a 9,216-byte hole (64,512 B); the plan must reach the lower bound, the bytes
 * alive during the pointwise conv (18,432 + 36,864 = 55,296, MLPerf Tiny's computed peak), and
 * keep tensors alive together apart. Residual adds read two tensors: a branch kept alive over a
 * block must not be overwritten. */
static void check_plan(void) {
  static const size_t chain[] = {96 * 96 * 3, 48 * 48 * 8, 48 * 48 * 8, 48 * 48 * 16, 24 * 24 * 16};
  enum { N = sizeof chain / sizeof chain[0] };
  for (int residual = 0; residual < 2; residual++) {
    dtensor t[N];
    dop ops[N];
    memset(t, 0, sizeof t);
    memset(ops, 0, sizeof ops);
    for (int i = 0; i < N; i++) {
      t[i].bits = 8;
      t[i].size = chain[i];
      ops[i].kind = i ? D_CONV : D_QUANTIZE;
      ops[i].in0 = i - 1;
      ops[i].in1 = -1;
      ops[i].out = i;
    }
    if (residual) { /* the last op also reads tensor 1: it stays alive to the end */
      ops[N - 1].kind = D_ADD;
      ops[N - 1].in1 = 1;
    }
    tq_dmodel d;
    memset(&d, 0, sizeof d);
    snprintf(d.arch, sizeof d.arch, "plan test");
    d.t = t, d.nt = N, d.ops = ops, d.nops = N, d.input = 0, d.output = N - 1;
    CHECK(tq_deploy_plan(&d) == TQ_OK);
    CHECK(d.arena == (residual ? 18432 + 18432 + 36864 : 55296));
    for (int a = 0; a < N; a++)
      for (int b = a + 1; b < N; b++) {
        int alive = !(t[a].last_op < t[b].first_op || t[b].last_op < t[a].first_op);
        if (alive) CHECK(t[a].offset + t[a].size <= t[b].offset || t[b].offset + t[b].size <= t[a].offset);
        CHECK(t[a].offset + t[a].size <= d.arena && t[b].offset + t[b].size <= d.arena);
      }
  }
}

int main(void) {
  check_plan();
  compare(NULL, 8, "auto_po2", 1.0, 0);  /* shifts only */
  compare(NULL, 16, "auto_po2", 1.0, 0); /* int16 activations and weights */
  compare(NULL, 8, "auto", 1.0, 0);      /* fixed-point multipliers */
  compare(NULL, 4, "auto_po2", 1.0, 0);  /* 4-bit packed weights and activations */
  compare(NULL, 4, "auto", 1.0, 0);
  /* Mixed precision as the study's configurations mix it. */
  compare("{\"Conv2D\": {\"kernel_quantizer\": \"quantized_bits(4,4,1,alpha='auto_po2')\","
          "  \"bias_quantizer\": \"quantized_bits(16,16,1,alpha='auto_po2')\"},"
          " \"DepthwiseConv2D\": {\"kernel_quantizer\": \"quantized_bits(8,8,1,alpha='auto_po2')\","
          "  \"bias_quantizer\": \"quantized_bits(31,31,1,alpha='auto_po2')\"},"
          " \"Dense\": {\"kernel_quantizer\": \"quantized_bits(16,16,1,alpha='auto_po2')\","
          "  \"bias_quantizer\": \"quantized_bits(31,31,1,alpha='auto_po2')\"},"
          " \"Activation\": \"quantized_bits_featuremap(8,8,1,1,alpha='auto_po2',scale_axis=0)\","
          " \"activation_2\": \"quantized_bits_featuremap(16,16,1,1,alpha='auto_po2',scale_axis=0)\"}",
          0, NULL, 1.0, 0);
  /* ZeroPadding2D: its own operation (tq_rt_pad_s8/s16), in int8, int16 and with multipliers. */
  compare(NULL, 8, "auto_po2", 1.0, ZEROPAD);
  compare(NULL, 16, "auto_po2", 1.0, ZEROPAD);
  compare(NULL, 8, "auto", 1.0, ZEROPAD);
  /* A ZeroPadding2D of inputs whose range excludes 0: folded into the conv (16 bits: the EfficientNet
   * search's best in the README, through tinyq eval --integer --compare). */
  compare(NULL, 8, "auto_po2", 1.0, STEM_PAD);
  compare(NULL, 8, "auto", 1.0, STEM_PAD);
  /* Reshape: an alias of its input's tensor, read by a GAP with the reshaped plane. */
  compare(NULL, 8, "auto_po2", 1.0, RESHAPE);
  compare(NULL, 8, "auto", 1.0, RESHAPE);

  /* Sigmoid and swish tables and the squeeze-excite multiply: shifts, multipliers, int8 tables
   * (256 entries), int16 interpolated tables (257), 4-bit codes, and widths mixed across a table. */
  check_lut_tables();
  se_compare(NULL, 8, "auto_po2", 0, 1);
  se_compare(NULL, 8, "auto", SE_CONV, 1);
  se_compare(NULL, 16, "auto_po2", SE_CONV, 1);
  se_compare(NULL, 16, "auto", 0, 1);
  se_compare(NULL, 4, "auto_po2", 0, 0);
  se_compare(NULL, 4, "auto", SE_SLOT, 0);
  se_compare(NULL, 8, "auto", SE_SLOT | SE_BARE_SWISH, 1);
  se_compare(NULL, 16, "auto_po2", SE_SLOT | SE_BARE_SWISH, 0);
  /* an 8-bit tensor into a 16-bit swish (lut_s8_s16); 16-bit tensors into an 8-bit sigmoid */
  se_compare("{\"Conv2D\": {\"kernel_quantizer\": \"quantized_bits(8,8,1,alpha='auto_po2')\","
             "  \"bias_quantizer\": \"quantized_bits(16,16,1,alpha='auto_po2')\"},"
             " \"Dense\": {\"kernel_quantizer\": \"quantized_bits(8,8,1,alpha='auto')\","
             "  \"bias_quantizer\": \"quantized_bits(16,16,1,alpha='auto')\"},"
             " \"Activation\": \"quantized_bits_featuremap(8,8,1,1,alpha='auto',scale_axis=0)\","
             " \"activation_2\": \"quantized_bits_featuremap(16,16,1,1,alpha='auto',scale_axis=0)\","
             " \"activation_3\": \"quantized_bits_featuremap(16,16,1,1,alpha='auto_po2',scale_axis=0)\"}",
             0, NULL, SE_PRE_SLOT, 1);

  /* Refusals, each naming the layer and the reason. */
  tq_model *m = net(TQ_ACT_LINEAR, 0);
  expect_refusal(m, "no quantizers");
  CHECK(tq_qconfig_apply_flat(m, 8, "auto_po2") == TQ_OK);
  expect_refusal(m, "not static");
  float *calib = samples(32, 3);
  CHECK(tq_model_calibrate(m, calib, 32) == TQ_OK);
  CHECK(tq_model_set_static(m, 1, TQ_RANGE_SPEC) == TQ_OK);
  tq_quantizer none = {0};
  tq_layer_set_quantizers(m, tq_model_find(m, "conv2d_1"), &none, &none);
  expect_refusal(m, "conv2d_1: float kernel");
  tq_quantizer wide;
  CHECK(tq_quantizer_parse(&wide, "quantized_bits(24,0,1,alpha='auto_po2')") == TQ_OK);
  tq_layer_set_quantizers(m, tq_model_find(m, "conv2d_1"), &wide, &none);
  expect_refusal(m, "24-bit weights are beyond the runtime");
  tq_model_free(m);
  m = net(TQ_ACT_SWISH, 0);
  CHECK(tq_qconfig_apply_flat(m, 8, "auto_po2") == TQ_OK);
  CHECK(tq_model_calibrate(m, calib, 32) == TQ_OK);
  CHECK(tq_model_set_static(m, 1, TQ_RANGE_SPEC) == TQ_OK);
  tq_dmodel *d = NULL;
  CHECK(tq_deploy_lower(&d, m) == TQ_OK); /* swish: a table */
  tq_deploy_free(d);
  tq_model_free(m);
  tq_free(calib);
  TEST_MAIN_END();
}
