/* Fuzzing the IDX loader: random mutations and truncations of a valid small image/label pair, plain
 * and gzip-compressed. Every load must either succeed with a valid dataset or fail with a message
 * naming the file; never crash (this test also runs under ASan/UBSan). For plain files a reference
 * parser written here, independently of src/data/idx.c, predicts the outcome and the loaded values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "tinyq/data.h"
#include "tq_test.h"

#define ITERATIONS 4000
#define MAXB 4096

enum { N0 = 4, ROWS0 = 3, COLS0 = 5 };

typedef struct {
  unsigned char b[MAXB];
  size_t n;
} blob;

static char dir[256], ipath_plain[320], lpath_plain[320], ipath_gz[320], lpath_gz[320];

static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}
static uint32_t get_be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void base_images(blob *o) {
  put_be32(o->b, 0x803);
  put_be32(o->b + 4, N0);
  put_be32(o->b + 8, ROWS0);
  put_be32(o->b + 12, COLS0);
  for (int i = 0; i < N0 * ROWS0 * COLS0; i++) o->b[16 + i] = (unsigned char)(i * 17 + 3);
  o->n = 16 + N0 * ROWS0 * COLS0;
}
static void base_labels(blob *o) {
  put_be32(o->b, 0x801);
  put_be32(o->b + 4, N0);
  for (int i = 0; i < N0; i++) o->b[8 + i] = (unsigned char)(i * 3 % 10);
  o->n = 8 + N0;
}

static uint32_t rnd(tq_rng *r, uint32_t n) { return tq_rng_below(r, n); }

/* gentle: only byte values change (sizes stay), so that many mutants are still valid files. */
static void mutate(blob *o, tq_rng *r, int header_dims, int gentle) {
  static const uint32_t interesting[] = {0,          1,          2,          3,         4,
                                         5,          15,         16,         60,        255,
                                         256,        0x7fffffff, 0x80000000, 0xffffffff, 0x10000,
                                         0x00000803, 0x00000801, 1u << 20,   1u << 28};
  int steps = 1 + (int)rnd(r, 3);
  for (int s = 0; s < steps; s++) {
    switch (gentle ? rnd(r, 2) : rnd(r, 9)) {
      case 0: /* flip bits */
        if (o->n) o->b[rnd(r, (uint32_t)o->n)] ^= (unsigned char)(1u << rnd(r, 8));
        break;
      case 1: /* random byte */
        if (o->n) o->b[rnd(r, (uint32_t)o->n)] = (unsigned char)rnd(r, 256);
        break;
      case 2: /* truncate */
        o->n = rnd(r, (uint32_t)o->n + 1);
        break;
      case 3: { /* append */
        uint32_t k = 1 + rnd(r, 40);
        for (uint32_t i = 0; i < k && o->n < MAXB; i++) o->b[o->n++] = (unsigned char)rnd(r, 256);
        break;
      }
      case 4: { /* delete a range */
        if (!o->n) break;
        uint32_t at = rnd(r, (uint32_t)o->n), k = 1 + rnd(r, 8);
        if (at + k > o->n) k = (uint32_t)o->n - at;
        memmove(o->b + at, o->b + at + k, o->n - at - k);
        o->n -= k;
        break;
      }
      case 5: { /* insert a range */
        uint32_t at = rnd(r, (uint32_t)o->n + 1), k = 1 + rnd(r, 8);
        if (o->n + k > MAXB) break;
        memmove(o->b + at + k, o->b + at, o->n - at);
        for (uint32_t i = 0; i < k; i++) o->b[at + i] = (unsigned char)rnd(r, 256);
        o->n += k;
        break;
      }
      case 6: { /* a consistent reshape: new dimensions and a payload of exactly that size */
        uint32_t d[3] = {1 + rnd(r, 6), 1 + rnd(r, 6), 1 + rnd(r, 6)}, count = 1;
        for (int i = 0; i < header_dims; i++) count *= d[i];
        if (header_dims == 0 || 4 + 4 * (size_t)header_dims + count > MAXB) break;
        for (int i = 0; i < header_dims; i++) put_be32(o->b + 4 + 4 * i, d[i]);
        o->n = 4 + 4 * (size_t)header_dims + count;
        for (size_t i = 4 + 4 * (size_t)header_dims; i < o->n; i++)
          o->b[i] = (unsigned char)(header_dims == 1 ? rnd(r, 11) : rnd(r, 256));
        break;
      }
      default: { /* an interesting value in a header word (magic or a dimension) */
        uint32_t word = rnd(r, (uint32_t)header_dims + 1);
        if (4 * word + 4 <= o->n)
          put_be32(o->b + 4 * word, interesting[rnd(r, sizeof interesting / sizeof *interesting)]);
        break;
      }
    }
  }
}

