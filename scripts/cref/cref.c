/*
 * cref: the C reference of scripts/bench, a floor for what joblabel's vectorizer costs on this machine.
 *
 *   cref [-t THREADS] [-r REPEAT] [--tokenizer sklearn|words] [--json] FILE.jsonl...
 *   cref --dump FILE.jsonl        one line per document: its tokens, space-separated (check.py)
 *   cref --vocab FILE.jsonl...    one line per distinct term: term TAB document frequency
 *
 * Reads JSON Lines files (an object per line; only the string fields "title" and "text" are used), and
 * for every document tokenizes the title, then the text, exactly as joblabel's default tokenizer
 * (Sources/JobLabel/Text/Tokenizer.swift): maximal runs of word characters (Python's `\w` in Unicode mode)
 * of the lowercased text (Python's `str.lower`), kept when they have at least 2 (sklearn) or 1 (words)
 * scalars. Each token is hashed (joblabel's TermTable hash) and interned in an open-addressing table
 * (term -> id, with its document frequency); each document's term counts are kept as a sparse row (id,
 * count), as a vectorizer's fit + transform needs. With -t N the input is split at line boundaries into N
 * parts, one thread each; the per-thread tables are merged at the end in parallel (each thread merges the
 * terms of one hash partition) and the rows renumbered to the merged ids.
 *
 * Two timings, best of REPEAT runs each:
 *   end to end:  read the files, scan the JSON, tokenize, count, merge (the work of a CLI classify);
 *   in memory:   tokenize and count strings already decoded in memory, merge (the work of joblabel's
 *                vectorize, which starts from parsed postings).
 *
 * Not done, on purpose (a floor, not a vectorizer): JSON validation beyond the string scan (a line is an
 * object of string keys; values are skipped by bracket matching), sorting the vocabulary, tf-idf weights.
 *
 * Non-ASCII text: UTF-8 is decoded (ill-formed bytes separate words, as joblabel's U+FFFD does) and each
 * scalar goes through tables generated from Python's unicodedata by gen_tables.py (lowercase mapping, `\w`
 * of the lowercased scalar, Cased), so it follows Python (as joblabel does) up to the Unicode version of
 * the Python that generated them. Two simplifications: U+0130 lowercases to "i" + U+0307 (a non-word
 * mark), special-cased; Greek capital sigma becomes final sigma when the scalar before it is cased and the
 * one after it is not (Python also skips case-ignorable scalars on both sides; joblabel does too).
 *
 * Checksum printed: documents, tokens, distinct terms, non-zeros (document-term pairs) and a 64-bit sum
 * over the distinct terms of their hash mixed with their document frequency, the same for any -t.
 * Errors (unreadable file, a line that is not a JSON object of strings) name the file and line; exit 65/66.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "utables.h"

#define MAX_THREADS 64

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "cref: out of memory (%zu bytes)\n", n); exit(71); }
    return p;
}
static void *xrealloc(void *q, size_t n) {
    void *p = realloc(q, n ? n : 1);
    if (!p) { fprintf(stderr, "cref: out of memory (%zu bytes)\n", n); exit(71); }
    return p;
}
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
static inline uint64_t load64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* ------------------------------------------------------------------ hash (joblabel's TermTable.mix) */

/* Hash of p[0..n) and its first 8 bytes zero-padded; p must have 8 readable bytes after n. */
static inline uint64_t term_hash(const uint8_t *p, size_t n, uint64_t *prefix) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n, pre = 0;
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t w = load64(p + i);
        if (i == 0) pre = w;
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
        h = (h << 29) | (h >> 35);
        i += 8;
    }
    size_t rest = n - i;
    uint64_t last = rest ? load64(p + i) & (~0ULL >> (64 - 8 * rest)) : 0;
    if (n < 8) pre = last;
    h = (h ^ last) * 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 32;
    h *= 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
    *prefix = pre;
    return h;
}

/* ------------------------------------------------------------------ term table */

/* Open addressing, linear probing, load <= 1/2. Slot: meta (0 empty, else hash tag 16 bits | length 16
 * bits | id + 1) and the term's first 8 bytes; longer terms compare their tail in the arena. */
typedef struct {
    uint64_t *slots;
    size_t mask;
    uint8_t *arena;          /* term bytes, 8 spare bytes at the end */
    size_t arena_len, arena_cap;
    uint32_t *off;           /* off[id]..off[id+1] in arena */
    uint64_t *hash;          /* per id */
    uint32_t *df;            /* per id: documents containing it */
    uint32_t *tf;            /* per id: count in the current document (0 between documents) */
    uint32_t count, cap;
} Table;

static void table_init(Table *t, size_t slots) {
    t->slots = calloc(2 * slots, sizeof(uint64_t));
    if (!t->slots) { fprintf(stderr, "cref: out of memory\n"); exit(71); }
    t->mask = slots - 1;
    t->arena_cap = 1 << 16;
    t->arena = xmalloc(t->arena_cap);
    t->arena_len = 0;
    t->cap = (uint32_t)(slots / 2);
    t->off = xmalloc((t->cap + 1) * sizeof(uint32_t));
    t->off[0] = 0;
    t->hash = xmalloc(t->cap * sizeof(uint64_t));
    t->df = xmalloc(t->cap * sizeof(uint32_t));
    t->tf = xmalloc(t->cap * sizeof(uint32_t));
    t->count = 0;
}

static void table_free(Table *t) {
    free(t->slots); free(t->arena); free(t->off); free(t->hash); free(t->df); free(t->tf);
    memset(t, 0, sizeof *t);
}

