// Unsafe: reads term runs and keeps per-posting counts through raw pointers; the term walker pads every term with 8 readable bytes, counters are reserved before each run, and a weighted row is written to a range sized to the row.

import Foundation

/// A document-frequency bound: an absolute count of documents or a fraction of them (as scikit-learn's
/// `min_df`/`max_df`: an integer is a count, a float a proportion).
public enum DocumentFrequencyBound: Sendable, Equatable, Codable, CustomStringConvertible {
    /// At least / at most this many documents.
    case count(Int)
    /// At least / at most this fraction of documents, in [0, 1].
    case fraction(Double)

    /// The bound as a document count for a corpus of `n` documents.
    func documents(of n: Int) -> Double {
        switch self {
        case .count(let c): return Double(c)
        case .fraction(let f): return f * Double(n)
        }
    }

    /// Parses "5" (a count) or "0.5" / "1.0" (a fraction).
    public static func parse(_ s: String) -> DocumentFrequencyBound? {
        if !s.contains("."), let c = Int(s), c >= 0 { return .count(c) }
        if let f = Double(s), f >= 0, f <= 1 { return .fraction(f) }
        return nil
    }

    /// Encoded as a string ("2" = count, "1.0" = fraction), so JSON keeps the distinction.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let v = DocumentFrequencyBound.parse(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "bad document-frequency bound '\(s)'")
        }
        self = v
    }

    /// Encodes as a string, see `init(from:)`.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    /// "5" or "0.5".
    public var description: String {
        switch self {
        case .count(let c): return String(c)
        case .fraction(let f): return String(f)
        }
    }
}

/// How the title enters the features.
public enum TitleMode: String, Sendable, Equatable, Codable, CaseIterable {
    /// `title + "\n" + text`, one token stream (scikit-learn compatible).
    case concatenate
    /// Title tokens form their own features, prefixed `title:`, their tf multiplied by `titleWeight`.
    case namespace
}

/// TF-IDF hyper-parameters (nothing fitted).
public struct VectorizerConfig: Sendable, Equatable, Codable {
    /// Tokenizer settings.
    public var tokenizer: TokenizerConfig
    /// Largest word n-gram (1 = unigrams, 2 = unigrams and bigrams).
    public var ngrams: Int
    /// How the title is used.
    public var titleMode: TitleMode
    /// Multiplier of title features' tf (after the sublinear transform) in `.namespace` mode.
    public var titleWeight: Float
    /// Terms in fewer documents are dropped.
    public var minDF: DocumentFrequencyBound
    /// Terms in more documents are dropped.
    public var maxDF: DocumentFrequencyBound
    /// Keep only the terms with the highest corpus frequency (nil = all).
    public var maxFeatures: Int?
    /// Use `1 + ln(tf)` instead of `tf`.
    public var sublinearTF: Bool
    /// Seniority cue groups added as `cue:` features (see `CueExtractor`); empty = none.
    public var cues: [CueGroup]
    /// Multiplier of cue features' tf (each cue counts once per posting).
    public var cueWeight: Float
    /// Normalise the title's features (`title:` terms and the title's cues) and the body's to unit length
    /// each, instead of the whole row: the title and body experts see rows of their own (see `Experts`).
    public var separateTitleNorm: Bool

    // Key names that survive the manifest's snake_case conversion both ways ("min_df", "sublinear_tf").
    private enum CodingKeys: String, CodingKey {
        case tokenizer, ngrams, titleMode, titleWeight, maxFeatures, cues, cueWeight, separateTitleNorm
        case minDF = "minDf", maxDF = "maxDf", sublinearTF = "sublinearTf"
    }

    /// scikit-learn's `TfidfVectorizer()` defaults, with the title concatenated before the text.
    public static let sklearn = VectorizerConfig(
        tokenizer: .sklearn, ngrams: 1, titleMode: .concatenate, titleWeight: 1,
        minDF: .count(1), maxDF: .fraction(1.0), maxFeatures: nil, sublinearTF: false)

    /// Creates a configuration.
    public init(tokenizer: TokenizerConfig, ngrams: Int, titleMode: TitleMode, titleWeight: Float,
                minDF: DocumentFrequencyBound, maxDF: DocumentFrequencyBound, maxFeatures: Int?,
                sublinearTF: Bool, cues: [CueGroup] = [], cueWeight: Float = 1, separateTitleNorm: Bool = false) {
        self.tokenizer = tokenizer
        self.ngrams = ngrams
        self.titleMode = titleMode
        self.titleWeight = titleWeight
        self.minDF = minDF
        self.maxDF = maxDF
        self.maxFeatures = maxFeatures
        self.sublinearTF = sublinearTF
        self.cues = cues
        self.cueWeight = cueWeight
        self.separateTitleNorm = separateTitleNorm
    }

