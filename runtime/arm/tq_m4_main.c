/* Generated-model driver for an emulated Cortex-M4F (QEMU mps2-an386, semihosting).
 * Command line (semihosting): `INPUTS.f32 [N]`. Reads float32 samples (TQ_MODEL_INPUT_SIZE each,
 * little-endian) from the host file INPUTS, runs the first N (all when N is absent or 0), prints each
 * sample's output codes on one line of stdout exactly as main_host.c does, then on stderr the stack
 * one inference used (stack painting, the maximum over all samples), the arena size and the image's
 * bytes in flash, RAM and (if any) PSRAM. Exit status 0 on success, 1 on a run or I/O error, 2 on a
 * usage error, 3 on a CPU fault. */
#include <stdint.h>
#include <string.h>

#include "model.h"
#include "tq_m4.h"

#define TQ_M4_PAINT 0xC5A3E17Bu /* unlikely as a stored value, so a touched word is seen */

static float tq_m4_x[TQ_MODEL_INPUT_SIZE];
static int32_t tq_m4_y[TQ_MODEL_OUTPUT_SIZE];
static char tq_m4_out[4096];
static size_t tq_m4_out_len;
static int32_t tq_m4_stdout = -1, tq_m4_stderr = -1;

static int32_t tq_m4_open(const char *path, int32_t mode) {
  const int32_t block[3] = {(int32_t)(uintptr_t)path, mode, (int32_t)strlen(path)};
  return tq_m4_semihost(TQ_M4_SYS_OPEN, block);
}

/* Writes everything or returns -1 (SYS_WRITE returns the number of bytes NOT written). */
static int tq_m4_write(int32_t fd, const char *s, size_t n) {
  const int32_t block[3] = {fd, (int32_t)(uintptr_t)s, (int32_t)n};
  return n == 0 || tq_m4_semihost(TQ_M4_SYS_WRITE, block) == 0 ? 0 : -1;
}

static void tq_m4_flush(void) {
  if (tq_m4_write(tq_m4_stdout, tq_m4_out, tq_m4_out_len)) tq_m4_exit(1);
  tq_m4_out_len = 0;
}

static void tq_m4_put(const char *s, size_t n) {
  if (tq_m4_out_len + n > sizeof tq_m4_out) tq_m4_flush();
  memcpy(tq_m4_out + tq_m4_out_len, s, n);
  tq_m4_out_len += n;
}

/* Decimal of v into buf (at least 12 bytes), returns the length; no printf, so no libc formatting
 * (newlib's pulls in double-precision code). */
static size_t tq_m4_itoa(char *buf, long v) {
  char tmp[12];
  size_t n = 0, k = 0;
  unsigned long u = v < 0 ? 0ul - (unsigned long)v : (unsigned long)v;
  do {
    tmp[n++] = (char)('0' + u % 10u);
    u /= 10u;
  } while (u);
  if (v < 0) buf[k++] = '-';
  while (n) buf[k++] = tmp[--n];
  return k;
}

/* Stderr message from pieces: text, a number, text. */
static void tq_m4_say(const char *a, long v, const char *b) {
  char num[12];
  size_t n = tq_m4_itoa(num, v);
  tq_m4_write(tq_m4_stderr, a, strlen(a));
  tq_m4_write(tq_m4_stderr, num, n);
  tq_m4_write(tq_m4_stderr, b, strlen(b));
}

static void tq_m4_fail(const char *msg, int32_t status) {
  tq_m4_write(tq_m4_stderr, msg, strlen(msg));
  tq_m4_exit(status);
}

/* The stack pointer, read inline: main paints the stack below it, calls the inference and finds the
 * lowest word the inference wrote. Between the read and the call main calls nothing, and its own
 * frame lies above sp, so the painted words stay untouched until the inference runs. */
static uint32_t tq_m4_sp(void) __attribute__((always_inline));
static inline uint32_t tq_m4_sp(void) {
  uint32_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  return sp;
}

#ifdef TQ_M4_COUNT
/* Instructions per inference, with -DTQ_M4_COUNT and QEMU's -icount (virtual time advances by a fixed
 * step per executed instruction, so the SysTick, counting down at the core clock, counts instructions
 * in fixed units). The unit is calibrated on a loop of a known instruction count (SUBS + BNE, 2 per
 * iteration) rather than assumed. Without -icount the SysTick follows host time and the figures mean
 * nothing. The 24-bit counter is read modulo 2^24: a region must stay below 2^24 ticks (with
 * mps2-an386's 25 MHz clock and -icount shift=0: 671 M instructions). */
#define TQ_M4_SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define TQ_M4_SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define TQ_M4_SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define TQ_M4_CAL_LOOPS 1000000u

static void tq_m4_systick_on(void) {
  TQ_M4_SYST_RVR = 0xFFFFFFu;
  TQ_M4_SYST_CVR = 0u;
  TQ_M4_SYST_CSR = 5u; /* enabled, core clock, no interrupt */
}

/* Ticks since `from` (an earlier reading of the down-counter). */
static uint32_t tq_m4_ticks_since(uint32_t from) {
  return (from - TQ_M4_SYST_CVR) & 0xFFFFFFu;
}

static uint32_t tq_m4_calibrate(void) {
  uint32_t n = TQ_M4_CAL_LOOPS;
  const uint32_t t0 = TQ_M4_SYST_CVR;
  __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc");
  return tq_m4_ticks_since(t0);
}

