#!/usr/bin/env python3
"""joblabel against scikit-learn and fastText on the same data, in one run (see scripts/bench).

Everything is timed on this machine, side by side, and written as one Markdown table of absolute figures
and ratios (peer time / joblabel time; above 1 means joblabel is faster), plus a JSON file with every
number, under scripts/bench-results/.

Data (built once into --work, deterministic): the 20 Newsgroups train/test files with a second head
`group` (the newsgroup hierarchy: comp, rec, sci, talk, ...), scale corpora of 1x, 4x and 16x the train
file (sentences shuffled between documents of the same topic), and, with --million, 1,000,000 postings
built the same way from corpus/. Settings: joblabel `--preset sklearn` (scikit-learn's defaults: the
title concatenated with the text, TfidfVectorizer(), MultinomialNB(), LogisticRegression(C=1, lbfgs,
max_iter=100, tol=1e-4)) on both sides; fastText supervised with lr 1.0, 5 epochs, 2 threads (the default
lr 0.1 learns almost nothing in 5 epochs on this data), one model per head.

The C reference (scripts/cref/cref.c, compiled once with gcc -O2 -march=native and cached under --work) is the
yardstick that does not depend on a peer's build: it reads the same files, scans the JSON strings, tokenizes
as joblabel's sklearn tokenizer and counts terms (per document and document frequency), on 1 and 2 threads,
best of --repeat. joblabel's vectorize and classify are reported as a percentage of its throughput at the same
thread count (C reference time / joblabel time on the same input). `--only cref` runs just that part: the C
reference and the joblabel figures it is compared with (about a minute, no scikit-learn or fastText).
`--only train` runs just the training figures: the in-process fits, `joblabel train` end to end against
scikit-learn's vectorize + NB + LR (its --repeat runs split before and after scikit-learn's), and the
1-thread against the 2-thread model (no fastText).
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "cref"))
import build as cref_build  # noqa: E402  (scripts/cref/build.py)


# ---------------------------------------------------------------- helpers

def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def run_timed(cmd, stdin=None, stdout=subprocess.DEVNULL, env=None):
    """Runs a command under /usr/bin/time; returns (wall seconds, user+sys seconds, peak RSS MB, stderr)."""
    full = ["/usr/bin/time", "-f", "@@TIME %e %U %S %M"] + cmd
    p = subprocess.run(full, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=env)
    err = p.stderr.decode("utf-8", "replace")
    m = re.search(r"@@TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", err)
    if p.returncode != 0 or not m:
        raise SystemExit(f"bench: command failed ({p.returncode}): {' '.join(cmd)}\n{err[-2000:]}")
    wall, user, sys_, rss = float(m.group(1)), float(m.group(2)), float(m.group(3)), int(m.group(4))
    return wall, user + sys_, rss / 1024, err


def median_run(cmd, repeat, **kw):
    runs = [run_timed(cmd, **kw) for _ in range(repeat)]
    walls = sorted(r[0] for r in runs)
    mid = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
    return statistics.median(walls), mid[1], max(r[2] for r in runs), mid[3]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def doc_text(d):
    return (d.get("title") or "") + "\n" + d["text"]


def mb(path):
    return os.path.getsize(path) / 1e6


def text_mb(docs):
    return sum(len(doc_text(d).encode("utf-8")) for d in docs) / 1e6


def macro_f1(truth, pred):
    from sklearn.metrics import f1_score
    return f1_score(truth, pred, average="macro")


def sk_loss(clf, X, y):
    """scikit-learn's lbfgs objective at its solution: mean cross-entropy + ||W||² / (2 C n)."""
    import numpy as np
    from scipy.special import logsumexp
    scores = X @ clf.coef_.T + clf.intercept_
    if scores.shape[1] == 1:
        scores = np.hstack([np.zeros_like(scores), scores])
    idx = np.searchsorted(clf.classes_, y)
    lse = logsumexp(scores, axis=1)
    ce = float(np.mean(lse - scores[np.arange(len(y)), idx]))
    return ce + float((clf.coef_ ** 2).sum()) / (2 * clf.C * len(y))


# ---------------------------------------------------------------- data

def prepare(work, data_dir, factors, million):
    os.makedirs(work, exist_ok=True)
    make = [sys.executable, os.path.join(HERE, "make_scale_corpus.py")]
    files = {}

    def ensure(name, args):
        path = os.path.join(work, name)
        if not os.path.exists(path):
            log(f"building {path}")
            subprocess.run(make + args + ["--out", path + ".tmp"], check=True)
            os.replace(path + ".tmp", path)
        files[name] = path
        return path

    ensure("news-train.jsonl", ["news-labels", "--source", os.path.join(data_dir, "20news/train.jsonl")])
    ensure("news-test.jsonl", ["news-labels", "--source", os.path.join(data_dir, "20news/test.jsonl")])
    for f in factors:
        ensure(f"news-{f}x.jsonl", ["news", "--source", os.path.join(data_dir, "20news/train.jsonl"), "--factor", str(f)])
    if million:
        ensure("posts-1m.jsonl", ["posts", "--source", os.path.join(ROOT, "corpus"), "--count", "1000000"])
    return files


# ---------------------------------------------------------------- joblabel

