#!/usr/bin/env python3
"""The yardstick: how well joblabel labels real job postings, next to the baselines it must beat.

Usage:
    scripts/evaluate-default [--split test|train] [--model DIR] [--only default|loso|adapted|extra]
                             [--sources a,b] [--train-args='FLAGS'] [--corpus-weight W]
                             [--json FILE] [--check]

Scores the seniority head (and the role head where a source has LinkedIn-style roles) on the real
postings of ../shared/data, per source and pooled over the four sources that use LinkedIn's
seniority scale (internship < entry < associate < mid-senior < director < executive):
`emscad`, `linkedin`, `linkedin-data-jobs`, `linkedin-criteria`. Prints Markdown tables on stdout.

Tables
  1. default   The model of --model (default: Models/default) on the --split file of each source.
               Seniority: the model, the title rule and the majority class. Role (emscad,
               linkedin-criteria, and the linkedin rows that have a role): the model and the
               majority class.
  2. loso      Leave one source out: for each source S, a model trained on corpus/ plus the train
               files of the other three LinkedIn-scale sources (whatever --sources says), scored on
               the --split file of S; next to a model trained on corpus/ alone and the title rule.
  3. adapted   For each source S, a model trained on corpus/ plus the train file of S, scored on the
               test file of S; next to the corpus-only model and the majority class. With
               --split train it is instead 5-fold cross-validation inside S's train file (folds keep
               near-duplicate postings together), so settings can be chosen without the test files.
               When `joblabel train --help` lists --with-default-corpus, the model is trained with
               `train --data S/train.jsonl --with-default-corpus [--corpus-weight W]`; otherwise with
               `train --data corpus --data S/train.jsonl` (and --corpus-weight is refused).
               The adapted model takes --adapted-train-args (default: none, joblabel's own defaults,
               as a board training its own model would). The corpus-only model of tables 2 and 3 is
               trained by this run from corpus/; with no --train-args it is the shipped
               Models/default bit for bit.
  4. extra     Seniority on the sources whose labels come from the job title by the title rule
               (glassdoor, dice, google): the model with the title removed (text alone), and the
               majority class. A sanity check of what the body text tells the model, not a headline.

Every model this script trains is trained with
    joblabel train --data ... --out TMP --labels role,seniority --seed 42 --calibration none --quiet
plus --train-args (corpus-only and leave-one-out models; default: scripts/default-model-flags, the
settings of the shipped model) or --adapted-train-args (adapted models), split like a shell line and
appended, so later flags override. Trained models live in a temporary directory removed at the end.

Predictors
  model        the label `joblabel classify --format jsonl` gives (--algorithm, default lr).
  title rule   ../shared/data's title rule for seniority, first match wins, whole words,
               case-insensitive: `chief` or a C-suite acronym (CEO, CFO, CTO, COO, CIO, CMO, CPO,
               CRO, CSO, CDO, CCO, CAO, CHRO, CISO) -> executive; director, head of,
               VP/SVP/EVP/AVP, vice president -> director; intern/interns/internship ->
               internship; junior/jr/entry/graduate/trainee -> entry; senior/sr/lead/principal/
               staff -> mid-senior; no match -> mid-senior.
  majority     the most common label of the scored source's TRAIN file (ties: the alphabetically
               first), so with --split test it never sees the scored rows; the label is printed.
               Pooled rows use their own source's label. In the adapted table's cross-validation
               each fold uses its training folds' label (the label printed is the whole file's).

Metrics (rows with a null label are not scored for that head; a predicted label outside the
source's scale or vocabulary simply counts as an error)
  n            scored rows.
  acc          accuracy.
  macro-F1     scikit-learn's f1_score(average='macro'): per-label F1 averaged over the labels
               present in the truth or the predictions.
  F1 e/a/m     scikit-learn's f1_score(labels=['entry','associate','mid-senior'], average='macro')
               on all scored rows: the F1 of those three labels averaged; a label with no true and
               no predicted row counts as F1 0 (so linkedin-data-jobs, which has no entry rows,
               can reach at most 0.667).
  within-1     share of rows with |level(pred) - level(true)| <= 1 on the scale above.
  pooled       the rows of the four LinkedIn-scale sources (those selected) scored together;
               seniority only (role vocabularies differ between sources).

Cross-check: the default model's figures (n, accuracy, macro-F1, F1 e/a/m, within-1; role: n,
accuracy, macro-F1) per source and pooled are recomputed by `joblabel evaluate --format json`; a
mismatch stops the script (exit 70).

--check asserts the targets of issue 13 and exits 1 listing every one that fails (it needs
--split test and all four sources; targets of tables not run are reported as not checked):
  - default model, pooled test files: seniority acc >= max(title rule, majority) + 0.05;
    F1 e/a/m >= 0.50; within-1 >= 0.90;
  - loso table: the corpus-only model's seniority acc > the title rule's on every source;
  - adapted table: pooled seniority acc >= 0.66;
  - default model: role acc >= 0.65 on emscad and on linkedin-criteria test rows.

Binary: $JOBLABEL_BIN (or --bin); else `swift build -c release --product joblabel` is run and
.build/release/joblabel used. Standard-library Python only.

Exit status: 0 done; 1 a --check target failed; 64 bad usage; 65 a malformed data row;
66 no model or binary; 69 ../shared/data (or --data) is absent or incomplete; 70 a joblabel command
failed or the cross-check disagreed.

Examples
    JOBLABEL_BIN=/work/tools/joblabel-base scripts/evaluate-default --check --json /tmp/yardstick.json
    scripts/evaluate-default --split train --only loso,adapted --train-args='--C 4'
(--train-args takes one string; write it with '=' so a single flag is not read as an option.)
"""
import argparse
import collections
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SCALE = ["internship", "entry", "associate", "mid-senior", "director", "executive"]
LEVEL = {label: i for i, label in enumerate(SCALE)}
CORE = ["entry", "associate", "mid-senior"]
SOURCES = ["emscad", "linkedin", "linkedin-data-jobs", "linkedin-criteria"]
ROLE_SOURCES = ["emscad", "linkedin", "linkedin-criteria"]
EXTRA = ["glassdoor", "dice", "google"]
TABLES = ["default", "loso", "adapted", "extra"]
BASE_TRAIN = ["--labels", "role,seniority", "--seed", "42", "--calibration", "none", "--quiet"]
FOLDS = 5

