/* Loads a model file and runs inference: the predicted class of the first test samples and the
 * accuracy over them.
 *   infer MODEL.tqm [DATA [N]]   (fashion-mnist, 1000 samples)
 * Build against the installed library:
 *   cc infer.c $(pkg-config --cflags --libs tinyq) -o infer */
#include <stdio.h>
#include <stdlib.h>

#include <tinyq/data.h>
#include <tinyq/model.h>

enum { BATCH = 100 };

static int argmax(const float *v, int k) {
  int best = 0;
  for (int j = 1; j < k; j++)
    if (v[j] > v[best]) best = j;
  return best;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: infer MODEL.tqm [DATA [N]]\n");
    return 2;
  }
  const char *data = argc > 2 ? argv[2] : "fashion-mnist";
  int limit = argc > 3 ? atoi(argv[3]) : 1000;
  tq_model *m = NULL;
  char *meta = NULL;
  tq_dataset d;
  if (tq_model_load(argv[1], &m, &meta, BATCH) || tq_dataset_load(&d, data, 0, TQ_SCALE_UNIT)) {
    fprintf(stderr, "infer: %s\n", tq_last_error());
    return 1;
  }
  tq_shape3 in = tq_model_input_shape(m);
  int k = (int)tq_shape_size(tq_model_output_shape(m));
  if (in.h != d.h || in.w != d.w || in.c != d.c || k != d.classes) {
    fprintf(stderr, "infer: %s takes %dx%dx%d -> %d classes, the data is %dx%dx%d, %d classes\n",
            argv[1], in.h, in.w, in.c, k, d.h, d.w, d.c, d.classes);
    return 1;
  }
  printf("tinyq %s: %s (%s, %zu parameters)\n", tq_version(), argv[1], tq_model_arch(m),
         tq_model_params(m));
  int n = limit < d.n ? limit : d.n, right = 0;
  size_t sample = tq_shape_size(in);
  for (int start = 0; start < n; start += BATCH) {
    int b = n - start < BATCH ? n - start : BATCH;
    const float *out = tq_model_forward(m, d.x + (size_t)start * sample, b, 0, NULL);
    if (!out) {
      fprintf(stderr, "infer: %s\n", tq_last_error());
      return 1;
    }
    for (int i = 0; i < b; i++) {
      int p = argmax(out + (size_t)i * k, k);
      right += p == d.y[start + i];
      if (start + i < 5) printf("sample %d: class %d (label %d)\n", start + i, p, d.y[start + i]);
    }
  }
  printf("accuracy %.4f on %d test samples\n", (double)right / n, n);
  tq_free(meta);
  tq_model_free(m);
  tq_dataset_free(&d);
  return 0;
}
