/* The search journal: append / load round trip (exact scores), torn last lines (ignored, cut off),
 * damaged lines, failed trials; replay into a fresh tuner gives the uninterrupted run's next
 * suggestions (with failures and interrupted trials); Pareto front and top-k; settings round trip. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tinyq/search.h"
#include "tq_test.h"

#define ND 6
static const int counts[ND] = {3, 2, 3, 3, 2, 3};

static char dir[256];

static void path_of(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static void append_raw(const char *path, const char *text) {
  FILE *f = fopen(path, "ab");
  fputs(text, f);
  fclose(f);
}

static long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static double fake_score(const int *c) {
  double s = 0.6;
  for (int d = 0; d < ND; d++) s += 0.013 * c[d] * (d + 1) - 0.004 * c[d] * c[d];
  return s / 3.0; /* a value with many significant digits */
}

static tq_trial_record make(int trial, tq_trial_status st, const int *choice, double score) {
  tq_trial_record r = {0};
  r.trial = trial;
  r.status = st;
  r.rank = trial % 2;
  r.ndims = ND;
  r.choice = (int *)choice;
  r.config = st == TQ_TRIAL_STARTED ? NULL : "{\"dense\":{\"kernel_quantizer\":\"quantized_bits(4,4,1)\"}}";
  r.error = st == TQ_TRIAL_FAILED ? "epoch 1 step 3: loss is NaN" : NULL;
  r.trial_size = 1000.0 + trial;
  r.reference_size = 4000;
  r.delta = 0.05 * trial / 7.0;
  r.metric = score / (1 + r.delta);
  r.score = score;
  r.loss = 0.1 / 3.0;
  r.seconds = 1.5;
  return r;
}

