import Foundation

/// What the settings search (`Autotune`) maximises: a head's out-of-fold macro-F1 or accuracy.
public enum AutotuneMetric: String, Sendable, Equatable, Codable, CaseIterable {
    /// Unweighted mean of the per-label F1 (labels present in truth or predictions, as scikit-learn).
    case macroF1 = "macro-f1"
    /// Share of rows labeled right.
    case accuracy
}

/// How a posting's title enters the features, one value of the search's title dimension.
public enum TitleChoice: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `title + "\n" + text`, one token stream.
    case concatenate
    /// Title terms as their own features with this weight.
    case weight(Float)
    /// Title and body experts (see `Experts`), with their weights chosen per head and classifier.
    case experts

    /// Parses "concatenate", "experts" or a weight (a number in 0.001...1000).
    public init?(_ text: String) {
        switch text {
        case "concatenate": self = .concatenate
        case "experts": self = .experts
        default:
            guard let w = Double(text), w.isFinite, w >= 1e-3, w <= 1e3 else { return nil }
            self = .weight(Float(w))
        }
    }

    /// "concatenate", "experts" or the weight ("3").
    public var description: String {
        switch self {
        case .concatenate: return "concatenate"
        case .experts: return "experts"
        case .weight(let w): return autotuneNumber(Double(w))
        }
    }

    /// Encoded as its description.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let v = TitleChoice(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "bad title choice '\(s)'")
        }
        self = v
    }

    /// Encodes its description.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    /// Sort order: concatenate, the weights ascending, experts.
    var rank: (Int, Float) {
        switch self {
        case .concatenate: return (0, 0)
        case .weight(let w): return (1, w)
        case .experts: return (2, 0)
        }
    }

    /// The title choice of `config`.
    static func of(_ config: TrainingConfig) -> TitleChoice {
        if config.experts != nil { return .experts }
        return config.vectorizer.titleMode == .concatenate ? .concatenate : .weight(config.vectorizer.titleWeight)
    }
}

/// The values the settings search tries. Vectorizer settings (`ngrams`, `minDF`, `sublinearTF`, `title`) are
/// shared by all heads; classifier settings (`C` and `classWeight` for logistic regression, `alpha` for Naive
/// Bayes) are chosen per head.
public struct AutotuneGrid: Sendable, Equatable, Codable {
    /// Largest word n-gram.
    public var ngrams: [Int]
    /// Minimum document frequencies.
    public var minDF: [DocumentFrequencyBound]
    /// Sublinear tf on or off.
    public var sublinearTF: [Bool]
    /// Title weights, concatenation, or title and body experts.
    public var title: [TitleChoice]
    /// Logistic regression's C.
    public var C: [Double]
    /// Logistic regression's class weights.
    public var classWeight: [ClassWeight]
    /// Naive Bayes' alpha.
    public var alpha: [Double]

    private enum CodingKeys: String, CodingKey {
        case ngrams, minDF = "minDf", sublinearTF = "sublinearTf", title, C = "c", classWeight, alpha
    }

    /// Creates a grid.
    public init(ngrams: [Int], minDF: [DocumentFrequencyBound], sublinearTF: [Bool], title: [TitleChoice], C: [Double],
                classWeight: [ClassWeight], alpha: [Double]) {
        self.ngrams = ngrams
        self.minDF = minDF
        self.sublinearTF = sublinearTF
        self.title = title
        self.C = C
        self.classWeight = classWeight
        self.alpha = alpha
    }

    /// joblabel's grid: n-grams 1-2, min-df 1-3, sublinear tf on and off, title weight 1, 2, 3, 5 or title and
    /// body experts (60 vectorizer settings); C 0.3-100 with balanced or no class weights, alpha 0.003-1
    /// (12 logistic regression and 6 Naive Bayes settings per head).
    public static let standard = AutotuneGrid(
        ngrams: [1, 2], minDF: [.count(1), .count(2), .count(3)], sublinearTF: [true, false],
        title: [.weight(1), .weight(2), .weight(3), .weight(5), .experts],
        C: [0.3, 1, 3, 10, 30, 100], classWeight: [.balanced, .none], alpha: [0.003, 0.01, 0.03, 0.1, 0.3, 1])

