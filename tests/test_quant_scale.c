/* auto / auto_po2 / featuremap scales on realistic layouts, against a plain reference written
 * straight from SPEC §1 (one strided loop per group, element order), plus the integer-code form
 * and static (deployment) parameters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tinyq/quant.h"
#ifdef _OPENMP
#include <omp.h>
#endif
#include "tq_test.h"

/* ---- reference ----------------------------------------------------------------------------- */

static size_t numel(const int *dims, int rank) {
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
  return n;
}

/* Group of element i: rank 1 -> 0; else the index along the kept axis. */
static size_t group_of(size_t i, const int *dims, int rank, int keep) {
  if (rank == 1) return 0;
  int k = keep < 0 ? rank - 1 : keep;
  size_t stride = 1;
  for (int a = k + 1; a < rank; a++) stride *= (size_t)dims[a];
  return (i / stride) % (size_t)dims[k];
}

static size_t ngroups(const int *dims, int rank, int keep) {
  if (rank == 1) return 1;
  return (size_t)dims[keep < 0 ? rank - 1 : keep];
}

static double ref_po2(double s) { return pow(2.0, nearbyint(log2(s + 1e-7))); }

static double ref_zcode(double a, double s, double H) {
  double z = floor(a / s + 0.5);
  return z < H ? z : H;
}

/* quantized_bits, alpha 'auto'/'auto_po2' (SPEC §1.1). */
static void ref_bits_auto(const tq_quantizer *q, float *out, float *steps, const float *x,
                          const int *dims, int rank) {
  size_t n = numel(dims, rank), G = ngroups(dims, rank, q->scale_axis);
  double H = pow(2, q->bits - 1) - 1, L = 2 * H, mi = pow(2, q->integer);
  int po2 = q->alpha_mode == TQ_ALPHA_AUTO_PO2;
  for (size_t g = 0; g < G; g++) {
    double amax = 0;
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++)
      if (group_of(i, dims, rank, q->scale_axis) == g) {
        double y = fabs((double)x[i] / mi);
        if (y > amax) amax = y;
        cnt++;
      }
    double s = 2 * amax / L;
    if (po2) s = ref_po2(s);
    if (po2 && rank > 1) {
      for (int it = 0; it < 5; it++) {
        double yz = 0, zz = 0;
        for (size_t i = 0; i < n; i++)
          if (group_of(i, dims, rank, q->scale_axis) == g) {
            double y = (double)x[i] / mi;
            double z = ref_zcode(fabs(y), s, H) * (y < 0 ? -1 : 1);
            yz += y * z, zz += z * z;
          }
        s = ref_po2((yz / (double)cnt) / (zz / (double)cnt + 1e-7));
      }
    }
    for (size_t i = 0; i < n; i++) {
      if (group_of(i, dims, rank, q->scale_axis) != g) continue;
      double y = (double)x[i] / mi, se = s;
      if (po2 && rank == 1) /* per element */
        for (int it = 0; it < 5; it++) {
          double z = ref_zcode(fabs(y), se, H);
          se = ref_po2(fabs(y) * z / (z * z + 1e-7));
        }
      float sf = (float)se;
      /* |y| / s: exact for a power-of-two s; for 'auto' a float32 division, as in QKeras */
      double v = po2 ? fabs(y) / sf : (double)(fabsf((float)y) / sf);
      double z = sf > 0 ? fmin(floor(v + 0.5), H) : 0;
      if (y < 0) z = -z;
      float step = (float)(mi * sf);
      out[i] = (float)((double)step * z) + 0.0f;
      if (steps) steps[po2 && rank == 1 ? i : g] = step;
    }
  }
}

