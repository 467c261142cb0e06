/* Per-layer, per-epoch statistics while training (tinyq train --layer-stats; SPEC §7): what each
 * epoch did to every weighted layer's kernel and how far quantization is from it, appended to the
 * run directory's layers.csv, with a warning line when a layer's updates vanish or explode; and
 * per-epoch checkpoints (epoch-NNN.tqm) for tinyq diff. It hooks into tq_train through
 * tq_train_config.on_epoch and keeps its own snapshot of the kernels at the start of each epoch. */
#ifndef TINYQ_LAYER_STATS_H
#define TINYQ_LAYER_STATS_H

#include <stdio.h>

#include "tinyq/train.h"

/* The warning rules: an epoch's updates of a layer vanish when every |Δw| is below
 * TQ_VANISH_DW (or, for a quantized kernel, no code changed); they explode when
 * ||ΔW|| / ||W|| exceeds TQ_EXPLODE_RATIO. */
#define TQ_VANISH_DW 1e-4
#define TQ_EXPLODE_RATIO 1.0

/* ||after - before|| / ||before|| (inf when before is 0 and after is not, 0 when both are), and
 * the share of exact zeros in after (tinyq diff's weight-update ratio). */
double tq_update_ratio(const float *before, const float *after, size_t n, double *zeros);

/* One row of layers.csv: a weighted layer's kernel (activation 0) or an activation slot on the
 * probe batch (activation 1; only sqnr_db and clip_fraction). NaN: not measured (no quantizer, a
 * float model, no probe batch). */
typedef struct {
  int epoch;             /* 0-based, as log.csv */
  char layer[64];
  int activation;
  double sparsity;       /* exact zeros in the kernel after the epoch */
  double zero_codes;     /* values of the quantized (folded) kernel whose code is 0 */
  double mean_abs_dw, max_abs_dw; /* of the kernel over the epoch */
  double update_ratio;   /* ||ΔW|| / ||W at the epoch's start|| */
  double codes_changed;  /* share of the quantized kernel's codes that differ from the epoch's start */
  double grad_norm;      /* ||dL/dW|| of the epoch's last optimizer step (L2 term included) */
  double sqnr_db;        /* tq_quanterr's SQNR of the folded kernel, or of the slot on the probe batch */
  double clip_fraction;  /* tq_quanterr's share of values clipped */
} tq_layer_stat;

/* The kernel columns of a row from the kernel at the epoch's start and end. */
void tq_layer_stat_kernel(tq_layer_stat *row, const float *before, const float *after, size_t n);

typedef struct {
  int stats;             /* layers.csv and the warnings (0: only the checkpoints below) */
  int save_every;        /* keep epoch-NNN.tqm (NNN: epochs done) every E epochs; 0 = never */
  const float *probe_x;  /* the fixed probe batch for the activation slots (may be NULL) */
  int probe_n;
  FILE *log;             /* where warnings go (NULL: nowhere) */
} tq_layer_stats_options;

typedef struct tq_layer_stats tq_layer_stats;

/* Snapshots m as the start of epoch first_epoch (0-based). With out_dir, layers.csv keeps the rows
 * of earlier epochs (a resume) and drops the rest. The probe batch is copied. */
tq_status tq_layer_stats_create(tq_layer_stats **out, tq_model *m, const char *out_dir, int first_epoch,
                                const tq_layer_stats_options *o);
/* The epoch just finished: its rows (layers.csv rewritten whole, atomically), the warnings, the
 * checkpoint; then m becomes the next epoch's start. meta_json goes into the checkpoint. */
tq_status tq_layer_stats_epoch(tq_layer_stats *s, tq_model *m, int epoch, const char *meta_json);
/* The last epoch's rows (valid until the next epoch or free). */
const tq_layer_stat *tq_layer_stats_rows(const tq_layer_stats *s, int *n);
/* Wall-clock seconds spent in tq_layer_stats_epoch so far. */
double tq_layer_stats_seconds(const tq_layer_stats *s);
/* create, then chained before c's current on_epoch (the statistics see each epoch's weights
 * before the next callback runs); c must outlive training. */
tq_status tq_layer_stats_attach(tq_layer_stats **out, tq_model *m, tq_train_config *c, int first_epoch,
                                const tq_layer_stats_options *o);
void tq_layer_stats_free(tq_layer_stats *s);

#endif
