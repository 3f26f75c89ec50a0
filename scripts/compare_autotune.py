#!/usr/bin/env python3
"""Settings search at equal budgets: joblabel's `train --autotune` against scikit-learn's GridSearchCV and
fastText's autotune (see scripts/compare-autotune, which provides the virtual environment and the binary).

    compare-autotune [--data DIR] [--datasets google:role,wuzzuf:seniority,linkedin:seniority]
                     [--budget 60] [--folds 5] [--json FILE] [--joblabel PATH]

Per dataset and head, on the rows of DIR/<dataset>/train.jsonl that have the head's label:
  1. joblabel: `train --labels HEAD --autotune --autotune-seconds BUDGET` (its standard grid), and again with
     `--autotune-grid ...` for the grid below (the values GridSearchCV gets); each then `classify
     --algorithm lr` on the test rows. Wall time: the whole `train` (search and final training).
  2. scikit-learn: GridSearchCV over the same grid (title and text TF-IDF in one row: title terms as their
     own features times the title weight, one L2 norm, as joblabel's `--title-mode namespace`; all word
     tokens; LogisticRegression(lbfgs, max_iter 200, tol 1e-4) with C and class_weight, or MultinomialNB
     with alpha), StratifiedGroupKFold on joblabel's group keys (normalised title + first 300 characters of
     normalised text: reposts of one ad in one fold), n_jobs=2, the vectorizer cached across classifier
     settings (Pipeline memory); the best estimator refitted on all training rows. It has no budget: it runs
     the whole grid.
  3. fastText: `train_supervised(autotuneValidationFile=..., autotuneDuration=BUDGET, thread=2)` with a
     grouped 80/20 split of the training rows as its validation file, then the chosen arguments retrained
     on all training rows (the retraining is in its wall time), in a child process capped at 8 GB of address
     space (its search space reaches models of tens of GB); when the child fails (it sometimes dies of a
     floating-point exception) it is run once more with seed 1.
Macro-F1 is computed here, the same way for the three (sklearn.metrics.f1_score, average="macro", over the
labels in truth or predictions), on DIR/<dataset>/test.jsonl rows with the head's label. The test files only
report: nothing is chosen on them.
"""

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

# The grid both joblabel ("same grid") and GridSearchCV search; small, because GridSearchCV has no budget and
# scikit-learn's logistic regression takes seconds per fit on these files (fastText's autotune searches its
# own space). joblabel's standard grid (`--autotune` alone) is run too, at the budget.
GRID = {
    "ngrams": [1, 2],
    "min-df": [2],
    "sublinear-tf": ["on"],
    "title": [1, 3],
    "C": [1, 10, 100],
    "class-weight": ["balanced"],
    "alpha": [0.01, 0.1, 1],
}

DEFAULT_DATASETS = "google:role,wuzzuf:seniority,linkedin:seniority"


def log(msg):
    print(f"compare-autotune: {msg}", file=sys.stderr, flush=True)


def load(path, head):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                if d.get(head):
                    rows.append(d)
    return rows


def normalise(s, limit=None):
    """joblabel's Folds.normalise: lowercased, runs of white space as one space, trimmed, at most `limit` characters."""
    out = " ".join(s.lower().split())
    return out if limit is None else out[:limit]


def group_key(d):
    return normalise(d.get("title") or "") + "\0" + normalise(d.get("text") or "", 300)


def macro_f1(truth, predicted):
    from sklearn.metrics import f1_score
    return float(f1_score(truth, predicted, average="macro", zero_division=0))


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for d in rows:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- joblabel

def run_joblabel(binary, train_path, test_path, test_rows, head, budget, folds, work, same_grid):
    model = os.path.join(work, "joblabel-model")
    cmd = [binary, "train", "--data", train_path, "--labels", head, "--out", model, "--quiet",
           "--autotune", "--autotune-seconds", str(budget), "--autotune-folds", str(folds)]
    if same_grid:
        for name, values in GRID.items():
            cmd += ["--autotune-grid", f"{name}={','.join(str(v) for v in values)}"]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t
    out = subprocess.run([binary, "classify", "--model", model, "--algorithm", "lr", "--quiet", test_path],
                         check=True, stdout=subprocess.PIPE).stdout.decode()
    predicted = [json.loads(line)[head]["label"] for line in out.splitlines() if line.strip()]
    with open(os.path.join(model, "manifest.json"), encoding="utf-8") as f:
        search = json.load(f)["autotune"]
    winner = search["vectors"][search["winner"]] if search.get("winner") is not None else {}
    settings = search["heads"][0]["settings"] if search.get("heads") else {}
    chosen = (f"ngrams {winner.get('ngrams')}, min-df {winner.get('min_df')}, "
              f"{'sublinear' if winner.get('sublinear_tf') else 'raw'} tf, title {winner.get('title')}; "
              f"LR C {settings.get('c')}, {settings.get('class_weight')}"
              + (f", experts {settings['lr_experts']}" if settings.get("lr_experts") else ""))
    return {"f1": macro_f1([d[head] for d in test_rows], predicted), "wall": wall, "tried": len(search["trials"]),
            "candidates": search["candidates"], "stopped": search["stopped_at_budget"], "chosen": chosen,
            "search_seconds": search["seconds"]}


