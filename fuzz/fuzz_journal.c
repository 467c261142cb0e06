/* libFuzzer target: the search journal, trials.jsonl (src/search/journal.c), through
 * tq_journal_load as `tinyq search --resume` calls it. Input: a 5-byte prefix, then the file.
 *   byte 0   bits 0-2: dimensions (mod 5), bit 3: repair (cut a torn last line off the file),
 *            bit 4: no option counts (no range check)
 *   byte 1-4 option counts of the dimensions (1 + byte mod 8)
 * Invariants: a refused journal gives an error naming the file; an accepted one has records with
 * the right number of choices, each within its count; written back out one record a line
 * (tq_trial_record_json), they load again to the same lines and nothing torn; after a repair the
 * file loads with nothing torn and the same records. */
#include "fuzz_common.h"
#include "tinyq/search.h"

static char path[300], path2[300];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_setup();
  fuzz_path(path, sizeof path, "trials.jsonl");
  fuzz_path(path2, sizeof path2, "rewritten.jsonl");
  return 0;
}

/* All records as lines, malloc'd. */
static char *lines_of(const tq_trial_record *r, int n, size_t *len) {
  size_t cap = 256, k = 0;
  char *out = malloc(cap);
  FUZZ_CHECK(out != NULL, "out of memory");
  for (int i = 0; i < n; i++) {
    char *j = tq_trial_record_json(&r[i]);
    FUZZ_CHECK(j != NULL, "record %d: no JSON: %s", i, tq_last_error());
    size_t l = strlen(j);
    FUZZ_CHECK(memchr(j, '\n', l) == NULL, "record %d: JSON with a newline", i);
    while (k + l + 2 > cap) {
      cap *= 2;
      out = realloc(out, cap);
      FUZZ_CHECK(out != NULL, "out of memory");
    }
    memcpy(out + k, j, l);
    k += l;
    out[k++] = '\n';
    free(j);
  }
  out[k] = 0;
  *len = k;
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 5 || size > (1u << 16)) return 0;
  int ndims = (data[0] & 7) % 5, repair = (data[0] >> 3) & 1, nocounts = (data[0] >> 4) & 1;
  int counts[4];
  for (int k = 0; k < 4; k++) counts[k] = 1 + data[1 + k] % 8;
  const int *cnt = nocounts ? NULL : counts;
  fuzz_write(path, data + 5, size - 5);

  tq_trial_record *r = NULL;
  int n = 0, torn = 0;
  tq_status st = tq_journal_load(path, ndims, cnt, repair, &r, &n, &torn);
  if (st != TQ_OK) {
    FUZZ_CHECK(strncmp(tq_last_error(), path, strlen(path)) == 0, "message without the file: %s",
               tq_last_error());
    FUZZ_CHECK(r == NULL && n == 0, "refused but returned records");
    FUZZ_CHECK(!strchr(tq_last_error(), '\n'), "message of several lines: %s", tq_last_error());
    return 0;
  }
  for (int i = 0; i < n; i++) {
    FUZZ_CHECK(r[i].ndims == ndims, "record %d: %d choices, want %d", i, r[i].ndims, ndims);
    FUZZ_CHECK(r[i].status == TQ_TRIAL_OK || r[i].status == TQ_TRIAL_FAILED ||
                   r[i].status == TQ_TRIAL_STARTED,
               "record %d: status %d", i, (int)r[i].status);
    for (int k = 0; k < ndims; k++)
      FUZZ_CHECK(r[i].choice[k] >= 0 && (!cnt || r[i].choice[k] < cnt[k]),
                 "record %d: choice %d = %d", i, k, r[i].choice[k]);
  }
  size_t len;
  char *text = lines_of(r, n, &len);
  fuzz_write(path2, text, len);
  tq_trial_record *r2 = NULL;
  int n2 = 0, torn2 = 0;
  FUZZ_CHECK(tq_journal_load(path2, ndims, cnt, 0, &r2, &n2, &torn2) == TQ_OK,
             "the rewritten journal is refused: %s\n%s", tq_last_error(), text);
  FUZZ_CHECK(n2 == n && !torn2, "rewritten: %d records (torn %d), was %d", n2, torn2, n);
  size_t len2;
  char *text2 = lines_of(r2, n2, &len2);
  FUZZ_CHECK(len == len2 && memcmp(text, text2, len) == 0, "records change when rewritten:\n%s\n%s",
             text, text2);
  free(text2);
  tq_journal_free(r2, n2);
  if (torn && repair) {
    int n3 = 0, torn3 = 1;
    tq_trial_record *r3 = NULL;
    FUZZ_CHECK(tq_journal_load(path, ndims, cnt, 0, &r3, &n3, &torn3) == TQ_OK,
               "the repaired journal is refused: %s", tq_last_error());
    FUZZ_CHECK(n3 == n && !torn3, "repaired: %d records (torn %d), was %d", n3, torn3, n);
    tq_journal_free(r3, n3);
  }
  free(text);
  tq_journal_free(r, n);
  return 0;
}
