// Unsafe: the numeric loops read and write through raw pointers at computed offsets; callers guarantee every buffer holds the rows, columns and counts they name (rows `kp` floats wide) and stays alive for the call.
//
// The numeric kernels: the loops that read and write memory for training and prediction live here, and
// callers pass base pointers (from `PinnedBuffer`, `withSparseRows` or `withUnsafePointers`) with row and
// column ranges, not offset pointers.
//
// Dense matrices used for training and prediction are row-major with a padded row length `kp` (the
// class count rounded up to a multiple of 8), so a row is a whole number of `SIMD8<Float>` lanes. The
// padding columns hold zeros.

import Dispatch
import Foundation

/// Rounds a class count up to the padded row length used by the kernels (a multiple of 8).
@inline(__always)
func paddedWidth(_ k: Int) -> Int { (k + 7) & ~7 }

/// A fixed number of 8-float accumulators; the generic kernels below are specialised per width so the
/// accumulators stay in registers across a sparse row.
protocol LaneBlock {
    /// Floats held.
    static var width: Int { get }
    /// All zero.
    init()
    /// `self += v * p[0..<width]`.
    mutating func addProduct(_ v: Float, _ p: UnsafePointer<Float>)
    /// `self += other`.
    mutating func add(_ other: Self)
    /// Writes `width` floats to `p`.
    func store(_ p: UnsafeMutablePointer<Float>)
    /// `p[0..<width] += v * self`.
    func addScaled(_ v: Float, into p: UnsafeMutablePointer<Float>)
    /// Reads `width` floats from `p`.
    init(_ p: UnsafePointer<Float>)
}

@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

struct Lanes8: LaneBlock {
    static var width: Int { 8 }
    var a = SIMD8<Float>()
    init() {}
    @inline(__always) mutating func addProduct(_ v: Float, _ p: UnsafePointer<Float>) {
        a += SIMD8(repeating: v) * load8(p)
    }
    @inline(__always) mutating func add(_ o: Lanes8) { a += o.a }
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>) { store8(a, p) }
    @inline(__always) func addScaled(_ v: Float, into p: UnsafeMutablePointer<Float>) {
        store8(load8(p) + SIMD8(repeating: v) * a, p)
    }
    @inline(__always) init(_ p: UnsafePointer<Float>) { a = load8(p) }
}

struct Lanes16: LaneBlock {
    static var width: Int { 16 }
    var a = SIMD8<Float>(), b = SIMD8<Float>()
    init() {}
    @inline(__always) mutating func addProduct(_ v: Float, _ p: UnsafePointer<Float>) {
        let s = SIMD8(repeating: v)
        a += s * load8(p); b += s * load8(p + 8)
    }
    @inline(__always) mutating func add(_ o: Lanes16) { a += o.a; b += o.b }
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>) { store8(a, p); store8(b, p + 8) }
    @inline(__always) func addScaled(_ v: Float, into p: UnsafeMutablePointer<Float>) {
        let s = SIMD8(repeating: v)
        store8(load8(p) + s * a, p); store8(load8(p + 8) + s * b, p + 8)
    }
    @inline(__always) init(_ p: UnsafePointer<Float>) { a = load8(p); b = load8(p + 8) }
}

struct Lanes24: LaneBlock {
    static var width: Int { 24 }
    var a = SIMD8<Float>(), b = SIMD8<Float>(), c = SIMD8<Float>()
    init() {}
    @inline(__always) mutating func addProduct(_ v: Float, _ p: UnsafePointer<Float>) {
        let s = SIMD8(repeating: v)
        a += s * load8(p); b += s * load8(p + 8); c += s * load8(p + 16)
    }
    @inline(__always) mutating func add(_ o: Lanes24) { a += o.a; b += o.b; c += o.c }
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>) { store8(a, p); store8(b, p + 8); store8(c, p + 16) }
    @inline(__always) func addScaled(_ v: Float, into p: UnsafeMutablePointer<Float>) {
        let s = SIMD8(repeating: v)
        store8(load8(p) + s * a, p); store8(load8(p + 8) + s * b, p + 8); store8(load8(p + 16) + s * c, p + 16)
    }
    @inline(__always) init(_ p: UnsafePointer<Float>) { a = load8(p); b = load8(p + 8); c = load8(p + 16) }
}

