/* "imagefolder:DIR[:HxW][:strict][:nocache]": JPEG and PNG files, one sub-folder per class,
 * labels by the sorted folder names (Visual Wake Words: non_person = 0, person = 1).
 *   DIR/train/<class>/, DIR/val/<class>/ (optional), DIR/test/<class>/   the split layout
 *   DIR/<class>/                                                        the flat layout
 * The flat layout keeps a fixed tenth for the test split: the files whose FNV-1a hash of
 * "<class>/<file>" is 0 modulo 10 (stable when files are added, as Speech Commands' lists are).
 * Training files are put in a fixed shuffled order, so that the Keras tail split (--val-split)
 * is a random part of every class; a val/ folder replaces that split (tq_dataset.val_n).
 * Images are decoded once (image_decode.c) and cached as uint8 in DIR (image_cache.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audio/audio_internal.h"
#include "data/image_internal.h"
#include "tinyq/data.h"

#define FOLDER_DEFAULT_SIDE 96
#define FOLDER_MAX_SIDE 1024
#define FOLDER_ORDER_SEED 0x7677772d6f726465ull /* fixed: the training files' order */
#define FLAT_TEST_MODULUS 10
/* Changes whenever decoding or resizing would give other bytes: old caches are then ignored. */
#define DECODER_VERSION "libpng+libjpeg-turbo+tq-area-bilinear/1"

typedef struct {
  char *path;
  const char *rel; /* inside path: "<class>/<file>" or "<split>/<class>/<file>" */
  int label;
  long long size, mtime_ns;
} folder_file;

typedef struct {
  char dir[4096];
  int h, w, strict, cache;
  char **classes;
  int n_classes;
  folder_file *files;
  int n, cap, val_n;
} folder_index;

enum { PICK_ALL, PICK_TRAIN, PICK_TEST }; /* the flat layout's hash split */