static void tq_m4_report_count(uint64_t ticks, long samples, uint32_t cal) {
  const uint64_t per = cal ? ticks * (2u * TQ_M4_CAL_LOOPS) / cal / (uint64_t)samples : 0u;
  tq_m4_say("m4: SysTick ticks for a 2000000-instruction loop: ", (long)cal, "\n");
  tq_m4_say("m4: instructions per inference: ", (long)per, " (mean over the samples; QEMU -icount)\n");
}
#endif

int main(void) {
  char cmd[512];
  int32_t fd, len;
  long n = 0, want = 0, available, stack_max = 0;
  uintptr_t psram;
  const char *p, *path;
#ifdef TQ_M4_COUNT
  uint64_t ticks = 0;
  uint32_t cal;
#endif
  char *q;
  if (tq_m4_console(&tq_m4_stdout, &tq_m4_stderr, cmd, (int32_t)sizeof cmd) != 0)
    tq_m4_fail("m4: no command line\n", 2);
  /* argv[0] is the image, then INPUTS, then N */
  p = cmd;
  while (*p && *p != ' ') p++;
  while (*p == ' ') p++;
  path = p;
  q = (char *)(uintptr_t)p;
  while (*q && *q != ' ') q++;
  if (*q) {
    *q++ = 0;
    while (*q == ' ') q++;
    for (; *q >= '0' && *q <= '9'; q++) want = want * 10 + (*q - '0');
    if (*q && *q != ' ') tq_m4_fail("m4: usage: INPUTS.f32 [N]\n", 2);
  }
  if (!*path) tq_m4_fail("m4: usage: INPUTS.f32 [N]\n", 2);
#ifdef TQ_M4_COUNT
  tq_m4_systick_on();
  cal = tq_m4_calibrate();
#endif

  fd = tq_m4_open(path, 1); /* "rb" */
  if (fd < 0) tq_m4_fail("m4: cannot open the inputs file\n", 1);
  len = tq_m4_semihost(TQ_M4_SYS_FLEN, &fd);
  if (len < 0) tq_m4_fail("m4: cannot size the inputs file\n", 1);
  available = (long)((uint32_t)len / (sizeof(float) * TQ_MODEL_INPUT_SIZE));
  if (want == 0) want = available;
  if (want > available) {
    tq_m4_say("m4: the inputs file holds ", available, " samples, fewer than asked\n");
    tq_m4_exit(1);
  }

  for (n = 0; n < want; n++) {
    const int32_t rd[3] = {fd, (int32_t)(uintptr_t)tq_m4_x, (int32_t)sizeof tq_m4_x};
    volatile uint32_t *w;
    uint32_t sp;
    long used;
    int i, rc;
    if (tq_m4_semihost(TQ_M4_SYS_READ, rd) != 0) tq_m4_fail("m4: short read\n", 1);
    sp = tq_m4_sp();
    for (w = __stack_bottom; (uint32_t)(uintptr_t)w < sp; w++) *w = TQ_M4_PAINT;
#ifdef TQ_M4_COUNT
    {
      const uint32_t t0 = TQ_M4_SYST_CVR;
      rc = tq_model_run_codes(tq_m4_x, tq_m4_y);
      ticks += tq_m4_ticks_since(t0);
    }
#else
    rc = tq_model_run_codes(tq_m4_x, tq_m4_y);
#endif
    for (w = __stack_bottom; (uint32_t)(uintptr_t)w < sp && *w == TQ_M4_PAINT; w++) {
    }
    if (w == __stack_bottom) tq_m4_fail("m4: the inference overflowed the stack region\n", 1);
    used = (long)(sp - (uint32_t)(uintptr_t)w);
    if (used > stack_max) stack_max = used;
    if (rc) {
      tq_m4_say("m4: sample ", n, ": run failed\n");
      tq_m4_exit(1);
    }
    for (i = 0; i < TQ_MODEL_OUTPUT_SIZE; i++) {
      char num[13];
      size_t k = 0;
      if (i) num[k++] = ' ';
      k += tq_m4_itoa(num + k, (long)tq_m4_y[i]);
      tq_m4_put(num, k);
    }
    tq_m4_put("\n", 1);
  }
  tq_m4_flush();
  tq_m4_say("m4: samples: ", n, " (Cortex-M4F, QEMU mps2-an386)\n");
  tq_m4_say("m4: stack used by one inference: ", stack_max, " bytes (maximum over the samples)\n");
  tq_m4_say("m4: arena: ", (long)TQ_MODEL_ARENA_BYTES, " bytes\n");
#ifdef TQ_M4_COUNT
  if (n > 0) tq_m4_report_count(ticks, n, cal);
#endif
  tq_m4_say("m4: image: flash ", (long)(uintptr_t)__flash_used, " bytes");
  tq_m4_say(", RAM ", (long)(uintptr_t)__ram_used, " bytes (arena, buffers and stack region)\n");
  /* a linker symbol's value, 0 when nothing is in PSRAM: hidden from the optimizer, which would take
   * the address of an object as non-null */
  psram = (uintptr_t)__psram_used;
  __asm__("" : "+r"(psram));
  if (psram)
    tq_m4_say("m4: const data beyond the flash: PSRAM ", (long)psram,
              " bytes (an emulation convenience, see tq_m4_an386.ld)\n");
  return 0;
}
