/* Host test driver of the PCM front-end (make pcm_test). Reads clips of TQ_FE_CLIP_SAMPLES 16-bit
 * little-endian mono PCM samples, back to back (sox -t s16 / -e signed -b 16 raw), and prints one
 * line per clip: with the MFCC front-end the output codes as model_test prints them (the class is
 * the largest), with the log-mel front-end the anomaly score (%.9g). With FEATURES.f32 it also
 * writes each clip's features as float32, as tinyq eval --dump-inputs writes the training ones. */
#include <stdio.h>

#include "model.h"
#include "tq_fe.h"

static int16_t pcm[TQ_FE_CLIP_SAMPLES];

#if TQ_FE_KEEP
static int run_clip(FILE *features) {
  static float x[TQ_MODEL_INPUT_SIZE];
  int32_t y[TQ_MODEL_OUTPUT_SIZE];
  int i;
  if (tq_model_classify_pcm(pcm, y) < 0) return -1;
  if (features && (tq_model_mfcc(pcm, x) || fwrite(x, sizeof x, 1, features) != 1)) return -1;
  for (i = 0; i < TQ_MODEL_OUTPUT_SIZE; i++) printf(i ? " %ld" : "%ld", (long)y[i]);
  printf("\n");
  return 0;
}
#else
static int write_failed;
static void write_vector(void *ctx, const float *vector, float error) {
  (void)error;
  if (ctx && fwrite(vector, sizeof(float) * TQ_MODEL_INPUT_SIZE, 1, ctx) != 1) write_failed = 1;
}

static int run_clip(FILE *features) {
  static tq_model_anomaly a;
  float score;
  tq_model_anomaly_begin(&a, write_vector, features);
  if (tq_model_anomaly_push(&a, pcm, TQ_FE_CLIP_SAMPLES) || write_failed) return -1;
  score = tq_model_anomaly_score(&a);
  if (score < 0.0f) return -1;
  printf("%.9g\n", (double)score);
  return 0;
}
#endif

int main(int argc, char **argv) {
  FILE *f, *features = NULL;
  long n = 0;
  if (argc != 2 && argc != 3) {
    fprintf(stderr, "usage: %s CLIPS.s16 [FEATURES.f32]\n", argv[0]);
    return 2;
  }
  f = fopen(argv[1], "rb");
  if (!f) {
    fprintf(stderr, "%s: cannot open\n", argv[1]);
    return 1;
  }
  if (argc == 3 && !(features = fopen(argv[2], "wb"))) {
    fprintf(stderr, "%s: cannot open for writing\n", argv[2]);
    return 1;
  }
  for (; fread(pcm, sizeof pcm, 1, f) == 1; n++)
    if (run_clip(features)) {
      fprintf(stderr, "clip %ld: failed\n", n);
      return 1;
    }
  fclose(f);
  if (features && fclose(features)) {
    fprintf(stderr, "%s: write failed\n", argv[2]);
    return 1;
  }
  return 0;
}