/* quantized_bits_featuremap (SPEC §1.2), codes up to 24 bits. */
static void ref_featuremap(const tq_quantizer *q, float *out, const float *x, const int *dims,
                           int rank) {
  size_t n = numel(dims, rank), G = ngroups(dims, rank, q->scale_axis);
  double bq = pow(2, q->bits - 1) - 1, aq = -bq;
  for (size_t g = 0; g < G; g++) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
      if (group_of(i, dims, rank, q->scale_axis) == g) {
        double v = fabs(x[i]) < 1e-7f ? 0 : x[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
      }
    double s = 2 * fmax(fabs(lo), fabs(hi)) / (bq - aq);
    if (q->alpha_mode == TQ_ALPHA_AUTO_PO2) s = ref_po2(s);
    float sf = (float)s;
    double zp = hi == lo ? 0 : tq_rha((hi * aq - lo * bq) / (hi - lo));
    for (size_t i = 0; i < n; i++) {
      if (group_of(i, dims, rank, q->scale_axis) != g) continue;
      float v = fabsf(x[i]) < 1e-7f ? 0.0f : x[i];
      double z = zp;
      if (sf > 0) {
        /* u in float32 (QKeras), rounded exactly */
        z = tq_rha((double)((v / sf + (float)zp) - 1.526e-5f));
        z = z < aq ? aq : (z > bq ? bq : z);
      }
      out[i] = (float)((double)sf * (z - zp)) + 0.0f;
    }
  }
}

/* ---- random data --------------------------------------------------------------------------- */

static void fill(float *x, size_t n, const int *dims, int rank, tq_rng *r, int zero_group) {
  /* Normal values whose spread varies per last-axis channel (as trained kernels do), with an
   * optional all-zero channel and some exact zeros. */
  int C = dims[rank - 1];
  for (size_t i = 0; i < n; i++) {
    int c = (int)(i % (size_t)C);
    double spread = pow(2.0, (double)(c % 7) - 4.0);
    x[i] = (float)(tq_rng_normal(r) * spread);
    if (tq_rng_below(r, 20) == 0) x[i] = 0.0f;
    if (zero_group && c == 1) x[i] = 0.0f;
  }
}

typedef struct {
  const char *q;
  int rank;
  int dims[4];
} case_t;