static inline uint64_t meta_key(uint64_t h, size_t n) {
    return (h & 0xFFFF000000000000ULL) | ((uint64_t)(n < 0xFFFF ? n : 0xFFFF) << 32);
}

static void table_grow(Table *t) {
    size_t size = 2 * (t->mask + 1);
    uint64_t *s = calloc(2 * size, sizeof(uint64_t));
    if (!s) { fprintf(stderr, "cref: out of memory\n"); exit(71); }
    size_t mask = size - 1;
    for (uint32_t id = 0; id < t->count; id++) {
        uint64_t h = t->hash[id];
        size_t i = h & mask;
        while (s[2 * i]) i = (i + 1) & mask;
        uint32_t n = t->off[id + 1] - t->off[id];
        s[2 * i] = meta_key(h, n) | (id + 1);
        uint64_t pre = n >= 8 ? load64(t->arena + t->off[id]) : (n ? load64(t->arena + t->off[id]) & (~0ULL >> (64 - 8 * n)) : 0);
        s[2 * i + 1] = pre;
    }
    free(t->slots);
    t->slots = s;
    t->mask = mask;
    t->cap = (uint32_t)(size / 2);
    t->off = xrealloc(t->off, (t->cap + 1) * sizeof(uint32_t));
    t->hash = xrealloc(t->hash, t->cap * sizeof(uint64_t));
    t->df = xrealloc(t->df, t->cap * sizeof(uint32_t));
    t->tf = xrealloc(t->tf, t->cap * sizeof(uint32_t));
}

/* The id of p[0..n) (hash h, first 8 bytes pre), added (df 0, tf 0) when absent; *added tells which. */
static inline uint32_t table_intern(Table *t, const uint8_t *p, size_t n, uint64_t h, uint64_t pre, int *added) {
    uint64_t want = meta_key(h, n);
    size_t i = h & t->mask;
    for (;;) {
        uint64_t meta = t->slots[2 * i];
        if (!meta) break;
        if ((meta & 0xFFFFFFFF00000000ULL) == want && t->slots[2 * i + 1] == pre) {
            uint32_t id = (uint32_t)meta - 1;
            if (n <= 8) { *added = 0; return id; }
            uint32_t lo = t->off[id];
            if (t->off[id + 1] - lo == n && memcmp(t->arena + lo + 8, p + 8, n - 8) == 0) { *added = 0; return id; }
        }
        i = (i + 1) & t->mask;
    }
    if (t->count + 1 > t->cap) {
        table_grow(t);
        i = h & t->mask;
        while (t->slots[2 * i]) i = (i + 1) & t->mask;
    }
    if (t->arena_len + n + 8 > t->arena_cap) {
        while (t->arena_len + n + 8 > t->arena_cap) t->arena_cap *= 2;
        t->arena = xrealloc(t->arena, t->arena_cap);
    }
    uint32_t id = t->count++;
    memcpy(t->arena + t->arena_len, p, n);
    t->arena_len += n;
    t->off[id + 1] = (uint32_t)t->arena_len;
    t->hash[id] = h;
    t->df[id] = 0;
    t->tf[id] = 0;
    t->slots[2 * i] = want | (id + 1);
    t->slots[2 * i + 1] = pre;
    *added = 1;
    return id;
}

/* ------------------------------------------------------------------ input */

typedef struct {
    const char *name;
    size_t start;            /* offset of the file in the joined buffer */
} FileSpan;

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    FileSpan files[256];
    int nfiles;
    char **paths;
} Input;

/* Reads every file into one buffer, each ending with a newline; 8 zero bytes after the end. */
static void input_read(Input *in) {
    in->len = 0;
    for (int f = 0; f < in->nfiles; f++) {
        const char *path = in->paths[f];
        int fd = open(path, O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            fprintf(stderr, "cref: %s: cannot read: %s\n", path, strerror(errno));
            exit(66);
        }
        if (in->len + (size_t)st.st_size > ((size_t)1 << 31)) {
            /* Offsets are 32-bit: enough for a benchmark input. */
            fprintf(stderr, "cref: %s: the inputs add up to more than 2 GB, which cref does not support\n", path);
            exit(65);
        }
        size_t need = in->len + (size_t)st.st_size + 16;
        if (need > in->cap) {
            in->cap = need + need / 4;
            in->buf = xrealloc(in->buf, in->cap);
        }
        in->files[f].name = path;
        in->files[f].start = in->len;
        size_t got = 0;
        while (got < (size_t)st.st_size) {
            ssize_t r = read(fd, in->buf + in->len + got, (size_t)st.st_size - got);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) { fprintf(stderr, "cref: %s: read error: %s\n", path, strerror(errno)); exit(66); }
            if (r == 0) break;
            got += (size_t)r;
        }
        close(fd);
        in->len += got;
        if (got > 0 && in->buf[in->len - 1] != '\n') in->buf[in->len++] = '\n';
    }
    memset(in->buf + in->len, 0, 8);
}

static Input g_in;

/* Reports a malformed line (file and line number of offset `at`) and exits. */
static void fail_at(const uint8_t *at, const char *what) {
    size_t pos = (size_t)(at - g_in.buf);
    int f = 0;
    while (f + 1 < g_in.nfiles && g_in.files[f + 1].start <= pos) f++;
    size_t line = 1;
    for (size_t k = g_in.files[f].start; k < pos && k < g_in.len; k++) line += g_in.buf[k] == '\n';
    fprintf(stderr, "cref: %s:%zu: %s\n", g_in.files[f].name, line, what);
    exit(65);
}

