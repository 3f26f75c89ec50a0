#!/usr/bin/env python3
"""Self-check of the C reference (cref.c): its token stream against a tiny Python tokenizer, document by
document, on a small file of hand-picked and generated cases plus (when present) the first 500 documents of
the 20 Newsgroups train file; its checksum on 1 and 3 threads; and its errors on malformed lines.

    python3 scripts/cref/check.py [--cref BINARY] [--news ../shared/data/20news/train.jsonl]

The Python tokenizer is scikit-learn's: `re.findall(r"\\w+", s.lower())` (words of 2+ characters for the
sklearn tokenizer, all for words), on the title and on the text separately, as joblabel tokenizes them.
Exits 1 on any difference. Takes about a second.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import build  # noqa: E402

WORD = re.compile(r"\w+")


def py_tokens(doc, min_len):
    out = []
    for field in ("title", "text"):
        s = doc.get(field) or ""
        out += [t for t in WORD.findall(s.lower()) if len(t) >= min_len]
    return out


def cases(rng):
    """Documents as JSON text lines (some hand-escaped) and hand-made raw lines (invalid UTF-8)."""
    fixed = [
        {"title": "Hello, WORLD!", "text": "foo_bar x y 42 a1 __ _a B_"},
        {"title": None, "text": "line\nbreak\ttab \"quoted\" back\\slash /slash"},
        {"text": "Straße ÉCOLE İstanbul İ ΟΔΟΣ ΚΑΙ ΣΟΦΙΑ ² ½ x² ǅemal ﬁne Ⅻ 東京タワー ١٢٣ abc١"},
        {"title": "", "text": ""},
        {"id": 5, "meta": {"a": [1, "x\"}", {"b": []}], "c": None, "d": True}, "n": -1.5e3, "title": "Nested", "text": "skip the rest"},
        {"title": "x" * 100, "text": "a" * 40 + "é" + "b" * 40 + " " + "C" * 31 + "Ü" + "d" * 33},
        {"title": "emoji 😀smile 𐐀𝐀 deseret", "text": "tab\u0000nul\u001bx \U0001F600y z\u00A0w"},
    ]
    lines = [json.dumps(d, ensure_ascii=k % 2 == 0) for k, d in enumerate(fixed)]
    # \u escapes of surrogates, as JSON writes them; a lone surrogate becomes U+FFFD (a separator).
    lines.append('{"title": "pair \\ud83d\\ude00ok \\ud801\\udc00x", "text": "lone \\ud800x \\udc00y caf\\u00e9 \\u00C9COLE"}')
    lines.append('  {"text" : "spaces around" , "title":"T"}  ')
    lines.append("")
    # Generated: words of ASCII and Latin/Greek/Cyrillic letters, digits and punctuation, at random lengths,
    # so the 32-byte blocks and the scalar path meet at every offset.
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") + \
        list(" .,;:!?-'()[]/\\\"\t\n") * 3 + list("éÉüÜßøÆæñÑαβγΑΒΓжЖ²½·–“”€")
    for k in range(300):
        n = rng.choice([1, 5, 31, 32, 33, 63, 64, 65, 200, 1000, 3000])
        weights = rng.choice(["ascii", "mixed"])
        chars = alphabet[:62 + 57] if weights == "ascii" else alphabet
        text = "".join(rng.choice(chars) for _ in range(n))
        title = "".join(rng.choice(chars) for _ in range(rng.randint(0, 40)))
        lines.append(json.dumps({"id": k, "title": title, "text": text}, ensure_ascii=k % 3 == 0))
    raw = [line.encode() for line in lines]
    # Ill-formed UTF-8 inside a string: a separator (joblabel reads it as U+FFFD).
    raw.append(b'{"text": "bad\xffbyte trunc\xe2\x82 over\xc0\xaflong sur\xed\xa0\x80rogate ok\xc3\xa9"}')
    return raw


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cref", help="the C reference binary (default: build it under scripts/.bench-data/cref)")
    ap.add_argument("--news", default=os.path.join(ROOT, "..", "shared", "data", "20news", "train.jsonl"))
    a = ap.parse_args()
    cref = a.cref or build.build()
    rng = random.Random(7)
    raw = cases(rng)
    if os.path.exists(a.news):
        with open(a.news, "rb") as f:
            raw += [next(f).rstrip(b"\n") for _ in range(500)]
    failures = 0
    with tempfile.TemporaryDirectory(prefix="cref-check-") as tmp:
        path = os.path.join(tmp, "cases.jsonl")
        with open(path, "wb") as f:
            f.write(b"\n".join(raw) + b"\n")
        docs = [json.loads(line.decode("utf-8", "replace")) for line in raw if line.strip()]
        for tokenizer, min_len in (("sklearn", 2), ("words", 1)):
            rc, out, err = run([cref, "--dump", "--tokenizer", tokenizer, path])
            if rc != 0:
                print(f"check: cref --dump failed ({rc}): {err}")
                return 1
            got = out.split("\n")[:-1]
            if len(got) != len(docs):
                print(f"check: {tokenizer}: cref gave {len(got)} documents, Python {len(docs)}")
                failures += 1
                continue
            vocab = set()
            for k, (line, doc) in enumerate(zip(got, docs)):
                want = py_tokens(doc, min_len)
                vocab.update(want)
                if line.split() != want:
                    failures += 1
                    if failures <= 5:
                        print(f"check: {tokenizer}: document {k + 1} differs\n  C:      {line.split()[:30]}\n  Python: {want[:30]}")
            # Checksums agree across thread counts, and the vocabulary size with Python's.
            sums = []
            for t in (1, 3):
                rc, out, err = run([cref, "--json", "-r", "1", "-t", str(t), "--tokenizer", tokenizer, path])
                if rc != 0:
                    print(f"check: cref -t {t} failed ({rc}): {err}")
                    return 1
                r = json.loads(out)
                sums.append((r["docs"], r["tokens"], r["terms"], r["nnz"], r["checksum"]))
            if sums[0] != sums[1]:
                print(f"check: {tokenizer}: 1 and 3 threads disagree: {sums}")
                failures += 1
            if sums[0][2] != len(vocab):
                print(f"check: {tokenizer}: {sums[0][2]} distinct terms, Python {len(vocab)}")
                failures += 1
            print(f"check: {tokenizer}: {len(docs)} documents, {sums[0][1]} tokens, {sums[0][2]} distinct terms: "
                  f"{'same as Python' if not failures else 'DIFFERENT'}; 1 and 3 threads {'agree' if sums[0] == sums[1] else 'DISAGREE'}")
        # Malformed lines: exit 65 and a message naming file and line.
        for body, what in ((b'{"text": "unterminated}\n', "unterminated string"), (b'{"text": "a"}\n["x"]\n', "expected a JSON object"),
                           (b'{"text": 3}\n', 'field "text" is not a string'), (b'{"text": "bad \\q"}\n', "invalid escape")):
            bad = os.path.join(tmp, "bad.jsonl")
            with open(bad, "wb") as f:
                f.write(body)
            rc, out, err = run([cref, bad])
            line = body.count(b"\n")
            if rc != 65 or f"bad.jsonl:{line}: " not in err or what not in err:
                print(f"check: malformed input {body!r}: exit {rc}, message {err.strip()!r}")
                failures += 1
        rc, out, err = run([cref, os.path.join(tmp, "missing.jsonl")])
        if rc != 66 or "missing.jsonl" not in err:
            print(f"check: missing file: exit {rc}, message {err.strip()!r}")
            failures += 1
    print("check: OK" if failures == 0 else f"check: {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