    /// Decodes a configuration; bundles written before cue features existed have none.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tokenizer = try c.decode(TokenizerConfig.self, forKey: .tokenizer)
        ngrams = try c.decode(Int.self, forKey: .ngrams)
        titleMode = try c.decode(TitleMode.self, forKey: .titleMode)
        titleWeight = try c.decode(Float.self, forKey: .titleWeight)
        minDF = try c.decode(DocumentFrequencyBound.self, forKey: .minDF)
        maxDF = try c.decode(DocumentFrequencyBound.self, forKey: .maxDF)
        maxFeatures = try c.decodeIfPresent(Int.self, forKey: .maxFeatures)
        sublinearTF = try c.decode(Bool.self, forKey: .sublinearTF)
        cues = try c.decodeIfPresent([CueGroup].self, forKey: .cues) ?? []
        cueWeight = try c.decodeIfPresent(Float.self, forKey: .cueWeight) ?? 1
        separateTitleNorm = try c.decodeIfPresent(Bool.self, forKey: .separateTitleNorm) ?? false
    }

    /// Encodes every setting; `separate_title_norm` only when set, so bundles without it stay as they were.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tokenizer, forKey: .tokenizer)
        try c.encode(ngrams, forKey: .ngrams)
        try c.encode(titleMode, forKey: .titleMode)
        try c.encode(titleWeight, forKey: .titleWeight)
        try c.encode(minDF, forKey: .minDF)
        try c.encode(maxDF, forKey: .maxDF)
        try c.encodeIfPresent(maxFeatures, forKey: .maxFeatures)
        try c.encode(sublinearTF, forKey: .sublinearTF)
        try c.encode(cues, forKey: .cues)
        try c.encode(cueWeight, forKey: .cueWeight)
        if separateTitleNorm { try c.encode(separateTitleNorm, forKey: .separateTitleNorm) }
    }
}

/// Error raised when fitting cannot produce a vocabulary.
public struct EmptyVocabularyError: Error, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable {
        /// `maxDF` allows fewer documents than `minDF`: the settings contradict each other.
        case conflictingBounds
        /// The bounds removed every term of this corpus.
        case prunedEverything
        /// No document has any token.
        case noTokens
    }
    /// What went wrong.
    public var kind: Kind
    /// Why, with the fix.
    public var description: String
    /// Terms before pruning (`prunedEverything`).
    public var terms = 0
}

/// Walks the terms (tokens and n-grams, with the title namespace and cue features) of postings.
struct TermWalker {
    var tokenizer: Tokenizer
    let config: VectorizerConfig
    private var tokens = TokenList()
    private var titleTokens = TokenList()
    private var scratch = [UInt8]()
    /// Cue extraction, when the configuration asks for cues.
    private let cueExtractor: CueExtractor?
    /// Cues read lowercased tokens of any length; the main tokens serve when they are the same.
    private var cueTokenizer: Tokenizer?
    private var cueText = TokenList(), cueTitle = TokenList()
    /// The words cues read from the text (kept between postings for their capacity).
    private var cueWords = CueWords()
    /// Terms built from tokens (title terms, n-grams, cues) of the current posting.
    private var built = TokenList()
    /// Prefix of title features in namespace mode ("title:" cannot occur in a token).
    static let titlePrefix = Array("title:".utf8)
    /// Prefix of cue features ("cue:" cannot occur in a token).
    static let cuePrefix = Array("cue:".utf8)

    init(_ config: VectorizerConfig) {
        self.config = config
        self.tokenizer = Tokenizer(config.tokenizer)
        self.cueExtractor = config.cues.isEmpty ? nil : CueExtractor(config.cues)
        let cueConfig = TokenizerConfig(lowercase: true, minTokenLength: 1)
        let reuse = config.titleMode == .namespace && config.tokenizer == cueConfig
        self.cueTokenizer = config.cues.isEmpty || reuse ? nil : Tokenizer(cueConfig)
    }

    /// Terms of `posting` in runs: `body(base, starts, ends, count)` is called once or more per group (the
    /// text's words, then the terms built from them: title terms, n-grams, cues) and term `i` of a run is
    /// `base[starts[i]..<ends[i]]`, valid only during the call. Every term has at least 8 readable bytes
    /// after it (`TermTable.hashAndPrefixPadded` may read them). The caller's loop over a run is not a call
    /// per term. The terms come in the same order however they are cut into runs.
    mutating func forEachTermRun(_ posting: Posting, _ body: TermRunBody) {
        titleTokens.removeAll()
        tokens.removeAll()
        built.removeAll()
        // The text's terms are handed over a segment at a time; cues read from the same tokens gather their
        // words (3 bytes a token) as they pass.
        var words: CueWords? = cueExtractor != nil && cueTokenizer == nil ? takeWords() : nil
        switch config.titleMode {
        case .concatenate:
            tokenizer.tokenize(posting.title, into: &tokens)
            tokenizeText(posting.text, words: &words, body)
        case .namespace:
            tokenizeText(posting.text, words: &words, body)
            if !posting.title.isEmpty {
                tokenizer.tokenize(posting.title, into: &titleTokens)
                emit(titleTokens, prefix: TermWalker.titlePrefix, body)
            }
        }
        if let cueExtractor {
            let names: [String]
            if var textWords = words {
                textWords.append(tokens)  // the tokens not streamed
                names = cueExtractor.cues(title: titleTokens, textWords: textWords)
                cueWords = textWords
            } else {
                var textWords = takeWords()
                cueText.removeAll()
                cueTitle.removeAll()
                posting.text.withUnsafeBufferPointer { text in
                    cueTokenizer?.tokenize(text, into: &cueText, stream: true) { textWords.append($0) }
                }
                textWords.append(cueText)
                cueTokenizer?.tokenize(posting.title, into: &cueTitle)
                names = cueExtractor.cues(title: cueTitle, textWords: textWords)
                cueWords = textWords
            }
            for name in names { built.appendTerm(prefix: [], name.utf8) }
        }
        TermWalker.run(built, body)
    }

