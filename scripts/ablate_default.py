#!/usr/bin/env python3
"""Ablation of the default model's domain features: retrains from corpus/ with one feature group
changed at a time and scores each variant with scripts/evaluate_default.py (pooled source rows of
../shared/data for seniority, emscad for role) and with 5-fold cross-validation on the corpus itself.

Usage: scripts/ablate-default [--json] [--only NAME,...]
"""
import argparse, json, os, subprocess, sys, tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.environ.get("JOBLABEL_BIN", os.path.join(ROOT, ".build", "release", "joblabel"))
BASE = ["--labels", "role,seniority", "--seed", "42"]
# name -> extra training options (on top of the defaults, which are the first row)
VARIANTS = [
    ("defaults (all cues weight 2, title namespace x3)", []),
    ("no cue features", ["--cues", "none"]),
    ("without years-of-experience cues", ["--cues", "title-level,text-level,degree"]),
    ("without title level-word cues", ["--cues", "years,text-level,degree"]),
    ("without text level-phrase cues", ["--cues", "years,title-level,degree"]),
    ("without degree cues", ["--cues", "years,title-level,text-level"]),
    ("cue weight 1", ["--cue-weight", "1"]),
    ("cue weight 4", ["--cue-weight", "4"]),
    ("title concatenated with text (no namespace)", ["--title-mode", "concatenate"]),
    ("title namespace x1", ["--title-weight", "1"]),
    ("title namespace x2", ["--title-weight", "2"]),
    ("title namespace x5", ["--title-weight", "5"]),
    ("no cues, title concatenated", ["--cues", "none", "--title-mode", "concatenate"]),
]


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"ablate-default: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--cv", type=int, default=5, help="folds of the corpus cross-validation (0 = skip)")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, extra) in enumerate(VARIANTS):
            if a.only and str(i) not in a.only.split(","):
                continue
            model = os.path.join(tmp, f"m{i}")
            run([BIN, "train", "--data", os.path.join(ROOT, "corpus"), "--out", model, *BASE, *extra])
            ev = json.loads(run([sys.executable, os.path.join(ROOT, "scripts", "evaluate_default.py"), "--model", model,
                                 "--bin", BIN, "--json", "--no-cross-check"]))
            row = {"variant": name, "options": " ".join(extra) or "(none)",
                   "seniority_pooled": ev["heads"]["seniority"]["pooled"]["model"],
                   "role_emscad": ev["heads"]["role"]["emscad"]["model"]}
            if a.cv:
                cv = json.loads(run([BIN, "evaluate", "--cv", str(a.cv), "--data", os.path.join(ROOT, "corpus"),
                                     *BASE, *extra, "--algorithm", "lr", "--format", "json"]))
                row["cv_seniority_macro_f1"] = cv["heads"]["seniority"]["lr"]["macro_f1"]
                row["cv_role_macro_f1"] = cv["heads"]["role"]["lr"]["macro_f1"]
            rows.append(row)
            print(f"ablate-default: {name} done", file=sys.stderr)
    if a.json:
        print(json.dumps(rows, indent=1))
        return 0
    print("| variant | options | seniority pooled acc | seniority pooled macro-F1 | emscad role acc | emscad role macro-F1 | corpus CV seniority macro-F1 | corpus CV role macro-F1 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        s, o = r["seniority_pooled"], r["role_emscad"]
        cv = [f"{r[k]:.3f}" if k in r else "" for k in ("cv_seniority_macro_f1", "cv_role_macro_f1")]
        print(f"| {r['variant']} | `{r['options']}` | {s['accuracy']:.3f} | {s['macro_f1']:.3f} | {o['accuracy']:.3f} | {o['macro_f1']:.3f} | {cv[0]} | {cv[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
