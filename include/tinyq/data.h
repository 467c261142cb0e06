/* Image datasets (IDX: MNIST / Fashion-MNIST; CIFAR-10 binary), splits, batching and augmentation.
 * Samples are float32 NHWC (Keras layout); labels are int class indices. SPEC §3. */
#ifndef TINYQ_DATA_H
#define TINYQ_DATA_H

#include <stddef.h>

#include "tinyq/core.h"

typedef struct {
  int n, h, w, c; /* sample count and sample shape NHWC; vectors are h=1, w=1, c=len */
  int classes;    /* number of classes (0 if unlabelled) */
  float *x;       /* (n,h,w,c) float32, tq_alloc'd */
  int *y;         /* (n) labels in [0, classes), or NULL when unlabelled */
  int val_n;      /* > 0: the last val_n samples are the source's own validation split (an image
                   * folder's val/), which tq_dataset_split_tail keeps apart; 0: none */
} tq_dataset;

/* How 0..255 pixels become floats. */
typedef enum {
  TQ_SCALE_UNIT = 0, /* pixel / 255 -> [0, 1] (Keras models of the study, VWW) */
  TQ_SCALE_RAW,      /* pixel as is, 0..255 (MLPerf Tiny feeds CIFAR-10 this way) */
  TQ_SCALE_CENTERED  /* pixel / 127.5 - 1 -> [-1, 1] */
} tq_input_scaling;

/* Loads a dataset split from a spec "NAME[:ARG]" naming a source of the registry below.
 *   "fashion-mnist"        /usr/share/datasets/fashion-mnist (Debian dataset-fashion-mnist)
 *   "fashion-mnist:DIR"    IDX files train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
 *   "mnist:DIR"            t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]; the .gz name is
 *                          preferred, the plain one (or the "train-images.idx3-ubyte" spelling) is the
 *                          fallback. 28x28x1 (any rows x cols accepted), 10 classes.
 *   "cifar10:DIR"          data_batch_1..5.bin (train) or test_batch.bin (test), in DIR or in
 *                          DIR/cifar-10-batches-bin; records of 3073 bytes (label, 1024 R, 1024 G,
 *                          1024 B, each 32x32 row-major), converted to NHWC 32x32x3, 10 classes.
 *   "imagefolder:DIR[:HxW][:strict][:nocache]"  JPEG/PNG files, one sub-folder per class, labels
 *                          by sorted folder name; DIR/{train,val,test}/<class>/ or DIR/<class>/ (a
 *                          hashed tenth is the test split); resized to HxW (default 96x96) x 3;
 *                          decoded once, cached in DIR/.tinyq-cache-{train,test}-HxW. Bad files are
 *                          skipped with a count on stderr, or an error with :strict. See README.
 *   "noise:HxWxC[:CLASSES]"  standard-normal samples, uniform labels (1,000 train, 200 test; for
 *                          footprint and speed runs, not accuracy)
 * train_split: 1 = training split, 0 = test split. On failure *out is zeroed and the message
 * ("<file>: <problem>") is in tq_last_error(). */
tq_status tq_dataset_load(tq_dataset *out, const char *spec, int train_split,
                          tq_input_scaling scaling);

/* The IDX pair loader underneath "mnist:" — labels_path may be NULL (unlabelled, classes 0).
 * classes > 0: every label must be < classes; classes == 0 with labels: classes = max label + 1.
 * Files over 1 Mi pixels are decompressed on one OpenMP thread while a second allocates the floats
 * and reads the labels (results do not depend on the thread count). */
tq_status tq_dataset_load_idx(tq_dataset *out, const char *images_path, const char *labels_path,
                              int classes, tq_input_scaling scaling);
/* The loaders underneath "mnist:DIR" / "fashion-mnist:DIR", "cifar10:DIR" and "noise:HxWxC". */
tq_status tq_dataset_load_mnist(tq_dataset *out, const char *dir, int train_split,
                                tq_input_scaling scaling);
tq_status tq_dataset_load_cifar10(tq_dataset *out, const char *dir, int train_split,
                                  tq_input_scaling scaling);
tq_status tq_dataset_load_noise(tq_dataset *out, const char *arg, int train_split, tq_input_scaling scaling);
/* The loader underneath "imagefolder:"; arg: "DIR[:HxW][:strict][:nocache]". */
tq_status tq_dataset_load_imagefolder(tq_dataset *out, const char *arg, int train_split,
                                      tq_input_scaling scaling);

/* ---- The dataset registry: the sources a spec can name (src/data/sources.c). */
typedef struct {
  const char *name;        /* the spec's part before ':' */
  const char *spec;        /* how a spec of it is written: "mnist:DIR" */
  const char *help;        /* one line: what it is */
  int needs_dir;           /* ARG is a directory; without default_dir the spec must give it */
  const char *default_dir; /* the directory when the spec has none (NULL: none) */
  /* arg: the spec's part after ':' (or default_dir), NULL when absent */
  tq_status (*load)(tq_dataset *out, const char *arg, int train_split, tq_input_scaling scaling);
} tq_dataset_source;

int tq_dataset_source_count(void);
const tq_dataset_source *tq_dataset_source_get(int i); /* NULL out of range */
/* The source a spec names (its part before ':'), NULL when none. */
const tq_dataset_source *tq_dataset_source_find(const char *spec);
/* The specs of every source, separated by sep, into buf (n bytes, always terminated). */
void tq_dataset_source_list(char *buf, size_t n, const char *sep);

/* Reads a whole file, gzip-compressed or plain (zlib reads plain files transparently), at most
 * max_size bytes after decompression (0 = no limit). Caller frees *data with free(). Errors name the
 * file: cannot open, read error (corrupt gzip data), truncated gzip stream, too large. */