static void compare_with_reference(void) {
  static const case_t cases[] = {
      {"quantized_bits(4,0,1,alpha='auto_po2')", 2, {64, 10}},           /* Dense IO */
      {"quantized_bits(8,8,1,alpha='auto_po2')", 4, {3, 3, 8, 16}},      /* Conv HWIO */
      {"quantized_bits(4,4,1,alpha='auto_po2')", 4, {3, 3, 8, 1}},       /* depthwise, M=1 */
      {"quantized_bits(8,0,1,alpha='auto_po2')", 4, {3, 3, 4, 2}},       /* depthwise, M=2 */
      {"quantized_bits(16,16,1,alpha='auto_po2')", 4, {1, 1, 32, 12}},   /* pointwise */
      {"quantized_bits(2,0,1,alpha='auto_po2')", 2, {50, 7}},
      {"quantized_bits(31,0,1,alpha='auto_po2')", 2, {20, 3}},
      {"quantized_bits(4,0,1,alpha='auto')", 2, {64, 10}},
      {"quantized_bits(8,2,1,alpha='auto')", 4, {3, 3, 8, 16}},
      {"quantized_bits(16,16,1,alpha='auto')", 4, {3, 3, 8, 1}},
      {"quantized_bits(4,0,1,alpha='auto_po2',scale_axis=0)", 2, {5, 33}},
      {"quantized_bits(4,0,1,alpha='auto_po2',scale_axis=2)", 4, {3, 3, 8, 16}},
      {"quantized_bits(8,0,1,alpha='auto',scale_axis=1)", 4, {3, 5, 4, 6}},
      {"quantized_bits(16,16,1,alpha='auto_po2')", 1, {40}},             /* bias */
      {"quantized_bits(31,31,1,alpha='auto_po2')", 1, {40}},
      {"quantized_bits(8,0,1,alpha='auto')", 1, {40}},
      {"quantized_bits_featuremap(4,4,1,1,alpha='auto_po2',scale_axis=0)", 4, {4, 5, 5, 3}},
      {"quantized_bits_featuremap(8,8,1,1,alpha='auto',scale_axis=0)", 4, {4, 5, 5, 3}},
      {"quantized_bits_featuremap(16,16,1,1,alpha='auto_po2',scale_axis=0)", 2, {6, 37}},
      {"quantized_bits_featuremap(8,8,1,1,alpha='auto_po2',scale_axis=None)", 4, {4, 5, 5, 3}},
      {"quantized_bits_featuremap(4,4,1,1,alpha='auto',scale_axis=2)", 4, {2, 3, 5, 4}},
      {"quantized_bits_featuremap(8,8,1,1,alpha='auto',scale_axis=0)", 1, {17}},
      /* at or above the size where passes go parallel (TQ_QPAR_MIN = 32768) */
      {"quantized_bits_featuremap(8,8,1,1,alpha='auto_po2',scale_axis=0)", 4, {8, 24, 24, 8}},
      {"quantized_bits_featuremap(4,4,1,1,alpha='auto',scale_axis=None)", 4, {8, 24, 24, 8}},
      {"quantized_bits(8,0,1,alpha='auto_po2')", 4, {3, 3, 64, 64}},
      {"quantized_bits(4,0,1,alpha='auto')", 4, {3, 3, 64, 64}},
      /* one scale over a batch of activations: its passes split into pieces (scale.c, SEG_PIECE) */
      {"quantized_bits_featuremap(8,8,1,1,alpha='auto_po2',scale_axis=None)", 4, {16, 32, 32, 8}},
      {"quantized_bits(8,0,1,alpha='auto',scale_axis=None)", 4, {16, 32, 32, 8}},
  };
  tq_rng r;
  tq_rng_seed(&r, 7);
  int changed_by_refinement = 0;
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const case_t *k = &cases[c];
    tq_quantizer q;
    if (tq_quantizer_parse(&q, k->q) != TQ_OK) {
      fprintf(stderr, "%s\n", tq_last_error());
      tq_test_failures++;
      continue;
    }
    size_t n = numel(k->dims, k->rank);
    size_t ns = tq_quantizer_num_scales(&q, k->dims, k->rank);
    float *x = malloc(n * 4), *got = malloc(n * 4), *want = malloc(n * 4);
    float *steps = malloc((ns + n) * 4), *wsteps = malloc((ns + n) * 4);
    int32_t *codes = malloc(n * 4), *zps = malloc((ns + 1) * 4);
    float *csteps = malloc((ns + 1) * 4);
    for (int rep = 0; rep < 4; rep++) {
      fill(x, n, k->dims, k->rank, &r, rep == 1);
      if (rep == 3) /* non-negative data (after ReLU) */
        for (size_t i = 0; i < n; i++) x[i] = fabsf(x[i]);
      CHECK(tq_quantize_forward(&q, got, steps, x, k->dims, k->rank, 1, NULL) == TQ_OK);
      if (q.kind == TQ_Q_BITS) {
        ref_bits_auto(&q, want, wsteps, x, k->dims, k->rank);
        for (size_t g = 0; g < ns; g++) CHECK(steps[g] == wsteps[g]);
      } else {
        ref_featuremap(&q, want, x, k->dims, k->rank);
      }
      size_t bad = 0;
      for (size_t i = 0; i < n; i++) bad += got[i] != want[i];
      if (bad) {
        fprintf(stderr, "%s rank %d rep %d: %zu of %zu values differ from the reference\n", k->q,
                k->rank, rep, bad, n);
        tq_test_failures++;
      }
      /* Integer codes reproduce the forward bit-exactly: out = step[g] * (code - zp[g]). */
      CHECK(tq_quantize_codes(&q, codes, csteps, zps, x, k->dims, k->rank) == TQ_OK);
      size_t mism = 0;
      int keep = q.kind == TQ_Q_BITS_FEATUREMAP || q.kind == TQ_Q_BITS ? q.scale_axis : -1;
      int per_elem = q.kind == TQ_Q_BITS && k->rank == 1 && q.alpha_mode == TQ_ALPHA_AUTO_PO2;
      int32_t cmax = (int32_t)(pow(2, q.bits - 1) - 1);
      for (size_t i = 0; i < n; i++) {
        size_t g = per_elem ? i : group_of(i, k->dims, k->rank, keep);
        float v = (float)((double)csteps[g] * ((double)codes[i] - zps[g])) + 0.0f;
        mism += v != got[i];
        if (codes[i] < -cmax || codes[i] > cmax) mism++;
      }
      if (mism) {
        fprintf(stderr, "%s: %zu codes do not reproduce the forward\n", k->q, mism);
        tq_test_failures++;
      }
      /* The refinement must actually move some scales on this data (coverage of step 2). */
      if (q.kind == TQ_Q_BITS && q.alpha_mode == TQ_ALPHA_AUTO_PO2 && k->rank > 1) {
        tq_quantizer qa = q;
        float *sa = malloc(ns * 4);
        qa.alpha_mode = TQ_ALPHA_AUTO;
        CHECK(tq_quantize_forward(&qa, got, sa, x, k->dims, k->rank, 0, NULL) == TQ_OK);
        for (size_t g = 0; g < ns; g++)
          if (sa[g] > 0 && steps[g] != (float)(pow(2, q.integer) * ref_po2(sa[g] / pow(2, q.integer))))
            changed_by_refinement++;
        free(sa);
      }
    }
    free(x), free(got), free(want), free(steps), free(wsteps), free(codes), free(zps), free(csteps);
  }
  CHECK(changed_by_refinement > 0);
}

