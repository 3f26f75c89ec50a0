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

    // Key names that survive the manifest's snake_case conversion both ways ("min_df", "sublinear_tf").
    private enum CodingKeys: String, CodingKey {
        case tokenizer, ngrams, titleMode, titleWeight, maxFeatures, cues, cueWeight
        case minDF = "minDf", maxDF = "maxDf", sublinearTF = "sublinearTf"
    }

    /// scikit-learn's `TfidfVectorizer()` defaults, with the title concatenated before the text.
    public static let sklearn = VectorizerConfig(
        tokenizer: .sklearn, ngrams: 1, titleMode: .concatenate, titleWeight: 1,
        minDF: .count(1), maxDF: .fraction(1.0), maxFeatures: nil, sublinearTF: false)

    /// Creates a configuration.
    public init(tokenizer: TokenizerConfig, ngrams: Int, titleMode: TitleMode, titleWeight: Float,
                minDF: DocumentFrequencyBound, maxDF: DocumentFrequencyBound, maxFeatures: Int?,
                sublinearTF: Bool, cues: [CueGroup] = [], cueWeight: Float = 1) {
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

    /// Calls `body(termPointer, termLength, count)` for every term occurrence of `posting` (count 1).
    mutating func forEachTerm(_ posting: Posting, _ body: (UnsafePointer<UInt8>, Int, Float) -> Void) {
        titleTokens.removeAll()
        switch config.titleMode {
        case .concatenate:
            tokens.removeAll()
            tokenizer.tokenize(posting.title, into: &tokens)
            tokenizer.tokenize(posting.text, into: &tokens)
            emit(tokens, prefix: [], body)
        case .namespace:
            tokens.removeAll()
            tokenizer.tokenize(posting.text, into: &tokens)
            emit(tokens, prefix: [], body)
            if !posting.title.isEmpty {
                tokenizer.tokenize(posting.title, into: &titleTokens)
                emit(titleTokens, prefix: TermWalker.titlePrefix, body)
            }
        }
        guard let cueExtractor else { return }
        let names: [String]
        if cueTokenizer != nil {
            cueText.removeAll()
            cueTitle.removeAll()
            cueTokenizer?.tokenize(posting.text, into: &cueText)
            cueTokenizer?.tokenize(posting.title, into: &cueTitle)
            names = cueExtractor.cues(title: cueTitle, text: cueText)
        } else {
            names = cueExtractor.cues(title: titleTokens, text: tokens)
        }
        for var name in names {
            name.withUTF8 { body($0.baseAddress ?? emptyBytePointer, $0.count, 1) }
        }
    }

    private mutating func emit(_ tokens: TokenList, prefix: [UInt8], _ body: (UnsafePointer<UInt8>, Int, Float) -> Void) {
        let n = tokens.count
        if n == 0 { return }
        let maxN = max(1, config.ngrams)
        for i in 0..<n {
            for g in 1...maxN where i + g <= n {
                scratch.removeAll(keepingCapacity: true)
                scratch.append(contentsOf: prefix)
                for t in i..<(i + g) {
                    if t > i { scratch.append(0x20) }
                    scratch.append(contentsOf: tokens.bytes[tokens.range(t)])
                }
                scratch.withUnsafeBufferPointer { body($0.baseAddress ?? emptyBytePointer, $0.count, 1) }
            }
        }
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

    /// Per column: the tf multiplier, `titleWeight` for title features (namespace mode), `cueWeight` for
    /// cue features, 1 for the rest.
    let featureScale: [Float]

    /// Creates a vectorizer from fitted parts (used by the model loader).
    public init(config: VectorizerConfig, vocabulary: TermTable, idf: [Float]) {
        self.config = config
        self.vocabulary = vocabulary
        self.idf = idf
        self.featureScale = (0..<vocabulary.count).map { id in
            let term = vocabulary.bytes(id)
            if config.titleMode == .namespace && term.starts(with: TermWalker.titlePrefix) { return config.titleWeight }
            if !config.cues.isEmpty && term.starts(with: TermWalker.cuePrefix) { return config.cueWeight }
            return 1
        }
    }

    /// Number of features.
    public var featureCount: Int { vocabulary.count }

    /// Learns vocabulary and idf from `postings` and returns the fitted vectorizer with their TF-IDF matrix.
    public static func fitTransform(_ config: VectorizerConfig, _ postings: [Posting]) throws -> (TfidfVectorizer, CSRMatrix) {
        // 1. Count terms per document with provisional ids (first-seen order).
        var table = TermTable(capacity: 1 << 16)
        var walker = TermWalker(config)
        var raw = CSRMatrix(columnCount: 0)
        raw.rowOffsets.reserveCapacity(postings.count + 1)
        var pairs: [(Int32, Float)] = []
        for posting in postings {
            pairs.removeAll(keepingCapacity: true)
            walker.forEachTerm(posting) { p, n, w in
                pairs.append((table.intern(p, n), w))
            }
            aggregate(&pairs)
            for (c, v) in pairs { raw.columns.append(c); raw.values.append(v) }
            raw.rowOffsets.append(Int64(raw.columns.count))
        }
        let provisional = table.count
        var df = [Int](repeating: 0, count: provisional)
        var total = [Double](repeating: 0, count: provisional)
        for t in 0..<raw.columns.count {
            let c = Int(raw.columns[t])
            df[c] += 1
            total[c] += Double(raw.values[t])
        }

        // 2. Select terms by document frequency and max_features; order them by bytes.
        let n = postings.count
        let maxDocs = config.maxDF.documents(of: n)
        let minDocs = config.minDF.documents(of: n)
        if maxDocs < minDocs {
            throw EmptyVocabularyError(kind: .conflictingBounds, description: "--max-df \(config.maxDF) keeps fewer documents than --min-df \(config.minDF); raise --max-df or lower --min-df")
        }
        var kept = (0..<provisional).filter { Double(df[$0]) >= minDocs && Double(df[$0]) <= maxDocs }
        if let limit = config.maxFeatures, kept.count > limit {
            kept.sort { a, b in total[a] != total[b] ? total[a] > total[b] : lexLess(table, a, b) }
            kept = Array(kept.prefix(limit))
        }
        kept.sort { lexLess(table, $0, $1) }
        if kept.isEmpty {
            if provisional == 0 {
                throw EmptyVocabularyError(kind: .noTokens, description: "no tokens in the training texts: every document is empty after tokenization")
            }
            throw EmptyVocabularyError(kind: .prunedEverything, description: "--min-df/--max-df pruned away all \(provisional) terms; lower --min-df or raise --max-df")
        }
        var remap = [Int32](repeating: -1, count: provisional)
        for (newId, old) in kept.enumerated() { remap[old] = Int32(newId) }
        let vocabulary = table.subset(kept)
        let idf: [Float] = kept.map { Float(log(Double(1 + n) / Double(1 + df[$0])) + 1) }
        let vectorizer = TfidfVectorizer(config: config, vocabulary: vocabulary, idf: idf)

        // 3. Remap, weight and normalise the counted rows.
        var out = CSRMatrix(columnCount: kept.count)
        out.rowOffsets.reserveCapacity(n + 1)
        out.columns.reserveCapacity(raw.columns.count)
        out.values.reserveCapacity(raw.values.count)
        var rowPairs: [(Int32, Float)] = []
        for i in 0..<raw.rowCount {
            rowPairs.removeAll(keepingCapacity: true)
            for t in raw.row(i) {
                let c = remap[Int(raw.columns[t])]
                if c >= 0 { rowPairs.append((c, raw.values[t])) }
            }
            rowPairs.sort { $0.0 < $1.0 }
            vectorizer.appendWeighted(rowPairs, to: &out)
        }
        return (vectorizer, out)
    }

    /// TF-IDF rows of `postings` (unknown terms ignored). Parallel over fixed blocks; same result on any thread count.
    public func transform(_ postings: [Posting]) -> CSRMatrix {
        let blockSize = 256
        let blocks = (postings.count + blockSize - 1) / blockSize
        var parts = [CSRMatrix?](repeating: nil, count: blocks)
        parts.withUnsafeMutableBufferPointer { partsBuffer in
            let partsOut = partsBuffer
            Parallel.forEachBlock(blocks) { b in
                let lo = b * blockSize, hi = min(postings.count, lo + blockSize)
                var walker = TermWalker(config)
                var part = CSRMatrix(columnCount: featureCount)
                var pairs: [(Int32, Float)] = []
                for i in lo..<hi {
                    pairs.removeAll(keepingCapacity: true)
                    walker.forEachTerm(postings[i]) { p, n, w in
                        let id = vocabulary.lookup(p, n)
                        if id >= 0 { pairs.append((id, w)) }
                    }
                    TfidfVectorizer.aggregate(&pairs)
                    appendWeighted(pairs, to: &part)
                }
                partsOut[b] = part
            }
        }
        var out = CSRMatrix(columnCount: featureCount)
        for part in parts { if let part { out.append(part) } }
        return out
    }

    /// Sorts `pairs` by id and merges equal ids by summing their weights.
    static func aggregate(_ pairs: inout [(Int32, Float)]) {
        if pairs.count < 2 { return }
        pairs.sort { $0.0 < $1.0 }
        var w = 0
        for r in 1..<pairs.count {
            if pairs[r].0 == pairs[w].0 {
                pairs[w].1 += pairs[r].1
            } else {
                w += 1
                pairs[w] = pairs[r]
            }
        }
        pairs.removeSubrange((w + 1)...)
    }

    /// Applies tf transform, idf and L2 normalisation to one row of (column, tf) pairs sorted by column.
    func appendWeighted(_ pairs: [(Int32, Float)], to m: inout CSRMatrix) {
        let start = m.values.count
        var norm2 = 0.0
        for (c, tf) in pairs {
            var t = config.sublinearTF ? 1 + log(tf) : tf
            t *= featureScale[Int(c)]
            let v = t * idf[Int(c)]
            m.columns.append(c)
            m.values.append(v)
            norm2 += Double(v) * Double(v)
        }
        if norm2 > 0 {
            let inv = Float(1 / norm2.squareRoot())
            for t in start..<m.values.count { m.values[t] *= inv }
        }
        m.rowOffsets.append(Int64(m.columns.count))
    }
}

/// Byte-order comparison of two terms of a table (= Unicode code point order, as Python sorts strings).
private func lexLess(_ table: TermTable, _ a: Int, _ b: Int) -> Bool {
    table.bytes(a).lexicographicallyPrecedes(table.bytes(b))
}
