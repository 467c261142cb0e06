/* libFuzzer target: image files through the imagefolder source (src/data/imagefolder.c,
 * image_decode.c, image_resize.c: signatures, declared sizes, libpng, libjpeg-turbo, the resize), as
 * "imagefolder:DIR:HxW[:strict]:nocache" calls it. Input: one flag byte, then the image file,
 * written as both classes' only file (so that an accepted file gives a whole dataset):
 *   DIR/train/{a,b}/x.png, DIR/test/{a,b}/x.png
 *   bit 0: training split (else test)
 *   bits 1-2: the size asked for: 8x8, 5x7, 16x3, 1x1
 *   bit 3: strict (a refused file is the error itself; else it is skipped and the split is empty)
 *   bits 4-5: pixel scaling (unit, raw, centered)
 * Invariants: a refusal is one line naming the folder or the file, with the dataset zeroed; an
 * accepted file gives 2 samples of HxWx3, labels 0 and 1, pixel values from the scaling's table,
 * the same for both classes (one file decoded twice), and no validation split. (Its first run
 * found Debian's stb_image writing past a Huffman table: the loader moved to libpng and
 * libjpeg-turbo; the input is in fuzz/regressions/imagefolder/.) */
#include "fuzz_common.h"
#include "tinyq/data.h"

static char dir[300], files[4][340];
static const char *const rel[4] = {"train/a", "train/b", "test/a", "test/b"};
static const int sizes[4][2] = {{8, 8}, {5, 7}, {16, 3}, {1, 1}};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_setup();
  setenv("TINYQ_MAX_MEMORY", "512M", 1);
  fuzz_path(dir, sizeof dir, "images");
  for (int i = 0; i < 4; i++) {
    char folder[330];
    snprintf(folder, sizeof folder, "%s/%s", dir, rel[i]);
    if (tq_mkdirs(folder)) abort();
    snprintf(files[i], sizeof files[i], "%s/x.png", folder);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 256 * 1024) return 0;
  int flags = data[0], train = flags & 1, strict = (flags >> 3) & 1;
  int h = sizes[(flags >> 1) & 3][0], w = sizes[(flags >> 1) & 3][1];
  tq_input_scaling scaling = (tq_input_scaling)(((flags >> 4) & 3) % 3);
  for (int i = 0; i < 4; i++) fuzz_write(files[i], data + 1, size - 1);
  char spec[400];
  snprintf(spec, sizeof spec, "imagefolder:%s:%dx%d%s:nocache", dir, h, w, strict ? ":strict" : "");

  tq_dataset d;
  tq_status st = tq_dataset_load(&d, spec, train, scaling);
  if (st != TQ_OK) {
    const char *e = tq_last_error();
    FUZZ_CHECK(strstr(e, dir) != NULL, "message does not name the data: %s", e);
    FUZZ_CHECK(!strchr(e, '\n'), "message of several lines: %s", e);
    FUZZ_CHECK(d.x == NULL && d.y == NULL && d.n == 0, "refused but not zeroed");
    return 0;
  }
  FUZZ_CHECK(d.n == 2 && d.h == h && d.w == w && d.c == 3 && d.classes == 2 && d.y && d.val_n == 0,
             "shape %d x %d x %d x %d, %d classes, val %d", d.n, d.h, d.w, d.c, d.classes, d.val_n);
  FUZZ_CHECK(d.y[0] == 0 && d.y[1] == 1, "labels %d %d (train %d)", d.y[0], d.y[1], train);
  float lut[256];
  tq_pixel_lut(lut, scaling);
  size_t img = (size_t)h * w * 3;
  for (size_t i = 0; i < img; i++) {
    float v = d.x[i];
    FUZZ_CHECK(v >= lut[0] && v <= lut[255], "pixel %zu = %g outside the scaling's range", i, (double)v);
    FUZZ_CHECK(d.x[img + i] == v, "the same file decoded to other pixels at %zu", i);
  }
  tq_dataset_free(&d);
  return 0;
}
