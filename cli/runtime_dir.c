#include "runtime_dir.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef TQ_RUNTIME_DIR
#define TQ_RUNTIME_DIR "runtime"
#endif
#ifndef TQ_RUNTIME_FROM_BIN
#define TQ_RUNTIME_FROM_BIN "../share/tinyq/runtime"
#endif

const char *tq_cli_runtime_dir(void) {
  static char dir[PATH_MAX + 64];
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return TQ_RUNTIME_DIR;
  exe[n] = 0;
  char *slash = strrchr(exe, '/');
  if (!slash) return TQ_RUNTIME_DIR;
  *slash = 0;
  char header[sizeof dir + 16];
  snprintf(dir, sizeof dir, "%s/%s", exe, TQ_RUNTIME_FROM_BIN);
  snprintf(header, sizeof header, "%s/tq_rt.h", dir);
  return access(header, R_OK) == 0 ? dir : TQ_RUNTIME_DIR;
}