/* ------------------------------------------------------------------ tokenizer */


/* ASCII: lowercased byte of a word character, 0 for other ASCII. */
static uint8_t ascii_word[128];

static inline uint32_t utab(uint32_t cp) { return u_stage2[((uint32_t)u_stage1[cp >> 7] << 7) | (cp & 127)]; }
static inline uint32_t ulower(uint32_t cp, uint32_t e) { return (cp + e) & 0x1FFFFF; }

/* Decodes one UTF-8 scalar at s[i] (i < n); returns its length, or 0 when ill-formed (then skip one byte). */
static inline int decode(const uint8_t *s, size_t i, size_t n, uint32_t *cp) {
    uint8_t b = s[i];
    if (b >= 0xC2 && b <= 0xDF && i + 1 < n && (s[i + 1] & 0xC0) == 0x80) {
        *cp = (uint32_t)(b & 0x1F) << 6 | (s[i + 1] & 0x3F);
        return 2;
    }
    if (b >= 0xE0 && b <= 0xEF && i + 2 < n && (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80) {
        uint32_t v = (uint32_t)(b & 0x0F) << 12 | (uint32_t)(s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F);
        if (v >= 0x800 && !(v >= 0xD800 && v <= 0xDFFF)) { *cp = v; return 3; }
        return 0;
    }
    if (b >= 0xF0 && b <= 0xF4 && i + 3 < n && (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80 &&
        (s[i + 3] & 0xC0) == 0x80) {
        uint32_t v = (uint32_t)(b & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3F) << 12 | (uint32_t)(s[i + 2] & 0x3F) << 6 |
                     (s[i + 3] & 0x3F);
        if (v >= 0x10000 && v <= 0x10FFFF) { *cp = v; return 4; }
    }
    return 0;
}

static inline int cased_at(const uint8_t *s, size_t i, size_t n) {
    if (i >= n) return 0;
    uint8_t b = s[i];
    if (b < 0x80) return (b | 0x20) >= 'a' && (b | 0x20) <= 'z';
    uint32_t cp;
    if (!decode(s, i, n, &cp)) return 0;
    return (utab(cp) >> 30) & 1;
}

static inline int put_utf8(uint8_t *d, uint32_t cp) {
    if (cp < 0x80) { d[0] = (uint8_t)cp; return 1; }
    if (cp < 0x800) { d[0] = 0xC0 | (cp >> 6); d[1] = 0x80 | (cp & 0x3F); return 2; }
    if (cp < 0x10000) { d[0] = 0xE0 | (cp >> 12); d[1] = 0x80 | ((cp >> 6) & 0x3F); d[2] = 0x80 | (cp & 0x3F); return 3; }
    d[0] = 0xF0 | (cp >> 18); d[1] = 0x80 | ((cp >> 12) & 0x3F); d[2] = 0x80 | ((cp >> 6) & 0x3F); d[3] = 0x80 | (cp & 0x3F);
    return 4;
}

/* ------------------------------------------------------------------ worker */

typedef struct { uint32_t off, len; } Span;

typedef struct Worker {
    int index;
    const uint8_t *beg, *end;      /* the raw lines of this part */
    Table tab;
    uint32_t *touched; size_t ntouched, touched_cap;
    uint32_t *row_idx, *row_cnt; size_t nnz, nnz_cap;   /* sparse rows, one after another */
    uint32_t *row_end; size_t docs, docs_cap;            /* row_end[d] = nnz after document d */
    uint64_t tokens;
    uint8_t *tok; size_t tok_cap;                        /* the tokens of the current string, lowercased */
    uint32_t *tstart, *tlen; uint64_t *thash, *tpre;     /* each token's place in `tok`, hash, first 8 bytes */
    uint8_t *scratch; size_t scratch_cap;                /* decoded string with escapes */
    /* in-memory mode: decoded strings of this part */
    uint8_t *arena; size_t arena_len, arena_cap;
    Span *spans; size_t nspans, spans_cap;               /* title, text per document */
    uint32_t *map;                                       /* local id -> id in its partition table */
    int min_len;
    int dump;
    int keep_text;                                       /* in-memory mode setup: copy strings into arena */
    double t_count, t_merge;
} Worker;

static int g_threads = 1;
static Worker g_workers[MAX_THREADS];
static Table g_parts[MAX_THREADS];
static uint32_t g_part_base[MAX_THREADS + 1];
static pthread_barrier_t g_barrier;

static inline unsigned part_of(uint64_t h) { return (unsigned)((h >> 40) % (unsigned)g_threads); }

static inline void term(Worker *w, const uint8_t *tok, size_t n, uint64_t h, uint64_t pre) {
    int added;
    uint32_t id = table_intern(&w->tab, tok, n, h, pre, &added);
    w->tokens++;
    if (w->dump) { fwrite(tok, 1, n, stdout); fputc(' ', stdout); }
    if (w->tab.tf[id]++ == 0) {
        if (w->ntouched == w->touched_cap) {
            w->touched_cap = w->touched_cap ? 2 * w->touched_cap : 1024;
            w->touched = xrealloc(w->touched, w->touched_cap * sizeof(uint32_t));
        }
        w->touched[w->ntouched++] = id;
    }
}

static void end_document(Worker *w) {
    Table *t = &w->tab;
    if (w->nnz + w->ntouched > w->nnz_cap) {
        while (w->nnz + w->ntouched > w->nnz_cap) w->nnz_cap = w->nnz_cap ? 2 * w->nnz_cap : 1 << 16;
        w->row_idx = xrealloc(w->row_idx, w->nnz_cap * sizeof(uint32_t));
        w->row_cnt = xrealloc(w->row_cnt, w->nnz_cap * sizeof(uint32_t));
    }
    for (size_t k = 0; k < w->ntouched; k++) {
        uint32_t id = w->touched[k];
        w->row_idx[w->nnz] = id;
        w->row_cnt[w->nnz] = t->tf[id];
        w->nnz++;
        t->tf[id] = 0;
        t->df[id]++;
    }
    w->ntouched = 0;
    if (w->docs == w->docs_cap) {
        w->docs_cap = w->docs_cap ? 2 * w->docs_cap : 4096;
        w->row_end = xrealloc(w->row_end, w->docs_cap * sizeof(uint32_t));
    }
    w->row_end[w->docs++] = (uint32_t)w->nnz;
    if (w->dump) fputc('\n', stdout);
}

/* Counts the tokens batched by `tokenize`: hashes them all and prefetches their table slots first, so the
 * cache misses of a string's tokens overlap, then interns them in order. */
static void flush_tokens(Worker *w, size_t count) {
    const uint8_t *tok = w->tok;
    Table *t = &w->tab;
    for (size_t k = 0; k < count; k++) {
        uint64_t h = term_hash(tok + w->tstart[k], w->tlen[k], &w->tpre[k]);
        w->thash[k] = h;
        __builtin_prefetch(&t->slots[2 * (h & t->mask)]);
    }
    for (size_t k = 0; k < count; k++) term(w, tok + w->tstart[k], w->tlen[k], w->thash[k], w->tpre[k]);
}

/* Tokenizes the decoded UTF-8 string s[0..n) into terms. The lowercased text goes to `tok` (word bytes of
 * the scalar path, whole 32-byte blocks of the ASCII path), and each kept token is a range of it. */
static void tokenize(Worker *w, const uint8_t *s, size_t n) {
    if (n == 0) return;
    size_t need = n + n / 2 + 96;
    if (need > w->tok_cap) {
        w->tok_cap = need + need / 2;
        w->tok = xrealloc(w->tok, w->tok_cap);
        size_t tcap = w->tok_cap / 2 + 2;
        w->tstart = xrealloc(w->tstart, tcap * sizeof(uint32_t));
        w->tlen = xrealloc(w->tlen, tcap * sizeof(uint32_t));
        w->thash = xrealloc(w->thash, tcap * sizeof(uint64_t));
        w->tpre = xrealloc(w->tpre, tcap * sizeof(uint64_t));
    }
    uint8_t *tok = w->tok;
    uint32_t *tstart = w->tstart, *tlen = w->tlen;
    const size_t min_len = (size_t)w->min_len;
    size_t pos = 0, start = 0, scalars = 0, count = 0, i = 0;
    /* Records the token tok[b..e) of `sc` scalars when it is long enough. */
#define EMIT(b, e, sc)                                                                                   \
    do {                                                                                                 \
        if ((sc) >= min_len) { tstart[count] = (uint32_t)(b); tlen[count++] = (uint32_t)((e) - (b)); } \
    } while (0)
#define CLOSE()                         \
    do {                                \
        EMIT(start, pos, scalars);      \
        scalars = 0;                    \
    } while (0)
    while (i < n) {
#ifdef __AVX2__
        if (i + 32 <= n) {
            /* 32 ASCII bytes: word bytes and upper-case letters as bit masks, the block stored lowercased. */
            __m256i v = _mm256_loadu_si256((const __m256i *)(s + i));
            if (!_mm256_movemask_epi8(v)) {
                __m256i lv = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
                __m256i digit = _mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8('0' - 1)),
                                                 _mm256_cmpgt_epi8(_mm256_set1_epi8('9' + 1), v));
                __m256i alpha = _mm256_and_si256(_mm256_cmpgt_epi8(lv, _mm256_set1_epi8('a' - 1)),
                                                 _mm256_cmpgt_epi8(_mm256_set1_epi8('z' + 1), lv));
                __m256i under = _mm256_cmpeq_epi8(v, _mm256_set1_epi8('_'));
                __m256i upper = _mm256_andnot_si256(_mm256_cmpeq_epi8(v, lv), alpha);
                _mm256_storeu_si256((__m256i *)(tok + pos),
                                    _mm256_or_si256(v, _mm256_and_si256(upper, _mm256_set1_epi8(0x20))));
                uint32_t m = (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(_mm256_or_si256(digit, alpha), under));
                if (scalars) {
                    uint32_t lead = (uint32_t)__builtin_ctz(~m | 0);  /* ~m == 0 handled below */
                    if (m == 0xFFFFFFFFu) { scalars += 32; pos += 32; i += 32; continue; }
                    EMIT(start, pos + lead, scalars + lead);
                    scalars = 0;
                    m &= ~((1u << lead) - 1);
                }
                while (m) {
                    uint32_t b0 = (uint32_t)__builtin_ctz(m);
                    uint32_t rest = ~(m >> b0);
                    uint32_t run = rest ? (uint32_t)__builtin_ctz(rest) : 32 - b0;
                    if (b0 + run == 32) { start = pos + b0; scalars = run; break; }
                    EMIT(pos + b0, pos + b0 + run, (size_t)run);
                    m &= m + (m & (0u - m));   /* clear the lowest run of ones */
                }
                pos += 32;
                i += 32;
                continue;
            }
        }
        size_t stop = i + 32 < n ? i + 32 : n;
#else
        size_t stop = n;
#endif
        /* Scalar path, up to the next 32 bytes (whole scalars). */
        while (i < stop) {
            uint8_t b = s[i];
            if (b < 0x80) {
                uint8_t l = ascii_word[b];
                if (l) {
                    if (!scalars) start = pos;
                    tok[pos++] = l;
                    scalars++;
                } else if (scalars) {
                    CLOSE();
                }
                i++;
                continue;
            }
            uint32_t cp;
            int k = decode(s, i, n, &cp);
            if (!k) {   /* ill-formed: a separator, like joblabel's U+FFFD */
                if (scalars) CLOSE();
                i++;
                continue;
            }
            uint32_t e = utab(cp);
            if (cp == 0x3A3) {
                /* Greek capital sigma: final sigma after a cased scalar and before an uncased one (simplified). */
                int before = 0;
                if (i > 0) {
                    size_t j = i - 1;
                    while (j > 0 && (s[j] & 0xC0) == 0x80 && i - j < 4) j--;
                    before = cased_at(s, j, n);
                }
                int final = before && !cased_at(s, i + 2, n);
                if (!scalars) start = pos;
                tok[pos++] = 0xCF;
                tok[pos++] = final ? 0x82 : 0x83;
                scalars++;
                i += 2;
                continue;
            }
            i += (size_t)k;
            if (e >> 31) {
                if (!scalars) start = pos;
                pos += (size_t)put_utf8(tok + pos, ulower(cp, e));
                scalars++;
                if (!(e & (1u << 29))) continue;
                /* U+0130: "i" then U+0307, a combining mark, which ends the word. */
            }
            if (scalars) CLOSE();
        }
    }
    if (scalars) CLOSE();
#undef CLOSE
#undef EMIT
    flush_tokens(w, count);
}

