#!/usr/bin/env python3
"""Compare joblabel with scikit-learn on the same data and the same settings.

Run through the wrapper `scripts/compare-sklearn`, which provides a virtual environment with
scikit-learn and numpy and finds (or builds) the joblabel binary.

    compare-sklearn --train TRAIN.jsonl --test TEST.jsonl [--labels HEADS] [--joblabel PATH]
                    [--check] [--json FILE] [--sklearn-only] [JOBLABEL TRAIN OPTIONS...]

Steps:
  1. joblabel: `train --preset sklearn [options]` into a temporary model directory, then
     `classify --algorithm nb|lr --format jsonl TEST`; each command is timed (wall clock).
  2. scikit-learn: TfidfVectorizer (fitted once on all training rows, shared by every head, as in
     joblabel), then per head MultinomialNB and LogisticRegression(solver="lbfgs"), with the same
     settings as the joblabel options; vectorizing, fitting and predicting are timed separately.
  3. Both systems' predictions are scored here with sklearn.metrics (macro-F1, accuracy) on the
     test rows that have a label for the head, and compared row by row (prediction agreement).

Exit codes: 0 ok; 1 a --check failed; 64 bad usage or settings scikit-learn cannot mirror;
66 an input file is missing; 70 joblabel failed or its output does not line up with the test file.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import NoReturn, Optional

EX_CHECK_FAILED = 1
EX_USAGE = 64
EX_NOINPUT = 66
EX_SOFTWARE = 70

# --check thresholds.
MIN_NB_AGREEMENT = 0.995
MIN_LR_AGREEMENT = 0.98
MAX_F1_DIFFERENCE = 0.005

# joblabel's own default heads (used when --labels is not given).
DEFAULT_HEADS = "role,seniority"

USAGE = """\
usage: compare-sklearn --train TRAIN.jsonl --test TEST.jsonl [--labels HEADS] [--joblabel PATH]
                       [--check] [--json FILE] [--sklearn-only] [JOBLABEL TRAIN OPTIONS...]

Trains joblabel and scikit-learn with the same settings and prints, per head, both systems'
vocabulary size, NB/LR macro-F1 and accuracy, how often their predictions agree, LR iterations,
and the wall times of training and classifying.

options:
  --train FILE          training JSON Lines (id, title, text and the label fields)
  --test FILE           test JSON Lines, same schema
  --labels a,b          label fields that become heads (default: %(heads)s, like joblabel)
  --joblabel PATH       joblabel binary (default: $JOBLABEL_BIN, else .build/release/joblabel,
                        built with `swift build -c release --product joblabel` when missing)
  --check               exit 1 when vocabulary sizes differ, NB agreement < %(nb).1f%%,
                        LR agreement < %(lr).0f%%, or a macro-F1 differs by more than %(f1).3f
  --json FILE           also write every figure as JSON to FILE
  --sklearn-only        run only the scikit-learn half (for debugging this script)
  -h, --help            show this help

