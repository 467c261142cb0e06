/* Dataset loading (Fashion-MNIST / IDX fixtures / CIFAR-10 fixtures), splits, batching, augmentation.
 * Expected values for the real Fashion-MNIST files were computed independently with Python's gzip and
 * struct modules (sum of all pixels, first labels, single pixels). */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "tinyq/data.h"
#include "tq_test.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

static char tmp_root[256];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void make_dir(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", tmp_root, name);
  CHECK(tq_mkdirs(out) == TQ_OK);
}

static void write_bytes(const char *path, const void *data, size_t n, int gz) {
  if (gz) {
    gzFile g = gzopen(path, "wb");
    CHECK(g != NULL);
    if (!g) return;
    if (n) CHECK(gzwrite(g, data, (unsigned)n) == (int)n);
    CHECK(gzclose(g) == Z_OK);
  } else {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    if (n) CHECK(fwrite(data, 1, n, f) == n);
    CHECK(fclose(f) == 0);
  }
}

static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* An IDX image file (magic, count, rows, cols, pixels) and label file. Returns the byte count. */
static size_t idx3_bytes(unsigned char *buf, uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols,
                         const unsigned char *px, size_t npx) {
  put_be32(buf, magic);
  put_be32(buf + 4, n);
  put_be32(buf + 8, rows);
  put_be32(buf + 12, cols);
  memcpy(buf + 16, px, npx);
  return 16 + npx;
}
static size_t idx1_bytes(unsigned char *buf, uint32_t magic, uint32_t n, const unsigned char *lab,
                         size_t nlab) {
  put_be32(buf, magic);
  put_be32(buf + 4, n);
  memcpy(buf + 8, lab, nlab);
  return 8 + nlab;
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

#define CHECK_ERR(call, code, needle1, needle2)                                                \
  do {                                                                                         \
    tq_status st_ = (call);                                                                    \
    const char *m_ = tq_last_error();                                                          \
    if (st_ != (code) || !contains(m_, needle1) || !contains(m_, needle2)) {                  \
      fprintf(stderr, "%s:%d: expected status %d with '%s' and '%s', got %d: %s\n", __FILE__, \
              __LINE__, (int)(code), needle1, needle2, (int)st_, m_);                          \
      tq_test_failures++;                                                                      \
    } else {                                                                                   \
      printf("  error ok: %s\n", m_);                                                          \
    }                                                                                          \
  } while (0)

/* ------------------------------------------------------------------ real Fashion-MNIST */
static void test_fashion_mnist(void) {
  tq_dataset tr, te, raw, cen;
  double t0 = tq_now_seconds();
  tq_status st = tq_dataset_load(&tr, "fashion-mnist", 1, TQ_SCALE_UNIT);
  double t1 = tq_now_seconds();
  CHECK(st == TQ_OK);
  if (st) {
    fprintf(stderr, "%s\n", tq_last_error());
    return;
  }
  st = tq_dataset_load(&te, "fashion-mnist:" FMNIST_DIR, 0, TQ_SCALE_UNIT);
  double t2 = tq_now_seconds();
  CHECK(st == TQ_OK);
  if (st) return;
  printf("fashion-mnist load: train %.3f s, test %.3f s\n", t1 - t0, t2 - t1);

  CHECK_EQ_INT(tr.n, 60000);
  CHECK_EQ_INT(te.n, 10000);
  CHECK(tr.h == 28 && tr.w == 28 && tr.c == 1 && te.h == 28 && te.w == 28 && te.c == 1);
  CHECK_EQ_INT(tr.classes, 10);
  CHECK_EQ_INT(te.classes, 10);
  int hist_tr[10] = {0}, hist_te[10] = {0}, bad = 0;
  for (int i = 0; i < tr.n; i++) {
    if (tr.y[i] < 0 || tr.y[i] > 9) bad++;
    else hist_tr[tr.y[i]]++;
  }
  for (int i = 0; i < te.n; i++) {
    if (te.y[i] < 0 || te.y[i] > 9) bad++;
    else hist_te[te.y[i]]++;
  }
  CHECK_EQ_INT(bad, 0);
  for (int k = 0; k < 10; k++) {
    CHECK_EQ_INT(hist_tr[k], 6000);
    CHECK_EQ_INT(hist_te[k], 1000);
  }
  static const int first_tr[12] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9};
  static const int first_te[12] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5};
  for (int i = 0; i < 12; i++) {
    CHECK_EQ_INT(tr.y[i], first_tr[i]);
    CHECK_EQ_INT(te.y[i], first_te[i]);
  }
  size_t tot = (size_t)tr.n * 784;
  float lo = 1e9f, hi = -1e9f;
  double sum = 0;
  for (size_t i = 0; i < tot; i++) {
    lo = tr.x[i] < lo ? tr.x[i] : lo;
    hi = tr.x[i] > hi ? tr.x[i] : hi;
    sum += tr.x[i];
  }
  CHECK_EQ_INT(lo, 0);
  CHECK_EQ_INT(hi, 1);
  CHECK_NEAR(sum / (double)tot, 0.2860405969887955, 1e-6); /* python: 3431114169 / 47040000 / 255 */
  CHECK_NEAR(tr.x[14 * 28 + 14], 217.0 / 255.0, 1e-7);     /* image 0, row 14, col 14 */
  CHECK_NEAR(te.x[14 * 28 + 14], 110.0 / 255.0, 1e-7);

  /* RAW and CENTERED scalings of the test split agree with UNIT value by value. */
  CHECK(tq_dataset_load(&raw, "fashion-mnist", 0, TQ_SCALE_RAW) == TQ_OK);
  CHECK(tq_dataset_load(&cen, "fashion-mnist", 0, TQ_SCALE_CENTERED) == TQ_OK);
  if (raw.x && cen.x) {
    double rsum = 0, img0 = 0, last = 0;
    int mism = 0;
    for (size_t i = 0; i < (size_t)te.n * 784; i++) {
      float v = raw.x[i];
      rsum += v;
      if (v != floorf(v) || v < 0 || v > 255) mism++;
      if (te.x[i] != v / 255.0f) mism++;
      if (cen.x[i] != v / 127.5f - 1.0f) mism++;
      if (i < 784) img0 += v;
      if (i >= (size_t)(te.n - 1) * 784) last += v;
    }
    CHECK_EQ_INT(mism, 0);
    CHECK_EQ_INT((long long)rsum, 573469082LL); /* python */
    CHECK_EQ_INT((long long)img0, 33456);
    CHECK_EQ_INT((long long)last, 24390);
  }
  tq_dataset_free(&raw);
  tq_dataset_free(&cen);
  tq_dataset_free(&tr);
  tq_dataset_free(&te);
  CHECK(tr.x == NULL && tr.y == NULL && tr.n == 0);
}