struct Lanes32: LaneBlock {
    static var width: Int { 32 }
    var a = SIMD8<Float>(), b = SIMD8<Float>(), c = SIMD8<Float>(), d = SIMD8<Float>()
    init() {}
    @inline(__always) mutating func addProduct(_ v: Float, _ p: UnsafePointer<Float>) {
        let s = SIMD8(repeating: v)
        a += s * load8(p); b += s * load8(p + 8)
        c += s * load8(p + 16); d += s * load8(p + 24)
    }
    @inline(__always) mutating func add(_ o: Lanes32) { a += o.a; b += o.b; c += o.c; d += o.d }
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>) {
        store8(a, p); store8(b, p + 8); store8(c, p + 16); store8(d, p + 24)
    }
    @inline(__always) func addScaled(_ v: Float, into p: UnsafeMutablePointer<Float>) {
        let s = SIMD8(repeating: v)
        store8(load8(p) + s * a, p); store8(load8(p + 8) + s * b, p + 8)
        store8(load8(p + 16) + s * c, p + 16); store8(load8(p + 24) + s * d, p + 24)
    }
    @inline(__always) init(_ p: UnsafePointer<Float>) { a = load8(p); b = load8(p + 8); c = load8(p + 16); d = load8(p + 24) }
}

/// A loop over sparse entries and dense rows, written once for every lane-block width `L`; run on the lanes
/// `offset..<offset+L.width` of rows `kp` floats wide (see `Kernels.forEachLaneBlock`).
protocol LaneKernel {
    func run<L: LaneBlock>(_: L.Type, offset: Int)
}

/// What a sparse kernel multiplies by: each stored value as it is, or squared (for the Hessian's diagonal).
protocol ValueMap {
    static func map(_ v: Float) -> Float
}

enum SameValue: ValueMap {
    @inline(__always) static func map(_ v: Float) -> Float { v }
}

enum SquaredValue: ValueMap {
    @inline(__always) static func map(_ v: Float) -> Float { v * v }
}

/// A compressed sparse row matrix's three arrays, borrowed for the duration of a kernel call.
struct SparseRows {
    let offsets: UnsafePointer<Int64>
    let columns: UnsafePointer<Int32>
    let values: UnsafePointer<Float>
}

/// Low-level numeric kernels over contiguous `Float` buffers.
enum Kernels {
    /// Gives `body` the raw arrays of `m` (a valid pointer even when `m` stores nothing).
    static func withSparseRows<R>(_ m: CSRMatrix, _ body: (SparseRows) throws -> R) rethrows -> R {
        try withUnsafePointers(m.rowOffsets, m.columns, m.values) { o, c, v in
            try body(SparseRows(offsets: o, columns: c, values: v))
        }
    }

    /// Gives `body` the raw arrays of two matrices.
    static func withSparseRows<R>(_ a: CSRMatrix, _ b: CSRMatrix, _ body: (SparseRows, SparseRows) throws -> R) rethrows -> R {
        try withSparseRows(a) { ra in try withSparseRows(b) { rb in try body(ra, rb) } }
    }

    /// Gives `body` the raw arrays of every matrix of `ms`, in order.
    static func withSparseRows<R>(_ ms: [CSRMatrix], _ body: ([SparseRows]) throws -> R) rethrows -> R {
        func collect(_ i: Int, _ acc: [SparseRows]) throws -> R {
            if i == ms.count { return try body(acc) }
            return try withSparseRows(ms[i]) { try collect(i + 1, acc + [$0]) }
        }
        return try collect(0, [])
    }

    /// Runs `kernel` once per lane block covering a padded row of `kp` floats (a multiple of 8): one block
    /// of 8, 16, 24 or 32 lanes, or for wider rows slabs of 32 and then the 8, 16 or 24 left over.
    @inline(__always)
    private static func forEachLaneBlock<K: LaneKernel>(kp: Int, _ kernel: K) {
        switch kp {
        case 8: kernel.run(Lanes8.self, offset: 0)
        case 16: kernel.run(Lanes16.self, offset: 0)
        case 24: kernel.run(Lanes24.self, offset: 0)
        case 32: kernel.run(Lanes32.self, offset: 0)
        default:
            var offset = 0
            while offset + 32 <= kp { kernel.run(Lanes32.self, offset: offset); offset += 32 }
            switch kp - offset {
            case 8: kernel.run(Lanes8.self, offset: offset)
            case 16: kernel.run(Lanes16.self, offset: offset)
            case 24: kernel.run(Lanes24.self, offset: offset)
            default: break
            }
        }
    }

