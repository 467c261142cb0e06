/* The trial evaluator of the mixed-precision search (SPEC §5), run on every rank: loads the data
 * and the float model once, then builds, initialises, configures, trains and evaluates one trial
 * at a time. Kept apart from search.c, which coordinates the trials (tuner, journal, results). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/search_internal.h"
#include "tinyq/audio.h"
#include "tinyq/data.h"
#include "tinyq/qconfig.h"
#include "tinyq/train.h"
#include "tinyq/zoo.h"

#define VAL_FRACTION 0.1 /* Keras validation_split: the last 10 % of the training split */

void tq_evaluator_free(tq_evaluator *ev) {
  tq_dataset_free(&ev->train);
  tq_dataset_free(&ev->val);
  tq_dataset_free(&ev->auc_test);
  tq_model_free(ev->float_model);
  tq_model_free(ev->stats_model);
  tq_space_free(ev->space);
  memset(ev, 0, sizeof *ev);
}

/* --metric auc: the DCASE test split (normal and anomalous clips per id), checked once here so
 * that no trial runs for a metric it cannot compute. */
static tq_status load_auc_test(tq_evaluator *ev, tq_input_scaling sc) {
  if (strncmp(ev->s->data, "dcase:", 6) || ev->tc.loss != TQ_LOSS_MSE)
    return tq_fail(TQ_ERR_ARG, "--metric auc needs an auto-encoder on dcase:DIR/MACHINE data, not %s on %s",
                   ev->s->model, ev->s->data);
  tq_status st = tq_dataset_load(&ev->auc_test, ev->s->data, 0, sc);
  if (st) return st;
  unsigned char kinds[100] = {0}; /* per id (y / 2, two digits): bit 0 normal, bit 1 anomalous */
  int both = 0;
  for (int i = 0; i < ev->auc_test.n; i++) {
    int y = ev->auc_test.y[i];
    if (y >= 0 && y / 2 < 100) both |= (kinds[y / 2] |= (unsigned char)(1u << (y & 1))) == 3;
  }
  return both ? TQ_OK
              : tq_fail(TQ_ERR_ARG, "--metric auc: %s: no machine id has both normal and anomalous test clips",
                        ev->s->data);
}

static tq_status build_model(const tq_evaluator *ev, int batch, tq_model **out) {
  *out = NULL;
  tq_model *m = NULL;
  tq_status st = tq_zoo_build_width(&m, ev->s->model, &ev->zo, (float)ev->s->width);
  if (!st) st = tq_model_finalize(m, batch, ev->z->init, (uint64_t)ev->s->seed);
  if (st) {
    tq_model_free(m);
    return st;
  }
  *out = m;
  return TQ_OK;
}

tq_status tq_evaluator_init(tq_evaluator *ev, const tq_search_settings *s,
                            const char *space_source) {
  memset(ev, 0, sizeof *ev);
  ev->s = s;
  tq_dataset full = {0}, part = {0};
  int *idx = NULL;
  tq_status st;
  ev->z = tq_zoo_find(s->model);
  if (!ev->z) {
    tq_model *m = NULL;
    st = tq_zoo_build(&m, s->model, NULL); /* its error lists the known models */
    tq_model_free(m);
    return st ? st : tq_fail(TQ_ERR_ARG, "unknown model '%s'", s->model);
  }
  tq_train_config_defaults(&ev->tc);
  ev->tc.epochs = s->epochs;
  ev->tc.batch = s->batch;
  ev->tc.lr = (float)s->lr;
  ev->tc.seed = (uint64_t)s->seed;
  ev->tc.loss = ev->z->loss;
  ev->tc.shuffle = 1;
  ev->tc.progress = -1;
  ev->tc.out_dir = NULL;
  ev->tc.max_steps_per_epoch = s->max_steps;
  /* as `tinyq train --init`: trials keep the float model's batch-norm statistics */
  ev->tc.freeze_bn_after = s->init[0] ? 0 : -1;
  tq_input_scaling sc;
  if ((st = tq_schedule_parse(s->schedule, &ev->tc.schedule)) ||
      (st = tq_optimizer_parse(s->optimizer, &ev->tc.optimizer)) ||
      (st = tq_augment_parse(s->augment, &ev->tc.augment)) || (st = tq_dataset_parse_scaling(s->scaling, &sc)))
    return st;
  tq_search_trace("evaluator: loading %s", s->data);
  if ((st = tq_dataset_load(&full, s->data, 1, sc))) goto done;
  tq_search_trace("evaluator: loaded %d samples", full.n);
  if (!strcmp(s->metric, "auc") && (st = load_auc_test(ev, sc))) goto done;
  if (s->train_limit > 0 && s->train_limit < full.n) {
    tq_dataset lim;
    if ((st = tq_dataset_slice(&lim, &full, 0, s->train_limit))) goto done;
    tq_dataset_free(&full);
    full = lim;
  }
  if ((st = tq_dataset_split_tail(&part, &ev->val, &full, VAL_FRACTION))) goto done;
  tq_dataset_free(&full);
  ev->train_total = part.n;
  int k = (int)(s->train_fraction * part.n);
  if (k > part.n) k = part.n;
  if (k < 1) {
    st = tq_fail(TQ_ERR_ARG, "--train-fraction %g of %d training samples leaves none", s->train_fraction, part.n);
    goto done;
  }
  /* The first k of the training portion shuffled by the seed. */
  idx = malloc(sizeof(int) * (size_t)part.n);
  if (!idx) {
    st = tq_fail(TQ_ERR_MEMORY, "training subset: out of memory");
    goto done;
  }
  for (int i = 0; i < part.n; i++) idx[i] = i;
  tq_rng r;
  tq_rng_derive(&r, (uint64_t)s->seed, 0x5355425345544ULL);
  tq_rng_shuffle(&r, idx, part.n);
  ev->train = part;
  ev->train.n = k;
  ev->train.x = tq_alloc_floats((size_t)k * part.h * part.w * part.c);
  ev->train.y = part.y ? tq_alloc(sizeof(int) * (size_t)k) : NULL;
  if (!ev->train.x || (part.y && !ev->train.y)) {
    st = tq_fail_prefix(TQ_ERR_MEMORY, "training subset");
    goto done;
  }
  tq_dataset_gather(ev->train.x, ev->train.y, &part, idx, k);
  /* A batch larger than the data only allocates activations no step uses (--batch 5000 on 540
   * samples took 11.8 GB); capped at the larger split, every step and result stays the same. */
  int most = k > ev->val.n ? k : ev->val.n;
  if (ev->tc.batch > most) ev->tc.batch = most;
  ev->zo = (tq_zoo_options){{part.h, part.w, part.c}, part.classes};
  if ((st = build_model(ev, 1, &ev->stats_model))) goto done;
  if ((st = tq_space_create(&ev->space, s->space_json, space_source, ev->stats_model))) goto done;
  if (s->init[0]) {
    if ((st = tq_model_load(s->init, &ev->float_model, NULL, 1)) ||
        (st = tq_model_copy_weights(ev->stats_model, ev->float_model))) {
      st = tq_fail_prefix(st, "--init %s", s->init);
      goto done;
    }
  }
  tq_search_trace("evaluator: ready");
done:
  free(idx);
  tq_dataset_free(&full);
  tq_dataset_free(&part);
  if (st) tq_evaluator_free(ev);
  return st;
}

