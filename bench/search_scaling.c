/* Search throughput at 1 and 2 MPI ranks, side by side in one run: the same small fixed search
 * (ResNet-8, a Fashion-MNIST subset, 1 epoch per trial, random tuner, same seed) as
 *   1 rank  x 1 OpenMP thread,
 *   1 rank  x 2 OpenMP threads (one process using both cores),
 *   2 ranks x 1 OpenMP thread each (mpirun -n 2),
 * each timed end to end (start-up and data loading included), printed as trials per hour with the
 * ratios, and the CPU seconds per trial summed over the ranks (start-up included): that one does not
 * depend on other load, so a rise from 1 to 2 ranks is work the distribution adds, not waiting.
 * Runs the tinyq CLI: $TQ_BIN, else the tinyq next to this program.
 * The machine should be otherwise idle: other processes on the cores distort the ratios (OpenMP
 * threads suffer most when a core is taken; one busy process elsewhere leaves 2 ranks 2/3 of each
 * core, about 1.33x). The load average is printed before and after. The searches run with
 * TQ_SEARCH_TRACE=1, which splits each wall time into start-up (launch, MPI, data) and the trials.
 * usage: search_scaling [TRIALS (8)] [TRAIN_LIMIT (12000)] [FRACTION (0.1)] [ranks]
 * ("ranks": only the two 1-thread legs; the 2-thread leg takes minutes on a loaded machine) */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "tinyq/core.h"

static char bin[2048], dir[256];

/* Lines of a journal and the mean of its trials' "seconds". */
static int read_journal(const char *path, double *mean_seconds) {
  FILE *f = fopen(path, "r");
  *mean_seconds = 0;
  if (!f) return 0;
  int n = 0;
  char line[65536];
  while (fgets(line, sizeof line, f)) {
    const char *p = strstr(line, "\"seconds\":");
    if (p) *mean_seconds += atof(p + 10);
    n++;
  }
  fclose(f);
  if (n) *mean_seconds /= n;
  return n;
}

/* CPU seconds (user + system) of the waited-for children so far: mpirun waits for its ranks. */
static double children_cpu(void) {
  struct rusage u;
  if (getrusage(RUSAGE_CHILDREN, &u) != 0) return 0;
  return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

static void print_load(const char *when) {
  double l[3];
  if (getloadavg(l, 3) == 3) printf("  load average %s: %.2f %.2f %.2f\n", when, l[0], l[1], l[2]);
}

/* One search's measurements. */
typedef struct {
  double wall;      /* seconds end to end, or -1 when the search failed */
  double per_trial; /* mean of the journal's trial seconds */
  double cpu;       /* CPU seconds of every rank, start-up included */
  double startup;   /* seconds from the launch to the first trial's start */
  double span;      /* seconds from the first trial's start to the last trial's end */
} leg;

/* Realtime seconds modulo 10^5, as TQ_SEARCH_TRACE's lines print them. */
static double trace_clock(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)(ts.tv_sec % 100000) + ts.tv_nsec * 1e-9;
}

/* The first trial's start and the last trial's end from the TQ_SEARCH_TRACE lines of a log. */
static int read_trace(const char *path, double *first, double *last) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[4096];
  *first = *last = -1;
  while (fgets(line, sizeof line, f)) {
    double t;
    if (sscanf(line, "trace %lf", &t) != 1) continue;
    if (strstr(line, ": build") && (*first < 0 || t < *first)) *first = t;
    if (strstr(line, ": done") && t > *last) *last = t;
  }
  fclose(f);
  return *first >= 0 && *last >= *first;
}

/* Runs one search (traced, to split start-up from the trials). */
static leg run(const char *name, const char *launcher, int threads, int trials, int limit, double fraction) {
  leg g = {-1, 0, 0, 0, 0};
  char out[512], cmd[8192], log[600];
  snprintf(out, sizeof out, "%s/%s", dir, name);
  snprintf(log, sizeof log, "%s.log", out);
  snprintf(cmd, sizeof cmd,
           "OMP_NUM_THREADS=%d OMPI_MCA_btl_vader_single_copy_mechanism=none TQ_SEARCH_TRACE=1 %s '%s' search "
           "--model resnet8 --data fashion-mnist --space '%s/examples/search_space_study.json' --trials %d "
           "--epochs 1 --train-limit %d --train-fraction %g --tuner random --seed 5 --augment none --threads %d "
           "--out '%s' > '%s' 2>&1",
           threads, launcher, bin, TQ_SOURCE_DIR, trials, limit, fraction, threads, out, log);
  double t0 = tq_now_seconds(), c0 = children_cpu(), r0 = trace_clock();
  int rc = system(cmd);
  double t = tq_now_seconds() - t0;
  g.cpu = children_cpu() - c0;
  char journal[600];
  snprintf(journal, sizeof journal, "%s/trials.jsonl", out);
  int n = read_journal(journal, &g.per_trial);
  if (rc != 0 || n != trials) {
    fprintf(stderr, "%s: failed (exit %d, %d of %d trials); see %s\n", name, rc, n, trials, log);
    return g;
  }
  double first, last;
  if (read_trace(log, &first, &last)) {
    g.startup = first - r0;
    g.span = last - first;
  }
  g.wall = t;
  return g;
}