    /// The cue words' buffers, emptied (they are handed back to `cueWords` when done, to keep their capacity).
    private mutating func takeWords() -> CueWords {
        var w = cueWords
        cueWords = CueWords()
        w.removeAll()
        return w
    }

    /// Tokenizes `text` after the tokens already in `tokens` and hands their terms to `body`, a segment of the
    /// text at a time (so a long text never has all its tokens, or n-grams, in memory): the words, or with
    /// n-grams the n-grams completed so far (the last tokens carried over to the next segment). Words go to
    /// `words` too. The tokens left at the end stay in `tokens` (for cues).
    private mutating func tokenizeText(_ text: [UInt8], words: inout CueWords?, _ body: TermRunBody) {
        let ngrams = config.ngrams
        // Moved out of `self` while the tokenizer writes `tokens`.
        var carry = TokenList(), grams = built, scratch = self.scratch
        built = TokenList()
        text.withUnsafeBufferPointer { text in
            tokenizer.tokenize(text, into: &tokens, stream: true) { list in
                words?.append(list)
                if ngrams <= 1 {
                    TermWalker.run(list, body)
                    return
                }
                grams.removeAll()
                TermWalker.appendGrams(carry, list, ngrams: ngrams, prefix: [], final: false, scratch: &scratch, into: &grams)
                TermWalker.run(grams, body)
                let previous = carry
                TermWalker.keepLast(ngrams - 1, of: previous, list, into: &carry)
            }
        }
        if ngrams <= 1 {
            TermWalker.run(tokens, body)
        } else {
            grams.removeAll()
            TermWalker.appendGrams(carry, tokens, ngrams: ngrams, prefix: [], final: true, scratch: &scratch, into: &grams)
            TermWalker.run(grams, body)
            grams.removeAll()
        }
        built = grams
        self.scratch = scratch
    }

    /// Calls `body` with the terms of `list` as one run (nothing when it is empty).
    private static func run(_ list: TokenList, _ body: TermRunBody) {
        if list.count == 0 { return }
        withUnsafePointers(list.bytes, list.starts, list.ends) { body($0, $1, $2, list.count) }
    }

    /// The terms of `tokens`: with unigrams and no prefix the tokens themselves (one run, no copy); otherwise
    /// each term (prefix, then up to `ngrams` tokens joined by spaces) is built into `built`.
    private mutating func emit(_ tokens: TokenList, prefix: [UInt8], _ body: TermRunBody) {
        if tokens.count == 0 { return }
        if config.ngrams <= 1 && prefix.isEmpty {
            TermWalker.run(tokens, body)
            return
        }
        TermWalker.appendGrams(TokenList(), tokens, ngrams: config.ngrams, prefix: prefix, final: true, scratch: &scratch, into: &built)
    }

    /// Appends to `out` the terms (`prefix`, then 1 to `ngrams` tokens joined by spaces) that start in the
    /// token sequence `a` then `b`, by start and then length: all of them when `final`, else those whose every
    /// term ends within the sequence (the last `ngrams - 1` starts wait for the tokens that follow).
    static func appendGrams(_ a: TokenList, _ b: TokenList, ngrams: Int, prefix: [UInt8], final: Bool,
                            scratch: inout [UInt8], into out: inout TokenList) {
        let maxN = max(1, ngrams), n = a.count + b.count
        let starts = final ? n : max(0, n - (maxN - 1))
        for i in 0..<starts {
            for g in 1...maxN where i + g <= n {
                scratch.removeAll(keepingCapacity: true)
                for t in i..<(i + g) {
                    if t > i { scratch.append(0x20) }
                    if t < a.count { scratch.append(contentsOf: a.bytes[a.range(t)]) } else { scratch.append(contentsOf: b.bytes[b.range(t - a.count)]) }
                }
                out.appendTerm(prefix: prefix, scratch)
            }
        }
    }

    /// The last `count` tokens of the sequence `a` then `b`, copied into `out` (emptied first).
    static func keepLast(_ count: Int, of a: TokenList, _ b: TokenList, into out: inout TokenList) {
        var kept = TokenList()
        let n = a.count + b.count
        for t in max(0, n - count)..<n {
            if t < a.count { kept.appendTerm(prefix: [], a.bytes[a.range(t)]) } else { kept.appendTerm(prefix: [], b.bytes[b.range(t - a.count)]) }
        }
        out = kept
    }
}

/// The body of `TermWalker.forEachTermRun`: base pointer, term starts, term ends, number of terms.
typealias TermRunBody = (UnsafePointer<UInt8>, UnsafePointer<Int>, UnsafePointer<Int>, Int) -> Void

