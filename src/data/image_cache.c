/* The decoded-image cache of the imagefolder source: one file per folder split and size, the
 * decoded uint8 pixels and labels behind a header holding the key of the file list it was made
 * from (names, sizes, modification times, labels, size, decoder version). A later load with the
 * same key reads it instead of decoding; any other key, or a damaged file, is ignored. The file
 * is machine-local (native byte order); written atomically, so parallel loads are safe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/image_internal.h"

static const char cache_magic[8] = {'T', 'Q', 'I', 'M', 'G', 'C', '0', '2'};

typedef struct {
  char magic[8];
  uint64_t key;
  int32_t n, h, w, skipped, val_n;
  char first_error[1024]; /* tq_first_error.msg's size */
} cache_header;

uint64_t tq_fnv1a(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

void tq_image_set_free(tq_image_set *s) {
  free(s->labels);
  tq_free(s->pixels);
  s->labels = NULL;
  s->pixels = NULL;
}

static size_t pixel_bytes(const tq_image_set *s) { return (size_t)s->n * s->h * s->w * 3; }

int tq_image_cache_read(const char *path, uint64_t key, int h, int w, tq_image_set *s) {
  memset(s, 0, sizeof *s);
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  cache_header hd;
  int ok = fread(&hd, sizeof hd, 1, f) == 1 && !memcmp(hd.magic, cache_magic, 8) && hd.key == key &&
           hd.h == h && hd.w == w && hd.n >= 0 && hd.skipped >= 0 && hd.val_n >= 0 && hd.val_n <= hd.n && hd.first_error[sizeof hd.first_error - 1] == 0;
  if (ok) {
    *s = (tq_image_set){.key = key, .n = hd.n, .h = h, .w = w, .skipped = hd.skipped, .val_n = hd.val_n};
    memcpy(s->first_error, hd.first_error, sizeof s->first_error);
    s->labels = malloc(sizeof(int) * (size_t)(hd.n ? hd.n : 1));
    ok = s->labels && tq_mem_check(pixel_bytes(s)) == TQ_OK && (s->pixels = tq_alloc(pixel_bytes(s) + 1)) != NULL;
  }
  if (ok && hd.n) ok = fread(s->labels, sizeof(int), (size_t)hd.n, f) == (size_t)hd.n &&
                       fread(s->pixels, 1, pixel_bytes(s), f) == pixel_bytes(s);
  ok = ok && fgetc(f) == EOF; /* exactly the size the header promises */
  fclose(f);
  if (!ok) tq_image_set_free(s);
  tq_clear_error(); /* a refused allocation here only means: decode instead */
  return ok;
}

tq_status tq_image_cache_write(const char *path, const tq_image_set *s) {
  cache_header hd;
  memset(&hd, 0, sizeof hd);
  memcpy(hd.magic, cache_magic, 8);
  hd.key = s->key;
  hd.n = s->n;
  hd.h = s->h;
  hd.w = s->w;
  hd.skipped = s->skipped;
  hd.val_n = s->val_n;
  snprintf(hd.first_error, sizeof hd.first_error, "%s", s->first_error);
  tq_atomic_file *af;
  tq_status st = tq_atomic_open(&af, path);
  if (st) return st;
  FILE *f = tq_atomic_stream(af);
  if (fwrite(&hd, sizeof hd, 1, f) != 1 || (s->n && (fwrite(s->labels, sizeof(int), (size_t)s->n, f) != (size_t)s->n ||
                                                     fwrite(s->pixels, 1, pixel_bytes(s), f) != pixel_bytes(s)))) {
    tq_atomic_abort(af);
    return tq_fail(TQ_ERR_IO, "%s: write error", path);
  }
  return tq_atomic_commit(af);
}
