/* Speech Commands v2 layout (SPEC §3) indexed as MLPerf Tiny's KWS pipeline (TensorFlow's
 * speech_commands input_data) builds its splits: the ten words, silence cut from the background
 * noises and a sample of the other words as unknown, 10 % each of the word count. The features
 * and the per-epoch noise mixing are in src/audio/kws_features.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio/kws_internal.h"

/* TensorFlow's speech_commands RANDOM_SEED: the stream of every draw that shapes the splits. */
#define KWS_SPLIT_SEED 59185u
#define NOISE_MIN_SECONDS 10
#define NOISE_MAX_SECONDS 600
#define NOISE_TEST_FRACTION 0.1

static const char *const class_names[TQ_KWS_CLASSES] = {
    "down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "silence", "unknown"};

const char *tq_kws_class_name(int c) { return c >= 0 && c < TQ_KWS_CLASSES ? class_names[c] : "?"; }

static int word_class(const char *word) {
  for (int c = 0; c < TQ_KWS_SILENCE; c++)
    if (strcmp(word, class_names[c]) == 0) return c;
  return TQ_KWS_UNKNOWN;
}

static int by_string(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A list file's "<word>/<file>" lines, sorted for bsearch. */
static tq_status read_list(kws_list *l, const char *dir, const char *name) {
  char path[4096];
  tq_status st = tq_path_join(path, sizeof path, dir, name);
  if (st) return st;
  st = tq_read_file(path, (unsigned char **)&l->text, &l->size);
  if (st) return tq_fail_prefix(st, "speech-commands split list"); /* "<path>: cannot open: ..." */
  size_t lines = 1;
  for (size_t i = 0; i < l->size; i++) lines += l->text[i] == '\n';
  char *text = realloc(l->text, l->size + 1);
  l->entries = calloc(lines, sizeof *l->entries);
  if (!text || !l->entries) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  l->text = text;
  l->text[l->size] = 0;
  int line = 0;
  for (char *p = l->text, *next; p; p = next, line++) {
    next = strchr(p, '\n');
    if (next) *next++ = 0;
    size_t len = strlen(p);
    if (len && p[len - 1] == '\r') p[--len] = 0;
    if (!len) continue;
    char *slash = strchr(p, '/');
    if (!slash || slash == p || !slash[1] || strchr(slash + 1, '/'))
      return tq_fail(TQ_ERR_FORMAT, "%s: line %d: '%.60s' is not <word>/<file>.wav", path, line + 1, p);
    l->entries[l->n++] = p;
  }
  qsort(l->entries, (size_t)l->n, sizeof *l->entries, by_string);
  return TQ_OK;
}

static int listed(const kws_list *l, const char *rel) {
  return l->n && bsearch(&rel, l->entries, (size_t)l->n, sizeof *l->entries, by_string) != NULL;
}

static void list_free(kws_list *l) {
  free(l->text);
  free(l->entries);
  memset(l, 0, sizeof *l);
}

static tq_status add_clip(tq_kws_set *s, const char *path, int label) {
  if (s->n_clips == s->cap_clips) {
    int cap = s->cap_clips ? 2 * s->cap_clips : 1024;
    kws_clip *grown = realloc(s->clips, sizeof *grown * (size_t)cap);
    if (!grown) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory indexing clips", s->dir);
    s->clips = grown;
    s->cap_clips = cap;
  }
  if (!(s->clips[s->n_clips].path = strdup(path))) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", s->dir);
  s->clips[s->n_clips++].label = label;
  return TQ_OK;
}

static void note_other_folder(tq_kws_summary *sum, const char *word) {
  size_t used = strlen(sum->other_names), room = sizeof sum->other_names - used;
  if (sum->other_folders++ && room > 5) snprintf(sum->other_names + used, room, ", "), used += 2, room -= 2;
  if (room > strlen(word) + 4) snprintf(sum->other_names + used, room, "%s", word);
  else if (room > 4 && !strstr(sum->other_names, "...")) snprintf(sum->other_names + used, room, "...");
}

/* One word folder: its clips of the wanted split. */
static tq_status index_folder(tq_kws_set *s, const char *word, const kws_list *val, const kws_list *test) {
  char folder[4096], rel[4096], path[8192];
  tq_status st = tq_path_join(folder, sizeof folder, s->dir, word);
  char **files = NULL;
  int n = 0;
  if (!st) st = tq_dir_list(folder, 0, ".wav", &files, &n);
  int label = word_class(word);
  if (!st && label == TQ_KWS_UNKNOWN) note_other_folder(&s->sum, word);
  for (int i = 0; !st && i < n; i++) {
    st = tq_path_join(rel, sizeof rel, word, files[i]);
    if (!st) st = tq_path_join(path, sizeof path, folder, files[i]);
    if (st) break;
    int in_test = listed(test, rel);
    if (listed(val, rel) || in_test != !s->train) continue;
    st = add_clip(s, path, label);
  }
  tq_dir_free(files, n);
  return st;
}

static tq_status index_clips(tq_kws_set *s) {
  kws_list val = {0}, test = {0};
  tq_status st = read_list(&val, s->dir, "validation_list.txt");
  if (!st) st = read_list(&test, s->dir, "testing_list.txt");
  char **words = NULL;
  int n = 0;
  if (!st) st = tq_dir_list(s->dir, 1, NULL, &words, &n);
  for (int i = 0; !st && i < n; i++)
    if (words[i][0] != '_') st = index_folder(s, words[i], &val, &test);
  tq_dir_free(words, n);
  list_free(&val);
  list_free(&test);
  return st;
}

static tq_status load_noises(tq_kws_set *s) {
  char folder[4096], path[8192];
  tq_status st = tq_path_join(folder, sizeof folder, s->dir, "_background_noise_");
  char **files = NULL;
  int n = 0;
  if (!st) st = tq_dir_list(folder, 0, ".wav", &files, &n);
  if (!st && n == 0)
    st = tq_fail(TQ_ERR_FORMAT, "%s: no background noise WAVs (silence clips are cut from them)", folder);
  if (!st && !(s->noise = calloc((size_t)n, sizeof *s->noise))) st = tq_fail(TQ_ERR_MEMORY, "%s: out of memory", folder);
  for (int i = 0; !st && i < n; i++) {
    st = tq_path_join(path, sizeof path, folder, files[i]);
    size_t most = (size_t)NOISE_MAX_SECONDS * TQ_AUDIO_RATE;
    if (!st) st = tq_wav_read(&s->noise[i].wav, path, most, most);
    if (st) break;
    s->n_noise++;
    if (!(s->noise[i].path = strdup(path))) {
      st = tq_fail(TQ_ERR_MEMORY, "%s: out of memory", folder);
      break;
    }
    size_t len = s->noise[i].wav.n, cut = len - (size_t)(len * NOISE_TEST_FRACTION);
    if (len < (size_t)NOISE_MIN_SECONDS * TQ_AUDIO_RATE)
      st = tq_fail(TQ_ERR_FORMAT, "%s: %.1f s; a background noise must last at least %d s (its training and test cuts)",
                   path, (double)len / TQ_AUDIO_RATE, NOISE_MIN_SECONDS);
    s->noise[i].train_end = cut;
  }
  tq_dir_free(files, n);
  s->sum.noise_files = s->n_noise;
  return st;
}

void tq_kws_noise_range(const tq_kws_set *s, int noise, int train, size_t *lo, size_t *hi) {
  const kws_noise *z = &s->noise[noise];
  *lo = train ? 0 : z->train_end;
  *hi = (train ? z->train_end : z->wav.n) - TQ_KWS_CLIP;
}

/* Known-word rows, then silence and sampled unknown rows (10 % of the known count each). */
static tq_status build_rows(tq_kws_set *s) {
  int known = 0, pool = 0;
  for (int i = 0; i < s->n_clips; i++) known += s->clips[i].label != TQ_KWS_UNKNOWN;
  pool = s->n_clips - known;
  if (known == 0)
    return tq_fail(TQ_ERR_FORMAT, "%s: no clips of the ten keywords in the %s split", s->dir,
                   s->train ? "training" : "test");
  int extra = (known + 9) / 10, unknown = pool < extra ? pool : extra;
  s->rows = tq_alloc(sizeof *s->rows * (size_t)(known + extra + unknown));
  int *order = tq_alloc(sizeof(int) * (size_t)(pool ? pool : 1));
  if (!s->rows || !order) {
    tq_free(order);
    return tq_fail_prefix(TQ_ERR_MEMORY, "%s", s->dir);
  }
  int n = 0, p = 0;
  for (int i = 0; i < s->n_clips; i++) {
    if (s->clips[i].label != TQ_KWS_UNKNOWN) s->rows[n++] = (kws_row){s->clips[i].label, i, -1, 0};
    else order[p++] = i;
  }
  tq_rng r;
  tq_rng_derive(&r, KWS_SPLIT_SEED, (uint64_t)s->train);
  for (int k = 0; k < extra; k++) {
    int z = (int)tq_rng_below(&r, (uint32_t)s->n_noise);
    size_t lo, hi;
    tq_kws_noise_range(s, z, s->train, &lo, &hi);
    s->rows[n++] = (kws_row){TQ_KWS_SILENCE, -1, z, lo + tq_rng_below(&r, (uint32_t)(hi - lo + 1))};
  }
  tq_rng_shuffle(&r, order, pool);
  for (int k = 0; k < unknown; k++) s->rows[n++] = (kws_row){TQ_KWS_UNKNOWN, order[k], -1, 0};
  tq_free(order);
  if (s->train) { /* a fixed shuffle, so that the 90/10 tail split is a random tenth */
    for (int i = n - 1; i > 0; i--) {
      int j = (int)tq_rng_below(&r, (uint32_t)(i + 1));
      kws_row t = s->rows[i];
      s->rows[i] = s->rows[j];
      s->rows[j] = t;
    }
  }
  s->n_rows = n;
  for (int i = 0; i < n; i++) s->sum.rows[s->rows[i].label]++;
  s->sum.unknown_pool = pool;
  return TQ_OK;
}

tq_status tq_kws_open(tq_kws_set **out, const char *dir, int train_split) {
  *out = NULL;
  tq_kws_set *s = tq_alloc(sizeof *s);
  if (!s) return tq_fail_prefix(TQ_ERR_MEMORY, "%s", dir);
  s->train = train_split != 0;
  tq_status st = strlen(dir) < sizeof s->dir ? TQ_OK : tq_fail(TQ_ERR_ARG, "%s: path too long", dir);
  if (!st) {
    memcpy(s->dir, dir, strlen(dir) + 1);
    st = index_clips(s);
  }
  if (!st) st = load_noises(s);
  if (!st) st = build_rows(s);
  if (!st) st = tq_features_create(&s->mfcc, TQ_FEATURES_MFCC);
  if (st) {
    tq_kws_close(s);
    return st;
  }
  *out = s;
  return TQ_OK;
}

void tq_kws_close(tq_kws_set *s) {
  if (!s) return;
  for (int i = 0; i < s->n_clips; i++) free(s->clips[i].path);
  free(s->clips);
  for (int i = 0; i < s->n_noise; i++) {
    tq_wav_free(&s->noise[i].wav);
    free(s->noise[i].path);
  }
  free(s->noise);
  tq_free(s->rows);
  tq_features_free(s->mfcc);
  tq_free(s);
}

const tq_kws_summary *tq_kws_summary_of(const tq_kws_set *s) { return &s->sum; }

tq_status tq_dataset_load_speech_commands(tq_dataset *out, const char *dir, int train_split,
                                          tq_input_scaling scaling) {
  (void)scaling;
  memset(out, 0, sizeof *out);
  tq_kws_set *s;
  tq_status st = tq_kws_open(&s, dir, train_split);
  if (st) return st;
  st = tq_kws_features(s, out);
  tq_kws_close(s);
  return st;
}