static void test_roundtrip_and_torn(void) {
  char p[512];
  path_of(p, sizeof p, "trials.jsonl");
  tq_trial_record *recs = NULL;
  int n = -1, torn = -1;
  /* a missing journal is empty */
  CHECK(tq_journal_load(p, ND, counts, 1, &recs, &n, &torn) == TQ_OK && n == 0 && torn == 0);
  tq_journal_free(recs, n);
  int c1[ND] = {0, 1, 2, 0, 1, 2}, c2[ND] = {2, 0, 1, 1, 0, 0}, c3[ND] = {1, 1, 1, 2, 1, 0};
  tq_trial_record r1 = make(1, TQ_TRIAL_OK, c1, fake_score(c1));
  tq_trial_record r2 = make(2, TQ_TRIAL_FAILED, c2, 0);
  tq_trial_record r3 = make(3, TQ_TRIAL_OK, c3, 0.085834574500335381); /* cJSON's %.15g would lose it */
  CHECK(tq_journal_append(p, &r1) == TQ_OK);
  CHECK(tq_journal_append(p, &r2) == TQ_OK);
  CHECK(tq_journal_append(p, &r3) == TQ_OK);
  CHECK(tq_journal_load(p, ND, counts, 0, &recs, &n, &torn) == TQ_OK);
  CHECK_EQ_INT(n, 3);
  CHECK_EQ_INT(torn, 0);
  if (n == 3) {
    CHECK(recs[0].trial == 1 && recs[0].status == TQ_TRIAL_OK && recs[0].rank == 1);
    CHECK(memcmp(recs[0].choice, c1, sizeof c1) == 0);
    CHECK(recs[0].score == r1.score); /* bit-exact */
    CHECK(recs[2].score == r3.score);
    CHECK(recs[0].metric == r1.metric && recs[0].delta == r1.delta && recs[0].loss == r1.loss);
    CHECK(recs[0].trial_size == 1001 && recs[0].reference_size == 4000 && recs[0].seconds == 1.5);
    CHECK(recs[0].config && strstr(recs[0].config, "quantized_bits(4,4,1)"));
    CHECK(recs[1].status == TQ_TRIAL_FAILED && recs[1].error && strstr(recs[1].error, "NaN"));
    CHECK(isnan(recs[1].score));
    CHECK(memcmp(recs[1].choice, c2, sizeof c2) == 0);
  }
  tq_journal_free(recs, n);
  /* A torn last line (a write cut by a crash) is ignored; with repair it is cut off. */
  long good = file_size(p);
  append_raw(p, "{\"trial\":4,\"status\":\"ok\",\"rank\":0,\"choi");
  CHECK(tq_journal_load(p, ND, counts, 0, &recs, &n, &torn) == TQ_OK && n == 3 && torn == 1);
  tq_journal_free(recs, n);
  CHECK(file_size(p) > good); /* no repair: untouched */
  CHECK(tq_journal_load(p, ND, counts, 1, &recs, &n, &torn) == TQ_OK && n == 3 && torn == 1);
  tq_journal_free(recs, n);
  CHECK_EQ_INT(file_size(p), good);
  int c4[ND] = {2, 1, 2, 2, 1, 2};
  tq_trial_record r4 = make(4, TQ_TRIAL_OK, c4, fake_score(c4));
  CHECK(tq_journal_append(p, &r4) == TQ_OK);
  CHECK(tq_journal_load(p, ND, counts, 1, &recs, &n, &torn) == TQ_OK && n == 4 && torn == 0);
  CHECK(n == 4 && recs[3].trial == 4 && memcmp(recs[3].choice, c4, sizeof c4) == 0);
  tq_journal_free(recs, n);
  /* A complete but garbled last line (e.g. zeros after a power loss) is torn too. */
  good = file_size(p);
  append_raw(p, "{\"trial\":5,\"sta\x01\x02}\n");
  CHECK(tq_journal_load(p, ND, counts, 1, &recs, &n, &torn) == TQ_OK && n == 4 && torn == 1);
  tq_journal_free(recs, n);
  CHECK_EQ_INT(file_size(p), good);
  /* Damage before the last line is an error naming the file and the line. */
  char q[512];
  path_of(q, sizeof q, "damaged.jsonl");
  CHECK(tq_journal_append(q, &r1) == TQ_OK);
  append_raw(q, "not json\n");
  CHECK(tq_journal_append(q, &r3) == TQ_OK);
  CHECK(tq_journal_load(q, ND, counts, 1, &recs, &n, &torn) != TQ_OK);
  CHECK(strstr(tq_last_error(), "damaged.jsonl: line 2") != NULL);
  /* Records that do not fit the space */
  CHECK(tq_journal_load(p, ND + 1, NULL, 0, &recs, &n, &torn) != TQ_OK);
  CHECK(strstr(tq_last_error(), "line 1") && strstr(tq_last_error(), "choice"));
  int small[ND] = {1, 1, 1, 1, 1, 1};
  CHECK(tq_journal_load(p, ND, small, 0, &recs, &n, &torn) != TQ_OK);
  /* blank lines are harmless */
  append_raw(p, "\n");
  CHECK(tq_journal_load(p, ND, counts, 0, &recs, &n, &torn) == TQ_OK && n == 4);
  tq_journal_free(recs, n);
}