/// Per-document term counts without sorting or hashing: a dense counter per id and the ids seen, in
/// first-seen order, each with a flag bit. Ids index `counts`, which `reserve` grows.
struct DocumentCounter {
    private var counts: [Int32] = []
    private var touched: [UInt32] = []
    private var touchedCount = 0

    /// Makes room for ids below `ids` and for `more` newly seen ids.
    mutating func reserve(ids: Int, more: Int) {
        if ids > counts.count { counts.append(contentsOf: repeatElement(0, count: max(ids, 2 * counts.count) - counts.count)) }
        if touchedCount + more > touched.count {
            touched.append(contentsOf: repeatElement(0, count: max(touchedCount + more, 2 * touched.count) - touched.count))
        }
    }

    /// Gives `body` an adder: `add(id, flag)` counts one occurrence of `id` (below the reserved ids, at most
    /// the reserved number of new ones); `flag` is kept with an id's first occurrence.
    @inline(__always)
    mutating func withAdder(_ body: ((Int32, Bool) -> Void) -> Void) {
        var seen = touchedCount
        withUnsafeMutablePointers(&counts, &touched) { counts, touched in
            body { id, flag in
                let i = Int(id)
                if counts[i] == 0 {
                    touched[seen] = UInt32(bitPattern: id) | (flag ? 1 << 31 : 0)
                    seen += 1
                }
                counts[i] &+= 1
            }
        }
        touchedCount = seen
    }

    /// Calls `body(id, count, flag)` for the ids counted since the last drain (first-seen order) and resets.
    mutating func drain(_ body: (Int32, Int32, Bool) -> Void) {
        for k in 0..<touchedCount {
            let entry = touched[k], id = Int32(bitPattern: entry & 0x7FFF_FFFF)
            body(id, counts[Int(id)], entry >> 31 != 0)
            counts[Int(id)] = 0
        }
        touchedCount = 0
    }
}

/// Per-document term counts for ids from a large vocabulary: a small open-addressing map (it stays in the
/// L1 cache whatever the vocabulary size), cleared entry by entry after each document.
struct SparseCounter {
    private var keys = [Int32](repeating: -1, count: 1024)
    private var counts = [Int32](repeating: 0, count: 1024)
    private var used: [Int32] = []

    /// Counts one occurrence of `id` (≥ 0).
    @inline(__always)
    mutating func add(_ id: Int32) {
        var mask = keys.count - 1
        if used.count * 2 >= keys.count {
            grow()
            mask = keys.count - 1
        }
        var s = Int(truncatingIfNeeded: UInt32(bitPattern: id) &* 0x9E37_79B1) & mask
        while true {
            let k = keys[s]
            if k == id { counts[s] &+= 1; return }
            if k < 0 {
                keys[s] = id
                counts[s] = 1
                used.append(Int32(s))
                return
            }
            s = (s + 1) & mask
        }
    }

    private mutating func grow() {
        let entries = used.map { (keys[Int($0)], counts[Int($0)]) }
        let size = keys.count * 2
        keys = [Int32](repeating: -1, count: size)
        counts = [Int32](repeating: 0, count: size)
        used.removeAll(keepingCapacity: true)
        for (k, c) in entries {
            add(k)
            counts[Int(used[used.count - 1])] = c
        }
    }

    /// Calls `body(id, count)` for the ids counted since the last drain (first-seen order) and resets.
    mutating func drain(_ body: (Int32, Int32) -> Void) {
        for s in used {
            let i = Int(s)
            body(keys[i], counts[i])
            keys[i] = -1
        }
        used.removeAll(keepingCapacity: true)
    }
}

/// Per-document counts keyed by the term itself for terms of up to 8 bytes (its zero-padded bytes and
/// length): a term that occurs again in the same posting costs one probe of this small (cache-resident) map
/// instead of a vocabulary lookup. Each distinct term's column is looked up once, by `resolve`, for all the
/// terms first seen since the last call together (independent lookups overlap their cache misses); unknown
/// terms are remembered too.
struct ShortTermCounts {
    /// Per slot: the term's first 8 bytes, and `length << 56 | (column + 1)` (0 = empty; the column part
    /// is 0 until resolved, and for a term not in the vocabulary).
    private var keys = [UInt64](repeating: 0, count: 1024)
    private var info = [UInt64](repeating: 0, count: 1024)
    /// Per slot: the term's count.
    private var counts = [UInt32](repeating: 0, count: 1024)
    /// Slots in first-seen order: `used[0..<usedCount]`; those from `resolvedCount` on have no column yet.
    private var used = [Int32](repeating: 0, count: 512)
    private var usedCount = 0
    private var resolvedCount = 0
    /// Scratch for `resolve`: hashes, and the terms the hot table does not hold.
    private var hashes: [UInt64] = []
    private var misses: [Int32] = []

    /// Makes room for `more` new terms (the table stays at most half full).
    mutating func reserve(more: Int) {
        while (usedCount + more) * 2 > keys.count { grow() }
        if usedCount + more > used.count {
            used.append(contentsOf: repeatElement(0, count: max(usedCount + more, 2 * used.count) - used.count))
        }
    }

