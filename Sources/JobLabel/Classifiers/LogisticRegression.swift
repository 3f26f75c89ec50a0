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
    /// L-BFGS iteration limit (scikit-learn's `max_iter`).
    public var maxIterations: Int
    /// Stop when the largest gradient component is at most this (scikit-learn's `tol` for lbfgs).
    public var tolerance: Double
    /// Row weighting.
    public var classWeight: ClassWeight
    /// L-BFGS memory (scipy's default 10).
    public var history: Int

    private enum CodingKeys: String, CodingKey {
        case C = "c", maxIterations, tolerance, classWeight, history
    }

    /// Creates a configuration (scikit-learn's defaults).
    public init(C: Double = 1.0, maxIterations: Int = 100, tolerance: Double = 1e-4,
                classWeight: ClassWeight = .none, history: Int = 10) {
        self.C = C
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        self.classWeight = classWeight
        self.history = history
    }
}

/// How an optimisation ended.
public struct OptimizationReport: Sendable, Equatable, Codable {
    /// L-BFGS iterations done.
    public var iterations: Int
    /// Loss evaluations (including line-search steps).
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

/// Multinomial (softmax) logistic regression with L2 penalty, trained by L-BFGS (memory 10, strong-Wolfe
/// line search), minimising scikit-learn's lbfgs objective
///
///     f(W, b) = (1/S) Σ_i s_i · (−log softmax(x_i W + b)_{y_i}) + ‖W‖² / (2 C S),   S = Σ_i s_i
///
/// with row weights `s_i` (1, or balanced class weights) and the intercept `b` not penalised. It stops
/// when `max |∇f| ≤ tol` (scipy's `gtol`), after `maxIterations`, or when the loss stops decreasing.
/// The result does not depend on the thread count: rows and columns are processed in fixed blocks and
/// reduced in a fixed order.
public enum LogisticRegression {
    /// Fits on the rows of `x` whose label index is ≥ 0. `xT` must be `x.transposed()` (shared across heads),
    /// or may be empty when `needsTranspose` says the problem does not read it.
    /// `initial`, a model with the same classes and features (e.g. fitted on a subset of the rows), is the
    /// starting point instead of zero weights; `onIteration` is called after each L-BFGS iteration with
    /// its number (cheap: once per iteration, on the calling thread).
    public static func fit(_ config: LogisticRegressionConfig, x: CSRMatrix, xT: CSRMatrix, y: [Int32],
                           classes: [String], initial: LinearModel? = nil,
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
                                     sampleWeights: sampleWeights(y, k: k, mode: config.classWeight))
        var theta = [Float](repeating: 0, count: problem.parameterCount)
        if let initial, initial.classCount == k, initial.featureCount == v {
            // θ holds scaled parameters (W = σ ⊙ u, b = σ_b v; see SoftmaxProblem), so divide by the scales.
            for j in 0..<v { for c in 0..<k { theta[j * k + c] = initial.weights[j * k + c] / problem.scales[j] } }
            for c in 0..<k { theta[v * k + c] = initial.bias[c] / problem.scales[v] }
        }
        // The stopping norm is read once before the first iteration and once after each.
        var normReads = 0
        let report = LBFGS.minimize(&theta, history: config.history, maxIterations: config.maxIterations,
                                    gtol: config.tolerance, stoppingNorm: {
                                        if normReads > 0 { onIteration?(normReads) }
                                        normReads += 1
                                        return problem.lastGradientMax
                                    }) {
            problem.lossAndGradient($0, gradient: &$1)
        }
        let (weights, bias) = problem.weightsAndBias(theta)
        return (LinearModel(classes: classes, featureCount: v, weights: weights, bias: bias), report)
    }

    /// True when fitting a problem of this shape reads `xT`; otherwise (a small vocabulary and many rows:
    /// one fused pass over the rows) `fit` may be given an empty matrix for it.
    public static func needsTranspose(rows: Int, features: Int, classes: Int) -> Bool {
        !SoftmaxProblem.usesFusedPass(rows: rows, features: features, classes: classes)
    }

    /// Per-row weights: 0 for unlabeled rows, else 1 or `n / (K · n_k)`.
    static func sampleWeights(_ y: [Int32], k: Int, mode: ClassWeight) -> [Float] {
        var counts = [Int](repeating: 0, count: k)
        for c in y where c >= 0 { counts[Int(c)] += 1 }
        let n = counts.reduce(0, +)
        return y.map { c in
            if c < 0 { return 0 }
            switch mode {
            case .none: return 1
            case .balanced: return Float(Double(n) / (Double(k) * Double(counts[Int(c)])))
            }
        }
    }
}

