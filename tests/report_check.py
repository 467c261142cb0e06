#!/usr/bin/env python3
"""Opens a tinyq report in headless Chromium and checks what a person would see (tests/cli_report.sh).

  report_check.py REPORT.html [--log log.csv] [--trials trials.jsonl] [--pareto pareto.csv]
                  [--best best.json] [--export-dir DIR] [--layers layers.csv] [--sensitivity FILE]
                  [--screenshot FILE.png [--only CHART,CHART] [--width W] [--height H]]

Fails (exit 1, one line per problem) when the page's script did not finish, a chart did not draw
(its canvas is blank), the page logged a console error, or the numbers a chart lists under "data"
(read back from the drawn chart) differ from the run's files. Python standard library only."""
import argparse
import csv
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

CHROMIUM = os.environ.get("TQ_CHROMIUM", "chromium")
FLAGS = ["--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--virtual-time-budget=10000",
         "--enable-logging=stderr", "--v=0"]


class Dom(html.parser.HTMLParser):
    """The status element, every chart figure, and the data tables (rows of cell texts)."""

    def __init__(self):
        super().__init__()
        self.status, self.figures, self.tables = None, [], {}
        self._table, self._row, self._cell = None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id") == "tq-status":
            self.status = a
            self._status_text = True
        if tag == "figure" and "chart" in (a.get("class") or "").split():
            self.figures.append(a)
        if tag == "table" and ("tq-data" in (a.get("class") or "").split() or "data-table" in a):
            self._table = self.tables.setdefault(a.get("data-chart") or a["data-table"], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "table":
            self._table = self._row = None

    def handle_data(self, data):
        if getattr(self, "_status_text", False):
            self.status["text"] = data
            self._status_text = False
        if self._cell is not None:
            self._cell += data


def chromium(args, url):
    r = subprocess.run([CHROMIUM] + FLAGS + args + [url], capture_output=True, text=True, timeout=120)
    return r.stdout, r.stderr


def number(cell):
    return None if cell == "" else float(cell)


def table_columns(rows):
    """{header: {x label: value}} of a categorical data table."""
    head = rows[0]
    return {h: {r[0]: number(r[i]) for r in rows[1:]} for i, h in enumerate(head) if i}


def check_log(tables, path, problems):
    with open(path) as f:
        log = list(csv.DictReader(f))
    checked = 0
    for chart in ("s0-acc", "s0-loss", "s0-lr"):
        if chart not in tables:
            continue
        for header, values in table_columns(tables[chart]).items():
            m = re.search(r"\((\w+)\)$", header)
            if not m or m.group(1) not in log[0]:
                continue
            col = m.group(1)
            for row in log:
                want = float(row[col]) if row[col] not in ("nan", "-nan") else None
                got = values.get(str(int(row["epoch"])), "missing")
                if got != want:
                    problems.append(f"{chart}: epoch {row['epoch']} {col}: page shows {got}, {path} has {row[col]}")
                checked += 1
    if not checked:
        problems.append(f"no chart shows the columns of {path}")


def check_trials(tables, path, problems):
    trials = [json.loads(line) for line in open(path) if line.strip()]
    cols = table_columns(tables.get("s0-trials", [["trial"]]))
    for t in trials:
        for key in ("score", "metric"):
            want = t[key] if t["status"] == "ok" else None
            got = cols.get(key, {}).get(str(t["trial"]), "missing")
            if got != want:
                problems.append(f"s0-trials: trial {t['trial']} {key}: page shows {got}, {path} has {want}")
    if len(trials) < 1:
        problems.append(f"{path}: no trials")


def check_pareto(tables, path, problems):
    with open(path) as f:
        front = {float(r["total_bits"]) for r in csv.DictReader(f)}
    shown = {float(r[1]) for r in tables.get("s0-pareto", [])[1:] if r[0] == "Pareto front"}
    if shown != front:
        problems.append(f"s0-pareto: front at {sorted(shown)} bits, {path} has {sorted(front)}")


def check_test_accuracy(tables, want, problems):
    cols = table_columns(tables.get("s0-acc", [["epoch"]]))
    shown = [v for h, c in cols.items() if h.startswith("test (") for v in c.values() if v is not None]
    if len(shown) != 1 or f"{shown[0]:.4f}" != want:
        problems.append(f"s0-acc: test accuracy {shown}, tinyq train printed {want}")


# The per-layer charts of layers.csv: (chart, tensor rows, column, logarithmic axis). The first five
# are heatmaps (a table of layer, epoch and value), the last a line per layer (a column per layer).
LAYER_CHARTS = [("s0-layers-update_ratio", "kernel", "update_ratio", True),
                ("s0-layers-codes_changed", "kernel", "codes_changed", False),
                ("s0-layers-sparsity", "kernel", "sparsity", False),
                ("s0-layers-sqnr_db", "kernel", "sqnr_db", False),
                ("s0-layers-act-sqnr_db", "activation", "sqnr_db", False),
                ("s0-layers-mean_abs_dw", "kernel", "mean_abs_dw", True)]


def layer_values(rows):
    """{(layer, epoch label): value} of a per-layer chart's data table, heatmap or lines."""
    head = rows[0]
    if "value" in head:
        return {(r[2], r[1]): number(r[3]) for r in rows[1:]}
    return {(layer, epoch): v for layer, col in table_columns(rows).items() for epoch, v in col.items()}


def check_roc(tables, path, problems):
    """Every point of roc.csv (id,fpr,tpr,auc) on the ROC chart, in a dataset named by its id and AUC."""
    rows = tables.get("s0-roc")
    if not rows:
        problems.append(f"no ROC chart for {path}")
        return
    shown = {(r[0], number(r[1]), number(r[2])) for r in rows[1:] if len(r) >= 3}
    with open(path) as f:
        for row in csv.DictReader(f):
            key = (f"id {int(row['id']):02d} (AUC {float(row['auc']):.4f})", float(row["fpr"]), float(row["tpr"]))
            if key not in shown:
                problems.append(f"s0-roc: {key} of {path} is not on the chart")


def check_layers(tables, path, problems):
    """Every value of the per-layer charts is layers.csv's (a log axis leaves out values <= 0)."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    for chart, tensor, col, log in LAYER_CHARTS:
        if chart not in tables:
            problems.append(f"{chart}: no chart of {path}'s {tensor} {col}")
            continue
        shown = layer_values(tables[chart])
        for r in (r for r in rows if r["tensor"] == tensor):
            v = float(r[col])
            want = None if v != v or v in (float("inf"), float("-inf")) or (log and v <= 0) else v
            got = shown.get((r["layer"], str(int(r["epoch"]))))
            if got != want:
                problems.append(f"{chart}: epoch {r['epoch']} {r['layer']}: page shows {got}, {path} has {r[col]}")


# The sensitivity charts of sensitivity.csv: (chart, column); bars sorted by value, one dataset per group.
SENSITIVITY_CHARTS = [("s0-sensitivity", "sensitivity"), ("s0-main-effect", "main_effect")]


def check_sensitivity(tables, path, problems):
    """Every dimension of sensitivity.csv on both charts with the file's value, in its group's dataset,
    and the bars in descending order."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    for chart, col in SENSITIVITY_CHARTS:
        if chart not in tables:
            problems.append(f"{chart}: no chart of {path}'s {col}")
            continue
        cols = table_columns(tables[chart])
        shown = []
        for label_row in tables[chart][1:]:
            vals = [number(c) for c in label_row[1:] if c != ""]
            shown.append(vals[0] if len(vals) == 1 else None)
        for r in rows:
            v = float(r[col])
            want = None if v != v or v in (float("inf"), float("-inf")) else v
            got = cols.get(r["group"], {}).get(r["name"], "missing")
            if got != want:
                problems.append(f"{chart}: {r['name']} ({r['group']}): page shows {got}, {path} has {r[col]}")
        if len(shown) != len(rows) or any(a is not None and b is not None and a < b for a, b in zip(shown, shown[1:])):
            problems.append(f"{chart}: {len(shown)} bars not in descending order ({path}: {len(rows)} dimensions)")


def only_page(report, ids, tmp):
    """A copy of the page that shows only the charts ids (for a figure), without their data tables."""
    keep = ",".join(f'figure[data-chart="{i}"]' for i in ids)
    css = ("header, #tq-status, section.run > :not(.grid):not(h2), figure.chart details { display: none } "
           f"figure.chart:not({keep}) {{ display: none }} section.run:not(:has({keep})) {{ display: none }} "
           "main { padding: 0 8px } section.run { margin: 8px 0; padding: 8px }")
    page = open(report).read().replace("</style>", css + "</style>", 1)
    path = os.path.join(tmp, "only.html")
    with open(path, "w") as f:
        f.write(page)
    return "file://" + path


def bits_of(q):
    m = re.search(r"\((\d+)", q) if isinstance(q, str) else None
    return float(m.group(1)) if m else None


def check_best(tables, path, problems):
    best = json.load(open(path))
    cols = table_columns(tables.get("s0-best", [["layer"]]))
    for layer, q in best.items():
        want = {"activation": bits_of(q)} if isinstance(q, str) else \
               {"kernel": bits_of(q.get("kernel_quantizer")), "bias": bits_of(q.get("bias_quantizer"))}
        for key, w in want.items():
            got = cols.get(key, {}).get(layer, "missing")
            if got != w:
                problems.append(f"s0-best: {layer} {key} bits: page shows {got}, {path} has {w}")


def check_export(tables, d, problems):
    arena = int(re.search(r"#define TQ_MODEL_ARENA_BYTES (\d+)", open(os.path.join(d, "model.h")).read()).group(1))
    cols = table_columns(tables.get("s0-arena", [["op"]]))
    line = [v for h, v in cols.items() if h.startswith("arena")]
    if not line or set(line[0].values()) != {arena}:
        problems.append(f"s0-arena: arena line {line[0] if line else 'missing'}, {d}/model.h says {arena}")
    highest = cols.get("highest byte in use", {})
    if not highest or max(highest.values()) > arena:
        problems.append(f"s0-arena: tensors reach beyond the arena of {arena} bytes")
    # each operation of the generated code: the runtime kernel and the arena offset it writes to
    calls = re.findall(r"if \((tq_rt_\w+)\(T\(\w+, (\d+)\)", open(os.path.join(d, "model.c")).read())
    ops = tables.get("s0-ops", [[]])
    head = ops[0]
    shown = [(r[head.index("kernel")], r[head.index("offset")].replace(",", "")) for r in ops[1:]] if head else []
    if not calls or shown != calls:
        problems.append(f"s0-ops: operations (kernel, offset) {shown} differ from {d}/model.c's calls {calls}")
    if len(highest) != len(calls):
        problems.append(f"s0-arena: {len(highest)} operations, {d}/model.c calls {len(calls)} runtime kernels")


# Each option naming a file of the run (or a number it printed) and the check of the charts against it.
FILE_CHECKS = [("log", check_log), ("trials", check_trials), ("pareto", check_pareto), ("best", check_best),
               ("export_dir", check_export), ("layers", check_layers), ("test_accuracy", check_test_accuracy),
               ("roc", check_roc), ("sensitivity", check_sensitivity)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("--log")
    ap.add_argument("--trials")
    ap.add_argument("--pareto")
    ap.add_argument("--best")
    ap.add_argument("--export-dir")
    ap.add_argument("--layers", help="layers.csv of the run (tinyq train --layer-stats)")
    ap.add_argument("--roc", help="roc.csv of an auto-encoder run on dcase: data")
    ap.add_argument("--sensitivity", help="sensitivity.csv of a Bayesian search")
    ap.add_argument("--test-accuracy", help="as tinyq train printed it (4 decimals)")
    ap.add_argument("--screenshot")
    ap.add_argument("--only", help="comma-separated chart ids: the screenshot shows only these")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=2200)
    a = ap.parse_args()
    url = "file://" + os.path.abspath(a.report)
    dom_text, log = chromium(["--dump-dom"], url)
    problems = []
    console = [l for l in log.splitlines() if "CONSOLE" in l or "Uncaught" in l]
    problems += [f"console: {l.strip()}" for l in console]
    dom = Dom()
    dom.feed(dom_text)
    st = dom.status or {}
    if st.get("data-status") != "ok":
        problems.append(f"page status {st.get('data-status')!r}: {st.get('data-drawn')} of {st.get('data-charts')} "
                        f"charts drawn, {st.get('data-errors')} errors: {st.get('text', '')}")
    blank = [f["data-chart"] for f in dom.figures if f.get("data-drawn") != "1"]
    if blank or not dom.figures:
        problems.append(f"charts not drawn: {blank or 'no charts at all'}")
    for f in dom.figures:
        if f["data-chart"] not in dom.tables:
            problems.append(f"{f['data-chart']}: no data table")
    compared = [(arg, check) for arg, check in FILE_CHECKS if getattr(a, arg)]
    for arg, check in compared:
        check(dom.tables, getattr(a, arg), problems)
    only = a.only.split(",") if a.only else []
    missing = [i for i in only if i not in {f["data-chart"] for f in dom.figures}]
    if missing:
        problems.append(f"--only: no chart {missing} on the page")
    if a.screenshot:
        with tempfile.TemporaryDirectory() as tmp:
            shot = os.path.join(tmp, "shot.png")
            chromium([f"--window-size={a.width},{a.height}", f"--screenshot={shot}"],
                     only_page(a.report, only, tmp) if only else url)
            if not os.path.exists(shot) or os.path.getsize(shot) < 10000:
                problems.append(f"no screenshot from chromium ({shot})")
            else:
                shutil.copyfile(shot, a.screenshot)
    for p in problems:
        print(f"{a.report}: {p}")
    if not problems:
        print(f"{a.report}: ok: {len(dom.figures)} charts drawn, no console errors"
              + (", numbers match the files" if compared else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