    /// Sparse rows times a dense row-major matrix: for every row `i` in `rows`,
    /// `out[i*kp ..< i*kp+kp] = Σ_t values[t] · dense[columns[t]*kp ..< columns[t]*kp+kp]`.
    /// `kp` must be a multiple of 8. Two interleaved accumulator sets hide the FMA latency.
    /// Output row `i` goes to `out + (i − firstOutRow) * kp`.
    static func sparseTimesDense(_ x: SparseRows, rows: Range<Int>, dense: UnsafePointer<Float>, kp: Int,
                                 out: UnsafeMutablePointer<Float>, firstOutRow: Int = 0) {
        forEachLaneBlock(kp: kp, Gather<SameValue>(x: x, rows: rows, dense: dense, kp: kp, out: out - firstOutRow * kp))
    }

    /// `sparseTimesDense` with every stored value squared (`x²` times a dense matrix).
    static func squaredSparseTimesDense(_ x: SparseRows, rows: Range<Int>, dense: UnsafePointer<Float>, kp: Int,
                                        out: UnsafeMutablePointer<Float>, firstOutRow: Int = 0) {
        forEachLaneBlock(kp: kp, Gather<SquaredValue>(x: x, rows: rows, dense: dense, kp: kp, out: out - firstOutRow * kp))
    }

    /// The lanes `offset..<offset+L.width` of `sparseTimesDense`, each stored value mapped by `Map`.
    private struct Gather<Map: ValueMap>: LaneKernel {
        let x: SparseRows, rows: Range<Int>, dense: UnsafePointer<Float>, kp: Int, out: UnsafeMutablePointer<Float>

        @inline(__always)
        func run<L: LaneBlock>(_: L.Type, offset: Int) {
            let base = dense + offset
            for i in rows {
                var t = Int(x.offsets[i])
                let end = Int(x.offsets[i + 1])
                var a = L(), b = L()
                while t + 2 <= end {
                    a.addProduct(Map.map(x.values[t]), base + Int(x.columns[t]) * kp)
                    b.addProduct(Map.map(x.values[t + 1]), base + Int(x.columns[t + 1]) * kp)
                    t += 2
                }
                if t < end { a.addProduct(Map.map(x.values[t]), base + Int(x.columns[t]) * kp) }
                a.add(b)
                a.store(out + i * kp + offset)
            }
        }
    }

    /// Columns times rows, scattered: for every column `j` in `columns` of a column-major sparse block `t`
    /// (`t.offsets` by column, `t.columns` holding row numbers), `out[row*kp ..< row*kp+kp] += value ·
    /// dense[j*kp ..< j*kp+kp]`. Each dense row is read once into registers and added to the (cache-resident)
    /// output rows of its entries; `kp` must be a multiple of 8.
    /// Output row `r` of the block goes to `out + (firstOutRow + r) * kp`.
    static func scatterColumns(_ t: SparseRows, columns: Range<Int>, dense: UnsafePointer<Float>, kp: Int,
                               out: UnsafeMutablePointer<Float>, firstOutRow: Int = 0) {
        forEachLaneBlock(kp: kp, Scatter<SameValue>(m: t, outer: columns, dense: dense, kp: kp, out: out + firstOutRow * kp))
    }

    /// Sets the rows `rows` of `m` (row length `kp`) to zero.
    static func zeroRows(_ m: UnsafeMutablePointer<Float>, rows: Range<Int>, kp: Int) {
        (m + rows.lowerBound * kp).update(repeating: 0, count: rows.count * kp)
    }

