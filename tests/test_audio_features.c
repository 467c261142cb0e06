/* MFCC and log-mel (src/audio/features.c) against tests/audio_reference.py, a float64 numpy
 * reference written from SPEC §3 alone, run with Debian's /usr/bin/python3. Clips are written as
 * WAV files here, read by both sides (tinyq through libsndfile, the reference through its own RIFF
 * reader), and compared per clip by
 *     relative error = max_i |tinyq_i - ref_i| / max_i |ref_i|
 * over the final features (MFCC coefficients; log-mel in dB, i.e. the error of the log values).
 * Bound: 1e-4 per clip. Also: one context shared by threads gives the same bits as one thread,
 * samples past samples_used change nothing, too-short input is refused. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "tinyq/audio.h"
#include "tq_test.h"

#define MAX_REL_ERR 1e-4
enum { MAX_SAMPLES = 160000 };

static char dir[256];
static double worst[TQ_FEATURES_KIND_COUNT];

/* Deterministic test signals: a voiced "word" with a gliding pitch and two formant-like partials
 * between silences, a chirp, and machine-like harmonic stacks with noise and an on/off hum. */
static void signal(float *x, size_t n, int which, unsigned seed) {
  tq_rng r;
  tq_rng_seed(&r, seed);
  const double pi = 3.14159265358979323846;
  double phase = 0.0;
  for (size_t i = 0; i < n; i++) {
    double t = (double)i / TQ_AUDIO_RATE, v = 0.0;
    switch (which) {
      case 0: { /* word: 0.2 s .. 0.75 s, f0 140 -> 110 Hz */
        double f0 = 140.0 - 55.0 * t;
        phase += 2 * pi * f0 / TQ_AUDIO_RATE;
        double env = (t > 0.2 && t < 0.75) ? sin(pi * (t - 0.2) / 0.55) : 0.0;
        for (int h = 1; h <= 20; h++)
          v += env * (0.3 / h) * (1.0 + 2.0 * exp(-pow((h * f0 - 700) / 200, 2)) +
                                 exp(-pow((h * f0 - 1800) / 300, 2))) * sin(h * phase);
        v += 0.002 * tq_rng_normal(&r);
        break;
      }
      case 1: /* chirp 100 Hz -> 7 kHz over the second, with noise */
        v = 0.4 * sin(2 * pi * (100.0 * t + 3450.0 * t * t)) + 0.01 * tq_rng_normal(&r);
        break;
      default: { /* machine: f0 per seed, 8 harmonics, 7 Hz motor wobble, noise, hum bursts */
        double f0 = 90.0 + 15.0 * (seed % 7);
        phase += 2 * pi * f0 * (1.0 + 0.01 * sin(2 * pi * 7 * t)) / TQ_AUDIO_RATE;
        for (int h = 1; h <= 8; h++) v += (0.2 / h) * sin(h * phase + h);
        v += 0.05 * tq_rng_normal(&r) + (fmod(t, 2.0) < 1.0 ? 0.05 * sin(2 * pi * 50 * t) : 0.0);
        break;
      }
    }
    x[i] = (float)v;
  }
}

/* tinyq's features of path, as the datasets compute them. */
static void tinyq_features(float *out, const tq_features *f, const char *path) {
  tq_wav w;
  int kws = tq_features_kind(f) == TQ_FEATURES_MFCC;
  CHECK(tq_wav_read(&w, path, kws ? TQ_KWS_CLIP : tq_features_samples_used(f), MAX_SAMPLES) == TQ_OK);
  if (kws) {
    float clip[TQ_KWS_CLIP];
    tq_kws_clip(clip, w.x, w.n);
    CHECK(tq_features_compute(f, clip, TQ_KWS_CLIP, out) == TQ_OK);
  } else {
    CHECK(tq_features_compute(f, w.x, w.n, out) == TQ_OK);
  }
  tq_wav_free(&w);
}