/* ---- layouts: counts of scales ------------------------------------------------------------- */

static void scale_counts(void) {
  tq_quantizer q;
  CHECK(tq_quantizer_parse(&q, "quantized_bits(4,0,1,alpha='auto_po2')") == TQ_OK);
  CHECK_EQ_INT(tq_quantizer_num_scales(&q, (int[]){3, 3, 8, 16}, 4), 16);
  CHECK_EQ_INT(tq_quantizer_num_scales(&q, (int[]){3, 3, 8, 1}, 4), 1);
  CHECK_EQ_INT(tq_quantizer_num_scales(&q, (int[]){3, 3, 8, 2}, 4), 2);
  CHECK_EQ_INT(tq_quantizer_num_scales(&q, (int[]){64, 10}, 2), 10);
  CHECK_EQ_INT(tq_quantizer_num_scales(&q, (int[]){10}, 1), 10); /* per element */
  q.alpha_mode = TQ_ALPHA_AUTO;
  CHECK_EQ_INT(tq_quantizer_num_scales(&q, (int[]){10}, 1), 1);
  q.scale_axis = 2;
  CHECK_EQ_INT(tq_quantizer_num_scales(&q, (int[]){3, 3, 8, 16}, 4), 8);
  CHECK(tq_quantizer_parse(&q, "quantized_bits_featuremap(4,4,1,1,alpha='auto_po2',scale_axis=0)") == TQ_OK);
  CHECK_EQ_INT(tq_quantizer_num_scales(&q, (int[]){32, 5, 5, 3}, 4), 32);
  CHECK(tq_quantizer_parse(&q, "quantized_bits(4,0,1)") == TQ_OK);
  CHECK_EQ_INT(tq_quantizer_num_scales(&q, (int[]){32, 5}, 2), 1);
  CHECK(tq_quantizer_parse(&q, "None") == TQ_OK);
  CHECK_EQ_INT(tq_quantizer_num_scales(&q, (int[]){32, 5}, 2), 0);
  /* QKeras' scale attribute: s * 2^(bits-kn) = step * 2^(bits-kn) / 2^integer. */
  CHECK(tq_quantizer_parse(&q, "quantized_bits(4,2,1,alpha='auto_po2')") == TQ_OK);
  CHECK(tq_quantizer_qkeras_scale(&q, 0.25f) == 0.5f);
}

/* ---- static parameters ---------------------------------------------------------------------- */

