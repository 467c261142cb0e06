/* speech-commands and dcase loaders (src/data/speech_commands.c, src/data/dcase.c) on tiny sets
 * written here: split rules (MLPerf's 10 % silence and unknown), a word folder outside the 12
 * classes going to unknown and counted, per-epoch mixing deterministic by (seed, epoch, row), the
 * test rows' int16 PCM reproducing their features bit for bit, the DCASE rows and labels, per-id
 * AUC (undefined without anomalies), and each bad input refused with one line naming the file. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "tinyq/audio.h"
#include "tinyq/zoo.h"
#include "tq_test.h"

static char root[256];

static void tone(const char *path, size_t n, double hz, double noise, unsigned seed) {
  float *x = malloc(n * sizeof(float));
  tq_rng r;
  tq_rng_seed(&r, seed);
  for (size_t i = 0; i < n; i++)
    x[i] = (float)(0.3 * sin(2 * 3.14159265358979 * hz * (double)i / 16000) + noise * tq_rng_normal(&r));
  CHECK(tq_wav_write_pcm16(path, x, n) == TQ_OK);
  free(x);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static void sh(const char *fmt, const char *arg) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, fmt, arg, arg, arg);
  if (system(cmd) != 0) abort();
}

/* 10 words x 3 clips (the third of each in testing_list, "yes" also one in validation_list),
 * "bed" (not a class) x 12 clips, one 12 s noise. */
static void make_kws(const char *dir) {
  static const char *words[10] = {"down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes"};
  char path[512], test_list[4096] = "", val_list[] = "yes/b_nohash_0.wav\n";
  for (int w = 0; w < 11; w++) {
    const char *word = w < 10 ? words[w] : "bed";
    snprintf(path, sizeof path, "%s/%s", dir, word);
    tq_mkdirs(path);
    for (int k = 0; k < (w < 10 ? 3 : 12); k++) {
      snprintf(path, sizeof path, "%s/%s/%c_nohash_%d.wav", dir, word, 'a' + k % 3, k / 3);
      tone(path, 8000 + 500 * (size_t)k, 200 + 50 * w + 7 * k, 0.01, (unsigned)(w * 16 + k));
      if (k % 3 == 2) {
        char line[64];
        snprintf(line, sizeof line, "%s/%c_nohash_%d.wav\n", word, 'c', k / 3);
        strcat(test_list, line);
      }
    }
  }
  snprintf(path, sizeof path, "%s/_background_noise_", dir);
  tq_mkdirs(path);
  snprintf(path, sizeof path, "%s/_background_noise_/hum.wav", dir);
  tone(path, 12 * 16000, 50, 0.2, 99);
  snprintf(path, sizeof path, "%s/testing_list.txt", dir);
  write_text(path, test_list);
  snprintf(path, sizeof path, "%s/validation_list.txt", dir);
  write_text(path, val_list);
}

