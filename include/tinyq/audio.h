/* Audio input and features (SPEC §3): WAV files through libsndfile, MFCC and log-mel through FFTW.
 * Sample rate 16 kHz mono everywhere; nothing is resampled or down-mixed. */
#ifndef TINYQ_AUDIO_H
#define TINYQ_AUDIO_H

#include <stddef.h>

#include "tinyq/core.h"
#include "tinyq/data.h"
#include "tinyq/train.h"

enum { TQ_AUDIO_RATE = 16000 };

/* ---- WAV input. */
typedef struct {
  float *x;      /* n samples, tq_alloc'd: 16-bit PCM as int16 / 32768, float as stored */
  size_t n;      /* samples read: min(length, read_len) */
  size_t length; /* samples the file holds */
} tq_wav;

/* Reads a mono 16 kHz WAV of 16-bit PCM or 32-bit float samples. Refused, each with a one-line
 * message naming the file: not a WAV (or a truncated header), another sample rate, several
 * channels, another sample format (8-, 24-, 32-bit PCM, double, compressed), no samples, more than
 * max_len samples (decided from the header: nothing is read), float samples that are not finite
 * or beyond ±1000. A data chunk cut short reads as the samples present (libsndfile's way). Only the
 * first read_len samples are read, so memory stays bounded by read_len whatever the file's size.
 * On failure *out is zeroed. Safe to call from several threads at once. */
tq_status tq_wav_read(tq_wav *out, const char *path, size_t read_len, size_t max_len);
void tq_wav_free(tq_wav *w); /* frees x, zeroes *w; safe on a zeroed tq_wav */

/* Writes mono 16 kHz 16-bit PCM (samples clipped to [-1, 1], scaled by 32767, rounded). For tests
 * and examples. */
tq_status tq_wav_write_pcm16(const char *path, const float *x, size_t n);

/* ---- Features (SPEC §3). One context per kind holds the FFT plan, window, mel filterbank and
 * DCT, built once; computing reads it only, so one context serves any number of threads. */
typedef enum {
  TQ_FEATURES_MFCC = 0, /* keyword spotting: 16,000 samples -> 49 frames x 10 coefficients */
  TQ_FEATURES_LOGMEL,   /* anomaly detection: a 10 s clip -> 196 vectors of 5 x 128 log-mel */
  TQ_FEATURES_KIND_COUNT
} tq_feature_kind;

typedef struct tq_features tq_features;

tq_status tq_features_create(tq_features **out, tq_feature_kind kind);
void tq_features_free(tq_features *f); /* safe on NULL */
tq_feature_kind tq_features_kind(const tq_features *f);
const char *tq_features_name(tq_feature_kind kind); /* "mfcc" | "logmel" */

/* Output shape: rows x cols floats (MFCC 49 x 10 time first; log-mel 196 x 640, each row five
 * consecutive frames of 128 bands, frame first). */
int tq_features_rows(const tq_features *f);
int tq_features_cols(const tq_features *f);
/* Samples the computation reads (MFCC 16,000; log-mel 128,000: frames 50..249 end there) and the
 * fewest it accepts (MFCC 16,000; log-mel 127,488, the shortest clip with a frame 249). Longer
 * input is fine; samples past samples_used do not change the result. */
size_t tq_features_samples_used(const tq_features *f);
size_t tq_features_samples_min(const tq_features *f);

/* out (rows x cols) = the features of x[0..n). Errors: n below samples_min, out of memory. */
tq_status tq_features_compute(const tq_features *f, const float *x, size_t n, float *out);

/* ---- Keyword clips (SPEC §3, as MLPerf Tiny prepares them). */
enum { TQ_KWS_CLIP = 16000 };
/* out = x divided by its largest sample (the signed maximum, MLPerf's reduce_max; a clip whose
 * maximum is not positive, e.g. digital silence, is left unscaled; one whose negative samples
 * exceed it 65536 times over, which 16-bit PCM cannot, by its largest magnitude, so that the
 * result stays finite),
 * zero-padded or cut to 16,000. */
void tq_kws_clip(float out[TQ_KWS_CLIP], const float *x, size_t n);
/* Background mixing: clip[i] = clamp(clip[i] + volume * noise[i], -1, 1) over 16,000 samples. */
void tq_kws_mix(float clip[TQ_KWS_CLIP], const float *noise, float volume);

