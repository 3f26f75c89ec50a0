// The three evaluation strategies of `SoftmaxProblem`. Each computes, at the effective weights W = σ ⊙ u:
//   scores     Z = X W + b                          (`n × kp`, row by row)
//   residuals  R_i = s_i (softmax(Z_i) − onehot(y_i)), the data loss Σ_i s_i CE_i and Σ_i R_i
//   gradient   ∂f/∂u[j,:] = σ_j ((Xᵀ R)[j,:] / S + W[j,:] / (C S)), ‖W‖² and max |∂f/∂W|
// They differ in how they reach X's entries, and give the same values up to rounding. A Hessian-vector
// product runs the same passes at W = σ ⊙ d, with the residual step replaced by the softmax Hessian's row
// step (`SoftmaxBuffers.step`, `SoftmaxProblem.rowStep`).

/// Scores by row gather: for each block of `SoftmaxProblem.rowBlock` rows, `Z_i = Σ_t x_it · W[col_t, :]`
/// (`Kernels.sparseTimesDense`; W's rows are read in the rows' column order, at random, which is fast while
/// W fits in the caches), then residuals; then the gradient through xᵀ, column block by column block.
struct RowGatherPass {
    func evaluate(_ p: SoftmaxProblem, _ at: SoftmaxBuffers, into sums: inout PassSums) {
        let kp = p.kp
        let rowParts = p.parallel.mapRanges(count: p.x.rowCount, blockSize: SoftmaxProblem.rowBlock) { rows -> (Double, [Float]) in
            Kernels.sparseTimesDense(at.x, rows: rows, dense: at.w, kp: kp, out: at.residual)
            return p.residuals(at, rows: rows)
        }
        sums.addRowParts(rowParts)
        (sums.penalty, sums.gradientMax, sums.parameterDot) = p.gradientThroughTranspose(at)
    }
}

/// Scores by column tiles, for a W too large for the caches: X's rows in tiles of `tileRows` rows, each
/// stored by column, so that a tile's scores are `Z[tile] = Σ_j X[tile, j] ⊗ W[j, :]` — W read once per
/// tile, in order, and added into the tile's score rows, which stay in cache
/// (`Kernels.scatterColumns`). Then residuals, and the gradient through xᵀ as `RowGatherPass`.
struct ColumnTilePass {
    let tiles: [CSRMatrix]
    let tileRows: Int

    func evaluate(_ p: SoftmaxProblem, _ at: SoftmaxBuffers, into sums: inout PassSums) {
        let kp = p.kp, v = p.x.columnCount, tileRows = self.tileRows
        let rowParts = Kernels.withSparseRows(tiles) { tiles in
            p.parallel.mapRanges(count: p.x.rowCount, blockSize: tileRows) { rows -> (Double, [Float]) in
                Kernels.zeroRows(at.residual, rows: rows, kp: kp)
                Kernels.scatterColumns(tiles[rows.lowerBound / tileRows], columns: 0..<v, dense: at.w, kp: kp,
                                       out: at.residual, firstOutRow: rows.lowerBound)
                return p.residuals(at, rows: rows)
            }
        }
        sums.addRowParts(rowParts)
        (sums.penalty, sums.gradientMax, sums.parameterDot) = p.gradientThroughTranspose(at)
    }

    /// `x` cut into tiles of `rows` rows, each stored by column (offsets per column; entries hold the row
    /// within the tile, ascending).
    static func columnTiles(_ x: CSRMatrix, rows: Int, parallel: Parallel) -> [CSRMatrix] {
        let v = x.columnCount
        return parallel.mapRanges(count: x.rowCount, blockSize: rows) { range in
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
            return CSRMatrix(unchecked: offsets, rowsOf, values, columnCount: range.count)
        }
    }
}

/// One pass per evaluation, for a small W and many rows: the rows are cut into `parts` fixed chunks; per
/// chunk, block by block, scores into a small buffer, residuals, and `Xᵀ R` scattered row by row into the
/// chunk's own partial gradient (`Kernels.scatterRows`). The partials are summed in chunk order. Neither xᵀ
/// nor an `n × kp` residual matrix is read.
final class FusedRowPass {
    /// Fixed chunks of rows (and partial gradients).
    static let parts = 8
    /// The partial gradients (`parts × V × kp`), allocated at the first evaluation.
    private var partials: PinnedBuffer<Float>?