    /// Rows scattered into a dense matrix: for every row `i` in `rows`, `out[columns[t]*kp ..< +kp] += values[t] ·
    /// dense[(i − firstRow)*kp ..< +kp]` over the row's entries (`xᵀ · dense` accumulated row by row). The
    /// same operation as `scatterColumns` with the roles of rows and columns exchanged.
    static func scatterRows(_ x: SparseRows, rows: Range<Int>, dense: UnsafePointer<Float>, firstRow: Int, kp: Int,
                            out: UnsafeMutablePointer<Float>) {
        forEachLaneBlock(kp: kp, Scatter<SameValue>(m: x, outer: rows, dense: dense - firstRow * kp, kp: kp, out: out))
    }

    /// `scatterRows` with every stored value squared (`(x²)ᵀ · dense` accumulated row by row).
    static func squaredScatterRows(_ x: SparseRows, rows: Range<Int>, dense: UnsafePointer<Float>, firstRow: Int, kp: Int,
                                   out: UnsafeMutablePointer<Float>) {
        forEachLaneBlock(kp: kp, Scatter<SquaredValue>(m: x, outer: rows, dense: dense - firstRow * kp, kp: kp, out: out))
    }

    /// The lanes `offset..<offset+L.width` of a scatter: for every outer index `o` of `m` in `outer`, dense row
    /// `o` is read once into registers and `m`'s value times it added to output row `inner` of each entry.
    private struct Scatter<Map: ValueMap>: LaneKernel {
        let m: SparseRows, outer: Range<Int>, dense: UnsafePointer<Float>, kp: Int, out: UnsafeMutablePointer<Float>

        @inline(__always)
        func run<L: LaneBlock>(_: L.Type, offset: Int) {
            let base = out + offset
            for o in outer {
                var e = Int(m.offsets[o])
                let end = Int(m.offsets[o + 1])
                if e == end { continue }
                let r = L(dense + o * kp + offset)
                while e < end {
                    r.addScaled(Map.map(m.values[e]), into: base + Int(m.columns[e]) * kp)
                    e += 1
                }
            }
        }
    }

