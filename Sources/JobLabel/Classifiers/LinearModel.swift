import Foundation

/// A fitted linear scorer over TF-IDF features: `score(x) = x · W + b`, probabilities by softmax (scored by
/// `Predictor`, the one scoring path). Both classifiers reduce to this at prediction time (for Naive Bayes, `W` holds log P(term | class)
/// and `b` the log priors, so the softmax of the scores is exactly `predict_proba`).
public struct LinearModel: Sendable, Equatable {
    /// Class labels; column `k` of `weights` belongs to `classes[k]`.
    public let classes: [String]
    /// Number of features (rows of `weights`).
    public let featureCount: Int
    /// The weights when they are an array (empty when they are used in place in a model file).
    private let stored: [Float]
    /// The weights when they are used in place in a loaded model file's bytes (nil: `stored`).
    private let mapped: MappedFloats?
    /// One bias per class.
    public let bias: [Float]

    /// Row-major `featureCount × classes.count` weights: row `j` holds feature `j`'s weight for every class.
    /// A loaded model's weights stay in the model file's memory; this copies them (`withWeights` does not).
    public var weights: [Float] {
        guard let mapped else { return stored }
        return Array(mapped.buffer)
    }

    /// Creates a model; shapes must agree.
    public init(classes: [String], featureCount: Int, weights: [Float], bias: [Float]) {
        precondition(weights.count == featureCount * classes.count && bias.count == classes.count)
        self.classes = classes
        self.featureCount = featureCount
        self.stored = weights
        self.mapped = nil
        self.bias = bias
    }

    /// A model whose weights are `count` floats of a weights file's bytes (verified, aligned, kept alive by
    /// `owner`), used in place.
    init(classes: [String], featureCount: Int, weightsIn owner: WeightsBytes, offset: Int, bias: [Float]) {
        let count = featureCount * classes.count
        precondition(bias.count == classes.count && offset % 4 == 0 && offset + 4 * count <= owner.bytes.count)
        self.classes = classes
        self.featureCount = featureCount
        self.stored = []
        self.mapped = MappedFloats(owner: owner, offset: offset, count: count)
        self.bias = bias
    }

    /// Calls `body` with the weights (row-major, as `weights`) without copying them.
    @inline(__always)
    func withWeights<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        if let mapped { return try body(mapped.buffer) }
        return try stored.withUnsafeBufferPointer(body)
    }

    /// Number of classes.
    public var classCount: Int { classes.count }

    public static func == (a: LinearModel, b: LinearModel) -> Bool {
        a.classes == b.classes && a.featureCount == b.featureCount && a.bias == b.bias
            && a.withWeights { x in b.withWeights { y in x.elementsEqual(y) } }
    }
}

/// Floats of a weights file's bytes (4-byte aligned, little-endian as the host), kept alive by their owner.
struct MappedFloats: @unchecked Sendable {
    let owner: WeightsBytes
    let offset: Int
    let count: Int

    var buffer: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: (owner.bytes.baseAddress! + offset).assumingMemoryBound(to: Float.self), count: count)
    }
}

/// Sorted distinct labels (byte order, as numpy's `unique` on Python strings) and each row's class index
/// (-1 where the label is nil).
public func encodeLabels(_ labels: [String?]) -> (classes: [String], y: [Int32]) {
    let classes = Array(Set(labels.compactMap { $0 })).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    var index: [String: Int32] = [:]
    for (i, c) in classes.enumerated() { index[c] = Int32(i) }
    return (classes, labels.map { $0.flatMap { index[$0] } ?? -1 })
}
