#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tinyq/core.h"

struct tq_atomic_file {
  FILE *fp;
  char *path;
  char *tmp;
};

tq_status tq_atomic_open(tq_atomic_file **out, const char *path) {
  *out = NULL;
  tq_atomic_file *f = calloc(1, sizeof *f);
  size_t n = strlen(path) + 32;
  if (!f) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  f->path = strdup(path);
  f->tmp = malloc(n);
  if (!f->path || !f->tmp) {
    free(f->path);
    free(f->tmp);
    free(f);
    return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  }
  snprintf(f->tmp, n, "%s.tmp.%ld", path, (long)getpid());
  f->fp = fopen(f->tmp, "wb");
  if (!f->fp) {
    tq_status st = tq_fail(TQ_ERR_IO, "%s: cannot create file: %s", path, strerror(errno));
    free(f->path);
    free(f->tmp);
    free(f);
    return st;
  }
  *out = f;
  return TQ_OK;
}

FILE *tq_atomic_stream(tq_atomic_file *f) { return f->fp; }

static void atomic_free(tq_atomic_file *f) {
  free(f->path);
  free(f->tmp);
  free(f);
}

tq_status tq_atomic_commit(tq_atomic_file *f) {
  tq_status st = TQ_OK;
  int bad = ferror(f->fp);
  if (fflush(f->fp) != 0) bad = 1;
  if (!bad && fsync(fileno(f->fp)) != 0) bad = 1;
  if (fclose(f->fp) != 0) bad = 1;
  if (bad) {
    st = tq_fail(TQ_ERR_IO, "%s: write failed: %s", f->path, strerror(errno));
    remove(f->tmp);
  } else if (rename(f->tmp, f->path) != 0) {
    st = tq_fail(TQ_ERR_IO, "%s: cannot replace file: %s", f->path, strerror(errno));
    remove(f->tmp);
  }
  atomic_free(f);
  return st;
}

void tq_atomic_abort(tq_atomic_file *f) {
  if (!f) return;
  fclose(f->fp);
  remove(f->tmp);
  atomic_free(f);
}

tq_status tq_write_file_atomic(const char *path, const void *data, size_t size) {
  tq_atomic_file *f;
  tq_status st = tq_atomic_open(&f, path);
  if (st) return st;
  if (size && fwrite(data, 1, size, f->fp) != size) {
    st = tq_fail(TQ_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    tq_atomic_abort(f);
    return st;
  }
  return tq_atomic_commit(f);
}

tq_status tq_read_file(const char *path, unsigned char **data, size_t *size) {
  *data = NULL;
  *size = 0;
  FILE *fp = fopen(path, "rb");
  if (!fp) return tq_fail(TQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  size_t cap = 1 << 16, n = 0;
  unsigned char *buf = malloc(cap);
  if (!buf) {
    fclose(fp);
    return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  }
  for (;;) {
    if (n == cap) {
      cap *= 2;
      unsigned char *nb = realloc(buf, cap);
      if (!nb) {
        free(buf);
        fclose(fp);
        return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
      }
      buf = nb;
    }
    size_t got = fread(buf + n, 1, cap - n, fp);
    n += got;
    if (got == 0) break;
  }
  int err = ferror(fp);
  fclose(fp);
  if (err) {
    free(buf);
    return tq_fail(TQ_ERR_IO, "%s: read error", path);
  }
  *data = buf;
  *size = n;
  return TQ_OK;
}

tq_status tq_mkdirs(const char *path) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) return tq_fail(TQ_ERR_ARG, "%s: bad directory path", path);
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] == '/' || buf[i] == 0) {
      char c = buf[i];
      buf[i] = 0;
      if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return tq_fail(TQ_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
      buf[i] = c;
    }
  }
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
    return tq_fail(TQ_ERR_IO, "%s: not a directory", path);
  return TQ_OK;
}

uint32_t tq_crc32(uint32_t crc, const void *data, size_t n) {
  static uint32_t table[256];
  static int ready = 0; /* benign: every thread computes the same constant table */
  if (!ready) {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    ready = 1;
  }
  const unsigned char *p = data;
  crc = ~crc;
  for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

double tq_now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
