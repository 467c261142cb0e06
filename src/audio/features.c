/* MFCC and log-mel front-ends (SPEC §3): framing, window, FFTW real FFT, mel filterbank, log and,
 * for MFCC, the DCT; then consecutive frames stacked into rows. Both kinds are one pipeline with
 * the differences in a table. The FFT runs in single precision; filterbanks, sums and logs in
 * double. */
#include <fftw3.h>
#include <math.h>
#include <string.h>

#include "audio/audio_internal.h"
#include "tinyq/audio.h"


static double ln_floor6(double x) { return log(x + 1e-6); }
/* librosa.power_to_db without a reference: 10 log10(x + float64 epsilon). */
static double decibels(double x) { return 10.0 * log10(x + 2.220446049250313e-16); }

static const tq_feature_spec specs[] = {
    /* TensorFlow's stft (no padding, fft_length the next power of two), MLPerf Tiny KWS. */
    [TQ_FEATURES_MFCC] = {"mfcc", 480, 320, 512, 0, 1, 40, 20.0, 4000.0, tq_mel_htk, ln_floor6, 10,
                          0, 49, 1},
    /* librosa.feature.melspectrogram defaults with the DCASE 2020 baseline's settings; frames
     * 50..249 as MLPerf Tiny AD keeps them. */
    [TQ_FEATURES_LOGMEL] = {"logmel", 1024, 512, 1024, 1, 2, 128, 0.0, 8000.0, tq_mel_slaney,
                            decibels, 0, 50, 200, 5},
};
_Static_assert(sizeof specs / sizeof specs[0] == TQ_FEATURES_KIND_COUNT, "one spec per kind");

struct tq_features {
  tq_feature_kind kind;
  const tq_feature_spec *spec;
  fftwf_plan plan;  /* r2c of n_fft, executed on per-call buffers of the planned alignment */
  float *window;    /* periodic Hann of win_len */
  float *fbank;     /* n_mels x bins */
  int *band_first;  /* per band: first and one-past-last bin of non-zero weight */
  int *band_end;
  float *dct;       /* keep x n_mels, or NULL */
};

static int bins_of(const tq_feature_spec *s) { return s->n_fft / 2 + 1; }
static int per_frame(const tq_feature_spec *s) { return s->keep ? s->keep : s->n_mels; }

const char *tq_features_name(tq_feature_kind kind) {
  return kind >= 0 && kind < TQ_FEATURES_KIND_COUNT ? specs[kind].name : "?";
}
tq_feature_kind tq_features_kind(const tq_features *f) { return f->kind; }
const tq_feature_spec *tq_feature_spec_of(tq_feature_kind kind) { return &specs[kind]; }
int tq_features_rows(const tq_features *f) { return f->spec->frames - f->spec->stack + 1; }
int tq_features_cols(const tq_features *f) { return f->spec->stack * per_frame(f->spec); }

size_t tq_features_samples_used(const tq_features *f) {
  const tq_feature_spec *s = f->spec;
  size_t last = (size_t)(s->first_frame + s->frames - 1) * (size_t)s->hop;
  return s->centred ? last + (size_t)s->n_fft / 2 : last + (size_t)s->win_len;
}

size_t tq_features_samples_min(const tq_features *f) {
  const tq_feature_spec *s = f->spec;
  /* centred: 1 + n / hop frames exist (librosa), and the reflection needs n > n_fft / 2 */
  size_t last = (size_t)(s->first_frame + s->frames - 1) * (size_t)s->hop;
  if (!s->centred) return last + (size_t)s->win_len;
  return last > (size_t)s->n_fft / 2 ? last : (size_t)s->n_fft / 2 + 1;
}

void tq_features_free(tq_features *f) {
  if (!f) return;
  if (f->plan) {
#pragma omp critical(tq_fftw_planner)
    fftwf_destroy_plan(f->plan);
  }
  tq_free(f->window);
  tq_free(f->fbank);
  tq_free(f->band_first);
  tq_free(f->band_end);
  tq_free(f->dct);
  tq_free(f);
}

/* FFTW's planner is not thread-safe; FFTW_ESTIMATE picks the plan without timing, so the same
 * machine always computes the same bits. */
static tq_status make_plan(tq_features *f) {
  int n = f->spec->n_fft;
  float *in = tq_alloc_floats((size_t)n);
  fftwf_complex *out = tq_alloc(sizeof(fftwf_complex) * (size_t)bins_of(f->spec));
  if (in && out) {
#pragma omp critical(tq_fftw_planner)
    f->plan = fftwf_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE);
  }
  tq_free(in);
  tq_free(out);
  if (!f->plan) return tq_fail(TQ_ERR_MEMORY, "%s features: cannot plan a %d-point FFT", f->spec->name, n);
  return TQ_OK;
}

static void build_tables(tq_features *f) {
  const tq_feature_spec *s = f->spec;
  int bins = bins_of(s);
  tq_hann_periodic(f->window, s->win_len);
  s->filterbank(f->fbank, s->n_mels, s->n_fft, TQ_AUDIO_RATE, s->lo_hz, s->hi_hz);
  for (int m = 0; m < s->n_mels; m++) {
    const float *w = f->fbank + (long)m * bins;
    int a = 0, b = bins;
    while (a < bins && w[a] == 0.0f) a++;
    while (b > a && w[b - 1] == 0.0f) b--;
    f->band_first[m] = a;
    f->band_end[m] = b;
  }
  if (s->keep) tq_dct2_matrix(f->dct, s->keep, s->n_mels);
}

