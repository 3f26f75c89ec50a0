/// Calibration of the predicted label's probability: equal-width bins and the expected calibration error.
///
/// Bin `b` of `M` holds the rows whose confidence lies in `(b/M, (b+1)/M]` (the first bin also takes 0),
/// as in Guo et al. 2017; `ECE = Σ_b (n_b / N) · |accuracy_b − confidence_b|`.
public struct Calibration: Sendable, Equatable {
    /// One confidence bin of a reliability diagram.
    public struct Bin: Sendable, Equatable {
        /// Lower edge (exclusive, except for the first bin).
        public var lower: Double
        /// Upper edge (inclusive).
        public var upper: Double
        /// Rows in the bin.
        public var count: Int
        /// Mean confidence of its rows (0 when empty).
        public var confidence: Double
        /// Share of its rows predicted correctly (0 when empty).
        public var accuracy: Double
    }

    /// `binCount` bins from 0 to 1, in order.
    public var bins: [Bin]
    /// Expected calibration error.
    public var ece: Double
    /// Mean confidence over all rows.
    public var meanConfidence: Double

    /// Bins `confidence` (each in [0, 1]) with whether each row's prediction was right.
    public init(correct: [Bool], confidence: [Double], binCount: Int = 10) {
        let m = max(1, binCount)
        var counts = [Int](repeating: 0, count: m)
        var confidenceSums = [Double](repeating: 0, count: m)
        var hits = [Int](repeating: 0, count: m)
        for (ok, raw) in zip(correct, confidence) {
            let c = raw.isNaN ? 0 : min(max(raw, 0), 1)
            let b = Calibration.bin(of: c, binCount: m)
            counts[b] += 1
            confidenceSums[b] += c
            if ok { hits[b] += 1 }
        }
        let n = counts.reduce(0, +)
        bins = (0..<m).map { b in
            Bin(lower: Double(b) / Double(m), upper: Double(b + 1) / Double(m), count: counts[b],
                confidence: counts[b] == 0 ? 0 : confidenceSums[b] / Double(counts[b]),
                accuracy: counts[b] == 0 ? 0 : Double(hits[b]) / Double(counts[b]))
        }
        ece = n == 0 ? 0 : bins.reduce(0) { $0 + Double($1.count) / Double(n) * abs($1.accuracy - $1.confidence) }
        meanConfidence = n == 0 ? 0 : confidenceSums.reduce(0, +) / Double(n)
    }

    /// Index of the bin `(b/M, (b+1)/M]` holding `c` (0 for c = 0).
    static func bin(of c: Double, binCount m: Int) -> Int {
        let upper = Int((c * Double(m)).rounded(.up))
        return min(m - 1, max(0, upper - 1))
    }
}

/// Rows whose predicted label's probability reaches a threshold, and how often those are right.
public struct CoveragePoint: Sendable, Equatable {
    /// The probability threshold (a row is covered when its top probability ≥ it).
    public var threshold: Double
    /// Rows covered.
    public var count: Int
    /// Share of all rows covered.
    public var coverage: Double
    /// Accuracy on the covered rows; nil when none is covered.
    public var accuracy: Double?

    /// The thresholds every report lists: 0.3 to 0.9 in steps of 0.1.
    public static let defaultThresholds: [Double] = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]

    /// Coverage and accuracy at each of `thresholds`.
    public static func table(correct: [Bool], confidence: [Double],
                             thresholds: [Double] = defaultThresholds) -> [CoveragePoint] {
        let n = min(correct.count, confidence.count)
        return thresholds.map { t in
            var count = 0, right = 0
            for i in 0..<n where confidence[i] >= t {
                count += 1
                if correct[i] { right += 1 }
            }
            return CoveragePoint(threshold: t, count: count, coverage: n == 0 ? 0 : Double(count) / Double(n),
                                 accuracy: count == 0 ? nil : Double(right) / Double(count))
        }
    }
}

/// Coverage and accuracy of a model's own per-class thresholds (fitted at train time for a target
/// precision): a row is covered when its predicted label's probability reaches that label's threshold.
public struct ThresholdCoverage: Sendable, Equatable {
    /// The precision the thresholds were fitted for.
    public var targetPrecision: Double
    /// Labels that have a threshold (the others are never covered).
    public var labelsWithThreshold: Int
    /// Labels of the model.
    public var labelCount: Int
    /// Rows covered.
    public var count: Int
    /// Share of all rows covered.
    public var coverage: Double
    /// Accuracy on the covered rows; nil when none is covered.
    public var accuracy: Double?