# ---------------------------------------------------------------- scikit-learn

WORDS = r"(?u)\b\w+\b"   # every run of word characters, as joblabel's default tokenizer


try:
    from sklearn.base import BaseEstimator, TransformerMixin
except ImportError:  # --help, answered without the virtual environment
    BaseEstimator = TransformerMixin = object


class TitleTextTfidf(BaseEstimator, TransformerMixin):
    """Title terms and text terms as separate TF-IDF features of one row, title terms times `title_weight`,
    one L2 norm over the row (joblabel's namespace title mode). X: (title, text) pairs."""

    def __init__(self, ngram_range=(1, 1), min_df=1, sublinear_tf=True, title_weight=1.0):
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.title_weight = title_weight

    def _vectorizer(self):
        import numpy as np
        from sklearn.feature_extraction.text import TfidfVectorizer
        return TfidfVectorizer(token_pattern=WORDS, ngram_range=self.ngram_range, min_df=self.min_df,
                               sublinear_tf=self.sublinear_tf, norm=None, dtype=np.float32)

    def fit(self, X, y=None):
        self.title_ = self._vectorizer()
        self.text_ = self._vectorizer()
        try:
            self.title_.fit([t for t, _ in X])
            self.has_title_ = True
        except ValueError:  # no title term reaches min-df
            self.has_title_ = False
        self.text_.fit([b for _, b in X])
        return self

    def transform(self, X):
        from scipy.sparse import hstack
        from sklearn.preprocessing import normalize
        parts = [self.text_.transform([b for _, b in X])]
        if self.has_title_:
            parts.insert(0, self.title_.transform([t for t, _ in X]) * self.title_weight)
        return normalize(hstack(parts).tocsr())


def run_sklearn(train_rows, test_rows, head, folds, work):
    import numpy as np
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import Pipeline

    # The transformer by its module's name (not __main__), so the worker processes can unpickle it.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from compare_autotune import TitleTextTfidf as Transformer
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    X = [(d.get("title") or "", d.get("text") or "") for d in train_rows]
    y = np.array([d[head] for d in train_rows])
    groups = [group_key(d) for d in train_rows]
    vec = {
        "features__ngram_range": [(1, n) for n in GRID["ngrams"]],
        "features__min_df": GRID["min-df"],
        "features__sublinear_tf": [v == "on" for v in GRID["sublinear-tf"]],
        "features__title_weight": [float(w) for w in GRID["title"]],
    }
    grid = [
        dict(vec, clf=[LogisticRegression(max_iter=200, tol=1e-4)], clf__C=GRID["C"],
             clf__class_weight=[None if w == "none" else w for w in GRID["class-weight"]]),
        dict(vec, clf=[MultinomialNB()], clf__alpha=GRID["alpha"]),
    ]
    cache = tempfile.mkdtemp(dir=work, prefix="sklearn-cache-")
    pipeline = Pipeline([("features", Transformer()), ("clf", LogisticRegression())], memory=cache)
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=42)
    search = GridSearchCV(pipeline, grid, scoring="f1_macro", cv=cv, n_jobs=2, refit=True, error_score=0.0)
    t = time.perf_counter()
    search.fit(X, y, groups=groups)
    wall = time.perf_counter() - t
    shutil.rmtree(cache, ignore_errors=True)
    predicted = search.predict([(d.get("title") or "", d.get("text") or "") for d in test_rows])
    candidates = len(search.cv_results_["params"])
    p = search.best_params_
    clf = type(p["clf"]).__name__
    chosen = (f"ngrams {p['features__ngram_range'][1]}, min-df {p['features__min_df']}, "
              f"{'sublinear' if p['features__sublinear_tf'] else 'raw'} tf, title {p['features__title_weight']:g}; "
              + (f"LR C {p['clf__C']}, {p['clf__class_weight'] or 'none'}" if clf == "LogisticRegression" else f"NB alpha {p['clf__alpha']}"))
    return {"f1": macro_f1([d[head] for d in test_rows], list(predicted)), "wall": wall,
            "fits": candidates * folds + 1, "candidates": candidates, "chosen": chosen}


