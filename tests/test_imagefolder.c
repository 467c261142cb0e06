/* The imagefolder source (src/data/imagefolder.c, image_decode.c, image_resize.c, image_cache.c)
 * on folders this test writes (tq_image_write_png, libjpeg), its refusals of bad files, and the affine augmentation of
 * src/data/augment.c (rotation, zoom, the vww preset). */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>

#include "tinyq/data.h"
#include "tq_test.h"

static char tmp_root[256];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

#define CHECK_ERR(call, code, needle1, needle2)                                                \
  do {                                                                                         \
    tq_status st_ = (call);                                                                    \
    const char *m_ = tq_last_error();                                                          \
    if (st_ != (code) || !contains(m_, needle1) || !contains(m_, needle2) || strchr(m_, '\n')) { \
      fprintf(stderr, "%s:%d: expected status %d with '%s' and '%s', got %d: %s\n", __FILE__, \
              __LINE__, (int)(code), needle1, needle2, (int)st_, m_);                          \
      tq_test_failures++;                                                                      \
    } else {                                                                                   \
      printf("  error ok: %s\n", m_);                                                          \
    }                                                                                          \
  } while (0)

static void path_of(char *out, size_t cap, const char *dir, const char *rel) {
  snprintf(out, cap, "%s/%s/%s", tmp_root, dir, rel);
}

static void write_raw(const char *dir, const char *rel, const void *data, size_t n) {
  char path[1024];
  path_of(path, sizeof path, dir, rel);
  char *slash = strrchr(path, '/');
  *slash = 0;
  CHECK(tq_mkdirs(path) == TQ_OK);
  *slash = '/';
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f) return;
  if (n) CHECK(fwrite(data, 1, n, f) == n);
  fclose(f);
}

/* A w x h RGB image whose every pixel is (v, v/2, 255-v) plus the pixel's position. */
static void image_pixels(unsigned char *px, int w, int h, int v) {
  for (int i = 0; i < w * h; i++) {
    px[3 * i + 0] = (unsigned char)(v + i);
    px[3 * i + 1] = (unsigned char)(v / 2);
    px[3 * i + 2] = (unsigned char)(255 - v);
  }
}

static int png_file(const char *path, int w, int h, const unsigned char *px) {
  return tq_image_write_png(path, px, h, w) == TQ_OK;
}

static int jpeg_file(const char *path, int w, int h, const unsigned char *px) {
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, f);
  c.image_width = (JDIMENSION)w;
  c.image_height = (JDIMENSION)h;
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 90, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = (JSAMPROW)px + (size_t)c.next_scanline * w * 3;
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  return fclose(f) == 0;
}

static void write_png(const char *dir, const char *rel, int w, int h, int v) {
  unsigned char px[64 * 64 * 3];
  image_pixels(px, w, h, v);
  char path[1024];
  write_raw(dir, rel, "", 0); /* the folders */
  path_of(path, sizeof path, dir, rel);
  CHECK(png_file(path, w, h, px));
}

static void write_jpg(const char *dir, const char *rel, int w, int h, int v) {
  unsigned char px[64 * 64 * 3];
  image_pixels(px, w, h, v);
  char path[1024];
  write_raw(dir, rel, "", 0);
  path_of(path, sizeof path, dir, rel);
  CHECK(jpeg_file(path, w, h, px));
}

static unsigned char *file_bytes(const char *dir, const char *rel, size_t *n) {
  char path[1024];
  path_of(path, sizeof path, dir, rel);
  unsigned char *b = NULL;
  CHECK(tq_read_file(path, &b, n) == TQ_OK);
  return b;
}

static void spec_of(char *spec, size_t cap, const char *dir, const char *opts) {
  snprintf(spec, cap, "imagefolder:%s/%s%s", tmp_root, dir, opts);
}

/* train/ (3 + 2 images), val/ (1 + 1), test/ (1 + 1); sources of several sizes and both formats. */
static void make_split_folder(const char *d) {
  write_png(d, "train/person/a.png", 16, 16, 10);
  write_png(d, "train/person/b.png", 20, 12, 20);
  write_jpg(d, "train/person/c.jpg", 16, 16, 30);
  write_png(d, "train/non_person/a.png", 16, 16, 40);
  write_jpg(d, "train/non_person/b.jpeg", 32, 32, 50);
  write_png(d, "val/person/v.png", 16, 16, 60);
  write_png(d, "val/non_person/v.png", 16, 16, 70);
  write_png(d, "test/person/t.png", 16, 16, 80);
  write_png(d, "test/non_person/t.png", 16, 16, 90);
}

