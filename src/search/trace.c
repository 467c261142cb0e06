/* TQ_SEARCH_TRACE=1: one stderr line per phase of the search on every rank (wall-clock seconds, so
 * that the ranks' lines can be merged and compared), to see where a distributed search spends its
 * time. Off by default; costs one getenv per process. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "search/search_internal.h"

static int trace_on = -1;
static int trace_rank;

void tq_search_trace_rank(int rank) { trace_rank = rank; }

void tq_search_trace(const char *fmt, ...) {
  if (trace_on < 0) {
    const char *e = getenv("TQ_SEARCH_TRACE");
    trace_on = e && *e && strcmp(e, "0");
  }
  if (!trace_on) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  struct timespec cpu;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
  fprintf(stderr, "trace %.3f rank %d cpu %.3f: %s\n", (double)(ts.tv_sec % 100000) + ts.tv_nsec * 1e-9, trace_rank,
          (double)cpu.tv_sec + cpu.tv_nsec * 1e-9, msg);
}