    /// `out[i] = Σ_p parts[p][i]` for `i` in `range`, parts added in order.
    static func sumParts(_ parts: UnsafePointer<Float>, count: Int, stride: Int, _ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            var acc = load8(parts + i)
            for p in 1..<count { acc += load8(parts + p * stride + i) }
            store8(acc, out + i - range.lowerBound)
            i += 8
        }
        while i < range.upperBound {
            var acc = parts[i]
            for p in 1..<count { acc += parts[p * stride + i] }
            out[i - range.lowerBound] = acc
            i += 1
        }
    }

    /// Softmax cross-entropy epilogue for the score rows `rows` (row `i` at `scores + (i − firstRow)·kp`;
    /// classes `0..<k`, padding zero), row by row: a row with weight `w_i = weights[i]` of 0 becomes zero;
    /// any other gets `bias` added and becomes the weighted residual `w_i (softmax − onehot(labels[i]))`,
    /// which is added to `biasSum`, and `w_i · CE_i = w_i (logsumexp − score_y)` is added to `loss`. With
    /// `probabilities`, row `i`'s softmax goes to `probabilities + i·kp` (zero for a row of weight 0).
    static func softmaxResiduals(_ scores: UnsafeMutablePointer<Float>, rows: Range<Int>, firstRow: Int, k: Int, kp: Int,
                                 labels: [Int32], weights: [Float], bias: UnsafePointer<Float>,
                                 loss: inout Double, biasSum: UnsafeMutablePointer<Float>,
                                 probabilities: UnsafeMutablePointer<Float>? = nil) {
        for i in rows {
            let row = scores + (i - firstRow) * kp
            let w = weights[i]
            if w == 0 {
                row.update(repeating: 0, count: kp)
                probabilities?.advanced(by: i * kp).update(repeating: 0, count: kp)
                continue
            }
            loss += softmaxResidual(row, bias: bias, k: k, y: Int(labels[i]), weight: w, biasSum: biasSum,
                                    probabilities: probabilities.map { $0 + i * kp })
        }
    }

    /// `softmaxResiduals` for one row `r[0..<kp]`; returns `w · (logsumexp − score_y)`.
    @inline(__always)
    private static func softmaxResidual(_ r: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, k: Int, y: Int, weight w: Float,
                                        biasSum: UnsafeMutablePointer<Float>, probabilities p: UnsafeMutablePointer<Float>?) -> Double {
        var m = -Float.infinity
        for c in 0..<k {
            r[c] += bias[c]
            m = max(m, r[c])
        }
        let sy = r[y]
        var sum: Float = 0
        for c in 0..<k {
            let e = Foundation.exp(r[c] - m)
            r[c] = e
            sum += e
        }
        if let p {
            let inverse = 1 / sum
            for c in 0..<k { p[c] = r[c] * inverse }
        }
        let scale = w / sum
        for c in 0..<k {
            let v = r[c] * scale - (c == y ? w : 0)
            r[c] = v
            biasSum[c] += v
        }
        return Double(w) * (Double(m) + Foundation.log(Double(sum)) - Double(sy))
    }

    /// The softmax Hessian applied to score rows, for the rows `rows` of `scores` (row `i` at `scores + (i −
    /// firstRow)·kp`, holding `z_i = x_i V` for a direction V): with `p_i` the softmax at the current point
    /// (`probabilities + i·kp`) and `w_i = weights[i]`, each row becomes `w_i (p_i ⊙ (z_i + bias) − p_i (p_i ·
    /// (z_i + bias)))` (zero when `w_i` is 0), which is added to `biasSum`.
    static func softmaxHessianRows(_ scores: UnsafeMutablePointer<Float>, rows: Range<Int>, firstRow: Int, k: Int, kp: Int,
                                   probabilities: UnsafePointer<Float>, weights: [Float], bias: UnsafePointer<Float>,
                                   biasSum: UnsafeMutablePointer<Float>) {
        for i in rows {
            let row = scores + (i - firstRow) * kp
            let w = weights[i]
            if w == 0 {
                row.update(repeating: 0, count: kp)
                continue
            }
            let p = probabilities + i * kp
            var mean: Float = 0
            for c in 0..<k {
                row[c] += bias[c]
                mean += p[c] * row[c]
            }
            for c in 0..<k {
                let v = w * p[c] * (row[c] - mean)
                row[c] = v
                biasSum[c] += v
            }
        }
    }

    /// The curvature rows of the Hessian's diagonal: for the rows `rows`, `out + (i − firstRow)·kp` gets
    /// `w_i p_i ⊙ (1 − p_i)` (`p_i` at `probabilities + i·kp`; zero padding), which is added to `biasSum`.
    static func curvatureRows(_ out: UnsafeMutablePointer<Float>, rows: Range<Int>, firstRow: Int, k: Int, kp: Int,
                              probabilities: UnsafePointer<Float>, weights: [Float], biasSum: UnsafeMutablePointer<Float>) {
        for i in rows {
            let row = out + (i - firstRow) * kp
            row.update(repeating: 0, count: kp)
            let w = weights[i]
            if w == 0 { continue }
            let p = probabilities + i * kp
            for c in 0..<k {
                let v = w * p[c] * (1 - p[c])
                row[c] = v
                biasSum[c] += v
            }
        }
    }

    /// Diagonal epilogue for rows `rows` whose `((x²)ᵀ Q)` rows are in `scratch` (row `j` at `(j −
    /// rows.lowerBound)·kp`): `m[j*k ..< j*k+k] = σ_j² (scratch·a + b)` (compact).
    static func curvatureEpilogue(_ scratch: UnsafePointer<Float>, _ sigma: UnsafePointer<Float>, into m: UnsafeMutablePointer<Float>,
                                  rows: Range<Int>, k: Int, kp: Int, a: Float, b: Float) {
        for j in rows {
            let local = scratch + (j - rows.lowerBound) * kp, mj = m + j * k
            let s2 = sigma[j] * sigma[j]
            for c in 0..<k { mj[c] = s2 * (local[c] * a + b) }
        }
    }

    /// Adds `bias[0..<k]` to each of the rows `rows` of `m` (row length `kp`).
    static func addBias(_ m: UnsafeMutablePointer<Float>, rows: Range<Int>, kp: Int, bias: UnsafePointer<Float>, k: Int) {
        for i in rows {
            let r = m + i * kp
            for c in 0..<k { r[c] += bias[c] }
        }
    }

    /// In-place softmax of rows `rows` of `m` over the first `k` of `kp` columns, in Double.
    static func softmaxRows(_ m: UnsafeMutablePointer<Float>, rows: Range<Int>, kp: Int, k: Int) {
        for i in rows {
            let r = m + i * kp
            var mx = -Double.infinity
            for c in 0..<k { mx = max(mx, Double(r[c])) }
            var sum = 0.0
            for c in 0..<k { sum += Foundation.exp(Double(r[c]) - mx) }
            let lse = mx + Foundation.log(sum)
            for c in 0..<k { r[c] = Float(Foundation.exp(Double(r[c]) - lse)) }
        }
    }

    /// Expands compact rows to padded ones: `out[j*kp + c] = σ_j · u[j*k + c]` for `c < k`, every `j` in `rows`
    /// (padding columns are left as they are: zero).
    static func scaleRows(_ u: UnsafePointer<Float>, _ sigma: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                          rows: Range<Int>, k: Int, kp: Int) {
        for j in rows {
            let s = sigma[j]
            let src = u + j * k, dst = out + j * kp
            for c in 0..<k { dst[c] = s * src[c] }
        }
    }

    /// Gradient epilogue for rows `rows` whose (Xᵀ R) rows are in `scratch` (row `j` at `(j − rows.lowerBound)·kp`):
    /// `g_W = scratch·a + w·b` (the gradient in W, `w` padded), then `g[j*k ..< j*k+k] = σ_j · g_W` (compact).
    /// Returns `Σ w²` over those rows (the penalty's share), `max |g_W|` and `Σ w·g_W` (which is `u·g` for `w =
    /// σ ⊙ u`).
    static func gradientEpilogue(_ scratch: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ sigma: UnsafePointer<Float>,
                                 into g: UnsafeMutablePointer<Float>, rows: Range<Int>, k: Int, kp: Int,
                                 a: Float, b: Float) -> (penalty: Double, max: Float, dot: Double) {
        let va = SIMD8<Float>(repeating: a), vb = SIMD8<Float>(repeating: b)
        var acc = SIMD8<Float>(), dot = SIMD8<Float>()
        var big = SIMD8<Float>()
        var total = 0.0, dotTotal = 0.0
        let full = k & ~7
        for j in rows {
            let local = scratch + (j - rows.lowerBound) * kp, wj = w + j * kp, gj = g + j * k
            let s = SIMD8<Float>(repeating: sigma[j])
            var c = 0
            while c < kp {
                let wv = load8(wj + c)
                let gw = load8(local + c) * va + wv * vb
                big = big.replacing(with: gw, where: gw .> big).replacing(with: -gw, where: -gw .> big)
                acc += wv * wv
                dot += wv * gw
                let scaled = s * gw
                if c < full {
                    store8(scaled, gj + c)
                } else {
                    for l in 0..<(k - c) { gj[c + l] = scaled[l] }
                }
                c += 8
            }
            if j & 255 == 255 {
                total += Double(acc.sum()); acc = SIMD8()
                dotTotal += Double(dot.sum()); dot = SIMD8()
            }
        }
        return (total + Double(acc.sum()), big.max(), dotTotal + Double(dot.sum()))
    }

    // MARK: Naive Bayes

    /// Per-class feature sums for the features `columns`: `out[j·k + y_i] += x_ij` over the rows `0..<rows`
    /// with a label in `0..<k`, in row order.
    static func addClassSums(_ x: SparseRows, rows: Int, labels y: [Int32], k: Int, columns: Range<Int>,
                             rowWeights: [Float]?, into out: UnsafeMutablePointer<Double>) {
        let lo = Int32(columns.lowerBound), hi = Int32(columns.upperBound)
        for i in 0..<rows where y[i] >= 0 && Int(y[i]) < k {
            let c = Int(y[i])
            let w = rowWeights.map { Double($0[i]) } ?? 1
            for t in Int(x.offsets[i])..<Int(x.offsets[i + 1]) where x.columns[t] >= lo && x.columns[t] < hi {
                out[Int(x.columns[t]) * k + c] += Double(x.values[t]) * w
            }
        }
    }
}
