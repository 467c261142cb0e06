/* Training: optimizers, learning-rate schedules, losses and metrics, the epoch loop with its
 * callbacks (CSV log, best checkpoint, early stopping, resume, a per-epoch hook), evaluation. */
#ifndef TINYQ_TRAIN_H
#define TINYQ_TRAIN_H

#include "tinyq/data.h"
#include "tinyq/model.h"

/* ---- Optimizers (Keras semantics). */
typedef enum { TQ_OPT_ADAM = 0, TQ_OPT_SGD } tq_opt_kind;
typedef struct {
  tq_opt_kind kind;
  float momentum;            /* SGD */
  float beta1, beta2, eps;   /* Adam: Keras defaults 0.9, 0.999, 1e-7 */
} tq_optimizer;
tq_status tq_optimizer_parse(const char *s, tq_optimizer *out); /* "adam" | "sgd" */
/* One update of every trainable parameter from its gradient; step is 1-based (Adam bias fix). */
void tq_optimizer_step(const tq_optimizer *o, tq_model *m, float lr, long step);

/* ---- Learning-rate schedules (per epoch, epoch 0-based).
 *   "constant"
 *   "piecewise:LR1@E1,LR2@E2,...,LRk"  LR1 for E1 epochs, LR2 for the next E2, ..., then LRk
 *   "exp:RATE"                          lr * RATE^epoch (the study's ResNet: exp:0.99) */
#define TQ_MAX_PIECES 16
typedef struct {
  enum { TQ_SCHED_CONSTANT = 0, TQ_SCHED_PIECEWISE, TQ_SCHED_EXP } kind;
  float rate;
  int npieces;
  float lrs[TQ_MAX_PIECES];
  int epochs[TQ_MAX_PIECES];
} tq_schedule;
tq_status tq_schedule_parse(const char *s, tq_schedule *out);
float tq_schedule_lr(const tq_schedule *s, float base_lr, int epoch);
void tq_schedule_format(const tq_schedule *s, char *buf, size_t n);

/* ---- Losses and metrics. */
typedef enum { TQ_LOSS_SPARSE_XENT = 0, TQ_LOSS_CATEGORICAL_XENT, TQ_LOSS_MSE } tq_loss;
tq_status tq_loss_parse(const char *s, tq_loss *out); /* sparse_categorical_crossentropy (sparse_ce),
                                                         categorical_crossentropy (ce), mse */
const char *tq_loss_name(tq_loss l);
/* Loss of a batch of model outputs and its gradient (dout may be NULL). For cross-entropy the
 * outputs are logits (softmax is fused); for MSE the target is `target` (n, k) or, when NULL,
 * the input itself (autoencoders). Returns the mean loss; *correct counts right argmaxes. */
float tq_loss_forward_backward(tq_loss loss, float *dout, float *probs, const float *out,
                               const int *labels, const float *target, int n, int k, int *correct);
/* ROC AUC and partial AUC up to max_fpr (McClish-standardised when standardize), anomaly scores:
 * higher = more anomalous; labels 1 = anomaly. */
double tq_roc_auc(const float *scores, const int *labels, int n);
double tq_roc_pauc(const float *scores, const int *labels, int n, double max_fpr, int standardize);

/* ---- The training loop. */

/* What an epoch measured, for the per-epoch callback. NaN where not measured (accuracy under MSE,
 * validation metrics without validation data). */
typedef struct {
  float lr;                /* the epoch's learning rate */
  double loss, acc;        /* training loss (with the L2 term) and accuracy */
  double val_loss, val_acc;
  int improved;            /* the monitored value is the best so far */
} tq_epoch_metrics;

/* Called by tq_train after every finished epoch (0-based `epoch`), once the epoch's line is printed,
 * the training state updated and log.csv and the checkpoints written, and before early stopping ends
 * the run: the model holds the epoch's weights (and gradients of its last step). ctx is the config's
 * on_epoch_ctx. A status other than TQ_OK ends training with it. */
typedef tq_status (*tq_epoch_callback)(void *ctx, tq_model *m, int epoch, const tq_epoch_metrics *metrics);

typedef struct {
  int epochs;
  int batch;
  float lr;
  tq_schedule schedule;
  tq_optimizer optimizer;
  tq_loss loss;
  double val_split;        /* Keras validation_split: the last fraction of the training data */
  int shuffle;
  uint64_t seed;
  tq_augment augment;
  const char *out_dir;     /* run directory: log.csv, best.tqm, last.tqm; NULL = none */
  const char *monitor;     /* "val_loss" (default), "val_accuracy", "loss", "accuracy" */
  int early_stopping;      /* patience in epochs; 0 = off */
  int restore_best;        /* at the end, load the best weights back */
  int progress;            /* 1 = progress bar (terminal), 0 = one line per epoch, -1 = silent */
  long max_steps_per_epoch;/* 0 = all; for quick tests and searches */
  const char *meta_extra;  /* JSON object merged into checkpoints' metadata (task description) */
  int freeze_bn_after;     /* QAT: folded batch norms keep their moving statistics from this
                              0-based epoch on (0 = never update them); -1 = always update */
  int freeze_ranges_after; /* QAT: from this 0-based epoch on, activation slots quantize with static
                              scales fixed from their moving-average ranges, as deployed (SPEC §6);
                              -1 = per-batch scales throughout */
  tq_epoch_callback on_epoch; /* NULL = none */
  void *on_epoch_ctx;
} tq_train_config;

void tq_train_config_defaults(tq_train_config *c);

typedef struct {
  int epochs_done;         /* completed epochs (resume point) */
  long step;               /* optimizer steps taken */
  double best;             /* best monitored value so far */
  int best_epoch;          /* 1-based epoch of the best value, 0 = none */
  int wait;                /* epochs without improvement */
  int stopped_early;
  double last_loss, last_acc, last_val_loss, last_val_acc;
  double seconds;
} tq_train_state;

void tq_train_state_init(tq_train_state *s, const tq_train_config *c);
/* Trains from state (epochs_done > 0 resumes). val may be NULL or empty. */
tq_status tq_train(tq_model *m, const tq_dataset *train, const tq_dataset *val,
                   const tq_train_config *c, tq_train_state *state);

/* Mean loss and accuracy of the model on d (inference mode). */
tq_status tq_evaluate(tq_model *m, const tq_dataset *d, tq_loss loss, int batch, double *loss_out,
                      double *acc_out);

/* Metadata JSON for checkpoints: the training state and config, plus extra. */
char *tq_train_meta_json(const tq_train_config *c, const tq_train_state *s);
tq_status tq_train_meta_parse(const char *json, tq_train_state *s);

#endif
