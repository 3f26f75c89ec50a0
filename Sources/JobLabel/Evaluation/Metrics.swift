/// Precision, recall, F1 and support of one class.
public struct ClassMetrics: Sendable, Equatable, Codable {
    /// TP / (TP + FP); 0 when nothing was predicted as this class.
    public var precision: Double
    /// TP / (TP + FN); 0 when the class has no true examples.
    public var recall: Double
    /// Harmonic mean of precision and recall; 0 when both are 0.
    public var f1: Double
    /// Number of true examples.
    public var support: Int
}

/// Classification metrics of one head and algorithm, as scikit-learn's `classification_report`.
public struct EvaluationReport: Sendable, Equatable {
    /// Labels in matrix order: the model's classes, then any unseen true labels.
    public var labels: [String]
    /// `confusion[t][p]`: rows with true label `labels[t]` predicted as `labels[p]`.
    public var confusion: [[Int]]
    /// Rows scored.
    public var n: Int
    /// Share of rows predicted correctly.
    public var accuracy: Double
    /// Per-label metrics, in `labels` order.
    public var perClass: [ClassMetrics]
    /// Unweighted means over labels with support or predictions (scikit-learn's "macro avg").
    public var macroPrecision: Double, macroRecall: Double, macroF1: Double
    /// Support-weighted means ("weighted avg").
    public var weightedPrecision: Double, weightedRecall: Double, weightedF1: Double
    /// Probability the model gave its predicted label, per scored row (empty when not known).
    public var confidences: [Double] = []
    /// Reliability bins and expected calibration error of `confidences` (nil when not known).
    public var calibration: Calibration?
    /// Coverage and accuracy at `CoveragePoint.defaultThresholds` (empty when confidences are not known).
    public var coverage: [CoveragePoint] = []
    /// Level errors on an ordinal scale, for seniority-like heads (nil otherwise, or when no row is on the scale).
    public var ordinal: OrdinalSummary?
    /// Coverage and accuracy of the model's per-class thresholds (nil when the bundle has none).
    public var manifestThresholds: ThresholdCoverage?

    /// Scores predictions against truth, with the probability of each predicted label (`confidence`,
    /// nil when not known) for calibration and coverage, and an ordinal `scale` for level errors.
    public init(truth: [String], predicted: [String], confidence: [Double]?, labelOrder: [String] = [],
                scale: OrdinalScale? = nil) {
        // On an ordinal scale the tables and the confusion matrix list the levels lowest first.
        var order = labelOrder
        if let scale {
            let present = Set(labelOrder + truth + predicted)
            order = scale.levels.filter { present.contains($0) } + labelOrder.filter { scale.level($0) == nil }
        }
        self.init(truth: truth, predicted: predicted, labelOrder: order)
        if let confidence, confidence.count == truth.count {
            let correct = zip(truth, predicted).map { $0 == $1 }
            confidences = confidence
            calibration = Calibration(correct: correct, confidence: confidence)
            coverage = CoveragePoint.table(correct: correct, confidence: confidence)
        }
        if let scale {
            let summary = OrdinalSummary(truth: truth, predicted: predicted, scale: scale)
            if summary.n > 0 { ordinal = summary }
        }
    }

    /// Scores predictions against truth (equal-length arrays of labels).
    public init(truth: [String], predicted: [String], labelOrder: [String] = []) {
        var labels = labelOrder
        var index: [String: Int] = [:]
        for (i, l) in labels.enumerated() { index[l] = i }
        // Labels outside `labelOrder` follow it, sorted by bytes (the same order whatever the row order).
        let extras = Set(truth + predicted).filter { index[$0] == nil }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for l in extras {
            index[l] = labels.count
            labels.append(l)
        }
        let m = labels.count
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: m), count: m)
        for (t, p) in zip(truth, predicted) { confusion[index[t]!][index[p]!] += 1 }
        let n = truth.count
        var correct = 0
        var perClass: [ClassMetrics] = []
        for c in 0..<m {
            let tp = confusion[c][c]
            correct += tp
            let support = confusion[c].reduce(0, +)
            let predictedCount = (0..<m).reduce(0) { $0 + confusion[$1][c] }
            let precision = predictedCount == 0 ? 0 : Double(tp) / Double(predictedCount)
            let recall = support == 0 ? 0 : Double(tp) / Double(support)
            let f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
            perClass.append(ClassMetrics(precision: precision, recall: recall, f1: f1, support: support))
        }
        // scikit-learn averages over the labels present in truth or predictions.
        let present = (0..<m).filter { c in perClass[c].support > 0 || (0..<m).contains { confusion[$0][c] > 0 } }
        let count = Double(max(1, present.count))
        let totalSupport = Double(max(1, n))
        self.labels = labels
        self.confusion = confusion
        self.n = n
        self.accuracy = n == 0 ? 0 : Double(correct) / Double(n)
        self.perClass = perClass
        self.macroPrecision = present.reduce(0) { $0 + perClass[$1].precision } / count
        self.macroRecall = present.reduce(0) { $0 + perClass[$1].recall } / count
        self.macroF1 = present.reduce(0) { $0 + perClass[$1].f1 } / count
        self.weightedPrecision = present.reduce(0) { $0 + perClass[$1].precision * Double(perClass[$1].support) } / totalSupport
        self.weightedRecall = present.reduce(0) { $0 + perClass[$1].recall * Double(perClass[$1].support) } / totalSupport
        self.weightedF1 = present.reduce(0) { $0 + perClass[$1].f1 * Double(perClass[$1].support) } / totalSupport
    }

    /// Drops labels that have neither support nor predictions (keeps tables readable).
    public func compacted() -> EvaluationReport {
        let keep = labels.indices.filter { c in perClass[c].support > 0 || confusion.contains { $0[c] > 0 } }
        var r = self
        r.labels = keep.map { labels[$0] }
        r.perClass = keep.map { perClass[$0] }
        r.confusion = keep.map { t in keep.map { confusion[t][$0] } }
        return r
    }
}
