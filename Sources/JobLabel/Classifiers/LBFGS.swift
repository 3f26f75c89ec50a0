/// Limited-memory BFGS with a strong-Wolfe line search (Nocedal & Wright, algorithms 7.4, 3.5, 3.6). It
/// knows nothing of the objective: `minimize` is given a function that returns f(x) and writes ∇f(x).
///
/// **Iteration.** From x with gradient g, the direction is `d = −H g`, with H the L-BFGS approximation of
/// the inverse Hessian built from the last m pairs `s_a = x_{a+1} − x_a`, `y_a = g_{a+1} − g_a`; the line
/// search finds a step α with sufficient decrease and curvature (c1 = 1e-4, c2 = 0.9), and x moves to
/// x + α d. The classic two-loop recursion computes `−H g` as
///
///     q = −g
///     for a = newest … oldest:  α_a = (s_a·q) / (s_a·y_a);   q = q − α_a y_a
///     r = γ q,   γ = (s_new·y_new) / (y_new·y_new)
///     for a = oldest … newest:  β_a = (y_a·r) / (s_a·y_a);   r = r + (α_a − β_a) s_a
///     d = r
///
/// **Vector-free form** (Chen et al., NIPS 2014). Every vector in the recursion is a combination
/// `Σ_a cs_a s_a + Σ_a cy_a y_a + cg g`, so each dot product in it is the same combination of the dot
/// products between the history vectors and g (`s_a·s_b`, `s_a·y_b`, `y_a·y_b`, `s_a·g`, `y_a·g`). The
/// recursion runs on those `O(m²)` numbers (`directionCoefficients`); the vectors are read twice per
/// iteration — once to update the dot products with the new pair and gradient (`update`), once to form d
/// (`formDirection`) — instead of four times. In exact arithmetic d equals the two-loop recursion's.
///
/// **Storage.** The pairs are stored as bfloat16 (8-bit mantissa, Float's range), which halves the memory
/// traffic that dominates an iteration on large models; the dot products are computed from the stored
/// values, so the recursion is exactly L-BFGS on those (slightly rounded) pairs. A pair is kept only when
/// `s·y > 10⁻¹⁰ y·y` (positive curvature keeps H positive definite).
///
/// **Stopping.** When `stoppingNorm()` (default `max |g|`) is at most `gtol`, when the relative decrease
/// `(f_old − f) / max(|f_old|, |f|, 1)` is at most `ftol`, after `maxIterations`, or when the line search
/// finds no decrease. Vector passes run in fixed blocks reduced in block order, so the result does not
/// depend on the thread count.
enum LBFGS {
    /// Elements per block of the blocked, parallel vector passes.
    static let block = 8192

    /// A function to minimise: returns f(x) and writes ∇f(x) to `gradient` (both of the problem's length).
    typealias Objective = (_ x: PinnedBuffer<Float>, _ gradient: PinnedBuffer<Float>) -> Double

    /// Minimises `f` from `x` (updated in place). The stopping test compares `stoppingNorm()` (evaluated
    /// right after the accepted point's evaluation) with `gtol`; by default the largest gradient component.
    static func minimize(_ x: inout [Float], history m: Int, maxIterations: Int, gtol: Double,
                         ftol: Double = 64 * Double.ulpOfOne, parallel: Parallel = Parallel(), stoppingNorm: (() -> Double)? = nil,
                         _ f: Objective) -> OptimizationReport {
        let state = LBFGSState(x: x, history: max(1, m), parallel: parallel)
        let report = state.run(maxIterations: maxIterations, gtol: gtol, ftol: ftol, stoppingNorm: stoppingNorm, f)
        x = state.x.array
        return report
    }
}

