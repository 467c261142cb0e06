/* --static ema | calib:N [--range full|spec]: fixing activation scales for deployment (SPEC §6),
 * shared by eval and export. */
#ifndef TINYQ_CLI_STATIC_SCALES_H
#define TINYQ_CLI_STATIC_SCALES_H
#include "tinyq/data.h"
#include "tinyq/model.h"

/* spec NULL: leaves the model as it is (static scales stored in the file stay). data/scaling name
 * the calibration data (training split). calib (may be NULL) receives the calibration samples when
 * data was loaded (else it stays empty; the caller frees it). Returns 0 or prints the error and
 * returns the exit code. */
int tq_cli_static_scales(tq_model *m, const char *spec, const char *range, const char *data,
                         const char *scaling, tq_dataset *calib);
#endif