/// The softmax cross-entropy objective and its gradient over a CSR matrix and its transpose.
///
/// The optimiser works on scaled parameters θ = (u, v): `V × K` row-major `u` and `K` values `v`, with
/// weights `W[j,:] = σ_j u[j,:]` and biases `b = σ_b v`. The scales are a diagonal preconditioner,
/// `σ_j = 1/√h_j` with `h_j` the Hessian's diagonal at W = 0, `h_j = (K−1)/K² · (1/S) Σ_i s_i x_ij² + 1/(C S)`
/// (and likewise for the unpenalised biases, whose curvature is otherwise hundreds of times the weights'),
/// so L-BFGS needs fewer iterations. The objective and its minimiser are unchanged (a change of
/// variables); the stopping test uses the gradient in W and b (`lastGradientMax`), as scikit-learn's does.
///
/// One evaluation is two sparse passes over `kp`-wide rows (`kp` = K rounded up to a multiple of 8):
/// scores and residuals row block by row block, then the gradient column block by column block through `xᵀ`.
final class SoftmaxProblem {
    let x: CSRMatrix
    let xT: CSRMatrix
    let y: [Int32]
    let k: Int
    /// Padded class count.
    let kp: Int
    let C: Double
    let sampleWeights: [Float]
    let weightSum: Double
    /// Per feature scale σ_j, then the bias scale σ_b (the preconditioner; all 1 without it).
    let scales: [Float]
    /// `n × kp` scores, then residuals, reused across evaluations.
    private var residual: [Float]
    /// The weights σ ⊙ u of the last evaluation (`V × kp`, then `kp` biases; padding zero).
    private var effective: [Float]
    /// max |∂f/∂W|, |∂f/∂b| at the last evaluated point (scikit-learn's stopping quantity).
    private(set) var lastGradientMax = Double.infinity
    /// When W is too large for the caches: the rows of x in tiles of `tileRows`, each stored by column, so
    /// the scores pass reads W once per tile in order and adds into the tile's (cache-sized) score rows
    /// instead of gathering W's rows at random. Empty otherwise.
    let tiles: [CSRMatrix]
    /// Rows per tile (the score rows of one tile fill about 768 KiB).
    let tileRows: Int
    /// When W is small and the rows many: one pass per evaluation, row by row — scores, residuals, and
    /// the gradient scattered into one of `fusedParts` partial gradients (one per fixed chunk of rows,
    /// summed in chunk order), so neither xᵀ nor an `n × kp` residual matrix is read.
    let fused: Bool
    static let fusedParts = 8
    /// The partial gradients of the fused pass (`fusedParts × V × kp`).
    private var partials: [Float] = []

    static let rowBlock = 256
    static let columnBlock = 1024

    /// `fusedPass` and `tileRows` force a pass (nil: chosen by the problem's shape; tests compare them).
    init(x: CSRMatrix, xT: CSRMatrix, y: [Int32], k: Int, C: Double, sampleWeights: [Float], precondition: Bool = true,
         fusedPass: Bool? = nil, tileRows forcedTileRows: Int? = nil) {
        self.x = x
        self.xT = xT
        self.y = y
        self.k = k
        self.kp = paddedWidth(k)
        self.C = C
        self.sampleWeights = sampleWeights
        let weightSum = max(1e-300, sampleWeights.reduce(0.0) { $0 + Double($1) })
        self.weightSum = weightSum
        let v = x.columnCount
        let kp = paddedWidth(k)
        self.fused = fusedPass ?? SoftmaxProblem.usesFusedPass(rows: x.rowCount, features: v, classes: k)
        self.residual = fused ? [] : [Float](repeating: 0, count: x.rowCount * kp)
        self.effective = [Float](repeating: 0, count: v * kp + kp)
        self.tileRows = forcedTileRows ?? max(256, (768 * 1024 / 4 / kp) & ~255)
        self.tiles = !fused && (forcedTileRows != nil || v * kp * 4 > 2 << 20) ? SoftmaxProblem.columnTiles(x, rows: tileRows) : []
        guard precondition else {
            self.scales = [Float](repeating: 1, count: v + 1)
            return
        }
        let curvature = Double(max(k - 1, 1)) / Double(k * k)
        let l2 = 1 / (C * weightSum)
        var scales = [Float](repeating: 1, count: v + 1)
        var h = [Double](repeating: 0, count: v)
        for i in 0..<x.rowCount where sampleWeights[i] != 0 {
            let s = Double(sampleWeights[i])
            for t in x.row(i) {
                let value = Double(x.values[t])
                h[Int(x.columns[t])] += s * value * value
            }
        }
        for j in 0..<v { scales[j] = Float(1 / (curvature * h[j] / weightSum + l2).squareRoot()) }
        scales[v] = Float(1 / curvature.squareRoot())
        self.scales = scales
    }

    /// Length of θ.
    var parameterCount: Int { x.columnCount * k + k }

