#!/usr/bin/env python3
"""Compares the exported PCM front-end's output with tinyq's (tests/cli_frontend.sh). Standard library only.

  frontend_check.py features FE.f32 REF.f32 MAX_ABS MAX_REL [ROW_SIZE KIND=COUNT ...]
      FE's values against the first as many of REF (tinyq eval --dump-inputs): the largest absolute
      difference and the largest one relative to the largest |REF| value; fails beyond either bound.
      With KIND=COUNT groups (consecutive rows of ROW_SIZE values, in order), also each group's
      largest absolute difference.
  frontend_check.py classes FE.txt REF.txt MIN_PERCENT [KIND=COUNT ...]
      lines of output codes (the class is the largest code, the first on ties) against the first as
      many lines of REF (tinyq eval --dump-codes): classes agree on at least MIN_PERCENT of the clips
      (all of them together); with KIND=COUNT groups of consecutive lines, the counts of each group.
  frontend_check.py scores FE.txt REF.f32 REF_CODES.txt SCALE ZP NAMES.txt MAX_REL MAX_AUC
      per-clip anomaly scores (decimal, or IEEE-754 bits as 0x...) against the scores tinyq eval
      --integer gives the same files (rows of 196 vectors: inputs REF.f32, output codes REF_CODES.txt,
      dequantized with SCALE, ZP); NAMES.txt lists the files in order (anomaly_id_XX_* / normal_id_XX_*);
      fails when a score differs by more than MAX_REL relative or an id's AUC by more than MAX_AUC.
"""
import array
import struct
import sys

VECTORS = 196


def floats(path):
    a = array.array("f")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    return a


def code_lines(path):
    with open(path) as f:
        return [[int(v) for v in line.split()] for line in f]


def kinds(args, total):
    """KIND=COUNT arguments as (kind, first, end) ranges of consecutive rows covering all total."""
    groups, first = [], 0
    for arg in args:
        kind, count = arg.split("=")
        groups.append((kind, first, first + int(count)))
        first += int(count)
    if groups and first != total:
        sys.exit(f"FAIL: the kinds {' '.join(args)} make {first} rows, there are {total}")
    return groups


def features(fe_path, ref_path, max_abs, max_rel, row_size=0, groups=()):
    fe, ref = floats(fe_path), floats(ref_path)
    if not fe or len(fe) > len(ref):
        sys.exit(f"FAIL: {len(fe)} front-end values, {len(ref)} reference values")
    parts = []
    for kind, first, end in kinds(groups, len(fe) // row_size if row_size else 0):
        lo, hi = first * row_size, end * row_size
        part = max(abs(x - y) for x, y in zip(fe[lo:hi], ref[lo:hi]))
        parts.append(f"{kind} {end - first} rows {part:.3g}")
    if parts:
        print("features, max abs error per kind: " + ", ".join(parts))
    worst, at = 0.0, 0
    for i, (x, y) in enumerate(zip(fe, ref)):
        if abs(x - y) > worst:
            worst, at = abs(x - y), i
    top = max(abs(v) for v in ref[: len(fe)])
    print(f"features: {len(fe)} values; max abs error {worst:.3g} (at a value of {ref[at]:.4g}); "
          f"max error / largest |feature| ({top:.4g}) {worst / top:.3g}")
    if worst > max_abs or worst / top > max_rel:
        sys.exit(f"FAIL: beyond max abs {max_abs} or relative {max_rel}")


def argmax(codes):
    return max(range(len(codes)), key=lambda i: (codes[i], -i))


def classes(fe_path, ref_path, min_percent, groups=()):
    fe, ref = code_lines(fe_path), code_lines(ref_path)
    if not fe or len(fe) > len(ref):
        sys.exit(f"FAIL: {len(fe)} front-end clips, {len(ref)} reference rows")
    parts = []
    for kind, first, end in kinds(groups, len(fe)):
        same = sum(argmax(a) == argmax(b) for a, b in zip(fe[first:end], ref[first:end]))
        parts.append(f"{kind} {same}/{end - first}")
    if parts:
        print("classes agree per kind: " + ", ".join(parts))
    same = sum(argmax(a) == argmax(b) for a, b in zip(fe, ref))
    identical = sum(a == b for a, b in zip(fe, ref))
    percent = 100.0 * same / len(fe)
    print(f"classes agree on {same}/{len(fe)} clips ({percent:.2f} %); output codes identical on {identical}")
    if percent < min_percent:
        sys.exit(f"FAIL: below {min_percent} %")


def score_value(text):
    text = text.strip()
    if text.startswith("0x"):
        return struct.unpack("<f", int(text, 16).to_bytes(4, "little"))[0]
    return float(text)


def auc(scores, labels):
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def scores(fe_path, ref_path, codes_path, scale, zp, names_path, max_rel, max_auc):
    with open(fe_path) as f:
        fe = [score_value(line) for line in f]
    x, codes = floats(ref_path), code_lines(codes_path)
    width = len(codes[0])
    ref = []
    for clip in range(len(codes) // VECTORS):
        total = 0.0
        for r in range(clip * VECTORS, (clip + 1) * VECTORS):
            v = x[r * width:(r + 1) * width]
            total += sum((scale * (c - zp) - xv) ** 2 for c, xv in zip(codes[r], v)) / width
        ref.append(total / VECTORS)
    if len(fe) != len(ref):
        sys.exit(f"FAIL: {len(fe)} front-end scores, {len(ref)} files in the reference")
    rel = max(abs(a - b) / abs(b) for a, b in zip(fe, ref))
    with open(names_path) as f:
        names = [line.strip() for line in f]
    worst_auc = 0.0
    for i in sorted({n.split("_id_")[1][:2] for n in names}):
        pick = [k for k, n in enumerate(names) if n.split("_id_")[1][:2] == i]
        labels = [names[k].startswith("anomaly") for k in pick]
        a_fe, a_ref = auc([fe[k] for k in pick], labels), auc([ref[k] for k in pick], labels)
        worst_auc = max(worst_auc, abs(a_fe - a_ref))
        print(f"id {i}: AUC {a_fe:.4f} from the front-end, {a_ref:.4f} from tinyq eval --integer")
    print(f"scores: {len(fe)} clips; max relative difference {rel:.3g}; max AUC difference {worst_auc:.3g}")
    if rel > max_rel or worst_auc > max_auc:
        sys.exit(f"FAIL: beyond relative {max_rel} or AUC {max_auc}")


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "features":
        features(args[0], args[1], float(args[2]), float(args[3]), int(args[4]) if len(args) > 4 else 0, args[5:])
    elif mode == "classes":
        classes(args[0], args[1], float(args[2]), args[3:])
    elif mode == "scores":
        scores(args[0], args[1], args[2], float(args[3]), int(args[4]), args[5], float(args[6]), float(args[7]))
    else:
        sys.exit(__doc__)