/* ------------------------------------------------------------------ IDX fixtures */
static unsigned char fx_px[3 * 4 * 2];
static unsigned char fx_lab[3] = {7, 0, 9};

static void write_mnist_pair(const char *dir, const char *split, int gz, uint32_t imagic,
                             uint32_t n_img, size_t npx, uint32_t lmagic, uint32_t n_lab,
                             size_t nlab) {
  unsigned char buf[256];
  char path[512];
  size_t len = idx3_bytes(buf, imagic, n_img, 4, 2, fx_px, npx);
  snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte%s", dir, split, gz ? ".gz" : "");
  write_bytes(path, buf, len, gz);
  len = idx1_bytes(buf, lmagic, n_lab, fx_lab, nlab);
  snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte%s", dir, split, gz ? ".gz" : "");
  write_bytes(path, buf, len, gz);
}

static void check_fixture(const tq_dataset *d, float scale, float offset) {
  CHECK_EQ_INT(d->n, 3);
  CHECK(d->h == 4 && d->w == 2 && d->c == 1 && d->classes == 10);
  for (int i = 0; i < 24; i++) CHECK_NEAR(d->x[i], fx_px[i] * scale + offset, 1e-6);
  for (int i = 0; i < 3; i++) CHECK_EQ_INT(d->y[i], fx_lab[i]);
}