static void test_split_layout(void) {
  make_split_folder("split");
  char spec[512];
  spec_of(spec, sizeof spec, "split", ":16x16:nocache");
  tq_dataset d, tr, va;
  CHECK(tq_dataset_load(&d, spec, 1, TQ_SCALE_RAW) == TQ_OK);
  CHECK_EQ_INT(d.n, 7);
  CHECK(d.h == 16 && d.w == 16 && d.c == 3 && d.classes == 2);
  CHECK_EQ_INT(d.val_n, 2);
  int count[2] = {0, 0};
  for (int i = 0; i < d.n; i++) count[d.y[i]]++;
  CHECK(count[0] == 3 && count[1] == 4); /* non_person = 0 (2 + 1), person = 1 (3 + 1) */
  /* The val/ images are last, in class order; their pixels are exact (16x16 PNG, no resize). */
  CHECK(d.y[5] == 0 && d.y[6] == 1);
  CHECK(d.x[5 * 768 + 0] == 70.0f && d.x[5 * 768 + 2] == 185.0f && d.x[6 * 768 + 3] == 61.0f);
  /* The source's own validation split wins over the fraction. */
  CHECK(tq_dataset_split_tail(&tr, &va, &d, 0.5) == TQ_OK);
  CHECK(tr.n == 5 && va.n == 2 && tr.val_n == 0 && va.y[0] == 0 && va.y[1] == 1);
  tq_dataset_free(&tr);
  tq_dataset_free(&va);
  tq_dataset_free(&d);
  CHECK(tq_dataset_load(&d, spec, 0, TQ_SCALE_UNIT) == TQ_OK);
  CHECK(d.n == 2 && d.val_n == 0 && d.y[0] == 0 && d.y[1] == 1);
  CHECK_NEAR(d.x[0], 90.0 / 255.0, 1e-7);
  tq_dataset_free(&d);
  /* Default size 96x96: enlarged; a flat colour stays that colour. */
  unsigned char flat[8 * 8 * 3];
  for (int i = 0; i < 8 * 8; i++) flat[3 * i] = 200, flat[3 * i + 1] = 100, flat[3 * i + 2] = 7;
  char path[1024];
  path_of(path, sizeof path, "split", "test/person/t.png");
  CHECK(png_file(path, 8, 8, flat));
  spec_of(spec, sizeof spec, "split", ":nocache");
  CHECK(tq_dataset_load(&d, spec, 0, TQ_SCALE_RAW) == TQ_OK);
  CHECK(d.h == 96 && d.w == 96);
  int exact = 1;
  for (int i = 0; i < 96 * 96; i++) exact &= d.x[96 * 96 * 3 + 3 * i] == 200.0f && d.x[96 * 96 * 3 + 3 * i + 2] == 7.0f;
  CHECK(exact);
  tq_dataset_free(&d);
}

static void test_cache(void) {
  make_split_folder("cached");
  char spec[512], cache[1024];
  spec_of(spec, sizeof spec, "cached", ":16x16");
  path_of(cache, sizeof cache, "cached", ".tinyq-cache-train-16x16");
  tq_dataset a, b;
  CHECK(tq_dataset_load(&a, spec, 1, TQ_SCALE_RAW) == TQ_OK);
  CHECK(access(cache, F_OK) == 0);
  CHECK(tq_dataset_load(&b, spec, 1, TQ_SCALE_RAW) == TQ_OK); /* from the cache */
  CHECK(a.n == b.n && a.val_n == b.val_n && !memcmp(a.y, b.y, sizeof(int) * (size_t)a.n) &&
        !memcmp(a.x, b.x, sizeof(float) * (size_t)a.n * 768));
  tq_dataset_free(&b);
  /* A changed file (other content, other size and time) is a new key: decoded again. */
  write_png("cached", "val/person/v.png", 16, 16, 99);
  CHECK(tq_dataset_load(&b, spec, 1, TQ_SCALE_RAW) == TQ_OK);
  CHECK(b.n == a.n && b.x[6 * 768] == 99.0f && a.x[6 * 768] == 60.0f);
  tq_dataset_free(&b);
  /* A damaged cache is ignored. */
  write_raw("cached", ".tinyq-cache-train-16x16", "TQIMGC02garbage", 15);
  CHECK(tq_dataset_load(&b, spec, 1, TQ_SCALE_RAW) == TQ_OK);
  CHECK(b.n == a.n && b.x[6 * 768] == 99.0f);
  tq_dataset_free(&b);
  tq_dataset_free(&a);
}

