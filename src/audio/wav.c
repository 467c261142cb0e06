/* WAV input through libsndfile: mono 16 kHz, 16-bit PCM or 32-bit float, nothing resampled.
 * libsndfile parses the RIFF chunks (and WAVE_FORMAT_EXTENSIBLE); this file decides what tinyq
 * accepts and says why it refuses, naming the file. */
#include <math.h>
#include <sndfile.h>
#include <string.h>

#include "tinyq/audio.h"

/* Float WAVs hold about ±1; a sample beyond this is a broken or foreign file, and its square (the
 * power spectrum) would overflow float. */
#define WAV_FLOAT_LIMIT 1000.0f

static const char *subtype_name(int subtype) {
  switch (subtype) {
    case SF_FORMAT_PCM_S8:
    case SF_FORMAT_PCM_U8: return "8-bit PCM";
    case SF_FORMAT_PCM_16: return "16-bit PCM";
    case SF_FORMAT_PCM_24: return "24-bit PCM";
    case SF_FORMAT_PCM_32: return "32-bit PCM";
    case SF_FORMAT_FLOAT: return "32-bit float";
    case SF_FORMAT_DOUBLE: return "64-bit float";
    case SF_FORMAT_ULAW: return "u-law";
    case SF_FORMAT_ALAW: return "A-law";
    case SF_FORMAT_IMA_ADPCM:
    case SF_FORMAT_MS_ADPCM: return "ADPCM";
    case SF_FORMAT_GSM610: return "GSM 6.10";
    default: return "a compressed encoding";
  }
}

/* sf_open reports a failed open through libsndfile's one global error slot, so opens are
 * serialised; reads through an open handle touch only that handle. */
static SNDFILE *open_wav(const char *path, SF_INFO *info, char *why, size_t why_len) {
  SNDFILE *f;
#pragma omp critical(tq_sndfile_open)
  {
    memset(info, 0, sizeof *info);
    f = sf_open(path, SFM_READ, info);
    if (!f) snprintf(why, why_len, "%s", sf_strerror(NULL));
  }
  return f;
}

/* What tinyq accepts, from the header alone. */
static tq_status check_header(const char *path, const SF_INFO *info, size_t max_len) {
  int major = info->format & SF_FORMAT_TYPEMASK, subtype = info->format & SF_FORMAT_SUBMASK;
  if (major != SF_FORMAT_WAV && major != SF_FORMAT_WAVEX)
    return tq_fail(TQ_ERR_FORMAT, "%s: not a WAV file (libsndfile reads it as format 0x%x)", path,
                   (unsigned)major >> 16);
  if (subtype != SF_FORMAT_PCM_16 && subtype != SF_FORMAT_FLOAT)
    return tq_fail(TQ_ERR_FORMAT, "%s: %s samples; expected 16-bit PCM or 32-bit float", path,
                   subtype_name(subtype));
  if (info->channels != 1)
    return tq_fail(TQ_ERR_FORMAT, "%s: %d channels; expected mono (nothing is down-mixed)", path,
                   info->channels);
  if (info->samplerate != TQ_AUDIO_RATE)
    return tq_fail(TQ_ERR_FORMAT, "%s: sample rate %d Hz; expected %d Hz (nothing is resampled)",
                   path, info->samplerate, TQ_AUDIO_RATE);
  if (info->frames <= 0)
    return tq_fail(TQ_ERR_FORMAT, "%s: no samples (empty data chunk)", path);
  if ((unsigned long long)info->frames > (unsigned long long)max_len)
    return tq_fail(TQ_ERR_FORMAT, "%s: %.1f s long; at most %.1f s expected here", path,
                   (double)info->frames / TQ_AUDIO_RATE, (double)max_len / TQ_AUDIO_RATE);
  return TQ_OK;
}

static tq_status check_samples(const char *path, const float *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!(fabsf(x[i]) <= WAV_FLOAT_LIMIT))
      return tq_fail(TQ_ERR_FORMAT, "%s: sample %zu is %g (float samples must be finite, within ±%g)",
                     path, i, (double)x[i], (double)WAV_FLOAT_LIMIT);
  return TQ_OK;
}

tq_status tq_wav_read(tq_wav *out, const char *path, size_t read_len, size_t max_len) {
  memset(out, 0, sizeof *out);
  SF_INFO info;
  char why[256] = "";
  SNDFILE *f = open_wav(path, &info, why, sizeof why);
  if (!f) return tq_fail(TQ_ERR_FORMAT, "%s: cannot read as WAV (%s)", path, why);
  tq_status st = check_header(path, &info, max_len);
  size_t length = st ? 0 : (size_t)info.frames;
  size_t want = length < read_len ? length : read_len;
  if (!st && want == 0) st = tq_fail(TQ_ERR_ARG, "%s: asked to read 0 samples", path);
  if (!st) {
    out->x = tq_alloc_floats(want);
    if (!out->x) st = tq_fail_prefix(TQ_ERR_MEMORY, "%s", path);
  }
  if (!st) {
    sf_count_t got = sf_read_float(f, out->x, (sf_count_t)want);
    if (got < 0 || (size_t)got != want)
      st = tq_fail(TQ_ERR_FORMAT, "%s: truncated: the header promises %zu samples, only %lld read",
                   path, length, (long long)(got < 0 ? 0 : got));
  }
  if (!st && (info.format & SF_FORMAT_SUBMASK) == SF_FORMAT_FLOAT) st = check_samples(path, out->x, want);
  sf_close(f);
  if (st) {
    tq_wav_free(out);
    return st;
  }
  out->n = want;
  out->length = length;
  return TQ_OK;
}

void tq_wav_free(tq_wav *w) {
  if (!w) return;
  tq_free(w->x);
  memset(w, 0, sizeof *w);
}

tq_status tq_wav_write_pcm16(const char *path, const float *x, size_t n) {
  SF_INFO info = {.samplerate = TQ_AUDIO_RATE, .channels = 1,
                  .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
  SNDFILE *f;
#pragma omp critical(tq_sndfile_open)
  f = sf_open(path, SFM_WRITE, &info);
  if (!f) return tq_fail(TQ_ERR_IO, "%s: cannot write WAV", path);
  short buf[1024];
  tq_status st = TQ_OK;
  for (size_t i = 0; i < n && !st; i += 1024) {
    size_t m = n - i < 1024 ? n - i : 1024;
    for (size_t j = 0; j < m; j++) {
      float v = x[i + j] > 1.0f ? 1.0f : x[i + j] < -1.0f ? -1.0f : x[i + j];
      buf[j] = (short)lrintf(v * 32767.0f);
    }
    if (sf_write_short(f, buf, (sf_count_t)m) != (sf_count_t)m)
      st = tq_fail(TQ_ERR_IO, "%s: write failed", path);
  }
  if (sf_close(f) != 0 && !st) st = tq_fail(TQ_ERR_IO, "%s: close failed", path);
  return st;
}
