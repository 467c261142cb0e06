/* The printer's round-trip property, shared by the quantizer-string tests. */
#ifndef TQ_TEST_QUANT_REPRINT_H
#define TQ_TEST_QUANT_REPRINT_H
#include <string.h>

#include "tinyq/quant.h"

/* `printed`, the string of q, must parse back to an equal quantizer that prints the same.
 * Returns 1 if so; 0 if it does not parse back to q; -1 if it reprints differently (into
 * reprint, cap bytes). */
static int tq_test_reprints(const tq_quantizer *q, const char *printed, char *reprint, size_t cap) {
  tq_quantizer r;
  if (tq_quantizer_parse(&r, printed) != TQ_OK || !tq_quantizer_equal(q, &r)) return 0;
  tq_quantizer_format(&r, reprint, cap);
  return strcmp(printed, reprint) == 0 ? 1 : -1;
}
#endif
