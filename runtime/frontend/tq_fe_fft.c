/* The front-end's spectrum: a real FFT of TQ_FE_N_FFT points as a complex FFT of half the size on
 * the even/odd samples packed as (re, im), then the split step that separates the two halves'
 * spectra; and the sparse mel filterbank applied to it. */
#include <math.h>

#include "tq_fe.h"

#define TQ_FE_HALF (TQ_FE_N_FFT / 2)

/* In-place complex FFT of TQ_FE_HALF points, z as (re, im) pairs: the bit-reversal permutation,
 * then radix-2 decimation-in-time butterflies with twiddles exp(-2 pi i k / TQ_FE_HALF). */
static void tq_fe_cfft(float *z) {
  int i, len;
  for (i = 0; i < TQ_FE_HALF; i++) {
    int j = tq_fe_bitrev[i];
    if (i < j) {
      float r = z[2 * i], m = z[2 * i + 1];
      z[2 * i] = z[2 * j];
      z[2 * i + 1] = z[2 * j + 1];
      z[2 * j] = r;
      z[2 * j + 1] = m;
    }
  }
  for (len = 2; len <= TQ_FE_HALF; len <<= 1) {
    int half = len >> 1, step = TQ_FE_HALF / len, s, k;
    for (s = 0; s < TQ_FE_HALF; s += len)
      for (k = 0; k < half; k++) {
        float wr = tq_fe_fft_twiddle[2 * k * step], wi = tq_fe_fft_twiddle[2 * k * step + 1];
        float *a = z + 2 * (s + k), *b = z + 2 * (s + k + half);
        float br = b[0] * wr - b[1] * wi, bi = b[0] * wi + b[1] * wr;
        b[0] = a[0] - br;
        b[1] = a[1] - bi;
        a[0] += br;
        a[1] += bi;
      }
  }
}

/* With Z the FFT of z[n] = x[2n] + i x[2n+1]: E[k] = (Z[k] + conj Z[H-k]) / 2 is the even samples'
 * spectrum, O[k] = (Z[k] - conj Z[H-k]) / 2i the odd ones', and X[k] = E[k] + exp(-2 pi i k / N) O[k]. */
void tq_fe_rfft(float *x, float *spec) {
  int k;
  tq_fe_cfft(x);
  spec[0] = x[0] + x[1];
  spec[1] = 0.0f;
  spec[2 * TQ_FE_HALF] = x[0] - x[1];
  spec[2 * TQ_FE_HALF + 1] = 0.0f;
  for (k = 1; k < TQ_FE_HALF; k++) {
    float zr = x[2 * k], zi = x[2 * k + 1];
    float cr = x[2 * (TQ_FE_HALF - k)], ci = -x[2 * (TQ_FE_HALF - k) + 1];
    float er = 0.5f * (zr + cr), ei = 0.5f * (zi + ci);
    float or_ = 0.5f * (zi - ci), oi = -0.5f * (zr - cr);
    float wr = tq_fe_split_twiddle[2 * k], wi = tq_fe_split_twiddle[2 * k + 1];
    spec[2 * k] = er + (wr * or_ - wi * oi);
    spec[2 * k + 1] = ei + (wr * oi + wi * or_);
  }
}

void tq_fe_mel_energies(float *frame, float *mel) {
  static float spec[TQ_FE_N_FFT + 2]; /* static: 2-4 KB off the stack; the front-end is not reentrant */
  int m, j;
  tq_fe_rfft(frame, spec);
  for (m = 0; m < TQ_FE_MELS; m++) {
    const float *w = tq_fe_mel_weight + tq_fe_band_at[m];
    const float *s = spec + 2 * tq_fe_band_first[m];
    float acc = 0.0f;
    for (j = 0; j < tq_fe_band_len[m]; j++) {
      float p = s[2 * j] * s[2 * j] + s[2 * j + 1] * s[2 * j + 1];
      acc += w[j] * (TQ_FE_POWER == 2 ? p : sqrtf(p));
    }
    mel[m] = acc;
  }
}