/// Working storage of one L-BFGS run. Vectors are `PinnedBuffer`s, so the blocked passes hand the same
/// range of several of them (`x[r]`, `d[r]`) to a kernel.
private final class LBFGSState {
    let n: Int
    let m: Int
    var x: PinnedBuffer<Float>
    var g: PinnedBuffer<Float>
    var d: PinnedBuffer<Float>
    var xTrial: PinnedBuffer<Float>
    var gTrial: PinnedBuffer<Float>
    /// m + 1 slots for s and y (bfloat16): a new pair is written to a free slot before the oldest is
    /// dropped. Allocated as first used.
    var sSlots: [PinnedBuffer<UInt16>] = []
    var ySlots: [PinnedBuffer<UInt16>] = []
    /// Slots in use, oldest first.
    var order: [Int] = []
    /// Dot products by slot: ss[a][b] = s_a·s_b, sy[a][b] = s_a·y_b, yy[a][b] = y_a·y_b; sg/yg with the gradient.
    var ss: [[Double]], sy: [[Double]], yy: [[Double]]
    var sg: [Double], yg: [Double]
    var gg = 0.0

    /// Worker threads of the blocked passes.
    let parallel: Parallel

    init(x: [Float], history m: Int, parallel: Parallel) {
        self.parallel = parallel
        n = x.count
        self.m = m
        self.x = PinnedBuffer(x)
        g = PinnedBuffer(repeating: 0, count: n)
        d = PinnedBuffer(repeating: 0, count: n)
        xTrial = PinnedBuffer(repeating: 0, count: n)
        gTrial = PinnedBuffer(repeating: 0, count: n)
        let slots = m + 1
        ss = [[Double]](repeating: [Double](repeating: 0, count: slots), count: slots)
        sy = ss
        yy = ss
        sg = [Double](repeating: 0, count: slots)
        yg = sg
    }

    func run(maxIterations: Int, gtol: Double, ftol: Double, stoppingNorm: (() -> Double)?,
             _ f: LBFGS.Objective) -> OptimizationReport {
        var fx = f(x, g)
        var evaluations = 1
        gg = blockedDot(g, g)
        var gmax = stoppingNorm?() ?? Double(Kernels.maxAbs(g[0..<n]))
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
        // The history in the order s_a, y_a of each slot, oldest first, with their coefficients.
        var coefficients: [Float] = [], history: [PinnedBuffer<UInt16>] = []
        for a in order {
            coefficients.append(Float(cs[a])); coefficients.append(Float(cy[a]))
            history.append(sSlots[a]); history.append(ySlots[a])
        }
        let step = Float(trialStep), gCoefficient = Float(cg)
        let (x, g, d, xTrial) = (self.x, self.g, self.d, self.xTrial)
        let parts = parallel.mapRanges(count: n, blockSize: LBFGS.block) { r -> Double in
            Kernels.scale(g[r], gCoefficient, into: d[r])
            // The history in groups of four vectors (each s with its y).
            var j = 0
            while j < history.count {
                let group = j..<min(history.count, j + 4)
                Kernels.addScaledBF16(Array(coefficients[group]), history[group].map { $0[r] }, into: d[r])
                j = group.upperBound
            }
            Kernels.addScaled(x[r], step, d[r], into: xTrial[r])
            return Kernels.dot(g[r], d[r])
        }
        return parts.reduce(0, +)
    }

    // MARK: line search