    /// Gives `body` an adder for at most the reserved number of new terms: `add(prefix, n)` counts one
    /// occurrence of the term (`n` ≤ 8 bytes, `prefix` its zero-padded bytes).
    @inline(__always)
    mutating func withAdder(_ body: ((UInt64, Int) -> Void) -> Void) {
        var seen = usedCount
        let mask = keys.count - 1
        withUnsafeMutablePointers(&keys, &info, &used) { keys, info, used in
            counts.withUnsafeMutableBufferPointer { countsBuffer in
                let counts = countsBuffer.baseAddress!
                body { prefix, n in
                    let tag = UInt64(truncatingIfNeeded: n) &<< 56
                    var s = Int(truncatingIfNeeded: ((prefix ^ tag) &* 0x9E37_79B9_7F4A_7C15) &>> 40) & mask
                    while true {
                        let v = info[s]
                        if v == 0 {
                            keys[s] = prefix
                            info[s] = tag
                            counts[s] = 1
                            used[seen] = Int32(truncatingIfNeeded: s)
                            seen += 1
                            return
                        }
                        if v & 0xFF00_0000_0000_0000 == tag && keys[s] == prefix {
                            counts[s] &+= 1
                            return
                        }
                        s = (s &+ 1) & mask
                    }
                }
            }
        }
        usedCount = seen
    }

    /// Finds the columns of the terms first seen since the last call: in `hot`, else in `vocabulary`.
    mutating func resolve(hot: HotTerms, vocabulary: TermTable) {
        let from = resolvedCount, m = usedCount - from
        if m <= 0 { return }
        resolvedCount = usedCount
        if hashes.count < m { growUninitialized(&hashes, to: m, keep: 0) }
        if misses.count < m { growUninitialized(&misses, to: m, keep: 0) }
        withUnsafeMutablePointers(&info, &hashes, &misses) { info, hashes, misses in
            withUnsafePointers(keys, used) { keys, used in
                // Separate loops, each of independent lookups: the processor runs ahead through the next
                // iterations while a slot is fetched, so the cache misses overlap instead of adding up.
                for k in 0..<m {
                    let s = Int(used[from + k])
                    hashes[k] = TermTable.hashShort(keys[s], Int(info[s] >> 56))
                }
                var missCount = 0
                for k in 0..<m {
                    let s = Int(used[from + k]), n = Int(info[s] >> 56)
                    let column = hot.column(emptyBytePointer, n, hash: hashes[k], prefix: keys[s])
                    if column >= 0 {
                        info[s] |= UInt64(UInt32(bitPattern: column &+ 1))
                    } else {
                        misses[missCount] = Int32(truncatingIfNeeded: k)
                        missCount += 1
                    }
                }
                for j in 0..<missCount {
                    let k = Int(misses[j]), s = Int(used[from + k]), n = Int(info[s] >> 56)
                    let column = vocabulary.lookupShort(keys[s], n, hash: hashes[k])
                    info[s] |= UInt64(UInt32(bitPattern: column &+ 1))
                }
            }
        }
    }

    private mutating func grow() {
        let entries = used[0..<usedCount].map { (keys[Int($0)], info[Int($0)], counts[Int($0)]) }
        let size = keys.count * 2
        keys = [UInt64](repeating: 0, count: size)
        info = [UInt64](repeating: 0, count: size)
        counts = [UInt32](repeating: 0, count: size)
        let mask = size - 1
        for (e, (k, v, c)) in entries.enumerated() {
            var s = Int(truncatingIfNeeded: ((k ^ (v & 0xFF00_0000_0000_0000)) &* 0x9E37_79B9_7F4A_7C15) >> 40) & mask
            while info[s] != 0 { s = (s + 1) & mask }
            keys[s] = k
            info[s] = v
            counts[s] = c
            used[e] = Int32(s)
        }
    }

    /// Calls `body(column, count)` for the known terms counted since the last drain (first-seen order) and
    /// resets; `resolve` must have run since the last `add`.
    mutating func drain(_ body: (Int32, Int32) -> Void) {
        for k in 0..<usedCount {
            let s = Int(used[k])
            let column = Int32(bitPattern: UInt32(truncatingIfNeeded: info[s])) &- 1
            if column >= 0 { body(column, Int32(bitPattern: counts[s])) }
            info[s] = 0
        }
        usedCount = 0
        resolvedCount = 0
    }
}

/// The counts of one posting's terms, by column, as the transform finds them: terms of up to 8 bytes in a
/// `ShortTermCounts` (one vocabulary lookup per distinct term, at the end), longer ones looked up as they
/// come, a batch at a time, and counted in a `SparseCounter`.
struct PostingTermCounts {
    /// The vectorizer's tables, held here so that counting a run copies nothing (passing the vectorizer to
    /// every run retained each of its arrays).
    private let hot: HotTerms
    private let vocabulary: TermTable
    private var short = ShortTermCounts()
    private var long = SparseCounter()
    /// Scratch for a batch of long terms: their token numbers, hashes, prefixes and columns.
    private var longTokens = [Int32](repeating: 0, count: PostingTermCounts.batch)
    private var longHashes = [UInt64](repeating: 0, count: PostingTermCounts.batch)
    private var longPrefixes = [UInt64](repeating: 0, count: PostingTermCounts.batch)
    private var longColumns = [Int32](repeating: 0, count: PostingTermCounts.batch)

