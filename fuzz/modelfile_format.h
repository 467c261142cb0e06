/* The model-file harness's input format, shared with its seed generator.
 *
 * A model file ends in a CRC-32 of everything before it and carries its header and payload
 * lengths, so almost every mutation of a real file dies at the checksum. The harness therefore
 * takes its input in one of two forms:
 *   - starting with '{': the header JSON, then (after the first NUL byte, if any) the payload;
 *     the harness assembles magic, version, lengths and CRC around them, so every mutation
 *     reaches the JSON parser and the graph rebuild;
 *   - anything else: written as it is (the magic, version, length and checksum checks). */
#ifndef TINYQ_FUZZ_MODELFILE_FORMAT_H
#define TINYQ_FUZZ_MODELFILE_FORMAT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tinyq/core.h"

static inline void mf_put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void mf_put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t mf_get_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A model file from header JSON and payload (malloc'd; NULL when out of memory). */
static inline unsigned char *mf_assemble(const unsigned char *json, size_t jlen,
                                         const unsigned char *payload, size_t plen,
                                         size_t *size) {
  *size = 16 + jlen + 8 + plen + 4;
  unsigned char *b = malloc(*size);
  if (!b) return NULL;
  memcpy(b, "TINYQMDL", 8);
  mf_put_u32(b + 8, 1);
  mf_put_u32(b + 12, (uint32_t)jlen);
  if (jlen) memcpy(b + 16, json, jlen);
  mf_put_u64(b + 16 + jlen, plen);
  if (plen) memcpy(b + 16 + jlen + 8, payload, plen);
  mf_put_u32(b + *size - 4, tq_crc32(0, b, *size - 4));
  return b;
}

#endif
