#!/usr/bin/env python3
"""How advertisers use LinkedIn's seniority levels and job functions, measured on the train files of the
LinkedIn-scale sources in ../shared/data (emscad, linkedin, linkedin-data-jobs, linkedin-criteria).

Prints count tables only (never posting text): label by title word, by years of experience asked, by
phrases in the body, and job function by kind of title. With --corpus, prints the same tables for
corpus/ next to them, so the two can be compared.

Usage: scripts/study_labels.py [--data DIR] [--split train] [--corpus] [--by-source]
Only train files are meant to be studied: the test files are for reporting results.
"""
import argparse, collections, glob, json, os, re, sys

SOURCES = ["emscad", "linkedin", "linkedin-data-jobs", "linkedin-criteria"]
LEVELS = ["internship", "entry", "associate", "mid-senior", "director", "executive"]
SHORT = {"internship": "intern", "entry": "entry", "associate": "assoc", "mid-senior": "mid-sen",
         "director": "dir", "executive": "exec"}

def words(p):
    return re.compile(r"(?<![\w-])(?:" + p + r")(?![\w-])", re.I)

# The title rule of ../shared/data/README.md (first match wins).
RULE = [("executive", words(r"chief|ceo|cfo|cto|coo|cio|cmo|cro|cpo|cso|cdo|chro|ciso")),
        ("director", words(r"director|head of|vp|svp|evp|avp|vice president")),
        ("internship", words(r"intern|interns|internship")),
        ("entry", words(r"junior|jr|entry|graduate|trainee")),
        ("mid-senior", words(r"senior|sr|lead|principal|staff"))]

def title_rule(title):
    for level, rx in RULE:
        if rx.search(title):
            return level
    return None

TITLE_WORDS = [
    ("intern / internship / co-op", r"intern|internship|co-op|coop"),
    ("trainee / apprentice", r"trainee|apprentice|apprenticeship"),
    ("junior / jr", r"junior|jr\.?"),
    ("entry (level)", r"entry"),
    ("graduate / grad", r"graduate|grad"),
    ("associate", r"associate"),
    ("assistant", r"assistant|asst"),
    ("I / 1 (grade)", r"i|1"),
    ("II / 2 (grade)", r"ii|2"),
    ("III / IV (grade)", r"iii|iv|3|4"),
    ("senior / sr", r"senior|sr\.?"),
    ("lead / leader", r"lead|leader"),
    ("principal / staff", r"principal|staff"),
    ("manager", r"manager|mgr"),
    ("supervisor", r"supervisor"),
    ("head of", r"head of|head"),
    ("director", r"director"),
    ("vp / vice president", r"vp|svp|evp|avp|vice president"),
    ("chief / C-suite", r"chief|ceo|cfo|cto|coo|cio|cmo"),
    ("analyst", r"analyst"),
    ("data analyst", r"data analyst"),
    ("data engineer", r"data engineer"),
    ("data scientist", r"data scientist"),
    ("engineer", r"engineer"),
    ("developer", r"developer|programmer"),
    ("specialist", r"specialist"),
    ("coordinator", r"coordinator"),
    ("representative / agent", r"representative|rep|agent|advisor"),
    ("consultant", r"consultant"),
    ("administrator", r"administrator"),
    ("accountant / clerk", r"accountant|clerk|bookkeeper"),
    ("technician", r"technician|tech"),
    ("designer", r"designer"),
    ("executive (title word)", r"executive"),
    ("officer", r"officer"),
    ("customer service", r"customer service|customer services|customer care|customer support"),
    ("sales", r"sales|salesperson"),
]
TITLE_WORDS = [(name, words(p)) for name, p in TITLE_WORDS]

NUM = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
       "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15}
NUMPAT = r"(\d{1,2}|" + "|".join(NUM) + r")"
YEARS = re.compile(
    r"(?:minimum of |at least |min\.? |over |more than )?" + NUMPAT +
    r"\s*(?:\+|plus)?\s*(?:(?:-|–|to|or)\s*" + NUMPAT + r"\s*\+?\s*)?(?:\(\d+\)\s*)?(?:years?|yrs?)"
    r"(?:'|’)?(?:\s+of)?[^.;\n]{0,60}?(?:experience|exp\b|work|working|in a|as a|background)", re.I)

def years_asked(text):
    """The smallest lower bound of years of experience the posting asks for, or None."""
    best = None
    for m in YEARS.finditer(text):
        a = m.group(1).lower()
        n = NUM.get(a) if a in NUM else int(a)
        if n is None or n > 25:
            continue
        best = n if best is None else min(best, n)
    return best