    /// The grid with `base`'s own values added where they are missing (numbers in sorted position), so the
    /// starting settings are a point of it; each list sorted and without repeats.
    func including(_ base: TrainingConfig) -> AutotuneGrid {
        func merged<T: Equatable>(_ list: [T], _ value: T, by less: (T, T) -> Bool) -> [T] {
            var out: [T] = []
            for x in (list + [value]).sorted(by: less) where !out.contains(x) { out.append(x) }
            return out
        }
        func dfKey(_ b: DocumentFrequencyBound) -> (Int, Double) {
            switch b {
            case .count(let c): return (0, Double(c))
            case .fraction(let f): return (1, f)
            }
        }
        let v = base.vectorizer
        var g = self
        g.ngrams = merged(ngrams, v.ngrams, by: <)
        g.minDF = merged(minDF, v.minDF) { dfKey($0) < dfKey($1) }
        g.sublinearTF = merged(sublinearTF, v.sublinearTF) { $0 && !$1 }
        g.title = merged(title, TitleChoice.of(base)) { $0.rank < $1.rank }
        g.C = merged(C, base.logisticRegression.C, by: <)
        g.classWeight = merged(classWeight, base.logisticRegression.classWeight) { a, b in
            ClassWeight.allCases.firstIndex(of: a)! > ClassWeight.allCases.firstIndex(of: b)!
        }
        g.alpha = merged(alpha, base.naiveBayes.alpha, by: <)
        return g
    }

    /// Sizes of the vectorizer dimensions (ngrams, min-df, sublinear tf, title).
    var vectorSizes: [Int] { [ngrams.count, minDF.count, sublinearTF.count, title.count] }
    /// Sizes of logistic regression's dimensions (C, class weight).
    var lrSizes: [Int] { [C.count, classWeight.count] }

    /// The vectorizer setting at grid index `index`.
    func vector(_ index: Int) -> AutotuneVector {
        let p = AutotuneGrid.coordinates(index, sizes: vectorSizes)
        return AutotuneVector(ngrams: ngrams[p[0]], minDF: minDF[p[1]], sublinearTF: sublinearTF[p[2]], title: title[p[3]])
    }

    /// The grid index of `base`'s vectorizer setting (`including(base)` holds it).
    func vectorIndex(of base: TrainingConfig) -> Int {
        let v = base.vectorizer, t = TitleChoice.of(base)
        return AutotuneGrid.index([ngrams.firstIndex(of: v.ngrams) ?? 0, minDF.firstIndex(of: v.minDF) ?? 0,
                                   sublinearTF.firstIndex(of: v.sublinearTF) ?? 0, title.firstIndex(of: t) ?? 0], sizes: vectorSizes)
    }

    /// The logistic regression setting at index `index` of `C × classWeight`.
    func lrSetting(_ index: Int) -> (C: Double, classWeight: ClassWeight) {
        let p = AutotuneGrid.coordinates(index, sizes: lrSizes)
        return (C[p[0]], classWeight[p[1]])
    }

    /// Coordinates of a mixed-radix index (the first dimension varies slowest).
    static func coordinates(_ index: Int, sizes: [Int]) -> [Int] {
        var out = [Int](repeating: 0, count: sizes.count)
        var rest = index
        for d in sizes.indices.reversed() {
            let n = max(1, sizes[d])
            out[d] = rest % n
            rest /= n
        }
        return out
    }

    /// The mixed-radix index of coordinates.
    static func index(_ coordinates: [Int], sizes: [Int]) -> Int {
        zip(coordinates, sizes).reduce(0) { $0 * max(1, $1.1) + $1.0 }
    }

