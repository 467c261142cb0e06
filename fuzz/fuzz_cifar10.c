/* libFuzzer target: CIFAR-10 binary batches (src/data/cifar10.c), through
 * tq_dataset_load_cifar10 as "cifar10:DIR" calls it. Input: one flag byte, then the batch file.
 *   bit 0: gzip it (the harness compresses; the raw bytes may be gzip themselves too)
 *   bit 1: training split: the same bytes as all five data_batch_N.bin (else test_batch.bin)
 *   bits 2-3: pixel scaling (unit, raw, centered)
 * Invariants: a refused batch gives an error naming the file or the directory; an accepted one
 * has whole 3073-byte records, 32x32x3 samples, labels below 10 and, for plain files, exactly
 * the record's label and its R, G, B planes interleaved through the scaling's lookup table. */
#include "fuzz_common.h"
#include "tinyq/data.h"

enum { REC = 3073, PLANE = 1024 };
static char dir[300], paths[6][320];
static const char *const names[6] = {"test_batch.bin",   "data_batch_1.bin", "data_batch_2.bin",
                                     "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_setup();
  setenv("TINYQ_MAX_MEMORY", "256M", 1);
  fuzz_path(dir, sizeof dir, "cifar");
  if (mkdir(dir, 0700) != 0) abort();
  for (int i = 0; i < 6; i++) snprintf(paths[i], sizeof paths[i], "%s/%s", dir, names[i]);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 8 * REC + 1) return 0;
  int flags = data[0], train = (flags >> 1) & 1;
  tq_input_scaling scaling = (tq_input_scaling)((flags >> 2) % 3);
  const uint8_t *b = data + 1;
  size_t n = size - 1;
  for (int i = train ? 1 : 0; i < (train ? 6 : 1); i++)
    fuzz_write_maybe_gz(paths[i], b, n, flags & 1);

  tq_dataset d;
  tq_status st = tq_dataset_load_cifar10(&d, dir, train, scaling);
  if (st != TQ_OK) {
    const char *e = tq_last_error();
    FUZZ_CHECK(strstr(e, dir) != NULL, "message does not name the data: %s", e);
    FUZZ_CHECK(d.x == NULL && d.y == NULL && d.n == 0, "refused but not zeroed");
    FUZZ_CHECK(!strchr(e, '\n'), "message of several lines: %s", e);
    return 0;
  }
  FUZZ_CHECK(d.n > 0 && d.h == 32 && d.w == 32 && d.c == 3 && d.classes == 10 && d.y,
             "shape %d x %d x %d x %d, %d classes", d.n, d.h, d.w, d.c, d.classes);
  for (int i = 0; i < d.n; i++) FUZZ_CHECK(d.y[i] >= 0 && d.y[i] < 10, "label %d", d.y[i]);
  if (!(flags & 1) && !(n >= 2 && b[0] == 0x1f && b[1] == 0x8b)) {
    size_t per = n / REC;
    FUZZ_CHECK(n % REC == 0 && (size_t)d.n == per * (train ? 5 : 1), "%d samples from %zu bytes",
               d.n, n);
    float lut[256];
    tq_pixel_lut(lut, scaling);
    for (int i = 0; i < d.n; i++) {
      const uint8_t *rec = b + (size_t)(i % (int)per) * REC;
      FUZZ_CHECK(d.y[i] == rec[0], "sample %d: label %d, record %d", i, d.y[i], rec[0]);
      const float *x = d.x + (size_t)i * 3 * PLANE;
      for (int p = 0; p < PLANE; p++)
        for (int c = 0; c < 3; c++)
          FUZZ_CHECK(x[3 * p + c] == lut[rec[1 + c * PLANE + p]], "sample %d pixel %d", i, p);
    }
  }
  tq_dataset_free(&d);
  return 0;
}