/* The trial's metric: the study's, or the mean AUC over the machine ids of the test folder. */
static tq_status trial_metric(const tq_evaluator *ev, tq_model *m, double loss, double acc, double *metric) {
  if (!ev->auc_test.n) {
    *metric = ev->tc.loss == TQ_LOSS_MSE ? 1.0 / (1.0 + pow(loss, 10.0)) : acc;
    return TQ_OK;
  }
  tq_dcase_score sc[100];
  int n = 0, defined = 0;
  tq_status st = tq_dcase_evaluate(m, &ev->auc_test, ev->tc.batch, sc, 100, &n);
  double sum = 0;
  for (int i = 0; !st && i < n; i++)
    if (!isnan(sc[i].auc)) sum += sc[i].auc, defined++;
  *metric = defined ? sum / defined : NAN;
  return st;
}

static void outcome_fail(tq_trial_outcome *o, const char *what) {
  o->ok = 0;
  snprintf(o->error, sizeof o->error, "%s", what && *what ? what : "unknown error");
}

void tq_evaluate_trial(const tq_evaluator *ev, int trial, const int *choice, tq_trial_outcome *o) {
  memset(o, 0, sizeof *o);
  double t0 = tq_now_seconds();
  tq_model *m = NULL;
  char *cfg = NULL, where[64];
  snprintf(where, sizeof where, "trial %d", trial);
  tq_search_trace("trial %d: build", trial);
  tq_status st = build_model(ev, ev->tc.batch, &m);
  if (!st && ev->float_model) st = tq_model_copy_weights(m, ev->float_model);
  if (!st && !(cfg = tq_space_config_json(ev->space, choice, 0))) st = TQ_ERR_MEMORY; /* the message says why */
  if (!st) st = tq_qconfig_apply_json(m, cfg, where);
  tq_train_state ts;
  tq_train_state_init(&ts, &ev->tc);
  tq_search_trace("trial %d: train", trial);
  if (!st) st = tq_train(m, &ev->train, NULL, &ev->tc, &ts);
  tq_search_trace("trial %d: validate", trial);
  double loss = NAN, acc = NAN;
  if (!st) st = tq_evaluate(m, &ev->val, ev->tc.loss, ev->tc.batch, &loss, &acc);
  double metric = NAN;
  if (!st && isfinite(loss)) st = trial_metric(ev, m, loss, acc, &metric);
  if (st) {
    outcome_fail(o, tq_last_error());
  } else if (!isfinite(loss)) {
    outcome_fail(o, "validation loss is not finite");
  } else {
    o->ok = 1;
    o->loss = loss;
    o->metric = metric;
    if (!isfinite(o->metric)) outcome_fail(o, "metric is not finite");
  }
  o->seconds = tq_now_seconds() - t0;
  free(cfg);
  tq_model_free(m);
  tq_search_trace("trial %d: done", trial);
}
