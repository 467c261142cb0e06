/* The CLI's error reports: "tinyq: error: <msg>" on stderr, then the exit code. (tests/
 * test_quant_cli.c compiles this file into its test too.) */
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"

/* tq_cli_error and tq_cli_usage_error differ only in the exit code they return. */
#define TQ_CLI_REPORTER(fn, code)                                                                    \
  int fn(const char *fmt, ...) {                                                                     \
    va_list ap;                                                                                      \
    va_start(ap, fmt);                                                                               \
    fputs("tinyq: error: ", stderr);                                                                 \
    vfprintf(stderr, fmt, ap);                                                                       \
    fputc('\n', stderr);                                                                             \
    va_end(ap);                                                                                      \
    return code;                                                                                     \
  }
TQ_CLI_REPORTER(tq_cli_error, 1)
TQ_CLI_REPORTER(tq_cli_usage_error, 2)
