/* libFuzzer target: IDX image/label pairs, plain or gzip (src/data/idx.c), through
 * tq_dataset_load_idx as "mnist:DIR" calls it. Input: a 4-byte prefix, then the image file, then
 * the label file:
 *   byte 0   bit 0: gzip the image file, bit 1: gzip the label file (the harness compresses, so
 *            valid gzip streams reach the IDX parser; the raw bytes may be gzip themselves too),
 *            bit 2: no label file, bits 3-4: pixel scaling (unit, raw, centered)
 *   byte 1   class count (0: from the labels)
 *   byte 2-3 length of the image file (little-endian; the label file is the rest)
 * Invariants: a refused pair gives an error naming one of the two files; an accepted one has
 * positive sizes, one channel, labels below the class count, and, when the image file is plain,
 * exactly the pixels of the file through the scaling's lookup table. */
#include "fuzz_common.h"
#include "tinyq/data.h"

static char ipath[300], lpath[300];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_setup();
  setenv("TINYQ_MAX_MEMORY", "256M", 1);
  fuzz_path(ipath, sizeof ipath, "images-idx3-ubyte");
  fuzz_path(lpath, sizeof lpath, "labels-idx1-ubyte");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4 || size > (1u << 18)) return 0;
  int flags = data[0], classes = data[1];
  size_t ilen = (size_t)data[2] | (size_t)data[3] << 8;
  const uint8_t *img = data + 4;
  size_t rest = size - 4;
  if (ilen > rest) ilen = rest;
  int labelled = !(flags & 4);
  tq_input_scaling scaling = (tq_input_scaling)((flags >> 3) % 3);
  fuzz_write_maybe_gz(ipath, img, ilen, flags & 1);
  fuzz_write_maybe_gz(lpath, img + ilen, rest - ilen, flags & 2);

  tq_dataset d;
  tq_status st = tq_dataset_load_idx(&d, ipath, labelled ? lpath : NULL, classes, scaling);
  if (st != TQ_OK) {
    const char *e = tq_last_error();
    FUZZ_CHECK(strncmp(e, ipath, strlen(ipath)) == 0 || strncmp(e, lpath, strlen(lpath)) == 0,
               "message names neither file: %s", e);
    FUZZ_CHECK(d.x == NULL && d.y == NULL && d.n == 0, "refused but not zeroed");
    FUZZ_CHECK(!strchr(e, '\n'), "message of several lines: %s", e);
    return 0;
  }
  FUZZ_CHECK(d.n > 0 && d.h > 0 && d.w > 0 && d.c == 1, "shape %d x %d x %d x %d", d.n, d.h, d.w,
             d.c);
  if (labelled) {
    FUZZ_CHECK(d.y && d.classes >= 1 && (classes == 0 || d.classes == classes), "classes %d",
               d.classes);
    for (int i = 0; i < d.n; i++)
      FUZZ_CHECK(d.y[i] >= 0 && d.y[i] < d.classes, "label %d of %d classes", d.y[i], d.classes);
  } else {
    FUZZ_CHECK(d.y == NULL && d.classes == 0, "unlabelled data with labels");
  }
  if (!(flags & 1) && !(ilen >= 2 && img[0] == 0x1f && img[1] == 0x8b)) {
    size_t px = (size_t)d.n * d.h * d.w;
    FUZZ_CHECK(ilen == 16 + px, "%zu pixels from a file of %zu bytes", px, ilen);
    float lut[256];
    tq_pixel_lut(lut, scaling);
    for (size_t i = 0; i < px; i++)
      FUZZ_CHECK(d.x[i] == lut[img[16 + i]], "pixel %zu: %g, file byte %d", i, d.x[i], img[16 + i]);
  }
  tq_dataset_free(&d);
  return 0;
}