# ---------------------------------------------------------------- fastText

def ft_line(d):
    return " ".join(re.findall(r"\w+", ((d.get("title") or "") + "\n" + (d.get("text") or "")).lower()))


# fastText's autotune may try models of several GB (dimension up to 1000, up to 10 M buckets) and its
# training sometimes dies of a floating-point exception; it runs in a child process with this address-space
# cap, and is retried once with another seed when it fails.
FASTTEXT_MEMORY_CAP = 8 << 30


def fasttext_worker(work, budget, seed):
    """In a child process: autotune on fit.txt against valid.txt, retrain the chosen arguments on all.txt,
    label test.txt; writes result.json."""
    import fasttext
    t = time.perf_counter()
    tuned = fasttext.train_supervised(input=os.path.join(work, "fasttext-fit.txt"),
                                      autotuneValidationFile=os.path.join(work, "fasttext-valid.txt"),
                                      autotuneDuration=int(budget), thread=2, verbose=0, seed=seed)
    search_wall = time.perf_counter() - t
    args = dict(lr=tuned.lr, dim=tuned.dim, ws=tuned.ws, epoch=tuned.epoch, minCount=tuned.minCount, minn=tuned.minn,
                maxn=tuned.maxn, neg=tuned.neg, wordNgrams=tuned.wordNgrams, loss=tuned.loss.name, bucket=tuned.bucket,
                lrUpdateRate=tuned.lrUpdateRate, t=tuned.t)
    del tuned
    final = fasttext.train_supervised(input=os.path.join(work, "fasttext-all.txt"), thread=2, verbose=0, seed=seed, **args)
    with open(os.path.join(work, "fasttext-test.txt"), encoding="utf-8") as f:
        # The binding's own call: FastText.predict of one line fails under NumPy 2 (np.array(copy=False)).
        labels = [final.f.predict(line.rstrip("\n"), 1, 0.0, "strict")[0][1][len("__label__"):] for line in f]
    with open(os.path.join(work, "fasttext-result.json"), "w", encoding="utf-8") as f:
        json.dump({"labels": labels, "args": args, "search_wall": search_wall}, f)


def run_fasttext(train_rows, test_rows, head, budget, work):
    def write(path, rows, shuffle=True):
        order = list(range(len(rows)))
        if shuffle:
            random.Random(1).shuffle(order)   # fastText trains by SGD in file order
        with open(path, "w", encoding="utf-8") as f:
            for i in order:
                f.write(f"__label__{rows[i][head]} {ft_line(rows[i])}\n")

    # A grouped 80/20 split of the training rows: reposts of one ad on one side.
    def side(d):
        return int(hashlib.sha256(group_key(d).encode()).hexdigest(), 16) % 5 == 0
    valid = [d for d in train_rows if side(d)]
    write(os.path.join(work, "fasttext-fit.txt"), [d for d in train_rows if not side(d)])
    write(os.path.join(work, "fasttext-valid.txt"), valid)
    write(os.path.join(work, "fasttext-all.txt"), train_rows)
    with open(os.path.join(work, "fasttext-test.txt"), "w", encoding="utf-8") as f:
        for d in test_rows:
            f.write(ft_line(d) + "\n")

    def cap():
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (FASTTEXT_MEMORY_CAP, FASTTEXT_MEMORY_CAP))

    result_path = os.path.join(work, "fasttext-result.json")
    t = time.perf_counter()
    attempts = []
    for seed in (0, 1):
        if os.path.exists(result_path):
            os.remove(result_path)
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--fasttext-worker", work, str(budget), str(seed)],
                           preexec_fn=cap, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        attempts.append(p.returncode)
        if os.path.exists(result_path):   # written before any crash at exit
            break
    wall = time.perf_counter() - t
    if not os.path.exists(result_path):
        log(f"  fastText failed (exit statuses {attempts})")
        return {"f1": None, "wall": wall, "failed": attempts, "chosen": "nothing (failed)"}
    with open(result_path, encoding="utf-8") as f:
        r = json.load(f)
    a = r["args"]
    chosen = (f"epoch {a['epoch']}, lr {a['lr']:.3g}, dim {a['dim']}, wordNgrams {a['wordNgrams']}, minCount {a['minCount']}, "
              f"minn {a['minn']}, maxn {a['maxn']}, loss {a['loss']}")
    return {"f1": macro_f1([d[head] for d in test_rows], r["labels"]), "wall": wall, "search_wall": r["search_wall"],
            "attempts": attempts, "validation_rows": len(valid), "chosen": chosen}


