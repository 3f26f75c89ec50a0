import Foundation

/// A fitted linear scorer over TF-IDF features: `score(x) = x · W + b`, probabilities by softmax.
/// Both classifiers reduce to this at prediction time (for Naive Bayes, `W` holds log P(term | class)
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

    /// Raw scores for every row, row-major `rows × classes`.
    public func scores(_ x: CSRMatrix) -> [Float] {
        precondition(x.columnCount <= featureCount, "matrix has more columns than the model has features")
        let n = x.rowCount, k = classCount, kp = paddedWidth(classCount)
        // The kernels read rows padded to a multiple of 8 columns.
        var paddedWeights = [Float](repeating: 0, count: featureCount * kp)
        for j in 0..<featureCount { for c in 0..<k { paddedWeights[j * kp + c] = weights[j * k + c] } }
        var padded = [Float](repeating: 0, count: n * kp)
        var out = [Float](repeating: 0, count: n * k)
        if n == 0 || k == 0 { return out }
        padded.withUnsafeMutableBufferPointer { pb in
            paddedWeights.withUnsafeBufferPointer { wb in
                bias.withUnsafeBufferPointer { bb in
                    Kernels.withSparseRows(x) { xs in
                        let p = pb.baseAddress!, b = bb.baseAddress!
                        let w = wb.baseAddress ?? UnsafePointer(p)  // no features: the sparse rows are empty and w is never read
                        Parallel.forEachRange(count: n, blockSize: 512) { rows in
                            Kernels.sparseTimesDense(xs, rows: rows, dense: w, kp: kp, out: p)
                            Kernels.addBias(p, rows: rows, kp: kp, bias: b, k: k)
                        }
                    }
                }
            }
        }
        for i in 0..<n { for c in 0..<k { out[i * k + c] = padded[i * kp + c] } }
        return out
    }

    /// Class probabilities for every row, row-major `rows × classes` (softmax of the scores).
    public func probabilities(_ x: CSRMatrix) -> [Float] {
        var s = scores(x)
        LinearModel.softmaxRows(&s, classes: classCount)
        return s
    }

    /// In-place softmax of each row, computed as `exp(s - logsumexp(s))` in Double.
    public static func softmaxRows(_ s: inout [Float], classes k: Int) {
        if k == 0 { return }
        let rows = s.count / k
        for i in 0..<rows {
            let base = i * k
            var m = -Double.infinity
            for c in 0..<k { m = max(m, Double(s[base + c])) }
            var sum = 0.0
            for c in 0..<k { sum += exp(Double(s[base + c]) - m) }
            let lse = m + log(sum)
            for c in 0..<k { s[base + c] = Float(exp(Double(s[base + c]) - lse)) }
        }
    }

    /// Index of the largest value in each row (first one on ties, as numpy's argmax).
    public static func argmaxRows(_ p: [Float], classes k: Int) -> [Int] {
        if k == 0 { return [] }
        return (0..<(p.count / k)).map { i in
            var best = 0
            for c in 1..<k where p[i * k + c] > p[i * k + best] { best = c }
            return best
        }
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
