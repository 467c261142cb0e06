/* tq_m4.h — bare-metal support for running a tinyq export on an emulated Cortex-M4F (QEMU machine
 * mps2-an386) with ARM semihosting for file and console I/O. Not part of the runtime proper: a real
 * device replaces this with its own startup code and I/O. C99. */
#ifndef TQ_M4_H
#define TQ_M4_H
#include <stddef.h>
#include <stdint.h>

/* Semihosting operations (ARM "Semihosting for AArch32 and AArch64", v2). */
#define TQ_M4_SYS_OPEN 0x01
#define TQ_M4_SYS_CLOSE 0x02
#define TQ_M4_SYS_WRITE0 0x04
#define TQ_M4_SYS_WRITE 0x05
#define TQ_M4_SYS_READ 0x06
#define TQ_M4_SYS_FLEN 0x0C
#define TQ_M4_SYS_GET_CMDLINE 0x15
#define TQ_M4_SYS_EXIT_EXTENDED 0x20

/* One semihosting call: op in r0, argument block in r1, result in r0. */
int32_t tq_m4_semihost(int32_t op, const void *arg);
/* Ends the emulation with this exit status (qemu-system-arm exits with it). */
void tq_m4_exit(int32_t status) __attribute__((noreturn));
/* Opens the console (*out = stdout, *err = stderr; exits with 1 if it cannot) and reads the command
 * line into cmd (size bytes, NUL-terminated). Returns 0, or -1 without a command line. */
int tq_m4_console(int32_t *out, int32_t *err, char *cmd, int32_t size);

/* Linker-script symbols: the stack region (painted to measure the high-water mark) and the image's
 * bytes in each memory (__psram_used: the const data that did not fit the flash, 0 when it did). */
extern uint32_t __stack_bottom[], __stack_top[];
extern uint32_t __flash_used[], __ram_used[], __psram_used[];
#endif
