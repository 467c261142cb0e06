/* Cortex-M4F driver of the PCM front-end (make qemu-pcm; QEMU mps2-an386 with semihosting, the
 * startup and linker script of runtime/arm). Command line: `CLIPS.s16 [N]`: clips of
 * TQ_FE_CLIP_SAMPLES 16-bit PCM samples from the host file, the first N (all when N is 0 or absent).
 * Prints one line per clip on stdout: with the MFCC front-end the output codes as the host's
 * pcm_test prints them, with the log-mel front-end the anomaly score's IEEE-754 bits in hex (no
 * printf: newlib's brings 64-bit float code). The log-mel clip is read and pushed 512
 * samples at a time, so RAM holds no clip. Then on stderr the stack high-water mark and the image's
 * flash and RAM. Exit status 0, 1 on a run or I/O error, 2 on a usage error. */
#include <stdint.h>
#include <string.h>

#include "model.h"
#include "tq_fe.h"
#include "tq_m4.h"

#define TQ_FE_M4_PAINT 0xC5A3E17Bu
#if TQ_FE_KEEP
#define TQ_FE_M4_CHUNK TQ_FE_CLIP_SAMPLES /* the MFCC API takes the whole second */
#else
#define TQ_FE_M4_CHUNK 512
#endif

static int16_t tq_fe_m4_pcm[TQ_FE_M4_CHUNK];
static int32_t tq_fe_m4_out = -1, tq_fe_m4_err = -1;

/* A semihosting call whose argument block is three words (open, read, write). */
static int32_t tq_fe_m4_call(int32_t op, int32_t a, int32_t b, int32_t c) {
  const int32_t block[3] = {a, b, c};
  return tq_m4_semihost(op, block);
}

static int32_t tq_fe_m4_open(const char *path, int32_t mode) {
  return tq_fe_m4_call(TQ_M4_SYS_OPEN, (int32_t)(uintptr_t)path, mode, (int32_t)strlen(path));
}

/* SYS_WRITE returns the bytes not written: anything but 0 ends the run. */
static void tq_fe_m4_write(int32_t fd, const char *s, size_t n) {
  if (n && tq_fe_m4_call(TQ_M4_SYS_WRITE, fd, (int32_t)(uintptr_t)s, (int32_t)n) != 0) tq_m4_exit(1);
}

static void tq_fe_m4_fail(const char *msg, int32_t status) {
  tq_fe_m4_write(tq_fe_m4_err, msg, strlen(msg));
  tq_m4_exit(status);
}

/* Appends "<text><decimal of v>" to line at *len. */
static void tq_fe_m4_num(char *line, size_t *len, const char *text, unsigned long v, int negative) {
  char tmp[12];
  size_t n = 0;
  memcpy(line + *len, text, strlen(text));
  *len += strlen(text);
  do tmp[n++] = (char)('0' + v % 10u);
  while ((v /= 10u) != 0);
  if (negative) line[(*len)++] = '-';
  while (n) line[(*len)++] = tmp[--n];
}

static void tq_fe_m4_read(int32_t fd, int16_t *pcm, uint32_t n) {
  if (tq_fe_m4_call(TQ_M4_SYS_READ, fd, (int32_t)(uintptr_t)pcm, (int32_t)(sizeof(int16_t) * n)) != 0)
    tq_fe_m4_fail("m4: short read\n", 1);
}