    /// Strong-Wolfe line search along d (c1 = 1e-4, c2 = 0.9). On success xTrial/gTrial hold the new point;
    /// the first trial point x + initial·d was written by `formDirection`.
    func lineSearch(fx: Double, dg0: Double, initial: Double, evaluations: inout Int,
                    _ f: LBFGS.Objective) -> (alpha: Double, f: Double)? {
        let c1 = 1e-4, c2 = 0.9
        let maxEvaluations = 40
        var used = 0
        var trialAt = initial
        func eval(_ a: Double) -> (Double, Double) {
            if a != trialAt { setTrial(a); trialAt = a }
            let fa = f(xTrial, gTrial)
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
        let step = Float(a)
        let (x, d, xTrial) = (self.x, self.d, self.xTrial)
        parallel.forEachRange(count: n, blockSize: LBFGS.block) { r in
            Kernels.addScaled(x[r], step, d[r], into: xTrial[r])
        }
    }

    // MARK: history update

    /// The dot products one update needs, summed over the blocks of a pass: with the new pair s = x' − x,
    /// y = g' − g (as stored, bfloat16) and the new gradient g'.
    struct UpdateDots {
        /// g'·g'.
        var gg = 0.0
        /// (g', s, y) with (s, y): g'·s, g'·y, s·s, s·y, y·s, y·y.
        var own = Kernels.Dots3x2()
        /// Per old slot b, (g', s, y) with (s_b, y_b): g'·s_b, g'·y_b, s·s_b, s·y_b, y·s_b, y·y_b.
        var old: [Kernels.Dots3x2]
        /// max |g'|.
        var gmax: Float = 0

        /// Adds another block's sums.
        mutating func add(_ o: UpdateDots) {
            gg += o.gg
            own.add(o.own)
            for i in old.indices { old[i].add(o.old[i]) }
            gmax = max(gmax, o.gmax)
        }
    }

    /// Accepts the trial point: stores s = xTrial − x and y = gTrial − g (rounded to bfloat16) in a free slot,
    /// updates every dot product with one pass over the history, then moves to the new point. Returns max |g|.
    func update() -> Double {
        let slots = m + 1
        guard let fresh = (0..<slots).first(where: { !order.contains($0) }) else { return .infinity }
        while sSlots.count <= fresh {
            sSlots.append(PinnedBuffer(repeating: 0, count: n))
            ySlots.append(PinnedBuffer(repeating: 0, count: n))
        }
        let old = order
        let dots = pairDots(into: fresh, old: old)
        swap(&x, &xTrial)
        swap(&g, &gTrial)
        gg = dots.gg
        for (i, b) in old.enumerated() {
            sg[b] = dots.old[i].au
            yg[b] = dots.old[i].av
        }
        // Keep the pair only when it has enough curvature (s·y > 0 keeps H positive definite).
        let sDotY = dots.own.bv, yDotY = dots.own.cv
        if sDotY > 1e-10 * yDotY {
            ss[fresh][fresh] = dots.own.bu
            sy[fresh][fresh] = sDotY
            yy[fresh][fresh] = yDotY
            sg[fresh] = dots.own.au
            yg[fresh] = dots.own.av
            for (i, b) in old.enumerated() {
                let p = dots.old[i]
                ss[fresh][b] = p.bu; ss[b][fresh] = p.bu
                sy[fresh][b] = p.bv  // s_new · y_b
                sy[b][fresh] = p.cu  // s_b · y_new
                yy[fresh][b] = p.cv; yy[b][fresh] = p.cv
            }
            if order.count == m { order.removeFirst() }
            order.append(fresh)
        }
        return Double(dots.gmax)
    }

    /// The pass of `update`: writes s and y to slot `fresh` and returns their dot products with themselves,
    /// the new gradient and the pairs of the slots `old`.
    private func pairDots(into fresh: Int, old: [Int]) -> UpdateDots {
        let (x, g, xTrial, gTrial) = (self.x, self.g, self.xTrial, self.gTrial)
        let (sNew, yNew) = (sSlots[fresh], ySlots[fresh])
        let history = old.map { (sSlots[$0], ySlots[$0]) }
        let parts = parallel.mapRanges(count: n, blockSize: LBFGS.block) { r -> UpdateDots in
            // s and y of this block, rounded to bfloat16: stored, and kept as Float for the dot products.
            withScratchBlocks(r.count) { sf, yf in
                Kernels.differenceBF16(xTrial[r], x[r], into: sNew[r], rounded: sf)
                Kernels.differenceBF16(gTrial[r], g[r], into: yNew[r], rounded: yf)
                let gt = gTrial[r]
                let pairs = history.map { Kernels.dots3x2BF16(gt, sf, yf, $0.0[r], $0.1[r]) }
                return UpdateDots(gg: Kernels.dot(gt, gt), own: Kernels.dots3x2(gt, sf, yf, sf, yf), old: pairs,
                                  gmax: Kernels.maxAbs(gt))
            }
        }
        var total = UpdateDots(old: [Kernels.Dots3x2](repeating: Kernels.Dots3x2(), count: old.count))
        for p in parts { total.add(p) }
        return total
    }

    // MARK: helpers

    /// Σ a·b over fixed blocks, reduced in block order.
    func blockedDot(_ a: PinnedBuffer<Float>, _ b: PinnedBuffer<Float>) -> Double {
        parallel.mapRanges(count: min(a.count, b.count), blockSize: LBFGS.block) { Kernels.dot(a[$0], b[$0]) }.reduce(0, +)
    }
}