static void kws_splits(const char *dir) {
  tq_kws_set *s;
  CHECK(tq_kws_open(&s, dir, 1) == TQ_OK);
  if (!s) return;
  const tq_kws_summary *sum = tq_kws_summary_of(s);
  /* training: 2 clips per word, "yes" 1 (its second is in validation_list) -> 19 known rows;
   * silence ceil(1.9) = 2, unknown 2 of the 8 training "bed" clips */
  for (int c = 0; c < 9; c++) CHECK_EQ_INT(sum->rows[c], 2);
  CHECK_EQ_INT(sum->rows[9], 1);
  CHECK_EQ_INT(sum->rows[TQ_KWS_SILENCE], 2);
  CHECK_EQ_INT(sum->rows[TQ_KWS_UNKNOWN], 2);
  CHECK_EQ_INT(sum->unknown_pool, 8);
  CHECK_EQ_INT(sum->other_folders, 1);
  CHECK(strcmp(sum->other_names, "bed") == 0);
  CHECK_EQ_INT(sum->noise_files, 1);
  tq_dataset d;
  CHECK(tq_kws_features(s, &d) == TQ_OK);
  CHECK(d.n == 23 && d.h == 49 && d.w == 10 && d.c == 1 && d.classes == 12);
  /* Mixing: about 80 % of rows change, the same for the same (seed, epoch), not another epoch. */
  int rows[23];
  for (int i = 0; i < 23; i++) rows[i] = i;
  size_t bytes = sizeof(float) * 23 * 490;
  float *a = malloc(bytes), *b = malloc(bytes), *c = malloc(bytes);
  memcpy(a, d.x, bytes);
  memcpy(b, d.x, bytes);
  memcpy(c, d.x, bytes);
  CHECK(tq_kws_mix_batch(s, a, rows, 23, 3, 42) == TQ_OK);
  CHECK(tq_kws_mix_batch(s, b, rows, 23, 3, 42) == TQ_OK);
  CHECK(tq_kws_mix_batch(s, c, rows, 23, 4, 42) == TQ_OK);
  CHECK(memcmp(a, b, bytes) == 0);
  CHECK(memcmp(a, c, bytes) != 0);
  int changed = 0;
  for (int i = 0; i < 23; i++) changed += memcmp(a + i * 490, d.x + i * 490, 490 * sizeof(float)) != 0;
  printf("mixing changed %d of 23 rows (expected about 80 %%)\n", changed);
  CHECK(changed >= 12 && changed <= 23);
  /* The same row mixed alone gives the same values as in the batch. */
  memcpy(c, d.x + 5 * 490, 490 * sizeof(float));
  CHECK(tq_kws_mix_batch(s, c, rows + 5, 1, 3, 42) == TQ_OK);
  CHECK(memcmp(c, a + 5 * 490, 490 * sizeof(float)) == 0);
  /* The mixer: an epoch's rows are the batch mix of that epoch, on a prefix of the split. */
  tq_dataset head;
  CHECK(tq_dataset_slice(&head, &d, 0, 20) == TQ_OK);
  tq_kws_mixer *mx;
  CHECK(tq_kws_mixer_create(&mx, dir, &head, 42) == TQ_OK);
  CHECK(tq_kws_mixer_epoch(mx, 4) == TQ_OK);
  CHECK(tq_kws_mixer_epoch(mx, 3) == TQ_OK);
  CHECK(memcmp(head.x, a, 20 * 490 * sizeof(float)) == 0);
  tq_kws_mixer_free(mx);
  tq_dataset_free(&head);
  CHECK(tq_dataset_slice(&head, &d, 0, 20) == TQ_OK); /* unmixed again */
  /* Attached to a training config: epoch 3 mixed at once, and the callback after epoch 3 mixes epoch 4. */
  tq_train_config cfg;
  tq_train_config_defaults(&cfg);
  cfg.seed = 42;
  FILE *log = tmpfile();
  CHECK(tq_kws_mixer_attach(&mx, dir, &head, &cfg, 3, log) == TQ_OK);
  CHECK(memcmp(head.x, a, 20 * 490 * sizeof(float)) == 0);
  char line[512] = "";
  rewind(log);
  CHECK(fgets(line, sizeof line, log) && strstr(line, "1 word folder outside the 12 classes goes to unknown (bed)"));
  fclose(log);
  CHECK(cfg.on_epoch && cfg.on_epoch(cfg.on_epoch_ctx, NULL, 3, NULL) == TQ_OK);
  tq_kws_mixer *again;
  tq_dataset ref;
  CHECK(tq_dataset_slice(&ref, &d, 0, 20) == TQ_OK);
  CHECK(tq_kws_mixer_create(&again, dir, &ref, 42) == TQ_OK && tq_kws_mixer_epoch(again, 4) == TQ_OK);
  CHECK(memcmp(head.x, ref.x, 20 * 490 * sizeof(float)) == 0);
  tq_kws_mixer_free(again);
  tq_dataset_free(&ref);
  tq_kws_mixer_free(mx);
  tq_dataset_free(&head);
  free(a), free(b), free(c);
  tq_dataset_free(&d);
  tq_kws_close(s);

  CHECK(tq_dataset_load_speech_commands(&d, dir, 0, TQ_SCALE_UNIT) == TQ_OK);
  /* test: 10 known, 1 silence, 1 unknown of the 4 test "bed" clips */
  CHECK_EQ_INT(d.n, 12);
  int per[12] = {0};
  for (int i = 0; i < d.n; i++) per[d.y[i]]++;
  CHECK(per[TQ_KWS_SILENCE] == 1 && per[TQ_KWS_UNKNOWN] == 1 && per[0] == 1);
  tq_dataset_free(&d);
}

