/* The Speech Commands index shared by src/data/speech_commands.c (lists, folders, rows) and
 * src/audio/kws_features.c (MFCCs, mixing). */
#ifndef TINYQ_KWS_INTERNAL_H
#define TINYQ_KWS_INTERNAL_H

#include "audio/audio_internal.h"
#include "tinyq/audio.h"

typedef struct {
  char *text;      /* the file, NUL-terminated lines */
  size_t size;
  char **entries;  /* sorted "<word>/<file>" */
  int n;
} kws_list;

typedef struct {
  char *path;
  int label; /* a keyword class or TQ_KWS_UNKNOWN */
} kws_clip;

typedef struct {
  char *path;
  tq_wav wav;
  size_t train_end; /* training cuts lie in [0, train_end), test cuts after it */
} kws_noise;

typedef struct {
  int label;
  int clip;      /* index into clips; -1 for silence */
  int noise;     /* silence: the noise it is cut from */
  size_t offset; /* silence: where the cut starts */
} kws_row;

struct tq_kws_set {
  char dir[4096];
  int train;
  kws_clip *clips;
  int n_clips, cap_clips;
  kws_noise *noise;
  int n_noise;
  kws_row *rows;
  int n_rows;
  tq_features *mfcc;
  tq_kws_summary sum;
};

/* A row's samples as read, before tq_kws_clip scales them: a word clip read into *w (at most
 * 16,000 samples; tq_wav_free it), or a silence row's cut of its noise (w left empty, *x points
 * into the noise). */
tq_status tq_kws_row_samples(const tq_kws_set *s, const kws_row *r, tq_wav *w, const float **x, size_t *n);

/* Where a clip-length stretch of noise may start for the split: [lo, hi]. */
void tq_kws_noise_range(const tq_kws_set *s, int noise, int train, size_t *lo, size_t *hi);

#endif
