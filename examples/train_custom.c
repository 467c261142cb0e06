/* Trains a zoo model with a training loop of your own and a callback after every epoch, then saves
 * a model file that `infer` (or `tinyq eval`) loads. tq_train() (tinyq/train.h) is the ready-made
 * loop with its CSV log, checkpoints and early stopping; this is what it does inside, step by step.
 *   train_custom [DATA [EPOCHS [STEPS_PER_EPOCH [OUT.tqm]]]]   (fashion-mnist 2 50 model.tqm)
 * Build against the installed library:
 *   cc train_custom.c $(pkg-config --cflags --libs tinyq) -o train_custom */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <tinyq/train.h>
#include <tinyq/zoo.h>

/* The per-epoch hook, of the type tq_train calls too (tq_train_config.on_epoch): a status other
 * than TQ_OK ends training with it. */
static tq_status report(void *ctx, tq_model *m, int epoch, const tq_epoch_metrics *e) {
  (void)ctx;
  printf("epoch %d: lr %g, loss %.4f, accuracy %.4f, %zu parameters\n", epoch + 1, e->lr, e->loss,
         e->acc, tq_model_params(m));
  return TQ_OK;
}

static tq_status train(tq_model *m, const tq_dataset *d, int epochs, int steps, int batch,
                       tq_epoch_callback cb, void *ctx) {
  int k = d->classes;
  float *x = tq_alloc_floats((size_t)batch * d->h * d->w * d->c);
  float *probs = tq_alloc_floats((size_t)batch * k), *dout = tq_alloc_floats((size_t)batch * k);
  int *y = tq_alloc(sizeof(int) * (size_t)batch), *idx = tq_alloc(sizeof(int) * (size_t)d->n);
  tq_status st = x && probs && dout && y && idx ? TQ_OK : TQ_ERR_MEMORY;
  const float lr = 1e-3f;
  tq_optimizer adam;
  tq_optimizer_parse("adam", &adam);
  tq_rng rng;
  tq_rng_seed(&rng, 42);
  long step = 0;
  for (int i = 0; i < d->n && idx; i++) idx[i] = i;
  for (int epoch = 0; epoch < epochs && !st; epoch++) {
    tq_rng_shuffle(&rng, idx, d->n);
    double loss = 0;
    long right = 0, seen = 0;
    for (int s = 0; s < steps && (s + 1) * batch <= d->n; s++) {
      tq_dataset_gather(x, y, d, idx + (size_t)s * batch, batch);
      const float *out = tq_model_forward(m, x, batch, 1, &rng);
      if (!out) {
        st = TQ_ERR_ARG;
        break;
      }
      int correct = 0;
      loss += tq_loss_forward_backward(TQ_LOSS_SPARSE_XENT, dout, probs, out, y, NULL, batch, k,
                                       &correct) * batch;
      tq_model_zero_grad(m);
      tq_model_backward(m, dout, batch);
      tq_model_l2_grad(m);
      tq_optimizer_step(&adam, m, lr, ++step);
      right += correct;
      seen += batch;
    }
    tq_epoch_metrics e = {lr, loss / seen, (double)right / seen, NAN, NAN, 0};
    if (!st && cb) st = cb(ctx, m, epoch, &e);
  }
  tq_free(x), tq_free(probs), tq_free(dout), tq_free(y), tq_free(idx);
  return st;
}

int main(int argc, char **argv) {
  const char *data = argc > 1 ? argv[1] : "fashion-mnist", *out = argc > 4 ? argv[4] : "model.tqm";
  int epochs = argc > 2 ? atoi(argv[2]) : 2, steps = argc > 3 ? atoi(argv[3]) : 50, batch = 32;
  printf("tinyq %s\n", tq_version());
  tq_dataset d;
  tq_model *m = NULL;
  if (tq_dataset_load(&d, data, 1, TQ_SCALE_UNIT)) goto fail;
  tq_zoo_options opt = {{d.h, d.w, d.c}, d.classes};
  if (tq_zoo_build(&m, "resnet8", &opt) ||
      tq_model_finalize(m, batch, tq_zoo_find("resnet8")->init, 1))
    goto fail;
  if (train(m, &d, epochs, steps, batch, report, NULL) ||
      tq_model_save(out, m, "{\"trained_by\": \"examples/train_custom.c\"}", 0))
    goto fail;
  printf("saved %s (%zu parameters)\n", out, tq_model_params(m));
  tq_model_free(m);
  tq_dataset_free(&d);
  return 0;
fail:
  fprintf(stderr, "train_custom: %s\n", tq_last_error());
  return 1;
}
