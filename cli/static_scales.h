/* --static ema | calib:N [--range full|spec]: fixing activation scales for deployment (SPEC §6),
 * shared by eval and export. */
#ifndef TINYQ_CLI_STATIC_SCALES_H
#define TINYQ_CLI_STATIC_SCALES_H
#include "tinyq/model.h"

/* spec NULL: leaves the model as it is (static scales stored in the file stay). data/scaling name
 * the calibration data (training split). Returns 0 or prints the error and returns the exit code. */
int tq_cli_static_scales(tq_model *m, const char *spec, const char *range, const char *data,
                         const char *scaling);
#endif