    func evaluate(_ p: SoftmaxProblem, _ at: SoftmaxBuffers, into sums: inout PassSums) {
        let n = p.x.rowCount, v = p.x.columnCount, kp = p.kp
        let parts = FusedRowPass.parts, stride = v * kp
        let partials = self.partials ?? PinnedBuffer(repeating: 0, count: parts * stride)
        self.partials = partials
        let chunk = (n + parts - 1) / parts
        let chunkResults = p.parallel.mapRanges(count: parts, blockSize: 1) { range -> (Double, [Float]) in
            let c = range.lowerBound
            return FusedRowPass.chunk(p, at, rows: min(n, c * chunk)..<min(n, (c + 1) * chunk), into: partials[(c * stride)..<((c + 1) * stride)])
        }
        sums.addRowParts(chunkResults)
        (sums.penalty, sums.gradientMax, sums.parameterDot) = p.gradientColumns(at) { cols, scratch in
            Kernels.sumParts(partials.base, count: parts, stride: stride, (cols.lowerBound * kp)..<(cols.upperBound * kp), into: scratch)
        }
    }

    /// The Hessian's diagonal (see `SoftmaxProblem.hessianDiagonal`): per chunk, the curvature rows Q of each
    /// block scattered through x² into the chunk's partial; the partials summed in chunk order and finished
    /// into `m` per feature block. Returns Σ_i Q_i (`kp` wide).
    func curvature(_ p: SoftmaxProblem, x: SparseRows, probabilities: UnsafePointer<Float>, sigma: UnsafePointer<Float>,
                   into m: UnsafeMutablePointer<Float>) -> [Double] {
        let n = p.x.rowCount, v = p.x.columnCount, kp = p.kp, k = p.k
        let parts = FusedRowPass.parts, stride = v * kp
        let partials = self.partials ?? PinnedBuffer(repeating: 0, count: parts * stride)
        self.partials = partials
        let chunk = (n + parts - 1) / parts
        let sums = p.parallel.mapRanges(count: parts, blockSize: 1) { range -> [Float] in
            let c = range.lowerBound
            let rows = min(n, c * chunk)..<min(n, (c + 1) * chunk)
            let partial = partials[(c * stride)..<((c + 1) * stride)]
            partial.update(repeating: 0)
            var biasSum = [Float](repeating: 0, count: kp)
            var buffer = [Float](repeating: 0, count: SoftmaxProblem.rowBlock * kp)
            withUnsafeMutablePointers(&buffer, &biasSum) { q, biasSum in
                var lo = rows.lowerBound
                while lo < rows.upperBound {
                    let sub = lo..<min(rows.upperBound, lo + SoftmaxProblem.rowBlock)
                    Kernels.curvatureRows(q, rows: sub, firstRow: lo, k: k, kp: kp, probabilities: probabilities,
                                          weights: p.sampleWeights, biasSum: biasSum)
                    Kernels.squaredScatterRows(x, rows: sub, dense: q, firstRow: lo, kp: kp, out: partial.baseAddress!)
                    lo = sub.upperBound
                }
            }
            return biasSum
        }
        let invS = Float(1 / p.weightSum), l2 = Float(1 / (p.C * p.weightSum))
        _ = p.columnBlocks { cols, scratch in
            Kernels.sumParts(partials.base, count: parts, stride: stride, (cols.lowerBound * kp)..<(cols.upperBound * kp), into: scratch)
            Kernels.curvatureEpilogue(scratch, sigma, into: m, rows: cols, k: k, kp: kp, a: invS, b: l2)
        }
        var total = [Double](repeating: 0, count: kp)
        for part in sums { for c in 0..<kp { total[c] += Double(part[c]) } }
        return total
    }

    /// One chunk of rows: writes its `Xᵀ R` (`V × kp`) to `partial`; returns its loss and `Σ_i R_i`.
    private static func chunk(_ p: SoftmaxProblem, _ at: SoftmaxBuffers, rows: Range<Int>,
                              into partial: UnsafeMutableBufferPointer<Float>) -> (Double, [Float]) {
        let kp = p.kp
        partial.update(repeating: 0)
        guard let out = partial.baseAddress else { return (0, [Float](repeating: 0, count: kp)) }
        var loss = 0.0
        var biasSum = [Float](repeating: 0, count: kp)
        var buffer = [Float](repeating: 0, count: SoftmaxProblem.rowBlock * kp)
        withUnsafeMutablePointers(&buffer, &biasSum) { scores, biasSum in
            var lo = rows.lowerBound
            while lo < rows.upperBound {
                let sub = lo..<min(rows.upperBound, lo + SoftmaxProblem.rowBlock)
                Kernels.sparseTimesDense(at.x, rows: sub, dense: at.w, kp: kp, out: scores, firstOutRow: lo)
                p.rowStep(at, scores: scores, rows: sub, firstRow: lo, loss: &loss, biasSum: biasSum)
                Kernels.scatterRows(at.x, rows: sub, dense: scores, firstRow: lo, kp: kp, out: out)
                lo = sub.upperBound
            }
        }
        return (loss, biasSum)
    }
}

