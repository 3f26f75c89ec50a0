#!/usr/bin/env python3
"""Tests scripts/spark/joblabel_spark.py in Spark's local mode; run by scripts/spark/test_spark.sh, which
checks Java and installs pyspark first.

1. Refusals that need no Spark: an existing non-empty output, an output that is, contains or lies inside
   the input (even with --overwrite), unknown or conflicting options, a missing binary.
2. A scale corpus of --count postings (scripts/make_scale_corpus.py posts, from corpus/), in a directory
   beside a README, labelled by `spark-submit --master local[2]` equals the single-machine `joblabel classify` output record for
   record (sorted by id), and the part files in order are the single-machine output; the throughput of
   both is printed.
3. A DataFrame input (CSV with other column names, quotes and line breaks in the text) with classify
   options passed through, written as Parquet over an existing output with --overwrite, equals the
   single-machine output with the same options.
4. A malformed line in the third quarter of the input fails the job with the binary's message, naming
   the file and line, exit status 65, and no output directory.
Prints 'N passed, N failed' last; exits 1 when a check failed.
"""

import argparse
import csv
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
JOB = os.path.join(HERE, "joblabel_spark.py")
PY = sys.executable

results = {"passed": 0, "failed": 0}


def log(msg):
    print(f"spark test: {msg}", flush=True)


def check(name, ok, detail=""):
    if ok:
        results["passed"] += 1
        log(f"ok    {name}")
    else:
        results["failed"] += 1
        log(f"FAIL  {name}" + (f"\n{detail}" if detail else ""))
    return ok


def run_job(args, launcher="python", master="local[2]", timeout=600):
    if launcher == "spark-submit":
        cmd = [os.path.join(os.path.dirname(PY), "spark-submit"), "--master", master,
               "--conf", "spark.ui.enabled=false", "--conf", "spark.ui.showConsoleProgress=false", JOB, *args]
    else:
        cmd = [PY, JOB, "--master", master, "--conf", "spark.ui.enabled=false",
               "--conf", "spark.ui.showConsoleProgress=false", *args]
    start = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return r, time.time() - start


def tail(text, n=15):
    return "\n".join(text.strip().splitlines()[-n:])


def single(binary, model, path, options=()):
    start = time.time()
    r = subprocess.run([binary, "classify", "--model", model, "--quiet", *options, path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"spark test: single-machine classify failed ({r.returncode}): {r.stderr}")
    return r.stdout.splitlines(), time.time() - start


def by_id(lines):
    records = {}
    for line in lines:
        d = json.loads(line)
        records[d["id"]] = d
    return records


def part_lines(outdir):
    lines = []
    for p in sorted(glob.glob(os.path.join(outdir, "part-*"))):
        with open(p, encoding="utf-8") as f:
            lines += f.read().splitlines()
    return lines


def refusals(work, binary, model):
    src = os.path.join(work, "refuse-in")
    os.makedirs(src)
    with open(os.path.join(src, "a.jsonl"), "w") as f:
        f.write('{"id": "r1", "title": "Nurse", "text": "ICU nurse"}\n')
    existing = os.path.join(work, "refuse-out")
    os.makedirs(existing)
    with open(os.path.join(existing, "keep.txt"), "w") as f:
        f.write("keep\n")
    base = ["--binary", binary, "--model", model]

    r, _ = run_job(base + ["--input", src, "--output", existing])
    check("existing non-empty output refused (73), left as it was",
          r.returncode == 73 and "--overwrite" in r.stderr and os.path.exists(os.path.join(existing, "keep.txt")),
          tail(r.stderr))
    for name, out in (("output = input", src), ("output inside the input", os.path.join(src, "out")),
                      ("output containing the input", work)):
        r, _ = run_job(base + ["--input", src, "--output", out, "--overwrite"])
        check(f"{name} refused even with --overwrite (73)",
              r.returncode == 73 and "refusing to write over the input" in r.stderr
              and os.path.exists(os.path.join(src, "a.jsonl")), tail(r.stderr))
    r, _ = run_job(base + ["--input", os.path.join(src, "a.jsonl"), "--output", os.path.join(work, "x"), "--bogus"])
    check("unknown option: usage error (64)", r.returncode == 64 and "--bogus" in r.stderr, tail(r.stderr))
    r, _ = run_job(base + ["--input", os.path.join(src, "a.jsonl"), "--output", os.path.join(work, "x"),
                           "--format", "csv"])
    check("--format: usage error (64)", r.returncode == 64 and "--format" in r.stderr, tail(r.stderr))
    r, _ = run_job(["--binary", os.path.join(work, "no-such-joblabel"), "--model", model,
                    "--input", os.path.join(src, "a.jsonl"), "--output", os.path.join(work, "x")])
    check("missing binary: usage error (64) naming it",
          r.returncode == 64 and "no-such-joblabel" in r.stderr, tail(r.stderr))


def scale(work, binary, model, count):
    # a directory, as `joblabel classify DIR` reads it: its .jsonl files (here one), not its README
    indir = os.path.join(work, "scale-in")
    os.makedirs(indir)
    with open(os.path.join(indir, "README.md"), "w") as f:
        f.write("# not a posting\n")
    corpus = os.path.join(indir, f"posts-{count}.jsonl")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_scale_corpus.py"), "posts",
                    "--source", os.path.join(ROOT, "corpus"), "--count", str(count), "--out", corpus], check=True)
    mb = os.path.getsize(corpus) / 1e6
    expected, t_single = single(binary, model, indir)
    out = os.path.join(work, "scale-out")
    r, t_spark = run_job(["--binary", binary, "--model", model, "--input", indir, "--output", out],
                         launcher="spark-submit")
    if not check(f"spark-submit local[2] on {count} postings succeeds", r.returncode == 0,
                 tail(r.stdout + r.stderr)):
        return corpus
    # spark-submit hands the driver's stderr to its stdout
    m = re.search(r"labelled (\d+) postings .* in ([0-9.]+) s", r.stdout + r.stderr)
    got = part_lines(out)
    exp, act = by_id(expected), by_id(got)
    check(f"{count} postings: Spark output equals single-machine output record for record (sorted by id)",
          len(expected) == count and len(got) == count and sorted(exp) == sorted(act)
          and all(exp[k] == act[k] for k in exp),
          f"single {len(expected)} lines, spark {len(got)} lines")
    check("part files in order are the single-machine output line for line", got == expected)
    t_job = float(m.group(2)) if m else float("nan")
    parts = len(glob.glob(os.path.join(out, "part-*")))
    log(f"throughput on {count} postings ({mb:.1f} MB):")
    log(f"  single machine, joblabel classify (all cores)   {t_single:7.1f} s  {count / t_single:8.0f} postings/s")
    log(f"  Spark local[2], spark-submit wall incl. start  {t_spark:7.1f} s  {count / t_spark:8.0f} postings/s")
    log(f"  Spark local[2], the job alone ({parts} partitions)    {t_job:7.1f} s  {count / t_job:8.0f} postings/s")
    shutil.rmtree(out, ignore_errors=True)
    return corpus


