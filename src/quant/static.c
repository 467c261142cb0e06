/* Static (deployment) quantization of activations (SPEC §1.2, §3): the parameters from a
 * calibrated range instead of from the batch, and quantizing with them. quantized_bits (fixed and
 * auto modes), quantized_relu and quantized_bits_featuremap have a static form; the table in
 * kinds.c points at these functions and reports the other kinds as unsupported. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math") /* as fixed.c and scale.c: no result changes */
#endif
#include <math.h>
#include <string.h>

#include "quant/quant_internal.h"

static int is_auto(const tq_quantizer *q) {
  return q->alpha_mode == TQ_ALPHA_AUTO || q->alpha_mode == TQ_ALPHA_AUTO_PO2;
}

static tq_status no_one_bit_form(void) {
  return tq_fail(TQ_ERR_UNSUPPORTED, "quantized_bits with 1 bit has no static form");
}

/* ---- parameters ------------------------------------------------------------------------------ */

tq_status tq_bits_static_params(const tq_quantizer *q, float lo, float hi, tq_range_mode mode,
                                tq_qstatic *p) {
  (void)mode; /* the modes differ only for featuremap */
  if (!is_auto(q)) {
    if (q->bits - q->keep_negative == 0) return no_one_bit_form();
    tq_qfixed f = tq_bits_fixed_params(q);
    p->step = f.step, p->zmin = (int32_t)f.lo, p->zmax = (int32_t)f.hi;
    return TQ_OK;
  }
  double H = exp2(q->bits - 1) - 1, L = 2 * H, mi = exp2(q->integer);
  double a = fmax(fabs((double)lo), fabs((double)hi));
  double s = 2.0 * (a / mi) / L;
  if (q->alpha_mode == TQ_ALPHA_AUTO_PO2) s = tq_po2(s);
  p->step = (float)(mi * (double)(float)s);
  p->zmin = (int32_t)-H, p->zmax = (int32_t)H;
  return TQ_OK;
}

tq_status tq_relu_static_params(const tq_quantizer *q, float lo, float hi, tq_range_mode mode,
                                tq_qstatic *p) {
  (void)lo, (void)hi, (void)mode; /* the step is fixed */
  tq_qfixed f = tq_quant_relu_params(q);
  p->step = f.step, p->zmin = 0, p->zmax = (int32_t)f.hi;
  return TQ_OK;
}

tq_status tq_featuremap_static_params(const tq_quantizer *q, float lo, float hi,
                                      tq_range_mode mode, tq_qstatic *p) {
  double bq = exp2(q->bits - 1) - 1, aq = -bq;
  double l = fabs((double)lo) < TQ_FM_FLUSH ? 0.0 : lo;
  double h = fabs((double)hi) < TQ_FM_FLUSH ? 0.0 : hi;
  p->zmin = (int32_t)aq, p->zmax = (int32_t)bq;
  if (mode == TQ_RANGE_FULL) {
    double s = (h - l) / (bq - aq);
    if (s > 0 && q->alpha_mode == TQ_ALPHA_AUTO_PO2) s = exp2(ceil(log2(s)));
    float sf = (float)s;
    p->step = sf;
    if (sf > 0) {
      double zp = tq_rha(aq - l / sf);
      p->zero_point = (int32_t)(zp < aq ? aq : (zp > bq ? bq : zp));
    }
    return TQ_OK;
  }
  double s = 2.0 * fmax(fabs(l), fabs(h)) / (bq - aq);
  if (q->alpha_mode == TQ_ALPHA_AUTO_PO2) s = tq_po2(s);
  p->step = (float)s;
  p->zero_point = h == l ? 0 : tq_qsat32(tq_rha((h * aq - l * bq) / (h - l)));
  return TQ_OK;
}

/* ---- quantizing with them -------------------------------------------------------------------- */

tq_status tq_bits_static(const tq_quantizer *q, const tq_qstatic *p, float *out, int32_t *codes,
                         const float *in, size_t n) {
  float qn = q->qnoise_factor;
  if (!is_auto(q)) {
    if (q->bits - q->keep_negative == 0) return no_one_bit_form();
    tq_qfixed f = tq_bits_fixed_params(q);
    f.lo = p->zmin, f.hi = p->zmax, f.step = p->step;
    tq_run_fixed(&f, q->bits - q->keep_negative > 24, in, out, codes, n, qn, 0, NULL);
    return TQ_OK;
  }
  /* z = sign(y) min(rha(|y| / s), H) with y = x / 2^integer, s = step / 2^integer (the same
   * arithmetic as the dynamic forward; dividing by a power of two is exact) */
  int exact = qn == 1.0f;
  double step = p->step, zmax = p->zmax, mi = exp2(q->integer);
  float sf = (float)(step / mi), inv_mi = (float)(1.0 / mi);
  double div = sf > 0 ? sf : INFINITY;
  for (size_t i = 0; i < n; i++) {
    double z = q->bits > 24 ? auto_code_d(in[i], 1.0 / mi, zmax, div, 0)
                            : auto_code_f(in[i], inv_mi, (float)zmax, (float)div, 0);
    if (codes) codes[i] = (int32_t)z;
    if (out) out[i] = tq_qmix(in[i], (float)(step * z), qn, exact);
  }
  return TQ_OK;
}

tq_status tq_relu_static(const tq_quantizer *q, const tq_qstatic *p, float *out, int32_t *codes,
                         const float *in, size_t n) {
  tq_qfixed f = tq_quant_relu_params(q);
  f.step = p->step;
  if (out) tq_quant_relu_forward(q, in, out, n, 0, NULL);
  if (codes) tq_run_fixed(&f, q->bits > 24, in, NULL, codes, n, 1.0f, 0, NULL);
  return TQ_OK;
}

tq_status tq_featuremap_static(const tq_quantizer *q, const tq_qstatic *p, float *out,
                               int32_t *codes, const float *in, size_t n) {
  float qn = q->qnoise_factor;
  int exact = qn == 1.0f;
  double zmin = p->zmin, zmax = p->zmax, zp = p->zero_point, step = p->step;
  float sf = p->step, sdiv = sf > 0 ? sf : 1.0f;
  for (size_t i = 0; i < n; i++) {
    float x = fm_flush(in[i]);
    double z = q->bits > 24 ? fm_code_d(x, sdiv, zp, zmin, zmax)
                            : fm_code_f(x, sdiv, (float)zp, (float)zmin, (float)zmax);
    if (codes) codes[i] = (int32_t)z;
    if (out) out[i] = tq_qmix(x, (float)(step * (z - zp)), qn, exact);
  }
  return TQ_OK;
}
