/* Pieces of the feature front-ends shared inside src/audio. */
#ifndef TINYQ_AUDIO_INTERNAL_H
#define TINYQ_AUDIO_INTERNAL_H

#include <stddef.h>

#include "tinyq/audio.h"
#include "tinyq/core.h"

/* The parameters of one kind of features (SPEC §3); tq_feature_spec_of gives the one training
 * uses, which tinyq export --frontend also generates the MCU's tables from. */
typedef struct {
  const char *name;
  int win_len, hop, n_fft;
  int centred; /* frame t is centred on sample t*hop, the signal reflect-padded by n_fft/2 */
  int power;   /* 1: magnitude spectrum, 2: power spectrum */
  int n_mels;
  double lo_hz, hi_hz;
  void (*filterbank)(float *fb, int n_mels, int n_fft, double rate, double lo_hz, double hi_hz);
  double (*compress)(double mel_energy);
  int keep;                        /* DCT coefficients kept, 0 = no DCT (log-mel) */
  int first_frame, frames, stack;  /* frames first..first+frames-1, stack consecutive per row */
} tq_feature_spec;
const tq_feature_spec *tq_feature_spec_of(tq_feature_kind kind); /* kind < TQ_FEATURES_KIND_COUNT */

/* w[i] = 0.5 - 0.5 cos(2 pi i / n): the periodic Hann window (scipy's sym=False). */
void tq_hann_periodic(float *w, int n);

/* Mel filterbanks as n_mels rows of n_fft/2 + 1 bin weights. */
/* HTK mel (1127 ln(1 + f/700)), triangles of peak 1 between mel-spaced edges from lo_hz to
 * hi_hz, weighed in mel; bin 0 (DC) weight 0: TensorFlow's linear_to_mel_weight_matrix. */
void tq_mel_htk(float *fb, int n_mels, int n_fft, double rate, double lo_hz, double hi_hz);
/* Slaney mel (linear below 1 kHz, logarithmic above), triangles weighed in Hz, each scaled by
 * 2 / (its width in Hz) so that its area is constant: librosa.filters.mel's defaults. */
void tq_mel_slaney(float *fb, int n_mels, int n_fft, double rate, double lo_hz, double hi_hz);
/* m[k][j] = sqrt(2/n) cos(pi k (2j + 1) / (2n)), k < keep: TensorFlow's
 * mfccs_from_log_mel_spectrograms (a DCT-II scaled by 1/sqrt(2n), the same for every k). */
void tq_dct2_matrix(float *m, int keep, int n);


/* The entries of dir, sorted by strcmp (byte order, whatever the locale): sub-directories
 * (want_dirs) or regular files ending in suffix (suffix NULL: any), without "." entries.
 * *names is a malloc'd array of malloc'd strings; tq_dir_free releases it. Errors name dir. */
tq_status tq_dir_list(const char *dir, int want_dirs, const char *suffix, char ***names, int *count);
void tq_dir_free(char **names, int count);
/* snprintf into buf (cap bytes) of "a/b"; an error naming a when it does not fit. */
tq_status tq_path_join(char *buf, size_t cap, const char *a, const char *b);

/* Errors inside a parallel loop: tq_last_error is per thread, so the message of the failing item
 * with the lowest index is kept (the same message whatever the thread count). Start with
 * {count, TQ_OK, ""}; tq_first_error_raise re-records it on the calling thread. */
typedef struct {
  long item;
  tq_status st;
  char msg[1024];
} tq_first_error;
void tq_first_error_note(tq_first_error *e, long item, tq_status st);
tq_status tq_first_error_raise(const tq_first_error *e);

#endif
