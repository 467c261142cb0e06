/* Writes the Visual Wake Words stand-in (scripts/make-imagefolder.sh runs it): Fashion-MNIST
 * garments as SIDE x SIDE RGB PNG files in the VWW layout, upper-body garments (T-shirt/top,
 * pullover, coat, shirt: the classes a person's picture shows) as person, the rest as non_person.
 *
 *   make_imagefolder FASHION_DIR OUT N SEED SIDE
 *
 * OUT/train/: the first N - N/10 training images; OUT/val/: the next N/10; OUT/test/: the first
 * max(1, N/5) (at most 10,000) test images; each in <class>/fmnist_<split>_<index>.png.
 * Each image is coloured: the garment's grey level g blends a background and a foreground colour,
 * bg + (fg - bg) g / 255, both drawn per image from SEED (at least 64 apart in grey), so colour
 * says nothing of the class; then enlarged bilinearly (tq_image_resize_u8, the loader's resize) and
 * written by tq_image_write_png (libpng). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


#include "tinyq/data.h"

enum { SIDE_IN = 28, PIXELS_IN = 28 * 28 };

static const char *const class_names[2] = {"non_person", "person"};

static int is_person(int fashion_label) {
  return fashion_label == 0 || fashion_label == 2 || fashion_label == 4 || fashion_label == 6;
}

typedef struct {
  unsigned char *images, *labels; /* the IDX files, headers included */
  size_t n;
} idx_pair;

static int read_pair(idx_pair *p, const char *dir, const char *prefix) {
  char path[4096];
  size_t isz = 0, lsz = 0;
  snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
  if (tq_read_file_gz(path, &p->images, &isz, 0)) return 1;
  snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
  if (tq_read_file_gz(path, &p->labels, &lsz, 0)) return 1;
  p->n = lsz > 8 ? lsz - 8 : 0;
  if (isz < 16 || (isz - 16) / PIXELS_IN < p->n) {
    fprintf(stderr, "make_imagefolder: %s: not 28x28 IDX images for every label\n", path);
    return 1;
  }
  return 0;
}

static void colour(tq_rng *r, unsigned char rgb[3]) {
  for (int k = 0; k < 3; k++) rgb[k] = (unsigned char)tq_rng_below(r, 256);
}

static int grey(const unsigned char rgb[3]) { return (299 * rgb[0] + 587 * rgb[1] + 114 * rgb[2]) / 1000; }

/* One garment: coloured, enlarged, written. */
static int write_image(const char *out, const char *split, const unsigned char *g, int label, size_t index,
                       uint64_t seed, int side, unsigned char *rgb_in, unsigned char *rgb_out) {
  tq_rng r;
  tq_rng_derive(&r, seed, (uint64_t)index * 4 + (uint64_t)split[1]); /* train, val, test: 'r', 'a', 'e' */
  unsigned char bg[3], fg[3];
  do {
    colour(&r, bg);
    colour(&r, fg);
  } while (abs(grey(fg) - grey(bg)) < 64);
  for (int p = 0; p < PIXELS_IN; p++)
    for (int k = 0; k < 3; k++) rgb_in[3 * p + k] = (unsigned char)((bg[k] * (255 - g[p]) + fg[k] * g[p] + 127) / 255);
  if (tq_image_resize_u8(rgb_in, SIDE_IN, SIDE_IN, rgb_out, side, side, 3)) {
    fprintf(stderr, "make_imagefolder: %s\n", tq_last_error());
    return 1;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/%s/%s/fmnist_%s_%05zu.png", out, split, class_names[is_person(label)], split, index);
  if (tq_image_write_png(path, rgb_out, side, side)) {
    fprintf(stderr, "make_imagefolder: %s\n", tq_last_error());
    return 1;
  }
  return 0;
}

static int write_split(const char *out, const char *split, const idx_pair *p, size_t from, size_t count, uint64_t seed,
                       int side) {
  char path[4096];
  for (int c = 0; c < 2; c++) {
    snprintf(path, sizeof path, "%s/%s/%s", out, split, class_names[c]);
    if (tq_mkdirs(path)) {
      fprintf(stderr, "make_imagefolder: %s\n", tq_last_error());
      return 1;
    }
  }
  unsigned char *in = malloc(PIXELS_IN * 3), *big = malloc((size_t)side * side * 3);
  int rc = !in || !big;
  size_t per_class[2] = {0, 0};
  for (size_t i = from; !rc && i < from + count; i++) {
    int label = p->labels[8 + i];
    rc = write_image(out, split, p->images + 16 + i * PIXELS_IN, label, i, seed, side, in, big);
    per_class[is_person(label)]++;
  }
  free(in);
  free(big);
  if (!rc) printf("%s/%s: %zu non_person, %zu person\n", out, split, per_class[0], per_class[1]);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: make_imagefolder FASHION_DIR OUT N SEED SIDE\n");
    return 2;
  }
  long n = atol(argv[3]), side = atol(argv[5]);
  uint64_t seed = strtoull(argv[4], NULL, 10);
  if (n < 10 || n > 60000 || side < 8 || side > 1024) {
    fprintf(stderr, "make_imagefolder: N must be in 10..60000 and SIDE in 8..1024\n");
    return 2;
  }
  idx_pair train = {0}, test = {0};
  if (read_pair(&train, argv[1], "train") || read_pair(&test, argv[1], "t10k")) {
    fprintf(stderr, "make_imagefolder: %s\n", tq_last_error());
    return 1;
  }
  size_t val = (size_t)n / 10, n_test = (size_t)n / 5 ? (size_t)n / 5 : 1;
  if (n_test > test.n) n_test = test.n;
  int rc = write_split(argv[2], "train", &train, 0, (size_t)n - val, seed, (int)side) ||
           write_split(argv[2], "val", &train, (size_t)n - val, val, seed, (int)side) ||
           write_split(argv[2], "test", &test, 0, n_test, seed, (int)side);
  free(train.images);
  free(train.labels);
  free(test.images);
  free(test.labels);
  return rc;
}
