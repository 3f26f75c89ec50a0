#!/usr/bin/env python3
"""Labels job postings on Apache Spark by piping each partition through `joblabel classify`.

    spark-submit [spark options] scripts/spark/joblabel_spark.py --input PATH --output DIR [options] [classify options]
    python3 scripts/spark/joblabel_spark.py --master local[2] --input PATH --output DIR ...   (pyspark installed)

Each partition of the input is streamed through one `joblabel classify` process on an executor; its
output lines (one JSON object per posting, in the partition's input order) become the job's output.
The binary and the model bundle are shipped to the executors by the job (SparkContext.addFile and
addArchive), so they need not be installed there; the binary's shared libraries must be (see
docs/scale.md).

`--binary` and `--model` take a local path (shipped by the job), a URI of a Hadoop file system (hdfs://,
s3a://, ...; a model then is a .tar.gz/.tgz/.zip archive), or `local:/path` for a file already present at
that path on every node (e.g. baked into the container image; not shipped).

Input: JSON Lines (a file, a directory, a glob or a comma-separated list; any Hadoop file system), or a
DataFrame source (`--input-format parquet|csv|json`, or a path ending in .parquet or .csv) whose columns
`--id-col`, `--title-col` and `--text-col` become the records' `id`, `title` and `text`.
Output: a new directory of JSON-lines part files (`part-00000`, ...), or Parquet with `--parquet`.
An existing non-empty output directory is refused unless `--overwrite`; an output that is, contains or
lies inside the input is always refused. The output is written beside DIR first and moved into place
when the job succeeded, so a failed run leaves no partial output (and, with --overwrite, the old one).

Classify options (`--algorithm`, `--top`, `--explain`, `--threshold`, `--batch`, `--threads`,
`--strict`) are passed through to the binary; anything after `--` is passed through unchecked.
Without `--threads`, each process gets `spark.task.cpus` threads (1 unless configured).

A partition whose binary exits non-zero (a malformed record, a bad model, a missing library) fails
the job: the error names the partition, its input split (and the file line, for local files) and
quotes the binary's stderr. Exit status: the binary's (65 data error, 64 usage, 66 no model, ...),
64 for a usage error of this script, 73 for a refused output, 70 for other Spark failures.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROG = "joblabel_spark"
MARK = "JOBLABEL_SPARK_PARTITION_FAILED"
MODEL_ALIAS = "joblabel-model"

# `joblabel classify` options that may be passed through: name -> takes a value.
CLASSIFY_OPTIONS = {
    "--algorithm": True, "--top": True, "--explain": True, "--threshold": True,
    "--batch": True, "--threads": True, "--strict": False, "--quiet": False,
}


class UsageError(Exception):
    pass


class Refused(Exception):
    pass


def say(msg):
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- arguments

def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="joblabel_spark.py", allow_abbrev=False,
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--master", help="Spark master URL (local[2], yarn, k8s://...); default: the one spark-submit "
                                     "was given, else local[*]")
    ap.add_argument("--model", help="model bundle: a directory written by 'joblabel train' or a .tar.gz/.tgz/.zip of "
                                    "one (a local path or a URI); default: $JOBLABEL_MODEL, else Models/default of "
                                    "this checkout")
    ap.add_argument("--binary", help="the joblabel executable (local path or URI); default: $JOBLABEL_BIN, else "
                                     ".build/release/joblabel of this checkout")
    ap.add_argument("--input", required=True, help="input path(s): file, directory, glob or comma-separated list")
    ap.add_argument("--output", required=True, help="output directory (must not exist or be empty, unless --overwrite)")
    ap.add_argument("--input-format", choices=["jsonl", "json", "parquet", "csv"],
                    help="jsonl (default; lines piped as they are), or a DataFrame source: json, parquet, csv "
                         "(default from the extension .parquet or .csv)")
    ap.add_argument("--id-col", help="column that becomes 'id' (DataFrame input; default: id)")
    ap.add_argument("--title-col", help="column that becomes 'title' (DataFrame input; default: title when present)")
    ap.add_argument("--text-col", help="column that becomes 'text' (DataFrame input; default: text)")
    ap.add_argument("--parquet", action="store_true", help="write Parquet instead of JSON-lines part files")
    ap.add_argument("--compress", choices=["none", "gzip", "bzip2"], default="none",
                    help="compression of JSON-lines part files (default none)")
    ap.add_argument("--partitions", type=int, help="JSON Lines: at least this many input splits; DataFrame input: "
                                                   "repartition to this many (loses input order)")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    ap.add_argument("--app-name", default="joblabel classify", help="Spark application name")
    ap.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="a Spark setting (repeatable)")
    raw = list(argv)
    verbatim = []
    if "--" in raw:
        cut = raw.index("--")
        raw, verbatim = raw[:cut], raw[cut + 1:]
    args, rest = ap.parse_known_args(raw)
    args.classify = check_classify_options(rest) + verbatim
    if args.partitions is not None and args.partitions < 1:
        raise UsageError("--partitions takes a whole number >= 1")
    for kv in args.conf:
        if "=" not in kv:
            raise UsageError(f"--conf {kv!r}: expected KEY=VALUE")
    dataframe_cols = any(c is not None for c in (args.id_col, args.title_col, args.text_col))
    if args.input_format is None:
        first = args.input.split(",")[0].rstrip("/").lower()
        args.input_format = ("parquet" if first.endswith(".parquet") else
                             "csv" if first.endswith(".csv") else
                             "json" if dataframe_cols else "jsonl")
    elif args.input_format == "jsonl" and dataframe_cols:
        raise UsageError("--id-col/--title-col/--text-col read a DataFrame: use --input-format json (or parquet, csv)")
    return args


def check_classify_options(rest):
    out = []
    i = 0
    while i < len(rest):
        tok = rest[i]
        name, eq, value = tok.partition("=")
        if name in ("--format",):
            raise UsageError("--format: the Spark job writes JSON Lines (or Parquet with --parquet)")
        if name in ("--model",):
            raise UsageError("--model is given once, before the classify options")
        if name not in CLASSIFY_OPTIONS:
            if tok.startswith("-"):
                raise UsageError(f"unknown option {tok!r} (classify options: {', '.join(CLASSIFY_OPTIONS)}; "
                                 "pass others after '--')")
            raise UsageError(f"unexpected argument {tok!r}: the input is --input PATH")
        if CLASSIFY_OPTIONS[name] and not eq:
            if i + 1 >= len(rest):
                raise UsageError(f"{name} needs a value")
            out += [name, rest[i + 1]]
            i += 2
        else:
            out.append(tok)
            i += 1
    return out


def has_scheme(path):
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", path) is not None


def node_local(path):
    """The path of a `local:` URI (already present on every node: not shipped), or None."""
    if path.startswith("local://"):
        return path[len("local://"):]
    if path.startswith("local:"):
        return path[len("local:"):]
    return None


def local_path(path):
    """The local file-system path of `path`, or None for a URI of another file system."""
    if path.startswith("file://"):
        return path[len("file://"):]
    if path.startswith("file:"):
        return path[len("file:"):]
    return None if has_scheme(path) else path


# ---------------------------------------------------------------- checks before Spark starts

def resolve_defaults(args):
    if args.binary is None:
        args.binary = os.environ.get("JOBLABEL_BIN") or os.path.join(ROOT, ".build", "release", "joblabel")
    if args.model is None:
        args.model = os.environ.get("JOBLABEL_MODEL") or os.path.join(ROOT, "Models", "default")
    b = local_path(args.binary)
    if b is not None:
        if not os.path.isfile(b):
            raise UsageError(f"--binary {args.binary}: no such file (build it: swift build -c release --product "
                             "joblabel, or set JOBLABEL_BIN)")
        args.binary = os.path.abspath(b)
    m = local_path(args.model)
    if m is not None:
        if os.path.isdir(m):
            if not os.path.isfile(os.path.join(m, "manifest.json")):
                raise UsageError(f"--model {args.model}: no manifest.json in this directory (not a model bundle)")
        elif not os.path.isfile(m):
            raise UsageError(f"--model {args.model}: no such directory or archive")
        elif not re.search(r"\.(tar\.gz|tgz|tar|zip)$", m):
            raise UsageError(f"--model {args.model}: a model is a directory, or a .tar.gz/.tgz/.tar/.zip of one")
        args.model = os.path.abspath(m)


def inside(child, parent):
    child, parent = child.rstrip("/"), parent.rstrip("/")
    return child == parent or child.startswith(parent + "/")


def check_paths_local(inputs, output, overwrite):
    """Refusals decidable without Spark, for local paths. `inputs` are expanded local paths."""
    out = os.path.realpath(output)
    for p in inputs:
        real = os.path.realpath(p)
        if inside(real, out) or inside(out, real):
            what = "is" if real == out else ("contains" if inside(real, out) else "lies inside")
            raise Refused(f"--output {output} {what} the input {p}: refusing to write over the input")
    if os.path.exists(out):
        if not os.path.isdir(out):
            raise Refused(f"--output {output} is an existing file; give a directory path")
        if os.listdir(out) and not overwrite:
            raise Refused(f"--output {output} exists and is not empty; remove it or pass --overwrite")


def dry_run(args, local_master, options):
    """Runs the binary on no input with the model and options: usage errors and an unreadable model stop the
    job here, before Spark starts. A binary that cannot run on this machine only warns (the executors may
    differ), except in local mode."""
    b, m = local_path(args.binary), local_path(args.model)
    if b is None or m is None or not os.path.isdir(m):
        return
    cmd = [b, "classify", "--model", m, *options]
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    except OSError as e:
        if local_master:
            raise UsageError(f"--binary {args.binary}: cannot run it: {e}")
        say(f"note: cannot run {args.binary} on this machine ({e}); the executors must be able to")
        return
    err = r.stderr.decode("utf-8", "replace").strip()
    if r.returncode in (126, 127) and not local_master:
        say(f"note: {args.binary} does not run on this machine ({err.splitlines()[-1] if err else r.returncode}); "
            "the executors must be able to")
        return
    if r.returncode != 0:
        print(err, file=sys.stderr)
        raise SystemExit(r.returncode if 0 < r.returncode < 128 else 70)


# ---------------------------------------------------------------- on the executors

def find_model_dir(root):
    if os.path.isfile(os.path.join(root, "manifest.json")):
        return root
    for name in sorted(os.listdir(root)):
        sub = os.path.join(root, name)
        if os.path.isfile(os.path.join(sub, "manifest.json")):
            return sub
    raise FileNotFoundError(f"the model archive unpacked at {root} holds no manifest.json")


def classify_partition(index, lines, binary_at, model_at, options, counters):
    """Streams one partition through `joblabel classify`; yields its output lines. `binary_at` and
    `model_at` are ("shipped", name in SparkFiles) or ("node", path present on every node)."""
    from pyspark import SparkFiles

    def fail(message):
        raise RuntimeError(f"{MARK}[{index}] {message} END_{MARK}")

    binary = SparkFiles.get(binary_at[1]) if binary_at[0] == "shipped" else binary_at[1]
    if binary_at[0] == "shipped" and not os.access(binary, os.X_OK):
        try:
            os.chmod(binary, 0o755)
        except OSError:
            pass
    try:
        model = find_model_dir(SparkFiles.get(model_at[1]) if model_at[0] == "shipped" else model_at[1])
    except OSError as e:
        fail(f"the model bundle is not on this executor: {e}")
    cmd = [binary, "classify", "--model", model, *options]
    err = tempfile.TemporaryFile()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
    except OSError as e:
        fail(f"cannot run joblabel on executor: {e}")
    fed = [0, None]

    def feed():
        try:
            w = proc.stdin
            n = 0
            for line in lines:
                w.write(line.encode("utf-8"))
                w.write(b"\n")
                n += 1
            fed[0] = n
        except BrokenPipeError:
            pass  # the binary stopped reading: its exit status and stderr tell why
        except BaseException as e:  # an error reading the input: reported after the binary ends
            fed[1] = e
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    produced = 0
    try:
        for out in proc.stdout:
            produced += 1
            yield out.decode("utf-8").rstrip("\n")
        rc = proc.wait()
        feeder.join()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if fed[1] is not None:
        fail(f"reading the input failed: {fed[1]!r}")
    if rc != 0:
        err.seek(0, os.SEEK_END)
        size = err.tell()
        err.seek(max(0, size - 16000))
        text = err.read().decode("utf-8", "replace").strip()
        why = f"signal {-rc}" if rc < 0 else f"status {rc}"
        fail(f"joblabel exited with {why} after {produced} output lines:\n{text}")
    counters[0].add(fed[0])
    counters[1].add(produced)


# ---------------------------------------------------------------- on the driver

def hadoop_fs(sc, path):
    jvm = sc._jvm
    p = jvm.org.apache.hadoop.fs.Path(path)
    fs = p.getFileSystem(sc._jsc.hadoopConfiguration())
    return fs, fs.makeQualified(p)


def check_paths_hadoop(sc, inputs, output, overwrite):
    fs, out = hadoop_fs(sc, output)
    out_s = out.toString()
    for spec in inputs:
        ifs, ip = hadoop_fs(sc, spec)
        matches = ifs.globStatus(ip) or []
        for st in list(matches) or [None]:
            in_s = st.getPath().toString() if st is not None else ip.toString()
            if inside(in_s, out_s) or inside(out_s, in_s):
                raise Refused(f"--output {output} overlaps the input {in_s}: refusing to write over the input")
    if fs.exists(out):
        st = fs.getFileStatus(out)
        if not st.isDirectory():
            raise Refused(f"--output {output} is an existing file; give a directory path")
        if len(fs.listStatus(out)) > 0 and not overwrite:
            raise Refused(f"--output {output} exists and is not empty; remove it or pass --overwrite")
    return fs, out


JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.bz2")


def expand_directories(sc, spec):
    """JSON Lines input: a directory stands for its .jsonl (.jsonl.gz, .jsonl.bz2) files, sorted by name, as
    for `joblabel classify DIR`; files and globs stay as they are."""
    paths = []
    for p in spec.split(","):
        fs, q = hadoop_fs(sc, p)
        if not re.search(r"[*?\[{]", p) and fs.exists(q) and fs.getFileStatus(q).isDirectory():
            names = sorted(st.getPath().toString() for st in fs.listStatus(q)
                           if st.isFile() and st.getPath().getName().endswith(JSONL_SUFFIXES)
                           and not st.getPath().getName().startswith((".", "_")))
            if not names:
                raise UsageError(f"--input {p}: no .jsonl files in this directory")
            paths += names
        else:
            paths.append(p)
    return ",".join(paths)


def pack_model(model_dir, tmp):
    path = os.path.join(tmp, MODEL_ALIAS + ".tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        for name in sorted(os.listdir(model_dir)):
            tar.add(os.path.join(model_dir, name), arcname=name)
    return path


def input_rdd(spark, args):
    sc = spark.sparkContext
    if args.input_format == "jsonl":
        kw = {"minPartitions": args.partitions} if args.partitions else {}
        return sc.textFile(args.input, **kw), True
    from pyspark.sql import functions as F
    paths = args.input.split(",")
    reader = spark.read
    if args.input_format == "csv":
        df = reader.csv(paths, header=True, multiLine=True, escape='"')
    elif args.input_format == "parquet":
        df = reader.parquet(*paths)
    else:
        df = reader.json(paths)
    cols = df.columns

    def column(flag, given, default, required):
        name = given if given is not None else default
        if name in cols:
            return name
        if given is None and not required:
            return None
        raise UsageError(f"{flag} {name}: no such column in {args.input} (columns: {', '.join(cols)})")

    fields = [F.col(column("--id-col", args.id_col, "id", True)).alias("id")]
    title = column("--title-col", args.title_col, "title", False)
    if title is not None:
        fields.append(F.col(title).alias("title"))
    fields.append(F.col(column("--text-col", args.text_col, "text", True)).alias("text"))
    df = df.select(F.to_json(F.struct(*fields)).alias("json"))
    if args.partitions:
        df = df.repartition(args.partitions)
    return df.rdd.map(lambda row: row[0]), False


def explain_failure(exc, sc, rdd, is_lines):
    """The message of a failed partition, with its input split and, for local files, the file line."""
    text = str(exc)
    m = re.search(re.escape(MARK) + r"\[(-?\d+)\] (.*?)(?: END_" + re.escape(MARK) + r"|$)", text, re.S)
    if not m:
        lines = [l for l in text.splitlines() if l.strip()]
        return 70, "the Spark job failed: " + ("\n".join(lines[-12:]) if lines else repr(exc))
    index, message = int(m.group(1)), m.group(2).strip()
    status = re.search(r"joblabel exited with status (\d+)", message)
    code = int(status.group(1)) if status else 70
    where = f"partition {index}"
    if is_lines and index >= 0:
        try:
            split = rdd._jrdd.rdd().partitions()[index].inputSplit().value()
            path, start, length = split.getPath().toString(), split.getStart(), split.getLength()
            where += f" ({path}, bytes {start}+{length})"
            local = local_path(path)
            if local is not None and os.path.isfile(local):
                base = lines_before_split(local, start)
                message = re.sub(r"\bstdin:(\d+)", lambda g: f"{local}:{base + int(g.group(1))}", message)
        except Exception:  # best effort: the binary's message stands on its own
            pass
    elif not is_lines:
        message = re.sub(r"\bstdin:(\d+)", r"record \1 of this partition", message)
    message = re.sub(r"\bstdin: ", f"partition {index}: ", message)
    return code, f"{where} failed: {message}"


def lines_before_split(path, start):
    """Lines of `path` before the first line of the Hadoop split starting at `start` (a split after the first
    begins after the first newline at or past `start`)."""
    if start == 0:
        return 0
    count = 0
    with open(path, "rb") as f:
        remaining = start
        while remaining > 0:
            chunk = f.read(min(1 << 20, remaining))
            if not chunk:
                return count
            count += chunk.count(b"\n")
            remaining -= len(chunk)
        while True:
            chunk = f.read(1 << 16)
            if not chunk:
                return count
            i = chunk.find(b"\n")
            if i >= 0:
                return count + 1
            # a line longer than the chunk: keep looking
    return count


def run(args):
    resolve_defaults(args)
    master = args.master
    out_local = local_path(args.output)
    in_locals = [local_path(p) for p in args.input.split(",")]
    if out_local is not None and all(p is not None for p in in_locals):
        import glob
        expanded = []
        for p in in_locals:
            hits = glob.glob(p)
            if not hits and not os.path.exists(p):
                raise UsageError(f"--input {p}: no such file or directory")
            expanded += hits or [p]
        check_paths_local(expanded, out_local, args.overwrite)
    options = list(args.classify)
    if not any(o.split("=", 1)[0] == "--quiet" for o in options):
        options.append("--quiet")

    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError("pyspark is not installed for this Python: run with spark-submit, or pip install pyspark")
    builder = SparkSession.builder.appName(args.app_name)
    if master:
        builder = builder.master(master)
    if not sys.stderr.isatty():
        builder = builder.config("spark.ui.showConsoleProgress", "false")
    for kv in args.conf:
        k, v = kv.split("=", 1)
        builder = builder.config(k, v)
    if (master or "").startswith("local") and not os.environ.get("SPARK_LOCAL_IP"):
        # local mode talks to itself only: keep the driver on the loopback interface
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    spark = builder.getOrCreate()
    sc = spark.sparkContext
    sc.setLogLevel(os.environ.get("JOBLABEL_SPARK_LOG", "WARN"))
    try:
        dry_run(args, sc.master.startswith("local"), options)
    except BaseException:
        spark.stop()
        raise
    tmp = tempfile.mkdtemp(prefix="joblabel-spark-")
    staging = None
    fs = None
    try:
        fs, out = check_paths_hadoop(sc, args.input.split(","), args.output, args.overwrite)
        if not any(o.split("=", 1)[0] == "--threads" for o in options):
            options += ["--threads", sc.getConf().get("spark.task.cpus", "1")]
        if node_local(args.binary) is not None:
            binary_at = ("node", node_local(args.binary))
        else:
            sc.addFile(args.binary)
            binary_at = ("shipped", os.path.basename(args.binary.split("#")[0].rstrip("/")))
        if node_local(args.model) is not None:
            model_at = ("node", node_local(args.model))
        else:
            model = args.model
            if local_path(model) is not None and os.path.isdir(local_path(model)):
                model = pack_model(local_path(model), tmp)
            sc.addArchive(model + "#" + MODEL_ALIAS)
            model_at = ("shipped", MODEL_ALIAS)

        if args.input_format == "jsonl":
            args.input = expand_directories(sc, args.input)
        rdd, is_lines = input_rdd(spark, args)
        counters = (sc.accumulator(0), sc.accumulator(0))
        labelled = rdd.mapPartitionsWithIndex(
            lambda i, it: classify_partition(i, it, binary_at, model_at, options, counters),
            preservesPartitioning=True)
        staging = out.getParent().suffix("/." + out.getName() + f".joblabel-tmp-{os.getpid()}-{int(time.time())}")
        if fs.exists(staging):
            fs.delete(staging, True)
        started = time.time()
        try:
            if args.parquet:
                from pyspark import StorageLevel
                labelled.persist(StorageLevel.MEMORY_AND_DISK)
                df = spark.read.json(labelled)
                if not df.columns:  # no posting at all: an empty table, not a schema-less one
                    df = spark.createDataFrame([], "id string")
                df.write.parquet(staging.toString())
                labelled.unpersist()
            else:
                codec = {"gzip": "org.apache.hadoop.io.compress.GzipCodec",
                         "bzip2": "org.apache.hadoop.io.compress.BZip2Codec"}.get(args.compress)
                labelled.saveAsTextFile(staging.toString(), compressionCodecClass=codec)
        except Exception as e:  # py4j and PySpark wrap the executor's error; find ours in it
            code, message = explain_failure(e, sc, rdd, is_lines)
            say(message)
            say(f"no output written to {args.output}")
            return code
        elapsed = time.time() - started
        if fs.exists(out):
            fs.delete(out, True)
        if not fs.rename(staging, out):
            raise RuntimeError(f"could not move {staging.toString()} to {out.toString()}")
        staging = None
        n_in, n_out = counters[0].value, counters[1].value
        rate = n_out / elapsed if elapsed > 0 else 0.0
        say(f"labelled {n_out} postings ({n_in} input lines) in {elapsed:.1f} s ({rate:.0f} postings/s) "
            f"into {out.toString()}")
        return 0
    finally:
        if staging is not None and fs is not None:
            try:
                if fs.exists(staging):
                    fs.delete(staging, True)
            except Exception:
                pass
        shutil.rmtree(tmp, ignore_errors=True)
        spark.stop()


def main(argv=None):
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        return run(args)
    except UsageError as e:
        say(f"usage error: {e}")
        return 64
    except Refused as e:
        say(str(e))
        return 73


if __name__ == "__main__":
    sys.exit(main())