/* A run of the tuner with its journal; the replay's next suggestions must be the same. */
static void test_replay(tq_tuner_kind kind) {
  char tp[512], sp[512];
  path_of(tp, sizeof tp, kind == TQ_TUNER_RANDOM ? "r_trials.jsonl" : "b_trials.jsonl");
  path_of(sp, sizeof sp, kind == TQ_TUNER_RANDOM ? "r_started.jsonl" : "b_started.jsonl");
  tq_tuner *a = NULL, *b = NULL;
  CHECK(tq_tuner_create(&a, kind, ND, counts, NULL, 7) == TQ_OK);
  tq_tuner_set_initial_points(a, 3);
  /* 8 trials, two at a time (as with 2 ranks): suggest t, suggest t+1, finish t+1, finish t. Trial 4
   * fails. Then trial 9 and 10 start and the "crash" comes before they finish. */
  int ch[12][ND];
  for (int t = 1; t <= 10; t += 2) {
    for (int k = 0; k < 2; k++) {
      CHECK(tq_tuner_suggest(a, ch[t + k]) == TQ_OK);
      tq_trial_record s = make(t + k, TQ_TRIAL_STARTED, ch[t + k], 0);
      CHECK(tq_journal_append(sp, &s) == TQ_OK);
    }
    if (t == 9) break;
    for (int k = 1; k >= 0; k--) {
      int tr = t + k;
      if (tr == 4) {
        tq_tuner_forget_pending(a, ch[tr]);
        tq_trial_record r = make(tr, TQ_TRIAL_FAILED, ch[tr], 0);
        CHECK(tq_journal_append(tp, &r) == TQ_OK);
      } else {
        double sc = fake_score(ch[tr]);
        CHECK(tq_tuner_observe(a, ch[tr], sc) == TQ_OK);
        tq_trial_record r = make(tr, TQ_TRIAL_OK, ch[tr], sc);
        CHECK(tq_journal_append(tp, &r) == TQ_OK);
      }
    }
  }
  append_raw(tp, "{\"trial\":9,\"status\":\"ok\",\"ra"); /* torn: trial 9 was being written */
  tq_trial_record *fin = NULL, *st = NULL;
  int nf = 0, ns = 0, torn = 0, *inter = NULL, ni = 0;
  CHECK(tq_journal_load(tp, ND, counts, 1, &fin, &nf, &torn) == TQ_OK && nf == 8 && torn == 1);
  CHECK(tq_journal_load(sp, ND, counts, 1, &st, &ns, &torn) == TQ_OK && ns == 10 && torn == 0);
  CHECK(tq_tuner_create(&b, kind, ND, counts, NULL, 7) == TQ_OK);
  tq_tuner_set_initial_points(b, 3);
  CHECK(tq_search_replay(b, fin, nf, st, ns, &inter, &ni) == TQ_OK);
  CHECK_EQ_INT(ni, 2);
  if (ni == 2) {
    CHECK_EQ_INT(st[inter[0]].trial, 9);
    CHECK_EQ_INT(st[inter[1]].trial, 10);
  }
  CHECK_EQ_INT(tq_tuner_num_observed(b), tq_tuner_num_observed(a));
  CHECK_EQ_INT(tq_tuner_num_pending(b), 2);
  /* the interrupted trials finish, then three more suggestions: identical */
  for (int k = 9; k <= 10; k++) {
    CHECK(tq_tuner_observe(a, ch[k], fake_score(ch[k])) == TQ_OK);
    CHECK(tq_tuner_observe(b, st[inter[k - 9]].choice, fake_score(st[inter[k - 9]].choice)) == TQ_OK);
  }
  for (int k = 0; k < 3; k++) {
    int x[ND], y[ND];
    CHECK(tq_tuner_suggest(a, x) == TQ_OK);
    CHECK(tq_tuner_suggest(b, y) == TQ_OK);
    CHECK(memcmp(x, y, sizeof x) == 0);
    CHECK(memcmp(x, ch[4], sizeof x) != 0); /* the failed configuration is never proposed again */
    tq_tuner_observe(a, x, fake_score(x));
    tq_tuner_observe(b, y, fake_score(y));
  }
  free(inter);
  tq_journal_free(fin, nf);
  tq_journal_free(st, ns);
  tq_tuner_free(a);
  tq_tuner_free(b);
}

static int dominated_by(const tq_trial_record *x, const tq_trial_record *y) {
  return y->trial_size <= x->trial_size && y->metric >= x->metric &&
         (y->trial_size < x->trial_size || y->metric > x->metric);
}