static void test_flat_layout(void) {
  char rel[64];
  for (int i = 0; i < 40; i++) {
    snprintf(rel, sizeof rel, "%s/img%02d.png", i % 2 ? "cat" : "dog", i);
    write_png("flat", rel, 8, 8, i);
  }
  char spec[512];
  spec_of(spec, sizeof spec, "flat", ":8x8:nocache");
  tq_dataset tr, te;
  CHECK(tq_dataset_load(&tr, spec, 1, TQ_SCALE_RAW) == TQ_OK);
  CHECK(tq_dataset_load(&te, spec, 0, TQ_SCALE_RAW) == TQ_OK);
  CHECK(tr.n + te.n == 40 && te.n > 0 && te.n < 15 && tr.classes == 2 && tr.val_n == 0);
  /* Disjoint: each image's first red value (its index) is in one split only. */
  int seen[40] = {0};
  for (int i = 0; i < tr.n; i++) seen[(int)tr.x[(size_t)i * 192]]++;
  for (int i = 0; i < te.n; i++) seen[(int)te.x[(size_t)i * 192]]++;
  int once = 1;
  for (int i = 0; i < 40; i++) once &= seen[i] == 1;
  CHECK(once);
  /* Training order is shuffled (not all of class 0 first), the same on every load. */
  int sorted = 1;
  for (int i = 1; i < tr.n; i++) sorted &= tr.y[i - 1] <= tr.y[i];
  CHECK(!sorted);
  tq_dataset again;
  CHECK(tq_dataset_load(&again, spec, 1, TQ_SCALE_RAW) == TQ_OK);
  CHECK(again.n == tr.n && !memcmp(again.y, tr.y, sizeof(int) * (size_t)tr.n));
  tq_dataset_free(&again);
  tq_dataset_free(&tr);
  tq_dataset_free(&te);
}

/* A PNG whose header claims 30000 x 30000 pixels: a signature and an IHDR chunk, no data. */
static void write_bomb(const char *dir, const char *rel) {
  unsigned char b[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  uint32_t side = 30000;
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < 4; i++) b[16 + 4 * k + i] = (unsigned char)(side >> (24 - 8 * i));
  b[24] = 8; /* bit depth */
  b[25] = 2; /* RGB */
  uint32_t crc = tq_crc32(0, b + 12, 17);
  for (int i = 0; i < 4; i++) b[29 + i] = (unsigned char)(crc >> (24 - 8 * i));
  write_raw(dir, rel, b, sizeof b);
}

