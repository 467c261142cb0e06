/* Keyword clips as MLPerf Tiny's KWS input pipeline prepares them (SPEC §3): scaled by the clip's
 * maximum, zero-padded to one second, background noise mixed in and clipped. */
#include <string.h>

#include "tinyq/audio.h"

void tq_kws_clip(float out[TQ_KWS_CLIP], const float *x, size_t n) {
  size_t m = n < TQ_KWS_CLIP ? n : TQ_KWS_CLIP;
  float peak = 0.0f;
  for (size_t i = 0; i < m; i++)
    if (x[i] > peak) peak = x[i];
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
