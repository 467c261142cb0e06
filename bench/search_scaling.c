/* Search throughput at 1 and 2 MPI ranks, side by side in one run: the same small fixed search
 * (ResNet-8, a Fashion-MNIST subset, 1 epoch per trial, random tuner, same seed) as
 *   1 rank  x 1 OpenMP thread,
 *   1 rank  x 2 OpenMP threads (one process using both cores),
 *   2 ranks x 1 OpenMP thread each (mpirun -n 2),
 * each timed end to end (start-up and data loading included), printed as trials per hour with the
 * ratios. Runs the tinyq CLI: $TQ_BIN, else the tinyq next to this program.
 * The machine should be otherwise idle: other processes on the cores distort the ratios (OpenMP
 * threads suffer most when a core is taken).
 * usage: search_scaling [TRIALS (8)] [TRAIN_LIMIT (12000)] [FRACTION (0.1)] */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Runs one search; returns its wall time in seconds, or -1; *per_trial = mean trial time. */
static double run(const char *name, const char *launcher, int threads, int trials, int limit, double fraction,
                  double *per_trial) {
  char out[512], cmd[8192];
  snprintf(out, sizeof out, "%s/%s", dir, name);
  snprintf(cmd, sizeof cmd,
           "OMP_NUM_THREADS=%d OMPI_MCA_btl_vader_single_copy_mechanism=none %s '%s' search --model resnet8 "
           "--data fashion-mnist --space '%s/examples/search_space_study.json' --trials %d --epochs 1 "
           "--train-limit %d --train-fraction %g --tuner random --seed 5 --augment none --threads %d --out '%s' "
           "> '%s.log' 2>&1",
           threads, launcher, bin, TQ_SOURCE_DIR, trials, limit, fraction, threads, out, out);
  double t0 = tq_now_seconds();
  int rc = system(cmd);
  double t = tq_now_seconds() - t0;
  char journal[600];
  snprintf(journal, sizeof journal, "%s/trials.jsonl", out);
  int n = read_journal(journal, per_trial);
  if (rc != 0 || n != trials) {
    fprintf(stderr, "%s: failed (exit %d, %d of %d trials); see %s.log\n", name, rc, n, trials, out);
    return -1;
  }
  return t;
}

int main(int argc, char **argv) {
  int trials = argc > 1 ? atoi(argv[1]) : 8, limit = argc > 2 ? atoi(argv[2]) : 12000;
  double fraction = argc > 3 ? atof(argv[3]) : 0.1;
  if (trials < 2 || limit < 100 || !(fraction > 0 && fraction <= 1)) {
    fprintf(stderr, "usage: search_scaling [TRIALS >= 2] [TRAIN_LIMIT >= 100] [FRACTION in (0,1]]\n");
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
  double pt[3] = {0, 0, 0};
  double t11 = run("r1t1", "", 1, trials, limit, fraction, &pt[0]);
  double t12 = run("r1t2", "", 2, trials, limit, fraction, &pt[1]);
  double t21 = have_mpi ? run("r2t1", "mpirun --allow-run-as-root --oversubscribe -n 2", 1, trials, limit, fraction,
                              &pt[2])
                        : -1;
  const char *names[3] = {"1 rank  x 1 thread ", "1 rank  x 2 threads", "2 ranks x 1 thread "};
  double ts[3] = {t11, t12, t21};
  for (int i = 0; i < 3; i++) {
    if (ts[i] > 0)
      printf("  %s: %7.1f s  %8.0f trials/hour  (%.2f s per trial, start-up included in the wall time)\n",
             names[i], ts[i], trials * 3600.0 / ts[i], pt[i]);
    else
      printf("  %s: %s\n", names[i], i == 2 && !have_mpi ? "skipped (no mpirun, or tinyq built without MPI)" : "failed");
  }
  if (t11 > 0 && t21 > 0) printf("  ratio 2 ranks / 1 rank (1 thread each):        %.2fx\n", t11 / t21);
  if (t12 > 0 && t21 > 0) printf("  ratio 2 ranks x 1 thread / 1 rank x 2 threads: %.2fx\n", t12 / t21);
  if (t11 > 0 && t12 > 0) printf("  ratio 1 rank: 2 threads / 1 thread:            %.2fx\n", t11 / t12);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return (t11 > 0 && t12 > 0 && (t21 > 0 || !have_mpi)) ? 0 : 1;
}