/* ------------------------------------------------------------------ JSON scan */

static inline const uint8_t *skip_ws(const uint8_t *p) {
    while (*p == ' ' || *p == '\t' || *p == '\r') p++;
    return p;
}

/* p at an opening quote; returns the closing quote; *esc tells whether the string has escapes. */
static inline const uint8_t *string_end(const uint8_t *p, int *esc) {
    const uint8_t *q = p + 1;
    *esc = 0;
    for (;;) {
        /* 8 bytes at a time while there is no quote, backslash or newline. */
        uint64_t v = load64(q);
        uint64_t x1 = v ^ 0x2222222222222222ULL, x2 = v ^ 0x5C5C5C5C5C5C5C5CULL, x3 = v ^ 0x0A0A0A0A0A0A0A0AULL;
#define HASZERO(x) (((x) - 0x0101010101010101ULL) & ~(x) & 0x8080808080808080ULL)
        if (!(HASZERO(x1) | HASZERO(x2) | HASZERO(x3))) { q += 8; continue; }
#undef HASZERO
        if (*q == '"') return q;
        if (*q == '\\') { *esc = 1; q += 2; if (q[-1] == '\n') fail_at(p, "unterminated string"); continue; }
        if (*q == '\n') fail_at(p, "unterminated string (a JSON Lines record must fit on one line)");
        q++;
    }
}