int main(int argc, char **argv) {
  int trials = argc > 1 ? atoi(argv[1]) : 8, limit = argc > 2 ? atoi(argv[2]) : 12000;
  double fraction = argc > 3 ? atof(argv[3]) : 0.1;
  int ranks_only = argc > 4 && !strcmp(argv[4], "ranks");
  if (trials < 2 || limit < 100 || !(fraction > 0 && fraction <= 1) || (argc > 4 && !ranks_only)) {
    fprintf(stderr, "usage: search_scaling [TRIALS >= 2] [TRAIN_LIMIT >= 100] [FRACTION in (0,1]] [ranks]\n");
    return 2;
  }
  const char *env = getenv("TQ_BIN");
  if (env) {
    snprintf(bin, sizeof bin, "%s", env);
  } else {
    char self[2048];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(bin, sizeof bin, "%s/tinyq", dirname(self));
  }
  snprintf(dir, sizeof dir, "/tmp/tq_search_scaling_XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  char probe[4200];
  snprintf(probe, sizeof probe, "command -v mpirun > /dev/null 2>&1 && ldd '%s' 2>/dev/null | grep -q libmpi", bin);
  int have_mpi = system(probe) == 0;
  int train = (int)(fraction * (int)(limit * 0.9)), val = limit - (int)(limit * 0.9);
  printf("search scaling: resnet8 on fashion-mnist, %d trials (random tuner), 1 epoch of %d training samples per "
         "trial, %d validation samples; wall time end to end\n",
         trials, train, val);
  fflush(stdout);
  print_load("before");
  fflush(stdout);
  leg g[3];
  g[0] = run("r1t1", "", 1, trials, limit, fraction);
  g[1] = ranks_only ? (leg){-1, 0, 0, 0, 0} : run("r1t2", "", 2, trials, limit, fraction);
  g[2] = have_mpi ? run("r2t1", "mpirun --allow-run-as-root --oversubscribe -n 2", 1, trials, limit, fraction)
                  : (leg){-1, 0, 0, 0, 0};
  print_load("after ");
  const char *names[3] = {"1 rank  x 1 thread ", "1 rank  x 2 threads", "2 ranks x 1 thread "};
  for (int i = 0; i < 3; i++) {
    if (g[i].wall > 0 && g[i].span > 0)
      printf("  %s: %6.1f s %6.0f trials/hour (%.2f s per trial; %.2f CPU s per trial; start-up %.2f s, "
             "then %.0f trials/hour)\n",
             names[i], g[i].wall, trials * 3600.0 / g[i].wall, g[i].per_trial, g[i].cpu / trials, g[i].startup,
             trials * 3600.0 / g[i].span);
    else if (g[i].wall > 0) /* a tinyq without the trace lines */
      printf("  %s: %6.1f s %6.0f trials/hour (%.2f s per trial; %.2f CPU s per trial)\n", names[i], g[i].wall,
             trials * 3600.0 / g[i].wall, g[i].per_trial, g[i].cpu / trials);
    else
      printf("  %s: %s\n", names[i],
             i == 2 && !have_mpi ? "skipped (no mpirun, or tinyq built without MPI)"
             : i == 1 && ranks_only ? "skipped (ranks)"
                                    : "failed");
  }
  double t11 = g[0].wall, t12 = g[1].wall, t21 = g[2].wall;
  if (t11 > 0 && t21 > 0) printf("  ratio 2 ranks / 1 rank (1 thread each):        %.2fx\n", t11 / t21);
  if (t11 > 0 && t21 > 0 && g[0].span > 0 && g[2].span > 0)
    printf("  the same after start-up (first trial's start to last trial's end): %.2fx\n", g[0].span / g[2].span);
  if (t12 > 0 && t21 > 0) printf("  ratio 2 ranks x 1 thread / 1 rank x 2 threads: %.2fx\n", t12 / t21);
  if (t11 > 0 && t12 > 0) printf("  ratio 1 rank: 2 threads / 1 thread:            %.2fx\n", t11 / t12);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return (t11 > 0 && (t12 > 0 || ranks_only) && (t21 > 0 || !have_mpi)) ? 0 : 1;
}
