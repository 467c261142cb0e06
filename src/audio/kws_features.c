/* Keyword rows to MFCCs (SPEC §3): each row's clip (a word clip read from its WAV, or a cut of
 * background noise for silence) scaled by its maximum and padded to 16,000 samples; for training
 * batches, background noise mixed in afresh every epoch. Rows run in parallel on one shared
 * feature context; results do not depend on the thread count. */
#include <string.h>

#include "audio/kws_internal.h"

enum { MFCC_SIZE = 49 * 10 };
#define MIX_PROBABILITY 0.8f
#define MIX_MAX_VOLUME 0.1f
#define MIX_STREAM 0x4d49584e4f495345ULL /* "MIXNOISE" */

tq_status tq_kws_row_samples(const tq_kws_set *s, const kws_row *r, tq_wav *w, const float **x, size_t *n) {
  memset(w, 0, sizeof *w);
  if (r->clip < 0) {
    *x = s->noise[r->noise].wav.x + r->offset;
    *n = TQ_KWS_CLIP;
    return TQ_OK;
  }
  tq_status st = tq_wav_read(w, s->clips[r->clip].path, TQ_KWS_CLIP, TQ_KWS_CLIP);
  *x = w->x;
  *n = w->n;
  return st;
}

/* The row's clip, scaled and padded, into clip. */
static tq_status row_clip(const tq_kws_set *s, const kws_row *r, float clip[TQ_KWS_CLIP]) {
  tq_wav w;
  const float *x;
  size_t n;
  tq_status st = tq_kws_row_samples(s, r, &w, &x, &n);
  if (!st) tq_kws_clip(clip, x, n);
  tq_wav_free(&w);
  return st;
}

tq_status tq_kws_features(const tq_kws_set *s, tq_dataset *out) {
  memset(out, 0, sizeof *out);
  out->x = tq_alloc_floats((size_t)s->n_rows * MFCC_SIZE);
  out->y = out->x ? tq_alloc(sizeof(int) * (size_t)s->n_rows) : NULL;
  if (!out->x || !out->y) {
    tq_dataset_free(out);
    return tq_fail_prefix(TQ_ERR_MEMORY, "speech-commands:%s", s->dir);
  }
  tq_first_error e = {s->n_rows, TQ_OK, ""};
#pragma omp parallel for schedule(dynamic, 16)
  for (int i = 0; i < s->n_rows; i++) {
    float clip[TQ_KWS_CLIP];
    tq_status st = row_clip(s, &s->rows[i], clip);
    if (!st) st = tq_features_compute(s->mfcc, clip, TQ_KWS_CLIP, out->x + (size_t)i * MFCC_SIZE);
    if (st) tq_first_error_note(&e, i, st);
    out->y[i] = s->rows[i].label;
  }
  if (e.st) {
    tq_dataset_free(out);
    return tq_first_error_raise(&e);
  }
  out->n = s->n_rows;
  out->h = 49;
  out->w = 10;
  out->c = 1;
  out->classes = TQ_KWS_CLASSES;
  return TQ_OK;
}

tq_status tq_kws_mix_batch(const tq_kws_set *s, float *x, const int *rows, int n, int epoch,
                           uint64_t seed) {
  if (!s->train) return tq_fail(TQ_ERR_ARG, "speech-commands:%s: only training rows are mixed", s->dir);
  tq_first_error e = {n, TQ_OK, ""};
#pragma omp parallel for schedule(dynamic, 4)
  for (int i = 0; i < n; i++) {
    int row = rows[i];
    if (row < 0 || row >= s->n_rows) {
      tq_first_error_note(&e, i, tq_fail(TQ_ERR_ARG, "speech-commands:%s: row %d out of range", s->dir, row));
      continue;
    }
    tq_rng r;
    tq_rng_derive(&r, seed ^ MIX_STREAM, ((uint64_t)epoch << 32) | (uint32_t)row);
    if (tq_rng_uniform(&r) >= MIX_PROBABILITY) continue;
    int z = (int)tq_rng_below(&r, (uint32_t)s->n_noise);
    size_t lo, hi;
    tq_kws_noise_range(s, z, 1, &lo, &hi);
    size_t at = lo + tq_rng_below(&r, (uint32_t)(hi - lo + 1));
    float volume = tq_rng_uniform(&r) * MIX_MAX_VOLUME;
    float clip[TQ_KWS_CLIP];
    tq_status st = row_clip(s, &s->rows[row], clip);
    if (!st) {
      tq_kws_mix(clip, s->noise[z].wav.x + at, volume);
      st = tq_features_compute(s->mfcc, clip, TQ_KWS_CLIP, x + (size_t)i * MFCC_SIZE);
    }
    if (st) tq_first_error_note(&e, i, st);
  }
  return tq_first_error_raise(&e);
}

