/* The mixed-precision search's entry point on rank 0 (SPEC §5): opens the search directory (fresh,
 * or a search to resume; locked before anything in it is read), checks the settings cheaply before
 * any data is loaded, sends them to every rank, prepares the trial evaluator and hands over to the
 * coordinator (coordinator.c). The workers are in worker.c, the result files in results.c, the
 * settings in settings.c, the evaluator in evaluator.c. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "search/search_internal.h"
#include "tinyq/data.h"
#include "tinyq/train.h"
#include "tinyq/zoo.h"

void tq_search_paths_init(tq_search_paths *p, const char *dir) {
  p->dir = dir;
  snprintf(p->settings, sizeof p->settings, "%s/search.json", dir);
  snprintf(p->trials, sizeof p->trials, "%s/trials.jsonl", dir);
  snprintf(p->started, sizeof p->started, "%s/started.jsonl", dir);
  snprintf(p->best, sizeof p->best, "%s/best.json", dir);
  snprintf(p->pareto, sizeof p->pareto, "%s/pareto.csv", dir);
  snprintf(p->sensitivity, sizeof p->sensitivity, "%s/sensitivity.csv", dir);
}

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Cheap checks before any data is loaded: the model and the space (against the model at its
 * reference shape: the layers do not depend on the input shape), the training options. */
static tq_status precheck(const tq_search_settings *s, const char *space_source) {
  const tq_zoo_entry *z = tq_zoo_find(s->model);
  tq_model *m = NULL;
  tq_status st = tq_zoo_build(&m, s->model, NULL);
  if (!st && z) st = tq_model_finalize(m, 1, z->init, 1);
  tq_space *sp = NULL;
  if (!st) st = tq_space_create(&sp, s->space_json, space_source, m);
  tq_space_free(sp);
  tq_model_free(m);
  if (st) return st;
  tq_train_config tc;
  tq_input_scaling sc;
  if ((st = tq_schedule_parse(s->schedule, &tc.schedule)) || (st = tq_optimizer_parse(s->optimizer, &tc.optimizer)) ||
      (st = tq_augment_parse(s->augment, &tc.augment)) || (st = tq_dataset_parse_scaling(s->scaling, &sc)))
    return st;
  return TQ_OK;
}

static tq_status already_a_search(const char *dir) {
  return tq_fail(TQ_ERR_ARG, "%s: the directory already holds a search (continue it with --resume %s, or "
                 "choose another --out)", dir, dir);
}

/* The directory, fresh or a search to resume, locked (*lock_fd, -1 when not) before anything in it is
 * read; the settings checked on the way. space_source receives the space's name for messages. */
static tq_status open_directory(const tq_search_settings *s, const tq_search_paths *p, int resume,
                                char *space_source, size_t n, int *lock_fd) {
  tq_status st = TQ_OK;
  *lock_fd = -1;
  if (resume && file_exists(p->settings) && (*lock_fd = tq_search_lock_dir(p->dir, &st)) < 0) return st;
  if (!resume && (file_exists(p->settings) || file_exists(p->trials))) st = already_a_search(p->dir);
  if (resume && !file_exists(p->settings)) st = tq_fail(TQ_ERR_ARG, "%s: no search to resume (no search.json)", p->dir);
  if (resume) snprintf(space_source, n, "%s (space)", p->settings);
  else tq_search_copy(space_source, n, s->space_file[0] ? s->space_file : "search space");
  if (!st) st = precheck(s, space_source);
  if (!st && !resume && !(st = tq_mkdirs(p->dir))) {
    *lock_fd = tq_search_lock_dir(p->dir, &st);
    if (!st && (file_exists(p->settings) || file_exists(p->trials))) /* another run got here first */
      st = already_a_search(p->dir);
  }
  return st;
}

/* Every rank gets the settings and the thread count (the workers answer in tq_search_worker). */
static tq_status share_settings(const tq_search_comm *c, const tq_search_settings *s, int threads) {
  char *text = tq_search_settings_json(s);
  char thr[32];
  snprintf(thr, sizeof thr, "%d", threads);
  if (!text) {
    tq_search_abort_workers(c);
    return tq_fail(TQ_ERR_MEMORY, "search: out of memory");
  }
  tq_status st = tq_comm_bcast_text(c, &text);
  free(text);
  char *tp = thr;
  if (!st) st = tq_comm_bcast_text(c, &tp);
  return st;
}

void tq_search_abort_workers(const tq_search_comm *c) {
  if (c->rank != 0 || c->size <= 1) return;
  char *none = NULL;
  tq_comm_bcast_text(c, &none);
}

tq_status tq_search_run(const tq_search_comm *c, const tq_search_settings *s, const char *out, int resume,
                        int threads, FILE *log) {
  tq_search_paths p;
  tq_search_paths_init(&p, out);
  char space_source[1200];
  int lock_fd;
  tq_status st = open_directory(s, &p, resume, space_source, sizeof space_source, &lock_fd);
  if (st) {
    if (lock_fd >= 0) close(lock_fd);
    tq_search_abort_workers(c);
    return st;
  }
  if ((st = share_settings(c, s, threads))) {
    close(lock_fd);
    return st;
  }
  omp_set_num_threads(threads);
  tq_comm_check_threads(c, threads, stderr);
  tq_evaluator ev;
  tq_coordinator *co = NULL;
  int have_ev = !(st = tq_evaluator_init(&ev, s, space_source));
  if (have_ev) st = tq_coordinator_open(&co, c, s, &ev, &p, resume, log ? log : stdout);
  int bad;
  if (!tq_comm_all_ok(c, st == TQ_OK, &bad)) {
    if (!st) st = tq_fail(TQ_ERR_IO, "rank %d could not start the search (see its message)", bad);
  } else {
    st = tq_coordinator_run(co, threads);
  }
  tq_coordinator_free(co);
  if (have_ev) tq_evaluator_free(&ev);
  close(lock_fd); /* last: the journal is complete before another process may take the directory */
  return st;
}
