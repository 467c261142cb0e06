/* libFuzzer target: WAV input (src/audio/wav.c through libsndfile) and the MFCC front-end on
 * what it accepts, as the speech-commands loader calls them. Input: one flag byte, then the file.
 *   bits 0-1: read_len 16000, 1, 100 or 4000 samples; bit 2: max_len 16000 (else 1 hour)
 * Invariants: a refused file gives one line naming it and a zeroed tq_wav; an accepted one has
 * 1..read_len samples of at most max_len, every sample finite within ±1000, and its MFCC
 * (clip scaled by its maximum, padded to 16000) is finite. */
#include <math.h>

#include "fuzz_common.h"
#include "tinyq/audio.h"

static char path[300];
static tq_features *mfcc;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_setup();
  setenv("TINYQ_MAX_MEMORY", "256M", 1);
  fuzz_path(path, sizeof path, "clip.wav");
  if (tq_features_create(&mfcc, TQ_FEATURES_MFCC) != TQ_OK) abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 64 * 1024 + 1) return 0;
  static const size_t read_lens[4] = {16000, 1, 100, 4000};
  size_t read_len = read_lens[data[0] & 3];
  size_t max_len = (data[0] & 4) ? 16000 : (size_t)3600 * 16000;
  fuzz_write(path, data + 1, size - 1);

  tq_wav w;
  tq_status st = tq_wav_read(&w, path, read_len, max_len);
  if (st != TQ_OK) {
    const char *e = tq_last_error();
    FUZZ_CHECK(strstr(e, path) != NULL, "message does not name the file: %s", e);
    FUZZ_CHECK(!strchr(e, '\n'), "message of several lines: %s", e);
    FUZZ_CHECK(w.x == NULL && w.n == 0 && w.length == 0, "refused but not zeroed");
    return 0;
  }
  FUZZ_CHECK(w.n >= 1 && w.n <= read_len && w.n <= w.length && w.length <= max_len,
             "%zu samples read of %zu (read_len %zu, max_len %zu)", w.n, w.length, read_len, max_len);
  for (size_t i = 0; i < w.n; i++)
    FUZZ_CHECK(isfinite(w.x[i]) && fabsf(w.x[i]) <= 1000.0f, "sample %zu is %g", i, (double)w.x[i]);
  float clip[TQ_KWS_CLIP], out[49 * 10];
  tq_kws_clip(clip, w.x, w.n);
  FUZZ_CHECK(tq_features_compute(mfcc, clip, TQ_KWS_CLIP, out) == TQ_OK, "%s", tq_last_error());
  for (int i = 0; i < 49 * 10; i++) FUZZ_CHECK(isfinite(out[i]), "MFCC %d is %g", i, (double)out[i]);
  tq_wav_free(&w);
  return 0;
}