static void test_idx_fixtures(void) {
  for (int i = 0; i < 24; i++) fx_px[i] = (unsigned char)(i * 11);
  char dir[512], spec[600], path[600];
  tq_dataset d;

  /* plain files */
  make_dir(dir, sizeof dir, "plain");
  write_mnist_pair(dir, "train", 0, 0x803, 3, 24, 0x801, 3, 3);
  write_mnist_pair(dir, "t10k", 0, 0x803, 3, 24, 0x801, 3, 3);
  snprintf(spec, sizeof spec, "mnist:%s", dir);
  CHECK(tq_dataset_load(&d, spec, 1, TQ_SCALE_RAW) == TQ_OK);
  check_fixture(&d, 1.0f, 0.0f);
  tq_dataset_free(&d);
  snprintf(spec, sizeof spec, "fashion-mnist:%s", dir);
  CHECK(tq_dataset_load(&d, spec, 0, TQ_SCALE_CENTERED) == TQ_OK);
  check_fixture(&d, 1.0f / 127.5f, -1.0f);
  tq_dataset_free(&d);

  /* gzip-compressed, written with gzopen; also preferred over a plain file beside it */
  make_dir(dir, sizeof dir, "gz");
  write_mnist_pair(dir, "train", 1, 0x803, 3, 24, 0x801, 3, 3);
  snprintf(spec, sizeof spec, "mnist:%s", dir);
  CHECK(tq_dataset_load(&d, spec, 1, TQ_SCALE_UNIT) == TQ_OK);
  check_fixture(&d, 1.0f / 255.0f, 0.0f);
  tq_dataset_free(&d);
  {
    unsigned char buf[64];
    size_t len = idx3_bytes(buf, 0x803, 1, 1, 1, fx_px, 1); /* a different plain file: ignored */
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    write_bytes(path, buf, len, 0);
    CHECK(tq_dataset_load(&d, spec, 1, TQ_SCALE_RAW) == TQ_OK);
    check_fixture(&d, 1.0f, 0.0f);
    tq_dataset_free(&d);
  }

  /* the "train-images.idx3-ubyte" spelling */
  make_dir(dir, sizeof dir, "dotted");
  {
    unsigned char buf[64];
    size_t len = idx3_bytes(buf, 0x803, 3, 4, 2, fx_px, 24);
    snprintf(path, sizeof path, "%s/train-images.idx3-ubyte", dir);
    write_bytes(path, buf, len, 0);
    len = idx1_bytes(buf, 0x801, 3, fx_lab, 3);
    snprintf(path, sizeof path, "%s/train-labels.idx1-ubyte", dir);
    write_bytes(path, buf, len, 0);
    snprintf(spec, sizeof spec, "mnist:%s", dir);
    CHECK(tq_dataset_load(&d, spec, 1, TQ_SCALE_RAW) == TQ_OK);
    check_fixture(&d, 1.0f, 0.0f);
    tq_dataset_free(&d);
  }

  /* unlabelled load and inferred class count through the IDX loader */
  snprintf(path, sizeof path, "%s/train-images.idx3-ubyte", dir);
  CHECK(tq_dataset_load_idx(&d, path, NULL, 0, TQ_SCALE_RAW) == TQ_OK);
  CHECK(d.n == 3 && d.y == NULL && d.classes == 0 && d.x[23] == fx_px[23]);
  tq_dataset_free(&d);
  {
    char lpath[600];
    snprintf(lpath, sizeof lpath, "%s/train-labels.idx1-ubyte", dir);
    CHECK(tq_dataset_load_idx(&d, path, lpath, 0, TQ_SCALE_RAW) == TQ_OK);
    CHECK_EQ_INT(d.classes, 10); /* max label 9 + 1 */
    tq_dataset_free(&d);
  }

  /* ---- errors: each names the file and the problem */
  printf("IDX errors:\n");
  static const struct {
    const char *dir, *split; /* a fresh fixture directory; the split written and loaded */
    int gz;
    uint32_t imagic, n_img;
    size_t npx;
    uint32_t lmagic, n_lab;
    size_t nlab;
    const char *file, *problem; /* the file of dir the error names, and what it says */
  } broken[] = {
      {"trunc", "train", 0, 0x803, 3, 10, 0x801, 3, 3, "train-images-idx3-ubyte",
       ": truncated: expected 24 image bytes, got 10"},
      {"trunc_gz", "train", 1, 0x803, 3, 10, 0x801, 3, 3, "train-images-idx3-ubyte.gz",
       ": truncated: expected 24 image bytes, got 10"},
      {"magic", "train", 0, 0x801, 3, 24, 0x801, 3, 3, "train-images-idx3-ubyte", /* labels magic on images */
       ": bad IDX magic 0x00000801 (expected 0x00000803)"},
      {"magic_gz", "t10k", 1, 0x803, 3, 24, 0x08030000, 3, 3, "t10k-labels-idx1-ubyte.gz",
       ": bad IDX magic 0x08030000 (expected 0x00000801)"},
      {"counts", "train", 0, 0x803, 2, 16, 0x801, 3, 3, "train-labels-idx1-ubyte",
       ": label count 3 does not match image count 2"},
      {"trailing", "train", 0, 0x803, 2, 24, 0x801, 2, 2, "train-images-idx3-ubyte",
       ": 8 trailing bytes after 16 image bytes"},
      {"zero", "train", 0, 0x803, 0, 0, 0x801, 0, 0, "train-images-idx3-ubyte", ": IDX dimension 0 is 0"},
  };
  for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
    make_dir(dir, sizeof dir, broken[i].dir);
    write_mnist_pair(dir, broken[i].split, broken[i].gz, broken[i].imagic, broken[i].n_img, broken[i].npx,
                     broken[i].lmagic, broken[i].n_lab, broken[i].nlab);
    snprintf(spec, sizeof spec, "mnist:%s", dir);
    snprintf(path, sizeof path, "%s/%s", dir, broken[i].file);
    CHECK_ERR(tq_dataset_load(&d, spec, !strcmp(broken[i].split, "train"), TQ_SCALE_UNIT), TQ_ERR_FORMAT, path,
              broken[i].problem);
    CHECK(d.x == NULL && d.y == NULL && d.n == 0);
  }

  make_dir(dir, sizeof dir, "header");
  {
    unsigned char buf[64];
    size_t len = idx3_bytes(buf, 0x803, 3, 4, 2, fx_px, 0);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    write_mnist_pair(dir, "train", 0, 0x803, 3, 24, 0x801, 3, 3); /* labels: fine */
    write_bytes(path, buf, len - 5, 0);
    snprintf(spec, sizeof spec, "mnist:%s", dir);
    CHECK_ERR(tq_dataset_load(&d, spec, 1, TQ_SCALE_UNIT), TQ_ERR_FORMAT, path,
              ": truncated: expected 16 IDX header bytes, got 11");
    write_bytes(path, buf, 0, 0);
    CHECK_ERR(tq_dataset_load(&d, spec, 1, TQ_SCALE_UNIT), TQ_ERR_FORMAT, path,
              ": truncated: expected 16 IDX header bytes, got 0");
  }

  make_dir(dir, sizeof dir, "label_range");
  fx_lab[1] = 12;
  write_mnist_pair(dir, "train", 0, 0x803, 3, 24, 0x801, 3, 3);
  fx_lab[1] = 0;
  snprintf(spec, sizeof spec, "mnist:%s", dir);
  snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
  CHECK_ERR(tq_dataset_load(&d, spec, 1, TQ_SCALE_UNIT), TQ_ERR_FORMAT, path,
            ": label 12 out of range (expected 0..9) at index 1");

  /* corrupt gzip data: a flipped byte in the deflate stream or the CRC */
  make_dir(dir, sizeof dir, "corrupt_gz");
  write_mnist_pair(dir, "train", 1, 0x803, 3, 24, 0x801, 3, 3);
  snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
  {
    unsigned char *gzb;
    size_t gzn;
    CHECK(tq_read_file(path, &gzb, &gzn) == TQ_OK);
    if (gzb) {
      gzb[gzn - 6] ^= 0x55; /* inside the CRC-32 trailer */
      write_bytes(path, gzb, gzn, 0);
      snprintf(spec, sizeof spec, "mnist:%s", dir);
      CHECK_ERR(tq_dataset_load(&d, spec, 1, TQ_SCALE_UNIT), TQ_ERR_FORMAT, path,
                ": read error: incorrect data check");
      gzb[gzn - 6] ^= 0x55;
      write_bytes(path, gzb, gzn - 3, 0); /* trailer cut short: data complete, stream not */
      CHECK_ERR(tq_dataset_load(&d, spec, 1, TQ_SCALE_UNIT), TQ_ERR_FORMAT, path,
                ": truncated gzip stream (unexpected end of file)");
      free(gzb);
    }
  }

  /* missing files and directories */
  make_dir(dir, sizeof dir, "nolabels");
  write_mnist_pair(dir, "train", 0, 0x803, 3, 24, 0x801, 3, 3);
  snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
  remove(path);
  snprintf(spec, sizeof spec, "mnist:%s", dir);
  CHECK_ERR(tq_dataset_load(&d, spec, 1, TQ_SCALE_UNIT), TQ_ERR_IO,
            "/nolabels/train-labels-idx1-ubyte.gz: cannot open: No such file or directory",
            "(nor train-labels-idx1-ubyte)");
  CHECK_ERR(tq_dataset_load(&d, "mnist:/nonexistent/dir", 0, TQ_SCALE_UNIT), TQ_ERR_IO,
            "/nonexistent/dir/t10k-images-idx3-ubyte.gz: ",
            "cannot open: No such file or directory");
  CHECK_ERR(tq_dataset_load_idx(&d, "/nonexistent/x.idx", NULL, 10, TQ_SCALE_UNIT), TQ_ERR_IO,
            "/nonexistent/x.idx: cannot open: No such file or directory", "");

  /* specs */
  CHECK_ERR(tq_dataset_load(&d, "foo", 1, TQ_SCALE_UNIT), TQ_ERR_ARG,
            "unknown dataset 'foo' (expected fashion-mnist[:DIR], mnist:DIR, cifar10:DIR", "");
  /* noise:HxWxC[:CLASSES] */
  CHECK(tq_dataset_load(&d, "noise:49x10x1:12", 1, TQ_SCALE_UNIT) == TQ_OK);
  CHECK(d.n == 1000 && d.h == 49 && d.w == 10 && d.c == 1 && d.classes == 12);
  {
    double mean = 0, var = 0;
    for (int i = 0; i < d.n * 490; i++) mean += d.x[i];
    mean /= d.n * 490.0;
    for (int i = 0; i < d.n * 490; i++) var += (d.x[i] - mean) * (d.x[i] - mean);
    var /= d.n * 490.0;
    CHECK(fabs(mean) < 0.01 && fabs(var - 1) < 0.02);
    for (int i = 0; i < d.n; i++) CHECK(d.y[i] >= 0 && d.y[i] < 12);
  }
  tq_dataset_free(&d);
  CHECK_ERR(tq_dataset_load(&d, "noise:49x10", 1, TQ_SCALE_UNIT), TQ_ERR_ARG,
            "expected noise:HxWxC[:CLASSES]", "");
  CHECK_ERR(tq_dataset_load(&d, "cifar100:/x", 1, TQ_SCALE_UNIT), TQ_ERR_ARG,
            "unknown dataset 'cifar100'", "");
  CHECK_ERR(tq_dataset_load(&d, "mnist", 1, TQ_SCALE_UNIT), TQ_ERR_ARG,
            "dataset 'mnist' needs a directory (mnist:DIR)", "");
  CHECK_ERR(tq_dataset_load(&d, "cifar10:", 1, TQ_SCALE_UNIT), TQ_ERR_ARG,
            "dataset 'cifar10:': empty directory after ':'", "");
  CHECK_ERR(tq_dataset_load(&d, "fashion-mnist", 1, (tq_input_scaling)7), TQ_ERR_ARG,
            "bad input scaling 7", "");

  /* the registry: every source is found by its name and by a spec, listed in the error of an
   * unknown one, and one that needs a directory says so */
  CHECK(tq_dataset_source_count() >= 4 && !tq_dataset_source_get(tq_dataset_source_count()));
  CHECK(!tq_dataset_source_find("fashion") && !tq_dataset_source_find("mnist-x:/d"));
  char known[512];
  tq_dataset_source_list(known, sizeof known, ", ");
  for (int i = 0; i < tq_dataset_source_count(); i++) {
    const tq_dataset_source *src = tq_dataset_source_get(i);
    CHECK(src->name && src->spec && src->help && src->load && tq_dataset_source_find(src->name) == src);
    snprintf(spec, sizeof spec, "%s:/nowhere", src->name);
    CHECK(tq_dataset_source_find(spec) == src);
    CHECK(strstr(known, src->spec) != NULL);
    if (src->needs_dir && !src->default_dir) {
      char want[128];
      snprintf(want, sizeof want, "dataset '%s' needs a directory (%s)", src->name, src->spec);
      CHECK_ERR(tq_dataset_load(&d, src->name, 1, TQ_SCALE_UNIT), TQ_ERR_ARG, want, "");
    }
  }
  CHECK_ERR(tq_dataset_load(&d, "imagenet:/x", 1, TQ_SCALE_UNIT), TQ_ERR_ARG, "unknown dataset 'imagenet' (expected ",
            known);

  tq_input_scaling s;
  CHECK(tq_dataset_parse_scaling("unit", &s) == TQ_OK && s == TQ_SCALE_UNIT);
  CHECK(tq_dataset_parse_scaling("raw", &s) == TQ_OK && s == TQ_SCALE_RAW);
  CHECK(tq_dataset_parse_scaling("centered", &s) == TQ_OK && s == TQ_SCALE_CENTERED);
  CHECK_ERR(tq_dataset_parse_scaling("Unit", &s), TQ_ERR_ARG,
            "unknown input scaling 'Unit' (expected unit, raw, centered)", "");
  CHECK(strcmp(tq_dataset_scaling_name(TQ_SCALE_RAW), "raw") == 0);

  /* tq_read_file_gz round trip on gz and plain */
  {
    unsigned char src[1000], *got;
    size_t n;
    for (int i = 0; i < 1000; i++) src[i] = (unsigned char)(i * 37 + i / 7);
    snprintf(path, sizeof path, "%s/blob.gz", tmp_root);
    write_bytes(path, src, 1000, 1);
    CHECK(tq_read_file_gz(path, &got, &n, 0) == TQ_OK);
    CHECK(n == 1000 && got && memcmp(got, src, 1000) == 0);
    free(got);
    CHECK_ERR(tq_read_file_gz(path, &got, &n, 999), TQ_ERR_FORMAT, "blob.gz: larger than 999 bytes",
              "");
    CHECK(tq_read_file_gz(path, &got, &n, 1000) == TQ_OK && n == 1000);
    free(got);
    snprintf(path, sizeof path, "%s/blob", tmp_root);
    write_bytes(path, src, 1000, 0);
    CHECK(tq_read_file_gz(path, &got, &n, 0) == TQ_OK);
    CHECK(n == 1000 && got && memcmp(got, src, 1000) == 0);
    free(got);
  }
}