def years_bucket(n):
    if n is None:
        return "none stated"
    if n <= 1:
        return "0-1"
    if n <= 3:
        return str(n)
    if n <= 5:
        return "4-5"
    if n <= 7:
        return "6-7"
    return "8+"

YEAR_BUCKETS = ["none stated", "0-1", "2", "3", "4-5", "6-7", "8+"]

PHRASES = [
    ("'entry level' / 'entry-level'", r"entry[- ]level"),
    ("no experience needed / will train", r"no (?:prior |previous )?experience|experience (?:is )?not (?:required|necessary)|will train|training (?:is )?provided|full training"),
    ("recent / new graduate", r"recent(?:ly)? graduat\w*|new grad\w*|fresh graduat\w*|graduate scheme|graduate program"),
    ("student / currently enrolled", r"student|currently enrolled|pursuing a (?:bachelor|degree)"),
    ("manages people (team of, direct reports, supervise)", r"direct reports|manage (?:a|the) team|lead (?:a|the) team|team of \d+|supervis(?:e|ing) (?:a |the )?(?:team|staff)|people management|line manag\w+|build and lead|hire and (?:develop|manage|lead)"),
    ("mentors / guides others", r"mentor(?:s|ing)? (?:junior|other|team|less)|coach(?:es|ing)? (?:junior|team)"),
    ("reports to a manager / supervisor", r"report(?:s|ing)? (?:directly )?to (?:the |a |our )?(?:\w+ ){0,3}(?:manager|supervisor|team lead)"),
    ("reports to a director / VP / head / C-level", r"report(?:s|ing)? (?:directly )?to (?:the |a |our )?(?:\w+ ){0,3}(?:director|vp|vice president|head|ceo|cfo|cto|coo|founder|president|chief)"),
    ("bachelor's degree asked", r"bachelor|b\.?s\.?c?\b|b\.?a\.?\b|undergraduate degree|university degree|college degree|4[- ]year degree"),
    ("master's / MBA / PhD asked", r"master'?s|\bmba\b|ph\.?d|doctorate"),
    ("high school / GED", r"high school|ged\b|secondary school"),
    ("hourly pay", r"per hour|/hr\b|/hour|an hour|hourly"),
    ("'senior' in the body", r"senior"),
    ("strategy / roadmap", r"strateg\w+|roadmap"),
]
PHRASES = [(name, re.compile(p, re.I)) for name, p in PHRASES]

JOB_KINDS = [
    ("manages or leads", words(r"manager|mgr|supervisor|lead|leader|foreman|foreperson")),
    ("front-line or support",
     words(r"representative|rep|csr|agent|clerk|assistant|receptionist|secretary|coordinator|operator|technician|tech|driver|aide|cashier|cook|customer service|customer services|call center|call attendant|associate|inspector")),
    ("specialist, administrator, generalist", words(r"specialist|administrator|generalist")),
    ("professional",
     words(r"engineer|developer|programmer|analyst|scientist|architect|consultant|accountant|attorney|lawyer|designer|account executive")),
]

def job_kind(title):
    for n, rx in JOB_KINDS:
        if rx.search(title):
            return n
    return "(other titles)"