# ../shared/data/README.md, "Title rule for seniority". The C-suite acronyms are the README's examples
# plus the other common chief-officer ones.
C_SUITE = "ceo|cfo|cto|coo|cio|cmo|cpo|cro|cso|cdo|cco|cao|chro|ciso"
TITLE_RULE = [
    ("executive", r"chief|" + C_SUITE),
    ("director", r"director|head\s+of|vp|svp|evp|avp|vice\s+president"),
    ("internship", r"intern|interns|internship"),
    ("entry", r"junior|jr|entry|graduate|trainee"),
    ("mid-senior", r"senior|sr|lead|principal|staff"),
]
TITLE_RULE_RE = [(label, re.compile(r"\b(?:" + words + r")\b", re.I)) for label, words in TITLE_RULE]


class Failure(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def title_rule(title):
    """The data README's rule; None when no keyword matches."""
    for label, rx in TITLE_RULE_RE:
        if rx.search(title or ""):
            return label
    return None


# ---------------------------------------------------------------------------------------------- metrics

def f1_per_label(truth, pred, labels):
    out = {}
    for c in labels:
        tp = sum(1 for t, p in zip(truth, pred) if t == c and p == c)
        fp = sum(1 for t, p in zip(truth, pred) if t != c and p == c)
        fn = sum(1 for t, p in zip(truth, pred) if t == c and p != c)
        out[c] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return out


def scores(truth, pred, ordinal):
    """n, accuracy, macro-F1 (and for seniority F1 over entry/associate/mid-senior and within-one)."""
    n = len(truth)
    res = {"n": n, "accuracy": None, "macro_f1": None}
    if ordinal:
        res.update(macro_f1_core=None, within_one=None)
    if not n:
        return res
    res["accuracy"] = sum(t == p for t, p in zip(truth, pred)) / n
    labels = sorted(set(truth) | {p for p in pred if p is not None})
    res["macro_f1"] = sum(f1_per_label(truth, pred, labels).values()) / len(labels)
    if ordinal:
        res["macro_f1_core"] = sum(f1_per_label(truth, pred, CORE).values()) / len(CORE)
        res["within_one"] = sum(1 for t, p in zip(truth, pred)
                                if t in LEVEL and p in LEVEL and abs(LEVEL[t] - LEVEL[p]) <= 1) / n
    return res


def majority_label(labels):
    """Most common label; ties go to the label first in sorted order."""
    counts = collections.Counter(labels)
    if not counts:
        return None
    return min(counts, key=lambda c: (-counts[c], c))


# ----------------------------------------------------------------------------------------- data and CLI

def load(path):
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    r = json.loads(line)
                except json.JSONDecodeError as e:
                    raise Failure(65, f"{path}:{lineno}: not JSON ({e.msg})")
                if not isinstance(r, dict):
                    raise Failure(65, f"{path}:{lineno}: not a JSON object")
                for field in ("id", "title", "text", "role", "seniority"):
                    v = r.get(field)
                    if v is not None and not isinstance(v, str):
                        raise Failure(65, f"{path}:{lineno}: field '{field}' is not a string or null")
                if not r.get("id"):
                    raise Failure(65, f"{path}:{lineno}: field 'id' is missing")
                rows.append(r)
    except OSError as e:
        raise Failure(66, f"{path}: {e.strerror}")
    return rows


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


class Joblabel:
    def __init__(self, binary, algorithm, train_args):
        self.bin, self.algorithm, self.train_args = binary, algorithm, train_args
        self.trains = 0

    def run(self, args, what):
        cmd = [self.bin] + args
        p = subprocess.run(cmd, capture_output=True)
        if p.returncode != 0:
            raise Failure(70, f"{what}: `{shlex.join(cmd)}` exited {p.returncode}:\n"
                              f"{p.stderr.decode(errors='replace').strip()}")
        return p.stdout.decode()

    def help_lists(self, command, flag):
        return flag in self.run([command, "--help"], f"joblabel {command} --help")

    def train(self, data_args, out, train_args=None):
        self.trains += 1
        extra = self.train_args if train_args is None else train_args
        self.run(["train"] + data_args + ["--out", out] + BASE_TRAIN + extra, f"training {out}")
        return out

    def classify(self, model, path, rows):
        """Per row of `path` (whose rows are `rows`), the classify output object."""
        out = self.run(["classify", "--model", model, "--algorithm", self.algorithm, "--format", "jsonl",
                        "--quiet", path], f"classifying {path}")
        objs = [json.loads(line) for line in out.splitlines() if line.strip()]
        if len(objs) != len(rows) or any(o.get("id") != r["id"] for o, r in zip(objs, rows)):
            raise Failure(70, f"classify gave {len(objs)} lines for the {len(rows)} rows of {path}, "
                              "or not in input order")
        return objs

    def evaluate(self, model, paths, heads):
        args = ["evaluate", "--model", model, "--algorithm", self.algorithm, "--format", "json",
                "--labels", ",".join(heads)]
        for p in paths:
            args += ["--data", p]
        return json.loads(self.run(args, "cross-check"))["heads"]


def head_labels(objs, head):
    return [(o.get(head) or {}).get("label") for o in objs]


# ------------------------------------------------------------------------------------------ evaluation

class Scorer:
    """Collects (truth, prediction) per table, head, source and predictor; pools the sources."""

    def __init__(self):
        self.cells = collections.OrderedDict()   # (head, predictor) -> source -> (truth, pred)
        self.majority = {}                        # (head, source) -> label

    def add(self, head, predictor, source, truth, pred):
        self.cells.setdefault((head, predictor), collections.OrderedDict()).setdefault(source, ([], []))
        t, p = self.cells[(head, predictor)][source]
        t += truth
        p += pred

    def result(self, pooled_sources):
        out = {}
        for (head, predictor), per_source in self.cells.items():
            ordinal = head == "seniority"
            h = out.setdefault(head, collections.OrderedDict())
            for source, (t, p) in per_source.items():
                h.setdefault(source, collections.OrderedDict())[predictor] = scores(t, p, ordinal)
            # Role vocabularies differ between sources, so only seniority is pooled.
            pool = [s for s in per_source if s in pooled_sources] if ordinal else []
            if len(pool) > 1:
                t = [x for s in pool for x in per_source[s][0]]
                p = [x for s in pool for x in per_source[s][1]]
                h.setdefault("pooled", collections.OrderedDict())[predictor] = scores(t, p, ordinal)
        for (head, source), label in self.majority.items():
            if head in out and source in out[head]:
                out[head][source]["majority_label"] = label
        return out


def scored(rows, head):
    return [i for i, r in enumerate(rows) if r.get(head)]


def add_baselines(sc, head, source, rows, idx, train_rows, title=True, majority=True):
    truth = [rows[i][head] for i in idx]
    if title and head == "seniority":
        sc.add(head, "title rule", source, truth, [title_rule(rows[i].get("title")) or "mid-senior" for i in idx])
    if majority:
        top = majority_label([r[head] for r in train_rows if r.get(head)])
        sc.majority[(head, source)] = top
        sc.add(head, "majority class", source, truth, [top] * len(idx))


def table_default(jl, a, data, sources):
    sc = Scorer()
    for s in sources:
        rows, path, train = data[s][a.split], data[s][a.split + "_path"], data[s]["train"]
        objs = jl.classify(a.model, path, rows)
        for head in ("seniority", "role"):
            if head == "role" and s not in ROLE_SOURCES:
                continue
            idx = scored(rows, head)
            if not idx:
                continue
            preds = head_labels(objs, head)
            sc.add(head, "model", s, [rows[i][head] for i in idx], [preds[i] for i in idx])
            add_baselines(sc, head, s, rows, idx, train)
    res = sc.result(sources)
    if not a.no_cross_check:
        cross_check(jl, a, data, sources, res)
    return res


def cross_check(jl, a, data, sources, res):
    """n, accuracy, macro-F1, F1 e/a/m (from its per-class F1) and within-one as `joblabel evaluate`
    computes them must equal ours, per source and pooled."""
    problems = []

    def compare(where, head, mine, theirs):
        rep = theirs.get(head, {}).get(a.algorithm)
        if rep is None:
            problems.append(f"{where}/{head}: joblabel evaluate reported no '{a.algorithm}' figures")
            return
        pairs = [("n", mine["n"], rep["n"]), ("accuracy", mine["accuracy"], rep["accuracy"]),
                 ("macro_f1", mine["macro_f1"], rep["macro_f1"])]
        if head == "seniority":
            per_class = rep.get("per_class") or {}
            core = sum((per_class.get(c) or {}).get("f1", 0.0) for c in CORE) / len(CORE)
            pairs.append(("macro_f1_core", mine["macro_f1_core"], core))
            pairs.append(("within_one", mine["within_one"], (rep.get("ordinal") or {}).get("off_by_one_accuracy")))
        for name, x, y in pairs:
            if x is None or y is None or abs(x - y) > 1e-5:
                problems.append(f"{where}/{head} {name}: this script {x}, joblabel evaluate {y}")

    for s in sources:
        heads = [h for h in ("seniority", "role") if s in res.get(h, {}) and "model" in res[h][s]]
        if heads:
            theirs = jl.evaluate(a.model, [data[s][a.split + "_path"]], heads)
            for h in heads:
                compare(s, h, res[h][s]["model"], theirs)
    if "pooled" in res.get("seniority", {}):
        theirs = jl.evaluate(a.model, [data[s][a.split + "_path"] for s in sources], ["seniority"])
        compare("pooled", "seniority", res["seniority"]["pooled"]["model"], theirs)
    if problems:
        raise Failure(70, "cross-check against `joblabel evaluate` failed:\n  " + "\n  ".join(problems))


def table_loso(jl, a, data, sources, tmp, corpus_model):
    sc = Scorer()
    for s in sources:
        others = [o for o in SOURCES if o != s]
        model = jl.train(["--data", a.corpus] + [x for o in others for x in ("--data", data[o]["train_path"])],
                         os.path.join(tmp, "loso-" + s))
        rows, path = data[s][a.split], data[s][a.split + "_path"]
        idx = scored(rows, "seniority")
        truth = [rows[i]["seniority"] for i in idx]
        for name, m in (("leave-one-out model", model), ("corpus-only model", corpus_model)):
            preds = head_labels(jl.classify(m, path, rows), "seniority")
            sc.add("seniority", name, s, truth, [preds[i] for i in idx])
        add_baselines(sc, "seniority", s, rows, idx, data[s]["train"], majority=False)
    return sc.result(sources)


def group_key(r):
    norm = lambda x: " ".join((x or "").lower().split())
    return norm(r.get("title")) + "\n" + norm(r.get("text"))[:300]


def folds_of(rows, source, k):
    """Deterministic fold per row from a hash of its near-duplicate group key."""
    return [int(hashlib.sha256((source + "\n" + group_key(r)).encode()).hexdigest(), 16) % k for r in rows]


def adapted_train_args(jl, a, data_path):
    if a.with_default_corpus:
        args = ["--data", data_path, "--with-default-corpus"]
        if a.corpus_weight is not None:
            args += ["--corpus-weight", a.corpus_weight]
        return args
    return ["--data", a.corpus, "--data", data_path]


def table_adapted(jl, a, data, sources, tmp, corpus_model):
    sc = Scorer()
    for s in sources:
        if a.split == "test":
            # (training file, scored file, scored rows, training rows) per run: one run on the test file.
            runs = [(data[s]["train_path"], data[s]["test_path"], data[s]["test"], data[s]["train"])]
        else:
            rows = data[s]["train"]
            fold = folds_of(rows, s, FOLDS)
            runs = []
            for k in range(FOLDS):
                fit = [r for r, f in zip(rows, fold) if f != k]
                held = [r for r, f in zip(rows, fold) if f == k]
                if not held:
                    continue
                fit_path = os.path.join(tmp, f"{s}-fold{k}-train.jsonl")
                held_path = os.path.join(tmp, f"{s}-fold{k}-held.jsonl")
                write_jsonl(fit_path, fit)
                write_jsonl(held_path, held)
                runs.append((fit_path, held_path, held, fit))
        for k, (fit_path, held_path, held, fit) in enumerate(runs):
            model = jl.train(adapted_train_args(jl, a, fit_path), os.path.join(tmp, f"adapted-{s}-{k}"), a.adapted_train_args)
            adapted = jl.classify(model, held_path, held)
            corpus = jl.classify(corpus_model, held_path, held)
            for head in ("seniority", "role"):
                if head == "role" and s not in ROLE_SOURCES:
                    continue
                idx = scored(held, head)
                if not idx:
                    continue
                truth = [held[i][head] for i in idx]
                for name, objs in (("adapted model", adapted), ("corpus-only model", corpus)):
                    preds = head_labels(objs, head)
                    sc.add(head, name, s, truth, [preds[i] for i in idx])
                # In cross-validation the majority comes from the training folds; with several folds
                # the label printed is the one of the whole train file.
                add_baselines(sc, head, s, held, idx, fit, title=False)
                sc.majority[(head, s)] = majority_label([r[head] for r in data[s]["train"] if r.get(head)])
    return sc.result(sources)


def table_extra(jl, a, data, tmp):
    sc = Scorer()
    for s in EXTRA:
        rows = [r for r in data[s][a.split] if r.get("seniority")]
        if not rows:
            continue
        path = os.path.join(tmp, f"{s}-no-title.jsonl")
        write_jsonl(path, [dict(r, title="") for r in rows])
        preds = head_labels(jl.classify(a.model, path, rows), "seniority")
        sc.add("seniority", "model, title removed", s, [r["seniority"] for r in rows], preds)
        add_baselines(sc, "seniority", s, rows, list(range(len(rows))), data[s]["train"], title=False)
    return sc.result([])


# ------------------------------------------------------------------------------------------ output

def fmt(x):
    return "–" if x is None else f"{x:.3f}"


def print_table(title, note, head_tables):
    print(f"## {title}\n")
    if note:
        print(note + "\n")
    for head, table in head_tables.items():
        ordinal = head == "seniority"
        cols = ["acc", "macro-F1"] + (["F1 e/a/m", "within-1"] if ordinal else [])
        print(f"**{head}**\n")
        print("| source | predictor | n | " + " | ".join(cols) + " |")
        print("|---|---|---:|" + "---:|" * len(cols))
        for source, preds in table.items():
            name = "**pooled**" if source == "pooled" else source
            for predictor, m in preds.items():
                if not isinstance(m, dict):
                    continue
                shown = predictor
                if predictor == "majority class":
                    shown += f" ({preds.get('majority_label', 'per source')})"
                vals = [m["accuracy"], m["macro_f1"]] + ([m["macro_f1_core"], m["within_one"]] if ordinal else [])
                print(f"| {name} | {shown} | {m['n']} | " + " | ".join(fmt(v) for v in vals) + " |")
                name = ""
        print()


def checks(res, a):
    """(description, value text, passed or None when not checked) per target of issue 13."""
    out = []
    d = res.get("default", {}).get("seniority", {}).get("pooled")
    if d:
        m, base = d["model"], max(d["title rule"]["accuracy"], d["majority class"]["accuracy"])
        out.append(("default model, pooled seniority accuracy >= max(title rule, majority) + 0.05",
                    f"{m['accuracy']:.3f} vs {base + 0.05:.3f}", m["accuracy"] >= base + 0.05 - 1e-12))
        out.append(("default model, pooled seniority macro-F1 over entry/associate/mid-senior >= 0.50",
                    f"{m['macro_f1_core']:.3f}", m["macro_f1_core"] >= 0.50))
        out.append(("default model, pooled seniority within-one >= 0.90", f"{m['within_one']:.3f}",
                    m["within_one"] >= 0.90))
    else:
        out.append(("default model seniority targets", "table not run", None))
    loso = res.get("loso", {}).get("seniority")
    if loso:
        for s in SOURCES:
            m = loso[s]
            x, y = m["corpus-only model"]["accuracy"], m["title rule"]["accuracy"]
            out.append((f"LOSO table, {s}: corpus-only model accuracy > title rule", f"{x:.3f} vs {y:.3f}", x > y))
    else:
        out.append(("LOSO targets", "table not run", None))
    ad = res.get("adapted", {}).get("seniority", {}).get("pooled")
    if ad:
        x = ad["adapted model"]["accuracy"]
        out.append(("adapted, pooled seniority accuracy >= 0.66", f"{x:.3f}", x >= 0.66))
    else:
        out.append(("adapted target", "table not run", None))
    role = res.get("default", {}).get("role")
    for s in ("emscad", "linkedin-criteria"):
        if role and s in role:
            x = role[s]["model"]["accuracy"]
            out.append((f"default model, role accuracy on {s} >= 0.65", f"{x:.3f}", x >= 0.65))
        else:
            out.append((f"role target on {s}", "table not run", None))
    return out


# ------------------------------------------------------------------------------------------ main

class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"evaluate-default: {message}", file=sys.stderr)
        sys.exit(64)