static void static_params(void) {
  tq_quantizer q;
  tq_qstatic p;
  tq_rng r;
  tq_rng_seed(&r, 11);
  /* SPEC mode: static params from a sample's own [min, max] reproduce the dynamic forward. */
  const char *fms[] = {"quantized_bits_featuremap(4,4,1,1,alpha='auto',scale_axis=0)",
                       "quantized_bits_featuremap(8,8,1,1,alpha='auto_po2',scale_axis=0)",
                       "quantized_bits_featuremap(16,16,1,1,alpha='auto_po2',scale_axis=0)"};
  for (int f = 0; f < 3; f++) {
    CHECK(tq_quantizer_parse(&q, fms[f]) == TQ_OK);
    for (int rep = 0; rep < 3; rep++) {
      float x[60], dyn[60], st[60];
      int32_t cd[60], cs[60], zp;
      float lo = INFINITY, hi = -INFINITY;
      for (int i = 0; i < 60; i++) {
        x[i] = tq_rng_normal(&r) * 3.0f + (rep == 2 ? 4.0f : 0.0f);
        if (rep == 1) x[i] = fabsf(x[i]);
        lo = fminf(lo, x[i]), hi = fmaxf(hi, x[i]);
      }
      CHECK(tq_quantize_forward(&q, dyn, NULL, x, (int[]){1, 60}, 2, 0, NULL) == TQ_OK);
      CHECK(tq_quantize_codes(&q, cd, NULL, &zp, x, (int[]){1, 60}, 2) == TQ_OK);
      CHECK(tq_quantizer_static_params(&q, lo, hi, TQ_RANGE_SPEC, &p) == TQ_OK);
      CHECK_EQ_INT(p.zero_point, zp);
      CHECK(tq_quantize_static(&q, &p, st, cs, x, 60) == TQ_OK);
      for (int i = 0; i < 60; i++) {
        CHECK(st[i] == dyn[i]);
        CHECK_EQ_INT(cs[i], cd[i]);
      }
    }
  }
  /* FULL mode uses all the codes for non-negative data; SPEC mode only half. Data in [0, 2],
   * 4 bits: SPEC: zp = -7, codes -7..0; FULL: s = 2/14, zp = rha(-7 - 0) = -7, codes -7..7. */
  CHECK(tq_quantizer_parse(&q, "quantized_bits_featuremap(4,4,1,1,alpha='auto',scale_axis=0)") == TQ_OK);
  const float x[5] = {0, 0.5f, 1, 1.5f, 2};
  int32_t codes[5];
  float out[5];
  CHECK(tq_quantizer_static_params(&q, 0, 2, TQ_RANGE_SPEC, &p) == TQ_OK);
  CHECK(tq_quantize_static(&q, &p, out, codes, x, 5) == TQ_OK);
  CHECK_EQ_INT(codes[0], -7);
  CHECK_EQ_INT(codes[4], 0);
  CHECK(tq_quantizer_static_params(&q, 0, 2, TQ_RANGE_FULL, &p) == TQ_OK);
  CHECK_NEAR(p.step, 2.0 / 14, 1e-7);
  CHECK_EQ_INT(p.zero_point, -7);
  CHECK(tq_quantize_static(&q, &p, out, codes, x, 5) == TQ_OK);
  CHECK_EQ_INT(codes[0], -7);
  CHECK_EQ_INT(codes[2], 0); /* 1/(1/7) - 7 = 0 - eps -> 0 */
  CHECK_EQ_INT(codes[4], 7);
  CHECK_NEAR(out[0], 0, 1e-7);
  CHECK_NEAR(out[2], 1, 1e-6);
  CHECK_NEAR(out[4], 2, 1e-6);
  CHECK_NEAR(out[1], 3.0 / 7, 1e-6); /* 3.5 - 7 - eps -> -4: halves round down */
  /* FULL with auto_po2 rounds the step UP: ceil(log2(1/7)) = -2 -> 0.25; the range still fits. */
  CHECK(tq_quantizer_parse(&q, "quantized_bits_featuremap(4,4,1,1,alpha='auto_po2',scale_axis=0)") == TQ_OK);
  CHECK(tq_quantizer_static_params(&q, 0, 2, TQ_RANGE_FULL, &p) == TQ_OK);
  CHECK(p.step == 0.25f);
  CHECK_EQ_INT(p.zero_point, -7);
  CHECK(tq_quantize_static(&q, &p, out, codes, x, 5) == TQ_OK);
  CHECK_EQ_INT(codes[4], 1);
  CHECK(out[4] == 2.0f && out[1] == 0.5f);
  /* Asymmetric signed range [-1, 3], FULL: s = 4/14, zp = rha(-7 + 3.5) = -4 (rha(-3.5)). */
  CHECK(tq_quantizer_parse(&q, "quantized_bits_featuremap(4,4,1,1,alpha='auto',scale_axis=0)") == TQ_OK);
  CHECK(tq_quantizer_static_params(&q, -1, 3, TQ_RANGE_FULL, &p) == TQ_OK);
  CHECK_EQ_INT(p.zero_point, -4);
  /* quantized_bits activations: fixed step; 'auto_po2' from the range. */
  CHECK(tq_quantizer_parse(&q, "quantized_bits(8,2,1)") == TQ_OK);
  CHECK(tq_quantizer_static_params(&q, -1, 1, TQ_RANGE_SPEC, &p) == TQ_OK);
  CHECK(p.step == 4.0f / 128 && p.zmin == -127 && p.zmax == 127 && p.zero_point == 0);
  CHECK(tq_quantizer_parse(&q, "quantized_bits(4,0,1,alpha='auto_po2')") == TQ_OK);
  CHECK(tq_quantizer_static_params(&q, -0.3f, 0.875f, TQ_RANGE_SPEC, &p) == TQ_OK);
  CHECK(p.step == 0.125f && p.zmin == -7 && p.zmax == 7);
  CHECK(tq_quantize_static(&q, &p, out, codes, (float[]){0.02f, -0.45f, 0.25f, 0.875f, 9}, 5) == TQ_OK);
  CHECK(out[0] == 0 && out[1] == -0.5f && out[2] == 0.25f && out[3] == 0.875f && out[4] == 0.875f);
  CHECK(tq_quantizer_parse(&q, "quantized_relu(4,2)") == TQ_OK);
  CHECK(tq_quantizer_static_params(&q, 0, 4, TQ_RANGE_SPEC, &p) == TQ_OK);
  CHECK(tq_quantize_static(&q, &p, out, codes, (float[]){-1, 0.3f, 1.625f, 5}, 4) == TQ_OK);
  CHECK(out[0] == 0 && out[1] == 0.25f && out[2] == 1.5f && out[3] == 3.75f);
  CHECK_EQ_INT(codes[3], 15);
  /* Errors. */
  CHECK(tq_quantizer_static_params(&q, 2, 1, TQ_RANGE_SPEC, &p) == TQ_ERR_ARG);
  CHECK(tq_quantizer_parse(&q, "quantized_po2(4)") == TQ_OK);
  CHECK(tq_quantizer_static_params(&q, 0, 1, TQ_RANGE_SPEC, &p) == TQ_ERR_UNSUPPORTED);
  CHECK(tq_quantize_codes(&q, codes, NULL, NULL, x, (int[]){5}, 1) == TQ_ERR_UNSUPPORTED);
  CHECK(tq_quantizer_parse(&q, "quantized_bits(4,0,1)") == TQ_OK);
  CHECK(tq_quantize_codes(&q, codes, NULL, NULL, (float[]){1, NAN}, (int[]){2}, 1) == TQ_ERR_NUMERIC);
}

