#include "models/zoo_internal.h"

tq_model *tq_zoo_check(tq_model *m, int last) {
  if (last < 0) {
    tq_model_free(m);
    return NULL;
  }
  return m;
}
