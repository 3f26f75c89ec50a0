/// The objective of `LogisticRegression`, its gradient, Hessian-vector products, and the diagonal
/// preconditioner.
///
/// **Objective.** With scores `z_i = x_i W + b`, probabilities `p_i = softmax(z_i)` and
/// `S = Σ_i s_i`:
///
///     f(W, b) = (1/S) Σ_i s_i · CE_i + ‖W‖² / (2 C S),   CE_i = logsumexp(z_i) − z_{i, y_i}
///
/// **Gradient.** With the residual rows `R_i = s_i (p_i − onehot(y_i))` (`n × K`):
///
///     ∂f/∂W = (Xᵀ R) / S + W / (C S),   ∂f/∂b = (Σ_i R_i) / S
///
/// **Hessian.** For a direction (V_W, V_b) with scores `z_i = x_i V_W + V_b`, the Hessian applied to it is
/// the gradient's formula with the residual rows replaced by `D_i = s_i (p_i ⊙ z_i − p_i (p_i · z_i))` and
/// the penalty term by `V_W / (C S)`: the same passes over the data, without exponentials, at the point whose
/// softmax rows `p_i` were kept (`hessianTimes`). Its diagonal is `(1/S) Σ_i s_i x_ij² p_ic (1 − p_ic) + 1/(C S)`
/// (`hessianDiagonal`).
///
/// **Preconditioner.** The optimiser works on scaled parameters θ = (u, v): `V × K` row-major `u` and `K`
/// values `v`, with `W[j,:] = σ_j u[j,:]` and `b = σ_b v`, so `∂f/∂u[j,:] = σ_j ∂f/∂W[j,:]` and
/// `∂f/∂v = σ_b ∂f/∂b`. The scales are the inverse square roots of the Hessian's diagonal at W = 0, where
/// every `p_ic = 1/K` and so `∂²CE_i/∂z_ic² = p_ic (1 − p_ic) = (K−1)/K²`:
///
///     σ_j = 1/√h_j,   h_j = (K−1)/K² · (1/S) Σ_i s_i x_ij² + 1/(C S),   σ_b = 1/√((K−1)/K²)
///
/// (the unpenalised biases' curvature is otherwise hundreds of times the weights'). This change of
/// variables leaves the objective and its minimiser unchanged but the solver needs fewer iterations. The
/// stopping test uses the gradient in W and b (`lastGradientMax`), as scikit-learn's does.
///
/// **Evaluation.** One evaluation computes the scores, the residuals and `Xᵀ R` on `kp`-wide rows (`kp` =
/// K rounded up to a multiple of 8), by one of three strategies chosen from the problem's shape:
/// `RowGatherPass` (scores by gathering W's rows; then the gradient through xᵀ), `ColumnTilePass` (when W
/// is too large for the caches: scores from column-ordered tiles of X; then the gradient through xᵀ),
/// and `FusedRowPass` (small W, many rows: one pass per evaluation, no xᵀ).
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
    /// Worker threads of the passes.
    let parallel: Parallel
    /// Per feature scale σ_j, then the bias scale σ_b (the preconditioner; all 1 without it).
    let scales: PinnedBuffer<Float>
    /// `n × kp` scores, then residuals, reused across evaluations (empty for the fused pass).
    private let residual: PinnedBuffer<Float>
    /// The weights σ ⊙ u of the last evaluation (`V × kp`, then `kp` biases; padding zero).
    private let effective: PinnedBuffer<Float>
    /// max |∂f/∂W|, |∂f/∂b| at the last evaluated point (scikit-learn's stopping quantity).
    private(set) var lastGradientMax = Double.infinity
    /// When W is too large for the caches: the rows of x in tiles of `tileRows`, each stored by column
    /// (see `ColumnTilePass`). Empty otherwise.
    let tiles: [CSRMatrix]
    /// Rows per tile (the score rows of one tile fill about 768 KiB, so they stay in the L2 cache).
    let tileRows: Int
    /// True when the problem takes the fused pass (see `FusedRowPass`).
    let fused: Bool
    /// The fused pass and its partial gradients (nil unless `fused`).
    private let fusedPass: FusedRowPass?
    /// With `secondOrder`: the softmax rows (`n × kp`) at the last point given to `lossAndGradient`, which the
    /// Hessian products use (empty otherwise).
    private let probabilities: PinnedBuffer<Float>

    /// `fusedPass` and `tileRows` force a strategy (nil: chosen by the problem's shape; tests compare them).
    /// `secondOrder` keeps the softmax rows of the evaluated points for `hessianTimes` and `hessianDiagonal`.
    init(x: CSRMatrix, xT: CSRMatrix, y: [Int32], k: Int, C: Double, sampleWeights: [Float], parallel: Parallel = Parallel(),
         precondition: Bool = true, secondOrder: Bool = true, fusedPass: Bool? = nil, tileRows forcedTileRows: Int? = nil) {
        self.parallel = parallel
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
        self.fusedPass = fused ? FusedRowPass() : nil
        self.residual = PinnedBuffer(repeating: 0, count: fused ? 0 : x.rowCount * kp)
        self.effective = PinnedBuffer(repeating: 0, count: v * kp + kp)
        self.probabilities = PinnedBuffer(repeating: 0, count: secondOrder ? x.rowCount * kp : 0)
        self.tileRows = forcedTileRows ?? max(256, (768 * 1024 / 4 / kp) & ~255)
        self.tiles = !fused && (forcedTileRows != nil || v * kp * 4 > 2 << 20) ? ColumnTilePass.columnTiles(x, rows: tileRows, parallel: parallel) : []
        self.scales = PinnedBuffer(precondition ? SoftmaxProblem.preconditioner(x, k: k, C: C, sampleWeights: sampleWeights, weightSum: weightSum)
            : [Float](repeating: 1, count: v + 1))
    }

    /// The scales σ_1 … σ_V, σ_b (see the type's documentation).
    static func preconditioner(_ x: CSRMatrix, k: Int, C: Double, sampleWeights: [Float], weightSum: Double) -> [Float] {
        let v = x.columnCount
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
        return scales
    }

    /// Length of θ.
    var parameterCount: Int { x.columnCount * k + k }

    /// True when a problem of this shape takes the fused row pass (W fits in 2 MiB and the `n × kp`
    /// residuals would not fit in 8 MiB): it needs no xᵀ.
    static func usesFusedPass(rows n: Int, features v: Int, classes k: Int) -> Bool {
        let kp = paddedWidth(k)
        return v * kp * 4 <= 2 << 20 && n * kp * 4 > 8 << 20
    }

    /// θ as `V × K` weights and `K` biases (scales applied).
    func weightsAndBias(_ theta: [Float]) -> (weights: [Float], bias: [Float]) {
        let v = x.columnCount
        var w = [Float](repeating: 0, count: v * k)
        for j in 0..<v { for c in 0..<k { w[j * k + c] = scales[j] * theta[j * k + c] } }
        return (w, (0..<k).map { scales[v] * theta[v * k + $0] })
    }

    /// Returns f(θ) and writes ∂f/∂θ into `gradient` (both of length `parameterCount`). With `secondOrder`,
    /// keeps the point's softmax rows for `hessianTimes` and `hessianDiagonal`.
    func lossAndGradient(_ theta: PinnedBuffer<Float>, gradient: PinnedBuffer<Float>) -> Double {
        let kept = probabilities.count > 0 ? probabilities.base : nil
        let sums = evaluate(theta, into: gradient, step: .gradient(probabilities: kept))
        lastGradientMax = Double(sums.gradientMax)
        return sums.dataLoss / weightSum + 0.5 / (C * weightSum) * sums.penalty
    }

    /// Writes `H d` into `out`, with H the Hessian of f in θ at the last evaluated point (`secondOrder` only): per
    /// row, the softmax Hessian `diag(p_i) − p_i p_iᵀ` applied to the direction's scores `x_i (σ ⊙ d_u) +
    /// σ_b d_v`, back through Xᵀ, plus the penalty's `d_u σ² / (C S)`, all scaled by σ (`SoftmaxBuffers.step`).
    /// It reads the data as one evaluation does, without the exponentials. Returns `d · H d`.
    func hessianTimes(_ d: PinnedBuffer<Float>, into out: PinnedBuffer<Float>) -> Double {
        precondition(probabilities.count == x.rowCount * kp, "hessianTimes needs a second-order problem")
        return evaluate(d, into: out, step: .hessian(probabilities: probabilities.base)).parameterDot
    }

    /// Writes the diagonal of the Hessian of f in θ at the last evaluated point (`secondOrder` only) into `m`:
    /// `σ_j² ((1/S) Σ_i s_i x_ij² p_ic (1 − p_ic) + 1/(C S))` for weight (j, c), `σ_b² (1/S) Σ_i s_i p_ic (1 −
    /// p_ic)` for bias c. One pass through xᵀ (or x, for the fused strategy) with squared values.
    func hessianDiagonal(into m: PinnedBuffer<Float>) {
        precondition(probabilities.count == x.rowCount * kp && m.count == parameterCount, "hessianDiagonal needs a second-order problem")
        let v = x.columnCount, k = self.k, kp = self.kp
        let p = probabilities.base, sigma = scales.base, out = m.base
        let biasSums: [Double] = Kernels.withSparseRows(x, xT) { xs, xts in
            if let fusedPass { return fusedPass.curvature(self, x: xs, probabilities: p, sigma: sigma, into: out) }
            let q = residual.base
            let parts = parallel.mapRanges(count: x.rowCount, blockSize: SoftmaxProblem.rowBlock) { rows -> [Float] in
                var biasSum = [Float](repeating: 0, count: kp)
                biasSum.withUnsafeMutableBufferPointer { bs in
                    Kernels.curvatureRows(q, rows: rows, firstRow: 0, k: k, kp: kp, probabilities: p, weights: sampleWeights,
                                          biasSum: bs.baseAddress!)
                }
                return biasSum
            }
            let invS = Float(1 / weightSum), l2 = Float(1 / (C * weightSum))
            _ = columnBlocks { cols, scratch in
                Kernels.squaredSparseTimesDense(xts, rows: cols, dense: q, kp: kp, out: scratch, firstOutRow: cols.lowerBound)
                Kernels.curvatureEpilogue(scratch, sigma, into: out, rows: cols, k: k, kp: kp, a: invS, b: l2)
            }
            var total = [Double](repeating: 0, count: kp)
            for part in parts { for c in 0..<kp { total[c] += Double(part[c]) } }
            return total
        }
        let sb = Double(scales[v])
        for c in 0..<k { m[v * k + c] = Float(sb * sb * biasSums[c] / weightSum) }
    }

    /// One pass of the chosen strategy at `theta` (W = σ ⊙ u, b = σ_b v), its row step `step`, writing ∂/∂θ of
    /// the result into `out`.
    private func evaluate(_ theta: PinnedBuffer<Float>, into out: PinnedBuffer<Float>, step: RowStep) -> PassSums {
        let v = x.columnCount, k = self.k, kp = self.kp
        precondition(theta.count == parameterCount && out.count == parameterCount)
        let invS = 1 / weightSum
        let l2 = 1 / (C * weightSum)
        let u = theta.base, w = effective.base, sigma = scales.base
        // W = σ ⊙ u (rows padded to kp), b = σ_b v.
        parallel.forEachRange(count: v + 1, blockSize: SoftmaxProblem.columnBlock) { rows in
            Kernels.scaleRows(u, sigma, into: w, rows: rows, k: k, kp: kp)
        }
        var sums = PassSums(kp: kp)
        Kernels.withSparseRows(x, xT) { xs, xts in
            let at = SoftmaxBuffers(x: xs, xT: xts, w: w, bias: effective.pointer(at: v * kp), sigma: sigma, g: out.base,
                                    residual: residual.base, invS: invS, l2: l2, step: step)
            if let fusedPass {
                fusedPass.evaluate(self, at, into: &sums)
            } else if !tiles.isEmpty {
                ColumnTilePass(tiles: tiles, tileRows: tileRows).evaluate(self, at, into: &sums)
            } else {
                RowGatherPass().evaluate(self, at, into: &sums)
            }
        }
        // ∂/∂v = σ_b (Σ_i R_i) / S.
        for c in 0..<k {
            let gb = Float(sums.biasGradient[c] * invS)
            sums.gradientMax = max(sums.gradientMax, abs(gb))
            out[v * k + c] = scales[v] * gb
            sums.parameterDot += Double(theta[v * k + c]) * Double(out[v * k + c])
        }
        return sums
    }

    /// `lossAndGradient` on arrays (resizes `gradient` when needed).
    func lossAndGradient(_ theta: [Float], gradient: inout [Float]) -> Double {
        let g = PinnedBuffer<Float>(repeating: 0, count: theta.count)
        let f = lossAndGradient(PinnedBuffer(theta), gradient: g)
        gradient = g.array
        return f
    }

    static let rowBlock = 256
    static let columnBlock = 1024
}

