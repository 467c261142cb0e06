#include "train/progress.h"

#include "tinyq/core.h"

void tq_progress_begin(tq_progress *p, FILE *out, int mode, int epoch, int epochs, long steps) {
  double now = tq_now_seconds();
  *p = (tq_progress){.out = out, .bar = mode, .epoch = epoch, .epochs = epochs, .steps = steps, .t0 = now,
                     .last_draw = now};
  if (mode == 1) fprintf(out, "Epoch %d/%d\n", epoch, epochs);
}

static void fmt_time(char *buf, size_t n, double s) {
  int t = (int)(s + 0.5);
  if (t >= 3600)
    snprintf(buf, n, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
  else
    snprintf(buf, n, "%d:%02d", t / 60, t % 60);
}

void tq_progress_step(tq_progress *p, double loss, double acc, int has_acc) {
  p->done++;
  if (p->bar != 1) return;
  double now = tq_now_seconds();
  if (now - p->last_draw < 0.1 && p->done < p->steps) return;
  p->last_draw = now;
  const int width = 30;
  int filled = (int)(width * p->done / (p->steps ? p->steps : 1));
  char bar[width + 1];
  for (int i = 0; i < width; i++) bar[i] = i < filled ? '=' : (i == filled ? '>' : '.');
  bar[width] = 0;
  char eta[32];
  double per = (now - p->t0) / (double)p->done;
  fmt_time(eta, sizeof eta, per * (double)(p->steps - p->done));
  fprintf(p->out, "\r%5ld/%-5ld [%s] - ETA: %s - loss: %.4f", p->done, p->steps, bar, eta, loss);
  if (has_acc) fprintf(p->out, " - accuracy: %.4f", acc);
  fflush(p->out);
}

void tq_progress_end(tq_progress *p, double loss, double acc, int has_acc, double val_loss,
                     double val_acc, int has_val, double lr) {
  if (p->bar < 0) return;
  double s = tq_now_seconds() - p->t0;
  if (p->bar == 1)
    fprintf(p->out, "\r%5ld/%-5ld [==============================] - %.0fs", p->done, p->steps, s);
  else
    fprintf(p->out, "Epoch %d/%d - %.1fs", p->epoch, p->epochs, s);
  fprintf(p->out, " - loss: %.4f", loss);
  if (has_acc) fprintf(p->out, " - accuracy: %.4f", acc);
  if (has_val) {
    fprintf(p->out, " - val_loss: %.4f", val_loss);
    if (has_acc) fprintf(p->out, " - val_accuracy: %.4f", val_acc);
  }
  fprintf(p->out, " - lr: %.4g\n", lr);
  fflush(p->out);
}
