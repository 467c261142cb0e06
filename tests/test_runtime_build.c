/* The runtime must compile alone as strict C99 (and, when the toolchain is installed, for Cortex-M4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_test.h"

static int run(const char *cmd) {
  const int rc = system(cmd);
  if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
  return rc;
}

int main(void) {
  const char *src = getenv("TQ_SRC");
  char dir[] = "/tmp/tq_rt_build_XXXXXX";
  char cmd[4096];
  if (!src) src = ".";
  if (!mkdtemp(dir)) {
    CHECK(0);
    TEST_MAIN_END();
  }
  if (system("command -v cc >/dev/null 2>&1") != 0) {
    printf("skipped: no cc on PATH\n");
  } else {
    snprintf(cmd, sizeof cmd,
             "cd '%s' && cc -std=c99 -pedantic -Wall -Wextra -Werror -c '%s'/runtime/*.c && ls *.o >/dev/null",
             dir, src);
    CHECK_EQ_INT(run(cmd), 0);
    /* the device build leaves out the host LUT builders */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && cc -std=c99 -pedantic -Wall -Wextra -Werror -DTQ_RT_NO_HOST -c '%s'/runtime/tq_rt_lut_host.c",
             dir, src);
    CHECK_EQ_INT(run(cmd), 0);
  }
  if (system("command -v arm-none-eabi-gcc >/dev/null 2>&1") != 0) {
    printf("skipped ARM check: arm-none-eabi-gcc missing\n");
  } else {
    snprintf(cmd, sizeof cmd,
             "cd '%s' && arm-none-eabi-gcc -std=c99 -pedantic -Wall -Wextra -Werror -mcpu=cortex-m4 -mthumb -Os "
             "-DTQ_RT_NO_HOST -c '%s'/runtime/*.c",
             dir, src);
    CHECK_EQ_INT(run(cmd), 0);
  }
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  run(cmd);
  TEST_MAIN_END();
}