static inline int hexval(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
    return -1;
}

static inline int hex4(const uint8_t *p) {
    int a = hexval(p[0]), b = hexval(p[1]), c = hexval(p[2]), d = hexval(p[3]);
    if ((a | b | c | d) < 0) return -1;
    return a << 12 | b << 8 | c << 4 | d;
}

/* Decodes the JSON string body p[0..n) (escapes resolved, lone surrogates -> U+FFFD) into dst; returns length. */
static size_t unescape(const uint8_t *p, size_t n, uint8_t *dst) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        if (c != '\\') { dst[o++] = c; i++; continue; }
        uint8_t e = p[i + 1];
        switch (e) {
        case '"': case '\\': case '/': dst[o++] = e; i += 2; break;
        case 'b': dst[o++] = 8; i += 2; break;
        case 'f': dst[o++] = 12; i += 2; break;
        case 'n': dst[o++] = 10; i += 2; break;
        case 'r': dst[o++] = 13; i += 2; break;
        case 't': dst[o++] = 9; i += 2; break;
        case 'u': {
            int cp = i + 6 <= n ? hex4(p + i + 2) : -1;
            if (cp < 0) fail_at(p + i, "invalid \\u escape, expected four hex digits");
            i += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                int lo = i + 6 <= n && p[i] == '\\' && p[i + 1] == 'u' ? hex4(p + i + 2) : -1;
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    i += 6;
                    o += (size_t)put_utf8(dst + o, 0x10000 + (((uint32_t)cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00));
                } else {
                    o += (size_t)put_utf8(dst + o, 0xFFFD);
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                o += (size_t)put_utf8(dst + o, 0xFFFD);
            } else {
                o += (size_t)put_utf8(dst + o, (uint32_t)cp);
            }
            break;
        }
        default: fail_at(p + i, "invalid escape sequence in a string");
        }
    }
    return o;
}

/* Skips one JSON value that is not a string we want; returns the byte after it. */
static const uint8_t *skip_value(const uint8_t *p) {
    int depth = 0;
    for (;;) {
        p = skip_ws(p);
        uint8_t c = *p;
        if (c == '"') {
            int esc;
            p = string_end(p, &esc) + 1;
        } else if (c == '{' || c == '[') {
            depth++;
            p++;
        } else if (c == '}' || c == ']') {
            if (depth == 0) return p;
            depth--;
            p++;
        } else if (c == '\n') {
            fail_at(p, "the line ends inside a value");
        } else if (c == ',' || c == ':') {
            if (depth == 0) return p;
            p++;
        } else {
            while (*p != ',' && *p != '}' && *p != ']' && *p != '\n' && *p != ' ' && *p != '\t' && *p != '\r' && *p != ':' && *p != '"')
                p++;
        }
        if (depth == 0) return p;
    }
}

