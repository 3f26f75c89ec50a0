import Foundation

/// How training rows are weighted per class.
public enum ClassWeight: String, Sendable, Equatable, Codable, CaseIterable {
    /// Every row weighs 1.
    case none
    /// Row weight `n / (K · n_k)`, as scikit-learn's `class_weight="balanced"`.
    case balanced
}

/// Multinomial logistic regression hyper-parameters.
public struct LogisticRegressionConfig: Sendable, Equatable, Codable {
    /// Inverse L2 strength, as scikit-learn's `C`.
    public var C: Double
    /// Newton iteration limit (scikit-learn's `max_iter`; each iteration is one trust-region step).
    public var maxIterations: Int
    /// Stop when the largest gradient component is at most this (scikit-learn's `tol` for lbfgs).
    public var tolerance: Double
    /// Row weighting.
    public var classWeight: ClassWeight

    private enum CodingKeys: String, CodingKey {
        case C = "c", maxIterations, tolerance, classWeight
    }

    /// Creates a configuration (scikit-learn's defaults).
    public init(C: Double = 1.0, maxIterations: Int = 100, tolerance: Double = 1e-4, classWeight: ClassWeight = .none) {
        self.C = C
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        self.classWeight = classWeight
    }
}

/// How an optimisation ended.
public struct OptimizationReport: Sendable, Equatable, Codable {
    /// Newton (trust-region) iterations done: accepted steps.
    public var iterations: Int
    /// Passes over the data: loss-and-gradient evaluations plus Hessian-vector products (one per conjugate
    /// gradient step).
    public var evaluations: Int
    /// Final objective value (scaled, see `LogisticRegression`).
    public var finalLoss: Double
    /// Final largest absolute gradient component.
    public var gradientMax: Double
    /// True when the gradient test was met.
    public var converged: Bool
    /// Why it stopped.
    public var stopReason: String
}

/// Multinomial (softmax) logistic regression with L2 penalty: the model of scikit-learn's
/// `LogisticRegression(solver="lbfgs")`, fitted by another solver. For rows `x_i` (TF-IDF, `1 × V`) with labels `y_i` and row
/// weights `s_i` (1, or balanced class weights), the weights `W` (`V × K`) and intercepts `b` (`1 × K`)
/// minimise
///
///     f(W, b) = (1/S) Σ_i s_i · CE_i + ‖W‖² / (2 C S),   S = Σ_i s_i,
///     CE_i = −log softmax(x_i W + b)_{y_i} = logsumexp(x_i W + b) − (x_i W + b)_{y_i},
///
/// scikit-learn's objective `C Σ_i s_i CE_i + ½‖W‖²` divided by `C S` (same minimiser; the intercept is
/// not penalised). `SoftmaxProblem` evaluates f, its gradient and Hessian-vector products;
/// `TrustRegionNewton` minimises it. Training stops when `max |∂f/∂(W, b)| ≤ tolerance` (the quantity
/// scikit-learn's lbfgs compares with `tol`), after `maxIterations` Newton steps, or when the loss stops
/// decreasing. The solver differs from scikit-learn's, the minimiser does not: at the same tolerance the
/// final objective is at most scikit-learn's (docs/algorithms.md). The result does not depend on the
/// thread count: rows and columns are processed in fixed blocks and reduced in a fixed order.
public enum LogisticRegression {
    /// Fits on the rows of `x` whose label index is ≥ 0. `xT` must be `x.transposed()` (shared across heads),
    /// or may be empty when `needsTranspose` says the problem does not read it.
    /// `initial`, a model with the same classes and features (e.g. fitted on a subset of the rows), is the
    /// starting point instead of zero weights; `onIteration` is called after each Newton iteration with its
    /// number (on the calling thread). `parallel` sets the worker threads (the result does not depend on them).
    public static func fit(_ config: LogisticRegressionConfig, x: CSRMatrix, xT: CSRMatrix, y: [Int32],
                           classes: [String], initial: LinearModel? = nil, rowWeights: [Float]? = nil, parallel: Parallel = Parallel(),
                           onIteration: ((Int) -> Void)? = nil) -> (LinearModel, OptimizationReport) {
        let k = classes.count, v = x.columnCount
        if k == 0 || y.count != x.rowCount {
            // Nothing to learn (no classes, or labels that do not match the rows): an empty model, not a trap.
            return (LinearModel(classes: classes, featureCount: v, weights: [Float](repeating: 0, count: v * k),
                                bias: [Float](repeating: 0, count: k)),
                    OptimizationReport(iterations: 0, evaluations: 0, finalLoss: 0, gradientMax: 0, converged: false,
                                       stopReason: k == 0 ? "no classes to learn" : "labels do not match the rows"))
        }
        let problem = SoftmaxProblem(x: x, xT: xT, y: y, k: k, C: config.C,
                                     sampleWeights: sampleWeights(y, k: k, mode: config.classWeight, rowWeights: rowWeights),
                                     parallel: parallel)
        var theta = [Float](repeating: 0, count: problem.parameterCount)
        if let initial, initial.classCount == k, initial.featureCount == v {
            // θ holds scaled parameters (W = σ ⊙ u, b = σ_b v; see SoftmaxProblem), so divide by the scales.
            let w0 = initial.weights
            for j in 0..<v { for c in 0..<k { theta[j * k + c] = w0[j * k + c] / problem.scales[j] } }
            for c in 0..<k { theta[v * k + c] = initial.bias[c] / problem.scales[v] }
        }
        // The stopping norm is read once before the first iteration and once after each.
        var normReads = 0
        let stoppingNorm: () -> Double = {
            if normReads > 0 { onIteration?(normReads) }
            normReads += 1
            return problem.lastGradientMax
        }
        let report = TrustRegionNewton.minimize(&theta, problem, maxIterations: config.maxIterations, gtol: config.tolerance,
                                                parallel: parallel, stoppingNorm: stoppingNorm)
        let (weights, bias) = problem.weightsAndBias(theta)
        return (LinearModel(classes: classes, featureCount: v, weights: weights, bias: bias), report)
    }

    /// True when fitting a problem of this shape reads `xT`; otherwise (a small vocabulary and many rows:
    /// one fused pass over the rows) `fit` may be given an empty matrix for it.
    public static func needsTranspose(rows: Int, features: Int, classes: Int) -> Bool {
        !SoftmaxProblem.usesFusedPass(rows: rows, features: features, classes: classes)
    }

    /// Per-row weights: 0 for unlabeled rows, else 1 or `n / (K · n_k)`.
    static func sampleWeights(_ y: [Int32], k: Int, mode: ClassWeight, rowWeights: [Float]? = nil) -> [Float] {
        var counts = [Int](repeating: 0, count: k)
        for c in y where c >= 0 { counts[Int(c)] += 1 }
        let n = counts.reduce(0, +)
        let rowWeights = rowWeights.flatMap { $0.count == y.count ? $0 : nil }
        return y.indices.map { i in
            let c = y[i]
            if c < 0 { return 0 }
            let s: Float
            switch mode {
            case .none: s = 1
            case .balanced: s = Float(Double(n) / (Double(k) * Double(counts[Int(c)])))
            }
            return rowWeights.map { s * $0[i] } ?? s
        }
    }
}