/* ------------------------------------------------------------------ CIFAR-10 fixtures */
static unsigned char cifar_value(int rec, int ch, int p) {
  return (unsigned char)((rec * 7 + ch * 85 + p * 3 + p / 32) & 0xFF);
}

/* A batch file of `count` records numbered from `first`; label = record % 10. */
static void write_cifar(const char *dir, const char *name, int first, int count, int gz) {
  size_t n = (size_t)count * 3073;
  unsigned char *buf = malloc(n);
  for (int r = 0; r < count; r++) {
    unsigned char *rec = buf + (size_t)r * 3073;
    rec[0] = (unsigned char)((first + r) % 10);
    for (int ch = 0; ch < 3; ch++)
      for (int p = 0; p < 1024; p++) rec[1 + ch * 1024 + p] = cifar_value(first + r, ch, p);
  }
  char path[600];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  write_bytes(path, buf, n, gz);
  free(buf);
}

static void write_cifar_set(const char *dir) {
  int first = 0;
  for (int b = 1; b <= 5; b++) {
    char name[32];
    snprintf(name, sizeof name, "data_batch_%d.bin", b);
    write_cifar(dir, name, first, b, b == 3); /* 1+2+3+4+5 = 15 records; batch 3 gzipped */
    first += b;
  }
  write_cifar(dir, "test_batch.bin", 100, 2, 0);
}