tq_status tq_features_create(tq_features **out, tq_feature_kind kind) {
  *out = NULL;
  if (kind < 0 || kind >= TQ_FEATURES_KIND_COUNT)
    return tq_fail(TQ_ERR_ARG, "unknown feature kind %d", (int)kind);
  tq_features *f = tq_alloc(sizeof *f);
  if (!f) return tq_fail_prefix(TQ_ERR_MEMORY, "%s features", specs[kind].name);
  f->kind = kind;
  f->spec = &specs[kind];
  const tq_feature_spec *s = f->spec;
  f->window = tq_alloc_floats((size_t)s->win_len);
  f->fbank = tq_alloc_floats((size_t)s->n_mels * (size_t)bins_of(s));
  f->band_first = tq_alloc(sizeof(int) * (size_t)s->n_mels);
  f->band_end = tq_alloc(sizeof(int) * (size_t)s->n_mels);
  f->dct = s->keep ? tq_alloc_floats((size_t)s->keep * (size_t)s->n_mels) : NULL;
  tq_status st = TQ_OK;
  if (!f->window || !f->fbank || !f->band_first || !f->band_end || (s->keep && !f->dct))
    st = tq_fail_prefix(TQ_ERR_MEMORY, "%s features", s->name);
  if (!st) st = make_plan(f);
  if (st) {
    tq_features_free(f);
    return st;
  }
  build_tables(f);
  *out = f;
  return TQ_OK;
}

/* Frame t, windowed and zero-padded to n_fft. Centred frames read the signal reflect-padded by
 * n_fft/2 on both sides (numpy's "reflect": the edge sample is not repeated). */
static void fill_frame(float *buf, const tq_features *f, const float *x, size_t n, int t) {
  const tq_feature_spec *s = f->spec;
  long start = (long)t * s->hop - (s->centred ? s->n_fft / 2 : 0);
  for (int i = 0; i < s->win_len; i++) {
    long j = start + i;
    if (j < 0) j = -j;
    if (j >= (long)n) j = 2 * ((long)n - 1) - j;
    buf[i] = x[j] * f->window[i];
  }
  for (int i = s->win_len; i < s->n_fft; i++) buf[i] = 0.0f;
}

/* One frame's features (per_frame values) from its spectrum. */
static void frame_features(float *dst, const tq_features *f, const fftwf_complex *spec, double *mel) {
  const tq_feature_spec *s = f->spec;
  int bins = bins_of(s);
  for (int m = 0; m < s->n_mels; m++) {
    const float *w = f->fbank + (long)m * bins;
    double acc = 0.0;
    for (int k = f->band_first[m]; k < f->band_end[m]; k++) {
      double pw = (double)spec[k][0] * spec[k][0] + (double)spec[k][1] * spec[k][1];
      acc += w[k] * (s->power == 2 ? pw : sqrt(pw));
    }
    mel[m] = s->compress(acc);
  }
  if (!s->keep) {
    for (int m = 0; m < s->n_mels; m++) dst[m] = (float)mel[m];
    return;
  }
  for (int k = 0; k < s->keep; k++) {
    double acc = 0.0;
    for (int m = 0; m < s->n_mels; m++) acc += f->dct[k * s->n_mels + m] * mel[m];
    dst[k] = (float)acc;
  }
}

tq_status tq_features_compute(const tq_features *f, const float *x, size_t n, float *out) {
  const tq_feature_spec *s = f->spec;
  if (n < tq_features_samples_min(f))
    return tq_fail(TQ_ERR_ARG, "%s features need at least %zu samples (%.2f s), got %zu", s->name,
                   tq_features_samples_min(f), (double)tq_features_samples_min(f) / TQ_AUDIO_RATE, n);
  int bins = bins_of(s), pf = per_frame(s);
  float *buf = tq_alloc_floats((size_t)s->n_fft);
  fftwf_complex *spec = tq_alloc(sizeof(fftwf_complex) * (size_t)bins);
  double *mel = tq_alloc(sizeof(double) * (size_t)s->n_mels);
  float *frames = tq_alloc_floats((size_t)s->frames * (size_t)pf);
  tq_status st = TQ_OK;
  if (!buf || !spec || !mel || !frames) {
    st = tq_fail_prefix(TQ_ERR_MEMORY, "%s features", s->name);
    goto done;
  }
  for (int t = 0; t < s->frames; t++) {
    fill_frame(buf, f, x, n, s->first_frame + t);
    fftwf_execute_dft_r2c(f->plan, buf, spec);
    frame_features(frames + (size_t)t * pf, f, (const fftwf_complex *)spec, mel);
  }
  int rows = tq_features_rows(f), cols = tq_features_cols(f);
  for (int r = 0; r < rows; r++) memcpy(out + (size_t)r * cols, frames + (size_t)r * pf, sizeof(float) * (size_t)cols);
done:
  tq_free(buf);
  tq_free(spec);
  tq_free(mel);
  tq_free(frames);
  return st;
}
