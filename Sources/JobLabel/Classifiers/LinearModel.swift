import Foundation

/// A fitted linear scorer over TF-IDF features: `score(x) = x · W + b`, probabilities by softmax (scored by
/// `Predictor`, the one scoring path). Both classifiers reduce to this at prediction time (for Naive Bayes, `W` holds log P(term | class)
/// and `b` the log priors, so the softmax of the scores is exactly `predict_proba`).
public struct LinearModel: Sendable, Equatable {
    /// Class labels; column `k` of `weights` belongs to `classes[k]`.
    public let classes: [String]
    /// Number of features (rows of `weights`).
    public let featureCount: Int
    /// Row-major `featureCount × classes.count` weights: row `j` holds feature `j`'s weight for every class.
    public let weights: [Float]
    /// One bias per class.
    public let bias: [Float]

    /// Creates a model; shapes must agree.
    public init(classes: [String], featureCount: Int, weights: [Float], bias: [Float]) {
        precondition(weights.count == featureCount * classes.count && bias.count == classes.count)
        self.classes = classes
        self.featureCount = featureCount
        self.weights = weights
        self.bias = bias
    }

    /// Number of classes.
    public var classCount: Int { classes.count }
}

/// Sorted distinct labels (byte order, as numpy's `unique` on Python strings) and each row's class index
/// (-1 where the label is nil).
public func encodeLabels(_ labels: [String?]) -> (classes: [String], y: [Int32]) {
    let classes = Array(Set(labels.compactMap { $0 })).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    var index: [String: Int32] = [:]
    for (i, c) in classes.enumerated() { index[c] = Int32(i) }
    return (classes, labels.map { $0.flatMap { index[$0] } ?? -1 })
}
