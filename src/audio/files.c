/* Sorted directory listings for the audio datasets (word folders, clips, machine files), and the
 * first error of a parallel loop over them. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audio/audio_internal.h"

static int by_bytes(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int wanted(const char *dir, const char *name, int want_dirs, const char *suffix) {
  if (name[0] == '.') return 0;
  size_t len = strlen(name), sl = suffix ? strlen(suffix) : 0;
  if (!want_dirs && suffix && (len < sl || strcmp(name + len - sl, suffix) != 0)) return 0;
  char path[4096];
  struct stat sb;
  if (tq_path_join(path, sizeof path, dir, name) || stat(path, &sb) != 0) return 0;
  return want_dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode);
}

tq_status tq_dir_list(const char *dir, int want_dirs, const char *suffix, char ***names, int *count) {
  *names = NULL;
  *count = 0;
  DIR *d = opendir(dir);
  if (!d) return tq_fail(TQ_ERR_IO, "%s: cannot open directory (%s)", dir, strerror(errno));
  char **list = NULL;
  int n = 0, cap = 0;
  tq_status st = TQ_OK;
  struct dirent *e;
  while (!st && (e = readdir(d))) {
    if (!wanted(dir, e->d_name, want_dirs, suffix)) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char **grown = cap < (1 << 24) ? realloc(list, sizeof *list * (size_t)cap) : NULL;
      if (!grown) {
        st = tq_fail(TQ_ERR_MEMORY, "%s: too many entries to list", dir);
        break;
      }
      list = grown;
    }
    if (!(list[n] = strdup(e->d_name))) st = tq_fail(TQ_ERR_MEMORY, "%s: out of memory", dir);
    else n++;
  }
  closedir(d);
  if (st) {
    tq_dir_free(list, n);
    return st;
  }
  if (n) qsort(list, (size_t)n, sizeof *list, by_bytes);
  *names = list;
  *count = n;
  return TQ_OK;
}

void tq_dir_free(char **names, int count) {
  for (int i = 0; i < count; i++) free(names[i]);
  free(names);
}

tq_status tq_path_join(char *buf, size_t cap, const char *a, const char *b) {
  int len = snprintf(buf, cap, "%s/%s", a, b);
  if (len < 0 || (size_t)len >= cap) return tq_fail(TQ_ERR_ARG, "%s: path too long", a);
  return TQ_OK;
}

void tq_first_error_note(tq_first_error *e, long item, tq_status st) {
#pragma omp critical(tq_first_error)
  if (item < e->item) {
    e->item = item;
    e->st = st;
    snprintf(e->msg, sizeof e->msg, "%s", tq_last_error());
  }
}

tq_status tq_first_error_raise(const tq_first_error *e) {
  return e->st ? tq_fail(e->st, "%s", e->msg) : TQ_OK;
}