/* A string field wanted by the scan: its body (between the quotes) and whether it has escapes. */
typedef struct { const uint8_t *p; size_t n; int esc, set; } Field;

/* Scans one line (p at its first byte); fills title and text; returns the byte after the newline. */
static const uint8_t *scan_line(const uint8_t *p, Field *title, Field *text, int *blank) {
    title->set = text->set = 0;
    p = skip_ws(p);
    if (*p == '\n') { *blank = 1; return p + 1; }
    *blank = 0;
    if (*p != '{') fail_at(p, "expected a JSON object ('{')");
    p = skip_ws(p + 1);
    if (*p == '}') goto done;
    for (;;) {
        if (*p != '"') fail_at(p, "expected a string key");
        int esc;
        const uint8_t *k = p + 1, *ke = string_end(p, &esc);
        size_t kn = (size_t)(ke - k);
        Field *want = NULL;
        if (kn == 4 && memcmp(k, "text", 4) == 0) want = text;
        else if (kn == 5 && memcmp(k, "title", 5) == 0) want = title;
        p = skip_ws(ke + 1);
        if (*p != ':') fail_at(p, "expected ':' after a key");
        p = skip_ws(p + 1);
        if (want && *p == '"') {
            const uint8_t *e = string_end(p, &want->esc);
            want->p = p + 1;
            want->n = (size_t)(e - p - 1);
            want->set = 1;
            p = e + 1;
        } else {
            if (want && !(p[0] == 'n' && p[1] == 'u' && p[2] == 'l' && p[3] == 'l'))
                fail_at(p, want == text ? "field \"text\" is not a string" : "field \"title\" is not a string or null");
            p = skip_value(p);
        }
        p = skip_ws(p);
        if (*p == ',') { p = skip_ws(p + 1); continue; }
        if (*p == '}') break;
        fail_at(p, "expected ',' or '}' in an object");
    }
done:
    p = skip_ws(p + 1);
    if (*p != '\n') fail_at(p, "text after the JSON object");
    return p + 1;
}

/* The decoded bytes of a field: in place when it has no escapes, else unescaped into `*buf`. */
static const uint8_t *field_bytes(const Field *f, uint8_t **buf, size_t *cap, size_t *n) {
    if (!f->esc) { *n = f->n; return f->p; }
    if (f->n + 16 > *cap) { *cap = 2 * f->n + 16; *buf = xrealloc(*buf, *cap); }
    *n = unescape(f->p, f->n, *buf);
    return *buf;
}

/* ------------------------------------------------------------------ phases */

static void worker_reset(Worker *w) {
    table_free(&w->tab);
    table_init(&w->tab, 1 << 14);
    w->ntouched = w->nnz = w->docs = 0;
    w->tokens = 0;
}

/* End to end: scan the JSON of this part, tokenize and count. */
static void count_raw(Worker *w) {
    const uint8_t *p = w->beg;
    while (p < w->end) {
        Field title, text;
        int blank;
        p = scan_line(p, &title, &text, &blank);
        if (blank) continue;
        size_t n;
        if (title.set) { const uint8_t *s = field_bytes(&title, &w->scratch, &w->scratch_cap, &n); tokenize(w, s, n); }
        if (text.set) { const uint8_t *s = field_bytes(&text, &w->scratch, &w->scratch_cap, &n); tokenize(w, s, n); }
        end_document(w);
    }
}

/* In-memory mode setup (not timed): the decoded title and text of every document of this part. */
static void decode_part(Worker *w) {
    w->arena_len = w->nspans = 0;
    const uint8_t *p = w->beg;
    while (p < w->end) {
        Field f[2];
        int blank;
        p = scan_line(p, &f[0], &f[1], &blank);
        if (blank) continue;
        for (int k = 0; k < 2; k++) {
            size_t n = f[k].set ? f[k].n : 0;
            if (w->arena_len + n + 16 > w->arena_cap) {
                w->arena_cap = 2 * (w->arena_len + n) + 4096;
                w->arena = xrealloc(w->arena, w->arena_cap);
            }
            size_t o = w->arena_len;
            if (f[k].set) n = f[k].esc ? unescape(f[k].p, f[k].n, w->arena + o) : (memcpy(w->arena + o, f[k].p, n), n);
            if (w->nspans == w->spans_cap) {
                w->spans_cap = w->spans_cap ? 2 * w->spans_cap : 8192;
                w->spans = xrealloc(w->spans, w->spans_cap * sizeof(Span));
            }
            w->spans[w->nspans++] = (Span){(uint32_t)o, (uint32_t)n};
            w->arena_len += n;
        }
    }
}

/* In memory: tokenize and count the decoded strings of this part. */
static void count_decoded(Worker *w) {
    for (size_t d = 0; d + 1 < w->nspans; d += 2) {
        tokenize(w, w->arena + w->spans[d].off, w->spans[d].len);
        tokenize(w, w->arena + w->spans[d + 1].off, w->spans[d + 1].len);
        end_document(w);
    }
}

/* Merge, partition `w->index`: every thread's terms whose hash falls in this partition go into one table;
 * then (after all partitions are done) this thread's rows are renumbered to merged ids. */