    /// True when a problem of this shape takes the fused row pass (small W, many rows): it needs no xᵀ.
    static func usesFusedPass(rows n: Int, features v: Int, classes k: Int) -> Bool {
        let kp = paddedWidth(k)
        return v * kp * 4 <= 2 << 20 && n * kp * 4 > 8 << 20
    }

    /// The fused pass: per fixed chunk of rows, scores, residuals and a partial gradient; the partials are
    /// summed in chunk order and finished like the column pass. Returns (data loss, Σ w², max |∂f/∂W|).
    private func fusedPass(_ xs: SparseRows, w: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>,
                           sigma: UnsafePointer<Float>, g: UnsafeMutablePointer<Float>, biasGradient: inout [Double],
                           invS: Double, l2: Double) -> (Double, Double, Float) {
        let n = x.rowCount, v = x.columnCount, k = self.k, kp = self.kp
        let parts = SoftmaxProblem.fusedParts, stride = v * kp
        if partials.count != parts * stride { partials = [Float](repeating: 0, count: parts * stride) }
        let weights = sampleWeights, labels = y
        let chunk = (n + parts - 1) / parts
        var dataLoss = 0.0, penalty = 0.0
        var gradientMax: Float = 0
        partials.withUnsafeMutableBufferPointer { pb in
            let partialBase = pb.baseAddress!
            let chunkResults = Parallel.mapRanges(count: parts, blockSize: 1) { range -> (Double, [Float]) in
                let c = range.lowerBound
                let out = partialBase + c * stride
                out.update(repeating: 0, count: stride)
                var loss = 0.0
                var biasSum = [Float](repeating: 0, count: kp)
                var buffer = [Float](repeating: 0, count: SoftmaxProblem.rowBlock * kp)
                let rows = min(n, c * chunk)..<min(n, (c + 1) * chunk)
                buffer.withUnsafeMutableBufferPointer { bb in
                    biasSum.withUnsafeMutableBufferPointer { bs in
                        let scores = bb.baseAddress!
                        var lo = rows.lowerBound
                        while lo < rows.upperBound {
                            let sub = lo..<min(rows.upperBound, lo + SoftmaxProblem.rowBlock)
                            Kernels.sparseTimesDense(xs, rows: sub, dense: w, kp: kp, out: scores, firstOutRow: lo)
                            for i in sub {
                                let row = scores + (i - lo) * kp
                                let s = weights[i]
                                if s == 0 {
                                    row.update(repeating: 0, count: kp)
                                    continue
                                }
                                loss += Kernels.softmaxResidual(row, bias: bias, k: k, y: Int(labels[i]), weight: s, biasSum: bs.baseAddress!)
                            }
                            Kernels.scatterRows(xs, rows: sub, dense: scores, firstRow: lo, kp: kp, out: out)
                            lo = sub.upperBound
                        }
                    }
                }
                return (loss, biasSum)
            }
            dataLoss += SoftmaxProblem.addRowParts(chunkResults, kp: kp, into: &biasGradient)
            (penalty, gradientMax) = gradientColumns(w: w, sigma: sigma, g: g, invS: invS, l2: l2) { cols, scratch in
                Kernels.sumParts(partialBase, count: parts, stride: stride, (cols.lowerBound * kp)..<(cols.upperBound * kp), into: scratch)
            }
        }
        return (dataLoss, penalty, gradientMax)
    }

    /// Adds per-chunk bias-gradient partials (in chunk order) to `biasGradient`; returns the summed loss.
    private static func addRowParts(_ parts: [(Double, [Float])], kp: Int, into biasGradient: inout [Double]) -> Double {
        var loss = 0.0
        for (l, part) in parts {
            loss += l
            for c in 0..<kp { biasGradient[c] += Double(part[c]) }
        }
        return loss
    }

    /// ∂f/∂W per fixed block of features: `fill(cols, scratch)` writes (Xᵀ R)[cols, :] (`cols.count × kp`)
    /// to zeroed scratch, then `Kernels.gradientEpilogue` finishes the block into `g`. Returns Σ w² and
    /// max |∂f/∂W| over all blocks (summed in block order).
    private func gradientColumns(w: UnsafePointer<Float>, sigma: UnsafePointer<Float>, g: UnsafeMutablePointer<Float>,
                                 invS: Double, l2: Double,
                                 fill: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) -> (Double, Float) {
        let k = self.k, kp = self.kp
        let columnParts = Parallel.mapRanges(count: x.columnCount, blockSize: SoftmaxProblem.columnBlock) { cols -> (Double, Float) in
            var block = [Float](repeating: 0, count: cols.count * kp)
            return block.withUnsafeMutableBufferPointer { bb in
                let scratch = bb.baseAddress!
                fill(cols, scratch)
                return Kernels.gradientEpilogue(scratch, w, sigma, into: g, rows: cols, k: k, kp: kp, a: Float(invS), b: Float(l2))
            }
        }
        var penalty = 0.0
        var gradientMax: Float = 0
        for (p, m) in columnParts {
            penalty += p
            gradientMax = max(gradientMax, m)
        }
        return (penalty, gradientMax)
    }