static void expect_refused(tq_status st, const char *what) {
  const char *e = tq_last_error();
  CHECK(st != TQ_OK);
  CHECK(strchr(e, '\n') == NULL);
  if (st == TQ_OK || !strstr(e, what)) {
    fprintf(stderr, "  expected '%s' in: %s\n", what, st ? e : "(accepted)");
    tq_test_failures++;
  } else {
    printf("refused: %s\n", e);
  }
}

static void kws_hostile(const char *dir) {
  tq_dataset d;
  char path[512];
  /* A 1-hour word clip (sparse, from a header promising an hour of samples). */
  sh("mkdir -p %s/up && cp %s/up/a_nohash_0.wav %s/up/z_hour.wav", dir);
  snprintf(path, sizeof path, "%s/up/z_hour.wav", dir);
  FILE *f = fopen(path, "r+b");
  uint32_t hour = 3600u * 16000u * 2u, riff = hour + 36;
  fseek(f, 4, SEEK_SET);
  fwrite(&riff, 4, 1, f);
  fseek(f, 40, SEEK_SET);
  fwrite(&hour, 4, 1, f);
  fclose(f);
  if (truncate(path, 44 + (off_t)hour) != 0) abort();
  expect_refused(tq_dataset_load_speech_commands(&d, dir, 1, TQ_SCALE_UNIT), "z_hour.wav: 3600.0 s long");
  unlink(path);
  /* A stereo clip. */
  snprintf(path, sizeof path, "%s/go/stereo.wav", dir);
  sh("sox -R -n -r 16000 -c 2 -b 16 %s/go/stereo.wav synth 0.5 sine 300", dir);
  expect_refused(tq_dataset_load_speech_commands(&d, dir, 1, TQ_SCALE_UNIT), "stereo.wav: 2 channels");
  unlink(path);
  /* A missing list file. */
  sh("mv %s/testing_list.txt %s/testing_list.keep", dir);
  expect_refused(tq_dataset_load_speech_commands(&d, dir, 0, TQ_SCALE_UNIT), "testing_list.txt: cannot open");
  sh("mv %s/testing_list.keep %s/testing_list.txt", dir);
  /* No background noise. */
  sh("mv %s/_background_noise_ %s/noise.keep", dir);
  expect_refused(tq_dataset_load_speech_commands(&d, dir, 1, TQ_SCALE_UNIT), "_background_noise_");
  sh("mv %s/noise.keep %s/_background_noise_", dir);
  CHECK(tq_dataset_load_speech_commands(&d, dir, 1, TQ_SCALE_UNIT) == TQ_OK);
  tq_dataset_free(&d);
}

/* Writes the test split's PCM to path; rows' features recomputed from it as the exported front-end
 * reads PCM (s / 32768) must be the rows' features bit for bit. Returns the number that are. */
static int pcm_reproduces(const tq_kws_set *s, const tq_dataset *d, const char *path) {
  static int16_t pcm[TQ_KWS_CLIP];
  static float x[TQ_KWS_CLIP], clip[TQ_KWS_CLIP], feat[490];
  tq_features *mfcc = NULL;
  unsigned char *bytes = NULL;
  size_t size = 0;
  CHECK(tq_kws_write_pcm(s, d->n, path) == TQ_OK && tq_read_file(path, &bytes, &size) == TQ_OK);
  CHECK(size == (size_t)d->n * 2 * TQ_KWS_CLIP && tq_features_create(&mfcc, TQ_FEATURES_MFCC) == TQ_OK);
  int same = 0;
  for (int r = 0; bytes && mfcc && r < d->n; r++) {
    int file_same = tq_kws_pcm(s, r, pcm) == TQ_OK;
    for (size_t i = 0; i < TQ_KWS_CLIP; i++) {
      const unsigned char *b = bytes + ((size_t)r * TQ_KWS_CLIP + i) * 2;
      file_same &= (int16_t)(b[0] | b[1] << 8) == pcm[i]; /* little-endian */
      x[i] = (float)pcm[i] / 32768.0f;
    }
    tq_kws_clip(clip, x, TQ_KWS_CLIP);
    CHECK(tq_features_compute(mfcc, clip, TQ_KWS_CLIP, feat) == TQ_OK);
    same += file_same && !memcmp(feat, d->x + (size_t)r * 490, sizeof feat);
  }
  tq_features_free(mfcc);
  free(bytes);
  return same;
}

