/* Anomaly detection on the device: a 10 s clip of 16 kHz PCM, pushed in pieces of any size as it
 * arrives -> log-mel frames as tinyq trains on them (SPEC §3: 1024-point periodic Hann frames
 * every 512 samples, centred, power spectrum, 128 Slaney mel bands, 10 log10(x + 2.2e-16); frames
 * 50..249, five consecutive ones per 640-value vector) -> the auto-encoder -> the clip's score, the
 * mean over its 196 vectors of the mean squared reconstruction error. Streaming keeps RAM at one
 * frame of samples and five frames of bands instead of the clip (320 KB as int16). */
#include <math.h>
#include <string.h>

#include "model.h"
#include "tq_fe.h"

#if TQ_FE_WIN_LEN != TQ_FE_N_FFT || TQ_FE_HOP * 2 != TQ_FE_N_FFT
#error "the streaming log-mel front-end expects frames of n_fft samples overlapping by half"
#endif

void tq_model_anomaly_begin(tq_model_anomaly *a, void (*on_vector)(void *ctx, const float *vector, float error),
                            void *ctx) {
  memset(a, 0, sizeof *a);
  a->on_vector = on_vector;
  a->ctx = ctx;
}

/* The reconstruction error of the vector ending at frame f (frames f-4..f). */
static int tq_fe_vector(tq_model_anomaly *a, int f) {
  static float x[TQ_MODEL_INPUT_SIZE], y[TQ_MODEL_OUTPUT_SIZE];
  float err = 0.0f;
  int j, i;
  for (j = 0; j < TQ_FE_STACK; j++)
    memcpy(x + j * TQ_FE_MELS, a->mel[(f - TQ_FE_STACK + 1 + j) % TQ_FE_STACK], sizeof(float) * TQ_FE_MELS);
  if (tq_model_run(x, y)) return -1;
  for (i = 0; i < TQ_MODEL_OUTPUT_SIZE; i++) err += (y[i] - x[i]) * (y[i] - x[i]);
  err /= (float)TQ_MODEL_OUTPUT_SIZE;
  a->error_sum += err;
  a->vectors++;
  if (a->on_vector) a->on_vector(a->ctx, x, err);
  return 0;
}

/* The frame that the sample count a->samples completes: its samples are the ring's, oldest first. */
static int tq_fe_frame(tq_model_anomaly *a, int f) {
  static float frame[TQ_FE_N_FFT];
  float *mel = a->mel[f % TQ_FE_STACK];
  int i;
  for (i = 0; i < TQ_FE_N_FFT; i++) frame[i] = a->ring[(a->samples + (uint32_t)i) % TQ_FE_N_FFT] * tq_fe_window[i];
  tq_fe_mel_energies(frame, mel);
  for (i = 0; i < TQ_FE_MELS; i++) mel[i] = 10.0f * log10f(mel[i] + 2.220446049250313e-16f);
  return f >= TQ_FE_STACK - 1 ? tq_fe_vector(a, f) : 0;
}

int tq_model_anomaly_push(tq_model_anomaly *a, const int16_t *pcm, uint32_t n) {
  uint32_t k;
  for (k = 0; k < n; k++) {
    int t, f;
    a->ring[a->samples % TQ_FE_N_FFT] = (float)pcm[k] / 32768.0f;
    a->samples++;
    if (a->samples % TQ_FE_HOP) continue;
    /* frame t is centred on sample t * hop: complete once the sample before (t + 1) * hop is in */
    t = (int)(a->samples / TQ_FE_HOP) - 1;
    f = t - TQ_FE_FIRST_FRAME;
    if (f >= 0 && f < TQ_FE_FRAMES && tq_fe_frame(a, f)) return -1;
  }
  return 0;
}

float tq_model_anomaly_score(const tq_model_anomaly *a) {
  return a->vectors == TQ_MODEL_VECTORS ? a->error_sum / (float)a->vectors : -1.0f;
}

int tq_model_anomaly_score_pcm(const int16_t *pcm, uint32_t n, float *score) {
  static tq_model_anomaly a;
  tq_model_anomaly_begin(&a, 0, 0);
  if (tq_model_anomaly_push(&a, pcm, n)) return -1;
  *score = tq_model_anomaly_score(&a);
  return *score < 0.0f ? -1 : 0;
}