/// What one evaluation reads and writes, as base pointers valid for the duration of the evaluation.
struct SoftmaxBuffers {
    /// The rows of X and of Xᵀ.
    let x: SparseRows, xT: SparseRows
    /// The weights W = σ ⊙ u (`V × kp`); then the biases b.
    let w: UnsafeMutablePointer<Float>
    let bias: UnsafePointer<Float>
    /// σ_1 … σ_V, σ_b.
    let sigma: UnsafePointer<Float>
    /// ∂f/∂θ (compact: `V × K`, then `K`).
    let g: UnsafeMutablePointer<Float>
    /// `n × kp` scores, then residuals (the two-pass strategies).
    let residual: UnsafeMutablePointer<Float>
    /// 1/S and 1/(C S).
    let invS: Double, l2: Double
    /// What the score rows become.
    let step: RowStep
}

/// The row step of a pass: what the score rows `x_i W + b` become before they go back through Xᵀ.
enum RowStep {
    /// Residuals `R_i` (the loss and gradient); the softmax rows also go to `probabilities` when given.
    case gradient(probabilities: UnsafeMutablePointer<Float>?)
    /// The softmax Hessian at the point whose softmax rows are `probabilities`, applied to the rows (the
    /// scores of a direction): a Hessian-vector product.
    case hessian(probabilities: UnsafePointer<Float>)
}

/// The sums an evaluation strategy produces: the data loss `Σ_i s_i CE_i`, the bias gradient `Σ_i R_i`
/// (per class, `kp` wide), the penalty `‖W‖²`, `max |∂f/∂W|` and `θ · out`.
struct PassSums {
    var dataLoss = 0.0
    var biasGradient: [Double]
    var penalty = 0.0
    var gradientMax: Float = 0
    /// `θ · out` (the parameters of the pass dotted with what it wrote).
    var parameterDot = 0.0

    init(kp: Int) { biasGradient = [Double](repeating: 0, count: kp) }

    /// Adds per-block (loss, Σ R_i) parts, in block order.
    mutating func addRowParts(_ parts: [(Double, [Float])]) {
        var loss = 0.0
        for (l, part) in parts {
            loss += l
            for c in biasGradient.indices { biasGradient[c] += Double(part[c]) }
        }
        dataLoss += loss
    }
}