static void test_bad_files(void) {
  static const struct {
    const char *name, *problem;
  } bad[] = {
      {"zero.png", "empty file (0 bytes)"},
      {"notes.txt", "not a JPEG or PNG image"},
      {"trunc.jpg", "corrupt JPEG (Premature end of JPEG file)"},
      {"corrupt.png", "corrupt PNG"},
      {"bomb.png", "30000x30000 pixels is over the limit"},
      {"badhead.jpg", "corrupt JPEG"},
      {"bomb.jpg", "JPEG of 60000x60000 pixels is over the limit"},
  };
  size_t n_jpg, n_png;
  write_jpg("badsrc", "x.jpg", 32, 32, 10);
  write_png("badsrc", "x.png", 32, 32, 10);
  unsigned char *jpg = file_bytes("badsrc", "x.jpg", &n_jpg), *png = file_bytes("badsrc", "x.png", &n_png);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char dir[64], rel[128], spec[512];
    snprintf(dir, sizeof dir, "bad%zu", i);
    write_png(dir, "train/a/ok1.png", 8, 8, 1);
    write_png(dir, "train/a/ok2.png", 8, 8, 2);
    write_png(dir, "train/b/ok.png", 8, 8, 3);
    write_png(dir, "test/a/ok.png", 8, 8, 4);
    snprintf(rel, sizeof rel, "train/a/%s", bad[i].name);
    if (i == 0) write_raw(dir, rel, "", 0);
    if (i == 1) write_raw(dir, rel, "hello, not a picture\n", 21);
    if (i == 2) write_raw(dir, rel, jpg, n_jpg * 2 / 3);
    if (i == 3) {
      unsigned char *c = malloc(n_png);
      memcpy(c, png, n_png);
      for (size_t k = 60; k < n_png - 20; k++) c[k] ^= 0x5a; /* the IDAT's zlib stream */
      write_raw(dir, rel, c, n_png);
      free(c);
    }
    if (i == 4) write_bomb(dir, rel);
    if (i == 5) write_raw(dir, rel, jpg, 40); /* cut inside the header segments */
    if (i == 6) { /* the start-of-frame segment's height and width patched to 60000 */
      unsigned char *c = malloc(n_jpg);
      memcpy(c, jpg, n_jpg);
      size_t sof = 2;
      while (sof + 9 < n_jpg && !(c[sof] == 0xff && c[sof + 1] == 0xc0)) sof++;
      CHECK(sof + 9 < n_jpg);
      c[sof + 5] = c[sof + 7] = 60000 >> 8;
      c[sof + 6] = c[sof + 8] = 60000 & 255;
      write_raw(dir, rel, c, n_jpg);
      free(c);
    }
    char path[1024];
    path_of(path, sizeof path, dir, rel);
    tq_dataset d;
    spec_of(spec, sizeof spec, dir, ":8x8:strict:nocache");
    CHECK_ERR(tq_dataset_load(&d, spec, 1, TQ_SCALE_RAW), TQ_ERR_FORMAT, path, bad[i].problem);
    CHECK(d.x == NULL && d.n == 0);
    spec_of(spec, sizeof spec, dir, ":8x8"); /* skipped (and the skip remembered by the cache) */
    for (int pass = 0; pass < 2; pass++) {
      CHECK(tq_dataset_load(&d, spec, 1, TQ_SCALE_RAW) == TQ_OK);
      CHECK_EQ_INT(d.n, 3);
      tq_dataset_free(&d);
    }
    spec_of(spec, sizeof spec, dir, ":8x8:strict");
    CHECK_ERR(tq_dataset_load(&d, spec, 1, TQ_SCALE_RAW), TQ_ERR_FORMAT, path, bad[i].problem);
  }
  free(jpg);
  free(png);
}

static void test_bad_folders(void) {
  char spec[512], path[1024];
  tq_dataset d;
  write_png("empty", "train/a/x.png", 8, 8, 1);
  path_of(path, sizeof path, "empty", "train/b");
  CHECK(tq_mkdirs(path) == TQ_OK);
  spec_of(spec, sizeof spec, "empty", ":8x8");
  CHECK_ERR(tq_dataset_load(&d, spec, 1, TQ_SCALE_RAW), TQ_ERR_FORMAT, path, "empty class folder");
  write_png("single", "person/x.png", 8, 8, 1);
  spec_of(spec, sizeof spec, "single", ":8x8");
  CHECK_ERR(tq_dataset_load(&d, spec, 1, TQ_SCALE_RAW), TQ_ERR_FORMAT, "single", "only one class folder ('person')");
  write_png("notest", "train/a/x.png", 8, 8, 1);
  write_png("notest", "train/b/x.png", 8, 8, 1);
  spec_of(spec, sizeof spec, "notest", ":8x8");
  CHECK_ERR(tq_dataset_load(&d, spec, 0, TQ_SCALE_RAW), TQ_ERR_FORMAT, "notest/test", "missing");
  write_png("notest", "test/c/x.png", 8, 8, 1);
  CHECK_ERR(tq_dataset_load(&d, spec, 0, TQ_SCALE_RAW), TQ_ERR_FORMAT, "notest/test/c", "the training folder does not have");
  write_raw("allbad", "train/a/x.png", "junk", 4);
  write_png("allbad", "train/b/x.png", 8, 8, 1);
  spec_of(spec, sizeof spec, "allbad", ":8x8:nocache");
  CHECK_ERR(tq_dataset_load(&d, spec, 1, TQ_SCALE_RAW), TQ_ERR_FORMAT, "allbad", "class 'a' has no decodable training image");
  CHECK_ERR(tq_dataset_load(&d, "imagefolder:/nonexistent/dir", 1, TQ_SCALE_RAW), TQ_ERR_IO, "/nonexistent/dir",
            "cannot open directory");
  CHECK_ERR(tq_dataset_load(&d, "imagefolder:/x:0x5", 1, TQ_SCALE_RAW), TQ_ERR_ARG, "size 0x5 out of range", "");
  CHECK_ERR(tq_dataset_load(&d, "imagefolder::strict", 1, TQ_SCALE_RAW), TQ_ERR_ARG, "no directory", "");
}

