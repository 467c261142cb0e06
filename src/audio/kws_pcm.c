/* The 16-bit PCM behind each Speech Commands row (tinyq eval --dump-pcm): the samples its features
 * are computed from, before tq_kws_clip divides them by their maximum — a word clip zero-padded to
 * one second, or a silence row's cut of background noise, which the test split takes as it is (no
 * volume: mixing is for training batches only). A 16-bit WAV sample s reads as s / 32768 exactly,
 * and the exported front-end computes (float)s / 32768.0f: the same float, so the same features up
 * to the FFT's rounding. */
#include <errno.h>
#include <string.h>

#include "audio/kws_internal.h"

/* x[i] * 32768 as int16 when that is exact. A float WAV's sample that is not k / 32768 would reach
 * a PCM front-end rounded, and the clip's features would no longer be the row's: refused. */
static tq_status to_pcm16(int16_t *out, const float *x, size_t n, const char *source, size_t first) {
  for (size_t i = 0; i < n; i++) {
    float k = x[i] * 32768.0f;
    if (!(k >= -32768.0f && k <= 32767.0f) || k != (float)(int)k)
      return tq_fail(TQ_ERR_FORMAT, "%s: sample %zu is %.9g, not a 16-bit PCM value (k / 32768): the row has no exact "
                     "int16 clip", source, first + i, (double)x[i]);
    out[i] = (int16_t)k;
  }
  return TQ_OK;
}

tq_status tq_kws_pcm(const tq_kws_set *s, int row, int16_t pcm[TQ_KWS_CLIP]) {
  if (row < 0 || row >= s->n_rows)
    return tq_fail(TQ_ERR_ARG, "speech-commands:%s: row %d out of range (%d rows)", s->dir, row, s->n_rows);
  const kws_row *r = &s->rows[row];
  tq_wav w;
  const float *x;
  size_t n;
  tq_status st = tq_kws_row_samples(s, r, &w, &x, &n);
  if (!st)
    st = r->clip < 0 ? to_pcm16(pcm, x, n, s->noise[r->noise].path, r->offset)
                     : to_pcm16(pcm, x, n, s->clips[r->clip].path, 0);
  if (!st) memset(pcm + n, 0, sizeof(int16_t) * (TQ_KWS_CLIP - n));
  tq_wav_free(&w);
  return st;
}

tq_status tq_kws_write_pcm(const tq_kws_set *s, int rows, const char *path) {
  if (rows < 0 || rows > s->n_rows)
    return tq_fail(TQ_ERR_ARG, "speech-commands:%s: %d rows asked for, the split has %d", s->dir, rows, s->n_rows);
  int16_t pcm[TQ_KWS_CLIP];
  unsigned char bytes[2 * TQ_KWS_CLIP];
  tq_atomic_file *f;
  tq_status st = tq_atomic_open(&f, path);
  if (st) return st;
  for (int i = 0; !st && i < rows; i++) {
    st = tq_kws_pcm(s, i, pcm);
    for (int k = 0; !st && k < TQ_KWS_CLIP; k++) { /* little-endian whatever the host */
      bytes[2 * k] = (unsigned char)((uint16_t)pcm[k] & 0xff);
      bytes[2 * k + 1] = (unsigned char)((uint16_t)pcm[k] >> 8);
    }
    if (!st && fwrite(bytes, 1, sizeof bytes, tq_atomic_stream(f)) != sizeof bytes)
      st = tq_fail(TQ_ERR_IO, "%s: write failed: %s", path, strerror(errno));
  }
  if (st) {
    tq_atomic_abort(f);
    return st;
  }
  return tq_atomic_commit(f);
}