/* Results do not depend on the thread count (OpenMP is used only where order does not matter). */
static void thread_independence(void) {
#ifdef _OPENMP
  const char *qs[] = {"quantized_bits_featuremap(8,8,1,1,alpha='auto_po2',scale_axis=0)",
                      "quantized_bits_featuremap(8,8,1,1,alpha='auto',scale_axis=None)",
                      "quantized_bits(8,0,1,alpha='auto_po2')", "quantized_bits(4,2,1)",
                      "quantized_po2(6)", "quantized_relu(4,1)",
                      "quantized_bits(4,0,1,alpha='auto_po2',scale_axis=0)"};
  const int dims[4] = {16, 40, 40, 4};
  size_t n = 16 * 40 * 40 * 4;
  float *x = malloc(n * 4), *a = malloc(n * 4), *b = malloc(n * 4), sa[64], sb[64];
  tq_rng r;
  tq_rng_seed(&r, 3);
  for (size_t i = 0; i < n; i++) x[i] = tq_rng_normal(&r) * (1 + (float)(i % 5));
  int saved = omp_get_max_threads();
  for (int k = 0; k < 7; k++) {
    tq_quantizer q;
    CHECK(tq_quantizer_parse(&q, qs[k]) == TQ_OK);
    omp_set_num_threads(1);
    CHECK(tq_quantize_forward(&q, a, sa, x, dims, 4, 0, NULL) == TQ_OK);
    omp_set_num_threads(3);
    CHECK(tq_quantize_forward(&q, b, sb, x, dims, 4, 0, NULL) == TQ_OK);
    CHECK(memcmp(a, b, n * 4) == 0);
    CHECK(memcmp(sa, sb, tq_quantizer_num_scales(&q, dims, 4) * 4) == 0);
  }
  omp_set_num_threads(saved);
  free(x), free(a), free(b);
#endif
}

/* A channel all but switched off (~1e-30, as in MLPerf's vww_96.h5 after folding) takes the
 * largest channel's step and codes 0; the live channels keep QKeras' steps. */