joblabel training options passed through (the scikit-learn-compatible ones only; --preset sklearn
is added first when not given, and later options override single settings, as in joblabel):
  --preset sklearn, --ngrams N, --min-df X, --max-df X (a count like 2, or a fraction with a point
  like 0.5), --max-features N, --sublinear-tf, --no-sublinear-tf, --alpha A, --uniform-prior,
  --C C, --class-weight balanced|none, --max-iter N, --tol T, --seed S (ignored by scikit-learn),
  --tokenizer sklearn, --title-mode concatenate (both the preset's own values), --threads N.
Any other joblabel option (e.g. --title-weight, --tokenizer words) is refused with exit 64.
""" % {"heads": DEFAULT_HEADS, "nb": MIN_NB_AGREEMENT * 100, "lr": MIN_LR_AGREEMENT * 100,
       "f1": MAX_F1_DIFFERENCE}


class UsageError(Exception):
    """Bad command line; exits with `code` after printing the message."""

    def __init__(self, message: str, code: int = EX_USAGE):
        super().__init__(message)
        self.code = code


def fail(message: str, code: int) -> NoReturn:
    """Prints an error and exits with `code`."""
    print(f"compare-sklearn: {message}", file=sys.stderr)
    sys.exit(code)


# ---------------------------------------------------------------------------------------------
# Settings: the joblabel options, mirrored as scikit-learn parameters
# ---------------------------------------------------------------------------------------------

@dataclass
class Settings:
    """The `--preset sklearn` defaults, i.e. scikit-learn's own defaults."""
    ngrams: int = 1
    min_df: object = 1          # int = document count, float = fraction (as in scikit-learn)
    max_df: object = 1.0
    max_features: Optional[int] = None
    sublinear_tf: bool = False
    alpha: float = 1.0
    fit_prior: bool = True
    C: float = 1.0
    class_weight: Optional[str] = None
    max_iter: int = 100
    tol: float = 1e-4
    seed: Optional[int] = None  # only for joblabel's cross-validation; unused here
    threads: Optional[int] = None  # joblabel worker threads; results do not depend on it


def parse_int(value: str, option: str, minimum: int = 0) -> int:
    try:
        n = int(value)
    except ValueError:
        n = None
    if n is None or n < minimum:
        raise UsageError(f"{option} takes a whole number >= {minimum}, got '{value}'")
    return n


def parse_float(value: str, option: str, positive: bool = True) -> float:
    try:
        x = float(value)
    except ValueError:
        x = float("nan")
    if not (x == x and abs(x) != float("inf") and (x > 0 if positive else x >= 0)):
        kind = "positive" if positive else "non-negative"
        raise UsageError(f"{option} takes a {kind} number, got '{value}'")
    return x


def parse_df_bound(value: str, option: str):
    """joblabel's rule: without a '.', a whole number is a document count; else a fraction in [0, 1].
    scikit-learn reads an int as a count and a float as a fraction, so map to int / float."""
    if "." not in value:
        try:
            n = int(value)
            if n >= 0:
                return n
        except ValueError:
            pass
    try:
        f = float(value)
        if 0 <= f <= 1:
            return f
    except ValueError:
        pass
    raise UsageError(f"{option} takes a document count (e.g. 2) or a fraction with a point (e.g. 0.5), "
                     f"got '{value}'")


def incompatible(option: str, value: Optional[str] = None) -> UsageError:
    shown = option if value is None else f"{option} {value}"
    return UsageError(f"{shown}: the comparison needs scikit-learn-compatible settings, and this one has no "
                      f"scikit-learn counterpart; use --preset sklearn with only --ngrams, --min-df, --max-df, "
                      f"--max-features, --sublinear-tf, --alpha, --uniform-prior, --C, --class-weight, "
                      f"--max-iter, --tol, --seed, --threads")


# joblabel training options that take a value (all others are flags).
VALUE_OPTIONS = {"--preset", "--ngrams", "--tokenizer", "--title-mode", "--title-weight", "--cues", "--cue-weight", "--min-df",
                 "--max-df", "--max-features", "--alpha", "--C", "--c", "--max-iter", "--tol",
                 "--class-weight", "--seed", "--threads"}
FLAG_OPTIONS = {"--sublinear-tf", "--no-sublinear-tf", "--uniform-prior"}


def split_option(arg: str):
    """'--name=value' -> ('--name', 'value'); anything else -> (arg, None)."""
    return tuple(arg.split("=", 1)) if arg.startswith("--") and "=" in arg else (arg, None)


def apply_joblabel_options(options: list) -> Settings:
    """Applies joblabel training options in order, as joblabel does (`--preset` resets everything,
    later options override single settings). Raises UsageError for options scikit-learn can't mirror."""
    s = Settings()
    i = 0
    while i < len(options):
        arg = options[i]
        i += 1
        option, inline = split_option(arg)
        if option in FLAG_OPTIONS:
            if inline is not None:
                raise UsageError(f"{option} takes no value")
            value = None
        elif option in VALUE_OPTIONS:
            if inline is not None:
                value = inline
            elif i < len(options):
                value = options[i]
                i += 1
            else:
                raise UsageError(f"{option} needs a value")
        elif option.startswith("-"):
            raise UsageError(f"unknown option {option} (see --help)")
        else:
            raise UsageError(f"unexpected argument '{arg}' (see --help)")

        if option == "--preset":
            if value != "sklearn":
                raise incompatible(option, value)
            threads = s.threads
            s = Settings()
            s.threads = threads
        elif option == "--ngrams":
            s.ngrams = parse_int(value, option, minimum=1)
            if s.ngrams > 2:
                raise UsageError("--ngrams takes 1 or 2")
        elif option == "--tokenizer":
            if value != "sklearn":        # the preset's tokenizer is token_pattern r"(?u)\b\w\w+\b"
                raise incompatible(option, value)
        elif option == "--title-mode":
            if value != "concatenate":    # the preset's document is title + "\n" + text
                raise incompatible(option, value)
        elif option == "--title-weight" or option == "--cue-weight":
            raise incompatible(option, value)
        elif option == "--cues":
            if value != "none":           # the preset has no cue features
                raise incompatible(option, value)
        elif option == "--min-df":
            s.min_df = parse_df_bound(value, option)
        elif option == "--max-df":
            s.max_df = parse_df_bound(value, option)
        elif option == "--max-features":
            s.max_features = parse_int(value, option, minimum=1)
        elif option == "--sublinear-tf":
            s.sublinear_tf = True
        elif option == "--no-sublinear-tf":
            s.sublinear_tf = False
        elif option == "--alpha":
            s.alpha = parse_float(value, option, positive=False)
        elif option == "--uniform-prior":
            s.fit_prior = False
        elif option in ("--C", "--c"):
            s.C = parse_float(value, option)
        elif option == "--max-iter":
            s.max_iter = parse_int(value, option, minimum=1)
        elif option == "--tol":
            s.tol = parse_float(value, option)
        elif option == "--class-weight":
            if value not in ("balanced", "none"):
                raise UsageError("--class-weight takes 'balanced' or 'none'")
            s.class_weight = "balanced" if value == "balanced" else None
        elif option == "--seed":
            s.seed = parse_int(value, option)
        elif option == "--threads":
            s.threads = parse_int(value, option, minimum=1)
    return s


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

@dataclass
class Args:
    train: str = ""
    test: str = ""
    heads: list = field(default_factory=lambda: DEFAULT_HEADS.split(","))
    joblabel: Optional[str] = None
    check: bool = False
    json_out: Optional[str] = None
    sklearn_only: bool = False
    validate_only: bool = False
    joblabel_options: list = field(default_factory=list)  # passed to `joblabel train` as given
    settings: Settings = field(default_factory=Settings)


def parse_args(argv: list) -> Args:
    """Takes this script's own options out of argv; everything else is a joblabel training option."""
    a = Args()
    own_values = {"--train", "--test", "--labels", "--joblabel", "--json"}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        option, inline = split_option(arg)
        if option in own_values:
            if inline is None:
                if i >= len(argv):
                    raise UsageError(f"{option} needs a value")
                inline = argv[i]
                i += 1
            if option == "--train":
                a.train = inline
            elif option == "--test":
                a.test = inline
            elif option == "--labels":
                heads = [h.strip() for h in inline.split(",") if h.strip()]
                if not heads or len(set(heads)) != len(heads):
                    raise UsageError("--labels takes distinct comma-separated field names, e.g. --labels topic")
                a.heads = heads
            elif option == "--joblabel":
                a.joblabel = inline
            elif option == "--json":
                a.json_out = inline
        elif arg == "--check":
            a.check = True
        elif arg == "--sklearn-only":
            a.sklearn_only = True
        elif arg == "--validate-only":      # used by the wrapper before it builds joblabel
            a.validate_only = True
        else:
            # A joblabel option; its value (if any) follows it unchanged.
            a.joblabel_options.append(arg)
            if option in VALUE_OPTIONS and inline is None and i < len(argv):
                a.joblabel_options.append(argv[i])
                i += 1

    if not a.train or not a.test:
        raise UsageError("--train and --test are required (see --help)")
    if a.check and a.sklearn_only:
        raise UsageError("--check compares against joblabel; drop --sklearn-only")
    a.settings = apply_joblabel_options(a.joblabel_options)
    # joblabel must use scikit-learn's settings too: put --preset sklearn first unless given.
    if not any(o == "--preset" or o.startswith("--preset=") for o in a.joblabel_options):
        a.joblabel_options = ["--preset", "sklearn"] + a.joblabel_options
    for path in (a.train, a.test):
        if not os.path.isfile(path):
            raise UsageError(f"no such file: {path}", EX_NOINPUT)
    return a


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

def read_jsonl(path: str) -> list:
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                fail(f"{path}:{n}: not JSON ({e})", EX_USAGE)
            if not isinstance(row, dict):
                fail(f"{path}:{n}: not a JSON object", EX_USAGE)
            rows.append(row)
    return rows


def document(row: dict) -> str:
    """title + "\\n" + text, a null or missing field counting as "" (joblabel's --preset sklearn)."""
    return (row.get("title") or "") + "\n" + (row.get("text") or "")


def label_of(row: dict, head: str) -> Optional[str]:
    """The row's label for `head`, or None when it has none (then it is skipped for that head)."""
    value = row.get(head)
    return None if value is None else str(value)


def id_key(value) -> Optional[str]:
    """Ids may be numbers or strings: compare their text forms."""
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


# ---------------------------------------------------------------------------------------------
# scikit-learn
# ---------------------------------------------------------------------------------------------

def run_sklearn(s: Settings, train: list, test: list, heads: list) -> dict:
    """Fits the vectorizer on all training rows, then NB and LR per head; predicts every test row."""
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB

    timing = {"vectorize": 0.0, "nb_fit": 0.0, "lr_fit": 0.0, "transform": 0.0, "nb_predict": 0.0,
              "lr_predict": 0.0}
    t = time.perf_counter()
    vectorizer = TfidfVectorizer(lowercase=True, token_pattern=r"(?u)\b\w\w+\b", ngram_range=(1, s.ngrams),
                                 min_df=s.min_df, max_df=s.max_df, max_features=s.max_features,
                                 sublinear_tf=s.sublinear_tf, smooth_idf=True, norm="l2", dtype=np.float64)
    x_train = vectorizer.fit_transform([document(r) for r in train])
    timing["vectorize"] = time.perf_counter() - t

    result = {"vocabulary_size": len(vectorizer.vocabulary_), "heads": {}, "timing": timing}
    models = {}
    for head in heads:
        rows = [i for i, r in enumerate(train) if label_of(r, head) is not None]
        if not rows:
            fail(f"no training row has a '{head}' label", EX_USAGE)
        y = [label_of(train[i], head) for i in rows]
        info = {"train_rows": len(rows), "classes": len(set(y))}

        t = time.perf_counter()
        nb = MultinomialNB(alpha=s.alpha, fit_prior=s.fit_prior).fit(x_train[rows], y)
        timing["nb_fit"] += time.perf_counter() - t

        lr = None
        if len(set(y)) >= 2:
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)   # reported through n_iter_ instead
                lr = LogisticRegression(C=s.C, max_iter=s.max_iter, tol=s.tol, class_weight=s.class_weight,
                                        solver="lbfgs").fit(x_train[rows], y)
            timing["lr_fit"] += time.perf_counter() - t
            info["lr_iterations"] = int(np.max(lr.n_iter_))
            info["lr_hit_max_iter"] = info["lr_iterations"] >= s.max_iter
        else:
            print(f"compare-sklearn: head '{head}' has a single class; scikit-learn's LR needs two",
                  file=sys.stderr)
        models[head] = (nb, lr)
        result["heads"][head] = info

    t = time.perf_counter()
    x_test = vectorizer.transform([document(r) for r in test])
    timing["transform"] = time.perf_counter() - t
    for head in heads:
        nb, lr = models[head]
        t = time.perf_counter()
        result["heads"][head]["nb_pred"] = [str(p) for p in nb.predict(x_test)]
        timing["nb_predict"] += time.perf_counter() - t
        t = time.perf_counter()
        result["heads"][head]["lr_pred"] = [str(p) for p in lr.predict(x_test)] if lr is not None else None
        timing["lr_predict"] += time.perf_counter() - t

    timing["train"] = timing["vectorize"] + timing["nb_fit"] + timing["lr_fit"]
    timing["classify"] = timing["transform"] + timing["nb_predict"] + timing["lr_predict"]
    return result