/* ---- Speech Commands (SPEC §3): DIR/<word>/<clip>.wav, DIR/_background_noise_/<noise>.wav,
 * DIR/validation_list.txt, DIR/testing_list.txt ("<word>/<file>.wav" lines).
 * Classes in SPEC order: down go left no off on right stop up yes, silence, unknown. */
enum { TQ_KWS_CLASSES = 12, TQ_KWS_SILENCE = 10, TQ_KWS_UNKNOWN = 11 };
const char *tq_kws_class_name(int c);

typedef struct tq_kws_set tq_kws_set;
typedef struct {
  int rows[TQ_KWS_CLASSES]; /* rows of the split per class */
  int other_folders;        /* word folders outside the 12 classes (their clips are "unknown") */
  char other_names[512];    /* their names, comma-separated (cut short with "..." when long) */
  int unknown_pool;         /* clips of those folders in the split, before sampling */
  int noise_files;
} tq_kws_summary;

/* Indexes one split (train_split 1: clips in neither list; 0: testing_list.txt) as MLPerf Tiny /
 * TensorFlow's speech_commands input_data does: every clip of the ten words; silence rows, 10 % of
 * that count, cut from the background noises; unknown rows, 10 % of it, sampled from the other
 * words' clips. validation_list.txt clips belong to neither split (validation is the study's 90/10
 * tail split of the training rows). Training rows come in a fixed shuffled order (so that a tail
 * split is a random tenth), test rows in file order. Noise files are read here: each must hold at
 * least 10 s; training rows cut and mix from their first 90 %, test rows from the last 10 %.
 * Errors name the file or folder: missing list file, missing or empty _background_noise_, no
 * keyword clips in the split, a list entry that is not "<word>/<file>". */
tq_status tq_kws_open(tq_kws_set **out, const char *dir, int train_split);
void tq_kws_close(tq_kws_set *s); /* safe on NULL */
const tq_kws_summary *tq_kws_summary_of(const tq_kws_set *s);
/* The rows' MFCCs (49 x 10 x 1 each, clip / max, zero-padded, no noise) and labels. Clips are
 * read with tq_wav_read (at most 1 s each: a longer clip is refused). */
tq_status tq_kws_features(const tq_kws_set *s, tq_dataset *out);
/* The 16-bit PCM the row's features are computed from, before tq_kws_clip scales it: the word
 * clip zero-padded to 16,000 samples, or the silence row's cut of background noise (test rows take
 * it unmixed and unscaled). A float WAV sample that is not exactly k / 32768 is refused, naming the
 * file and sample: no int16 clip gives that row's features. */
tq_status tq_kws_pcm(const tq_kws_set *s, int row, int16_t pcm[TQ_KWS_CLIP]);
/* Rows 0..rows-1 as tq_kws_pcm gives them, back to back as int16 little-endian (32,000 bytes a
 * row), written to path atomically (tq_atomic_open: "-" is stdout); on an error nothing is left. */
tq_status tq_kws_write_pcm(const tq_kws_set *s, int rows, const char *path);
/* Background mixing, fresh every epoch (the trainer's batch hook): for each rows[i] (a row of the
 * training split), with probability 0.8 recomputes x's 490 values of row i from its clip mixed
 * with a random stretch of a random noise at volume U(0, 0.1), clipped to [-1, 1]; otherwise x is
 * left alone (the cached unmixed features). The draws depend on (seed, epoch, row) only. */
tq_status tq_kws_mix_batch(const tq_kws_set *s, float *x, const int *rows, int n, int epoch,
                           uint64_t seed);

/* Per-epoch mixing of a training run's rows: train holds the first train->n rows of the
 * "speech-commands:DIR" training split as loaded (a Keras tail split and --train-limit keep a
 * prefix); their unmixed features are copied aside, and tq_kws_mixer_epoch rewrites train->x
 * with the given epoch's mix (rows not mixed get their unmixed features back). */
typedef struct tq_kws_mixer tq_kws_mixer;
tq_status tq_kws_mixer_create(tq_kws_mixer **out, const char *dir, tq_dataset *train, uint64_t seed);
tq_status tq_kws_mixer_epoch(tq_kws_mixer *mx, int epoch);
void tq_kws_mixer_free(tq_kws_mixer *mx); /* safe on NULL */
/* For a training run on "speech-commands:DIR": creates the mixer (seed c->seed), mixes train for
 * first_epoch, and chains itself before c's per-epoch callback so that each finished epoch mixes
 * the next. Writes one line about the split to log: rows per class, the word folders that go to
 * unknown, the mixing. */