def load(paths):
    rows = []
    for p in paths:
        with open(p, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    rows.append(json.loads(line))
    return rows

def table(title, keys, rows, key_fn, multi=False, min_n=1):
    """Rows: keys; columns: seniority levels. key_fn returns a key or (multi) a list of keys."""
    counts = collections.defaultdict(collections.Counter)
    for r in rows:
        if not r.get("seniority"):
            continue
        ks = key_fn(r)
        for k in (ks if multi else [ks]):
            counts[k][r["seniority"]] += 1
    print(f"\n{title}")
    print(f"| {'':46s} | " + " | ".join(f"{SHORT[l]:>7s}" for l in LEVELS) + " |     n | top share |")
    print("|---|" + "---:|" * (len(LEVELS) + 1) + "---|")
    for k in keys:
        c = counts.get(k)
        n = sum(c.values()) if c else 0
        if n < min_n:
            continue
        top, tn = c.most_common(1)[0]
        print(f"| {k:46s} | " + " | ".join(f"{c[l]:7d}" for l in LEVELS) + f" | {n:5d} | {SHORT[top]} {tn / n:.2f} |")

def study(rows, label):
    lab = [r for r in rows if r.get("seniority")]
    print(f"\n## {label}: {len(rows)} rows, {len(lab)} with a seniority")
    tot = collections.Counter(r["seniority"] for r in lab)
    print("levels: " + ", ".join(f"{l} {tot[l]} ({tot[l] / max(1, len(lab)):.2f})" for l in LEVELS))
    table("Title rule result -> label", ["executive", "director", "internship", "entry", "mid-senior", "(no level word)"],
          lab, lambda r: title_rule(r["title"]) or "(no level word)")
    table("Title word -> label (a title counts under every word it has)", [n for n, _ in TITLE_WORDS],
          lab, lambda r: [n for n, rx in TITLE_WORDS if rx.search(r["title"])], multi=True)
    table("Years of experience asked (smallest stated) -> label", YEAR_BUCKETS, lab,
          lambda r: years_bucket(years_asked(r["text"])))
    table("Titles with no level word: years asked -> label", YEAR_BUCKETS,
          [r for r in lab if title_rule(r["title"]) is None], lambda r: years_bucket(years_asked(r["text"])))
    table("Titles with no level word: kind of job (first match) -> label", [n for n, _ in JOB_KINDS] + ["(other titles)"],
          [r for r in lab if title_rule(r["title"]) is None], lambda r: job_kind(r["title"]))
    table("'Data Analyst' titles: years asked -> label", YEAR_BUCKETS,
          [r for r in lab if words("data analyst").search(r["title"])], lambda r: years_bucket(years_asked(r["text"])))
    table("Phrase in the body -> label", [n for n, _ in PHRASES], lab,
          lambda r: [n for n, rx in PHRASES if rx.search(r["text"])], multi=True)

ROLE_KINDS = [
    ("data analyst / analytics / BI", r"data analyst|data analysis|analytics|business intelligence|bi analyst|insights analyst|reporting analyst"),
    ("data engineer / data scientist", r"data engineer|data scientist|big data|machine learning"),
    ("business / systems analyst", r"business analyst|systems analyst|business systems"),
    ("financial / risk analyst", r"financial analyst|risk analyst|settlements analyst|credit analyst"),
    ("other analyst", r"analyst"),
    ("developer / software engineer", r"developer|software engineer|programmer|full[- ]stack|front[- ]end|back[- ]end|web"),
    ("engineer (other)", r"engineer"),
    ("customer service / support", r"customer service|customer services|customer care|customer support|call attendant|csr"),
    ("administrative / office / clerk", r"admin\w*|receptionist|front desk|clerk|office manager|assistant"),
    ("sales / account", r"sales|account executive|account manager|salesperson"),
    ("marketing", r"marketing|marketer"),
    ("designer", r"designer|design"),
    ("project manager / coordinator", r"project manager|project coordinator|pmo"),
    ("focus group / survey participant", r"focus group|participant"),
]
ROLE_KINDS = [(n, words(p)) for n, p in ROLE_KINDS]

def role_kind(title):
    for n, rx in ROLE_KINDS:
        if rx.search(title):
            return n
    return "(other titles)"

def study_roles(rows, label):
    lab = [r for r in rows if r.get("role")]
    print(f"\n## {label}: job function by kind of title ({len(lab)} rows with a function)")
    counts = collections.defaultdict(collections.Counter)
    for r in lab:
        counts[role_kind(r["title"])][r["role"]] += 1
    print("| kind of title | n | functions given by the advertisers |")
    print("|---|---:|---|")
    for k in [n for n, _ in ROLE_KINDS] + ["(other titles)"]:
        c = counts.get(k)
        if not c:
            continue
        n = sum(c.values())
        print(f"| {k:36s} | {n:4d} | " + ", ".join(f"{f} {v}" for f, v in c.most_common(8)) + " |")
    fc = collections.Counter(r["role"] for r in lab)
    print("functions: " + ", ".join(f"{f} {v}" for f, v in fc.most_common()))

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data"))
    ap.add_argument("--split", default="train")
    ap.add_argument("--corpus", action="store_true", help="also print the tables for corpus/")
    ap.add_argument("--by-source", action="store_true", help="also print the tables per source")
    a = ap.parse_args()
    if a.split != "train":
        print("note: studying a non-train split; choices must be made on train files only", file=sys.stderr)
    per = {}
    for s in SOURCES:
        p = os.path.join(a.data, s, f"{a.split}.jsonl")
        if not os.path.exists(p):
            sys.exit(f"{p}: not found (pass --data)")
        per[s] = load([p])
    pooled = [r for s in SOURCES for r in per[s]]
    study(pooled, f"Advertisers, pooled {a.split} files of " + ", ".join(SOURCES))
    if a.by_source:
        for s in SOURCES:
            study(per[s], f"{s} {a.split}")
    study_roles([r for s in ("emscad", "linkedin", "linkedin-criteria") for r in per[s]],
                f"Advertisers, {a.split} files of emscad, linkedin, linkedin-criteria")
    if a.corpus:
        corpus = load(sorted(glob.glob(os.path.join(here, "..", "corpus", "*.jsonl"))))
        study(corpus, "corpus/")
        study_roles(corpus, "corpus/")

if __name__ == "__main__":
    main()