/* One clip from fd; its output line into line. */
static void tq_fe_m4_clip(int32_t fd, char *line, size_t *len) {
#if TQ_FE_KEEP
  int32_t y[TQ_MODEL_OUTPUT_SIZE];
  int i;
  tq_fe_m4_read(fd, tq_fe_m4_pcm, TQ_FE_CLIP_SAMPLES);
  if (tq_model_classify_pcm(tq_fe_m4_pcm, y) < 0) tq_fe_m4_fail("m4: run failed\n", 1);
  for (i = 0; i < TQ_MODEL_OUTPUT_SIZE; i++)
    tq_fe_m4_num(line, len, i ? " " : "", y[i] < 0 ? 0ul - (unsigned long)y[i] : (unsigned long)y[i], y[i] < 0);
#else
  static tq_model_anomaly a;
  static const char hex[] = "0123456789abcdef";
  uint32_t done, bits;
  float score;
  int i;
  tq_model_anomaly_begin(&a, 0, 0);
  for (done = 0; done < TQ_FE_CLIP_SAMPLES; done += TQ_FE_M4_CHUNK) {
    uint32_t n = TQ_FE_CLIP_SAMPLES - done < TQ_FE_M4_CHUNK ? TQ_FE_CLIP_SAMPLES - done : TQ_FE_M4_CHUNK;
    tq_fe_m4_read(fd, tq_fe_m4_pcm, n);
    if (tq_model_anomaly_push(&a, tq_fe_m4_pcm, n)) tq_fe_m4_fail("m4: run failed\n", 1);
  }
  score = tq_model_anomaly_score(&a);
  if (score < 0.0f) tq_fe_m4_fail("m4: clip too short for a score\n", 1);
  memcpy(&bits, &score, sizeof bits);
  line[(*len)++] = '0';
  line[(*len)++] = 'x';
  for (i = 28; i >= 0; i -= 4) line[(*len)++] = hex[(bits >> i) & 15u];
#endif
  line[(*len)++] = '\n';
}

int main(void) {
  static char cmd[512], line[16 * TQ_MODEL_OUTPUT_SIZE + 16];
  int32_t fd, size;
  unsigned long want = 0, available, n, used;
  volatile uint32_t *w;
  uint32_t sp;
  size_t len;
  char *p, *path;
  if (tq_m4_console(&tq_fe_m4_out, &tq_fe_m4_err, cmd, (int32_t)sizeof cmd) != 0)
    tq_fe_m4_fail("m4: no command line\n", 2);
  for (p = cmd; *p && *p != ' '; p++) { /* argv[0], the image */
  }
  while (*p == ' ') p++;
  for (path = p; *p && *p != ' '; p++) {
  }
  if (*p) *p++ = 0;
  for (; *p >= '0' && *p <= '9'; p++) want = want * 10u + (unsigned long)(*p - '0');
  if (!*path || *p) tq_fe_m4_fail("m4: usage: CLIPS.s16 [N]\n", 2);
  if ((fd = tq_fe_m4_open(path, 1)) < 0) tq_fe_m4_fail("m4: cannot open the clips file\n", 1);
  if ((size = tq_m4_semihost(TQ_M4_SYS_FLEN, &fd)) < 0) tq_fe_m4_fail("m4: cannot size the clips file\n", 1);
  available = (uint32_t)size / (sizeof(int16_t) * TQ_FE_CLIP_SAMPLES);
  if (want == 0) want = available;
  if (want > available) tq_fe_m4_fail("m4: the clips file holds fewer clips than asked\n", 1);
  /* the stack below this frame is painted; what the clips leave unpainted is their high-water mark */
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (w = __stack_bottom; (uint32_t)(uintptr_t)w < sp - 64u; w++) *w = TQ_FE_M4_PAINT;
  for (n = 0; n < want; n++) {
    len = 0;
    tq_fe_m4_clip(fd, line, &len);
    tq_fe_m4_write(tq_fe_m4_out, line, len);
  }
  for (w = __stack_bottom; (uint32_t)(uintptr_t)w < sp && *w == TQ_FE_M4_PAINT; w++) {
  }
  if (w == __stack_bottom) tq_fe_m4_fail("m4: the run overflowed the stack region\n", 1);
  used = (unsigned long)(sp - (uint32_t)(uintptr_t)w);
  len = 0;
  tq_fe_m4_num(line, &len, "m4: clips: ", n, 0);
  tq_fe_m4_num(line, &len, " (Cortex-M4F, QEMU mps2-an386); stack used: ", used, 0);
  tq_fe_m4_num(line, &len, " bytes (front-end, model and driver); arena: ", TQ_MODEL_ARENA_BYTES, 0);
  tq_fe_m4_num(line, &len, " bytes; image: flash ", (unsigned long)(uintptr_t)__flash_used, 0);
  tq_fe_m4_num(line, &len, " bytes, RAM ", (unsigned long)(uintptr_t)__ram_used, 0);
  memcpy(line + len, " bytes\n", 7);
  tq_fe_m4_write(tq_fe_m4_err, line, len + 7);
  return 0;
}