    /// Terms per batch: bounds the per-posting table's growth for one run, and the scratch.
    static let batch = 256

    /// Counts for the terms of `vectorizer`.
    init(_ vectorizer: TfidfVectorizer) {
        hot = vectorizer.hotTerms
        vocabulary = vectorizer.vocabulary
    }

    /// Counts the terms of one run (see `TermWalker.forEachTermRun`).
    mutating func add(_ base: UnsafePointer<UInt8>, _ starts: UnsafePointer<Int>, _ ends: UnsafePointer<Int>, _ count: Int) {
        var lo = 0
        while lo < count {
            let hi = min(count, lo + PostingTermCounts.batch)
            short.reserve(more: hi - lo)
            var longCount = 0
            longTokens.withUnsafeMutableBufferPointer { longTokensBuffer in
                let longTokens = longTokensBuffer.baseAddress!
                short.withAdder { add in
                    for t in lo..<hi {
                        let p = base + starts[t], n = ends[t] - starts[t]
                        if n <= 8 {
                            // The masked 8-byte load is the term's zero-padded bytes (the walker pads every term).
                            let prefix = n == 0 ? 0 : UnsafeRawPointer(p).loadUnaligned(as: UInt64.self) & (~UInt64(0) &>> UInt64(truncatingIfNeeded: 64 &- 8 &* n))
                            add(prefix, n)
                        } else {
                            longTokens[longCount] = Int32(truncatingIfNeeded: t)
                            longCount += 1
                        }
                    }
                }
            }
            if longCount > 0 { addLong(base, starts, ends, longCount) }
            lo = hi
        }
    }

    /// Looks up the batch's `count` long terms (hashes, then the hot table, then the vocabulary for the rest,
    /// each in a loop of its own so that their cache misses overlap) and counts the known ones, in order.
    private mutating func addLong(_ base: UnsafePointer<UInt8>, _ starts: UnsafePointer<Int>, _ ends: UnsafePointer<Int>, _ count: Int) {
        withUnsafeMutablePointers(&longHashes, &longPrefixes, &longColumns) { hashes, prefixes, columns in
            longTokens.withUnsafeBufferPointer { tokensBuffer in
                let tokens = tokensBuffer.baseAddress!
                for k in 0..<count {
                    let t = Int(tokens[k])
                    (hashes[k], prefixes[k]) = TermTable.hashAndPrefixPadded(base + starts[t], ends[t] - starts[t])
                }
                var missing = false
                for k in 0..<count {
                    let t = Int(tokens[k])
                    columns[k] = hot.column(base + starts[t], ends[t] - starts[t], hash: hashes[k], prefix: prefixes[k])
                    if columns[k] < 0 { missing = true }
                }
                if missing {
                    for k in 0..<count where columns[k] < 0 {
                        let t = Int(tokens[k])
                        columns[k] = vocabulary.lookup(base + starts[t], ends[t] - starts[t], hash: hashes[k], prefix: prefixes[k])
                    }
                }
                for k in 0..<count where columns[k] >= 0 { long.add(columns[k]) }
            }
        }
    }

    /// Calls `body(column, count)` for the posting's known terms — terms of up to 8 bytes, then longer ones,
    /// each in first-seen order — and resets for the next posting.
    mutating func drain(_ body: (Int32, Int32) -> Void) {
        short.resolve(hot: hot, vocabulary: vocabulary)
        short.drain(body)
        long.drain(body)
    }
}

/// A fitted TF-IDF vectorizer: vocabulary (sorted by term bytes, as scikit-learn's) and idf weights.
///
/// `tfidf(t, d) = tf(t, d) · idf(t)`, `idf(t) = ln((1 + n) / (1 + df(t))) + 1` (smooth idf), with
/// `tf` replaced by `1 + ln(tf)` when `sublinearTF`, title features' tf multiplied by `titleWeight`
/// (namespace mode), cue features' tf by `cueWeight`, and each row scaled to unit L2 norm.
public struct TfidfVectorizer: Sendable {
    /// Hyper-parameters used for fitting.
    public let config: VectorizerConfig
    /// Terms; id = column.
    public let vocabulary: TermTable
    /// idf per column.
    public let idf: [Float]

    /// Per column: idf times the tf multiplier (`titleWeight` for title features in namespace mode,
    /// `cueWeight` for cue features, 1 for the rest).
    let columnWeight: [Float]
    /// Per column, 1 for the title's features and 0 for the body's, when they are normalised apart
    /// (`config.separateTitleNorm`); nil otherwise.
    let normGroup: [UInt8]?
    /// The most frequent terms (lowest idf) in a small table that stays in cache, with their columns: a
    /// lookup tries it first.
    let hotTerms: HotTerms
    /// Terms in `hotTerms`.
    static let hotCount = 16384

    /// Hash shards of the vocabulary merge in `fitTransform`.
    static let shardCount = 16