static int check_cifar(const tq_dataset *d, int first, int n, int unit) {
  int bad = 0;
  if (d->n != n || d->h != 32 || d->w != 32 || d->c != 3 || d->classes != 10) return 1;
  for (int i = 0; i < n; i++) {
    if (d->y[i] != (first + i) % 10) bad++;
    for (int row = 0; row < 32; row++)
      for (int col = 0; col < 32; col++)
        for (int ch = 0; ch < 3; ch++) {
          float got = d->x[(((size_t)i * 32 + row) * 32 + col) * 3 + ch]; /* NHWC */
          float v = (float)cifar_value(first + i, ch, row * 32 + col);
          float want = unit ? v / 255.0f : v;
          if (got != want) bad++;
        }
  }
  return bad;
}

static void test_cifar10(void) {
  char dir[512], spec[600], path[600];
  tq_dataset d;
  make_dir(dir, sizeof dir, "cifar");
  write_cifar_set(dir);
  snprintf(spec, sizeof spec, "cifar10:%s", dir);
  CHECK(tq_dataset_load(&d, spec, 1, TQ_SCALE_RAW) == TQ_OK);
  CHECK_EQ_INT(check_cifar(&d, 0, 15, 0), 0);
  /* spot checks written out by hand: record 0, pixel (row 0, col 1) = byte 1 + 1 (R), 1025 + 1 (G) */
  CHECK_EQ_INT(d.x[3], cifar_value(0, 0, 1));
  CHECK_EQ_INT(d.x[4], cifar_value(0, 1, 1));
  CHECK_EQ_INT(d.x[(size_t)14 * 3072 + (31 * 32 + 31) * 3 + 2], cifar_value(14, 2, 1023));
  tq_dataset_free(&d);
  CHECK(tq_dataset_load(&d, spec, 0, TQ_SCALE_UNIT) == TQ_OK);
  CHECK_EQ_INT(check_cifar(&d, 100, 2, 1), 0);
  tq_dataset_free(&d);

  /* the archive's own layout: DIR/cifar-10-batches-bin/ */
  make_dir(dir, sizeof dir, "cifar_archive/cifar-10-batches-bin");
  write_cifar_set(dir);
  snprintf(dir, sizeof dir, "%s/cifar_archive", tmp_root);
  CHECK(tq_dataset_load_cifar10(&d, dir, 1, TQ_SCALE_RAW) == TQ_OK);
  CHECK_EQ_INT(check_cifar(&d, 0, 15, 0), 0);
  tq_dataset_free(&d);

  printf("CIFAR-10 errors:\n");
  make_dir(dir, sizeof dir, "cifar_bad");
  write_cifar_set(dir);
  snprintf(spec, sizeof spec, "cifar10:%s", dir);
  {
    unsigned char junk[1000] = {0};
    snprintf(path, sizeof path, "%s/data_batch_3.bin", dir);
    write_bytes(path, junk, sizeof junk, 0);
    CHECK_ERR(tq_dataset_load(&d, spec, 1, TQ_SCALE_RAW), TQ_ERR_FORMAT, path,
              ": size 1000 is not a multiple of 3073 (the CIFAR-10 record size)");
    CHECK(d.x == NULL && d.n == 0);
    write_bytes(path, junk, 0, 0);
    CHECK_ERR(tq_dataset_load(&d, spec, 1, TQ_SCALE_RAW), TQ_ERR_FORMAT, path,
              ": empty (no CIFAR-10 records)");
    write_cifar(dir, "data_batch_3.bin", 3, 3, 0);
  }
  CHECK(tq_dataset_load(&d, spec, 1, TQ_SCALE_RAW) == TQ_OK); /* repaired */
  tq_dataset_free(&d);
  snprintf(path, sizeof path, "%s/data_batch_4.bin", dir);
  remove(path);
  CHECK_ERR(tq_dataset_load(&d, spec, 1, TQ_SCALE_RAW), TQ_ERR_IO, path,
            ": cannot open: No such file or directory");
  CHECK(tq_dataset_load(&d, spec, 0, TQ_SCALE_RAW) == TQ_OK); /* the test split is still there */
  tq_dataset_free(&d);
  {
    unsigned char *b;
    size_t n;
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    CHECK(tq_read_file(path, &b, &n) == TQ_OK);
    if (b) {
      b[3073] = 12; /* label of record 1 */
      write_bytes(path, b, n, 0);
      free(b);
    }
    CHECK_ERR(tq_dataset_load(&d, spec, 0, TQ_SCALE_RAW), TQ_ERR_FORMAT, path,
              ": record 1: label 12 out of range (expected 0..9)");
  }
  CHECK_ERR(tq_dataset_load(&d, "cifar10:/nonexistent", 0, TQ_SCALE_RAW), TQ_ERR_IO,
            "/nonexistent/test_batch.bin: cannot open: No such file or directory", "");
}