/* tq_kws_pcm / tq_kws_write_pcm (tinyq eval --dump-pcm) on the test split: 10 word rows (padded),
 * 1 silence row (a cut of noise), 1 unknown row; a float WAV whose samples are k / 32768 gives the
 * same clip, one with other samples is refused naming it, and nothing is written. */
static void kws_pcm(const char *dir) {
  tq_kws_set *s;
  tq_dataset d;
  char path[512], cmd[2048];
  snprintf(path, sizeof path, "%s/test.s16", root);
  CHECK(tq_kws_open(&s, dir, 0) == TQ_OK && tq_kws_features(s, &d) == TQ_OK);
  CHECK(d.y[0] == 0 && d.y[10] == TQ_KWS_SILENCE && d.y[11] == TQ_KWS_UNKNOWN);
  CHECK_EQ_INT(pcm_reproduces(s, &d, path), d.n);
  static int16_t before[TQ_KWS_CLIP], after[TQ_KWS_CLIP];
  CHECK(tq_kws_pcm(s, 10, before) == TQ_OK && before[TQ_KWS_CLIP - 1] != 0); /* noise to the end */
  CHECK(tq_kws_pcm(s, 0, before) == TQ_OK && before[TQ_KWS_CLIP - 1] == 0);  /* a padded word */
  expect_refused(tq_kws_write_pcm(s, d.n + 1, path), "13 rows asked for, the split has 12");
  tq_kws_close(s);
  tq_dataset_free(&d);
  /* The first test word as 32-bit float (exactly its 16-bit values), the noise as float at 0.3. */
  snprintf(cmd, sizeof cmd, "cd %s && sox down/c_nohash_0.wav -e floating-point -b 32 f.wav && mv f.wav "
           "down/c_nohash_0.wav && mv _background_noise_/hum.wav hum.keep && sox hum.keep -e floating-point "
           "-b 32 _background_noise_/hum.wav vol 0.3", dir);
  CHECK(system(cmd) == 0);
  CHECK(tq_kws_open(&s, dir, 0) == TQ_OK && tq_kws_features(s, &d) == TQ_OK);
  CHECK(tq_kws_pcm(s, 0, after) == TQ_OK && !memcmp(before, after, sizeof after));
  remove(path);
  expect_refused(tq_kws_write_pcm(s, d.n, path), "_background_noise_/hum.wav: sample ");
  CHECK(access(path, F_OK) != 0);
  tq_kws_close(s);
  tq_dataset_free(&d);
  sh("mv %s/hum.keep %s/_background_noise_/hum.wav", dir);
}

/* Machine "fan": ids 00 and 03; train 2 normal per id; test 2 normal + 2 anomalous for id 00,
 * 2 normal only for id 03. */
