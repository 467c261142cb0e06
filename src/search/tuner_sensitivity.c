/* The GP's per-dimension sensitivity (inverse ARD lengthscale) as a CSV file for tinyq report: which
 * layers' choices the score responds to. Only reads the tuner: writing it never changes a suggestion. */
#include <math.h>

#include "tuner_internal.h"

/* A CSV field without quoting: a comma (a space file's regex may have one) or line break becomes ';'. */
static void put_field(FILE *fp, const char *s) {
  for (; *s; s++) fputc(*s == ',' || *s == '\n' || *s == '\r' ? ';' : *s, fp);
  fputc(',', fp);
}

tq_status tq_tuner_write_sensitivity(const tq_tuner *t, const char *path, const char *const *names,
                                     const char *const *groups) {
  if (!t || !path || !names || !groups) return tq_fail(TQ_ERR_ARG, "tuner_write_sensitivity: NULL argument");
  if (!t->has_lengthscales) return tq_fail(TQ_ERR_ARG, "%s: the tuner has fitted no Gaussian process yet", path);
  tq_atomic_file *f;
  tq_status st = tq_atomic_open(&f, path);
  if (st) return st;
  FILE *fp = tq_atomic_stream(f);
  fprintf(fp, "dim,name,group,options,lengthscale,sensitivity,main_effect,points,ard_weight\n");
  for (int d = 0; d < t->ndims; d++) {
    double ls = t->lengthscales[d];
    /* %.17g: the report reads back the exact doubles; an infinite lengthscale is "inf", sensitivity 0 */
    fprintf(fp, "%d,", d);
    put_field(fp, names[d]);
    put_field(fp, groups[d]);
    fprintf(fp, "%d,%.17g,%.17g,%.17g,%d,%.17g\n", t->counts[d], ls, isfinite(ls) ? 1.0 / ls : 0.0,
            t->main_effects[d], t->fit_points, 1.0 - t->fit_additive_weight);
  }
  return tq_atomic_commit(f);
}
