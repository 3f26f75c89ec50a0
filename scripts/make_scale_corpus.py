#!/usr/bin/env python3
"""Deterministic scale corpora for the benchmark (scripts/bench), written as JSON Lines.

    make_scale_corpus.py news  --source 20news/train.jsonl --factor 4 --out news-4x.jsonl [--seed 1]
    make_scale_corpus.py posts --source corpus/ --count 1000000 --out posts-1m.jsonl [--seed 1]
    make_scale_corpus.py news-labels --source 20news/test.jsonl --out news-test.jsonl

`news`: `factor` times as many documents as the 20 Newsgroups file. Each new document copies the title
and the sentence count of a source document of the same topic (sources taken in turn) and draws its
sentences at random from all sentences of that topic. Labels: `topic` and `group` (the newsgroup's
hierarchy, e.g. `comp` for `comp.graphics`), so the benchmark has two heads. Factor 1 gives a shuffled
corpus of the same size as the source.

`posts`: `count` postings built the same way from the team's corpus (`corpus/*.jsonl`), sentences drawn
within postings of the same (role, seniority) pair; labels `role` and `seniority`.

`news-labels`: the source file with the `group` label added and nothing shuffled (the benchmark's test file).

Same arguments and seed, same bytes: Python's `random.Random(seed)` and sorted inputs only.
"""

import argparse
import json
import os
import random
import re
import sys

SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text):
    return [s for s in (part.strip() for part in SENTENCE.split(text)) if s]


def read_jsonl(path):
    paths = [path]
    if os.path.isdir(path):
        paths = sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".jsonl"))
    rows = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    rows.append(json.loads(line))
    return rows


def group_of(topic):
    return topic.split(".", 1)[0]


def build(rows, key, total, seed, labels, id_prefix, out):
    """Writes `total` documents: templates cycle through `rows` in order; sentences come from the
    template's group (rows with the same `key`)."""
    rng = random.Random(seed)
    pools = {}
    for r in rows:
        pools.setdefault(key(r), []).extend(sentences(r.get("text") or ""))
    with open(out, "w", encoding="utf-8") as f:
        for i in range(total):
            template = rows[i % len(rows)]
            pool = pools[key(template)]
            n = max(1, len(sentences(template.get("text") or "")))
            body = " ".join(pool[rng.randrange(len(pool))] for _ in range(n)) if pool else ""
            doc = {"id": f"{id_prefix}-{i}", "title": template.get("title") or "", "text": body}
            doc.update(labels(template))
            f.write(json.dumps(doc, ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["news", "posts", "news-labels"])
    ap.add_argument("--source", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--factor", type=int, default=1)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rows = read_jsonl(a.source)
    if not rows:
        sys.exit(f"make_scale_corpus: no records in {a.source}")
    if a.kind == "news-labels":
        with open(a.out, "w", encoding="utf-8") as f:
            for r in rows:
                r = dict(r)
                r["group"] = group_of(r["topic"])
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    elif a.kind == "news":
        build(rows, lambda r: r["topic"], a.factor * len(rows), a.seed,
              lambda r: {"topic": r["topic"], "group": group_of(r["topic"])}, f"news{a.factor}x", a.out)
    else:
        labeled = [r for r in rows if r.get("role") and r.get("seniority")]
        build(labeled, lambda r: (r["role"], r["seniority"]), a.count or len(labeled), a.seed,
              lambda r: {"role": r["role"], "seniority": r["seniority"]}, "posts", a.out)


if __name__ == "__main__":
    main()
