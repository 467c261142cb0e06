/* The dataset registry: the sources a spec "NAME[:ARG]" can name, and tq_dataset_load. A new
 * source is one loader and one row here. */
#include <stdio.h>
#include <string.h>

#include "tinyq/audio.h"
#include "tinyq/data.h"

static const tq_dataset_source sources[] = {
    {"fashion-mnist", "fashion-mnist[:DIR]", "Fashion-MNIST IDX files (28x28x1, 10 classes); DIR by default:",
     1, "/usr/share/datasets/fashion-mnist", tq_dataset_load_mnist},
    {"mnist", "mnist:DIR", "MNIST IDX files: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]", 1, NULL,
     tq_dataset_load_mnist},
    {"cifar10", "cifar10:DIR", "CIFAR-10 binary batches (32x32x3, 10 classes): data_batch_1..5.bin, test_batch.bin",
     1, NULL, tq_dataset_load_cifar10},
    {"imagefolder", "imagefolder:DIR[:HxW][:strict][:nocache]",
     "JPEG/PNG image folders, one sub-folder per class (optional train/ val/ test/), resized to HxW (96x96) x 3",
     1, NULL, tq_dataset_load_imagefolder},
    {"noise", "noise:HxWxC[:CLASSES]", "standard-normal samples, uniform labels: for speed and size, not accuracy",
     0, NULL, tq_dataset_load_noise},
    {"speech-commands", "speech-commands:DIR",
     "Speech Commands v2 layout: word folders, _background_noise_/, validation_list.txt, testing_list.txt "
     "(MFCC 49x10x1, 12 classes)", 1, NULL, tq_dataset_load_speech_commands},
    {"dcase", "dcase:DIR/MACHINE",
     "DCASE 2020 task 2 machine folder: train/normal_id_XX_*.wav, test/{normal,anomaly}_id_XX_*.wav "
     "(log-mel 1x1x640, 196 rows per clip)", 1, NULL, tq_dataset_load_dcase},
};

int tq_dataset_source_count(void) { return (int)(sizeof sources / sizeof sources[0]); }

const tq_dataset_source *tq_dataset_source_get(int i) {
  return i >= 0 && i < tq_dataset_source_count() ? &sources[i] : NULL;
}

const tq_dataset_source *tq_dataset_source_find(const char *spec) {
  size_t len = strcspn(spec ? spec : "", ":");
  for (int i = 0; i < tq_dataset_source_count(); i++)
    if (strlen(sources[i].name) == len && !strncmp(sources[i].name, spec, len)) return &sources[i];
  return NULL;
}

void tq_dataset_source_list(char *buf, size_t n, const char *sep) {
  size_t used = 0;
  buf[0] = 0;
  for (int i = 0; i < tq_dataset_source_count() && used < n; i++)
    used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? sep : "", sources[i].spec);
}

tq_status tq_dataset_load(tq_dataset *out, const char *spec, int train_split,
                          tq_input_scaling scaling) {
  memset(out, 0, sizeof *out);
  if (!spec) spec = "";
  if (scaling < TQ_SCALE_UNIT || scaling > TQ_SCALE_CENTERED)
    return tq_fail(TQ_ERR_ARG, "%s: bad input scaling %d", spec, (int)scaling);
  const tq_dataset_source *s = tq_dataset_source_find(spec);
  const char *colon = strchr(spec, ':'), *arg = colon ? colon + 1 : NULL;
  if (!s) {
    char known[256];
    tq_dataset_source_list(known, sizeof known, ", ");
    return tq_fail(TQ_ERR_ARG, "unknown dataset '%.*s' (expected %s)", (int)strcspn(spec, ":"), spec, known);
  }
  if (s->needs_dir && arg && !*arg) return tq_fail(TQ_ERR_ARG, "dataset '%s': empty directory after ':'", spec);
  if (s->needs_dir && !arg) {
    if (!s->default_dir) return tq_fail(TQ_ERR_ARG, "dataset '%s' needs a directory (%s)", s->name, s->spec);
    arg = s->default_dir;
  }
  return s->load(out, arg, train_split, scaling);
}
