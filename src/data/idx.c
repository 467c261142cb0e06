/* IDX files (MNIST, Fashion-MNIST), gzip-compressed or plain, and the whole-file gzip reader.
 *
 * IDX: big-endian u32 magic 0x000008NN (0x08 = unsigned byte elements, NN = number of dimensions),
 * NN big-endian u32 dimensions, then the elements, row-major. Images are idx3 (count, rows, cols),
 * labels idx1 (count). Every size is checked against what the file really holds. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "tinyq/data.h"

/* gzerror() messages are "<path>: <what>"; keep only <what>. */
static const char *gz_message(gzFile g, const char *path, int *errnum) {
  const char *m = gzerror(g, errnum);
  size_t n = strlen(path);
  if (m && strncmp(m, path, n) == 0 && m[n] == ':' && m[n + 1] == ' ') m += n + 2;
  return (m && *m) ? m : "unknown zlib error";
}

/* A guess of the decompressed size, so that one allocation usually suffices: the file size of a
 * plain file, the ISIZE trailer of a gzip file (size mod 2^32 of the last member). Only a hint: it is
 * capped by deflate's maximum ratio (1032:1) and reading still grows the buffer when it is wrong. */
static size_t size_hint(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  unsigned char head[2] = {0, 0}, tail[4];
  size_t hint = 0;
  long fsize = -1;
  if (fread(head, 1, 2, f) == 2 && fseek(f, 0, SEEK_END) == 0) fsize = ftell(f);
  if (fsize > 0) {
    if (head[0] == 0x1f && head[1] == 0x8b) {
      if (fsize >= 18 && fseek(f, -4, SEEK_END) == 0 && fread(tail, 1, 4, f) == 4) {
        hint = (size_t)tail[0] | (size_t)tail[1] << 8 | (size_t)tail[2] << 16 | (size_t)tail[3] << 24;
        if (hint / 1032 > (size_t)fsize) hint = (size_t)fsize * 1032;
      }
    } else {
      hint = (size_t)fsize;
    }
  }
  fclose(f);
  return hint;
}

/* Reads all of `path` through zlib. *stream_short = 1 when a gzip stream ended before its end
 * (zlib reports that as Z_BUF_ERROR "unexpected end of file" and returns the bytes it had). */
static tq_status gz_slurp(const char *path, unsigned char **data, size_t *size, size_t max_size,
                          const char *over_max, int *stream_short) {
  *data = NULL;
  *size = 0;
  *stream_short = 0;
  errno = 0;
  gzFile g = gzopen(path, "rb");
  if (!g)
    return tq_fail(TQ_ERR_IO, "%s: cannot open: %s", path,
                   errno ? strerror(errno) : "out of memory");
  gzbuffer(g, 1u << 17);
  size_t cap = size_hint(path) + 1, n = 0; /* +1: reaching EOF needs no growth */
  if (cap < 4096) cap = 4096;
  if (max_size && cap > max_size + 1) cap = max_size + 1;
  unsigned char *buf = tq_mem_check(cap) ? NULL : malloc(cap);
  if (!buf) {
    gzclose(g);
    return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  }
  for (;;) {
    if (n == cap) {
      if (max_size && cap > max_size) {
        free(buf);
        gzclose(g);
        return tq_fail(TQ_ERR_FORMAT, "%s: %s %zu bytes", path, over_max, max_size);
      }
      size_t ncap = cap * 2;
      if (max_size && ncap > max_size + 1) ncap = max_size + 1;
      /* a gzip bomb stops at the memory budget, not at the machine's end */
      if (tq_mem_check(ncap)) {
        free(buf);
        gzclose(g);
        return tq_fail_prefix(TQ_ERR_MEMORY, "%s: decompressing more than %zu bytes", path, cap);
      }
      unsigned char *nb = realloc(buf, ncap);
      if (!nb) {
        free(buf);
        gzclose(g);
        return tq_fail(TQ_ERR_MEMORY, "%s: out of memory reading %zu bytes", path, ncap);
      }
      buf = nb;
      cap = ncap;
    }
    size_t want = cap - n;
    if (want > (1u << 30)) want = 1u << 30;
    int got = gzread(g, buf + n, (unsigned)want);
    if (got < 0) {
      int e;
      tq_status st = tq_fail(TQ_ERR_FORMAT, "%s: read error: %s", path, gz_message(g, path, &e));
      if (e == Z_ERRNO) st = TQ_ERR_IO;
      if (e == Z_MEM_ERROR) st = TQ_ERR_MEMORY;
      free(buf);
      gzclose(g);
      return st;
    }
    if (got == 0) break;
    n += (size_t)got;
  }
  if (max_size && n > max_size) {
    free(buf);
    gzclose(g);
    return tq_fail(TQ_ERR_FORMAT, "%s: %s %zu bytes", path, over_max, max_size);
  }
  int e;
  gz_message(g, path, &e);
  *stream_short = (e == Z_BUF_ERROR);
  gzclose(g);
  *data = buf;
  *size = n;
  return TQ_OK;
}

