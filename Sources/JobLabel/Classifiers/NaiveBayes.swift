import Foundation

/// Multinomial Naive Bayes hyper-parameters.
public struct NaiveBayesConfig: Sendable, Equatable, Codable {
    /// Additive (Lidstone) smoothing; 1 = Laplace.
    public var alpha: Double
    /// Learn class priors from the data; false = uniform priors.
    public var fitPrior: Bool

    /// Creates a configuration (scikit-learn's defaults: alpha 1, learned priors).
    public init(alpha: Double = 1.0, fitPrior: Bool = true) {
        self.alpha = alpha
        self.fitPrior = fitPrior
    }
}

/// Multinomial Naive Bayes, as scikit-learn's `MultinomialNB`:
///
///     N_kj = Σ_{i: y_i = k} x_ij                       (feature_count_)
///     log P(j | k) = ln(N_kj + α) − ln(Σ_j' (N_kj' + α))  (feature_log_prob_)
///     log P(k) = ln(n_k / n)  or  −ln K when priors are uniform
///     P(k | x) = softmax_k( log P(k) + Σ_j x_j log P(j | k) )
public enum NaiveBayes {
    /// Fits on the rows of `x` whose label index is ≥ 0; `rowWeights` (one per row, nil: all 1) weigh each
    /// row's counts and its share of the class priors.
    public static func fit(_ config: NaiveBayesConfig, x: CSRMatrix, y: [Int32], classes: [String], rowWeights: [Float]? = nil,
                           parallel: Parallel = Parallel()) -> LinearModel {
        let rowWeights = rowWeights.flatMap { $0.count == x.rowCount ? $0 : nil }
        let k = classes.count, v = x.columnCount
        let alpha = max(config.alpha, 1e-10)  // as scikit-learn, never exactly 0
        var classCount = [Double](repeating: 0, count: k)
        let rows = min(x.rowCount, y.count)
        for i in 0..<rows where y[i] >= 0 && Int(y[i]) < k { classCount[Int(y[i])] += rowWeights.map { Double($0[i]) } ?? 1 }
        // Feature counts in parts of the feature range, one per thread: each part scans the rows in order and
        // adds only its own features, so every sum is taken in the same order for any number of parts.
        var counts = [Double](repeating: 0, count: v * k)
        let parts = max(1, min(parallel.threads, 8, v))
        Kernels.withSparseRows(x) { xs in
            counts.withUnsafeMutableBufferPointer { out in
                parallel.forEachBlock(parts) { part in
                    Kernels.addClassSums(xs, rows: rows, labels: y, k: k, columns: (v * part / parts)..<(v * (part + 1) / parts),
                                         rowWeights: rowWeights, into: out.baseAddress!)
                }
            }
        }
        var totals = [Double](repeating: 0, count: k)
        for j in 0..<v { for c in 0..<k { totals[c] += counts[j * k + c] + alpha } }
        let logTotals = totals.map { log($0) }
        // One log per weight (V × K of them): in parallel blocks of feature rows (each value is computed
        // alone, so the result does not depend on the threads).
        var weights = [Float](repeating: 0, count: v * k)
        weights.withUnsafeMutableBufferPointer { wb in
            let out = wb
            parallel.forEachRange(count: v, blockSize: 8192) { rows in
                for j in rows {
                    for c in 0..<k { out[j * k + c] = Float(log(counts[j * k + c] + alpha) - logTotals[c]) }
                }
            }
        }
        let n = classCount.reduce(0, +)
        let bias: [Float] = (0..<k).map { c in
            config.fitPrior ? Float(log(classCount[c]) - log(n)) : Float(-log(Double(k)))
        }
        return LinearModel(classes: classes, featureCount: v, weights: weights, bias: bias)
    }
}
