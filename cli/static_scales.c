#include "static_scales.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "task.h"

int tq_cli_static_scales(tq_model *m, const char *spec, const char *range, const char *data,
                         const char *scaling, tq_dataset *calib) {
  tq_range_mode mode = TQ_RANGE_SPEC;
  if (range && !strcmp(range, "full")) mode = TQ_RANGE_FULL;
  else if (range && strcmp(range, "spec"))
    return tq_cli_usage_error("--range: expected spec or full, got '%s'", range);
  if (!spec) {
    if (range && tq_model_is_static(m) && tq_model_set_static(m, 1, mode))
      return tq_cli_error("%s", tq_last_error());
    return 0;
  }
  if (!tq_model_is_quantized(m))
    return tq_cli_usage_error("--static: the model has no activation quantizers (train with --quant or --flat)");
  long n = 512;
  int ema = !strcmp(spec, "ema");
  if (!ema) {
    char *end;
    if (strncmp(spec, "calib:", 6) != 0 || (n = strtol(spec + 6, &end, 10), end == spec + 6) ||
        *end || n < 1 || n > 1000000)
      return tq_cli_usage_error("--static: expected ema or calib:N with N in 1..1000000, got '%s'",
                                spec);
  }
  if (!data && !ema) return tq_cli_usage_error("--static calib:N needs --data");
  /* With ema the slots take their moving averages, first, so that calibration sees what their
   * static scales make of the data (tensors without a quantizer keep the calibrated range, which
   * deployment needs); calib:N gives every tensor the range it sees with per-batch scales. */
  if (ema && (tq_model_ranges_from_ema(m) || tq_model_set_static(m, 1, mode)))
    return tq_cli_error("--static ema: %s", tq_last_error());
  if (data) {
    tq_dataset d = {0};
    if (tq_task_load_data(&d, data, 1, scaling)) return tq_cli_error("%s", tq_last_error());
    if (n > d.n) n = d.n;
    tq_status st = tq_model_calibrate(m, d.x, (int)n);
    if (!st && calib) st = tq_task_limit(&d, (int)n);
    if (!st && calib) {
      *calib = d;
    } else {
      tq_dataset_free(&d);
    }
    if (st) return tq_cli_error("--static: %s", tq_last_error());
  }
  if (ema && tq_model_ranges_from_ema(m)) return tq_cli_error("--static ema: %s", tq_last_error());
  if (tq_model_set_static(m, 1, mode)) return tq_cli_error("--static: %s", tq_last_error());
  return 0;
}