static void compare(tq_feature_kind kind, const char *const *names, int count) {
  tq_features *f;
  CHECK(tq_features_create(&f, kind) == TQ_OK);
  size_t per = (size_t)tq_features_rows(f) * tq_features_cols(f);
  char cmd[8192];
  int len = snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/audio_reference.py %s",
                     getenv("TQ_SRC") ? getenv("TQ_SRC") : "..", tq_features_name(kind));
  for (int i = 0; i < count; i++)
    len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %s/%s.wav %s/%s.f64", dir, names[i], dir, names[i]);
  CHECK(system(cmd) == 0);
  float *mine = malloc(per * sizeof(float));
  double *ref = malloc(per * sizeof(double));
  for (int i = 0; i < count; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.wav", dir, names[i]);
    tinyq_features(mine, f, path);
    snprintf(path, sizeof path, "%s/%s.f64", dir, names[i]);
    FILE *in = fopen(path, "rb");
    CHECK(in && fread(ref, sizeof(double), per, in) == per);
    if (in) fclose(in);
    double diff = 0.0, scale = 0.0;
    for (size_t j = 0; j < per; j++) {
      diff = fmax(diff, fabs(mine[j] - ref[j]));
      scale = fmax(scale, fabs(ref[j]));
    }
    double rel = diff / scale;
    printf("%-6s %-12s max |diff| %.3g, max |ref| %.3g, relative error %.2e\n", tq_features_name(kind),
           names[i], diff, scale, rel);
    CHECK(rel <= MAX_REL_ERR);
    worst[kind] = fmax(worst[kind], rel);
  }
  free(mine);
  free(ref);
  tq_features_free(f);
}

static void write_clip(const char *name, int which, unsigned seed, size_t n, int as_float) {
  float *x = malloc(n * sizeof(float));
  signal(x, n, which, seed);
  char path[512];
  snprintf(path, sizeof path, "%s/%s.wav", dir, name);
  if (!as_float) {
    CHECK(tq_wav_write_pcm16(path, x, n) == TQ_OK);
  } else { /* a float WAV, byte by byte */
    FILE *f = fopen(path, "wb");
    uint32_t data = (uint32_t)(n * 4), hdr[11] = {0x46464952u, 36 + data, 0x45564157u, 0x20746d66u, 16,
                                                 3u | (1u << 16), 16000, 64000, 4u | (32u << 16),
                                                 0x61746164u, data};
    fwrite(hdr, 4, 11, f);
    fwrite(x, 4, n, f);
    fclose(f);
  }
  free(x);
}

/* One context, many threads: the same bits as one thread. */
static void threads_agree(void) {
  tq_features *f;
  CHECK(tq_features_create(&f, TQ_FEATURES_MFCC) == TQ_OK);
  enum { CLIPS = 8, PER = 49 * 10 };
  static float x[CLIPS][TQ_KWS_CLIP], serial[CLIPS][PER], parallel[CLIPS][PER];
  for (int c = 0; c < CLIPS; c++) signal(x[c], TQ_KWS_CLIP, c % 2, (unsigned)c);
  for (int c = 0; c < CLIPS; c++) CHECK(tq_features_compute(f, x[c], TQ_KWS_CLIP, serial[c]) == TQ_OK);
#pragma omp parallel for num_threads(2)
  for (int c = 0; c < CLIPS; c++) tq_features_compute(f, x[c], TQ_KWS_CLIP, parallel[c]);
  CHECK(memcmp(serial, parallel, sizeof serial) == 0);
  CHECK(tq_features_compute(f, x[0], TQ_KWS_CLIP - 161, serial[0]) == TQ_ERR_ARG);
  tq_features_free(f);
}

/* Log-mel: what follows sample 128,000 does not matter; 127,488 samples are the fewest accepted. */
static void logmel_extent(void) {
  tq_features *f;
  CHECK(tq_features_create(&f, TQ_FEATURES_LOGMEL) == TQ_OK);
  CHECK_EQ_INT(tq_features_rows(f), 196);
  CHECK_EQ_INT(tq_features_cols(f), 640);
  CHECK_EQ_INT(tq_features_samples_used(f), 128000);
  CHECK_EQ_INT(tq_features_samples_min(f), 127488);
  float *x = malloc(MAX_SAMPLES * sizeof(float)), *a = malloc(196 * 640 * sizeof(float)),
        *b = malloc(196 * 640 * sizeof(float));
  signal(x, MAX_SAMPLES, 2, 3);
  CHECK(tq_features_compute(f, x, MAX_SAMPLES, a) == TQ_OK);
  CHECK(tq_features_compute(f, x, 128000, b) == TQ_OK);
  CHECK(memcmp(a, b, 196 * 640 * sizeof(float)) == 0);
  CHECK(tq_features_compute(f, x, 127487, b) == TQ_ERR_ARG);
  CHECK(strstr(tq_last_error(), "127488") != NULL);
  free(x);
  free(a);
  free(b);
  tq_features_free(f);
}

