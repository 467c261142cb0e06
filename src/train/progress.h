/* Keras-like progress output: a bar with ETA and running metrics on a terminal, or one plain
 * line per epoch otherwise. */
#ifndef TINYQ_TRAIN_PROGRESS_H
#define TINYQ_TRAIN_PROGRESS_H
#include <stdio.h>

typedef struct {
  FILE *out;
  int bar;          /* 1 = redraw a bar, 0 = one line at the end, -1 = silent */
  int epoch, epochs;
  long steps, done;
  double t0, last_draw;
} tq_progress;

void tq_progress_begin(tq_progress *p, FILE *out, int mode, int epoch, int epochs, long steps);
void tq_progress_step(tq_progress *p, double loss, double acc, int has_acc);
/* Ends the epoch's line with the validation metrics. */
void tq_progress_end(tq_progress *p, double loss, double acc, int has_acc, double val_loss,
                     double val_acc, int has_val, double lr);
#endif
