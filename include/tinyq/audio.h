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

#endif