static void test_resize(void) {
  /* Shrinking by 2: the mean of each 2x2 block. */
  unsigned char in[4 * 4], out[2 * 2], up[4];
  for (int i = 0; i < 16; i++) in[i] = (unsigned char)(10 * i);
  CHECK(tq_image_resize_u8(in, 4, 4, out, 2, 2, 1) == TQ_OK);
  CHECK(out[0] == 25 && out[1] == 45 && out[2] == 105 && out[3] == 125);
  /* Enlarging 1x2 -> 1x4: half-pixel centres, edges clamped. */
  unsigned char two[2] = {0, 100};
  CHECK(tq_image_resize_u8(two, 1, 2, up, 1, 4, 1) == TQ_OK);
  CHECK(up[0] == 0 && up[1] == 25 && up[2] == 75 && up[3] == 100);
  /* Ratios that stb_image_resize 0.97 asserts on (24 -> 5): a flat image stays flat. */
  static unsigned char flat[7 * 24 * 3], small[7 * 5 * 3];
  memset(flat, 77, sizeof flat);
  CHECK(tq_image_resize_u8(flat, 7, 24, small, 7, 5, 3) == TQ_OK);
  int same = 1;
  for (size_t i = 0; i < sizeof small; i++) same &= small[i] == 77;
  CHECK(same);
  CHECK_ERR(tq_image_resize_u8(flat, 0, 24, small, 7, 5, 3), TQ_ERR_ARG, "bad size", "");
}

/* ------------------------------------------------------------------ augmentation */
enum { AH = 15, AW = 15, AC = 2, AN = 16 };

static void test_augment_options(void) {
  tq_augment a;
  char txt[128];
  CHECK(tq_augment_parse("vww", &a) == TQ_OK && tq_augment_active(&a));
  CHECK(a.rotate == 10.0f && a.shift == 0.05f && a.zoom == 0.1f && a.hflip && a.fill == TQ_FILL_NEAREST);
  tq_augment_format(txt, sizeof txt, &a);
  CHECK(!strcmp(txt, "rotate=10,shift=0.05,zoom=0.1,flip,fill=nearest"));
  tq_augment b;
  CHECK(tq_augment_parse(txt, &b) == TQ_OK && !memcmp(&a, &b, sizeof a));
  CHECK(tq_augment_parse("rotate=0,zoom=0", &a) == TQ_OK && !tq_augment_active(&a));
  CHECK(tq_augment_parse("zoom=0.2", &a) == TQ_OK && tq_augment_active(&a));
  CHECK_ERR(tq_augment_parse("rotate=181", &a), TQ_ERR_ARG, "bad rotate '181' (expected degrees in [0, 180])", "");
  CHECK_ERR(tq_augment_parse("zoom=1", &a), TQ_ERR_ARG, "bad zoom '1'", "");
  CHECK_ERR(tq_augment_parse("rotate=5,rotate=6", &a), TQ_ERR_ARG, "option 'rotate=6' repeated", "");
  CHECK_ERR(tq_augment_parse("vww,flip", &a), TQ_ERR_ARG, "vww is a preset on its own", "");
}

static void fill_pattern(float *x, int n) {
  for (int i = 0; i < n * AH * AW * AC; i++) x[i] = (float)((i * 37) % 101) / 101.0f;
}