/* ------------------------------------------------------------------ slice / split / gather */
static tq_dataset make_seq(int n, int h, int w, int c) {
  tq_dataset d = {n, h, w, c, 3, NULL, NULL, 0};
  size_t ss = (size_t)h * w * c;
  d.x = tq_alloc_floats((size_t)n * ss);
  d.y = tq_alloc((size_t)n * sizeof(int));
  for (int i = 0; i < n; i++) {
    d.y[i] = i % 3;
    for (size_t k = 0; k < ss; k++) d.x[i * ss + k] = (float)(i * 100 + (int)k);
  }
  return d;
}

static void test_split_slice_gather(void) {
  tq_dataset d = make_seq(10, 2, 1, 1), a, b;
  CHECK(tq_dataset_slice(&a, &d, 3, 4) == TQ_OK);
  CHECK(a.n == 4 && a.h == 2 && a.w == 1 && a.c == 1 && a.classes == 3);
  for (int i = 0; i < 4; i++) {
    CHECK_EQ_INT(a.x[2 * i], (3 + i) * 100);
    CHECK_EQ_INT(a.x[2 * i + 1], (3 + i) * 100 + 1);
    CHECK_EQ_INT(a.y[i], (3 + i) % 3);
  }
  tq_dataset_free(&a);
  CHECK(tq_dataset_slice(&a, &d, 10, 0) == TQ_OK && a.n == 0);
  tq_dataset_free(&a);
  CHECK_ERR(tq_dataset_slice(&a, &d, 8, 3), TQ_ERR_ARG,
            "dataset slice [8, 8 + 3) out of range for 10 samples", "");
  CHECK_ERR(tq_dataset_slice(&a, &d, -1, 1), TQ_ERR_ARG, "out of range", "");

  /* Keras: split_at = int(n * (1 - f)); the tail is validation */
  CHECK(tq_dataset_split_tail(&a, &b, &d, 0.25) == TQ_OK);
  CHECK_EQ_INT(a.n, 7); /* int(7.5) */
  CHECK_EQ_INT(b.n, 3);
  CHECK_EQ_INT(a.x[0], 0);
  CHECK_EQ_INT(b.x[0], 700);
  CHECK_EQ_INT(b.x[5], 901);
  CHECK_EQ_INT(b.y[2], 0);
  tq_dataset_free(&a);
  tq_dataset_free(&b);
  CHECK(tq_dataset_split_tail(&a, &b, &d, 0.0) == TQ_OK && a.n == 10 && b.n == 0);
  tq_dataset_free(&a);
  tq_dataset_free(&b);
  CHECK_ERR(tq_dataset_split_tail(&a, &b, &d, 1.0), TQ_ERR_ARG,
            "validation split 1 is not in [0, 1)", "");
  CHECK_ERR(tq_dataset_split_tail(&a, &b, &d, 0.95), TQ_ERR_ARG,
            "validation split 0.95 of 10 samples leaves no training samples", "");
  {
    tq_dataset big = make_seq(60000, 1, 1, 1);
    CHECK(tq_dataset_split_tail(&a, &b, &big, 0.1) == TQ_OK);
    CHECK_EQ_INT(a.n, 54000); /* Python: int(60000 * (1 - 0.1)) == 54000 */
    CHECK_EQ_INT(b.n, 6000);
    CHECK_EQ_INT(b.x[0], 5400000);
    tq_dataset_free(&a);
    tq_dataset_free(&b);
    CHECK(tq_dataset_split_tail(&a, &b, &big, 0.2) == TQ_OK);
    CHECK_EQ_INT(a.n, 48000);
    tq_dataset_free(&a);
    tq_dataset_free(&b);
    tq_dataset_free(&big);
  }

  int idx[3] = {9, 0, 4}, y[3] = {-1, -1, -1};
  float x[6];
  tq_dataset_gather(x, y, &d, idx, 3);
  CHECK(x[0] == 900 && x[1] == 901 && x[2] == 0 && x[3] == 1 && x[4] == 400 && x[5] == 401);
  CHECK(y[0] == 0 && y[1] == 0 && y[2] == 1);
  tq_dataset_gather(x, NULL, &d, idx + 1, 1);
  CHECK(x[0] == 0 && x[1] == 1);
  tq_dataset_free(&d);
}

