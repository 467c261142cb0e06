/* Keyword clips as MLPerf Tiny's KWS input pipeline prepares them (SPEC §3): scaled by the clip's
 * maximum, zero-padded to one second, background noise mixed in and clipped. */
#include <string.h>

#include "tinyq/audio.h"

/* A clip whose negative samples exceed its positive maximum this many times is scaled by its
 * largest magnitude instead: dividing by a tiny positive maximum (fuzzing found a float WAV with
 * 4.5e-38 beside -97) overflows to infinity, and the MFCC of that is NaN. 16-bit PCM never gets
 * there (at most 32768 times: -1 beside 1/32768), so MLPerf's scaling is untouched for it, and so
 * is the device front-end's (runtime/frontend/tq_fe_mfcc.c), which reads int16. */
#define KWS_PEAK_RATIO 65536.0f

void tq_kws_clip(float out[TQ_KWS_CLIP], const float *x, size_t n) {
  size_t m = n < TQ_KWS_CLIP ? n : TQ_KWS_CLIP;
  float peak = 0.0f, amax = 0.0f;
  for (size_t i = 0; i < m; i++) {
    if (x[i] > peak) peak = x[i];
    if (-x[i] > amax) amax = -x[i];
  }
  if (peak > 0.0f && amax > KWS_PEAK_RATIO * peak) peak = amax;
  /* reduce_max of a silent (or all-negative) clip would divide by zero or flip the sign. */
  for (size_t i = 0; i < m; i++) out[i] = peak > 0.0f ? x[i] / peak : x[i];
  memset(out + m, 0, sizeof(float) * (TQ_KWS_CLIP - m));
}

void tq_kws_mix(float clip[TQ_KWS_CLIP], const float *noise, float volume) {
  for (int i = 0; i < TQ_KWS_CLIP; i++) {
    float v = clip[i] + volume * noise[i];
    clip[i] = v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
  }
}
