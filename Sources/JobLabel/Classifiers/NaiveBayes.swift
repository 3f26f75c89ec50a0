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
    /// Fits on the rows of `x` whose label index is ≥ 0.
    public static func fit(_ config: NaiveBayesConfig, x: CSRMatrix, y: [Int32], classes: [String]) -> LinearModel {
        let k = classes.count, v = x.columnCount
        let alpha = max(config.alpha, 1e-10)  // as scikit-learn, never exactly 0
        var counts = [Double](repeating: 0, count: v * k)
        var classCount = [Double](repeating: 0, count: k)
        for i in 0..<min(x.rowCount, y.count) where y[i] >= 0 && Int(y[i]) < k {
            let c = Int(y[i])
            classCount[c] += 1
            for t in x.row(i) {
                counts[Int(x.columns[t]) * k + c] += Double(x.values[t])
            }
        }
        var totals = [Double](repeating: 0, count: k)
        for j in 0..<v { for c in 0..<k { totals[c] += counts[j * k + c] + alpha } }
        var weights = [Float](repeating: 0, count: v * k)
        for j in 0..<v {
            for c in 0..<k {
                weights[j * k + c] = Float(log(counts[j * k + c] + alpha) - log(totals[c]))
            }
        }
        let n = classCount.reduce(0, +)
        let bias: [Float] = (0..<k).map { c in
            config.fitPrior ? Float(log(classCount[c]) - log(n)) : Float(-log(Double(k)))
        }
        return LinearModel(classes: classes, featureCount: v, weights: weights, bias: bias)
    }
}