tq_status tq_read_file_gz(const char *path, unsigned char **data, size_t *size, size_t max_size);

/* lut[v] = the float that pixel value v becomes under `s`. */
void tq_pixel_lut(float lut[256], tq_input_scaling s);

/* "unit" | "raw" | "centered" */
tq_status tq_dataset_parse_scaling(const char *s, tq_input_scaling *out);
const char *tq_dataset_scaling_name(tq_input_scaling s);

void tq_dataset_free(tq_dataset *d); /* frees x and y, zeroes *d; safe on a zeroed dataset */

/* Copies rows [start, start+count) into a new dataset (count may be 0). */
tq_status tq_dataset_slice(tq_dataset *out, const tq_dataset *src, int start, int count);

/* Keras validation_split: the LAST fraction of the samples (before any shuffling) becomes the
 * validation set: split_at = (int)(n * (1 - val_fraction)), train = [0, split_at), val = [split_at, n).
 * val_fraction in [0, 1) and a double, so that 0.1 splits 60000 as Python does (54000 / 6000).
 * val_fraction 0 gives an empty validation set; an empty training set is an error.
 * A source with its own validation split (src->val_n > 0) is split there instead, val_fraction
 * unused: train = [0, n - val_n), val = the last val_n. */
tq_status tq_dataset_split_tail(tq_dataset *train, tq_dataset *val, const tq_dataset *src,
                                double val_fraction);

/* Gathers samples idx[0..count) into contiguous buffers: x (count,h,w,c), y (count).
 * y may be NULL (and is left alone when the dataset is unlabelled). Indices must be in [0, n). */
void tq_dataset_gather(float *x, int *y, const tq_dataset *d, const int *idx, int count);

/* ---- Augmentation (Keras ImageDataGenerator subset: width/height_shift_range, horizontal_flip,
 * rotation_range, zoom_range). */
typedef enum { TQ_FILL_ZERO = 0, TQ_FILL_NEAREST } tq_fill_mode; /* NEAREST is Keras' default */

typedef struct {
  float shift;       /* max shift as a fraction of H and of W (Keras width/height_shift_range); 0 = off */
  int hflip;         /* random horizontal flip with probability 1/2 */
  tq_fill_mode fill; /* what enters at the edges of a shifted image */
  float rotate;      /* max rotation in degrees (Keras rotation_range); 0 = off */
  float zoom;        /* zoom factors drawn from [1 - zoom, 1 + zoom] per axis (Keras zoom_range) */
} tq_augment;

/* "none" (or "") | "vww" | comma list of: rotate=DEG (0..180), shift=F (0 <= F < 1), zoom=F
 * (0 <= F < 1), flip (alias hflip), fill=zero|nearest. Unknown or repeated options are errors.
 * "vww" is MLPerf Tiny's Visual Wake Words generator: rotate=10,shift=0.05,zoom=0.1,flip,
 * fill=nearest. Example: "shift=0.1,flip". */
tq_status tq_augment_parse(const char *s, tq_augment *out);
/* Canonical text of a, e.g. "shift=0.1,flip" or "none" (buf of n bytes, always terminated). */
void tq_augment_format(char *buf, size_t n, const tq_augment *a);
int tq_augment_active(const tq_augment *a);

/* In place, per sample. Without rotate and zoom, in this order of random draws: dy =
 * round(U(-shift,shift)*h), dx = round(U(-shift,shift)*w) (only when shift > 0), then a flip coin
 * (only when hflip); shifts move content by whole pixels: out[r][c] = in[r-dy][c-dx]; then the
 * flip. With rotate or zoom: degrees = U(-rotate,rotate), dy = U(-shift,shift)*h,
 * dx = U(-shift,shift)*w, zoom_y and zoom_x = 1 + U(-zoom,zoom) (each only when its range > 0),
 * one tq_image_affine, then the flip coin. x: (n,h,w,c). Deterministic for a given rng state. */
void tq_augment_batch(float *x, int n, int h, int w, int c, const tq_augment *a, tq_rng *rng);

/* The primitives, in place on one image (h,w,c): out[r][col] = in[r-dy][col-dx], the uncovered
 * area filled per `fill`; and the left-right mirror. */
void tq_image_shift(float *img, int h, int w, int c, int dy, int dx, tq_fill_mode fill);
void tq_image_hflip(float *img, int h, int w, int c);

/* Resizes an in_h x in_w x c uint8 image to h x w x c, per axis by area averaging when shrinking
 * and bilinear interpolation (half-pixel centres, edges clamped) when enlarging: OpenCV's
 * INTER_AREA. Same size: a copy. Values rounded to nearest. The imagefolder source's resize. */
tq_status tq_image_resize_u8(const unsigned char *in, int in_h, int in_w, unsigned char *out, int h, int w, int c);

/* Writes h x w RGB bytes (row-major) as a PNG file; errors name path. */
tq_status tq_image_write_png(const char *path, const unsigned char *rgb, int h, int w);

/* An affine warp about the image centre: rotation (degrees, counter-clockwise on screen for
 * positive angles), shift (dy, dx pixels; content moves down/right) and zoom (factors < 1 enlarge
 * the content). */
typedef struct {
  float degrees, dy, dx, zoom_y, zoom_x;
} tq_affine;
/* In place, bilinear, with scratch of h*w*c floats: output pixel p reads input
 * R(degrees) (Z (p - centre) - (dy, dx)) + centre, centre = ((h-1)/2, (w-1)/2); outside the image
 * per `fill` (zero, or the nearest edge pixel). */
void tq_image_affine(float *img, float *scratch, int h, int w, int c, const tq_affine *t, tq_fill_mode fill);

#endif
