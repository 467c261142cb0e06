/* Window, mel filterbanks and the MFCC DCT (SPEC §3), computed in double once per feature context. */
#include <math.h>

#include "audio/audio_internal.h"

static double htk_mel(double hz) { return 1127.0 * log(1.0 + hz / 700.0); }

void tq_mel_htk(float *fb, int n_mels, int n_fft, double rate, double lo_hz, double hi_hz) {
  int bins = n_fft / 2 + 1;
  double lo = htk_mel(lo_hz), step = (htk_mel(hi_hz) - lo) / (n_mels + 1);
  for (int m = 0; m < n_mels; m++) {
    double left = lo + m * step, centre = left + step, right = centre + step;
    fb[(long)m * bins] = 0.0f; /* DC */
    for (int k = 1; k < bins; k++) {
      double mel = htk_mel(k * rate / n_fft);
      double w = fmin((mel - left) / (centre - left), (right - mel) / (right - centre));
      fb[(long)m * bins + k] = (float)fmax(0.0, w);
    }
  }
}

/* Slaney's Auditory Toolbox scale: 200/3 Hz per mel up to 1 kHz, then 27 mels per factor 6.4. */
enum { SLANEY_BREAK_HZ = 1000 };
static const double slaney_hz_per_mel = 200.0 / 3.0;
static double slaney_logstep(void) { return log(6.4) / 27.0; }

static double slaney_mel(double hz) {
  if (hz < SLANEY_BREAK_HZ) return hz / slaney_hz_per_mel;
  return SLANEY_BREAK_HZ / slaney_hz_per_mel + log(hz / SLANEY_BREAK_HZ) / slaney_logstep();
}

static double slaney_hz(double mel) {
  double break_mel = SLANEY_BREAK_HZ / slaney_hz_per_mel;
  if (mel < break_mel) return mel * slaney_hz_per_mel;
  return SLANEY_BREAK_HZ * exp(slaney_logstep() * (mel - break_mel));
}

void tq_mel_slaney(float *fb, int n_mels, int n_fft, double rate, double lo_hz, double hi_hz) {
  int bins = n_fft / 2 + 1;
  double lo = slaney_mel(lo_hz), step = (slaney_mel(hi_hz) - lo) / (n_mels + 1);
  for (int m = 0; m < n_mels; m++) {
    double left = slaney_hz(lo + m * step), centre = slaney_hz(lo + (m + 1) * step),
           right = slaney_hz(lo + (m + 2) * step);
    double area = 2.0 / (right - left);
    for (int k = 0; k < bins; k++) {
      double hz = k * rate / n_fft;
      double w = fmin((hz - left) / (centre - left), (right - hz) / (right - centre));
      fb[(long)m * bins + k] = (float)(fmax(0.0, w) * area);
    }
  }
}

void tq_hann_periodic(float *w, int n) {
  const double pi = 3.14159265358979323846;
  for (int i = 0; i < n; i++) w[i] = (float)(0.5 - 0.5 * cos(2.0 * pi * i / n));
}

void tq_dct2_matrix(float *m, int keep, int n) {
  const double pi = 3.14159265358979323846;
  double scale = sqrt(2.0 / n);
  for (int k = 0; k < keep; k++)
    for (int j = 0; j < n; j++) m[k * n + j] = (float)(scale * cos(pi * k * (2 * j + 1) / (2.0 * n)));
}