    /// Every index of a grid of `sizes`, nearest `reference` first: by the number of dimensions that differ,
    /// then the sum of the index steps, then the index. `reference` itself comes first.
    static func ordered(sizes: [Int], from reference: Int) -> [Int] {
        let r = coordinates(reference, sizes: sizes)
        let count = sizes.reduce(1) { $0 * max(1, $1) }
        func key(_ i: Int) -> (Int, Int, Int) {
            let p = coordinates(i, sizes: sizes)
            var differing = 0, steps = 0
            for d in p.indices where p[d] != r[d] {
                differing += 1
                steps += abs(p[d] - r[d])
            }
            return (differing, steps, i)
        }
        return (0..<count).sorted { key($0) < key($1) }
    }
}

/// The settings of a search: budget, metric, folds and grid.
public struct AutotuneConfig: Sendable, Equatable {
    /// Time budget of the search in seconds (the final training comes after it).
    public var seconds: Double
    /// The score maximised.
    public var metric: AutotuneMetric
    /// Cross-validation folds (grouped: reposts of one ad stay in one fold).
    public var folds: Int
    /// The values tried.
    public var grid: AutotuneGrid

    /// Creates settings: by default 300 s, macro-F1, 5 folds, the standard grid.
    public init(seconds: Double = 300, metric: AutotuneMetric = .macroF1, folds: Int = 5, grid: AutotuneGrid = .standard) {
        self.seconds = seconds
        self.metric = metric
        self.folds = folds
        self.grid = grid
    }
}

/// One vectorizer setting of the search, and how it scored.
public struct AutotuneVector: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Largest word n-gram.
    public var ngrams: Int
    /// Minimum document frequency.
    public var minDF: DocumentFrequencyBound
    /// Sublinear tf.
    public var sublinearTF: Bool
    /// Title weight, concatenation or experts.
    public var title: TitleChoice
    /// The mean over heads of each head's best logistic regression score on this setting (nil: not every head
    /// was scored on it).
    public var score: Double?
    /// Why it could not be scored (e.g. min-df pruned every term of a fold), else nil.
    public var failed: String?

    private enum CodingKeys: String, CodingKey {
        case ngrams, minDF = "minDf", sublinearTF = "sublinearTf", title, score, failed
    }

    /// "ngrams 1, min-df 2, sublinear tf, title weight 3".
    public var description: String {
        let title: String
        switch self.title {
        case .concatenate: title = "title concatenated"
        case .experts: title = "title and body experts"
        case .weight(let w): title = "title weight \(autotuneNumber(Double(w)))"
        }
        return "ngrams \(ngrams), min-df \(minDF), \(sublinearTF ? "sublinear tf" : "raw tf"), \(title)"
    }

    /// Whether `other` is the same setting (scores aside).
    func sameSetting(_ other: AutotuneVector) -> Bool {
        ngrams == other.ngrams && minDF == other.minDF && sublinearTF == other.sublinearTF && title == other.title
    }
}

/// One classifier setting of one head tried on one vectorizer setting, and its cross-validated score.
public struct AutotuneTrial: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Position of the vectorizer setting in `AutotuneReport.vectors`.
    public var vector: Int
    /// The head.
    public var head: String
    /// `.lr` or `.nb`.
    public var classifier: Algorithm
    /// Logistic regression's C and class weights (nil for Naive Bayes).
    public var C: Double?
    public var classWeight: ClassWeight?
    /// Naive Bayes' alpha (nil for logistic regression).
    public var alpha: Double?
    /// With title and body experts: the (title, body) weights, chosen by out-of-fold log-loss.
    public var experts: [Double]?
    /// Out-of-fold score (the search's metric).
    public var score: Double
    /// Time the trial took, in seconds.
    public var seconds: Double

    private enum CodingKeys: String, CodingKey {
        case vector, head, classifier, C = "c", classWeight, alpha, experts, score, seconds
    }

    /// "lr C 3, balanced" or "nb alpha 0.1", with the experts' weights when there are some.
    public var description: String {
        var s = classifier == .nb ? "nb alpha \(autotuneNumber(alpha ?? 0))"
            : "lr C \(autotuneNumber(C ?? 0)), \(classWeight == ClassWeight.none ? "no class weights" : "balanced")"
        if let e = experts, e.count == 2 { s += ", experts title \(autotuneNumber(e[0])) x body \(autotuneNumber(e[1]))" }
        return s
    }
}

