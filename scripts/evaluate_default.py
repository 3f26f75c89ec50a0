#!/usr/bin/env python3
"""Evaluates a joblabel model (default: the shipped Models/default) on every ../shared/data job dataset
whose labels use our vocabulary, per dataset and pooled, next to two baselines.

Heads and datasets: seniority on emscad, linkedin, linkedin-data-jobs, google, glassdoor, dice; role on
emscad. Train and test files both count (the default model never saw either). For datasets whose
seniority comes from the title (label_source "title", and google's "mixed"), the model is also scored
with the title removed. Baselines: the most common class of the scored rows, and the title keyword rule
below. "Pooled" = the label_source "source" rows (emscad, linkedin, linkedin-data-jobs).

Metrics as scikit-learn's: accuracy, and macro-F1 over the labels present in the truth or the
predictions. Standard library only; the model's labels come from `joblabel classify`, and the pooled
figures are cross-checked against `joblabel evaluate`.

Exit 0 with the table; 69 when the shared data is absent; 1 when a check fails (--check).
"""
import argparse, collections, json, os, re, subprocess, sys, tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SENIORITY_SETS = ["emscad", "linkedin", "linkedin-data-jobs", "google", "glassdoor", "dice"]
ROLE_SETS = ["emscad"]
POOLED = ["emscad", "linkedin", "linkedin-data-jobs"]

# Title rule baseline. Levels are tried in this order, first match wins (whole words, case-insensitive):
# the order of ../shared/data's own title rule, so "Senior Director" is a director and "Chief of Staff"
# an executive. `otherwise` = mid-senior.
TITLE_RULE = [
    ("executive", r"chief"),
    ("director", r"director|head of|vp|vice president"),
    ("internship", r"intern|interns|internship"),
    ("entry", r"junior|entry|graduate"),
    ("mid-senior", r"senior|lead|principal|staff"),
]
TITLE_RULE_RE = [(label, re.compile(r"\b(?:" + words + r")\b", re.I)) for label, words in TITLE_RULE]


def title_rule(title):
    for label, rx in TITLE_RULE_RE:
        if rx.search(title or ""):
            return label
    return "mid-senior"


