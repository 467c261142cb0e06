/* Per-epoch learning-rate schedules. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tinyq/train.h"

static int parse_float(const char *s, char **end, float *out) {
  *out = strtof(s, end);
  return *end != s && isfinite(*out) && *out > 0;
}

tq_status tq_schedule_parse(const char *s, tq_schedule *out) {
  memset(out, 0, sizeof *out);
  if (strcmp(s, "constant") == 0) return TQ_OK;
  char *end;
  if (strncmp(s, "exp:", 4) == 0) {
    out->kind = TQ_SCHED_EXP;
    if (!parse_float(s + 4, &end, &out->rate) || *end)
      return tq_fail(TQ_ERR_ARG, "schedule '%s': expected exp:RATE with RATE > 0", s);
    return TQ_OK;
  }
  if (strncmp(s, "piecewise:", 10) == 0) {
    out->kind = TQ_SCHED_PIECEWISE;
    const char *p = s + 10;
    for (;;) {
      if (out->npieces == TQ_MAX_PIECES)
        return tq_fail(TQ_ERR_ARG, "schedule '%s': more than %d pieces", s, TQ_MAX_PIECES);
      float lr;
      if (!parse_float(p, &end, &lr))
        return tq_fail(TQ_ERR_ARG, "schedule '%s': bad learning rate at '%s'", s, p);
      out->lrs[out->npieces] = lr;
      if (*end == '@') {
        long e = strtol(end + 1, &end, 10);
        if (e < 1 || (*end != ',' && *end))
          return tq_fail(TQ_ERR_ARG, "schedule '%s': bad epoch count after '@'", s);
        out->epochs[out->npieces++] = (int)e;
        if (!*end)
          return tq_fail(TQ_ERR_ARG, "schedule '%s': the last piece needs no '@EPOCHS'", s);
        p = end + 1;
      } else if (*end == 0) {
        out->epochs[out->npieces++] = 0; /* forever */
        return TQ_OK;
      } else {
        return tq_fail(TQ_ERR_ARG, "schedule '%s': expected '@EPOCHS' or ',' at '%s'", s, end);
      }
    }
  }
  return tq_fail(TQ_ERR_ARG,
                 "unknown schedule '%s' (expected constant, exp:RATE or "
                 "piecewise:LR@EPOCHS,...,LR)",
                 s);
}

float tq_schedule_lr(const tq_schedule *s, float base_lr, int epoch) {
  switch (s->kind) {
    case TQ_SCHED_CONSTANT:
      return base_lr;
    case TQ_SCHED_EXP:
      return (float)(base_lr * pow(s->rate, epoch));
    case TQ_SCHED_PIECEWISE: {
      int start = 0;
      for (int i = 0; i < s->npieces; i++) {
        if (s->epochs[i] == 0 || epoch < start + s->epochs[i]) return s->lrs[i];
        start += s->epochs[i];
      }
      return s->lrs[s->npieces - 1];
    }
  }
  return base_lr;
}

void tq_schedule_format(const tq_schedule *s, char *buf, size_t n) {
  if (s->kind == TQ_SCHED_EXP) {
    snprintf(buf, n, "exp:%g", s->rate);
  } else if (s->kind == TQ_SCHED_PIECEWISE) {
    size_t o = (size_t)snprintf(buf, n, "piecewise:");
    for (int i = 0; i < s->npieces && o < n; i++) {
      if (s->epochs[i])
        o += (size_t)snprintf(buf + o, n - o, "%g@%d,", s->lrs[i], s->epochs[i]);
      else
        o += (size_t)snprintf(buf + o, n - o, "%g", s->lrs[i]);
    }
  } else {
    snprintf(buf, n, "constant");
  }
}
