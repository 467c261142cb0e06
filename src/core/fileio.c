#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tinyq/core.h"

struct tq_atomic_file {
  FILE *fp;
  char *path; /* the name the user gave, for messages */
  char *dest; /* the file to replace: path, or a symlink's target */
  char *tmp;  /* NULL: written in place (stdout, a FIFO, a device) */
};

static void atomic_free(tq_atomic_file *f) {
  free(f->path);
  free(f->dest);
  free(f->tmp);
  free(f);
}

/* Write-to-temp-and-rename is only right for regular files: renaming over a FIFO, a device or a
 * symlink would replace the special file itself with a regular one (as root, /dev/full). So:
 * "-" is stdout; a missing path or a regular file is replaced atomically; a symlink to a regular
 * file replaces the target (the link stays a link); anything else is opened and written in place. */
tq_status tq_atomic_open(tq_atomic_file **out, const char *path) {
  *out = NULL;
  tq_atomic_file *f = calloc(1, sizeof *f);
  if (!f || !(f->path = strdup(path))) {
    free(f);
    return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  }
  if (!strcmp(path, "-")) {
    f->fp = stdout;
    *out = f;
    return TQ_OK;
  }
  struct stat lst, st;
  int in_place = 0;
  if (lstat(path, &lst) == 0) {
    if (S_ISLNK(lst.st_mode)) {
      if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) f->dest = realpath(path, NULL);
      else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        atomic_free(f);
        return tq_fail(TQ_ERR_IO, "%s: cannot write: is a directory", path);
      } else in_place = 1; /* a link to a special file, or a dangling one: write through it */
    } else if (S_ISDIR(lst.st_mode)) {
      atomic_free(f);
      return tq_fail(TQ_ERR_IO, "%s: cannot write: is a directory", path);
    } else if (!S_ISREG(lst.st_mode)) {
      in_place = 1;
    }
  }
  if (in_place) {
    f->fp = fopen(path, "wb");
    if (!f->fp) {
      tq_status e = tq_fail(TQ_ERR_IO, "%s: cannot open for writing: %s", path, strerror(errno));
      atomic_free(f);
      return e;
    }
    *out = f;
    return TQ_OK;
  }
  if (!f->dest) f->dest = strdup(path);
  size_t n = f->dest ? strlen(f->dest) + 32 : 0;
  if (!f->dest || !(f->tmp = malloc(n))) {
    atomic_free(f);
    return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  }
  snprintf(f->tmp, n, "%s.tmp.%ld", f->dest, (long)getpid());
  f->fp = fopen(f->tmp, "wb");
  if (!f->fp) {
    tq_status e = tq_fail(TQ_ERR_IO, "%s: cannot create file: %s", path, strerror(errno));
    atomic_free(f);
    return e;
  }
  *out = f;
  return TQ_OK;
}

FILE *tq_atomic_stream(tq_atomic_file *f) { return f->fp; }

tq_status tq_atomic_commit(tq_atomic_file *f) {
  tq_status st = TQ_OK;
  int bad = ferror(f->fp);
  if (fflush(f->fp) != 0) bad = 1;
  int err = errno;
  if (!f->tmp) { /* in place: nothing to rename, and fsync means nothing on a pipe */
    if (f->fp != stdout && fclose(f->fp) != 0 && !bad) bad = 1, err = errno;
    if (bad) st = tq_fail(TQ_ERR_IO, "%s: write failed: %s", f->path, strerror(err));
    atomic_free(f);
    return st;
  }
  if (!bad && fsync(fileno(f->fp)) != 0) bad = 1, err = errno;
  if (fclose(f->fp) != 0 && !bad) bad = 1, err = errno;
  if (bad) {
    st = tq_fail(TQ_ERR_IO, "%s: write failed: %s", f->path, strerror(err));
    remove(f->tmp);
  } else if (rename(f->tmp, f->dest) != 0) {
    st = tq_fail(TQ_ERR_IO, "%s: cannot replace file: %s", f->path, strerror(errno));
    remove(f->tmp);
  }
  atomic_free(f);
  return st;
}

void tq_atomic_abort(tq_atomic_file *f) {
  if (!f) return;
  if (f->fp != stdout) fclose(f->fp);
  else fflush(stdout);
  if (f->tmp) remove(f->tmp);
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
  struct stat sb;
  if (fstat(fileno(fp), &sb) == 0 && S_ISDIR(sb.st_mode)) {
    fclose(fp);
    return tq_fail(TQ_ERR_IO, "%s: is a directory, not a file", path);
  }
  /* a regular file's size is known: refuse one larger than the memory budget before reading */
  if (S_ISREG(sb.st_mode) && sb.st_size > 0 && tq_mem_check((size_t)sb.st_size)) {
    fclose(fp);
    return tq_fail_prefix(TQ_ERR_MEMORY, "%s: file of %lld bytes", path, (long long)sb.st_size);
  }
  size_t cap = 1 << 16, n = 0;
  if (S_ISREG(sb.st_mode) && sb.st_size >= 0) cap = (size_t)sb.st_size + 1; /* +1: EOF needs no growth */
  unsigned char *buf = malloc(cap);
  if (!buf) {
    fclose(fp);
    return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  }
  for (;;) {
    if (n == cap) {
      if (cap > SIZE_MAX / 2 || tq_mem_check(cap)) { /* a pipe or device that does not end */
        free(buf);
        fclose(fp);
        return tq_fail_prefix(TQ_ERR_MEMORY, "%s: reading more than %zu bytes", path, cap);
      }
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
  int bad = ferror(fp), err = errno;
  fclose(fp);
  if (bad) {
    free(buf);
    return tq_fail(TQ_ERR_IO, "%s: read error: %s", path, err ? strerror(err) : "unknown cause");
  }
  *data = buf;
  *size = n;
  return TQ_OK;
}

tq_status tq_json_text_check(const char *text, size_t n, const char *source) {
  for (size_t i = 0; i < n; i++) {
    if (text[i] == 0)
      return tq_fail(TQ_ERR_FORMAT, "%s: a NUL byte at offset %zu (not JSON text)", source, i);
    if (text[i] == '\\' && i + 1 < n) {
      if (text[i + 1] == 'u' && i + 5 < n && text[i + 2] == '0' && text[i + 3] == '0' && text[i + 4] == '0' &&
          text[i + 5] == '0')
        return tq_fail(TQ_ERR_FORMAT, "%s: a \\u0000 escape at offset %zu (a NUL inside a string is not allowed)",
                       source, i);
      i++; /* an escaped backslash does not start an escape */
    }
  }
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