struct tq_kws_mixer {
  tq_kws_set *set;
  tq_dataset *train;
  float *clean; /* the unmixed features of train's rows */
  int *rows;    /* 0..n-1 */
  uint64_t seed;
  tq_epoch_callback next; /* the run's own per-epoch callback, called after mixing */
  void *next_ctx;
};

tq_status tq_kws_mixer_create(tq_kws_mixer **out, const char *dir, tq_dataset *train, uint64_t seed) {
  *out = NULL;
  tq_kws_mixer *mx = tq_alloc(sizeof *mx);
  if (!mx) return tq_fail_prefix(TQ_ERR_MEMORY, "speech-commands:%s", dir);
  mx->train = train;
  mx->seed = seed;
  tq_status st = tq_kws_open(&mx->set, dir, 1);
  if (!st && (train->n > mx->set->n_rows || train->h * train->w * train->c != MFCC_SIZE))
    st = tq_fail(TQ_ERR_ARG, "speech-commands:%s: %d rows of %dx%dx%d are not the training split's", dir,
                 train->n, train->h, train->w, train->c);
  size_t bytes = sizeof(float) * (size_t)train->n * MFCC_SIZE;
  if (!st && (!(mx->clean = tq_alloc(bytes)) || !(mx->rows = tq_alloc(sizeof(int) * (size_t)(train->n + 1)))))
    st = tq_fail_prefix(TQ_ERR_MEMORY, "speech-commands:%s", dir);
  if (st) {
    tq_kws_mixer_free(mx);
    return st;
  }
  memcpy(mx->clean, train->x, bytes);
  for (int i = 0; i < train->n; i++) mx->rows[i] = i;
  *out = mx;
  return TQ_OK;
}

tq_status tq_kws_mixer_epoch(tq_kws_mixer *mx, int epoch) {
  memcpy(mx->train->x, mx->clean, sizeof(float) * (size_t)mx->train->n * MFCC_SIZE);
  return tq_kws_mix_batch(mx->set, mx->train->x, mx->rows, mx->train->n, epoch, mx->seed);
}

void tq_kws_mixer_free(tq_kws_mixer *mx) {
  if (!mx) return;
  tq_kws_close(mx->set);
  tq_free(mx->clean);
  tq_free(mx->rows);
  tq_free(mx);
}

static tq_status mix_next_epoch(void *ctx, tq_model *m, int epoch, const tq_epoch_metrics *metrics) {
  tq_kws_mixer *mx = ctx;
  tq_status st = tq_kws_mixer_epoch(mx, epoch + 1);
  if (!st && mx->next) st = mx->next(mx->next_ctx, m, epoch, metrics);
  return st;
}

tq_status tq_kws_mixer_attach(tq_kws_mixer **out, const char *dir, tq_dataset *train, tq_train_config *c,
                              int first_epoch, FILE *log) {
  tq_status st = tq_kws_mixer_create(out, dir, train, c->seed);
  if (!st) st = tq_kws_mixer_epoch(*out, first_epoch);
  if (st) {
    tq_kws_mixer_free(*out);
    *out = NULL;
    return st;
  }
  tq_kws_mixer *mx = *out;
  const tq_kws_summary *sum = &mx->set->sum;
  fprintf(log, "speech-commands: %d training rows (silence %d, unknown %d of %d); %d word folder%s outside the 12 "
          "classes go%s to unknown%s%s%s; background noise mixed into the training clips afresh every epoch "
          "(%.0f %%, volume U(0, %.1f), %d noise file%s)\n",
          mx->set->n_rows, sum->rows[TQ_KWS_SILENCE], sum->rows[TQ_KWS_UNKNOWN], sum->unknown_pool,
          sum->other_folders, sum->other_folders == 1 ? "" : "s", sum->other_folders == 1 ? "es" : "",
          sum->other_folders ? " (" : "", sum->other_names, sum->other_folders ? ")" : "",
          100.0 * MIX_PROBABILITY, (double)MIX_MAX_VOLUME, sum->noise_files, sum->noise_files == 1 ? "" : "s");
  fflush(log);
  mx->next = c->on_epoch;
  mx->next_ctx = c->on_epoch_ctx;
  c->on_epoch = mix_next_epoch;
  c->on_epoch_ctx = mx;
  return TQ_OK;
}