static void merge_and_renumber(Worker *w) {
    Table *pt = &g_parts[w->index];
    table_free(pt);
    table_init(pt, 1 << 14);
    for (int t = 0; t < g_threads; t++) {
        Worker *o = &g_workers[t];
        Table *s = &o->tab;
        for (uint32_t id = 0; id < s->count; id++) {
            uint64_t h = s->hash[id];
            if (part_of(h) != (unsigned)w->index) continue;
            const uint8_t *p = s->arena + s->off[id];
            uint32_t n = s->off[id + 1] - s->off[id];
            uint64_t pre = n >= 8 ? load64(p) : (n ? load64(p) & (~0ULL >> (64 - 8 * n)) : 0);
            int added;
            uint32_t g = table_intern(pt, p, n, h, pre, &added);
            pt->df[g] += s->df[id];
            o->map[id] = g;
        }
    }
    pthread_barrier_wait(&g_barrier);
    if (w->index == 0) {
        g_part_base[0] = 0;
        for (int t = 0; t < g_threads; t++) g_part_base[t + 1] = g_part_base[t] + g_parts[t].count;
    }
    pthread_barrier_wait(&g_barrier);
    Table *s = &w->tab;
    for (size_t k = 0; k < w->nnz; k++) {
        uint32_t id = w->row_idx[k];
        w->row_idx[k] = g_part_base[part_of(s->hash[id])] + w->map[id];
    }
}

static int g_mode;   /* 0 end to end, 1 in memory, 2 decode only */

static void *worker_main(void *arg) {
    Worker *w = arg;
    if (g_mode == 2) { decode_part(w); return NULL; }
    double t0 = now();
    worker_reset(w);
    if (g_mode == 0) count_raw(w); else count_decoded(w);
    w->t_count = now() - t0;
    if (g_threads > 1) {
        w->map = xrealloc(w->map, (w->tab.count + 1) * sizeof(uint32_t));
        pthread_barrier_wait(&g_barrier);
        double t1 = now();
        merge_and_renumber(w);
        w->t_merge = now() - t1;
    }
    return NULL;
}

/* Splits the input into g_threads parts at line starts. */
static void split(void) {
    size_t start = 0;
    for (int t = 0; t < g_threads; t++) {
        size_t end = t + 1 == g_threads ? g_in.len : (g_in.len * (size_t)(t + 1)) / (size_t)g_threads;
        if (end <= start) end = start;
        else while (end < g_in.len && g_in.buf[end - 1] != '\n') end++;
        g_workers[t].beg = g_in.buf + start;
        g_workers[t].end = g_in.buf + end;
        start = end;
    }
}

static void run_threads(int mode) {
    g_mode = mode;
    if (g_threads == 1) { worker_main(&g_workers[0]); return; }
    pthread_t th[MAX_THREADS];
    pthread_barrier_init(&g_barrier, NULL, (unsigned)g_threads);
    for (int t = 1; t < g_threads; t++) pthread_create(&th[t], NULL, worker_main, &g_workers[t]);
    worker_main(&g_workers[0]);
    for (int t = 1; t < g_threads; t++) pthread_join(th[t], NULL);
    pthread_barrier_destroy(&g_barrier);
}

typedef struct { uint64_t docs, tokens, terms, nnz, checksum, text_bytes; } Summary;

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33; x *= 0xFF51AFD7ED558CCDULL; x ^= x >> 33; x *= 0xC4CEB9FE1A85EC53ULL; x ^= x >> 33;
    return x;
}

static Summary summarize(void) {
    Summary s = {0};
    int nt = g_threads > 1 ? g_threads : 1;
    for (int t = 0; t < g_threads; t++) {
        s.docs += g_workers[t].docs;
        s.tokens += g_workers[t].tokens;
        s.nnz += g_workers[t].nnz;
    }
    for (int t = 0; t < nt; t++) {
        Table *tab = g_threads > 1 ? &g_parts[t] : &g_workers[0].tab;
        s.terms += tab->count;
        for (uint32_t id = 0; id < tab->count; id++) s.checksum += mix64(tab->hash[id] ^ ((uint64_t)tab->df[id] << 1));
    }
    return s;
}

static void usage(void) {
    fprintf(stderr, "usage: cref [-t THREADS] [-r REPEAT] [--tokenizer sklearn|words] [--json] [--dump | --vocab] FILE.jsonl...\n");
    exit(64);
}