def scores(truth, pred):
    labels = sorted(set(truth) | set(pred))
    f1 = []
    for c in labels:
        tp = sum(1 for t, p in zip(truth, pred) if t == c and p == c)
        fp = sum(1 for t, p in zip(truth, pred) if t != c and p == c)
        fn = sum(1 for t, p in zip(truth, pred) if t == c and p != c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    acc = sum(1 for t, p in zip(truth, pred) if t == p) / len(truth) if truth else 0.0
    return {"n": len(truth), "accuracy": acc, "macro_f1": sum(f1) / len(f1) if f1 else 0.0}


def majority(truth):
    top = collections.Counter(truth).most_common(1)[0][0]
    return [top] * len(truth), top


def run(cmd, stdin=None):
    p = subprocess.run(cmd, input=stdin, capture_output=True)
    if p.returncode != 0:
        sys.exit(f"evaluate-default: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr.decode(errors='replace')}")
    return p.stdout.decode()


def classify(binary, model, algorithm, rows, head, drop_title=False):
    lines = "".join(json.dumps({"id": str(i), "title": "" if drop_title else (r.get("title") or ""),
                                "text": r["text"]}, ensure_ascii=False) + "\n" for i, r in enumerate(rows))
    out = run([binary, "classify", "--model", model, "--algorithm", algorithm, "--format", "jsonl"], lines.encode())
    preds = [None] * len(rows)
    for line in out.splitlines():
        o = json.loads(line)
        preds[int(o["id"])] = o[head]["label"]
    return preds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "Models", "default"))
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--bin", default=os.environ.get("JOBLABEL_BIN", os.path.join(ROOT, ".build", "release", "joblabel")))
    ap.add_argument("--algorithm", default="lr", choices=["lr", "nb"])
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ap.add_argument("--no-cross-check", action="store_true", help="skip the joblabel evaluate cross-check")
    a = ap.parse_args()
    if not os.path.isdir(a.data) or not all(os.path.exists(os.path.join(a.data, d, "test.jsonl")) for d in SENIORITY_SETS):
        print(f"evaluate-default: shared data not found at {os.path.abspath(a.data)}; nothing to evaluate", file=sys.stderr)
        return 69
    if not os.path.exists(a.bin):
        sys.exit(f"evaluate-default: no joblabel binary at {a.bin}; run 'swift build -c release' or set JOBLABEL_BIN")

    def load(d, head):
        rows = []
        for split in ("train", "test"):
            with open(os.path.join(a.data, d, split + ".jsonl"), encoding="utf-8") as f:
                rows += [dict(r, split=split) for r in map(json.loads, f) if r.get(head)]
        return rows

    result = {"model": os.path.relpath(os.path.abspath(a.model), ROOT), "algorithm": a.algorithm, "heads": {}}
    for head, sets in (("seniority", SENIORITY_SETS), ("role", ROLE_SETS)):
        table, pool_truth, pool_pred, pool_rule, pool_rows = {}, [], [], [], []
        for d in sets:
            rows = load(d, head)
            truth = [r[head] for r in rows]
            pred = classify(a.bin, a.model, a.algorithm, rows, head)
            maj, top = majority(truth)
            entry = {"label_source": rows[0]["label_source"], "model": scores(truth, pred),
                     "majority": dict(scores(truth, maj), label=top)}
            if head == "seniority":
                rule = [title_rule(r.get("title")) for r in rows]
                entry["title_rule"] = scores(truth, rule)
                if rows[0]["label_source"] in ("title", "mixed"):
                    entry["model_no_title"] = scores(truth, classify(a.bin, a.model, a.algorithm, rows, head, drop_title=True))
                if d in POOLED:
                    pool_rule += rule
            if d in POOLED:
                pool_truth += truth
                pool_pred += pred
                pool_rows += rows
            table[d] = entry
            if head == "role":
                # The test file alone: the rows scikit-learn's in-domain bar (scripts/sklearn-indomain) is scored on.
                test = [i for i, r in enumerate(rows) if r["split"] == "test"]
                tt, tp = [truth[i] for i in test], [pred[i] for i in test]
                maj, top = majority(tt)
                table[d + " (test file)"] = {"label_source": entry["label_source"], "model": scores(tt, tp),
                                             "majority": dict(scores(tt, maj), label=top)}
        if head == "seniority":
            maj, top = majority(pool_truth)
            table["pooled"] = {"label_source": "source", "model": scores(pool_truth, pool_pred),
                               "majority": dict(scores(pool_truth, maj), label=top),
                               "title_rule": scores(pool_truth, pool_rule)}
            if not a.no_cross_check:
                cross_check(a, pool_rows, head, table["pooled"]["model"])
        result["heads"][head] = table

    if a.json:
        print(json.dumps(result, indent=1))
    else:
        print_table(result)
    return 0


def cross_check(a, rows, head, mine):
    """The pooled figures computed here must equal `joblabel evaluate` on the same rows."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "pooled.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for i, r in enumerate(rows):
                f.write(json.dumps({"id": str(i), "title": r.get("title") or "", "text": r["text"], head: r[head]},
                                   ensure_ascii=False) + "\n")
        out = json.loads(run([a.bin, "evaluate", "--model", a.model, "--data", path, "--labels", head, "--format", "json"]))
    rep = out["heads"][head][a.algorithm]
    if abs(rep["accuracy"] - mine["accuracy"]) > 1e-5 or abs(rep["macro_f1"] - mine["macro_f1"]) > 1e-5:
        sys.exit(f"evaluate-default: cross-check failed: joblabel evaluate says accuracy {rep['accuracy']}, "
                 f"macro-F1 {rep['macro_f1']}; this script computed {mine}")


def print_table(result):
    print(f"model {result['model']} ({result['algorithm']}); train and test files pooled per dataset")
    for head, table in result["heads"].items():
        print(f"\n### {head}\n")
        cols = ["model", "majority", "title_rule", "model_no_title"]
        names = {"model": "model", "majority": "majority class", "title_rule": "title rule", "model_no_title": "model, title removed"}
        used = [c for c in cols if any(c in e for e in table.values())]
        print("| dataset | label source | rows | " + " | ".join(f"{names[c]} acc | {names[c]} macro-F1" for c in used) + " |")
        print("|---|---|---:|" + "---:|---:|" * len(used))
        for d, e in table.items():
            cells = []
            for c in used:
                cells += [f"{e[c]['accuracy']:.3f}", f"{e[c]['macro_f1']:.3f}"] if c in e else ["", ""]
            name = "**pooled source rows**" if d == "pooled" else d
            print(f"| {name} | {e['label_source']} | {e['model']['n']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