static int is_dir(const char *a, const char *b) {
  char path[8192];
  struct stat sb;
  return tq_path_join(path, sizeof path, a, b) == TQ_OK && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* DIR, then options from the right: HxW, strict, nocache. */
static tq_status parse_spec(folder_index *x, const char *arg) {
  x->h = x->w = FOLDER_DEFAULT_SIDE;
  x->cache = 1;
  if (strlen(arg) >= sizeof x->dir) return tq_fail(TQ_ERR_ARG, "imagefolder:%s: path too long", arg);
  strcpy(x->dir, arg);
  char *colon;
  while ((colon = strrchr(x->dir, ':'))) {
    const char *opt = colon + 1;
    int h, w;
    char extra;
    if (!strcmp(opt, "strict")) x->strict = 1;
    else if (!strcmp(opt, "nocache")) x->cache = 0;
    else if (sscanf(opt, "%dx%d%c", &h, &w, &extra) == 2) {
      if (h < 1 || w < 1 || h > FOLDER_MAX_SIDE || w > FOLDER_MAX_SIDE)
        return tq_fail(TQ_ERR_ARG, "imagefolder:%s: size %s out of range (1x1 to %dx%d)", arg, opt, FOLDER_MAX_SIDE,
                       FOLDER_MAX_SIDE);
      x->h = h;
      x->w = w;
    } else break;
    *colon = 0;
  }
  if (!x->dir[0]) return tq_fail(TQ_ERR_ARG, "imagefolder:%s: no directory (imagefolder:DIR[:HxW][:strict][:nocache])", arg);
  return TQ_OK;
}

static tq_status add_file(folder_index *x, const char *path, size_t rel_at, int label) {
  if (x->n == x->cap) {
    int cap = x->cap ? 2 * x->cap : 256;
    folder_file *grown = cap < (1 << 26) ? realloc(x->files, sizeof *grown * (size_t)cap) : NULL;
    if (!grown) return tq_fail(TQ_ERR_MEMORY, "%s: too many files to index", x->dir);
    x->files = grown;
    x->cap = cap;
  }
  struct stat sb;
  if (stat(path, &sb) != 0) return tq_fail(TQ_ERR_IO, "%s: cannot stat", path);
  folder_file *f = &x->files[x->n];
  if (!(f->path = strdup(path))) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", x->dir);
  f->rel = f->path + rel_at;
  f->label = label;
  f->size = (long long)sb.st_size;
  f->mtime_ns = (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
  x->n++;
  return TQ_OK;
}

/* DIR/<sub>/<class>: its files, or for the flat layout the hash-picked part of them. */
static tq_status add_class(folder_index *x, const char *sub, int label, int pick) {
  char folder[8192], path[8192];
  int len = snprintf(folder, sizeof folder, "%s%s%s/%s", x->dir, *sub ? "/" : "", sub, x->classes[label]);
  if (len < 0 || (size_t)len >= sizeof folder) return tq_fail(TQ_ERR_ARG, "%s: path too long", x->dir);
  char **names = NULL;
  int n = 0;
  tq_status st = tq_dir_list(folder, 0, NULL, &names, &n);
  if (!st && n == 0) st = tq_fail(TQ_ERR_FORMAT, "%s: empty class folder (no image files)", folder);
  for (int i = 0; !st && i < n; i++) {
    st = tq_path_join(path, sizeof path, folder, names[i]);
    if (st) break;
    const char *rel = path + strlen(x->dir) + 1;
    int in_test = tq_fnv1a(TQ_FNV1A_INIT, rel, strlen(rel)) % FLAT_TEST_MODULUS == 0;
    if (pick == PICK_ALL || in_test == (pick == PICK_TEST)) st = add_file(x, path, strlen(x->dir) + 1, label);
  }
  tq_dir_free(names, n);
  return st;
}

/* Every class folder of DIR/<sub>, which must be one of the training classes. */
static tq_status add_split(folder_index *x, const char *sub, int pick) {
  char folder[8192];
  tq_status st = *sub ? tq_path_join(folder, sizeof folder, x->dir, sub) : TQ_OK;
  if (!*sub) strcpy(folder, x->dir);
  char **names = NULL;
  int n = 0;
  if (!st) st = tq_dir_list(folder, 1, NULL, &names, &n);
  for (int i = 0; !st && i < n; i++) {
    int label = 0;
    while (label < x->n_classes && strcmp(x->classes[label], names[i])) label++;
    if (label == x->n_classes)
      st = tq_fail(TQ_ERR_FORMAT, "%s/%s/%s: a class folder the training folder does not have", x->dir, sub, names[i]);
    else st = add_class(x, sub, label, pick);
  }
  tq_dir_free(names, n);
  return st;
}

static tq_status index_classes(folder_index *x, const char *root) {
  char folder[8192];
  tq_status st = root ? tq_path_join(folder, sizeof folder, x->dir, root) : TQ_OK;
  if (!root) strcpy(folder, x->dir);
  if (!st) st = tq_dir_list(folder, 1, NULL, &x->classes, &x->n_classes);
  if (st) return st;
  if (x->n_classes == 0) return tq_fail(TQ_ERR_FORMAT, "%s: no class folders (one sub-folder per class)", folder);
  if (x->n_classes == 1)
    return tq_fail(TQ_ERR_FORMAT, "%s: only one class folder ('%s'); a classifier needs two or more", folder,
                   x->classes[0]);
  return TQ_OK;
}

static void shuffle_files(folder_index *x) {
  tq_rng r;
  tq_rng_seed(&r, FOLDER_ORDER_SEED);
  for (int i = x->n - 1; i > 0; i--) {
    int j = (int)tq_rng_below(&r, (uint32_t)(i + 1));
    folder_file t = x->files[i];
    x->files[i] = x->files[j];
    x->files[j] = t;
  }
}

static tq_status build_index(folder_index *x, int train_split) {
  int split_layout = is_dir(x->dir, "train");
  tq_status st = index_classes(x, split_layout ? "train" : NULL);
  if (st) return st;
  const char *which = train_split ? "training" : "test";
  if (train_split) {
    st = add_split(x, split_layout ? "train" : "", split_layout ? PICK_ALL : PICK_TRAIN);
    if (!st) shuffle_files(x);
    int before = x->n;
    if (!st && split_layout && is_dir(x->dir, "val")) st = add_split(x, "val", PICK_ALL);
    x->val_n = x->n - before;
  } else if (split_layout && !is_dir(x->dir, "test")) {
    st = tq_fail(TQ_ERR_FORMAT, "%s/test: missing (a folder with train/ keeps its test split in test/)", x->dir);
  } else {
    st = add_split(x, split_layout ? "test" : "", split_layout ? PICK_ALL : PICK_TEST);
  }
  if (!st && x->n == 0) st = tq_fail(TQ_ERR_FORMAT, "%s: no images in the %s split", x->dir, which);
  return st;
}

static uint64_t index_key(const folder_index *x, int train_split) {
  int32_t head[4] = {x->h, x->w, train_split, x->val_n};
  uint64_t k = tq_fnv1a(TQ_FNV1A_INIT, DECODER_VERSION, sizeof DECODER_VERSION);
  k = tq_fnv1a(k, head, sizeof head);
  for (int i = 0; i < x->n; i++) {
    const folder_file *f = &x->files[i];
    long long meta[3] = {f->size, f->mtime_ns, f->label};
    k = tq_fnv1a(k, f->rel, strlen(f->rel) + 1);
    k = tq_fnv1a(k, meta, sizeof meta);
  }
  return k;
}

/* Decodes every file (in parallel; each image to its own slot, so the result does not depend on
 * the thread count), then closes the gaps of the refused ones. */
static tq_status decode_all(const folder_index *x, tq_image_set *s) {
  size_t img = (size_t)x->h * x->w * 3;
  *s = (tq_image_set){.n = x->n, .h = x->h, .w = x->w};
  tq_status st = tq_mem_check_product((size_t)x->n, img, 1);
  s->pixels = st ? NULL : tq_alloc((size_t)x->n * img);
  s->labels = malloc(sizeof(int) * (size_t)x->n);
  char *bad = calloc((size_t)x->n, 1);
  if (!s->pixels || !s->labels || !bad) {
    free(bad);
    return tq_fail_prefix(TQ_ERR_MEMORY, "imagefolder:%s: %d images of %dx%dx3", x->dir, x->n, x->h, x->w);
  }
  tq_first_error first = {x->n, TQ_OK, ""};
#pragma omp parallel for schedule(dynamic, 4)
  for (long i = 0; i < x->n; i++) {
    tq_status e = tq_image_decode_file(x->files[i].path, x->h, x->w, s->pixels + (size_t)i * img);
    if (e) {
      bad[i] = 1;
      tq_first_error_note(&first, i, e);
    }
  }
  int kept = 0;
  for (int i = 0; i < x->n; i++) {
    if (bad[i]) continue;
    if (kept != i) memcpy(s->pixels + (size_t)kept * img, s->pixels + (size_t)i * img, img);
    s->labels[kept++] = x->files[i].label;
    if (i >= x->n - x->val_n) s->val_n++;
  }
  free(bad);
  s->skipped = x->n - kept;
  s->n = kept;
  snprintf(s->first_error, sizeof s->first_error, "%.*s", (int)sizeof s->first_error - 1, first.msg);
  return TQ_OK;
}

/* The decoded set: from the cache when its key matches (*seconds = -1), else decoded (and
 * cached: *where says where, or why not). */
static tq_status decoded_set(const folder_index *x, int train_split, tq_image_set *s, double *seconds,
                             char *where, size_t where_n) {
  char cache[8192];
  int len = snprintf(cache, sizeof cache, "%s/.tinyq-cache-%s-%dx%d", x->dir, train_split ? "train" : "test", x->h, x->w);
  int use_cache = x->cache && len > 0 && (size_t)len < sizeof cache;
  uint64_t key = index_key(x, train_split);
  *seconds = -1.0;
  snprintf(where, where_n, "%s", use_cache ? cache : "not cached");
  if (use_cache && tq_image_cache_read(cache, key, x->h, x->w, s)) return TQ_OK;
  double t0 = tq_now_seconds();
  tq_status st = decode_all(x, s);
  if (st) return st;
  *seconds = tq_now_seconds() - t0;
  s->key = key;
  if (use_cache && tq_image_cache_write(cache, s)) {
    snprintf(where, where_n, "not cached: %s", tq_last_error());
    tq_clear_error();
  }
  return TQ_OK;
}

/* Refused files: an error (strict) or one line on stderr; a training class left empty: an error. */
static tq_status check_set(const folder_index *x, const tq_image_set *s, int train_split) {
  if (s->skipped && x->strict) return tq_fail(TQ_ERR_FORMAT, "%s", s->first_error);
  if (s->skipped)
    fprintf(stderr, "imagefolder: skipped %d of %d files of %s (first: %s); the spec's :strict makes this an error\n",
            s->skipped, s->n + s->skipped, x->dir, s->first_error);
  if (s->n == 0) return tq_fail(TQ_ERR_FORMAT, "%s: no decodable image in the %s split (first refusal: %s)", x->dir,
                                train_split ? "training" : "test", s->first_error);
  if (!train_split) return TQ_OK;
  int *count = calloc((size_t)x->n_classes, sizeof *count);
  if (!count) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", x->dir);
  for (int i = 0; i < s->n; i++) count[s->labels[i]]++;
  int empty = 0;
  while (empty < x->n_classes && count[empty]) empty++;
  free(count);
  if (empty < x->n_classes)
    return tq_fail(TQ_ERR_FORMAT, "%s: class '%s' has no decodable training image", x->dir, x->classes[empty]);
  return TQ_OK;
}

static tq_status to_dataset(tq_dataset *out, const folder_index *x, const tq_image_set *s, tq_input_scaling scaling) {
  size_t img = (size_t)x->h * x->w * 3;
  out->x = tq_alloc_floats((size_t)s->n * img);
  out->y = out->x ? tq_alloc(sizeof(int) * (size_t)s->n) : NULL;
  if (!out->x || !out->y) return tq_fail_prefix(TQ_ERR_MEMORY, "imagefolder:%s", x->dir);
  float lut[256];
  tq_pixel_lut(lut, scaling);
  for (size_t i = 0; i < (size_t)s->n * img; i++) out->x[i] = lut[s->pixels[i]];
  memcpy(out->y, s->labels, sizeof(int) * (size_t)s->n);
  out->n = s->n;
  out->h = x->h;
  out->w = x->w;
  out->c = 3;
  out->classes = x->n_classes;
  out->val_n = s->val_n < s->n ? s->val_n : 0;
  return TQ_OK;
}

tq_status tq_dataset_load_imagefolder(tq_dataset *out, const char *arg, int train_split, tq_input_scaling scaling) {
  memset(out, 0, sizeof *out);
  folder_index x;
  memset(&x, 0, sizeof x);
  tq_image_set s;
  memset(&s, 0, sizeof s);
  double seconds = -1.0;
  char where[8400];
  tq_status st = parse_spec(&x, arg);
  if (!st) st = build_index(&x, train_split);
  if (!st) st = decoded_set(&x, train_split, &s, &seconds, where, sizeof where);
  if (!st) st = check_set(&x, &s, train_split);
  if (!st) st = to_dataset(out, &x, &s, scaling);
  if (!st && seconds >= 0.0)
    fprintf(stderr, "imagefolder: decoded %d images of %s (%s split) to %dx%d in %.2f s (%s)\n", s.n, x.dir,
            train_split ? "training" : "test", x.h, x.w, seconds, where);
  if (st) tq_dataset_free(out);
  tq_image_set_free(&s);
  for (int i = 0; i < x.n; i++) free(x.files[i].path);
  free(x.files);
  tq_dir_free(x.classes, x.n_classes);
  return st;
}