def parse_args(argv):
    ap = Parser(prog="evaluate-default", description=__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "Models", "default"),
                    help="model for the default and extra tables (default: Models/default)")
    ap.add_argument("--split", choices=["test", "train"], default="test",
                    help="file scored (default test; train files are where choices are made)")
    ap.add_argument("--only", default=",".join(TABLES),
                    help="tables to run, comma-separated: default, loso, adapted, extra (default: all)")
    ap.add_argument("--sources", default=",".join(SOURCES), help="restrict to some of " + ", ".join(SOURCES))
    ap.add_argument("--train-args", default=None, metavar="'FLAGS'",
                    help="flags of the corpus-only and leave-one-out models, one string: --train-args='--C 4' "
                         "(default: the shipped model's, scripts/default-model-flags)")
    ap.add_argument("--adapted-train-args", default="", metavar="'FLAGS'",
                    help="flags of the adapted models (default: none, joblabel's defaults, as a board training its own model)")
    ap.add_argument("--corpus-weight", help="passed to 'train --with-default-corpus' in the adapted table")
    ap.add_argument("--algorithm", default="lr", choices=["lr", "nb", "ensemble"])
    ap.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    ap.add_argument("--check", action="store_true", help="assert issue 13's targets; exit 1 if any fails")
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"), help="the shared data directory")
    ap.add_argument("--corpus", default=os.path.join(ROOT, "corpus"), help="the training corpus (default: corpus/)")
    ap.add_argument("--bin", default=os.environ.get("JOBLABEL_BIN"),
                    help="joblabel binary (default: $JOBLABEL_BIN, else a fresh release build)")
    ap.add_argument("--no-cross-check", action="store_true", help="skip the 'joblabel evaluate' cross-check")
    a = ap.parse_args(argv)
    a.data, a.corpus = os.path.normpath(os.path.abspath(a.data)), os.path.normpath(os.path.abspath(a.corpus))
    a.only = [t.strip() for t in a.only.split(",") if t.strip()]
    a.sources = [s.strip() for s in a.sources.split(",") if s.strip()]
    bad = [t for t in a.only if t not in TABLES] + [s for s in a.sources if s not in SOURCES]
    if bad or not a.only or not a.sources:
        ap.error(f"unknown or empty --only/--sources value(s): {', '.join(bad) or '(none)'}")
    a.sources = [s for s in SOURCES if s in a.sources]
    if a.check and a.split != "test":
        ap.error("--check asserts the targets on the test files; drop --split train")
    if a.check and a.sources != SOURCES:
        ap.error("--check needs all four sources (the targets are pooled over them)")
    if a.train_args is None:
        with open(os.path.join(ROOT, "scripts", "default-model-flags"), encoding="utf-8") as f:
            a.train_args = f.read().strip()
    try:
        a.train_args = shlex.split(a.train_args)
        a.adapted_train_args = shlex.split(a.adapted_train_args)
    except ValueError as e:
        ap.error(f"--train-args / --adapted-train-args: {e}")
    return a