# ---------------------------------------------------------------------------------------------
# joblabel
# ---------------------------------------------------------------------------------------------

def run_timed(cmd: list) -> tuple:
    """Runs cmd, returns (stdout, seconds); exits 70 with joblabel's stderr when it fails."""
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as e:
        fail(f"cannot run {cmd[0]}: {e}", EX_SOFTWARE)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        fail(f"joblabel failed (exit {proc.returncode}): {' '.join(cmd)}", EX_SOFTWARE)
    return proc.stdout, seconds


def run_joblabel(binary: str, args: Args, test: list) -> dict:
    """`joblabel train` into a temporary model, then `classify` with nb and lr; parses the predictions."""
    heads = args.heads
    result = {"heads": {h: {} for h in heads}, "timing": {}}
    with tempfile.TemporaryDirectory(prefix="compare-sklearn-") as tmp:
        model = os.path.join(tmp, "model")
        _, result["timing"]["train"] = run_timed(
            [binary, "train", "--data", args.train, "--labels", ",".join(heads), "--out", model]
            + args.joblabel_options)

        try:
            with open(os.path.join(model, "manifest.json"), encoding="utf-8") as f:
                manifest = json.load(f)
            result["vocabulary_size"] = int(manifest["vocabulary_size"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            fail(f"cannot read vocabulary_size from the model's manifest.json: {e}", EX_SOFTWARE)
        # LR iterations, when the manifest reports them (heads[].lr_optimization.iterations).
        for h in manifest.get("heads") or []:
            if isinstance(h, dict) and h.get("name") in result["heads"]:
                opt = h.get("lr_optimization")
                if isinstance(opt, dict) and isinstance(opt.get("iterations"), int):
                    result["heads"][h["name"]]["lr_iterations"] = opt["iterations"]
                    result["heads"][h["name"]]["lr_hit_max_iter"] = opt["iterations"] >= args.settings.max_iter

        threads = ["--threads", str(args.settings.threads)] if args.settings.threads else []
        for algorithm in ("nb", "lr"):
            out, seconds = run_timed([binary, "classify", "--model", model, "--algorithm", algorithm,
                                      "--format", "jsonl"] + threads + [args.test])
            result["timing"][f"classify_{algorithm}"] = seconds
            predictions = parse_predictions(out, test, heads, algorithm)
            for head in heads:
                result["heads"][head][f"{algorithm}_pred"] = predictions[head]
    result["timing"]["classify"] = result["timing"]["classify_nb"] + result["timing"]["classify_lr"]
    return result


def parse_predictions(out: str, test: list, heads: list, algorithm: str) -> dict:
    """One JSON line per test row, in input order; checks that the ids line up."""
    lines = [line for line in out.splitlines() if line.strip()]
    if len(lines) != len(test):
        fail(f"joblabel classify --algorithm {algorithm} printed {len(lines)} lines for {len(test)} test rows",
             EX_SOFTWARE)
    predictions = {h: [] for h in heads}
    for n, (line, row) in enumerate(zip(lines, test), 1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            fail(f"joblabel classify --algorithm {algorithm}, line {n}: not JSON ({e})", EX_SOFTWARE)
        want = id_key(row.get("id"))
        if want is not None and id_key(obj.get("id")) != want:
            fail(f"joblabel classify --algorithm {algorithm}, line {n}: id {obj.get('id')!r} but test row "
                 f"{n} has id {row.get('id')!r}", EX_SOFTWARE)
        for h in heads:
            entry = obj.get(h)
            label = entry.get("label") if isinstance(entry, dict) else None
            if label is None:
                fail(f"joblabel classify --algorithm {algorithm}, line {n}: no label for head '{h}'", EX_SOFTWARE)
            predictions[h].append(str(label))
    return predictions


# ---------------------------------------------------------------------------------------------
# Scoring, checks and the report
# ---------------------------------------------------------------------------------------------

def score(y_true: list, y_pred: list) -> dict:
    from sklearn.metrics import accuracy_score, f1_score
    return {"macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
            "accuracy": float(accuracy_score(y_true, y_pred))}


def evaluate(args: Args, test: list, sk: dict, jl: Optional[dict]) -> dict:
    """Scores both systems per head on the labelled test rows; agreement over all test rows."""
    figures = {}
    for head in args.heads:
        labelled = [i for i, r in enumerate(test) if label_of(r, head) is not None]
        y_true = [label_of(test[i], head) for i in labelled]
        h = {"train_rows": sk["heads"][head]["train_rows"], "test_rows": len(labelled),
             "sklearn": {"lr_iterations": sk["heads"][head].get("lr_iterations"),
                         "lr_hit_max_iter": sk["heads"][head].get("lr_hit_max_iter")},
             "joblabel": None, "agreement": {}}
        systems = [("sklearn", sk)] + ([("joblabel", jl)] if jl else [])
        for name, system in systems:
            if name == "joblabel":
                h["joblabel"] = {"lr_iterations": system["heads"][head].get("lr_iterations"),
                                 "lr_hit_max_iter": system["heads"][head].get("lr_hit_max_iter")}
            for algorithm in ("nb", "lr"):
                pred = system["heads"][head][f"{algorithm}_pred"]
                if pred is not None and labelled:
                    h[name][algorithm] = score(y_true, [pred[i] for i in labelled])
        if jl:
            for algorithm in ("nb", "lr"):
                a, b = jl["heads"][head][f"{algorithm}_pred"], sk["heads"][head][f"{algorithm}_pred"]
                if a is not None and b is not None and test:
                    same = sum(1 for x, y in zip(a, b) if x == y)
                    h["agreement"][algorithm] = {"same": same, "rows": len(test), "share": same / len(test)}
        figures[head] = h
    return figures


def run_checks(figures: dict, sk: dict, jl: dict) -> list:
    """The --check conditions; returns the failures as sentences."""
    failures = []
    if jl["vocabulary_size"] != sk["vocabulary_size"]:
        failures.append(f"vocabulary size: joblabel {jl['vocabulary_size']} vs scikit-learn {sk['vocabulary_size']}")
    for head, h in figures.items():
        for algorithm, minimum in (("nb", MIN_NB_AGREEMENT), ("lr", MIN_LR_AGREEMENT)):
            ag = h["agreement"].get(algorithm)
            if ag is None:
                failures.append(f"{head}: no {algorithm.upper()} predictions to compare")
            elif ag["share"] < minimum:
                failures.append(f"{head}: {algorithm.upper()} prediction agreement {ag['share']:.2%} "
                                f"< {minimum:.1%}")
            j, s = (h.get("joblabel") or {}).get(algorithm), h["sklearn"].get(algorithm)
            if j and s and abs(j["macro_f1"] - s["macro_f1"]) > MAX_F1_DIFFERENCE:
                failures.append(f"{head}: {algorithm.upper()} macro-F1 joblabel {j['macro_f1']:.4f} vs "
                                f"scikit-learn {s['macro_f1']:.4f} (differs by more than {MAX_F1_DIFFERENCE})")
    return failures


def markdown_table(header: list, rows: list) -> str:
    """An aligned Markdown table (reads as plain text too)."""
    widths = [max(len(str(r[c])) for r in [header] + rows) for c in range(len(header))]
    line = lambda cells: "| " + " | ".join(str(v).ljust(w) for v, w in zip(cells, widths)) + " |"
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def fmt_seconds(t: Optional[float]) -> str:
    return "-" if t is None else f"{t:.3f}"


def iterations_cell(info: Optional[dict]) -> str:
    if not info or info.get("lr_iterations") is None:
        return "-"
    return str(info["lr_iterations"]) + (" (hit max-iter)" if info.get("lr_hit_max_iter") else "")


def report(args: Args, figures: dict, sk: dict, jl: Optional[dict]) -> str:
    out = []
    for head, h in figures.items():
        rows = []
        jv = jl["vocabulary_size"] if jl else None
        sv = sk["vocabulary_size"]
        rows.append(["vocabulary size", "-" if jv is None else jv, sv,
                     "" if jv is None else ("equal" if jv == sv else f"differs by {jv - sv:+d}")])
        for algorithm in ("nb", "lr"):
            for metric, name in (("macro_f1", "macro-F1"), ("accuracy", "accuracy")):
                s = (h["sklearn"].get(algorithm) or {}).get(metric)
                j = ((h.get("joblabel") or {}).get(algorithm) or {}).get(metric)
                rows.append([f"{algorithm.upper()} {name}", "-" if j is None else f"{j:.4f}",
                             "-" if s is None else f"{s:.4f}",
                             f"Δ {j - s:+.4f}" if j is not None and s is not None else ""])
        for algorithm in ("nb", "lr"):
            ag = h["agreement"].get(algorithm)
            cell = "-" if ag is None else f"{ag['share']:.2%}"
            rows.append([f"{algorithm.upper()} prediction agreement", cell, cell,
                         "" if ag is None else f"{ag['same']} of {ag['rows']} test rows"])
        rows.append(["LR iterations", iterations_cell(h.get("joblabel")), iterations_cell(h["sklearn"]),
                     f"max-iter {args.settings.max_iter}"])
        out.append(f"head: {head}  (train {h['train_rows']}, test {h['test_rows']} rows with a label)")
        out.append(markdown_table(["metric", "joblabel", "scikit-learn", "note"], rows))
        out.append("")

    # Timing covers all heads at once: joblabel's train command trains every head.
    t = sk["timing"]
    jt = jl["timing"] if jl else {}
    rows = []
    for name, key, note_sk, note_jl in (
            ("train wall time (s)", "train", "vectorize + NB fit + LR fit",
             "whole `train` command"),
            ("classify wall time (s)", "classify", "transform + NB and LR predict",
             "`classify` nb + lr commands")):
        ratio = f"{t[key] / jt[key]:.2f}×" if jt.get(key) else "-"
        rows.append([name, fmt_seconds(jt.get(key)), fmt_seconds(t[key]), ratio])
    total_sk = t["train"] + t["classify"]
    total_jl = jt["train"] + jt["classify"] if jl else None
    rows.append(["total wall time (s)", fmt_seconds(total_jl), fmt_seconds(total_sk),
                 f"{total_sk / total_jl:.2f}×" if total_jl else "-"])
    out.append("timing (all heads together)")
    out.append(markdown_table(["step", "joblabel", "scikit-learn", "scikit-learn / joblabel"], rows))
    out.append(f"scikit-learn steps: vectorize {t['vectorize']:.3f} s, NB fit {t['nb_fit']:.3f} s, "
               f"LR fit {t['lr_fit']:.3f} s, transform test {t['transform']:.3f} s, "
               f"NB predict {t['nb_predict']:.3f} s, LR predict {t['lr_predict']:.3f} s "
               f"(reading JSONL {t['read']:.3f} s not counted)")
    if jl:
        out.append(f"joblabel commands: train {jt['train']:.3f} s, classify nb {jt['classify_nb']:.3f} s, "
                   f"classify lr {jt['classify_lr']:.3f} s (each a whole process: reading, model I/O, output)")
    return "\n".join(out)


def settings_line(s: Settings) -> str:
    return (f"TfidfVectorizer(ngram_range=(1, {s.ngrams}), min_df={s.min_df!r}, max_df={s.max_df!r}, "
            f"max_features={s.max_features}, sublinear_tf={s.sublinear_tf}), "
            f"MultinomialNB(alpha={s.alpha}, fit_prior={s.fit_prior}), "
            f"LogisticRegression(C={s.C}, max_iter={s.max_iter}, tol={s.tol}, "
            f"class_weight={s.class_weight!r}, solver='lbfgs')")


def main(argv: list) -> int:
    if "-h" in argv or "--help" in argv:
        print(USAGE, end="")
        return 0
    try:
        args = parse_args(argv)
    except UsageError as e:
        fail(str(e), e.code)
    if args.validate_only:
        return 0
    if not args.sklearn_only and not args.joblabel:
        fail("no joblabel binary given (run this through scripts/compare-sklearn, or pass --joblabel PATH, "
             "or use --sklearn-only)", EX_USAGE)

    import sklearn
    t = time.perf_counter()
    train, test = read_jsonl(args.train), read_jsonl(args.test)
    read_seconds = time.perf_counter() - t

    print(f"data: train {args.train} ({len(train)} rows), test {args.test} ({len(test)} rows), "
          f"heads {','.join(args.heads)}")
    print(f"scikit-learn {sklearn.__version__}: {settings_line(args.settings)}")

    jl = None
    if not args.sklearn_only:
        print(f"joblabel {args.joblabel}: train {' '.join(args.joblabel_options)}")
        jl = run_joblabel(args.joblabel, args, test)
    sys.stdout.flush()
    sk = run_sklearn(args.settings, train, test, args.heads)
    sk["timing"]["read"] = read_seconds

    figures = evaluate(args, test, sk, jl)
    print()
    print(report(args, figures, sk, jl))

    failures = run_checks(figures, sk, jl) if args.check else []
    if args.json_out:
        data = {"train": args.train, "test": args.test, "heads": args.heads,
                "sklearn_version": sklearn.__version__, "settings": asdict(args.settings),
                "joblabel": None if jl is None else {"binary": args.joblabel, "options": args.joblabel_options,
                                                     "vocabulary_size": jl["vocabulary_size"],
                                                     "timing": jl["timing"]},
                "sklearn": {"vocabulary_size": sk["vocabulary_size"], "timing": sk["timing"]},
                "per_head": figures,
                "checks": None if not args.check else {"passed": not failures, "failures": failures}}
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")

    if args.check:
        print()
        if failures:
            for failure in failures:
                print(f"check failed: {failure}")
            return EX_CHECK_FAILED
        print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