    /// `x` cut into tiles of `rows` rows, each stored by column (offsets per column; entries hold the row
    /// within the tile, ascending).
    static func columnTiles(_ x: CSRMatrix, rows: Int) -> [CSRMatrix] {
        let v = x.columnCount
        return Parallel.mapRanges(count: x.rowCount, blockSize: rows) { range in
            var offsets = [Int64](repeating: 0, count: v + 1)
            for t in Int(x.rowOffsets[range.lowerBound])..<Int(x.rowOffsets[range.upperBound]) { offsets[Int(x.columns[t]) + 1] += 1 }
            for j in 0..<v { offsets[j + 1] += offsets[j] }
            var next = offsets
            var rowsOf = [Int32](repeating: 0, count: Int(offsets[v]))
            var values = [Float](repeating: 0, count: Int(offsets[v]))
            for i in range {
                for t in x.row(i) {
                    let j = Int(x.columns[t])
                    let at = Int(next[j])
                    rowsOf[at] = Int32(i - range.lowerBound)
                    values[at] = x.values[t]
                    next[j] += 1
                }
            }
            return CSRMatrix(rowOffsets: offsets, columns: rowsOf, values: values, columnCount: range.count)
        }
    }

    /// Gives `body` the tiles' raw arrays (empty when the problem has no tiles).
    private func withTiles<R>(_ body: ([SparseRows]) -> R) -> R {
        func collect(_ i: Int, _ acc: [SparseRows]) -> R {
            if i == tiles.count { return body(acc) }
            return Kernels.withSparseRows(tiles[i]) { collect(i + 1, acc + [$0]) }
        }
        return collect(0, [])
    }

    /// θ as `V × K` weights and `K` biases (scales applied).
    func weightsAndBias(_ theta: [Float]) -> (weights: [Float], bias: [Float]) {
        let v = x.columnCount
        var w = [Float](repeating: 0, count: v * k)
        for j in 0..<v { for c in 0..<k { w[j * k + c] = scales[j] * theta[j * k + c] } }
        return (w, (0..<k).map { scales[v] * theta[v * k + $0] })
    }

