/* CIFAR-10 binary version (SPEC §3): data_batch_1..5.bin (train), test_batch.bin (test). Each file is a
 * sequence of 3073-byte records: the label byte, then 1024 R, 1024 G, 1024 B bytes, each plane 32x32
 * row-major. Converted to NHWC (32,32,3) floats. gzip-compressed batches are read too. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tinyq/data.h"

enum { CIFAR_SIDE = 32, CIFAR_PLANE = 32 * 32, CIFAR_RECORD = 1 + 3 * 32 * 32, CIFAR_CLASSES = 10 };
#define CIFAR_MAX_FILE ((size_t)1 << 31)

/* Batches live in DIR or, as the archive unpacks, in DIR/cifar-10-batches-bin. */
static tq_status cifar_file(char *path, size_t cap, const char *dir, const char *name) {
  int len = snprintf(path, cap, "%s/%s", dir, name);
  if (len < 0 || (size_t)len >= cap) return tq_fail(TQ_ERR_ARG, "%s: path too long", dir);
  if (access(path, F_OK) == 0) return TQ_OK;
  char alt[4096];
  len = snprintf(alt, sizeof alt, "%s/cifar-10-batches-bin/%s", dir, name);
  if (len > 0 && (size_t)len < sizeof alt && access(alt, F_OK) == 0 && (size_t)len < cap)
    memcpy(path, alt, (size_t)len + 1);
  return TQ_OK; /* a missing file is reported, with its path, by the open */
}

tq_status tq_dataset_load_cifar10(tq_dataset *out, const char *dir, int train_split,
                                  tq_input_scaling scaling) {
  memset(out, 0, sizeof *out);
  static const char *const train_names[] = {"data_batch_1.bin", "data_batch_2.bin",
                                            "data_batch_3.bin", "data_batch_4.bin",
                                            "data_batch_5.bin"};
  static const char *const test_names[] = {"test_batch.bin"};
  const char *const *names = train_split ? train_names : test_names;
  int files = train_split ? 5 : 1;
  unsigned char *buf[5] = {0};
  size_t size[5] = {0};
  char paths[5][4096];
  size_t total = 0;
  tq_status st = TQ_OK;

  for (int f = 0; f < files; f++) {
    st = cifar_file(paths[f], sizeof paths[f], dir, names[f]);
    if (st) goto done;
    st = tq_read_file_gz(paths[f], &buf[f], &size[f], CIFAR_MAX_FILE);
    if (st) goto done;
    if (size[f] == 0) {
      st = tq_fail(TQ_ERR_FORMAT, "%s: empty (no CIFAR-10 records)", paths[f]);
      goto done;
    }
    if (size[f] % CIFAR_RECORD != 0) {
      st = tq_fail(TQ_ERR_FORMAT, "%s: size %zu is not a multiple of %d (the CIFAR-10 record size)",
                   paths[f], size[f], CIFAR_RECORD);
      goto done;
    }
    size_t records = size[f] / CIFAR_RECORD;
    for (size_t r = 0; r < records; r++) {
      unsigned label = buf[f][r * CIFAR_RECORD];
      if (label >= CIFAR_CLASSES) {
        st = tq_fail(TQ_ERR_FORMAT, "%s: record %zu: label %u out of range (expected 0..%d)",
                     paths[f], r, label, CIFAR_CLASSES - 1);
        goto done;
      }
    }
    total += records;
  }
  if (total > (size_t)1 << 30) {
    st = tq_fail(TQ_ERR_FORMAT, "%s: too many CIFAR-10 records (%zu)", dir, total);
    goto done;
  }

  out->n = (int)total;
  out->h = CIFAR_SIDE;
  out->w = CIFAR_SIDE;
  out->c = 3;
  out->classes = CIFAR_CLASSES;
  out->x = tq_alloc_floats(total * 3 * CIFAR_PLANE);
  out->y = out->x ? tq_alloc(total * sizeof(int)) : NULL;
  if (!out->x || !out->y) {
    st = tq_fail_prefix(TQ_ERR_MEMORY, "cifar10:%s", dir);
    goto done;
  }
  float lut[256];
  tq_pixel_lut(lut, scaling);
  size_t i = 0;
  for (int f = 0; f < files; f++) {
    size_t records = size[f] / CIFAR_RECORD;
    for (size_t r = 0; r < records; r++, i++) {
      const unsigned char *rec = buf[f] + r * CIFAR_RECORD;
      float *dst = out->x + i * 3 * CIFAR_PLANE; /* (32,32,3) */
      out->y[i] = rec[0];
      const unsigned char *red = rec + 1, *green = red + CIFAR_PLANE, *blue = green + CIFAR_PLANE;
      for (int p = 0; p < CIFAR_PLANE; p++) {
        dst[3 * p + 0] = lut[red[p]];
        dst[3 * p + 1] = lut[green[p]];
        dst[3 * p + 2] = lut[blue[p]];
      }
    }
  }

done:
  for (int f = 0; f < files; f++) free(buf[f]);
  if (st) tq_dataset_free(out);
  return st;
}