static void test_augment_affine(void) {
  static float x[AN * AH * AW * AC], y[AN * AH * AW * AC], z[AH * AW * AC], scratch[AH * AW * AC];
  tq_augment vww;
  CHECK(tq_augment_parse("vww", &vww) == TQ_OK);
  /* Determinism by seed. */
  tq_rng r;
  fill_pattern(x, AN);
  fill_pattern(y, AN);
  tq_rng_seed(&r, 5);
  tq_augment_batch(x, AN, AH, AW, AC, &vww, &r);
  tq_rng_seed(&r, 5);
  tq_augment_batch(y, AN, AH, AW, AC, &vww, &r);
  CHECK(!memcmp(x, y, sizeof x));
  fill_pattern(y, AN);
  tq_rng_seed(&r, 6);
  tq_augment_batch(y, AN, AH, AW, AC, &vww, &r);
  CHECK(memcmp(x, y, sizeof x) != 0);
  /* Identity at 0 (exact), and an integer shift is tq_image_shift's. */
  fill_pattern(x, 1);
  memcpy(z, x, sizeof z);
  tq_affine id = {0.0f, 0.0f, 0.0f, 1.0f, 1.0f};
  tq_image_affine(x, scratch, AH, AW, AC, &id, TQ_FILL_NEAREST);
  CHECK(!memcmp(x, z, sizeof z));
  tq_affine sh = {0.0f, 2.0f, -3.0f, 1.0f, 1.0f};
  for (int f = 0; f < 2; f++) {
    memcpy(x, z, sizeof z);
    memcpy(y, z, sizeof z);
    tq_image_affine(x, scratch, AH, AW, AC, &sh, (tq_fill_mode)f);
    tq_image_shift(y, AH, AW, AC, 2, -3, (tq_fill_mode)f);
    CHECK(!memcmp(x, y, sizeof z));
  }
  /* A 90-degree turn is a transpose-and-mirror of the pixels (cos 90 deg is 6e-17, not 0). */
  memcpy(x, z, sizeof z);
  tq_affine quarter = {90.0f, 0.0f, 0.0f, 1.0f, 1.0f};
  tq_image_affine(x, scratch, AH, AW, AC, &quarter, TQ_FILL_ZERO);
  double worst = 0;
  for (int rr = 0; rr < AH; rr++)
    for (int c = 0; c < AW; c++)
      for (int k = 0; k < AC; k++) {
        double d = x[(rr * AW + c) * AC + k] - z[((AW - 1 - c) * AW + rr) * AC + k];
        worst = fabs(d) > worst ? fabs(d) : worst;
      }
  CHECK(worst < 1e-5);
  /* A radially symmetric image (a centred Gaussian) is unchanged by any rotation, up to the
   * bilinear sampling's error. */
  static float blob[33 * 33], big_scratch[33 * 33], turned[33 * 33];
  for (int rr = 0; rr < 33; rr++)
    for (int c = 0; c < 33; c++) blob[rr * 33 + c] = expf(-((rr - 16) * (rr - 16) + (c - 16) * (c - 16)) / 50.0f);
  for (int deg = -10; deg <= 10; deg += 4) {
    memcpy(turned, blob, sizeof blob);
    tq_affine t = {(float)deg, 0.0f, 0.0f, 1.0f, 1.0f};
    tq_image_affine(turned, big_scratch, 33, 33, 1, &t, TQ_FILL_NEAREST);
    double err = 0;
    for (int i = 0; i < 33 * 33; i++) err = fmax(err, fabs(turned[i] - blob[i]));
    CHECK(err < 0.01);
  }
  /* Flip only: each image is itself or its mirror, and both happen. */
  tq_augment flip = {0.0f, 1, TQ_FILL_ZERO, 0.0f, 0.0f};
  fill_pattern(x, AN);
  memcpy(y, x, sizeof x);
  tq_rng_seed(&r, 9);
  tq_augment_batch(x, AN, AH, AW, AC, &flip, &r);
  int same = 0, mirrored = 0;
  for (int i = 0; i < AN; i++) {
    float *img = x + (size_t)i * AH * AW * AC, *orig = y + (size_t)i * AH * AW * AC;
    if (!memcmp(img, orig, sizeof z)) {
      same++;
      continue;
    }
    tq_image_hflip(img, AH, AW, AC);
    mirrored += !memcmp(img, orig, sizeof z);
  }
  CHECK(same + mirrored == AN && same > 0 && mirrored > 0);
}

int main(void) {
  setenv("OMP_NUM_THREADS", "2", 0);
  snprintf(tmp_root, sizeof tmp_root, "/tmp/tq_test_imagefolder_XXXXXX");
  if (!mkdtemp(tmp_root)) {
    perror("mkdtemp");
    return 1;
  }
  test_resize();
  test_split_layout();
  test_cache();
  test_flat_layout();
  test_bad_files();
  test_bad_folders();
  test_augment_options();
  test_augment_affine();
  nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  TEST_MAIN_END();
}