class Joblabel:
    def __init__(self, binary, bench_binary, work):
        self.bin = binary
        self.bench_bin = bench_binary
        self.work = work

    def train(self, data, heads, out, preset="sklearn", threads=None, repeat=1):
        cmd = [self.bin, "train", "--data", data, "--labels", heads, "--out", out]
        if preset:
            cmd += ["--preset", preset]
        if threads:
            cmd += ["--threads", str(threads)]
        wall, cpu, rss, _ = median_run(cmd, repeat)
        with open(os.path.join(out, "manifest.json")) as f:
            manifest = json.load(f)
        return wall, cpu, rss, manifest

    def classify(self, model, data, algorithm="lr", threads=None, repeat=1, out_path=None):
        cmd = [self.bin, "classify", "--model", model, "--algorithm", algorithm, data]
        if threads:
            cmd += ["--threads", str(threads)]
        if out_path:
            runs = []
            for _ in range(repeat):
                with open(out_path, "wb") as f:  # each run writes the file anew
                    runs.append(run_timed(cmd, stdout=f))
            runs.sort(key=lambda r: r[0])
            mid = runs[len(runs) // 2]
            return mid[0], mid[1], max(r[2] for r in runs)
        r = median_run(cmd, repeat)
        return r[0], r[1], r[2]

    def classify_best(self, model, data, threads, repeat, out_path):
        """Best wall time of `repeat` CLI classify runs, timed here (/usr/bin/time counts only 10 ms steps)."""
        cmd = [self.bin, "classify", "--model", model, "--algorithm", "lr", "--threads", str(threads), data]
        best = float("inf")
        for _ in range(repeat):
            with open(out_path, "wb") as f:
                t = time.perf_counter()
                subprocess.run(cmd, stdout=f, check=True)
                best = min(best, time.perf_counter() - t)
        return best

    def phases(self, data, heads, threads=None, repeat=3, vectorize_only=False):
        cmd = [self.bench_bin, "--data", data, "--labels", heads, "--preset", "sklearn", "--repeat", str(repeat)]
        if threads:
            cmd += ["--threads", str(threads)]
        if vectorize_only:
            cmd += ["--vectorize-only"]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout.decode()
        res = {"raw": out}
        m = re.search(r"vectorize\s+([\d.]+) s", out)
        res["vectorize"] = float(m.group(1))
        m = re.search(r"vectorize\s+[\d.]+ s\s+\([\d.]+ MB/s, (\d+) features", out)
        res["features"] = int(m.group(1)) if m else None
        m = re.search(r"transform\s+([\d.]+) s", out)
        res["transform"] = float(m.group(1)) if m else None
        for head in heads.split(","):
            m = re.search(head + r": NB fit ([\d.]+) s; LR fit ([\d.]+) s, ([\d.]+) s CPU \((\d+) Newton iterations, (\d+) passes, loss ([\d.]+)", out)
            if m:
                res[head] = {"nb": float(m.group(1)), "lr": float(m.group(2)), "lr_cpu": float(m.group(3)),
                             "iterations": int(m.group(4)), "passes": int(m.group(5)), "loss": float(m.group(6))}
        return res

    def load_time(self, model, repeat=21):
        """(first load in a fresh process, median over `repeat` processes; warm load, median of `repeat` loads in one process)."""
        def run(n):
            out = subprocess.run([self.bench_bin, "--load", model, "--repeat", str(n)], check=True,
                                 stdout=subprocess.PIPE).stdout.decode()
            return float(re.search(r"load\s+([\d.]+) s", out).group(1))
        return statistics.median(run(1) for _ in range(repeat)), run(repeat)


def joblabel_f1(predictions_path, test_docs, head):
    preds = [json.loads(line)[head]["label"] for line in open(predictions_path) if line.strip()]
    truth = [d[head] for d in test_docs]
    return macro_f1(truth, preds)


# ---------------------------------------------------------------- scikit-learn

SK_SCRIPT = r'''
import json, sys, time, resource
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.naive_bayes import MultinomialNB
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
train_path, test_path, heads, mode = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4]
def load(p):
    rows = [json.loads(l) for l in open(p, encoding="utf-8") if l.strip()]
    return [(r.get("title") or "") + "\n" + r["text"] for r in rows], rows
out = {}
docs, rows = load(train_path)
t = time.perf_counter(); vec = TfidfVectorizer(); X = vec.fit_transform(docs); out["vectorize"] = time.perf_counter() - t
out["features"] = len(vec.vocabulary_)
models = {}
if mode != "vectorize":
    for h in heads:
        y = np.array([r[h] for r in rows])
        t = time.perf_counter(); nb = MultinomialNB().fit(X, y); tnb = time.perf_counter() - t
        t = time.perf_counter(); lr = LogisticRegression(C=1.0, max_iter=100, tol=1e-4).fit(X, y); tlr = time.perf_counter() - t
        out[h] = {"nb": tnb, "lr": tlr, "iterations": int(np.max(lr.n_iter_))}
        models[h] = (nb, lr, y)
    out["train_total"] = out["vectorize"] + sum(out[h]["nb"] + out[h]["lr"] for h in heads)
    # the LR objective at the solution
    from scipy.special import logsumexp
    for h in heads:
        nb, lr, y = models[h]
        s = X @ lr.coef_.T + lr.intercept_
        idx = np.searchsorted(lr.classes_, y)
        ce = float(np.mean(logsumexp(s, axis=1) - s[np.arange(len(y)), idx]))
        out[h]["loss"] = ce + float((lr.coef_ ** 2).sum()) / (2 * lr.C * len(y))
    if test_path != "-":
        tdocs, trows = load(test_path)
        t = time.perf_counter()
        Xt = vec.transform(tdocs)
        preds = {h: (models[h][0].predict(Xt), models[h][1].predict(Xt)) for h in heads}
        out["classify"] = time.perf_counter() - t
        out["classify_docs"] = len(tdocs)
        for h in heads:
            truth = [r[h] for r in trows]
            out[h]["nb_f1"] = f1_score(truth, preds[h][0], average="macro")
            out[h]["lr_f1"] = f1_score(truth, preds[h][1], average="macro")
out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
'''


def sklearn_run(python, train, test, heads, mode="all"):
    t = time.perf_counter()
    p = subprocess.run([python, "-c", SK_SCRIPT, train, test, heads, mode], check=True, stdout=subprocess.PIPE)
    res = json.loads(p.stdout)
    res["wall"] = time.perf_counter() - t
    return res


# ---------------------------------------------------------------- fastText

def fasttext_run(train_docs, test_docs, head, work):
    import fasttext
    def clean(d):
        return " ".join(doc_text(d).lower().split())
    path = os.path.join(work, f"fasttext-{head}.txt")
    # fastText trains by SGD in file order: shuffle (seeded), as its documentation advises.
    import random
    order = list(range(len(train_docs)))
    random.Random(1).shuffle(order)
    with open(path, "w", encoding="utf-8") as f:
        for i in order:
            f.write(f"__label__{train_docs[i][head]} {clean(train_docs[i])}\n")
    t = time.perf_counter()
    model = fasttext.train_supervised(path, lr=1.0, epoch=5, thread=2, verbose=0)
    train_time = time.perf_counter() - t
    texts = [clean(d) for d in test_docs]
    t = time.perf_counter()
    labels, _ = model.predict(texts)
    predict_time = time.perf_counter() - t
    preds = [l[0][len("__label__"):] for l in labels]
    return {"train": train_time, "predict": predict_time, "f1": macro_f1([d[head] for d in test_docs], preds),
            "docs": len(test_docs)}


# ---------------------------------------------------------------- C reference

# The C reference and joblabel tokenize alike, so their vocabularies (sklearn tokenizer, min-df 1) have the same
# size; this much relative difference is tolerated, for non-ASCII text where the two may differ (Unicode version
# of Python's tables vs Swift's, the simplified Greek final sigma: see scripts/cref/cref.c). 20news: equal.
CREF_TERMS_TOLERANCE = 1e-4
# Issue 18's targets, as joblabel's throughput in percent of the C reference's at a thread count.
CREF_TARGETS = {"vectorize_1": 60, "classify_cli_2": 40}


def cref_run(binary, path, threads, repeat):
    """One C reference run (best of `repeat` inside): its JSON summary."""
    cmd = [binary, "--json", "-t", str(threads), "-r", str(repeat), "--tokenizer", "sklearn", path]
    return json.loads(subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout)


def percent(c_seconds, jl_seconds):
    """joblabel's throughput in percent of the C reference's on the same input: C time / joblabel time."""
    if not c_seconds or not jl_seconds:
        return None
    return 100.0 * c_seconds / jl_seconds


def fmt_pct(p):
    return "" if p is None else f"{p:.0f} %"


def best_of(runs, prefix):
    """Of several C reference summaries, the `prefix` ("e2e" or "mem") fields of the fastest run."""
    best = min(runs, key=lambda r: r[prefix + "_s"])
    return {k: v for k, v in best.items() if k.startswith(prefix + "_")}


def cref_section(a, jl, heads, train, test, model, tmp, rows, results, sk_vec=None, sk=None, ft=None):
    """The C reference on the train and test files and the joblabel figures compared with it, on 1 and 2
    threads, interleaved round by round (--repeat rounds; the best of each) so that both sides see the same
    load of a shared machine; then the rows comparing them."""
    log("C reference: build")
    binary = cref_build.build(os.path.join(a.work, "cref"))
    # Its token stream against a tiny Python tokenizer first (about a second; exits non-zero on a difference).
    subprocess.run([sys.executable, os.path.join(HERE, "cref", "check.py"), "--cref", binary], check=True,
                   stdout=sys.stderr)
    inf = float("inf")
    vec, tra, cli = {1: inf, 2: inf}, {1: inf, 2: inf}, {1: inf, 2: inf}
    runs = {"train": {1: [], 2: []}, "test": {1: [], 2: []}}
    jl_terms = None
    for r in range(a.repeat):
        log(f"C reference and joblabel, 1 and 2 threads: round {r + 1} of {a.repeat}")
        for t in (1, 2):
            ph = jl.phases(train, heads, threads=t, repeat=1, vectorize_only=True)
            vec[t] = min(vec[t], ph["vectorize"])
            tra[t] = min(tra[t], ph["transform"] or inf)
            jl_terms = ph.get("features")
            for name, path in (("train", train), ("test", test)):
                runs[name][t].append(cref_run(binary, path, t, 1))
            cli[t] = min(cli[t], jl.classify_best(model, test, t, 1, os.path.join(tmp, f"lr-cref-{t}t.jsonl")))
    c = {}
    for name in runs:
        c[name] = {}
        for t in (1, 2):
            sums = {(x["docs"], x["tokens"], x["terms"], x["nnz"], x["checksum"]) for x in runs[name][1] + runs[name][2]}
            if len(sums) != 1:
                raise SystemExit(f"bench: the C reference's checksums differ between runs or thread counts on {name}: {sums}")
            c[name][t] = dict(runs[name][t][0], repeat=a.repeat, **best_of(runs[name][t], "e2e"), **best_of(runs[name][t], "mem"))
    ctr, cte = c["train"], c["test"]
    text_mb, file_mb = ctr[1]["text_bytes"] / 1e6, ctr[1]["file_bytes"] / 1e6
    n_train, n_test = ctr[1]["docs"], cte[1]["docs"]
    tra = {t: (v if v < inf else None) for t, v in tra.items()}
    pc = {}
    for t in (1, 2):
        pc[f"vectorize_{t}"] = percent(ctr[t]["mem_s"], vec[t])
        pc[f"transform_{t}"] = percent(ctr[t]["mem_s"], tra[t])
        pc[f"classify_cli_{t}"] = percent(cte[t]["e2e_s"], cli[t])
    c_terms = ctr[1]["terms"]
    terms_ok = jl_terms is not None and abs(jl_terms - c_terms) <= CREF_TERMS_TOLERANCE * c_terms
    if not terms_ok:
        log(f"WARNING: distinct terms differ beyond the tolerance: joblabel {jl_terms}, C reference {c_terms}")
    results["cref"] = {"binary": os.path.basename(binary), "rounds": a.repeat, "train": ctr, "test": cte,
                       "joblabel": {"vectorize": vec, "transform": tra, "classify_cli": cli, "features": jl_terms},
                       "percent": pc, "targets_percent": CREF_TARGETS, "terms_equal_within_tolerance": terms_ok,
                       "terms_tolerance": CREF_TERMS_TOLERANCE}

    def both(r, key, mb, what):
        return " / ".join(f"{mb / r[t][key]:.0f}" for t in (1, 2)) + f" MB/s {what} (" + \
            " / ".join(f"{r[t]['docs'] / r[t][key]:.0f}" for t in (1, 2)) + " docs/s)"

    def cref_cell(mb, seconds, unit="MB/s"):
        return f"{mb / seconds:.0f} {unit} ({seconds:.3f} s)"

    te_file_mb, te_text_mb = cte[1]["file_bytes"] / 1e6, cte[1]["text_bytes"] / 1e6
    rows.append(("C reference", f"20news train ({file_mb:.1f} MB file, {text_mb:.1f} MB text, {n_train} docs), end to end: read + JSON scan + tokenize + count + merge; 1 / 2 threads, best of {a.repeat} runs",
                 "", "", "", "", "", both(ctr, "e2e_s", file_mb, "of file"), "", ""))
    rows.append(("C reference", "same, in memory (strings decoded beforehand): tokenize + count + merge; 1 / 2 threads",
                 "", "", "", "", "", both(ctr, "mem_s", text_mb, "of text"), "", ""))
    rows.append(("C reference", f"20news test ({te_file_mb:.1f} MB file, {te_text_mb:.1f} MB text, {n_test} docs), end to end; 1 / 2 threads",
                 "", "", "", "", "", both(cte, "e2e_s", te_file_mb, "of file"), "", ""))
    rows.append(("C reference", "same, in memory; 1 / 2 threads", "", "", "", "", "", both(cte, "mem_s", te_text_mb, "of text"), "", ""))
    rows.append(("C reference", "distinct terms of 20news train, sklearn tokenizer, min-df 1 (joblabel-bench features vs C reference)",
                 f"{jl_terms}", "", "", "", "", f"{c_terms}", "", f"equal ± {CREF_TERMS_TOLERANCE * 100:g} %: {'yes' if terms_ok else 'NO'}"))
    rounds = f"best of {a.repeat} rounds interleaved with the C reference"
    for t in (1, 2):
        rows.append(("vs C reference", f"vectorize ({rounds}): fit + transform of 20news train in process, {t} thread{'s' if t > 1 else ''}: MB/s; C reference in memory, {t} thread{'s' if t > 1 else ''}",
                     cref_cell(text_mb, vec[t]), f"{text_mb / sk_vec:.1f} MB/s (1 thread)" if sk_vec else "", "",
                     ratio(sk_vec, vec[t]), "", cref_cell(text_mb, ctr[t]["mem_s"]), fmt_pct(pc[f"vectorize_{t}"]),
                     f"≥ {CREF_TARGETS['vectorize_1']} %" if t == 1 else ""))
    for t in (1, 2):
        if tra[t]:
            rows.append(("vs C reference", f"transform of 20news train with the fitted vectorizer, in process, {t} thread{'s' if t > 1 else ''}: MB/s; C reference in memory",
                         cref_cell(text_mb, tra[t]), "", "", "", "", cref_cell(text_mb, ctr[t]["mem_s"]), fmt_pct(pc[f"transform_{t}"]), ""))
    for t in (2, 1):
        sk_cell = f"{n_test / sk['classify']:.0f} (in process)" if sk else ""
        ft_cell = f"{ft['topic']['docs'] / ft['topic']['predict']:.0f} (one head)" if ft else ""
        rows.append(("vs C reference", f"classify 20news test through the CLI (load included; {rounds}), {t} thread{'s' if t > 1 else ''}: documents/s; C reference end to end, {t} thread{'s' if t > 1 else ''}",
                     f"{n_test / cli[t]:.0f} ({cli[t]:.3f} s)", sk_cell, ft_cell,
                     ratio(sk["classify"], cli[t]) if sk else "", ratio(ft["topic"]["predict"], cli[t]) if ft else "",
                     f"{n_test / cte[t]['e2e_s']:.0f} ({cte[t]['e2e_s']:.3f} s)", fmt_pct(pc[f"classify_cli_{t}"]),
                     f"≥ {CREF_TARGETS['classify_cli_2']} %" if t == 2 else ""))


# ---------------------------------------------------------------- report

def train_section(a, jl, heads, train, test, tmp, rows, results):
    """`--only train`: the in-process fits, scikit-learn's pipeline, and `joblabel train` end to end, its
    --repeat runs split before and after scikit-learn's (the machine's load drifts), median of all; then the
    1-thread model against the 2-thread one."""
    log("train phases")
    ph = jl.phases(train, heads, threads=2, repeat=1)
    model = os.path.join(tmp, "news-model")
    runs = []
    log("joblabel train (CLI), before scikit-learn")
    for _ in range((a.repeat + 1) // 2):
        runs.append(jl.train(train, heads, model))
    log("scikit-learn pipeline (two heads)")
    sk = sklearn_run(sys.executable, train, test, heads)
    log("joblabel train (CLI), after scikit-learn")
    for _ in range(max(1, a.repeat // 2)):
        runs.append(jl.train(train, heads, model))
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    rss = max(r[2] for r in runs)
    results["train_phases"] = {"joblabel": ph, "sklearn": sk}
    results["train_cli"] = {"wall": wall, "cpu": cpu, "rss_mb": rss, "walls": [r[0] for r in runs]}
    for h in heads.split(","):
        j, s = ph[h], sk[h]
        rows.append(("train", f"LR fit, head {h} (iterations / final loss; joblabel: Newton iterations and passes over the data, scikit-learn: L-BFGS iterations)",
                     f"{j['lr']:.3f} s ({j['iterations']} it, {j['passes']} passes / {j['loss']:.6f})",
                     f"{s['lr']:.3f} s ({s['iterations']} it / {s['loss']:.6f})", "", ratio(s["lr"], j["lr"]), "", ""))
    rows.append(("train", f"end to end, both heads: `joblabel train` wall (median of {len(runs)}) vs scikit-learn vectorize + NB + LR",
                 f"{wall:.3f} s", f"{sk['train_total']:.3f} s", "", ratio(sk["train_total"], wall), "", "≥ 16x"))
    rows.append(("train", "cores used (CPU time / wall time)", f"{cpu / wall:.2f}", "", "", "", "", "2"))
    rows.append(("memory", "peak RSS of train", f"{rss:.0f} MB", f"{sk['rss_mb']:.0f} MB", "", "", "", ""))
    log("thread independence")
    m1 = os.path.join(tmp, "news-model-1t")
    jl.train(train, heads, m1, threads=1)
    same = open(os.path.join(m1, "weights.bin"), "rb").read() == open(os.path.join(model, "weights.bin"), "rb").read()
    rows.append(("threads", "1 thread vs 2 threads: weights.bin identical", f"{same}", "", "", "", "", "True"))


def ratio(peer, ours):
    if peer is None or ours is None or ours <= 0:
        return ""
    return f"{peer / ours:.1f}x"


def fmt(x, digits=3):
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    return f"{x:.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--work", default=os.path.join(HERE, ".bench-data"))
    ap.add_argument("--joblabel", required=True)
    ap.add_argument("--joblabel-bench", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--factors", default="1,4,16")
    ap.add_argument("--million", action="store_true", help="also the 1,000,000-posting corpus and a 5 GB streaming classify")
    ap.add_argument("--sklearn-scale", type=int, default=4, help="largest scale factor scikit-learn is run on")
    ap.add_argument("--out-dir", default=os.path.join(HERE, "bench-results"))
    ap.add_argument("--only", choices=["cref", "train"],
                    help="cref: only the C reference and the joblabel figures compared with it; "
                         "train: only the training figures (fits in process, end to end, 1 vs 2 threads)")
    a = ap.parse_args()

    factors = [int(f) for f in a.factors.split(",") if f]
    if a.only:
        factors, a.million = [], False
    files = prepare(a.work, a.data, factors, a.million)
    jl = Joblabel(a.joblabel, a.joblabel_bench, a.work)
    train, test = files["news-train.jsonl"], files["news-test.jsonl"]
    heads = "topic,group"
    train_docs, test_docs = read_jsonl(train), read_jsonl(test)
    rows = []        # (section, metric, joblabel, scikit-learn, fastText, ratio vs sklearn, ratio vs fastText, target)
    results = {"machine": machine(), "files": {k: mb(v) for k, v in files.items()}}
    tmp = tempfile.mkdtemp(prefix="joblabel-bench-")

    if a.only == "cref":
        log("joblabel train (the model classify uses)")
        model = os.path.join(tmp, "news-model")
        jl.train(train, heads, model)
        cref_section(a, jl, heads, train, test, model, tmp, rows, results)
        write_report(rows, results, a.out_dir, suffix="-cref")
        return
    if a.only == "train":
        train_section(a, jl, heads, train, test, tmp, rows, results)
        write_report(rows, results, a.out_dir, suffix="-train")
        return

    # 1. Vectorize: fit + transform of the train file, in process, best of --repeat.
    log("vectorize")
    train_text_mb = text_mb(train_docs)
    ph2 = jl.phases(train, heads, threads=2, repeat=a.repeat, vectorize_only=True)
    ph1 = jl.phases(train, heads, threads=1, repeat=a.repeat, vectorize_only=True)
    sk_vec = min(sklearn_run(sys.executable, train, "-", heads, "vectorize")["vectorize"] for _ in range(max(1, a.repeat - 1)))
    results["vectorize"] = {"joblabel_2": ph2["vectorize"], "joblabel_1": ph1["vectorize"], "sklearn": sk_vec, "text_mb": train_text_mb}
    rows.append(("vectorize", f"fit + transform, 20news train ({train_text_mb:.1f} MB, {len(train_docs)} docs): MB/s, 2 threads",
                 f"{train_text_mb / ph2['vectorize']:.0f} MB/s ({ph2['vectorize']:.3f} s)", f"{train_text_mb / sk_vec:.1f} MB/s ({sk_vec:.3f} s)",
                 "", ratio(sk_vec, ph2["vectorize"]), "", "≥ 25x"))
    rows.append(("vectorize", "same, 1 thread", f"{train_text_mb / ph1['vectorize']:.0f} MB/s ({ph1['vectorize']:.3f} s)", "", "",
                 ratio(sk_vec, ph1["vectorize"]), "", "≥ 150 MB/s"))
    rows.append(("vectorize", "documents/s, 2 threads", f"{len(train_docs) / ph2['vectorize']:.0f}", f"{len(train_docs) / sk_vec:.0f}", "",
                 ratio(sk_vec, ph2["vectorize"]), "", ""))

    # 2. Train: per model in process, and the whole CLI.
    log("train phases")
    ph = jl.phases(train, heads, threads=2, repeat=1)
    log("scikit-learn pipeline (two heads)")
    sk = sklearn_run(sys.executable, train, test, heads)
    results["train_phases"] = {"joblabel": ph, "sklearn": sk}
    for h in heads.split(","):
        j, s = ph[h], sk[h]
        rows.append(("train", f"NB fit, head {h}", f"{j['nb']:.3f} s", f"{s['nb']:.3f} s", "", ratio(s["nb"], j["nb"]), "", ""))
        rows.append(("train", f"LR fit, head {h} (iterations / final loss; joblabel: Newton iterations and passes over the data, scikit-learn: L-BFGS iterations)",
                     f"{j['lr']:.3f} s ({j['iterations']} it, {j['passes']} passes / {j['loss']:.6f})",
                     f"{s['lr']:.3f} s ({s['iterations']} it / {s['loss']:.6f})", "", ratio(s["lr"], j["lr"]), "",
                     "≥ 10x" if h == "topic" else ""))
    log("fastText")
    ft = {h: fasttext_run(train_docs, test_docs, h, tmp) for h in heads.split(",")}
    results["fasttext"] = ft
    for h in heads.split(","):
        rows.append(("train", f"fastText supervised train, head {h} vs joblabel LR fit", f"{ph[h]['lr']:.3f} s", "", f"{ft[h]['train']:.3f} s",
                     "", ratio(ft[h]["train"], ph[h]["lr"]), "≥ 1x" if h == "topic" else ""))
    log("joblabel train (CLI)")
    model = os.path.join(tmp, "news-model")
    wall, cpu, rss, manifest = jl.train(train, heads, model, repeat=a.repeat)
    results["train_cli"] = {"wall": wall, "cpu": cpu, "rss_mb": rss}
    rows.append(("train", "end to end, both heads: `joblabel train` wall vs scikit-learn vectorize + NB + LR",
                 f"{wall:.3f} s", f"{sk['train_total']:.3f} s", "", ratio(sk["train_total"], wall), "", "≥ 16x"))
    rows.append(("train", "cores used (CPU time / wall time)", f"{cpu / wall:.2f}", "", "", "", "", "2"))
    rows.append(("memory", "peak RSS of train", f"{rss:.0f} MB", f"{sk['rss_mb']:.0f} MB", "", "", "", ""))

    # 3. Classify the test file.
    log("classify")
    out_lr = os.path.join(tmp, "lr.jsonl")
    out_nb = os.path.join(tmp, "nb.jsonl")
    c_wall, c_cpu, c_rss = jl.classify(model, test, "lr", repeat=a.repeat, out_path=out_lr)
    jl.classify(model, test, "nb", out_path=out_nb)
    n_test = len(test_docs)
    rows.append(("classify", f"20news test ({n_test} docs, {mb(test):.1f} MB) through the CLI (load included): documents/s",
                 f"{n_test / c_wall:.0f} ({c_wall:.3f} s)", f"{n_test / sk['classify']:.0f} ({sk['classify']:.3f} s, transform + NB + LR predict, in process)",
                 f"{ft['topic']['docs'] / ft['topic']['predict']:.0f} ({ft['topic']['predict']:.3f} s, one head)",
                 ratio(sk["classify"], c_wall), ratio(ft["topic"]["predict"], c_wall), "≥ 15x, ≥ 1x"))
    rows.append(("memory", "peak RSS of classify (test file)", f"{c_rss:.0f} MB", "", "", "", "", ""))
    cref_section(a, jl, heads, train, test, model, tmp, rows, results, sk_vec=sk_vec, sk=sk, ft=ft)

    # 4. Accuracy on the same test file.
    for h in heads.split(","):
        f_lr, f_nb = joblabel_f1(out_lr, test_docs, h), joblabel_f1(out_nb, test_docs, h)
        rows.append(("accuracy", f"macro-F1 on 20news test, head {h}: LR / NB", f"{f_lr:.4f} / {f_nb:.4f}",
                     f"{sk[h]['lr_f1']:.4f} / {sk[h]['nb_f1']:.4f}", f"{ft[h]['f1']:.4f}", "", "", "no lower"))
        results.setdefault("f1", {})[h] = {"joblabel_lr": f_lr, "joblabel_nb": f_nb, "sklearn_lr": sk[h]["lr_f1"],
                                           "sklearn_nb": sk[h]["nb_f1"], "fasttext": ft[h]["f1"]}

    # 5. Cold start and load time.
    log("cold start")
    posting = os.path.join(ROOT, "examples", "posting.txt")
    starts = []
    for _ in range(21):
        t = time.perf_counter()
        subprocess.run([a.joblabel, "classify", posting], check=True, stdout=subprocess.DEVNULL)
        starts.append(time.perf_counter() - t)
    cold = statistics.median(starts)
    default_model = os.path.join(ROOT, "Models", "default")
    load_default, warm_default = jl.load_time(default_model)
    load_news, warm_news = jl.load_time(model, repeat=11)
    size_default = sum(mb(os.path.join(default_model, f)) for f in os.listdir(default_model))
    size_news = sum(mb(os.path.join(model, f)) for f in os.listdir(model))
    results["cold_start"] = {"classify_one": cold, "load_default": load_default, "load_news": load_news,
                             "load_default_warm": warm_default, "load_news_warm": warm_news,
                             "default_mb": size_default, "news_mb": size_news}
    rows.append(("start", "cold start: `joblabel classify` of one posting, default model (median of 21)", f"{cold * 1000:.0f} ms", "", "", "", "", "< 50 ms"))
    rows.append(("start", f"model load alone, first load in a fresh process (median of 21 / 11 processes): default model ({size_default:.1f} MB) / 20news model ({size_news:.1f} MB)",
                 f"{load_default * 1000:.1f} ms / {load_news * 1000:.1f} ms (+{(load_news - load_default) * 1000 / (size_news - size_default):.1f} ms per extra MB)",
                 "", "", "", "", "20news < 5 ms"))
    rows.append(("start", "model load alone, warm (median of repeated loads in one process): default / 20news model",
                 f"{warm_default * 1000:.1f} ms / {warm_news * 1000:.1f} ms ({warm_default * 1000 / size_default:.1f} / {warm_news * 1000 / size_news:.1f} ms per MB)",
                 "", "", "", "", "∝ size"))

    # 6. Threads: identical results on 1 and 2 threads.
    log("thread independence")
    m1 = os.path.join(tmp, "news-model-1t")
    jl.train(train, heads, m1, threads=1)
    same_model = open(os.path.join(m1, "weights.bin"), "rb").read() == open(os.path.join(model, "weights.bin"), "rb").read()
    out1 = os.path.join(tmp, "lr-1t.jsonl")
    jl.classify(model, test, "lr", threads=1, out_path=out1)
    same_out = open(out1, "rb").read() == open(out_lr, "rb").read()
    rows.append(("threads", "1 thread vs 2 threads: weights.bin / classify output identical", f"{same_model} / {same_out}", "", "", "", "", "True / True"))
    results["threads_identical"] = {"weights": same_model, "classify": same_out}

    # 7. Scaling.
    results["scale"] = {}
    for f in factors:
        path = files[f"news-{f}x.jsonl"]
        log(f"scale {f}x")
        m = os.path.join(tmp, f"scale-{f}x")
        t_wall, t_cpu, t_rss, man = jl.train(path, heads, m)
        docs_n = sum(1 for _ in open(path))
        c_wall, c_cpu, c_rss = jl.classify(m, path, "lr")
        entry = {"mb": mb(path), "docs": docs_n, "train_wall": t_wall, "train_cpu": t_cpu, "train_rss": t_rss,
                 "classify_wall": c_wall, "classify_cpu": c_cpu, "classify_rss": c_rss,
                 "lr_iterations": {h["name"]: h["lr_optimization"]["iterations"] for h in man["heads"]}}
        sk_s = None
        if f <= a.sklearn_scale:
            log(f"scikit-learn scale {f}x")
            sk_s = sklearn_run(sys.executable, path, path, heads)
            entry["sklearn"] = sk_s
        results["scale"][f] = entry
        rows.append(("scale", f"{f}x ({mb(path):.0f} MB, {docs_n} docs): train wall / peak RSS; LR iterations topic, group",
                     f"{t_wall:.2f} s / {t_rss:.0f} MB; {entry['lr_iterations'].get('topic')}, {entry['lr_iterations'].get('group')}",
                     f"{sk_s['train_total']:.2f} s / {sk_s['rss_mb']:.0f} MB" if sk_s else "", "",
                     ratio(sk_s["train_total"], t_wall) if sk_s else "", "", ""))
        rows.append(("scale", f"{f}x: classify the same file, documents/s (cores used)",
                     f"{docs_n / c_wall:.0f} ({c_cpu / c_wall:.2f})", f"{docs_n / sk_s['classify']:.0f}" if sk_s else "", "",
                     ratio(sk_s["classify"], c_wall) if sk_s else "", "", ""))
    if len(factors) > 1:
        lo, hi = results["scale"][factors[0]], results["scale"][factors[-1]]
        per_lo, per_hi = lo["train_wall"] / lo["mb"], hi["train_wall"] / hi["mb"]
        rows.append(("scale", f"train seconds per MB, {factors[0]}x vs {factors[-1]}x (linear: equal)", f"{per_lo:.3f} vs {per_hi:.3f}", "", "", "", "", "linear"))

    # 8. One million postings, and a 5 GB streaming classify.
    if a.million:
        path = files["posts-1m.jsonl"]
        log("1M postings train")
        m = os.path.join(tmp, "posts-1m")
        t_wall, t_cpu, t_rss, man = jl.train(path, "role,seniority", m, preset=None)
        results["million"] = {"mb": mb(path), "train_wall": t_wall, "train_cpu": t_cpu, "train_rss": t_rss,
                              "lr": {h["name"]: h["lr_optimization"] for h in man["heads"]}}
        rows.append(("1M", f"train 1,000,000 postings ({mb(path):.0f} MB), default settings, both heads: wall / peak RSS (cores used)",
                     f"{t_wall:.1f} s / {t_rss:.0f} MB ({t_cpu / t_wall:.2f})", "", "", "", "", "< 180 s, < 8 GB"))
        log("5 GB streaming classify")
        reps = max(1, round(5000 / mb(path)))
        feeder = subprocess.Popen(["bash", "-c", f"for i in $(seq {reps}); do cat '{path}'; done"], stdout=subprocess.PIPE)
        s_wall, s_cpu, s_rss, _ = run_timed([a.joblabel, "classify", "--model", m, "-"], stdin=feeder.stdout)
        feeder.wait()
        gb = reps * mb(path) / 1000
        results["million"]["stream"] = {"gb": gb, "wall": s_wall, "cpu": s_cpu, "rss_mb": s_rss}
        rows.append(("1M", f"classify {gb:.1f} GB from a pipe: wall, MB/s, peak RSS (cores used)",
                     f"{s_wall:.0f} s, {gb * 1000 / s_wall:.0f} MB/s, {s_rss:.0f} MB ({s_cpu / s_wall:.2f})", "", "", "", "", "< 200 MB"))

    write_report(rows, results, a.out_dir)


def machine():
    info = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1e6, 1)
                break
    except OSError:
        pass
    try:
        info["commit"] = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE, check=True).stdout.decode().strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], stdout=subprocess.PIPE).stdout.strip()
        if dirty:
            info["commit"] += "+changes"
    except (OSError, subprocess.CalledProcessError):
        info["commit"] = "unknown"
    info["swift"] = subprocess.run(["swift", "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.decode().splitlines()[0]
    info["gcc"] = subprocess.run(["gcc", "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.decode().splitlines()[0]
    try:
        import sklearn
        info["scikit-learn"] = sklearn.__version__
    except ImportError:
        info["scikit-learn"] = "not installed"
    try:
        from importlib.metadata import version
        info["fasttext"] = version("fasttext-wheel")
    except Exception:  # noqa: BLE001
        info["fasttext"] = "not installed"
    return info


def write_report(rows, results, out_dir, suffix=""):
    m = results["machine"]
    lines = [f"Benchmark {m['date']}, commit {m['commit']}: {m.get('cpu', '?')}, {m['cpus']} cores, {m.get('memory_gb', '?')} GB; "
             f"{m['swift']}; scikit-learn {m['scikit-learn']}, fastText {m['fasttext']}, Python {m['python']}; C reference: {m['gcc']}, -O2 -march=native. "
             f"Load average at the start (1, 5, 15 min): {', '.join(str(x) for x in m['load_average'])} (other work on the machine slows every figure).",
             "Ratios are peer time / joblabel time (above 1: joblabel is faster). % of C reference: C reference time / joblabel time on "
             "the same file at the same thread count, i.e. joblabel's throughput as a share of the C reference's (scripts/cref/cref.c).", "",
             "| phase | metric | joblabel | scikit-learn | fastText | ratio vs scikit-learn | ratio vs fastText | C reference | % of C reference | target |",
             "|---|---|---|---|---|---:|---:|---|---:|---|"]
    for r in rows:
        if len(r) == 8:  # rows without C reference columns
            r = tuple(r[:7]) + ("", "") + (r[7],)
        lines.append("| " + " | ".join(str(c) for c in r) + " |")
    table = "\n".join(lines) + "\n"
    print(table)
    os.makedirs(out_dir, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M")
    base = os.path.join(out_dir, f"{stamp}-{m['commit']}{suffix}")
    with open(base + ".md", "w") as f:
        f.write(table)
    with open(base + ".json", "w") as f:
        json.dump(results, f, indent=1, default=str)
    log(f"wrote {base}.md and .json")


if __name__ == "__main__":
    main()
