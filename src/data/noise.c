/* "noise:HxWxC[:CLASSES]": standard-normal samples with uniform labels (1,000 train, 200 test),
 * seeded by the split. Not for accuracy: it lets footprint, speed and deployment runs work for
 * models whose real data is not on the machine. */
#include <stdio.h>

#include "tinyq/data.h"

tq_status tq_dataset_load_noise(tq_dataset *out, const char *arg, int train_split, tq_input_scaling scaling) {
  (void)scaling; /* the samples are not pixels */
  int h = 0, w = 0, c = 0, classes = 10;
  char tail[32] = "";
  int got = arg ? sscanf(arg, "%dx%dx%d%31s", &h, &w, &c, tail) : 0;
  if (got == 4 && sscanf(tail, ":%d", &classes) != 1) got = 0;
  if (got < 3 || h < 1 || w < 1 || c < 1 || classes < 1 || (size_t)h * w * c > (1u << 24))
    return tq_fail(TQ_ERR_ARG, "dataset 'noise%s%s': expected noise:HxWxC[:CLASSES]", arg ? ":" : "",
                   arg ? arg : "");
  int n = train_split ? 1000 : 200;
  size_t per = (size_t)h * w * c;
  out->x = tq_alloc_floats(per * (size_t)n);
  out->y = tq_alloc(sizeof(int) * (size_t)n);
  if (!out->x || !out->y) {
    tq_dataset_free(out);
    return tq_fail(TQ_ERR_MEMORY, "noise:%s: out of memory", arg);
  }
  tq_rng r;
  tq_rng_seed(&r, train_split ? 11 : 12);
  for (size_t i = 0; i < per * (size_t)n; i++) out->x[i] = tq_rng_normal(&r);
  for (int i = 0; i < n; i++) out->y[i] = (int)tq_rng_below(&r, (uint32_t)classes);
  out->n = n;
  out->h = h;
  out->w = w;
  out->c = c;
  out->classes = classes;
  return TQ_OK;
}