    /// Postings per block of the parallel passes (fixed, so results do not depend on the thread count).
    static let blockSize = 256
    /// Postings per block of `fitTransform`'s counting pass: larger than `blockSize` because every block's
    /// distinct terms are merged into the vocabulary afterwards, and larger blocks share more of their
    /// terms; fixed, so results do not depend on the thread count.
    static let fitBlockSize = 1024

    /// Creates a vectorizer from fitted parts (used by the model loader).
    public init(config: VectorizerConfig, vocabulary: TermTable, idf: [Float]) {
        var weights = [Float](repeating: 1, count: vocabulary.count)
        var groups = [UInt8](repeating: 0, count: config.separateTitleNorm ? vocabulary.count : 0)
        vocabulary.withTermBytes { term in
            for id in 0..<vocabulary.count {
                let (p, n, _) = term(id)
                weights[id] = TfidfVectorizer.scale(config, p, n) * (id < idf.count ? idf[id] : 1)
                if config.separateTitleNorm { groups[id] = TfidfVectorizer.isTitleTerm(p, n) ? 1 : 0 }
            }
        }
        self.init(config: config, vocabulary: vocabulary, idf: idf, columnWeight: weights,
                  normGroup: config.separateTitleNorm ? groups : nil)
    }

    /// Whether a term is the title's: a `title:` term or a cue read from the title (`cue:title=`). The title
    /// expert's features, and the title's norm group.
    static func isTitleTerm(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        starts(p, n, TermWalker.titlePrefix) || starts(p, n, titleCuePrefix)
    }

    /// `isTitleTerm` of a term given as a string.
    static func isTitleTerm(_ term: String) -> Bool {
        var bytes = Array(term.utf8)
        bytes.append(0)
        return bytes.withUnsafeBufferPointer { isTitleTerm($0.baseAddress!, $0.count - 1) }
    }

    /// Prefix of the cue features read from the title.
    static let titleCuePrefix = Array("cue:title=".utf8)

    private static func starts(_ p: UnsafePointer<UInt8>, _ n: Int, _ prefix: [UInt8]) -> Bool {
        guard n >= prefix.count else { return false }
        for k in 0..<prefix.count where p[k] != prefix[k] { return false }
        return true
    }

    /// The title or cue weight of a term that starts with the title or cue namespace, else 1.
    static func scale(_ config: VectorizerConfig, _ p: UnsafePointer<UInt8>, _ n: Int) -> Float {
        func starts(_ prefix: [UInt8]) -> Bool {
            guard n >= prefix.count else { return false }
            for k in 0..<prefix.count where p[k] != prefix[k] { return false }
            return true
        }
        if config.titleMode == .namespace && starts(TermWalker.titlePrefix) { return config.titleWeight }
        if !config.cues.isEmpty && starts(TermWalker.cuePrefix) { return config.cueWeight }
        return 1
    }

    /// Creates a vectorizer whose per-column weights (idf times `scale`) and norm groups are already computed.
    init(config: VectorizerConfig, vocabulary: TermTable, idf: [Float], columnWeight: [Float], normGroup: [UInt8]?) {
        self.config = config
        self.vocabulary = vocabulary
        self.idf = idf
        self.columnWeight = columnWeight
        self.normGroup = normGroup
        // The most frequent terms: the hotCount lowest idf, ties by column (positive floats order as their
        // bit patterns), found by selection rather than a full sort.
        var keys = (0..<min(vocabulary.count, idf.count)).map { UInt64(idf[$0].bitPattern) << 32 | UInt64($0) }
        let hot = smallest(&keys, TfidfVectorizer.hotCount).map { Int($0 & 0xFFFF_FFFF) }.sorted()
        self.hotTerms = HotTerms(vocabulary, ids: hot)
    }

    /// The column of a term followed by at least 7 readable bytes, or -1 when it is not in the vocabulary.
    @inline(__always)
    func column(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        let (h, prefix) = TermTable.hashAndPrefixPadded(p, n)
        return column(p, n, hash: h, prefix: prefix)
    }

    @inline(__always)
    func column(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64, prefix: UInt64) -> Int32 {
        let hot = hotTerms.column(p, n, hash: h, prefix: prefix)
        if hot >= 0 { return hot }
        return vocabulary.lookup(p, n, hash: h, prefix: prefix)
    }

    /// Number of features.
    public var featureCount: Int { vocabulary.count }

    /// Learns vocabulary and idf from `postings` and returns the fitted vectorizer with their TF-IDF matrix.
    /// Four stages (see `VectorizerFit`), parallel over fixed blocks, so the result does not depend on the
    /// thread count: count each block's terms, merge them into hash shards, select and sort the
    /// vocabulary, weight the rows.
    public static func fitTransform(_ config: VectorizerConfig, _ postings: [Posting],
                                    parallel: Parallel = Parallel()) throws -> (TfidfVectorizer, CSRMatrix) {
        let blocks = VectorizerFit.countBlocks(config, postings, parallel: parallel)
        let merged = VectorizerFit.mergeShards(blocks, parallel: parallel)
        let vocabulary = try VectorizerFit.selectVocabulary(config, merged.shards, documents: postings.count, parallel: parallel)
        return VectorizerFit.weightRows(config, blocks, merged, vocabulary, documents: postings.count, parallel: parallel)
    }

