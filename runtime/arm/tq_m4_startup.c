/* Reset, vector table and semihosting primitives for the mps2-an386 (Cortex-M4F) image.
 * The reset handler is assembly because the FPU is off after reset and a compiled C function may use
 * floating-point registers anywhere, even in a copy loop. */
#include <string.h>

#include "tq_m4.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
int main(void);
void tq_m4_start(void) __attribute__((noreturn, used));
void tq_m4_reset(void) __attribute__((naked, noreturn));
void tq_m4_fault(void) __attribute__((noreturn));

int32_t tq_m4_semihost(int32_t op, const void *arg) {
  register int32_t r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void tq_m4_exit(int32_t status) {
  /* ADP_Stopped_ApplicationExit with a status: SYS_EXIT_EXTENDED, so that a failure is not exit 0 */
  const int32_t block[2] = {0x20026, status};
  tq_m4_semihost(TQ_M4_SYS_EXIT_EXTENDED, block);
  for (;;) {
  }
}

int tq_m4_console(int32_t *out, int32_t *err, char *cmd, int32_t size) {
  /* ":tt" opened for write is stdout, for append stderr (semihosting v2) */
  const int32_t wr[3] = {(int32_t)(uintptr_t) ":tt", 4, 3}, ap[3] = {(int32_t)(uintptr_t) ":tt", 8, 3};
  int32_t block[2];
  *out = tq_m4_semihost(TQ_M4_SYS_OPEN, wr);
  *err = tq_m4_semihost(TQ_M4_SYS_OPEN, ap);
  if (*out < 0 || *err < 0) tq_m4_exit(1);
  block[0] = (int32_t)(uintptr_t)cmd;
  block[1] = size - 1;
  if (tq_m4_semihost(TQ_M4_SYS_GET_CMDLINE, block) != 0) return -1;
  cmd[block[1] < size ? block[1] : size - 1] = 0;
  return 0;
}

void tq_m4_reset(void) {
  __asm__ volatile(
      "movw r0, #0xED88\n\t" /* CPACR */
      "movt r0, #0xE000\n\t"
      "ldr r1, [r0]\n\t"
      "orr r1, r1, #0x00F00000\n\t" /* CP10 and CP11: full access to the FPU */
      "str r1, [r0]\n\t"
      "dsb\n\t"
      "isb\n\t"
      "b tq_m4_start\n\t");
}

void tq_m4_start(void) {
  memcpy(__data_start, __data_load, (size_t)((char *)__data_end - (char *)__data_start));
  memset(__bss_start, 0, (size_t)((char *)__bss_end - (char *)__bss_start));
  tq_m4_exit(main());
}

/* Every fault ends the run with a message and status 3, instead of hanging until the timeout. */
void tq_m4_fault(void) {
  tq_m4_semihost(TQ_M4_SYS_WRITE0, "m4: fault (hard fault, memory, bus or usage fault)\n");
  tq_m4_exit(3);
}

typedef void (*tq_m4_vector)(void);
/* Initial stack pointer, then the system exceptions; no interrupt is ever enabled. */
__attribute__((section(".vectors"), used)) static const tq_m4_vector tq_m4_vectors[16] = {
    (tq_m4_vector)(uintptr_t)__stack_top,
    tq_m4_reset,
    tq_m4_fault, /* NMI */
    tq_m4_fault, /* HardFault */
    tq_m4_fault, /* MemManage */
    tq_m4_fault, /* BusFault */
    tq_m4_fault, /* UsageFault */
    0, 0, 0, 0,
    tq_m4_fault, /* SVCall */
    tq_m4_fault, /* DebugMonitor */
    0,
    tq_m4_fault, /* PendSV */
    tq_m4_fault, /* SysTick */
};
