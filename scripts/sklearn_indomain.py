#!/usr/bin/env python3
"""scikit-learn's best in-domain model for one head of one dataset: the bar the default model must clear.

Trains on DATASET/train.jsonl and scores DATASET/test.jsonl, rows with a value for HEAD only, over a grid
of scikit-learn pipelines (TfidfVectorizer on title + text: unigrams or uni+bigrams, raw or sublinear
tf; MultinomialNB, ComplementNB, LogisticRegression plain and balanced, LinearSVC plain and balanced,
each over a range of its regularisation). Picks the best test macro-F1 (an optimistic bar: the grid is
chosen on the test file). Macro-F1 over the labels present in truth or predictions, as everywhere here.

Usage: scripts/sklearn-indomain [--data ../shared/data] [--dataset emscad] [--head role] [--json]
"""
import argparse, itertools, json, os, sys, warnings

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.naive_bayes import ComplementNB, MultinomialNB
from sklearn.svm import LinearSVC

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def load(path, head):
    with open(path, encoding="utf-8") as f:
        rows = [r for r in map(json.loads, f) if r.get(head)]
    return [(r.get("title") or "") + "\n" + r["text"] for r in rows], [r[head] for r in rows]


def models():
    for a in (0.01, 0.03, 0.1, 0.3, 1.0):
        yield f"MultinomialNB(alpha={a})", MultinomialNB(alpha=a)
        yield f"ComplementNB(alpha={a})", ComplementNB(alpha=a)
    for c, w in itertools.product((0.3, 1, 3, 10, 30, 100), (None, "balanced")):
        yield f"LogisticRegression(C={c}, class_weight={w})", LogisticRegression(C=c, class_weight=w, max_iter=2000)
        yield f"LinearSVC(C={c}, class_weight={w})", LinearSVC(C=c, class_weight=w)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--dataset", default="emscad")
    ap.add_argument("--head", default="role")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    d = os.path.join(a.data, a.dataset)
    if not os.path.exists(os.path.join(d, "test.jsonl")):
        print(f"sklearn-indomain: no data at {d}", file=sys.stderr)
        return 69
    xtr, ytr = load(os.path.join(d, "train.jsonl"), a.head)
    xte, yte = load(os.path.join(d, "test.jsonl"), a.head)
    results = []
    warnings.filterwarnings("ignore")
    for ngram, sub in itertools.product(((1, 1), (1, 2)), (False, True)):
        vec = TfidfVectorizer(ngram_range=ngram, sublinear_tf=sub)
        Xtr, Xte = vec.fit_transform(xtr), vec.transform(xte)
        for name, m in models():
            p = m.fit(Xtr, ytr).predict(Xte)
            labels = sorted(set(yte) | set(p))
            results.append({"vectorizer": f"TfidfVectorizer(ngram_range={ngram}, sublinear_tf={sub})", "model": name,
                            "macro_f1": f1_score(yte, p, labels=labels, average="macro", zero_division=0),
                            "accuracy": accuracy_score(yte, p)})
    results.sort(key=lambda r: (-r["macro_f1"], -r["accuracy"]))
    best = results[0]
    out = {"dataset": a.dataset, "head": a.head, "train_rows": len(ytr), "test_rows": len(yte),
           "configurations": len(results), "best": best, "best_accuracy": max(r["accuracy"] for r in results)}
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"{a.dataset} {a.head}: train {len(ytr)} rows, test {len(yte)} rows, {len(results)} configurations")
        for r in results[:5]:
            print(f"  macro-F1 {r['macro_f1']:.4f}  accuracy {r['accuracy']:.4f}  {r['vectorizer']} + {r['model']}")
        print(f"best macro-F1 {best['macro_f1']:.4f}; best accuracy of any configuration {out['best_accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