def main(argv):
    started = time.time()
    a = parse_args(argv)
    needed = set(SOURCES if "loso" in a.only else a.sources) | (set(EXTRA) if "extra" in a.only else set())
    missing = [f"{d}/{f}.jsonl" for d in sorted(needed) for f in ("train", "test")
               if not os.path.isfile(os.path.join(a.data, d, f + ".jsonl"))]
    if not os.path.isdir(a.data):
        print(f"evaluate-default: no shared data directory at {a.data}; nothing to evaluate", file=sys.stderr)
        return 69
    if missing:
        print(f"evaluate-default: the shared data at {a.data} is incomplete (missing "
              f"{', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}); nothing to evaluate", file=sys.stderr)
        return 69
    if not a.bin:
        print("evaluate-default: JOBLABEL_BIN is not set; building joblabel (swift build -c release)", file=sys.stderr)
        if subprocess.run(["swift", "build", "-c", "release", "--product", "joblabel"], cwd=ROOT,
                          stdout=sys.stderr).returncode != 0:
            raise Failure(70, "swift build failed")
        a.bin = os.path.join(ROOT, ".build", "release", "joblabel")
    if not os.access(a.bin, os.X_OK):
        raise Failure(66, f"no joblabel binary at {a.bin}")
    if ("default" in a.only or "extra" in a.only) and not os.path.isfile(os.path.join(a.model, "manifest.json")):
        raise Failure(66, f"{a.model}: no model bundle (manifest.json) there")

    jl = Joblabel(a.bin, a.algorithm, a.train_args)
    a.with_default_corpus = "adapted" in a.only and jl.help_lists("train", "--with-default-corpus")
    if a.corpus_weight is not None and "adapted" in a.only and not a.with_default_corpus:
        raise Failure(64, f"--corpus-weight needs 'joblabel train --with-default-corpus', which {a.bin} lacks")

    data = {}
    for d in sorted(needed):
        data[d] = {}
        for f in ("train", "test"):
            data[d][f + "_path"] = os.path.join(a.data, d, f + ".jsonl")
            data[d][f] = load(data[d][f + "_path"])

    res = {}
    with tempfile.TemporaryDirectory(prefix="evaluate-default-") as tmp:
        corpus_model = None
        if "loso" in a.only or "adapted" in a.only:
            corpus_model = jl.train(["--data", a.corpus], os.path.join(tmp, "corpus-only"))
        if "default" in a.only:
            res["default"] = table_default(jl, a, data, a.sources)
        if "loso" in a.only:
            res["loso"] = table_loso(jl, a, data, a.sources, tmp, corpus_model)
        if "adapted" in a.only:
            res["adapted"] = table_adapted(jl, a, data, a.sources, tmp, corpus_model)
        if "extra" in a.only:
            res["extra"] = table_extra(jl, a, data, tmp)
    elapsed = time.time() - started

    model = os.path.relpath(os.path.abspath(a.model), ROOT)
    if model.startswith(".."):
        model = os.path.abspath(a.model)
    split = f"{a.split} files"
    train_line = shlex.join(["joblabel", "train", "...", "--out", "DIR"] + BASE_TRAIN + a.train_args)
    trained = f"; trained models: `{train_line}`" if jl.trains else ""
    print(f"Scored on the {split} of ../shared/data with `{a.algorithm}`{trained}.\n")
    if "default" in res:
        print_table(f"Default model (`{model}`), {split}", None, res["default"])
    if "loso" in res:
        print_table(f"Leave one source out, {split}",
                    "Leave-one-out model: corpus/ + the train files of the other three LinkedIn-scale sources.",
                    res["loso"])
    if "adapted" in res:
        how = ("`train --data S/train.jsonl --with-default-corpus" +
               (f" --corpus-weight {a.corpus_weight}`" if a.corpus_weight is not None else "`")
               if a.with_default_corpus else "`train --data corpus --data S/train.jsonl`")
        where = ("scored on the test file of S" if a.split == "test" else
                 f"{FOLDS}-fold cross-validation inside the train file of S (folds keep near-duplicates together)")
        print_table("Adapted to each source", f"Adapted model: {how}, {where}.", res["adapted"])
    if "extra" in res:
        print_table(f"Title-derived seniority, title removed, {split}",
                    "Labels computed from the title by the title rule; the model reads the text alone. "
                    "A sanity check, not a headline.", res["extra"])

    failed = []
    if a.check:
        print("## Targets (issue 13)\n")
        for desc, value, ok in checks(res, a):
            print(f"- {'PASS' if ok else 'not checked' if ok is None else 'FAIL'}: {desc} ({value})")
            if ok is False:
                failed.append(f"{desc} ({value})")
        print()
    print(f"_{jl.trains} models trained; {elapsed:.1f} s._")

    if a.json:
        out = {"settings": {"model": model, "split": a.split, "algorithm": a.algorithm, "sources": a.sources,
                            "tables": a.only, "train_flags": BASE_TRAIN + a.train_args,
                            "adapted_with_default_corpus": bool(a.with_default_corpus),
                            "corpus_weight": a.corpus_weight, "binary": a.bin,
                            "seconds": round(elapsed, 2)},
               "tables": res}
        if a.check:
            out["checks"] = [{"target": d, "value": v, "passed": ok} for d, v, ok in checks(res, a)]
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
    if failed:
        print("evaluate-default: targets failed:\n  " + "\n  ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Failure as e:
        print(f"evaluate-default: {e}", file=sys.stderr)
        sys.exit(e.status)
    except KeyboardInterrupt:
        sys.exit(130)