    /// TF-IDF rows of `postings` (unknown terms ignored). Parallel over fixed blocks; same result on any thread count.
    public func transform(_ postings: [Posting], parallel: Parallel = Parallel()) -> CSRMatrix {
        let parts: [CSRMatrix] = parallel.mapRanges(count: postings.count, blockSize: TfidfVectorizer.blockSize) { range in
            transform(postings, range)
        }
        return CSRMatrix(concatenating: parts, columnCount: featureCount)
    }

    /// TF-IDF rows of `postings[range]`, on the calling thread.
    func transform(_ postings: [Posting], _ range: Range<Int>) -> CSRMatrix {
        var walker = TermWalker(config)
        var counts = PostingTermCounts(self)
        var part = CSRMatrix(columnCount: featureCount)
        part.reserveRows(range.count)
        var row: [UInt64] = []
        for i in range {
            walker.forEachTermRun(postings[i]) { base, starts, ends, count in
                counts.add(base, starts, ends, count)
            }
            row.removeAll(keepingCapacity: true)
            counts.drain { id, count in row.append(UInt64(id) << 32 | UInt64(UInt32(bitPattern: count))) }
            appendWeighted(row, to: &part)
        }
        return part
    }

    /// Applies tf transform, idf and L2 normalisation to one row of `column << 32 | count` entries; the
    /// row keeps the entries' order (terms of up to 8 bytes, then longer ones, each in the order in which
    /// they first occur in the posting).
    func appendWeighted(_ row: [UInt64], to m: inout CSRMatrix) {
        m.appendRow(count: row.count) { columns, values in weightRow(row, columns: columns, values: values) }
    }

    /// Writes the weighted, L2-normalised entries of one row (`column << 32 | count`, in order) to
    /// `columns[0..<row.count]` and `values[0..<row.count]`.
    func weightRow(_ row: [UInt64], columns: UnsafeMutablePointer<Int32>, values: UnsafeMutablePointer<Float>) {
        TfidfVectorizer.weightRow(row, sublinear: config.sublinearTF, weights: columnWeight, groups: normGroup,
                                  columns: columns, values: values)
    }

    /// `weightRow` with the tf transform's setting and the per-column weights (idf times title or cue weight)
    /// given: v = tf · weight[column], then v / ‖v‖₂ (the norm summed in Double); with norm `groups`, each
    /// group's entries are divided by that group's norm.
    static func weightRow(_ row: [UInt64], sublinear: Bool, weights columnWeight: [Float], groups: [UInt8]?,
                          columns: UnsafeMutablePointer<Int32>, values: UnsafeMutablePointer<Float>) {
        var norm2 = 0.0, titleNorm2 = 0.0
        let tableCount = TfidfVectorizer.sublinearTable.count
        withUnsafePointers(TfidfVectorizer.sublinearTable, columnWeight) { table, weight in
            for (t, entry) in row.enumerated() {
                let c = Int(entry >> 32)
                let count = Int(UInt32(truncatingIfNeeded: entry))
                let tf = sublinear ? (count < tableCount ? table[count] : 1 + log(Float(count))) : Float(count)
                let v = tf * weight[c]
                columns[t] = Int32(c)
                values[t] = v
                if let groups, groups[c] == 1 { titleNorm2 += Double(v) * Double(v) } else { norm2 += Double(v) * Double(v) }
            }
        }
        guard let groups else {
            if norm2 > 0 {
                let inv = Float(1 / norm2.squareRoot())
                for t in 0..<row.count { values[t] *= inv }
            }
            return
        }
        let inv = norm2 > 0 ? Float(1 / norm2.squareRoot()) : 1, titleInv = titleNorm2 > 0 ? Float(1 / titleNorm2.squareRoot()) : 1
        for t in 0..<row.count { values[t] *= groups[Int(columns[t])] == 1 ? titleInv : inv }
    }

    /// `1 + ln(tf)` for small counts.
    static let sublinearTable: [Float] = (0..<64).map { $0 == 0 ? 0 : 1 + log(Float($0)) }
}

/// The `k` smallest of `keys` (distinct), in no particular order: quickselect with the median of three
/// as pivot; `keys` is reordered.
func smallest(_ keys: inout [UInt64], _ k: Int) -> ArraySlice<UInt64> {
    if k >= keys.count { return keys[...] }
    var lo = 0, hi = keys.count - 1
    while lo < hi {
        let mid = lo + (hi - lo) / 2
        let pivot = max(min(keys[lo], keys[mid]), min(max(keys[lo], keys[mid]), keys[hi]))
        var i = lo, j = hi
        while i <= j {
            while keys[i] < pivot { i += 1 }
            while keys[j] > pivot { j -= 1 }
            if i <= j { keys.swapAt(i, j); i += 1; j -= 1 }
        }
        if k - 1 <= j { hi = j } else if k - 1 >= i { lo = i } else { break }
    }
    return keys[..<k]
}