static void dead_channels(void) {
  static const char *qs[] = {"quantized_bits(8,0,1,alpha='auto_po2')", "quantized_bits(8,0,1,alpha='auto')"};
  const int dims[] = {1, 1, 4, 3}; /* HWIO: 3 output channels, one scale each */
  const float x[12] = {0.5f, 1e-30f, 0, 0.25f, -3e-31f, 0, -0.5f, 1e-30f, 0, 0.125f, 0, 0.01f};
  for (int k = 0; k < 2; k++) {
    tq_quantizer q;
    CHECK(tq_quantizer_parse(&q, qs[k]) == TQ_OK);
    float out[12], steps[3], alone[1];
    int32_t codes[12];
    int32_t zps[3];
    CHECK(tq_quantize_forward(&q, out, steps, x, dims, 4, 1, NULL) == TQ_OK);
    CHECK(tq_quantize_codes(&q, codes, steps, zps, x, dims, 4) == TQ_OK);
    CHECK(steps[1] == steps[0]);
    for (int i = 1; i < 12; i += 3) CHECK(codes[i] == 0 && out[i] == 0.0f);
    /* Channel 2 is live (0.01 is far above 2^-32 of 0.5): its own step, as alone. */
    const float c2[4] = {0, 0, 0, 0.01f};
    CHECK(tq_quantize_forward(&q, out, alone, c2, (const int[]){1, 1, 4, 1}, 4, 1, NULL) == TQ_OK);
    CHECK(steps[2] == alone[0]);
  }
}

/* tq_quantize_forward_range: the same output as tq_quantize_forward and the input's plain min and
 * max, for the featuremap (whose range comes from its own flushed min/max pass: values below the
 * flush threshold must still count) and for kinds that get a pass of their own, in place or not. */
static void forward_range(void) {
  static const char *qs[] = {"quantized_bits_featuremap(8,4,1,1,alpha='auto',scale_axis=0)",
                             "quantized_bits_featuremap(4,2,1,1,alpha='auto_po2',scale_axis=3)",
                             "quantized_relu(4,2)", "quantized_bits(8,2,1)"};
  const int dims[4] = {5, 7, 6, 24};
  const size_t n = 5 * 7 * 6 * 24;
  tq_rng r;
  tq_rng_seed(&r, 31);
  float *x = tq_alloc_floats(n), *a = tq_alloc_floats(n), *b = tq_alloc_floats(n);
  for (int shift = 0; shift < 2; shift++)
    for (size_t k = 0; k < sizeof qs / sizeof *qs; k++) {
      tq_quantizer q;
      CHECK(tq_quantizer_parse(&q, qs[k]) == TQ_OK);
      fill(x, n, dims, 4, &r, 0);
      /* shift 1: every value tiny and positive but one tinier negative, all below the flush */
      for (size_t i = 0; shift && i < n; i++) x[i] = 1e-9f + 1e-12f * (float)(i % 13);
      if (shift) x[n / 2] = -3e-10f;
      float lo = x[0], hi = x[0];
      for (size_t i = 1; i < n; i++) lo = x[i] < lo ? x[i] : lo, hi = x[i] > hi ? x[i] : hi;
      float range[2] = {0, 0};
      CHECK(tq_quantize_forward(&q, a, NULL, x, dims, 4, 0, NULL) == TQ_OK);
      CHECK(tq_quantize_forward_range(&q, b, NULL, x, dims, 4, 0, NULL, range) == TQ_OK);
      CHECK(memcmp(a, b, n * sizeof(float)) == 0);
      CHECK(range[0] == lo && range[1] == hi);
      memcpy(b, x, n * sizeof(float)); /* in place */
      range[0] = range[1] = 0;
      CHECK(tq_quantize_forward_range(&q, b, NULL, b, dims, 4, 0, NULL, range) == TQ_OK);
      CHECK(memcmp(a, b, n * sizeof(float)) == 0);
      CHECK(range[0] == lo && range[1] == hi);
    }
  tq_free(x), tq_free(a), tq_free(b);
}

int main(void) {
  forward_range();
  thread_independence();
  compare_with_reference();
  scale_counts();
  static_params();
  dead_channels();
  TEST_MAIN_END();
}
