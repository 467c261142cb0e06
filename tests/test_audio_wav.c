/* WAV input (src/audio/wav.c): what is accepted reads back exactly; every hostile file of issue 13
 * is refused with one line naming the file, and a 1-hour file costs no memory. Files are written
 * byte by byte here (not through libsndfile), so the reader is checked against the RIFF layout. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "tinyq/audio.h"
#include "tq_test.h"

static char dir[256];

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put16(unsigned char *p, unsigned v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
}

typedef struct {
  unsigned tag, channels, rate, bits;
  uint32_t data_declared; /* the data chunk's size field */
  size_t data_written;    /* bytes of samples actually written */
  size_t header_cut;      /* > 0: the file ends after this many header bytes */
  off_t sparse_to;        /* > 0: the file is extended (sparse, zeros) to this size */
} wav_spec;

/* A canonical 44-byte-header WAV; samples are a ramp of int16 (or floats for tag 3). */
static const char *write_wav(const char *name, wav_spec s) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  unsigned char h[44];
  unsigned block = s.channels * s.bits / 8;
  memcpy(h, "RIFF", 4);
  put32(h + 4, 36 + s.data_declared);
  memcpy(h + 8, "WAVEfmt ", 8);
  put32(h + 16, 16);
  put16(h + 20, s.tag);
  put16(h + 22, s.channels);
  put32(h + 24, s.rate);
  put32(h + 28, s.rate * block);
  put16(h + 32, block);
  put16(h + 34, s.bits);
  memcpy(h + 36, "data", 4);
  put32(h + 40, s.data_declared);
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  fwrite(h, 1, s.header_cut ? s.header_cut : sizeof h, f);
  for (size_t i = 0; !s.header_cut && i < s.data_written; i++) fputc((int)(i * 37 % 251), f);
  fclose(f);
  if (s.sparse_to && truncate(path, s.sparse_to) != 0) abort();
  return path;
}

static void expect_refused(const char *path, const char *what) {
  tq_wav w;
  tq_status st = tq_wav_read(&w, path, 16000, 16000);
  const char *e = tq_last_error();
  CHECK(st != TQ_OK);
  CHECK(w.x == NULL && w.n == 0);
  CHECK(strstr(e, path) != NULL);
  CHECK(strstr(e, what) != NULL);
  CHECK(strchr(e, '\n') == NULL);
  if (st == TQ_OK || !strstr(e, what)) fprintf(stderr, "  %s: got '%s'\n", what, e);
  else printf("refused: %s\n", e);
}

static void accepted_pcm16(void) {
  const float x[5] = {0.0f, 0.5f, -0.5f, 1.0f, -1.0f};
  char path[512];
  snprintf(path, sizeof path, "%s/ok.wav", dir);
  CHECK(tq_wav_write_pcm16(path, x, 5) == TQ_OK);
  tq_wav w;
  CHECK(tq_wav_read(&w, path, 100, 100) == TQ_OK);
  CHECK_EQ_INT(w.n, 5);
  CHECK_EQ_INT(w.length, 5);
  /* int16 / 32768: 0.5 was written as round(0.5 * 32767) = 16384 (lrintf rounds half to even). */
  const float want[5] = {0.0f, 16384 / 32768.0f, -16384 / 32768.0f, 32767 / 32768.0f,
                         -32767 / 32768.0f};
  for (int i = 0; i < 5; i++) CHECK(w.x[i] == want[i]);
  tq_wav_free(&w);
  /* Only as far as asked. */
  CHECK(tq_wav_read(&w, path, 3, 100) == TQ_OK);
  CHECK_EQ_INT(w.n, 3);
  CHECK_EQ_INT(w.length, 5);
  tq_wav_free(&w);
}

static void accepted_float(void) {
  const char *p = write_wav("float.wav", (wav_spec){3, 1, 16000, 32, 8, 8, 0, 0});
  /* The ramp bytes need not be finite floats: write real ones over them. */
  FILE *f = fopen(p, "r+b");
  float v[2] = {0.25f, -0.75f};
  fseek(f, 44, SEEK_SET);
  fwrite(v, sizeof v[0], 2, f);
  fclose(f);
  tq_wav w;
  CHECK(tq_wav_read(&w, p, 16000, 16000) == TQ_OK);
  CHECK_EQ_INT(w.n, 2);
  if (w.n == 2) CHECK(w.x[0] == 0.25f && w.x[1] == -0.75f);
  tq_wav_free(&w);
  /* A NaN sample. */
  f = fopen(p, "r+b");
  uint32_t nan_bits = 0x7fc00000u;
  fseek(f, 48, SEEK_SET);
  fwrite(&nan_bits, 4, 1, f);
  fclose(f);
  expect_refused(p, "finite");
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/tq_test_audio_wav_%d", (int)getpid());
  CHECK(tq_mkdirs(dir) == TQ_OK);
  accepted_pcm16();
  accepted_float();
  expect_refused(write_wav("rate.wav", (wav_spec){1, 1, 44100, 16, 200, 200, 0, 0}), "44100 Hz");
  expect_refused(write_wav("stereo.wav", (wav_spec){1, 2, 16000, 16, 200, 200, 0, 0}), "2 channels");
  expect_refused(write_wav("u8.wav", (wav_spec){1, 1, 16000, 8, 200, 200, 0, 0}), "8-bit");
  expect_refused(write_wav("s24.wav", (wav_spec){1, 1, 16000, 24, 300, 300, 0, 0}), "24-bit");
  expect_refused(write_wav("header.wav", (wav_spec){1, 1, 16000, 16, 200, 200, 30, 0}),
                 "cannot read as WAV");
  expect_refused(write_wav("empty.wav", (wav_spec){1, 1, 16000, 16, 0, 0, 0, 0}), "no samples");
  expect_refused(write_wav("zero.bin", (wav_spec){1, 1, 16000, 16, 0, 0, 0, 0}), "no samples");
  char missing[300];
  snprintf(missing, sizeof missing, "%s/missing.wav", dir);
  expect_refused(missing, "cannot read as WAV");
  /* One hour of 16-bit samples (115 MB, sparse on disk): refused from the header, nothing read. */
  uint32_t hour = 3600u * 16000u * 2u;
  char hour_path[512];
  snprintf(hour_path, sizeof hour_path, "%s",
           write_wav("hour.wav", (wav_spec){1, 1, 16000, 16, hour, 0, 0, 44 + (off_t)hour}));
  size_t before = tq_mem_in_use();
  expect_refused(hour_path, "3600.0 s long");
  CHECK(tq_mem_in_use() == before);
  /* ... and read only as far as needed when the caller allows an hour. */
  tq_wav w;
  CHECK(tq_wav_read(&w, hour_path, 16000, (size_t)3600 * 16000) == TQ_OK);
  CHECK_EQ_INT(w.n, 16000);
  CHECK_EQ_INT(w.length, (size_t)3600 * 16000);
  CHECK(tq_mem_in_use() - before < 16000 * sizeof(float) + 4096);
  tq_wav_free(&w);
  /* A data chunk cut short (the header promises 1000 samples, 50 are there) reads as the samples
   * present, as libsndfile and Python's wave module read it; a loader needing more says so. */
  tq_wav t;
  const char *cut = write_wav("cut.wav", (wav_spec){1, 1, 16000, 16, 2000, 100, 0, 0});
  CHECK(tq_wav_read(&t, cut, 16000, 16000) == TQ_OK);
  CHECK_EQ_INT(t.n, 50);
  CHECK_EQ_INT(t.length, 50);
  tq_wav_free(&t);

  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  TEST_MAIN_END();
}