def dataframe(work, binary, model):
    rows = []
    for p in sorted(glob.glob(os.path.join(ROOT, "corpus", "*.jsonl"))):
        with open(p, encoding="utf-8") as f:
            rows += [json.loads(l) for l in f if l.strip()]
    rows = [r for r in rows if r.get("title") and r.get("text")][:400]
    rows[0] = dict(rows[0], text='He said "senior" twice,\nthen, a comma; and a line break.\n' + rows[0]["text"])
    csv_path = os.path.join(work, "postings.csv")
    jsonl_path = os.path.join(work, "postings-same.jsonl")
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["posting_id", "job_title", "description", "unused"])
        for r in rows:
            w.writerow([r["id"], r["title"], r["text"], "x"])
    with open(jsonl_path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"id": r["id"], "title": r["title"], "text": r["text"]}) + "\n")
    options = ["--algorithm", "nb", "--top", "2", "--explain", "1", "--threshold", "0.3"]
    expected, _ = single(binary, model, jsonl_path, options)
    out = os.path.join(work, "df-out")
    os.makedirs(out)
    with open(os.path.join(out, "old.txt"), "w") as f:
        f.write("old\n")
    r, _ = run_job(["--binary", binary, "--model", model, "--input", csv_path, "--id-col", "posting_id",
                    "--title-col", "job_title", "--text-col", "description", "--output", out, "--parquet",
                    "--overwrite", *options])
    if not check("CSV input with --id-col/--title-col/--text-col, options passed through, --parquet --overwrite",
                 r.returncode == 0 and not os.path.exists(os.path.join(out, "old.txt"))
                 and glob.glob(os.path.join(out, "*.parquet")), tail(r.stderr)):
        return
    r, _ = run_job(["--binary", binary, "--model", model, "--input", csv_path, "--id-col", "no_such_column",
                    "--text-col", "description", "--output", os.path.join(work, "df-bad")])
    check("a missing column is a usage error naming the columns",
          r.returncode == 64 and "no_such_column" in r.stderr and "posting_id" in r.stderr, tail(r.stderr))
    return out, expected


def compare_parquet(out, expected):
    from pyspark.sql import SparkSession
    spark = (SparkSession.builder.master("local[1]").appName("joblabel spark test")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        rows = spark.read.parquet(out).collect()
    finally:
        spark.stop()

    def clean(x):  # Parquet has a column for every key; JSON leaves absent ones out
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items() if v is not None}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x

    got = {r["id"]: clean(r.asDict(recursive=True)) for r in rows}
    exp = by_id(expected)
    bad = [k for k in exp if got.get(k) != exp[k]]
    check(f"Parquet output equals single-machine output with the same options ({len(exp)} records)",
          len(got) == len(exp) and not bad, f"{len(bad)} differ, e.g. {bad[:1]}: {got.get(bad[0]) if bad else ''}")


def failure(work, binary, model, corpus):
    bad = os.path.join(work, "with-bad-line.jsonl")
    with open(corpus, encoding="utf-8") as f:
        lines = [next(f) for _ in range(20000)]
    bad_line = 15001
    lines[bad_line - 1] = '{"id": "broken", "title": "Nurse", "text": \n'
    with open(bad, "w", encoding="utf-8") as f:
        f.writelines(lines)
    out = os.path.join(work, "fail-out")
    r, _ = run_job(["--binary", binary, "--model", model, "--input", bad, "--output", out, "--partitions", "4"])
    check("a malformed line fails the job with the binary's message, its file and line, exit 65, no output",
          r.returncode == 65 and f"{bad}:{bad_line}: not valid JSON" in r.stderr and not os.path.exists(out)
          and not glob.glob(os.path.join(work, ".fail-out*")),
          tail(r.stderr))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="joblabel-spark-test-")
    started = time.time()
    try:
        refusals(work, a.binary, a.model)
        corpus = scale(work, a.binary, a.model, a.count)
        df = dataframe(work, a.binary, a.model)
        if df:
            compare_parquet(*df)
        failure(work, a.binary, a.model, corpus)
    finally:
        if a.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    log(f"took {time.time() - started:.0f} s")
    print(f"spark: {results['passed']} passed, {results['failed']} failed", flush=True)
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