/* tq_kws_clip: MLPerf's scaling by the signed maximum, silence and all-negative clips unscaled,
 * and a tiny positive maximum beside large negatives (found by fuzzing: 4.5e-38 beside -97, which
 * overflowed to infinity and made the MFCC NaN) scaled by the largest magnitude. */
static void clip_scaling(void) {
  static float x[5], out[TQ_KWS_CLIP];
  const float a[5] = {0.5f, -0.25f, 0.125f, 0.0f, -0.5f};
  memcpy(x, a, sizeof a);
  tq_kws_clip(out, x, 5);
  CHECK(out[0] == 1.0f && out[1] == -0.5f && out[4] == -1.0f && out[5] == 0.0f && out[TQ_KWS_CLIP - 1] == 0.0f);
  const float neg[5] = {-0.5f, -0.25f, 0.0f, 0.0f, -1.0f};
  memcpy(x, neg, sizeof neg);
  tq_kws_clip(out, x, 5);
  CHECK(out[0] == -0.5f && out[4] == -1.0f);
  const float pcm[5] = {1.0f / 32768, -1.0f, 0.0f, -0.5f, 0.0f}; /* 16-bit extremes: MLPerf's scaling */
  memcpy(x, pcm, sizeof pcm);
  tq_kws_clip(out, x, 5);
  CHECK(out[0] == 1.0f && out[1] == -32768.0f && out[3] == -16384.0f);
  const float tiny[5] = {-97.0f, 4.5e-38f, -0.5f, 1e-40f, -2.0f};
  memcpy(x, tiny, sizeof tiny);
  tq_kws_clip(out, x, 5);
  int finite = 1;
  for (int i = 0; i < 5; i++) finite &= isfinite(out[i]) && fabsf(out[i]) <= 1.0f;
  CHECK(finite && out[0] == -1.0f);
  tq_features *f;
  float feats[49 * 10];
  CHECK(tq_features_create(&f, TQ_FEATURES_MFCC) == TQ_OK);
  CHECK(tq_features_compute(f, out, TQ_KWS_CLIP, feats) == TQ_OK);
  for (int i = 0; i < 49 * 10; i++) finite &= isfinite(feats[i]);
  CHECK(finite);
  tq_features_free(f);
}

int main(void) {
  clip_scaling();
  snprintf(dir, sizeof dir, "/tmp/tq_test_audio_features_%d", (int)getpid());
  CHECK(tq_mkdirs(dir) == TQ_OK);
  threads_agree();
  logmel_extent();
  /* Keyword clips: a short word (zero-padded by the pipeline), a full chirp, a float WAV, a clip
   * longer than a second (cut), a quiet word (scaled up by its maximum). */
  write_clip("word", 0, 1, 12800, 0);
  write_clip("chirp", 1, 2, 16000, 0);
  write_clip("word_float", 0, 3, 16000, 1);
  write_clip("chirp_long", 1, 4, 20000, 0);
  const char *kws[] = {"word", "chirp", "word_float", "chirp_long"};
  compare(TQ_FEATURES_MFCC, kws, 4);
  /* Machine clips: 10 s; 8 s (frame 249 reaches into the end's reflection); a float one. */
  write_clip("machine0", 2, 0, 160000, 0);
  write_clip("machine8s", 2, 5, 127488, 0);
  write_clip("machine_f", 2, 6, 160000, 1);
  const char *ad[] = {"machine0", "machine8s", "machine_f"};
  compare(TQ_FEATURES_LOGMEL, ad, 3);
  printf("worst relative error vs numpy: mfcc %.2e, logmel %.2e (bound %.0e)\n",
         worst[TQ_FEATURES_MFCC], worst[TQ_FEATURES_LOGMEL], MAX_REL_ERR);

  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  TEST_MAIN_END();
}
