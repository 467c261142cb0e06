/* libFuzzer target: the two audio dataset loaders on folders whose text the input decides
 * (src/data/speech_commands.c, src/data/dcase.c). Flag byte, then the text.
 *   bit 0 clear: speech-commands:DIR. The text up to its first NUL is validation_list.txt, the rest
 *     testing_list.txt (bit 2: no testing_list.txt at all); DIR holds yes/, no/, up/, a word
 *     outside the 12 classes and _background_noise_/, each with short valid clips. bit 1: the
 *     training split (else the test split).
 *   bit 0 set: dcase:DIR. Each line of the text names a file written into train/ (bit 1) or test/;
 *     a name ending in ".wav" gets a valid 10 s clip when bit 2 is set, else the line's own bytes.
 * Invariants: a refusal is one line; an accepted split has whole clips (49x10 MFCC rows for
 * speech-commands, 196 log-mel rows per file for DCASE) with finite values and labels in range. */
#include <math.h>

#include "fuzz_common.h"
#include "tinyq/audio.h"

static char kws[300], dcase[300];
static float *tone; /* 10 s at 16 kHz */

static void wav(const char *dir, const char *name, size_t n) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  if (tq_wav_write_pcm16(p, tone, n) != TQ_OK) abort();
}

static void mkdirs(const char *base, const char *const *subs, int n) {
  char p[512];
  if (mkdir(base, 0700) != 0) abort();
  for (int i = 0; i < n; i++) {
    snprintf(p, sizeof p, "%s/%s", base, subs[i]);
    if (mkdir(p, 0700) != 0) abort();
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_setup();
  setenv("TINYQ_MAX_MEMORY", "256M", 1);
  tone = malloc(sizeof(float) * 160000);
  if (!tone) abort();
  for (int i = 0; i < 160000; i++) tone[i] = 0.3f * sinf(0.05f * (float)i) + 0.01f * (float)((i * 7919) % 13 - 6);
  fuzz_path(kws, sizeof kws, "kws");
  static const char *const words[] = {"yes", "no", "up", "bird", "_background_noise_"};
  mkdirs(kws, words, 5);
  static const char *const clips[] = {"yes/a.wav", "yes/b.wav", "no/a.wav", "up/c.wav", "bird/a.wav"};
  for (int i = 0; i < 5; i++) wav(kws, clips[i], 16000);
  wav(kws, "_background_noise_/white.wav", 48000);
  fuzz_path(dcase, sizeof dcase, "dcase");
  return 0;
}

static void one_line(void) {
  const char *e = tq_last_error();
  FUZZ_CHECK(e[0] && !strchr(e, '\n'), "refusal is not one line: %s", e);
}

static void check_set(const tq_dataset *d, int rows_per_clip, int max_label) {
  size_t k = (size_t)d->h * d->w * d->c;
  FUZZ_CHECK(d->n % rows_per_clip == 0, "%d rows are not whole clips of %d", d->n, rows_per_clip);
  for (size_t i = 0; i < (size_t)d->n * k; i++) FUZZ_CHECK(isfinite(d->x[i]), "value %zu is %g", i, (double)d->x[i]);
  for (int i = 0; d->y && i < d->n; i++) FUZZ_CHECK(d->y[i] >= 0 && d->y[i] <= max_label, "label %d", d->y[i]);
}

static void run_kws(const uint8_t *t, size_t n, int train, int no_test_list) {
  const uint8_t *nul = memchr(t, 0, n);
  size_t a = nul ? (size_t)(nul - t) : n;
  char p[512];
  snprintf(p, sizeof p, "%s/validation_list.txt", kws);
  fuzz_write(p, t, a);
  snprintf(p, sizeof p, "%s/testing_list.txt", kws);
  if (no_test_list) unlink(p);
  else fuzz_write(p, nul ? nul + 1 : t + n, nul ? n - a - 1 : 0);
  tq_dataset d = {0};
  if (tq_dataset_load_speech_commands(&d, kws, train, TQ_SCALE_UNIT) != TQ_OK) return one_line();
  check_set(&d, 1, 11);
  tq_dataset_free(&d);
}

static void run_dcase(const uint8_t *t, size_t n, int train, int valid_clips) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dcase); /* below this process's own scratch directory */
  if (system(cmd) != 0) abort();
  static const char *const subs[] = {"train", "test"};
  mkdirs(dcase, subs, 2);
  char dir[400];
  snprintf(dir, sizeof dir, "%s/%s", dcase, train ? "train" : "test");
  int files = 0;
  for (size_t i = 0; i < n && files < 8;) {
    const uint8_t *end = memchr(t + i, '\n', n - i);
    size_t len = end ? (size_t)(end - (t + i)) : n - i;
    char name[80];
    if (len > 0 && len < 64 && !memchr(t + i, 0, len) && !memchr(t + i, '/', len)) {
      memcpy(name, t + i, len);
      name[len] = 0;
      if (strcmp(name, ".") && strcmp(name, "..")) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, name);
        if (valid_clips && len > 4 && !strcmp(name + len - 4, ".wav")) wav(dir, name, 160000);
        else fuzz_write(p, t + i, len);
        files++;
      }
    }
    i += len + 1;
  }
  tq_dataset d = {0};
  if (tq_dataset_load_dcase(&d, dcase, train, TQ_SCALE_UNIT) != TQ_OK) return one_line();
  check_set(&d, TQ_DCASE_VECTORS, 2 * 9999 + 1); /* ids up to 4 digits */
  tq_dataset_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  if (data[0] & 1) run_dcase(data + 1, size - 1, data[0] & 2, data[0] & 4);
  else run_kws(data + 1, size - 1, data[0] & 2, data[0] & 4);
  return 0;
}