static void dcase(const char *dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/fan/train", dir);
  tq_mkdirs(path);
  snprintf(path, sizeof path, "%s/fan/test", dir);
  tq_mkdirs(path);
  static const char *const names[] = {"train/normal_id_00_00000000", "train/normal_id_00_00000001",
                                      "train/normal_id_03_00000000", "train/normal_id_03_00000001",
                                      "test/normal_id_00_00000000",  "test/anomaly_id_00_00000000",
                                      "test/normal_id_00_00000001",  "test/anomaly_id_00_00000001",
                                      "test/normal_id_03_00000000",  "test/normal_id_03_00000001"};
  for (int i = 0; i < 10; i++) {
    snprintf(path, sizeof path, "%s/fan/%s.wav", dir, names[i]);
    tone(path, 128000 + 100 * (size_t)i, 120, strstr(names[i], "anomaly") ? 0.2 : 0.02, (unsigned)i);
  }
  snprintf(path, sizeof path, "%s/fan", dir);
  tq_dataset tr, te;
  CHECK(tq_dataset_load_dcase(&tr, path, 1, TQ_SCALE_UNIT) == TQ_OK);
  CHECK(tr.n == 4 * 196 && tr.h == 1 && tr.w == 1 && tr.c == 640 && tr.y == NULL);
  CHECK(tq_dataset_load_dcase(&te, path, 0, TQ_SCALE_UNIT) == TQ_OK);
  CHECK_EQ_INT(te.n, 6 * 196);
  /* name order: anomaly_00_0, anomaly_00_1, normal_00_0, normal_00_1, normal_03_0, normal_03_1 */
  CHECK(te.y && te.y[0] == 1 && te.y[196 * 2] == 0 && te.y[196 * 4] == 6 && te.y[196 * 6 - 1] == 6);
  /* Scores: the row error is the row's mean square, so the louder anomalies score higher. */
  float *err = malloc(sizeof(float) * (size_t)te.n);
  for (int r = 0; r < te.n; r++) {
    double s = 0;
    for (int j = 0; j < 640; j++) s += te.x[(size_t)r * 640 + j];
    err[r] = (float)(s / 640);
  }
  tq_dcase_score sc[4];
  int ids = 0;
  CHECK(tq_dcase_scores(err, te.y, te.n, sc, 4, &ids) == TQ_OK);
  CHECK_EQ_INT(ids, 2);
  CHECK(sc[0].id == 0 && sc[0].normal == 2 && sc[0].anomalous == 2 && sc[0].auc == 1.0 && sc[0].pauc == 1.0);
  CHECK(sc[1].id == 3 && sc[1].normal == 2 && sc[1].anomalous == 0 && isnan(sc[1].auc) && isnan(sc[1].pauc));
  free(err);
  /* Through an (untrained) auto-encoder: the same ids, the same undefined one. */
  tq_model *m = NULL;
  tq_zoo_options zo = {{1, 1, 640}, 0};
  CHECK(tq_zoo_build(&m, "fc_autoencoder", &zo) == TQ_OK && tq_model_finalize(m, 64, TQ_INIT_GLOROT_UNIFORM, 1) == TQ_OK);
  CHECK(tq_dcase_evaluate(m, &te, 64, sc, 4, &ids) == TQ_OK);
  CHECK(ids == 2 && sc[0].anomalous == 2 && !isnan(sc[0].auc) && isnan(sc[1].auc));
  tq_dcase_print(stdout, sc, ids);
  CHECK(tq_dcase_evaluate(m, &tr, 64, sc, 4, &ids) != TQ_OK); /* the training split has no labels */
  tq_model_free(m);
  tq_dataset_free(&tr);
  tq_dataset_free(&te);
  /* Bad machine folders. */
  snprintf(path, sizeof path, "%s/fan/train/anomaly_id_00_00000009.wav", dir);
  tone(path, 128000, 100, 0.1, 1);
  snprintf(path, sizeof path, "%s/fan", dir);
  expect_refused(tq_dataset_load_dcase(&tr, path, 1, TQ_SCALE_UNIT), "anomaly_id_00_00000009.wav: an anomalous clip in train/");
  snprintf(path, sizeof path, "%s/fan/train/anomaly_id_00_00000009.wav", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/fan/test/normal_id_00_short.wav", dir);
  tone(path, 100000, 100, 0.1, 1);
  snprintf(path, sizeof path, "%s/fan", dir);
  expect_refused(tq_dataset_load_dcase(&te, path, 0, TQ_SCALE_UNIT), "normal_id_00_short.wav: 6.25 s");
  snprintf(path, sizeof path, "%s/fan/test/clip.wav", dir);
  sh("mv %s/fan/test/normal_id_00_short.wav %s/fan/test/clip.wav", dir);
  snprintf(path, sizeof path, "%s/fan", dir);
  expect_refused(tq_dataset_load_dcase(&te, path, 0, TQ_SCALE_UNIT), "clip.wav: expected the name normal_id_XX");
  snprintf(path, sizeof path, "%s/nothing", dir);
  expect_refused(tq_dataset_load_dcase(&te, path, 0, TQ_SCALE_UNIT), "nothing/test: cannot open directory");
}

int main(void) {
  snprintf(root, sizeof root, "/tmp/tq_test_audio_datasets_%d", (int)getpid());
  char kws[300];
  snprintf(kws, sizeof kws, "%s/kws", root);
  CHECK(tq_mkdirs(kws) == TQ_OK);
  make_kws(kws);
  kws_splits(kws);
  kws_pcm(kws);
  kws_hostile(kws);
  dcase(root);
  sh("rm -rf '%s'", root);
  TEST_MAIN_END();
}