# ---------------------------------------------------------------- main

def versions():
    from importlib.metadata import version
    out = {}
    for name in ("scikit-learn", "numpy", "scipy", "fasttext-wheel"):
        try:
            out[name] = version(name)
        except Exception:
            out[name] = "not installed"
    out["python"] = sys.version.split()[0]
    return out


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--fasttext-worker":
        fasttext_worker(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--joblabel", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--datasets", default=DEFAULT_DATASETS)
    ap.add_argument("--budget", type=float, default=60)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--json")
    a = ap.parse_args()
    results = []
    for spec in a.datasets.split(","):
        dataset, head = spec.split(":")
        train_rows = load(os.path.join(a.data, dataset, "train.jsonl"), head)
        test_rows = load(os.path.join(a.data, dataset, "test.jsonl"), head)
        with tempfile.TemporaryDirectory(prefix="compare-autotune-") as work:
            train_path, test_path = os.path.join(work, "train.jsonl"), os.path.join(work, "test.jsonl")
            write_jsonl(train_path, train_rows)
            write_jsonl(test_path, test_rows)
            log(f"{dataset} {head}: {len(train_rows)} training rows, {len(test_rows)} test rows; joblabel, same grid")
            same = run_joblabel(a.joblabel, train_path, test_path, test_rows, head, a.budget, a.folds, work, True)
            log(f"  joblabel same grid {same['f1']:.4f} in {same['wall']:.1f} s; joblabel standard grid")
            jl = run_joblabel(a.joblabel, train_path, test_path, test_rows, head, a.budget, a.folds, work, False)
            log(f"  joblabel {jl['f1']:.4f} in {jl['wall']:.1f} s; GridSearchCV")
            sk = run_sklearn(train_rows, test_rows, head, a.folds, work)
            log(f"  GridSearchCV {sk['f1']:.4f} in {sk['wall']:.1f} s; fastText autotune")
            ft = run_fasttext(train_rows, test_rows, head, a.budget, work)
            log(f"  fastText {ft['f1']} in {ft['wall']:.1f} s")
        results.append({"dataset": dataset, "head": head, "train_rows": len(train_rows), "test_rows": len(test_rows),
                        "joblabel": jl, "joblabel_same_grid": same, "sklearn": sk, "fasttext": ft})
    grid = "; ".join(f"{k} {','.join(str(v) for v in vs)}" for k, vs in GRID.items())
    print(f"Budget {a.budget:g} s per search; {a.folds}-fold grouped cross-validation; the same grid: {grid}.\n")
    print("| dataset | head | train rows | test rows "
          "| joblabel --autotune macro-F1 | wall s | settings tried "
          "| joblabel, same grid macro-F1 | wall s | settings tried "
          "| GridSearchCV, same grid macro-F1 | wall s | fits "
          "| fastText autotune macro-F1 | wall s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        jl, same, sk, ft = r["joblabel"], r["joblabel_same_grid"], r["sklearn"], r["fasttext"]
        print(f"| {r['dataset']} | {r['head']} | {r['train_rows']} | {r['test_rows']} "
              f"| {jl['f1']:.4f} | {jl['wall']:.1f} | {jl['tried']} of {jl['candidates']} "
              f"| {same['f1']:.4f} | {same['wall']:.1f} | {same['tried']} of {same['candidates']} "
              f"| {sk['f1']:.4f} | {sk['wall']:.1f} | {sk['fits']} "
              f"| {'failed' if ft['f1'] is None else format(ft['f1'], '.4f')} | {ft['wall']:.1f} |")
    print()
    for r in results:
        print(f"- {r['dataset']} {r['head']}: joblabel --autotune chose {r['joblabel']['chosen']}; on the same grid "
              f"{r['joblabel_same_grid']['chosen']}; GridSearchCV chose {r['sklearn']['chosen']}; "
              f"fastText chose {r['fasttext']['chosen']}.")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"budget": a.budget, "folds": a.folds, "grid": GRID, "versions": versions(), "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
