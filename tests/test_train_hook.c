/* tq_train's per-epoch callback (tq_train_config.on_epoch): called once per finished epoch with the
 * model, the 0-based epoch and the metrics the training state shows; its error ends training; the
 * epoch early stopping ends on is still reported; a hook that only reads changes nothing. */
#include <string.h>

#include "tinyq/train.h"
#include "tinyq/zoo.h"
#include "tq_test.h"

typedef struct {
  int calls;
  int epochs[8];
  tq_epoch_metrics metrics[8];
  const tq_train_state *state;
  int state_agrees; /* the state holds the epoch's metrics when the hook runs */
  int fail_at;      /* return an error at this epoch (-1 = never) */
} recorder;

static tq_status record(void *ctx, tq_model *m, int epoch, const tq_epoch_metrics *e) {
  recorder *r = ctx;
  if (!m || r->calls >= 8) return tq_fail(TQ_ERR_ARG, "hook: unexpected call");
  r->epochs[r->calls] = epoch;
  r->metrics[r->calls] = *e;
  r->calls++;
  const tq_train_state *s = r->state;
  if (s->epochs_done != epoch + 1 || s->last_loss != e->loss || s->last_val_loss != e->val_loss) r->state_agrees = 0;
  if (epoch == r->fail_at) return tq_fail(TQ_ERR_IO, "hook: cannot write the statistics of epoch %d", epoch);
  return TQ_OK;
}

static tq_model *autoencoder(void) {
  tq_model *m = NULL;
  CHECK(tq_zoo_build(&m, "fc_autoencoder", NULL) == TQ_OK);
  CHECK(tq_model_finalize(m, 16, TQ_INIT_GLOROT_UNIFORM, 7) == TQ_OK);
  return m;
}

static void noise(tq_dataset *d, int n, uint64_t seed) {
  memset(d, 0, sizeof *d);
  d->n = n;
  d->h = d->w = 1;
  d->c = 640;
  d->x = tq_alloc_floats((size_t)n * 640);
  tq_rng r;
  tq_rng_seed(&r, seed);
  for (size_t i = 0; i < (size_t)n * 640; i++) d->x[i] = (float)tq_rng_uniform(&r);
}

static void config(tq_train_config *c, int epochs) {
  tq_train_config_defaults(c);
  c->epochs = epochs;
  c->batch = 16;
  c->loss = TQ_LOSS_MSE;
  c->progress = -1;
  c->max_steps_per_epoch = 2;
}

/* Every parameter of a and b bit for bit. */
static int same_weights(tq_model *a, tq_model *b) {
  int np = tq_model_num_params(a);
  if (np != tq_model_num_params(b)) return 0;
  for (int i = 0; i < np; i++) {
    const tq_param *p = tq_model_param(a, i, NULL, NULL), *q = tq_model_param(b, i, NULL, NULL);
    if (p->size != q->size || memcmp(p->value, q->value, p->size * sizeof(float))) return 0;
  }
  return 1;
}

int main(void) {
  tq_dataset train, val;
  noise(&train, 48, 1);
  noise(&val, 16, 2);

  /* three epochs: three calls, in order, with the state's metrics */
  tq_model *m = autoencoder(), *plain = autoencoder();
  tq_train_config c;
  config(&c, 3);
  tq_train_state s;
  tq_train_state_init(&s, &c);
  recorder r = {.state = &s, .state_agrees = 1, .fail_at = -1};
  c.on_epoch = record;
  c.on_epoch_ctx = &r;
  CHECK(tq_train(m, &train, &val, &c, &s) == TQ_OK);
  CHECK_EQ_INT(r.calls, 3);
  for (int i = 0; i < r.calls; i++) CHECK_EQ_INT(r.epochs[i], i);
  CHECK(r.state_agrees);
  CHECK(r.metrics[0].improved);
  CHECK(isnan(r.metrics[0].acc) && !isnan(r.metrics[0].val_loss)); /* MSE: no accuracy */
  CHECK_NEAR(r.metrics[2].lr, 1e-3, 1e-9);

  /* the same run without the hook: the same weights */
  tq_train_config c0;
  config(&c0, 3);
  tq_train_state s0;
  tq_train_state_init(&s0, &c0);
  CHECK(tq_train(plain, &train, &val, &c0, &s0) == TQ_OK);
  CHECK(same_weights(m, plain));
  tq_model_free(plain);

  /* the hook's error ends training with it, after that epoch */
  tq_model *f = autoencoder();
  config(&c, 5);
  tq_train_state_init(&s, &c);
  r = (recorder){.state = &s, .state_agrees = 1, .fail_at = 1};
  c.on_epoch = record;
  c.on_epoch_ctx = &r;
  CHECK(tq_train(f, &train, &val, &c, &s) == TQ_ERR_IO);
  CHECK(strstr(tq_last_error(), "statistics of epoch 1") != NULL);
  CHECK_EQ_INT(r.calls, 2);
  CHECK_EQ_INT(s.epochs_done, 2);
  tq_model_free(f);

  /* early stopping: the epoch it stops on is reported too */
  config(&c, 6);
  c.monitor = "accuracy"; /* NaN under MSE: never improves */
  c.early_stopping = 2;
  tq_train_state_init(&s, &c);
  r = (recorder){.state = &s, .state_agrees = 1, .fail_at = -1};
  c.on_epoch = record;
  c.on_epoch_ctx = &r;
  CHECK(tq_train(m, &train, &val, &c, &s) == TQ_OK);
  CHECK(s.stopped_early);
  CHECK_EQ_INT(r.calls, s.epochs_done);
  CHECK_EQ_INT(r.epochs[r.calls - 1], s.epochs_done - 1);

  tq_model_free(m);
  tq_dataset_free(&train);
  tq_dataset_free(&val);
  TEST_MAIN_END();
}
