/* Audio input and features (SPEC §3): WAV files through libsndfile, MFCC and log-mel through FFTW.
 * Sample rate 16 kHz mono everywhere; nothing is resampled or down-mixed. */
#ifndef TINYQ_AUDIO_H
#define TINYQ_AUDIO_H

#include <stddef.h>

#include "tinyq/core.h"

enum { TQ_AUDIO_RATE = 16000 };

/* ---- WAV input. */
typedef struct {
  float *x;      /* n samples, tq_alloc'd: 16-bit PCM as int16 / 32768, float as stored */
  size_t n;      /* samples read: min(length, read_len) */
  size_t length; /* samples the file holds */
} tq_wav;

/* Reads a mono 16 kHz WAV of 16-bit PCM or 32-bit float samples. Refused, each with a one-line
 * message naming the file: not a WAV (or a truncated header), another sample rate, several
 * channels, another sample format (8-, 24-, 32-bit PCM, double, compressed), no samples, more than
 * max_len samples (decided from the header: nothing is read), float samples that are not finite
 * or beyond ±1000. A data chunk cut short reads as the samples present (libsndfile's way). Only the
 * first read_len samples are read, so memory stays bounded by read_len whatever the file's size.
 * On failure *out is zeroed. Safe to call from several threads at once. */
tq_status tq_wav_read(tq_wav *out, const char *path, size_t read_len, size_t max_len);
void tq_wav_free(tq_wav *w); /* frees x, zeroes *w; safe on a zeroed tq_wav */

/* Writes mono 16 kHz 16-bit PCM (samples clipped to [-1, 1], scaled by 32767, rounded). For tests
 * and examples. */
tq_status tq_wav_write_pcm16(const char *path, const float *x, size_t n);

/* ---- Features (SPEC §3). One context per kind holds the FFT plan, window, mel filterbank and
 * DCT, built once; computing reads it only, so one context serves any number of threads. */
typedef enum {
  TQ_FEATURES_MFCC = 0, /* keyword spotting: 16,000 samples -> 49 frames x 10 coefficients */
  TQ_FEATURES_LOGMEL,   /* anomaly detection: a 10 s clip -> 196 vectors of 5 x 128 log-mel */
  TQ_FEATURES_KIND_COUNT
} tq_feature_kind;

typedef struct tq_features tq_features;

tq_status tq_features_create(tq_features **out, tq_feature_kind kind);
void tq_features_free(tq_features *f); /* safe on NULL */
tq_feature_kind tq_features_kind(const tq_features *f);
const char *tq_features_name(tq_feature_kind kind); /* "mfcc" | "logmel" */

/* Output shape: rows x cols floats (MFCC 49 x 10 time first; log-mel 196 x 640, each row five
 * consecutive frames of 128 bands, frame first). */
int tq_features_rows(const tq_features *f);
int tq_features_cols(const tq_features *f);
/* Samples the computation reads (MFCC 16,000; log-mel 128,000: frames 50..249 end there) and the
 * fewest it accepts (MFCC 16,000; log-mel 127,488, the shortest clip with a frame 249). Longer
 * input is fine; samples past samples_used do not change the result. */
size_t tq_features_samples_used(const tq_features *f);
size_t tq_features_samples_min(const tq_features *f);

/* out (rows x cols) = the features of x[0..n). Errors: n below samples_min, out of memory. */
tq_status tq_features_compute(const tq_features *f, const float *x, size_t n, float *out);

/* ---- Keyword clips (SPEC §3, as MLPerf Tiny prepares them). */
enum { TQ_KWS_CLIP = 16000 };
/* out = x divided by its largest sample (the signed maximum, MLPerf's reduce_max; a clip whose
 * maximum is not positive, e.g. digital silence, is left unscaled), zero-padded or cut to 16,000. */
void tq_kws_clip(float out[TQ_KWS_CLIP], const float *x, size_t n);
/* Background mixing: clip[i] = clamp(clip[i] + volume * noise[i], -1, 1) over 16,000 samples. */
void tq_kws_mix(float clip[TQ_KWS_CLIP], const float *noise, float volume);

#endif