    /// Returns f(θ) and writes ∂f/∂θ into `gradient`.
    func lossAndGradient(_ theta: [Float], gradient: inout [Float]) -> Double {
        let n = x.rowCount, v = x.columnCount, k = self.k, kp = self.kp
        precondition(theta.count == parameterCount)
        if gradient.count != theta.count { gradient = [Float](repeating: 0, count: theta.count) }
        let invS = 1 / weightSum
        let l2 = 1 / (C * weightSum)
        let weights = sampleWeights, labels = y
        var dataLoss = 0.0, penalty = 0.0
        var biasGradient = [Double](repeating: 0, count: kp)
        var gradientMax: Float = 0
        theta.withUnsafeBufferPointer { tb in
            gradient.withUnsafeMutableBufferPointer { gb in
                residual.withUnsafeMutableBufferPointer { rb in
                    effective.withUnsafeMutableBufferPointer { eb in
                        scales.withUnsafeBufferPointer { sb in
                            Kernels.withSparseRows(x) { xs in
                                Kernels.withSparseRows(xT) { xts in
                                    let u = tb.baseAddress!, g = gb.baseAddress!, r = rb.baseAddress ?? g
                                    let w = eb.baseAddress!, sigma = sb.baseAddress!
                                    // 0. W = σ ⊙ u (rows padded to kp), b = σ_b v.
                                    Parallel.forEachRange(count: v + 1, blockSize: SoftmaxProblem.columnBlock) { rows in
                                        Kernels.scaleRows(u, sigma, into: w, rows: rows, k: k, kp: kp)
                                    }
                                    let bias = w + v * kp
                                    if fused {
                                        (dataLoss, penalty, gradientMax) = fusedPass(xs, w: w, bias: bias, sigma: sigma, g: g,
                                                                                     biasGradient: &biasGradient, invS: invS, l2: l2)
                                    } else {
                                        // 1. Scores, softmax and residuals R[i,:] = s_i (p_i − onehot(y_i)), per row block
                                        //    (or per row tile, its scores scattered from W column by column).
                                        let tileRows = self.tileRows
                                        let rowParts = withTiles { tileBlocks in
                                            Parallel.mapRanges(count: n, blockSize: tileBlocks.isEmpty ? SoftmaxProblem.rowBlock : tileRows) { rows -> (Double, [Float]) in
                                                if tileBlocks.isEmpty {
                                                    Kernels.sparseTimesDense(xs, rows: rows, dense: w, kp: kp, out: r)
                                                } else {
                                                    let out = r + rows.lowerBound * kp
                                                    out.update(repeating: 0, count: rows.count * kp)
                                                    Kernels.scatterColumns(tileBlocks[rows.lowerBound / tileRows], columns: 0..<v, dense: w, kp: kp, out: out)
                                                }
                                                var loss = 0.0
                                                var biasSum = [Float](repeating: 0, count: kp)
                                                biasSum.withUnsafeMutableBufferPointer { bs in
                                                    for i in rows {
                                                        let s = weights[i]
                                                        if s == 0 {
                                                            for c in 0..<kp { r[i * kp + c] = 0 }
                                                            continue
                                                        }
                                                        loss += Kernels.softmaxResidual(r + i * kp, bias: bias, k: k, y: Int(labels[i]),
                                                                                        weight: s, biasSum: bs.baseAddress!)
                                                    }
                                                }
                                                return (loss, biasSum)
                                            }
                                        }
                                        dataLoss += SoftmaxProblem.addRowParts(rowParts, kp: kp, into: &biasGradient)
                                        // 2. ∂f/∂W[j,:] = (Xᵀ R)[j,:] / S + W[j,:] / (C S), then ∂f/∂u = σ_j ∂f/∂W, per feature block.
                                        (penalty, gradientMax) = gradientColumns(w: w, sigma: sigma, g: g, invS: invS, l2: l2) { cols, scratch in
                                            Kernels.sparseTimesDense(xts, rows: cols, dense: r, kp: kp, out: scratch, firstOutRow: cols.lowerBound)
                                        }
                                    }
                                    for c in 0..<k {
                                        let gb = Float(biasGradient[c] * invS)
                                        gradientMax = max(gradientMax, abs(gb))
                                        g[v * k + c] = sigma[v] * gb
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        lastGradientMax = Double(gradientMax)
        return dataLoss * invS + 0.5 * l2 * penalty
    }
}

/// Limited-memory BFGS with a strong-Wolfe line search (Nocedal & Wright, algorithms 7.4, 3.5, 3.6),
/// in the "vector-free" form (Chen et al., NIPS 2014): the two-loop recursion runs on the small matrix of
/// dot products between the history vectors and the gradient, so each iteration reads the history twice
/// (once to update the dot products, once to form the direction) instead of four times. In exact
/// arithmetic the directions equal the classic two-loop recursion's. The history pairs (s, y) are stored
/// as bfloat16 (8-bit mantissa, Float's range), which halves the memory traffic that dominates an
/// iteration on large models; the dot products are computed from the stored values, so the recursion is
/// exactly L-BFGS on those (slightly rounded) pairs.
enum LBFGS {
    /// Elements per block of the blocked, parallel vector passes.
    static let block = 8192

    /// Minimises `f` from `x` (updated in place). `f(x, &g)` returns the value and writes the gradient.
    /// The stopping test compares `stoppingNorm()` (evaluated right after the accepted point's evaluation)
    /// with `gtol`; by default the largest gradient component.
    static func minimize(_ x: inout [Float], history m: Int, maxIterations: Int, gtol: Double,
                         ftol: Double = 64 * Double.ulpOfOne, stoppingNorm: (() -> Double)? = nil,
                         _ f: ([Float], inout [Float]) -> Double) -> OptimizationReport {
        let state = LBFGSState(x: x, history: max(1, m))
        let report = state.run(maxIterations: maxIterations, gtol: gtol, ftol: ftol, stoppingNorm: stoppingNorm, f)
        x = state.x
        return report
    }
}

/// Working storage of one L-BFGS run.
private final class LBFGSState {
    let n: Int
    let m: Int
    var x: [Float]
    var g: [Float]
    var d: [Float]
    var xTrial: [Float]
    var gTrial: [Float]
    /// m + 1 slots for s and y (bfloat16): a new pair is written to a free slot before the oldest is dropped.
    var sSlots: [[UInt16]] = []
    var ySlots: [[UInt16]] = []
    /// Slots in use, oldest first.
    var order: [Int] = []
    /// Dot products by slot: ss[a][b] = s_a·s_b, sy[a][b] = s_a·y_b, yy[a][b] = y_a·y_b; sg/yg with the gradient.
    var ss: [[Double]], sy: [[Double]], yy: [[Double]]
    var sg: [Double], yg: [Double]
    var gg = 0.0

    init(x: [Float], history m: Int) {
        n = x.count
        self.m = m
        self.x = x
        g = [Float](repeating: 0, count: n)
        d = g
        xTrial = g
        gTrial = g
        let slots = m + 1
        ss = [[Double]](repeating: [Double](repeating: 0, count: slots), count: slots)
        sy = ss
        yy = ss
        sg = [Double](repeating: 0, count: slots)
        yg = sg
    }

    func run(maxIterations: Int, gtol: Double, ftol: Double, stoppingNorm: (() -> Double)?,
             _ f: ([Float], inout [Float]) -> Double) -> OptimizationReport {
        var fx = f(x, &g)
        var evaluations = 1
        gg = blockedDot(g, g)
        var gmax = stoppingNorm?() ?? Double(Kernels.maxAbs(g))
        if gmax <= gtol {
            return OptimizationReport(iterations: 0, evaluations: 1, finalLoss: fx, gradientMax: gmax,
                                      converged: true, stopReason: "gradient below tolerance")
        }
        var iteration = 0
        var reason = "iteration limit reached"
        var converged = false
        while iteration < maxIterations {
            var (cs, cy, cg) = directionCoefficients()
            var initial = order.isEmpty ? 1 / max(1e-12, gg.squareRoot()) : 1.0
            var dg = formDirection(cs: cs, cy: cy, cg: cg, trialStep: initial)
            if !(dg < 0) {  // not a descent direction: restart from steepest descent
                order.removeAll()
                (cs, cy, cg) = directionCoefficients()
                initial = 1 / max(1e-12, gg.squareRoot())
                dg = formDirection(cs: cs, cy: cy, cg: cg, trialStep: initial)
            }
            guard let step = lineSearch(fx: fx, dg0: dg, initial: initial, evaluations: &evaluations, f) else {
                reason = "line search could not decrease the loss further"
                converged = false
                break
            }
            iteration += 1
            gmax = update()
            if let stoppingNorm { gmax = stoppingNorm() }
            let fOld = fx
            fx = step.f
            if gmax <= gtol {
                reason = "gradient below tolerance"
                converged = true
                break
            }
            if (fOld - fx) / max(abs(fOld), abs(fx), 1) <= ftol {
                reason = "relative loss reduction below \(ftol)"
                converged = true
                break
            }
        }
        return OptimizationReport(iterations: iteration, evaluations: evaluations, finalLoss: fx,
                                  gradientMax: gmax, converged: converged, stopReason: reason)
    }

    // MARK: direction

    /// The two-loop recursion on dot products: d = Σ cs[a] s_a + Σ cy[a] y_a + cg g equals −H g.
    func directionCoefficients() -> (cs: [Double], cy: [Double], cg: Double) {
        let slots = m + 1
        var cs = [Double](repeating: 0, count: slots), cy = cs
        var cg = -1.0
        guard let newest = order.last else { return (cs, cy, cg) }
        // s_a·d and y_a·d from the coefficients.
        func sDot(_ a: Int) -> Double {
            var t = cg * sg[a]
            for b in order { t += cs[b] * ss[a][b] + cy[b] * sy[a][b] }
            return t
        }
        func yDot(_ a: Int) -> Double {
            var t = cg * yg[a]
            for b in order { t += cs[b] * sy[b][a] + cy[b] * yy[a][b] }
            return t
        }
        var alpha = [Double](repeating: 0, count: slots)
        for a in order.reversed() {
            alpha[a] = sDot(a) / sy[a][a]
            cy[a] -= alpha[a]
        }
        let gamma = sy[newest][newest] / yy[newest][newest]
        for b in order { cs[b] *= gamma; cy[b] *= gamma }
        cg *= gamma
        for a in order {
            let beta = yDot(a) / sy[a][a]
            cs[a] += alpha[a] - beta
        }
        return (cs, cy, cg)
    }

    /// Writes d from its coefficients and the first trial point x + step·d; returns g·d.
    func formDirection(cs: [Double], cy: [Double], cg: Double, trialStep: Double) -> Double {
        var coefficients: [Float] = []
        for a in order { coefficients.append(Float(cs[a])); coefficients.append(Float(cy[a])) }
        let count = n, step = Float(trialStep), gCoefficient = Float(cg)
        let parts: [Double] = withHistory(order) { history in
            x.withUnsafeBufferPointer { xb in
                g.withUnsafeBufferPointer { gb in
                    d.withUnsafeMutableBufferPointer { db in
                        xTrial.withUnsafeMutableBufferPointer { tb in
                            let xp = xb.baseAddress!, gp = gb.baseAddress!, dp = db.baseAddress!, tp = tb.baseAddress!
                            return Parallel.mapRanges(count: count, blockSize: LBFGS.block) { range -> Double in
                                let lo = range.lowerBound, c = range.count
                                Kernels.scale(gp + lo, gCoefficient, into: dp + lo, c)
                                // The history in groups of four (each s with its y, pairs in order).
                                var j = 0
                                while j < history.count {
                                    let group = min(4, history.count - j)
                                    Kernels.addScaledBF16(Array(coefficients[j..<(j + group)]), history[j..<(j + group)].map { $0 + lo },
                                                          into: dp + lo, c)
                                    j += group
                                }
                                Kernels.addScaled(xp + lo, step, dp + lo, into: tp + lo, c)
                                return Kernels.dot(gp + lo, dp + lo, c)
                            }
                        }
                    }
                }
            }
        }
        return parts.reduce(0, +)
    }

    // MARK: line search

    /// Strong-Wolfe line search along d (c1 = 1e-4, c2 = 0.9). On success xTrial/gTrial hold the new point;
    /// the first trial point x + initial·d was written by `formDirection`.
    func lineSearch(fx: Double, dg0: Double, initial: Double, evaluations: inout Int,
                    _ f: ([Float], inout [Float]) -> Double) -> (alpha: Double, f: Double)? {
        let c1 = 1e-4, c2 = 0.9
        let maxEvaluations = 40
        var used = 0
        var trialAt = initial
        func eval(_ a: Double) -> (Double, Double) {
            if a != trialAt { setTrial(a); trialAt = a }
            let fa = f(xTrial, &gTrial)
            evaluations += 1
            used += 1
            return (fa, blockedDot(gTrial, d))
        }
        var aPrev = 0.0, fPrev = fx, dgPrev = dg0
        var a = initial
        var first = true
        while used < maxEvaluations {
            let (fa, dga) = eval(a)
            if !fa.isFinite || fa > fx + c1 * a * dg0 || (!first && fa >= fPrev) {
                return zoom(lo: aPrev, fLo: fPrev, dgLo: dgPrev, hi: a, fHi: fa)
            }
            if abs(dga) <= -c2 * dg0 { return (a, fa) }
            if dga >= 0 { return zoom(lo: a, fLo: fa, dgLo: dga, hi: aPrev, fHi: fPrev) }
            aPrev = a; fPrev = fa; dgPrev = dga
            a *= 2
            first = false
        }
        return nil

        func zoom(lo: Double, fLo: Double, dgLo: Double, hi: Double, fHi: Double) -> (alpha: Double, f: Double)? {
            var lo = lo, fLo = fLo, dgLo = dgLo, hi = hi, fHi = fHi
            while used < maxEvaluations {
                let width = hi - lo
                // Quadratic interpolation from (lo, fLo, dgLo) and (hi, fHi), kept inside the bracket.
                var a = lo + width / 2
                let denom = 2 * (fHi - fLo - dgLo * width)
                if fHi.isFinite && denom != 0 {
                    let q = lo - dgLo * width * width / denom
                    let l = min(lo, hi) + 0.1 * abs(width), u = max(lo, hi) - 0.1 * abs(width)
                    if q.isFinite && q >= l && q <= u { a = q }
                }
                let (fa, dga) = eval(a)
                if !fa.isFinite || fa > fx + c1 * a * dg0 || fa >= fLo {
                    hi = a; fHi = fa
                } else {
                    if abs(dga) <= -c2 * dg0 { return (a, fa) }
                    if dga * (hi - lo) >= 0 { hi = lo; fHi = fLo }
                    lo = a; fLo = fa; dgLo = dga
                }
                if abs(hi - lo) < 1e-14 * max(1, abs(lo)) { break }
            }
            // Accept the best decreasing point found, if any (sufficient decrease without curvature).
            if lo > 0 && fLo < fx {
                let (fa, _) = eval(lo)
                return (lo, fa)
            }
            return nil
        }
    }

    /// xTrial = x + a·d.
    func setTrial(_ a: Double) {
        let step = Float(a), count = n
        x.withUnsafeBufferPointer { xb in
            d.withUnsafeBufferPointer { db in
                xTrial.withUnsafeMutableBufferPointer { tb in
                    let xp = xb.baseAddress!, dp = db.baseAddress!, tp = tb.baseAddress!
                    Parallel.forEachRange(count: count, blockSize: LBFGS.block) { range in
                        let lo = range.lowerBound
                        Kernels.addScaled(xp + lo, step, dp + lo, into: tp + lo, range.count)
                    }
                }
            }
        }
    }

    // MARK: history update

    /// Accepts the trial point: stores s = xTrial − x and y = gTrial − g (rounded to bfloat16) in a free slot,
    /// updates every dot product with one pass over the history, then moves to the new point. Returns max |g|.
    func update() -> Double {
        let slots = m + 1
        if sSlots.isEmpty {
            sSlots = [[UInt16]](repeating: [UInt16](repeating: 0, count: n), count: slots)
            ySlots = sSlots
        }
        guard let fresh = (0..<slots).first(where: { !order.contains($0) }) else { return .infinity }
        let old = order
        let count = n
        // Per block: [g'·g', s·s, s·y, y·y, g'·s, g'·y] then per old slot b: g'·s_b, g'·y_b, s·s_b, s·y_b, y·s_b, y·y_b.
        let width = 6 + 6 * old.count
        typealias Part = (dots: [Double], gmax: Float)
        var sNew = sSlots[fresh], yNew = ySlots[fresh]
        sSlots[fresh] = []; ySlots[fresh] = []
        let parts: [Part] = sNew.withUnsafeMutableBufferPointer { sb in
            yNew.withUnsafeMutableBufferPointer { yb in
                withHistory(old) { history in
                    x.withUnsafeBufferPointer { xb in
                        g.withUnsafeBufferPointer { gb in
                            xTrial.withUnsafeBufferPointer { tb in
                                gTrial.withUnsafeBufferPointer { gtb in
                                    let xp = xb.baseAddress!, gp = gb.baseAddress!, xt = tb.baseAddress!, gt = gtb.baseAddress!
                                    let sp = sb.baseAddress!, yp = yb.baseAddress!
                                    return Parallel.mapRanges(count: count, blockSize: LBFGS.block) { range -> Part in
                                        var dots = [Double](repeating: 0, count: width)
                                        // s and y of this block, rounded to bfloat16: stored, and kept as Float for the dots.
                                        var scratch = [Float](repeating: 0, count: 2 * range.count)
                                        let lo = range.lowerBound, c = range.count
                                        scratch.withUnsafeMutableBufferPointer { fb in
                                            let sf = fb.baseAddress!, yf = sf + c
                                            Kernels.differenceBF16(xt + lo, xp + lo, into: sp + lo, rounded: sf, c)
                                            Kernels.differenceBF16(gt + lo, gp + lo, into: yp + lo, rounded: yf, c)
                                            dots.withUnsafeMutableBufferPointer { out in
                                                let o = out.baseAddress!
                                                var own = [Double](repeating: 0, count: 6)
                                                own.withUnsafeMutableBufferPointer { Kernels.dots3x2(gt + lo, sf, yf, sf, yf, c, into: $0.baseAddress!) }
                                                o[0] = Kernels.dot(gt + lo, gt + lo, c)
                                                o[1] = own[2]; o[2] = own[3]; o[3] = own[5]; o[4] = own[0]; o[5] = own[1]
                                                for i in old.indices {
                                                    Kernels.dots3x2BF16(gt + lo, sf, yf, history[2 * i] + lo, history[2 * i + 1] + lo, c, into: o + 6 + 6 * i)
                                                }
                                            }
                                        }
                                        return (dots, Kernels.maxAbs(gt + lo, c))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        sSlots[fresh] = sNew
        ySlots[fresh] = yNew
        var dots = [Double](repeating: 0, count: width)
        var gmax: Float = 0
        for p in parts {
            for i in 0..<width { dots[i] += p.dots[i] }
            gmax = max(gmax, p.gmax)
        }
        swap(&x, &xTrial)
        swap(&g, &gTrial)
        gg = dots[0]
        for (i, b) in old.enumerated() {
            let o = 6 + 6 * i
            sg[b] = dots[o]
            yg[b] = dots[o + 1]
        }
        // Keep the pair only when it has enough curvature (s·y > 0 keeps H positive definite).
        let sDotY = dots[2], yDotY = dots[3]
        if sDotY > 1e-10 * yDotY {
            ss[fresh][fresh] = dots[1]
            sy[fresh][fresh] = sDotY
            yy[fresh][fresh] = yDotY
            sg[fresh] = dots[4]
            yg[fresh] = dots[5]
            for (i, b) in old.enumerated() {
                let o = 6 + 6 * i
                ss[fresh][b] = dots[o + 2]; ss[b][fresh] = dots[o + 2]
                sy[fresh][b] = dots[o + 3]  // s_new · y_b
                sy[b][fresh] = dots[o + 4]  // s_b · y_new
                yy[fresh][b] = dots[o + 5]; yy[b][fresh] = dots[o + 5]
            }
            if order.count == m { order.removeFirst() }
            order.append(fresh)
        }
        return Double(gmax)
    }

    // MARK: helpers

    /// Σ a·b over fixed blocks, reduced in block order.
    func blockedDot(_ a: [Float], _ b: [Float]) -> Double {
        let count = min(a.count, b.count)
        return a.withUnsafeBufferPointer { ab in
            b.withUnsafeBufferPointer { bb in
                let ap = ab.baseAddress!, bp = bb.baseAddress!
                return Parallel.mapRanges(count: count, blockSize: LBFGS.block) { Kernels.dot(ap + $0.lowerBound, bp + $0.lowerBound, $0.count) }.reduce(0, +)
            }
        }
    }

    /// Runs `body` with pointers to the stored vectors [s_a, y_a for a in slots].
    func withHistory<R>(_ slots: [Int], _ body: ([UnsafePointer<UInt16>]) -> R) -> R {
        var pointers: [UnsafePointer<UInt16>] = []
        func collect(_ i: Int) -> R {
            if i == slots.count { return body(pointers) }
            return sSlots[slots[i]].withUnsafeBufferPointer { sb in
                ySlots[slots[i]].withUnsafeBufferPointer { yb in
                    pointers.append(sb.baseAddress!)
                    pointers.append(yb.baseAddress!)
                    return collect(i + 1)
                }
            }
        }
        return collect(0)
    }
}