/* gzip in memory (deflate with the gzip wrapper). */
static int gzip_blob(blob *out, const blob *in, int level) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
  z.next_in = (unsigned char *)in->b;
  z.avail_in = (uInt)in->n;
  z.next_out = out->b;
  z.avail_out = MAXB;
  int ret = deflate(&z, Z_FINISH);
  out->n = MAXB - z.avail_out;
  deflateEnd(&z);
  return ret == Z_STREAM_END;
}

static void write_blob(const char *path, const blob *b) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    CHECK(f != NULL);
    return;
  }
  if (b->n) CHECK(fwrite(b->b, 1, b->n, f) == b->n);
  CHECK(fclose(f) == 0);
}

/* Reference IDX parse: 1 if valid with exactly the declared element count. */
static int ref_parse(const blob *b, int ndim, uint32_t *dims, size_t *count) {
  if (b->n < 4 || get_be32(b->b) != (0x800u | (uint32_t)ndim)) return 0;
  if (b->n < 4 + 4 * (size_t)ndim) return 0;
  uint64_t c = 1;
  for (int i = 0; i < ndim; i++) {
    dims[i] = get_be32(b->b + 4 + 4 * i);
    if (dims[i] == 0 || dims[i] > 0x7fffffff) return 0;
    c *= dims[i];
    if (c > MAXB) return 0; /* cannot be satisfied by a MAXB-byte file anyway */
  }
  if (b->n - 4 - 4 * (size_t)ndim != c) return 0;
  *count = (size_t)c;
  return 1;
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/tq_fuzz_idx_XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(ipath_plain, sizeof ipath_plain, "%s/train-images-idx3-ubyte", dir);
  snprintf(lpath_plain, sizeof lpath_plain, "%s/train-labels-idx1-ubyte", dir);
  snprintf(ipath_gz, sizeof ipath_gz, "%s/train-images-idx3-ubyte.gz", dir);
  snprintf(lpath_gz, sizeof lpath_gz, "%s/train-labels-idx1-ubyte.gz", dir);
  char spec[300];
  snprintf(spec, sizeof spec, "mnist:%s", dir);

  tq_rng rng;
  tq_rng_seed(&rng, 20240611);
  int ok = 0, failed = 0, predicted = 0, mismatches = 0, bad_messages = 0, invalid_ok = 0;
  int kinds[8] = {0};
  static const char *const problems[] = {"truncated: expected", "bad IDX magic", "trailing bytes",
                                         "does not match image count", "out of range",
                                         "IDX dimension", "read error", "truncated gzip stream"};
  enum { NPROB = sizeof problems / sizeof *problems };
  int seen[NPROB] = {0};
  double t0 = tq_now_seconds();
  for (int it = 0; it < ITERATIONS; it++) {
    blob img, lab, gimg, glab;
    base_images(&img);
    base_labels(&lab);
    int target = (int)rnd(&rng, 3); /* 0 images, 1 labels, 2 both */
    int mode = (int)rnd(&rng, 3);   /* 0 plain, 1 gzip of mutated bytes, 2 mutated gzip bytes */
    int gentle = rnd(&rng, 4) == 0;
    if (mode != 2) {
      if (target != 1) mutate(&img, &rng, 3, gentle);
      if (target != 0) mutate(&lab, &rng, 1, gentle);
    }
    remove(ipath_plain);
    remove(lpath_plain);
    remove(ipath_gz);
    remove(lpath_gz);
    if (mode == 0) {
      write_blob(ipath_plain, &img);
      write_blob(lpath_plain, &lab);
    } else {
      int level = 1 + (int)rnd(&rng, 9);
      CHECK(gzip_blob(&gimg, &img, level) && gzip_blob(&glab, &lab, level));
      if (mode == 2) {
        if (target != 1) mutate(&gimg, &rng, 0, gentle);
        if (target != 0) mutate(&glab, &rng, 0, gentle);
      }
      write_blob(ipath_gz, &gimg);
      write_blob(lpath_gz, &glab);
    }

    tq_dataset d;
    tq_clear_error();
    tq_status st = tq_dataset_load(&d, spec, 1, TQ_SCALE_RAW);
    if (st == TQ_OK) {
      ok++;
      int valid = d.n > 0 && d.h > 0 && d.w > 0 && d.c == 1 && d.classes == 10 && d.x && d.y;
      for (int i = 0; valid && i < d.n; i++) valid = d.y[i] >= 0 && d.y[i] < 10;
      for (size_t i = 0; valid && i < (size_t)d.n * d.h * d.w; i++)
        valid = d.x[i] >= 0 && d.x[i] <= 255 && d.x[i] == (float)(int)d.x[i];
      if (!valid) invalid_ok++;
    } else {
      failed++;
      kinds[st & 7]++;
      const char *m = tq_last_error();
      /* one line, names the file */
      if (!strstr(m, dir) || strchr(m, '\n') || !(st == TQ_ERR_FORMAT || st == TQ_ERR_IO)) {
        bad_messages++;
        if (bad_messages < 5) fprintf(stderr, "iteration %d: bad error (%d): %s\n", it, st, m);
      }
      int known = 0;
      for (int k = 0; k < NPROB; k++)
        if (strstr(m, problems[k])) seen[k]++, known = 1;
      if (!known) fprintf(stderr, "iteration %d: unclassified error: %s\n", it, m);
      CHECK(d.x == NULL && d.y == NULL && d.n == 0);
    }

    /* plain files, or gzip of (possibly mutated) bytes: the reference predicts everything */
    int gz_magic_plain = mode == 0 && ((img.n >= 2 && img.b[0] == 0x1f && img.b[1] == 0x8b) ||
                                       (lab.n >= 2 && lab.b[0] == 0x1f && lab.b[1] == 0x8b));
    if (mode != 2 && !gz_magic_plain) {
      uint32_t idims[3], ldims[1];
      size_t ic = 0, lc = 0;
      int want_ok = ref_parse(&img, 3, idims, &ic) && ref_parse(&lab, 1, ldims, &lc) &&
                    ldims[0] == idims[0];
      for (size_t i = 0; want_ok && i < lc; i++) want_ok = lab.b[8 + i] < 10;
      predicted++;
      if (want_ok != (st == TQ_OK)) {
        mismatches++;
        if (mismatches < 5)
          fprintf(stderr, "iteration %d: reference says %s, loader: %s\n", it,
                  want_ok ? "valid" : "invalid", st ? tq_last_error() : "ok");
      } else if (want_ok) {
        int same = d.n == (int)idims[0] && d.h == (int)idims[1] && d.w == (int)idims[2];
        for (size_t i = 0; same && i < ic; i++) same = d.x[i] == (float)img.b[16 + i];
        for (size_t i = 0; same && i < lc; i++) same = d.y[i] == lab.b[8 + i];
        if (!same) mismatches++;
      }
    }
    tq_dataset_free(&d);
  }
  double dt = tq_now_seconds() - t0;
  printf("%d iterations in %.2f s: %d loaded, %d rejected (format %d, io %d), %d predicted by the "
         "reference parser\n",
         ITERATIONS, dt, ok, failed, kinds[TQ_ERR_FORMAT], kinds[TQ_ERR_IO], predicted);
  for (int k = 0; k < NPROB; k++) {
    printf("  %5d x %s\n", seen[k], problems[k]);
    CHECK(seen[k] > 0); /* every kind of rejection is reached */
  }
  CHECK_EQ_INT(invalid_ok, 0);
  CHECK_EQ_INT(bad_messages, 0);
  CHECK_EQ_INT(mismatches, 0);
  CHECK(ok > ITERATIONS / 50); /* the fuzzer reaches both outcomes */
  CHECK(failed > ITERATIONS / 2);
  CHECK(predicted > ITERATIONS / 2);

  remove(ipath_plain);
  remove(lpath_plain);
  remove(ipath_gz);
  remove(lpath_gz);
  rmdir(dir);
  TEST_MAIN_END();
}
