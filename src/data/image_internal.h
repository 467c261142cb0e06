/* Image files for the imagefolder source: decoding (image_decode.c) and the uint8 cache
 * (image_cache.c), shared with src/data/imagefolder.c. */
#ifndef TINYQ_IMAGE_INTERNAL_H
#define TINYQ_IMAGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tinyq/core.h"

/* Bounds that keep one decode's memory small whatever a file claims: the pixels its header
 * declares (checked before decoding: a 30000x30000 PNG of a few hundred bytes is refused) and
 * the file's size. 4096 x 4096 x 3 bytes = 48 MiB for the largest accepted image. */
#define TQ_IMAGE_MAX_PIXELS ((long long)4096 * 4096)
#define TQ_IMAGE_MAX_FILE ((size_t)64 << 20)

/* A file's bytes -> h x w x 3 uint8 (RGB, row-major) in out. JPEG and PNG only (by their
 * signatures), decoded by libpng or libjpeg-turbo, converted to 3 channels (grey replicated, PNG
 * alpha composed onto black) and
 * resized by tq_image_resize_u8 (area when shrinking, bilinear when enlarging). On failure: an error
 * "<path>: <problem>" in tq_last_error (this thread's) and TQ_ERR_FORMAT. */
tq_status tq_image_decode(const unsigned char *buf, size_t n, const char *path, int h, int w,
                          unsigned char *out);
/* Reads path (at most TQ_IMAGE_MAX_FILE bytes) and decodes it as above. */
tq_status tq_image_decode_file(const char *path, int h, int w, unsigned char *out);

/* The decoded set a cache file holds: n images of h x w x 3 and their labels; skipped: files of
 * the list that were refused (first_error: the first refusal's message). */
typedef struct {
  uint64_t key;
  int n, h, w, skipped;
  int val_n;            /* the last val_n images are the folder's own validation split (val/) */
  int *labels;          /* malloc'd, n */
  unsigned char *pixels; /* tq_alloc'd, n*h*w*3 */
  char first_error[1024]; /* tq_first_error.msg's size */
} tq_image_set;

/* Reads the cache file at path when it exists and holds the set for key at h x w; returns 1 and
 * fills *s (the caller frees with tq_image_set_free), else 0 (absent, stale, foreign or damaged:
 * the caller decodes). Never an error: a cache is only ever a shortcut. */
int tq_image_cache_read(const char *path, uint64_t key, int h, int w, tq_image_set *s);
/* Writes s atomically; TQ_OK or an error naming path (the caller may go on without a cache). */
tq_status tq_image_cache_write(const char *path, const tq_image_set *s);
void tq_image_set_free(tq_image_set *s);

/* FNV-1a, 64 bits: the cache key's hash. */
uint64_t tq_fnv1a(uint64_t h, const void *data, size_t n);
#define TQ_FNV1A_INIT 0xcbf29ce484222325ull

#endif