tq_status tq_read_file_gz(const char *path, unsigned char **data, size_t *size, size_t max_size) {
  int stream_short;
  tq_status st = gz_slurp(path, data, size, max_size, "larger than", &stream_short);
  if (st) return st;
  if (stream_short) {
    free(*data);
    *data = NULL;
    *size = 0;
    return tq_fail(TQ_ERR_FORMAT, "%s: truncated gzip stream (unexpected end of file)", path);
  }
  return TQ_OK;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

#define IDX_MAX_ELEMENTS (1ull << 36) /* 64 Gi elements: far beyond any dataset, far below overflow */

/* Validates an in-memory IDX file of unsigned bytes with `ndim` dimensions. */
static tq_status idx_parse(const char *path, const unsigned char *buf, size_t size, int ndim,
                           const char *what, int stream_short, uint32_t *dims,
                           const unsigned char **payload) {
  const char *gz_note = stream_short ? " (gzip stream ends early)" : "";
  size_t header = 4 + 4 * (size_t)ndim;
  uint32_t want_magic = 0x00000800u | (uint32_t)ndim;
  if (size < 4)
    return tq_fail(TQ_ERR_FORMAT, "%s: truncated: expected %zu IDX header bytes, got %zu%s", path,
                   header, size, gz_note);
  uint32_t magic = be32(buf);
  if (magic != want_magic)
    return tq_fail(TQ_ERR_FORMAT, "%s: bad IDX magic 0x%08x (expected 0x%08x)", path, magic,
                   want_magic);
  if (size < header)
    return tq_fail(TQ_ERR_FORMAT, "%s: truncated: expected %zu IDX header bytes, got %zu%s", path,
                   header, size, gz_note);
  uint64_t count = 1;
  for (int i = 0; i < ndim; i++) {
    dims[i] = be32(buf + 4 + 4 * i);
    if (dims[i] == 0) return tq_fail(TQ_ERR_FORMAT, "%s: IDX dimension %d is 0", path, i);
    if (dims[i] > INT_MAX)
      return tq_fail(TQ_ERR_FORMAT, "%s: IDX dimension %d is %u (too large)", path, i, dims[i]);
    count *= dims[i]; /* dims < 2^31 and count <= 2^36 before each step: no overflow */
    if (count > IDX_MAX_ELEMENTS)
      return tq_fail(TQ_ERR_FORMAT, "%s: IDX dimensions too large (more than %llu elements)", path,
                     (unsigned long long)IDX_MAX_ELEMENTS);
  }
  size_t got = size - header;
  if ((uint64_t)got < count)
    return tq_fail(TQ_ERR_FORMAT, "%s: truncated: expected %llu %s bytes, got %zu%s", path,
                   (unsigned long long)count, what, got, gz_note);
  if ((uint64_t)got > count)
    return tq_fail(TQ_ERR_FORMAT, "%s: %llu trailing bytes after %llu %s bytes", path,
                   (unsigned long long)(got - count), (unsigned long long)count, what);
  if (stream_short)
    return tq_fail(TQ_ERR_FORMAT, "%s: truncated gzip stream (unexpected end of file)", path);
  *payload = buf + header;
  return TQ_OK;
}

/* The pixel count an IDX image file will hold, when its header and its size hint (plain file size or
 * gzip ISIZE) agree and it is not huge; 0 otherwise. Lets the float array be allocated (and its pages
 * faulted in) while the file is still being decompressed. Only an optimisation: the real count comes
 * from the fully read and validated file. */
#define IDX_PREALLOC_MAX ((size_t)1 << 28)
#define IDX_PARALLEL_MIN ((size_t)1 << 20) /* below this a second thread costs more than it saves */
static size_t idx3_predict_pixels(const char *path) {
  gzFile g = gzopen(path, "rb");
  if (!g) return 0;
  unsigned char h[16];
  int got = gzread(g, h, sizeof h);
  gzclose(g);
  if (got != (int)sizeof h || be32(h) != 0x803) return 0;
  uint64_t count = 1;
  for (int i = 0; i < 3; i++) {
    uint32_t d = be32(h + 4 + 4 * i);
    if (d == 0 || d > INT_MAX) return 0;
    count *= d;
    if (count > IDX_PREALLOC_MAX) return 0;
  }
  return size_hint(path) == count + sizeof h ? (size_t)count : 0;
}

/* The IDX header, read from the (decompressed) stream before the rest: its dimensions bound how
 * much the file may hold, so that a small gzip bomb is refused after 16 bytes instead of being
 * inflated to gigabytes first. Validates the magic and the dimensions as idx_parse does; sets
 * *max_size to the size the file must have (header + elements), or 0 when the header is too
 * short to tell (idx_parse then reports the truncation). Memory is not judged here: a header
 * may announce more than the file holds (that is a truncation, reported once the data is read);
 * the read buffer grows only with data that really arrives, within the memory budget. */
static tq_status idx_peek(const char *path, int ndim, size_t *max_size) {
  *max_size = 0;
  gzFile g = gzopen(path, "rb");
  if (!g) return TQ_OK; /* the read reports it */
  unsigned char h[16];
  int want = 4 + 4 * ndim, got = gzread(g, h, (unsigned)want);
  gzclose(g);
  if (got < want) return TQ_OK;
  uint32_t magic = be32(h);
  if (magic != (0x00000800u | (uint32_t)ndim))
    return tq_fail(TQ_ERR_FORMAT, "%s: bad IDX magic 0x%08x (expected 0x%08x)", path, magic,
                   0x00000800u | (uint32_t)ndim);
  uint64_t count = 1;
  for (int i = 0; i < ndim; i++) {
    uint32_t d = be32(h + 4 + 4 * i);
    if (d == 0) return tq_fail(TQ_ERR_FORMAT, "%s: IDX dimension %d is 0", path, i);
    if (d > INT_MAX) return tq_fail(TQ_ERR_FORMAT, "%s: IDX dimension %d is %u (too large)", path, i, d);
    count *= d;
    if (count > IDX_MAX_ELEMENTS)
      return tq_fail(TQ_ERR_FORMAT, "%s: IDX dimensions too large (more than %llu elements)", path,
                     (unsigned long long)IDX_MAX_ELEMENTS);
  }
  /* a few bytes of slack, so that small trailing junk is still reported exactly by idx_parse */
  *max_size = (size_t)want + (size_t)count + 4096;
  return TQ_OK;
}

typedef struct {
  unsigned char *buf;
  size_t size;
  int stream_short;
  tq_status st;
  size_t max_size;
  char msg[1024]; /* tq_last_error() is per thread: carried back to the calling thread */
} slurp_job;

static void slurp_run(slurp_job *j, const char *path) {
  j->st = gz_slurp(path, &j->buf, &j->size, j->max_size, "longer than its IDX header announces:",
                   &j->stream_short);
  if (j->st) snprintf(j->msg, sizeof j->msg, "%s", tq_last_error());
}

tq_status tq_dataset_load_idx(tq_dataset *out, const char *images_path, const char *labels_path,
                              int classes, tq_input_scaling scaling) {
  memset(out, 0, sizeof *out);
  if (classes < 0 || classes > 256)
    return tq_fail(TQ_ERR_ARG, "%s: bad class count %d", images_path, classes);
  slurp_job img = {0}, lab_job = {0};
  uint32_t idims[3] = {0}, ldims[1] = {0};
  const unsigned char *pix = NULL, *lab = NULL;
  tq_status st = idx_peek(images_path, 3, &img.max_size);
  if (!st && labels_path) st = idx_peek(labels_path, 1, &lab_job.max_size);
  if (st) return st;

  /* Decompress the images on one thread while the other allocates (faults in) the float array and
   * reads the labels: the two costs are of the same size for Fashion-MNIST. */
  size_t predicted = idx3_predict_pixels(images_path);
  float *x_pre = NULL;
#pragma omp parallel sections num_threads(2) if (predicted >= IDX_PARALLEL_MIN)
  {
#pragma omp section
    slurp_run(&img, images_path);
#pragma omp section
    {
      if (predicted) x_pre = tq_alloc_floats(predicted);
      if (labels_path) slurp_run(&lab_job, labels_path);
    }
  }

  if (img.st) {
    st = tq_fail(img.st, "%s", img.msg);
    goto fail;
  }
  st = idx_parse(images_path, img.buf, img.size, 3, "image", img.stream_short, idims, &pix);
  if (st) goto fail;
  if ((uint64_t)idims[1] * idims[2] > INT_MAX) {
    st = tq_fail(TQ_ERR_FORMAT, "%s: images of %u x %u pixels are too large", images_path,
                 idims[1], idims[2]);
    goto fail;
  }
  if (labels_path) {
    if (lab_job.st) {
      st = tq_fail(lab_job.st, "%s", lab_job.msg);
      goto fail;
    }
    st = idx_parse(labels_path, lab_job.buf, lab_job.size, 1, "label", lab_job.stream_short, ldims,
                   &lab);
    if (st) goto fail;
    if (ldims[0] != idims[0]) {
      st = tq_fail(TQ_ERR_FORMAT, "%s: label count %u does not match image count %u", labels_path,
                   ldims[0], idims[0]);
      goto fail;
    }
  }

  size_t n = idims[0], px = (size_t)idims[1] * idims[2];
  int max_label = -1;
  if (lab) {
    for (size_t i = 0; i < n; i++) {
      if (classes > 0 && lab[i] >= classes) {
        st = tq_fail(TQ_ERR_FORMAT, "%s: label %d out of range (expected 0..%d) at index %zu",
                     labels_path, lab[i], classes - 1, i);
        goto fail;
      }
      if (lab[i] > max_label) max_label = lab[i];
    }
  }
  out->n = (int)n;
  out->h = (int)idims[1];
  out->w = (int)idims[2];
  out->c = 1;
  out->classes = lab ? (classes > 0 ? classes : max_label + 1) : 0;
  if (x_pre && predicted == n * px) {
    out->x = x_pre;
    x_pre = NULL;
  } else {
    out->x = tq_alloc_floats(n * px);
  }
  if (!out->x) {
    st = tq_fail_prefix(TQ_ERR_MEMORY, "%s", images_path);
    goto fail;
  }
  float lut[256];
  tq_pixel_lut(lut, scaling);
  for (size_t i = 0; i < n * px; i++) out->x[i] = lut[pix[i]];
  if (lab) {
    out->y = tq_alloc(n * sizeof(int));
    if (!out->y) {
      st = tq_fail_prefix(TQ_ERR_MEMORY, "%s", labels_path);
      goto fail;
    }
    for (size_t i = 0; i < n; i++) out->y[i] = lab[i];
  }

fail:
  free(img.buf);
  free(lab_job.buf);
  tq_free(x_pre);
  if (st) tq_dataset_free(out);
  return st;
}

/* DIR/<stem>-<kind>-ubyte.gz, else DIR/<stem>-<kind>-ubyte, else DIR/<stem>.<kind>-ubyte (the
 * spelling of the original MNIST mirror once unpacked). */
static tq_status resolve_idx(char *path, size_t cap, const char *dir, const char *stem,
                             const char *kind) {
  static const char *const forms[] = {"%s/%s-%s-ubyte.gz", "%s/%s-%s-ubyte", "%s/%s.%s-ubyte"};
  for (int f = 0; f < 3; f++) {
    int len = snprintf(path, cap, forms[f], dir, stem, kind);
    if (len < 0 || (size_t)len >= cap) return tq_fail(TQ_ERR_ARG, "%s: path too long", dir);
    if (access(path, F_OK) == 0) return TQ_OK;
  }
  int err = errno;
  snprintf(path, cap, forms[0], dir, stem, kind);
  return tq_fail(TQ_ERR_IO, "%s: cannot open: %s (nor %s-%s-ubyte)", path, strerror(err), stem,
                 kind);
}

tq_status tq_dataset_load_mnist(tq_dataset *out, const char *dir, int train_split,
                                tq_input_scaling scaling) {
  memset(out, 0, sizeof *out);
  char ipath[4096], lpath[4096];
  const char *stem_i = train_split ? "train-images" : "t10k-images";
  const char *stem_l = train_split ? "train-labels" : "t10k-labels";
  tq_status st = resolve_idx(ipath, sizeof ipath, dir, stem_i, "idx3");
  if (st) return st;
  st = resolve_idx(lpath, sizeof lpath, dir, stem_l, "idx1");
  if (st) return st;
  return tq_dataset_load_idx(out, ipath, lpath, 10, scaling);
}