    /// Scores rows given each row's predicted class index, its probability and whether it is right;
    /// `thresholds` per class (nil: the class is never covered).
    public init(targetPrecision: Double, thresholds: [Double?], predicted: [Int], confidence: [Double], correct: [Bool]) {
        self.targetPrecision = targetPrecision
        labelsWithThreshold = thresholds.filter { $0 != nil }.count
        labelCount = thresholds.count
        var covered = 0, right = 0
        for i in predicted.indices where i < confidence.count && i < correct.count {
            let c = predicted[i]
            // Compared as Float, as `classify` compares its Float probabilities.
            guard c >= 0, c < thresholds.count, let t = thresholds[c], Float(confidence[i]) >= Float(t) else { continue }
            covered += 1
            if correct[i] { right += 1 }
        }
        count = covered
        coverage = predicted.isEmpty ? 0 : Double(covered) / Double(predicted.count)
        accuracy = covered == 0 ? nil : Double(right) / Double(covered)
    }
}

/// An ordered label scale, such as seniority levels, for judging how far off a wrong label is.
public struct OrdinalScale: Sendable, Equatable {
    /// Levels from lowest to highest.
    public var levels: [String]

    /// Creates a scale from its levels, lowest first.
    public init(levels: [String]) { self.levels = levels }

    /// LinkedIn's seniority scale, which the corpus and the default model use.
    public static let seniority = OrdinalScale(levels: ["internship", "entry", "associate", "mid-senior", "director", "executive"])

    /// Position of `label` on the scale, or nil when it is not a level.
    public func level(_ label: String) -> Int? { levels.firstIndex(of: label) }

    /// The scale to judge a head by: the seniority scale for a head named `seniority`, or for any head
    /// whose labels (at least two) are all seniority levels; nil otherwise.
    public static func forHead(_ name: String, labels: [String]) -> OrdinalScale? {
        if name == "seniority" { return .seniority }
        let distinct = Set(labels)
        if distinct.count >= 2 && distinct.allSatisfy({ seniority.level($0) != nil }) { return .seniority }
        return nil
    }
}

/// How far predictions land from the true level on an ordinal scale.
public struct OrdinalSummary: Sendable, Equatable {
    /// The scale's levels, lowest first.
    public var levels: [String]
    /// Rows whose true and predicted labels are both on the scale (the others are not counted here).
    public var n: Int
    /// Share of those rows predicted at exactly the true level.
    public var exactAccuracy: Double
    /// Share predicted at most one level away.
    public var offByOneAccuracy: Double
    /// Mean of |predicted level − true level|.
    public var meanAbsoluteError: Double
    /// Rows per signed error (predicted level − true level), for errors −(L−1) … L−1 in order.
    public var errorCounts: [Int]

    /// Signed error of `errorCounts[i]`.
    public func error(at i: Int) -> Int { i - (levels.count - 1) }

    /// Scores `predicted` against `truth` on `scale`.
    public init(truth: [String], predicted: [String], scale: OrdinalScale) {
        let l = scale.levels.count
        var counts = [Int](repeating: 0, count: max(1, 2 * l - 1))
        var n = 0, exact = 0, near = 0, absolute = 0
        for (t, p) in zip(truth, predicted) {
            guard let a = scale.level(t), let b = scale.level(p) else { continue }
            let e = b - a
            n += 1
            counts[e + l - 1] += 1
            if e == 0 { exact += 1 }
            if abs(e) <= 1 { near += 1 }
            absolute += abs(e)
        }
        levels = scale.levels
        self.n = n
        exactAccuracy = n == 0 ? 0 : Double(exact) / Double(n)
        offByOneAccuracy = n == 0 ? 0 : Double(near) / Double(n)
        meanAbsoluteError = n == 0 ? 0 : Double(absolute) / Double(n)
        errorCounts = counts
    }
}

extension OrdinalSummary {
    /// Indices of `errorCounts` worth showing: every non-empty error, and at least −1 … +1.
    public var shownErrorRange: ClosedRange<Int> {
        let zero = levels.count - 1
        let nonEmpty = errorCounts.indices.filter { errorCounts[$0] > 0 }
        let low = min(nonEmpty.first ?? zero, max(0, zero - 1))
        let high = max(nonEmpty.last ?? zero, min(errorCounts.count - 1, zero + 1))
        return low...high
    }
}