extension SoftmaxProblem {
    /// Turns the score rows `rows` of `at.residual` into residual rows `R_i = s_i (p_i − onehot(y_i))` (zero
    /// for unlabeled rows); returns their loss `Σ_i s_i CE_i` and `Σ_i R_i`.
    func residuals(_ at: SoftmaxBuffers, rows: Range<Int>) -> (Double, [Float]) {
        var loss = 0.0
        var biasSum = [Float](repeating: 0, count: kp)
        biasSum.withUnsafeMutableBufferPointer { bs in
            rowStep(at, scores: at.residual, rows: rows, firstRow: 0, loss: &loss, biasSum: bs.baseAddress!)
        }
        return (loss, biasSum)
    }

    /// The row step of `at.step` on the score rows `rows` (row `i` at `scores + (i − firstRow)·kp`): residuals
    /// (adding to `loss`), or the Hessian applied to direction scores; either way the rows are added to `biasSum`.
    @inline(__always)
    func rowStep(_ at: SoftmaxBuffers, scores: UnsafeMutablePointer<Float>, rows: Range<Int>, firstRow: Int, loss: inout Double,
                 biasSum: UnsafeMutablePointer<Float>) {
        switch at.step {
        case .gradient(let probabilities):
            Kernels.softmaxResiduals(scores, rows: rows, firstRow: firstRow, k: k, kp: kp, labels: y, weights: sampleWeights,
                                     bias: at.bias, loss: &loss, biasSum: biasSum, probabilities: probabilities)
        case .hessian(let probabilities):
            Kernels.softmaxHessianRows(scores, rows: rows, firstRow: firstRow, k: k, kp: kp, probabilities: probabilities,
                                       weights: sampleWeights, bias: at.bias, biasSum: biasSum)
        }
    }

    /// The gradient in u from the residuals through xᵀ: `(Xᵀ R)[cols, :]` by `Kernels.sparseTimesDense` on
    /// xᵀ's rows, per block of features. Returns ‖W‖², max |∂f/∂W| and u·∂f/∂u (see `gradientColumns`).
    func gradientThroughTranspose(_ at: SoftmaxBuffers) -> (Double, Float, Double) {
        let kp = self.kp
        return gradientColumns(at) { cols, scratch in
            Kernels.sparseTimesDense(at.xT, rows: cols, dense: at.residual, kp: kp, out: scratch, firstOutRow: cols.lowerBound)
        }
    }

    /// ∂f/∂u per fixed block of `columnBlock` features: `fill(cols, scratch)` writes (Xᵀ R)[cols, :]
    /// (`cols.count × kp`) to zeroed scratch, then `Kernels.gradientEpilogue` finishes the block into `g`:
    /// `∂f/∂W = scratch / S + W / (C S)`, `∂f/∂u = σ ⊙ ∂f/∂W`. Returns ‖W‖², max |∂f/∂W| and `u · ∂f/∂u` over
    /// all blocks (summed in block order; the last is `d · H d` when the pass is a Hessian product with d).
    func gradientColumns(_ at: SoftmaxBuffers, fill: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) -> (Double, Float, Double) {
        let k = self.k, kp = self.kp
        let columnParts = columnBlocks { cols, scratch -> (penalty: Double, max: Float, dot: Double) in
            fill(cols, scratch)
            return Kernels.gradientEpilogue(scratch, at.w, at.sigma, into: at.g, rows: cols, k: k, kp: kp,
                                            a: Float(at.invS), b: Float(at.l2))
        }
        var penalty = 0.0, dot = 0.0
        var gradientMax: Float = 0
        for part in columnParts {
            penalty += part.penalty
            gradientMax = max(gradientMax, part.max)
            dot += part.dot
        }
        return (penalty, gradientMax, dot)
    }

    /// Runs `body` on every fixed block of `columnBlock` features with a zeroed scratch block of `cols.count ×
    /// kp` floats; returns the results in block order.
    func columnBlocks<T>(_ body: (Range<Int>, UnsafeMutablePointer<Float>) -> T) -> [T] {
        let kp = self.kp
        return parallel.mapRanges(count: x.columnCount, blockSize: SoftmaxProblem.columnBlock) { cols -> T in
            var block = [Float](repeating: 0, count: cols.count * kp)
            return block.withUnsafeMutableBufferPointer { bb in body(cols, bb.baseAddress!) }
        }
    }
}
