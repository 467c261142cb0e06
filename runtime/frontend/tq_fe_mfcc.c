/* Keyword spotting on the device: one second of 16 kHz PCM -> 49 x 10 MFCCs as tinyq trains on
 * them (SPEC §3: the clip divided by its largest sample, 480-sample periodic Hann frames every 320
 * samples, 512-point FFT magnitude, 40 HTK mel bands, ln(x + 1e-6), DCT-II) -> the integer model. */
#include <math.h>

#include "model.h"
#include "tq_fe.h"

int tq_model_mfcc(const int16_t pcm[TQ_MODEL_PCM_SAMPLES], float features[TQ_MODEL_INPUT_SIZE]) {
  static float frame[TQ_FE_N_FFT];
  float mel[TQ_FE_MELS], peak = 0.0f;
  int i, t, k;
  /* training reads 16-bit PCM as s / 32768 and divides by the clip's (signed) maximum, unless that
   * is not positive; the same float operations in the same order give the same frames */
  for (i = 0; i < TQ_MODEL_PCM_SAMPLES; i++)
    if ((float)pcm[i] / 32768.0f > peak) peak = (float)pcm[i] / 32768.0f;
  for (t = 0; t < TQ_FE_FRAMES; t++) {
    const int16_t *x = pcm + t * TQ_FE_HOP;
    for (i = 0; i < TQ_FE_WIN_LEN; i++) {
      float v = (float)x[i] / 32768.0f;
      frame[i] = (peak > 0.0f ? v / peak : v) * tq_fe_window[i];
    }
    for (; i < TQ_FE_N_FFT; i++) frame[i] = 0.0f;
    tq_fe_mel_energies(frame, mel);
    for (i = 0; i < TQ_FE_MELS; i++) mel[i] = logf(mel[i] + 1e-6f);
    for (k = 0; k < TQ_FE_KEEP; k++) {
      float acc = 0.0f;
      for (i = 0; i < TQ_FE_MELS; i++) acc += tq_fe_dct[k * TQ_FE_MELS + i] * mel[i];
      features[t * TQ_FE_KEEP + k] = acc;
    }
  }
  return 0;
}

int tq_model_classify_pcm(const int16_t pcm[TQ_MODEL_PCM_SAMPLES], int32_t *output_codes) {
  static float features[TQ_MODEL_INPUT_SIZE];
  int32_t codes[TQ_MODEL_OUTPUT_SIZE];
  int32_t *y = output_codes ? output_codes : codes;
  int i, best = 0;
  if (tq_model_mfcc(pcm, features) || tq_model_run_codes(features, y)) return -1;
  for (i = 1; i < TQ_MODEL_OUTPUT_SIZE; i++)
    if (y[i] > y[best]) best = i;
  return best;
}