int main(int argc, char **argv) {
    int repeat = 3, json = 0, dump = 0, vocab = 0, min_len = 2;
    const char *tokenizer = "sklearn";
    char *files[256];
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-t") && i + 1 < argc) g_threads = atoi(argv[++i]);
        else if (!strcmp(a, "-r") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!strcmp(a, "--tokenizer") && i + 1 < argc) {
            tokenizer = argv[++i];
            if (!strcmp(tokenizer, "sklearn")) min_len = 2;
            else if (!strcmp(tokenizer, "words")) min_len = 1;
            else usage();
        } else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--dump")) dump = 1;
        else if (!strcmp(a, "--vocab")) vocab = 1;
        else if (a[0] == '-' && a[1]) usage();
        else if (nfiles < 256) files[nfiles++] = argv[i];
        else usage();
    }
    if (nfiles == 0 || g_threads < 1 || g_threads > MAX_THREADS || repeat < 1) usage();
    if (dump) { g_threads = 1; repeat = 1; }
    for (int b = 0; b < 128; b++) {
        int word = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b == '_';
        ascii_word[b] = word ? (uint8_t)((b >= 'A' && b <= 'Z') ? b | 0x20 : b) : 0;
    }
    g_in.paths = files;
    g_in.nfiles = nfiles;
    for (int t = 0; t < g_threads; t++) {
        g_workers[t].index = t;
        g_workers[t].min_len = min_len;
        g_workers[t].dump = dump;
        table_init(&g_workers[t].tab, 16);
    }
    for (int t = 0; t < MAX_THREADS; t++) table_init(&g_parts[t], 16);

    /* End to end, best of `repeat`: read + scan + tokenize + count + merge. */
    double best_e2e = 1e30, best_e2e_count = 0, best_e2e_merge = 0, best_read = 0;
    Summary first = {0};
    for (int r = 0; r < repeat; r++) {
        double t0 = now();
        input_read(&g_in);
        double t1 = now();
        split();
        run_threads(0);
        double t2 = now();
        if (t2 - t0 < best_e2e) {
            best_e2e = t2 - t0;
            best_read = t1 - t0;
            best_e2e_count = 0;
            best_e2e_merge = 0;
            for (int t = 0; t < g_threads; t++) {
                if (g_workers[t].t_count > best_e2e_count) best_e2e_count = g_workers[t].t_count;
                if (g_workers[t].t_merge > best_e2e_merge) best_e2e_merge = g_workers[t].t_merge;
            }
        }
        if (r == 0) first = summarize();
    }
    if (dump) return 0;
    if (vocab) {
        int nt = g_threads > 1 ? g_threads : 1;
        for (int t = 0; t < nt; t++) {
            Table *tab = g_threads > 1 ? &g_parts[t] : &g_workers[0].tab;
            for (uint32_t id = 0; id < tab->count; id++) {
                fwrite(tab->arena + tab->off[id], 1, tab->off[id + 1] - tab->off[id], stdout);
                printf("\t%u\n", tab->df[id]);
            }
        }
        return 0;
    }

    /* In memory, best of `repeat`: tokenize + count + merge of strings decoded beforehand (not timed). */
    run_threads(2);
    uint64_t text_bytes = 0;
    for (int t = 0; t < g_threads; t++)
        for (size_t k = 0; k < g_workers[t].nspans; k++) text_bytes += g_workers[t].spans[k].len + (k % 2 == 0);
    double best_mem = 1e30, best_mem_count = 0, best_mem_merge = 0;
    for (int r = 0; r < repeat; r++) {
        double t0 = now();
        run_threads(1);
        double t1 = now();
        if (t1 - t0 < best_mem) {
            best_mem = t1 - t0;
            best_mem_count = best_mem_merge = 0;
            for (int t = 0; t < g_threads; t++) {
                if (g_workers[t].t_count > best_mem_count) best_mem_count = g_workers[t].t_count;
                if (g_workers[t].t_merge > best_mem_merge) best_mem_merge = g_workers[t].t_merge;
            }
        }
    }
    Summary s = summarize();
    if (s.docs != first.docs || s.tokens != first.tokens || s.terms != first.terms || s.nnz != first.nnz ||
        s.checksum != first.checksum) {
        fprintf(stderr, "cref: internal error: the end-to-end and in-memory runs disagree\n");
        return 70;
    }
    double file_mb = g_in.len / 1e6, text_mb = text_bytes / 1e6;
    if (json) {
        printf("{\"threads\":%d,\"tokenizer\":\"%s\",\"repeat\":%d,\"unicode\":\"%s\",\"file_bytes\":%zu,\"text_bytes\":%llu,"
               "\"docs\":%llu,\"tokens\":%llu,\"terms\":%llu,\"nnz\":%llu,\"checksum\":\"%016llx\","
               "\"e2e_s\":%.6f,\"e2e_read_s\":%.6f,\"e2e_count_s\":%.6f,\"e2e_merge_s\":%.6f,"
               "\"mem_s\":%.6f,\"mem_count_s\":%.6f,\"mem_merge_s\":%.6f}\n",
               g_threads, tokenizer, repeat, CREF_UNICODE_VERSION, g_in.len, (unsigned long long)text_bytes,
               (unsigned long long)s.docs, (unsigned long long)s.tokens, (unsigned long long)s.terms,
               (unsigned long long)s.nnz, (unsigned long long)s.checksum, best_e2e, best_read, best_e2e_count,
               best_e2e_merge, best_mem, best_mem_count, best_mem_merge);
    } else {
        printf("files       %.1f MB (%d), text %.1f MB (title + newline + text, decoded), %llu documents\n", file_mb, nfiles,
               text_mb, (unsigned long long)s.docs);
        printf("checksum    %llu tokens, %llu distinct terms, %llu non-zeros, sum %016llx (tokenizer %s, Unicode %s)\n",
               (unsigned long long)s.tokens, (unsigned long long)s.terms, (unsigned long long)s.nnz,
               (unsigned long long)s.checksum, tokenizer, CREF_UNICODE_VERSION);
        printf("end to end  %.4f s  %.0f MB/s of file, %.0f docs/s  (read %.4f s, scan + tokenize + count %.4f s, merge %.4f s; %d thread%s, best of %d)\n",
               best_e2e, file_mb / best_e2e, s.docs / best_e2e, best_read, best_e2e_count, best_e2e_merge, g_threads,
               g_threads > 1 ? "s" : "", repeat);
        printf("in memory   %.4f s  %.0f MB/s of text, %.0f docs/s  (tokenize + count %.4f s, merge %.4f s)\n", best_mem,
               text_mb / best_mem, s.docs / best_mem, best_mem_count, best_mem_merge);
    }
    return 0;
}