/* ------------------------------------------------------------------ augmentation */
/* Out-of-place reference: out[r][c] = in[r-dy][c-dx], then optional mirror. */
static void ref_transform(float *out, const float *in, int h, int w, int c, int dy, int dx,
                          int flip, tq_fill_mode fill) {
  for (int r = 0; r < h; r++)
    for (int col = 0; col < w; col++) {
      int sc = flip ? w - 1 - col : col;
      int yr = r - dy, xc = sc - dx;
      int inside = yr >= 0 && yr < h && xc >= 0 && xc < w;
      if (fill == TQ_FILL_NEAREST) {
        yr = yr < 0 ? 0 : yr >= h ? h - 1 : yr;
        xc = xc < 0 ? 0 : xc >= w ? w - 1 : xc;
        inside = 1;
      }
      for (int k = 0; k < c; k++)
        out[((size_t)r * w + col) * c + k] = inside ? in[((size_t)yr * w + xc) * c + k] : 0.0f;
    }
}

static void test_augment(void) {
  tq_augment a;
  char txt[64];
  CHECK(tq_augment_parse("shift=0.1,flip", &a) == TQ_OK);
  CHECK_NEAR(a.shift, 0.1, 1e-7);
  CHECK(a.hflip == 1 && a.fill == TQ_FILL_ZERO && tq_augment_active(&a));
  tq_augment_format(txt, sizeof txt, &a);
  CHECK(strcmp(txt, "shift=0.1,flip") == 0);
  CHECK(tq_augment_parse("hflip,fill=nearest,shift=0.125", &a) == TQ_OK);
  CHECK(a.hflip == 1 && a.fill == TQ_FILL_NEAREST && a.shift == 0.125f);
  tq_augment_format(txt, sizeof txt, &a);
  CHECK(strcmp(txt, "shift=0.125,flip,fill=nearest") == 0);
  CHECK(tq_augment_parse("none", &a) == TQ_OK && !tq_augment_active(&a));
  tq_augment_format(txt, sizeof txt, &a);
  CHECK(strcmp(txt, "none") == 0);
  CHECK(tq_augment_parse("", &a) == TQ_OK && a.shift == 0 && a.hflip == 0);
  CHECK(tq_augment_parse("flip", &a) == TQ_OK && a.shift == 0 && a.hflip == 1);
  printf("augment errors:\n");
  CHECK_ERR(tq_augment_parse("shift=1.5", &a), TQ_ERR_ARG,
            "augment 'shift=1.5': bad shift '1.5' (expected a fraction in [0, 1))", "");
  CHECK_ERR(tq_augment_parse("shift=abc", &a), TQ_ERR_ARG, "bad shift 'abc'", "");
  CHECK_ERR(tq_augment_parse("shift=0.1x", &a), TQ_ERR_ARG, "bad shift '0.1x'", "");
  CHECK_ERR(tq_augment_parse("shift=0.1,rot=3", &a), TQ_ERR_ARG,
            "augment 'shift=0.1,rot=3': unknown option 'rot=3' "
            "(expected rotate=DEG, shift=F, zoom=F, flip, fill=zero|nearest, vww, or none)",
            "");
  CHECK_ERR(tq_augment_parse("flip,flip", &a), TQ_ERR_ARG, "option 'flip' repeated", "");
  CHECK_ERR(tq_augment_parse("shift=0.1,,flip", &a), TQ_ERR_ARG, "empty option", "");
  CHECK_ERR(tq_augment_parse("none,flip", &a), TQ_ERR_ARG, "unknown option 'none'", "");
  CHECK_ERR(tq_augment_parse("fill=reflect", &a), TQ_ERR_ARG, "unknown option 'fill=reflect'", "");
  CHECK(a.shift == 0 && a.hflip == 0); /* failed parse leaves "none" */

  enum { H = 5, W = 6, C = 2, S = H * W * C };
  float img[S], orig[S], want[S];
  for (int i = 0; i < S; i++) orig[i] = (float)(i + 1);

  /* flip: by hand on one row, and twice = identity */
  memcpy(img, orig, sizeof img);
  tq_image_hflip(img, H, W, C);
  CHECK(img[0] == orig[(W - 1) * C] && img[1] == orig[(W - 1) * C + 1]);
  CHECK(img[(W - 1) * C] == orig[0] && img[W * C] == orig[W * C + (W - 1) * C]);
  tq_image_hflip(img, H, W, C);
  CHECK(memcmp(img, orig, sizeof img) == 0);
  {
    float odd[3] = {1, 2, 3}; /* odd width: the middle stays */
    tq_image_hflip(odd, 1, 3, 1);
    CHECK(odd[0] == 3 && odd[1] == 2 && odd[2] == 1);
  }

  /* shift by hand: dy=1, dx=-2, zero fill: row 0 and the two right columns become 0 */
  memcpy(img, orig, sizeof img);
  tq_image_shift(img, H, W, C, 1, -2, TQ_FILL_ZERO);
  for (int r = 0; r < H; r++)
    for (int col = 0; col < W; col++)
      for (int k = 0; k < C; k++) {
        float got = img[(r * W + col) * C + k];
        float exp = (r == 0 || col >= W - 2) ? 0.0f : orig[((r - 1) * W + col + 2) * C + k];
        CHECK_EQ_INT(got, exp);
      }
  /* every shift, both fills, against the out-of-place reference */
  int mism = 0;
  for (int fill = 0; fill < 2; fill++)
    for (int dy = -H - 1; dy <= H + 1; dy++)
      for (int dx = -W - 1; dx <= W + 1; dx++) {
        memcpy(img, orig, sizeof img);
        tq_image_shift(img, H, W, C, dy, dx, (tq_fill_mode)fill);
        ref_transform(want, orig, H, W, C, dy, dx, 0, (tq_fill_mode)fill);
        if (memcmp(img, want, sizeof img) != 0) mism++;
      }
  CHECK_EQ_INT(mism, 0);
  memcpy(img, orig, sizeof img);
  tq_image_shift(img, H, W, C, 0, 0, TQ_FILL_ZERO);
  CHECK(memcmp(img, orig, sizeof img) == 0);

  /* batches: shift=0 without flip leaves data unchanged and draws nothing */
  enum { N = 400, BH = 10, BW = 8, BC = 3, BS = BH * BW * BC };
  float *x = malloc(sizeof(float) * N * BS), *x2 = malloc(sizeof(float) * N * BS);
  float *base = malloc(sizeof(float) * BS);
  for (int i = 0; i < BS; i++) base[i] = (float)(i + 1);
  for (int i = 0; i < N; i++) memcpy(x + (size_t)i * BS, base, sizeof(float) * BS);
  tq_rng rng, rng0;
  tq_rng_seed(&rng, 42);
  rng0 = rng;
  tq_augment off = {0.0f, 0, TQ_FILL_ZERO, 0.0f, 0.0f};
  tq_augment_batch(x, N, BH, BW, BC, &off, &rng);
  mism = 0;
  for (int i = 0; i < N; i++) mism += memcmp(x + (size_t)i * BS, base, sizeof(float) * BS) != 0;
  CHECK_EQ_INT(mism, 0);
  CHECK(memcmp(&rng, &rng0, sizeof rng) == 0);

  /* shift=0.25, flip: every sample is one of the allowed transforms of the input; the draws cover
   * the range; flips happen about half the time; same seed -> same batch, other seed -> different */
  tq_augment aug = {0.25f, 1, TQ_FILL_ZERO, 0.0f, 0.0f};
  tq_rng_seed(&rng, 7);
  tq_augment_batch(x, N, BH, BW, BC, &aug, &rng);
  int flips = 0, unmatched = 0, seen_dy[7] = {0}, seen_dx[7] = {0};
  float cand[BS];
  for (int i = 0; i < N; i++) {
    int found = 0;
    for (int dy = -3; dy <= 3 && !found; dy++)
      for (int dx = -3; dx <= 3 && !found; dx++)
        for (int f = 0; f < 2 && !found; f++) {
          ref_transform(cand, base, BH, BW, BC, dy, dx, f, TQ_FILL_ZERO);
          if (memcmp(cand, x + (size_t)i * BS, sizeof cand) == 0) {
            found = 1;
            flips += f;
            seen_dy[dy + 3]++;
            seen_dx[dx + 3]++;
          }
        }
    if (!found) unmatched++;
  }
  CHECK_EQ_INT(unmatched, 0);
  CHECK(flips > N * 0.4 && flips < N * 0.6);
  /* |dy| <= round(0.25 * 10) and |dx| <= round(0.25 * 8) */
  CHECK(seen_dy[0] == 0 && seen_dy[6] == 0 && seen_dx[0] == 0 && seen_dx[6] == 0);
  CHECK(seen_dy[1] > 0 && seen_dy[5] > 0 && seen_dx[1] > 0 && seen_dx[5] > 0 && seen_dx[3] > 0);
  CHECK(seen_dx[1] < seen_dx[3]); /* the end values are rounded from a half-width interval */

  for (int i = 0; i < N; i++) memcpy(x2 + (size_t)i * BS, base, sizeof(float) * BS);
  tq_rng_seed(&rng, 7);
  tq_augment_batch(x2, N, BH, BW, BC, &aug, &rng);
  CHECK(memcmp(x, x2, sizeof(float) * N * BS) == 0);
  for (int i = 0; i < N; i++) memcpy(x2 + (size_t)i * BS, base, sizeof(float) * BS);
  tq_rng_seed(&rng, 8);
  tq_augment_batch(x2, N, BH, BW, BC, &aug, &rng);
  CHECK(memcmp(x, x2, sizeof(float) * N * BS) != 0);

  /* nearest fill: the edge pixel repeats */
  tq_augment near = {0.25f, 0, TQ_FILL_NEAREST, 0.0f, 0.0f};
  for (int i = 0; i < N; i++) memcpy(x2 + (size_t)i * BS, base, sizeof(float) * BS);
  tq_rng_seed(&rng, 9);
  tq_augment_batch(x2, N, BH, BW, BC, &near, &rng);
  int zeros = 0;
  for (size_t i = 0; i < (size_t)N * BS; i++) zeros += x2[i] == 0.0f;
  CHECK_EQ_INT(zeros, 0);
  free(x);
  free(x2);
  free(base);
}

int main(void) {
  snprintf(tmp_root, sizeof tmp_root, "/tmp/tq_test_data_XXXXXX");
  if (!mkdtemp(tmp_root)) {
    perror("mkdtemp");
    return 1;
  }
  test_fashion_mnist();
  test_idx_fixtures();
  test_cifar10();
  test_split_slice_gather();
  test_augment();
  nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  TEST_MAIN_END();
}