static void test_pareto_top(void) {
  /* (bits, metric): the front is (100, .5), (200, .7), (400, .9); (300, .7) and (500, .85) are dominated;
   * trial 7 equals trial 2; trial 8 failed (it would dominate everything). */
  static const double pts[][2] = {{400, .9}, {200, .7}, {300, .7}, {100, .5}, {500, .85}, {150, .4}, {200, .7}, {50, 1}};
  const int n = 8;
  tq_trial_record r[8];
  int ch[ND] = {0};
  for (int i = 0; i < n; i++) {
    r[i] = make(i + 1, i == 7 ? TQ_TRIAL_FAILED : TQ_TRIAL_OK, ch, 0);
    r[i].trial_size = pts[i][0];
    r[i].metric = pts[i][1];
    r[i].score = pts[i][1] * (1 + 0.01 * (500 - pts[i][0]) / 100);
  }
  int idx[8];
  int k = tq_search_pareto(r, n, idx);
  CHECK_EQ_INT(k, 3);
  if (k == 3) {
    CHECK_EQ_INT(r[idx[0]].trial, 4);
    CHECK_EQ_INT(r[idx[1]].trial, 2);
    CHECK_EQ_INT(r[idx[2]].trial, 1);
  }
  for (int a = 0; a < k; a++) {
    if (a) CHECK(r[idx[a - 1]].trial_size < r[idx[a]].trial_size);
    for (int j = 0; j < n; j++)
      if (r[j].status == TQ_TRIAL_OK) CHECK(!dominated_by(&r[idx[a]], &r[j]));
  }
  /* every successful trial off the front is dominated by (or equal to) one on it */
  for (int j = 0; j < n; j++) {
    if (r[j].status != TQ_TRIAL_OK) continue;
    int on = 0, covered = 0;
    for (int a = 0; a < k; a++) {
      on |= idx[a] == j;
      covered |= dominated_by(&r[j], &r[idx[a]]) ||
                 (r[idx[a]].trial_size == r[j].trial_size && r[idx[a]].metric == r[j].metric);
    }
    CHECK(on || covered);
  }
  /* top-3 by score; ties by trial */
  r[5].score = r[0].score;
  int top[10];
  k = tq_search_top(r, n, 3, top);
  CHECK_EQ_INT(k, 3);
  for (int a = 1; a < k; a++) CHECK(r[top[a - 1]].score >= r[top[a]].score);
  for (int j = 0; j < n; j++) /* nothing left out beats the last one kept */
    if (r[j].status == TQ_TRIAL_OK && j != top[0] && j != top[1] && j != top[2]) CHECK(r[j].score <= r[top[2]].score);
  CHECK_EQ_INT(tq_search_top(r, n, 10, top), 7); /* the failed one is not ranked */
  r[0].score = r[1].score = 2;
  CHECK(tq_search_top(r, n, 1, top) == 1 && top[0] == 0); /* tie: the lower trial */
}

static void test_settings(void) {
  tq_search_settings s, t;
  tq_search_settings_init(&s);
  snprintf(s.model, sizeof s.model, "dscnn");
  snprintf(s.init, sizeof s.init, "/tmp/f.tqm");
  snprintf(s.space_file, sizeof s.space_file, "space.json");
  s.space_json = strdup("{\"quantization_config\": {\"kernel\": {\"quantized_bits(4)\": 4}}}");
  s.trials = 17;
  s.epochs = 3;
  s.train_fraction = 0.1 / 3;
  s.lr = 2.5e-4;
  s.max_steps = 5;
  s.tuner = TQ_TUNER_RANDOM;
  s.seed = 42;
  s.initial_points = 4;
  s.goal.delta_p = 7.5;
  s.goal.ref_bits = 8;
  char *json = tq_search_settings_json(&s);
  CHECK(json != NULL);
  CHECK(tq_search_settings_parse(&t, json, "search.json") == TQ_OK);
  CHECK(!strcmp(t.model, "dscnn") && !strcmp(t.init, "/tmp/f.tqm") && !strcmp(t.space_file, "space.json"));
  CHECK(t.trials == 17 && t.epochs == 3 && t.train_fraction == s.train_fraction && t.lr == s.lr);
  CHECK(t.max_steps == 5 && t.tuner == TQ_TUNER_RANDOM && t.seed == 42 && t.initial_points == 4);
  CHECK(t.goal.delta_p == 7.5 && t.goal.ref_bits == 8 && t.goal.ref_bias_bits == 31);
  CHECK(t.space_json && strstr(t.space_json, "quantized_bits(4)"));
  tq_search_settings_free(&t);
  CHECK(tq_search_settings_parse(&t, "{\"tinyq_search\": 1, \"model\": \"x\"}", "s.json") != TQ_OK);
  CHECK(strstr(tq_last_error(), "s.json") && strstr(tq_last_error(), "data"));
  free(json);
  tq_search_settings_free(&s);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/tq_journal_XXXXXX");
  if (!mkdtemp(dir)) return 1;
  test_roundtrip_and_torn();
  test_replay(TQ_TUNER_RANDOM);
  test_replay(TQ_TUNER_BAYESIAN);
  test_pareto_top();
  test_settings();
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  TEST_MAIN_END();
}