tq_status tq_kws_mixer_attach(tq_kws_mixer **out, const char *dir, tq_dataset *train, tq_train_config *c,
                              int first_epoch, FILE *log);

/* The registry's "speech-commands:DIR" (scaling does not apply to audio). */
tq_status tq_dataset_load_speech_commands(tq_dataset *out, const char *dir, int train_split,
                                          tq_input_scaling scaling);

/* ---- DCASE 2020 task 2 (SPEC §3): MACHINE_DIR/train/normal_id_XX_<n>.wav and
 * MACHINE_DIR/test/{normal,anomaly}_id_XX_<n>.wav, at least 127,488 samples (7.97 s) each.
 * Rows are the 196 log-mel vectors (1 x 1 x 640) of each file, files in name order.
 * Training split: the normal clips, unlabelled (an auto-encoder's target is its input).
 * Test split: y = 2 * XX + (1 for anomaly_, 0 for normal_), the same for a file's 196 rows. */
enum { TQ_DCASE_VECTORS = 196 };
tq_status tq_dataset_load_dcase(tq_dataset *out, const char *machine_dir, int train_split,
                                tq_input_scaling scaling);

/* Per machine id of a DCASE test split: a file's score is the mean of its rows' errors (the
 * caller's per-row mean squared reconstruction error). AUC and pAUC (FPR <= 0.1, McClish) are NaN
 * when the id has no anomalous or no normal file (undefined). */
typedef struct {
  int id;
  int normal, anomalous; /* files */
  double auc, pauc;
} tq_dcase_score;
/* row_err, y: rows entries (rows a multiple of 196). Fills out[0..*n_ids) in id order. */
tq_status tq_dcase_scores(const float *row_err, const int *y, int rows, tq_dcase_score *out,
                          int max_ids, int *n_ids);
/* The auto-encoder m (inference mode) over a DCASE test split, batch rows at a time: each row's
 * mean squared reconstruction error, then tq_dcase_scores. */
struct tq_model;
tq_status tq_dcase_evaluate(struct tq_model *m, const tq_dataset *test, int batch, tq_dcase_score *out,
                            int max_ids, int *n_ids);
/* One line per id ("id 01: AUC 0.9512  pAUC 0.8120  (13 normal, 13 anomalous files)", or why it
 * is undefined), then the mean over the ids where both are defined. */
void tq_dcase_print(FILE *f, const tq_dcase_score *s, int n_ids);
/* The auto-encoder's mean squared reconstruction error of every row of `test` (*err: test->n
 * values, freed with tq_free). */
tq_status tq_dcase_row_errors(struct tq_model *m, const tq_dataset *test, int batch, float **err);
/* Per file (196 rows each): the mean of its rows' errors and its label (malloc'd; free()). */
tq_status tq_dcase_file_scores(const float *row_err, const int *y, int rows, float **score, int **label);
/* The ROC curve of every id with normal and anomalous files, as CSV (id,fpr,tpr,auc: one row per
 * threshold, the id's AUC repeated), written atomically to path. */
tq_status tq_dcase_roc_write(const char *path, const float *row_err, const int *y, int rows);
/* tq_dcase_evaluate then tq_dcase_print to stdout, for up to 100 ids, and the ROC curves to roc_csv
 * (NULL: none); a split without labels (training: normal clips only) prints that AUC is undefined. */
tq_status tq_dcase_report(struct tq_model *m, const tq_dataset *d, int batch, const char *roc_csv);

/* AUC and pAUC per id on `test` (a DCASE test split, kept alive by the caller) after every epoch
 * of a training run: a line on stdout, and rows epoch,id,auc,pauc appended to csv_path (NULL:
 * none). Chains before c's own per-epoch callback. Reported only: best.tqm does not follow it. */
typedef struct tq_dcase_monitor tq_dcase_monitor;
tq_status tq_dcase_monitor_attach(tq_dcase_monitor **out, const tq_dataset *test, tq_train_config *c,
                                  const char *csv_path);
void tq_dcase_monitor_free(tq_dcase_monitor *mon); /* safe on NULL */

#endif