/// The settings the search chose for one head.
public struct AutotuneHeadWinner: Sendable, Equatable, Codable {
    /// The head.
    public var head: String
    /// Its classifier settings (those the model was trained with).
    public var settings: HeadSettings
    /// Out-of-fold score of its logistic regression and Naive Bayes on the winning vectorizer setting (nil: not
    /// scored, the starting setting kept).
    public var lrScore: Double?
    public var nbScore: Double?
}

/// What a settings search did (kept in the manifest as `autotune`).
public struct AutotuneReport: Sendable, Equatable, Codable {
    /// The time budget in seconds.
    public var budgetSeconds: Double
    /// The metric maximised.
    public var metric: AutotuneMetric
    /// Folds of the grouped cross-validation (0 when the data were too few to cross-validate).
    public var folds: Int
    /// The values searched (the starting settings' values included).
    public var grid: AutotuneGrid
    /// Trials of the whole grid (vectorizer settings × heads × classifier settings).
    public var candidates: Int
    /// Seconds the search took.
    public var seconds: Double
    /// True when the budget ended the search before the whole grid was tried.
    public var stoppedAtBudget: Bool
    /// Why nothing was searched (too few postings or labels), else nil.
    public var note: String?
    /// Vectorizer settings, in the order they were tried.
    public var vectors: [AutotuneVector]
    /// Classifier settings tried, in order.
    public var trials: [AutotuneTrial]
    /// Position in `vectors` of the winning vectorizer setting (nil: none was scored; the starting one kept).
    public var winner: Int?
    /// The winning classifier settings per head.
    public var heads: [AutotuneHeadWinner]
}

/// A number as the search's descriptions show it: "0.3", "10", "1e-05".
func autotuneNumber(_ x: Double) -> String {
    if x == x.rounded(), abs(x) < 1e9 { return String(Int(x)) }
    return String(format: "%g", x)
}

extension AutotuneReport {
    /// The search in a few lines: what was tried, the winner and each head's settings with their scores.
    public var summary: [String] {
        let metricName = metric == .macroF1 ? "macro-F1" : "accuracy"
        func f(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "-" }
        guard folds > 0 else { return ["autotune: nothing searched: \(note ?? "no data")"] }
        let end = stoppedAtBudget ? "stopped at the \(autotuneNumber(budgetSeconds)) s budget" : "the whole grid"
        var lines = ["autotune: \(trials.count) of \(candidates) settings tried in \(String(format: "%.1f", seconds)) s (\(end)); "
                     + "\(folds)-fold grouped cross-validation, out-of-fold \(metricName)"]
        guard let w = winner, w < vectors.count else {
            lines.append("  no setting was scored within the budget: trained with the starting settings")
            return lines
        }
        lines.append("  best: \(vectors[w]) (mean lr \(metricName) over heads \(f(vectors[w].score)))")
        for h in heads {
            let s = h.settings
            var lr = "lr C \(autotuneNumber(s.C ?? 0)), \(s.classWeight == ClassWeight.none ? "no class weights" : "balanced")"
            if let e = s.lrExperts, e.count == 2 { lr += ", experts title \(autotuneNumber(e[0])) x body \(autotuneNumber(e[1]))" }
            var nb = "nb alpha \(autotuneNumber(s.alpha ?? 0))"
            if let e = s.nbExperts, e.count == 2 { nb += ", experts title \(autotuneNumber(e[0])) x body \(autotuneNumber(e[1]))" }
            lines.append("  \(h.head): \(lr) (\(f(h.lrScore))); \(nb) (\(f(h.nbScore)))")
        }
        return lines
    }
}
