/* The distributed search's transport: joining the MPI world (only when launched by mpirun or a PMI
 * launcher), broadcasting the settings, and JSON messages between rank 0 and the workers.
 *
 * Waiting is done by polling (MPI_Iprobe + a short sleep): Open MPI's blocking receives spin at 100 %
 * of a core, which would steal the core a trial trains on. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "search/search_internal.h"

#ifdef TQ_HAVE_MPI
#include <mpi.h>
#endif

void tq_comm_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void tq_comm_check_threads(const tq_search_comm *c, int threads, FILE *log) {
  if (c->size <= 1) return;
  cpu_set_t set;
  int mine = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  const char *env = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (!env) env = getenv("MPI_LOCALNRANKS");
  int here = env && atoi(env) > 0 ? atoi(env) : c->size;
  if ((mine > 0 && threads > mine) || (cores > 0 && (long)threads * here > cores))
    fprintf(log, "tinyq: warning: search: %d ranks on this machine x %d threads each, on %ld cores (rank 0 may use "
            "%d): the threads will wait for each other; give --threads 1 (or OMP_NUM_THREADS=1)\n",
            here, threads, cores, mine);
}

#ifdef TQ_HAVE_MPI

static int launched_by_mpi(void) {
  static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE",
                               "MPI_LOCALNRANKS"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    if (getenv(vars[i])) return 1;
  return 0;
}

static tq_status mpi_fail(int rc, const char *what) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", rc);
  return tq_fail(TQ_ERR_IO, "MPI: %s: %s", what, msg);
}

tq_status tq_search_comm_init(tq_search_comm *c) {
  memset(c, 0, sizeof *c);
  c->size = 1;
  const char *no = getenv("TQ_NO_MPI");
  if ((no && *no && strcmp(no, "0")) || !launched_by_mpi()) return TQ_OK;
  tq_search_trace("MPI_Init_thread");
  int provided = MPI_THREAD_SINGLE;
  int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
  if (rc != MPI_SUCCESS) return tq_fail(TQ_ERR_IO, "MPI: MPI_Init_thread failed (error %d)", rc);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  c->mpi = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &c->size);
  c->threaded = provided >= MPI_THREAD_FUNNELED;
  tq_search_trace_rank(c->rank);
  tq_search_trace("MPI ready, %d ranks", c->size);
  return TQ_OK;
}

void tq_search_comm_finalize(tq_search_comm *c) {
  if (c->mpi) MPI_Finalize();
  c->mpi = 0;
}

tq_status tq_comm_bcast_text(const tq_search_comm *c, char **text) {
  if (c->size <= 1) return TQ_OK;
  long long len = -1;
  if (c->rank == 0 && *text) len = (long long)strlen(*text);
  int rc = MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return mpi_fail(rc, "broadcast of the settings");
  if (len < 0) {
    if (c->rank != 0) *text = NULL;
    return TQ_OK;
  }
  if (len > 0x7fffffffLL) return tq_fail(TQ_ERR_ARG, "MPI: settings too large (%lld bytes)", len);
  char *buf = c->rank == 0 ? *text : malloc((size_t)len + 1);
  if (!buf) return tq_fail(TQ_ERR_MEMORY, "MPI: out of memory");
  rc = MPI_Bcast(buf, (int)len, MPI_CHAR, 0, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) {
    if (c->rank != 0) free(buf);
    return mpi_fail(rc, "broadcast of the settings");
  }
  if (c->rank != 0) {
    buf[len] = 0;
    *text = buf;
  }
  return TQ_OK;
}

int tq_comm_all_ok(const tq_search_comm *c, int ok, int *first_bad) {
  *first_bad = ok ? -1 : c->rank;
  if (c->size <= 1) return ok;
  int mine = ok ? c->size : c->rank, lowest = c->size;
  if (MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS) {
    *first_bad = 0;
    return 0;
  }
  if (lowest == c->size) return 1;
  *first_bad = lowest;
  return 0;
}

tq_status tq_comm_send(const tq_search_comm *c, int dest, int tag, const char *text) {
  size_t n = strlen(text) + 1;
  if (n > 0x7fffffff) return tq_fail(TQ_ERR_ARG, "MPI: message too large");
  int rc = MPI_Send(text, (int)n, MPI_CHAR, dest, tag, MPI_COMM_WORLD);
  (void)c;
  return rc == MPI_SUCCESS ? TQ_OK : mpi_fail(rc, "send");
}

int tq_comm_poll(const tq_search_comm *c, int src, int tag, int *from, int *tag_out, char **text) {
  (void)c;
  int flag = 0;
  MPI_Status status;
  int rc = MPI_Iprobe(src < 0 ? MPI_ANY_SOURCE : src, tag < 0 ? MPI_ANY_TAG : tag, MPI_COMM_WORLD, &flag,
                      &status);
  if (rc != MPI_SUCCESS) {
    mpi_fail(rc, "probe");
    return -1;
  }
  if (!flag) return 0;
  int count = 0;
  MPI_Get_count(&status, MPI_CHAR, &count);
  char *buf = malloc((size_t)count + 1);
  if (!buf) {
    tq_fail(TQ_ERR_MEMORY, "MPI: out of memory");
    return -1;
  }
  rc = MPI_Recv(buf, count, MPI_CHAR, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  if (rc != MPI_SUCCESS) {
    free(buf);
    mpi_fail(rc, "receive");
    return -1;
  }
  buf[count] = 0;
  *from = status.MPI_SOURCE;
  *tag_out = status.MPI_TAG;
  *text = buf;
  return 1;
}

#else /* no MPI: a world of one */

tq_status tq_search_comm_init(tq_search_comm *c) {
  memset(c, 0, sizeof *c);
  c->size = 1;
  return TQ_OK;
}

void tq_search_comm_finalize(tq_search_comm *c) { (void)c; }

tq_status tq_comm_bcast_text(const tq_search_comm *c, char **text) {
  (void)c;
  (void)text;
  return TQ_OK;
}

int tq_comm_all_ok(const tq_search_comm *c, int ok, int *first_bad) {
  *first_bad = ok ? -1 : c->rank;
  return ok;
}

tq_status tq_comm_send(const tq_search_comm *c, int dest, int tag, const char *text) {
  (void)c;
  (void)tag;
  (void)text;
  return tq_fail(TQ_ERR_UNSUPPORTED, "MPI: no rank %d (tinyq was built without MPI)", dest);
}

int tq_comm_poll(const tq_search_comm *c, int src, int tag, int *from, int *tag_out, char **text) {
  (void)c;
  (void)src;
  (void)tag;
  (void)from;
  (void)tag_out;
  (void)text;
  return 0;
}

#endif
