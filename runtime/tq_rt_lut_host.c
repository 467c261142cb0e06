/* Host-side LUT builders (export time). The only runtime file that uses libm; compile the device build
 * with -DTQ_RT_NO_HOST (or leave this file out) to drop it. */
#include "tq_rt.h"

#ifndef TQ_RT_NO_HOST
#include <math.h>

double tq_rt_fn_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
double tq_rt_fn_swish(double x) { return x / (1.0 + exp(-x)); }
double tq_rt_fn_tanh(double x) { return tanh(x); }

/* QKeras featuremap rounding of a real value to an output code (tq_rt.h). */
static int32_t tq_code(double y, double out_scale, int32_t out_zp, int32_t qmin, int32_t qmax) {
  const double u = y / out_scale + out_zp - 1.526e-5;
  double r;
  if (u != u) return out_zp < qmin ? qmin : out_zp > qmax ? qmax : out_zp;
  r = u < 0 ? -floor(-u + 0.5) : floor(u + 0.5);
  return r < qmin ? qmin : r > qmax ? qmax : (int32_t)r;
}

static int tq_args_ok(double (*f)(double), double in_scale, double out_scale, int32_t qmin,
                      int32_t qmax, int32_t tmin, int32_t tmax) {
  return f && in_scale > 0 && out_scale > 0 && qmin <= qmax && qmin >= tmin && qmax <= tmax;
}

tq_rt_status tq_rt_lut_build_s8(int8_t *lut, double (*f)(double), double in_scale, int32_t in_zp,
                                double out_scale, int32_t out_zp, int32_t qmin, int32_t qmax) {
  int32_t i;
  if (!lut || !tq_args_ok(f, in_scale, out_scale, qmin, qmax, -128, 127)) return TQ_RT_ERR_ARG;
  for (i = 0; i < 256; i++)
    lut[i] = (int8_t)tq_code(f(in_scale * ((i - 128) - (double)in_zp)), out_scale, out_zp, qmin, qmax);
  return TQ_RT_OK;
}

tq_rt_status tq_rt_lut_build_s8_s16(int16_t *lut, double (*f)(double), double in_scale,
                                    int32_t in_zp, double out_scale, int32_t out_zp, int32_t qmin,
                                    int32_t qmax) {
  int32_t i;
  if (!lut || !tq_args_ok(f, in_scale, out_scale, qmin, qmax, -32768, 32767)) return TQ_RT_ERR_ARG;
  for (i = 0; i < 256; i++)
    lut[i] = (int16_t)tq_code(f(in_scale * ((i - 128) - (double)in_zp)), out_scale, out_zp, qmin, qmax);
  return TQ_RT_OK;
}

tq_rt_status tq_rt_lut_build_s16(int16_t *lut, double (*f)(double), double in_scale, int32_t in_zp,
                                 double out_scale, int32_t out_zp, int32_t qmin, int32_t qmax,
                                 int32_t x_min, int32_t k) {
  int32_t i;
  if (!lut || !tq_args_ok(f, in_scale, out_scale, qmin, qmax, -32768, 32767) || k < 0 || k > 8 ||
      x_min < -65536 || x_min > 65535)
    return TQ_RT_ERR_ARG;
  for (i = 0; i <= 256; i++) {
    const double x = (double)x_min + (double)i * (double)(1 << k);
    lut[i] = (int16_t)tq_code(f(in_scale * (x - in_zp)), out_scale, out_zp, qmin, qmax);
  }
  return TQ_RT_OK;
}

#else
typedef int tq_rt_lut_host_disabled; /* ISO C forbids an empty translation unit */
#endif
