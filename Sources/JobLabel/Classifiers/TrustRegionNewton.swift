/// What `TrustRegionNewton` minimises: a twice differentiable convex function of `parameterCount` values with
/// its gradient, Hessian-vector products and the Hessian's diagonal.
protocol SecondOrderObjective: AnyObject {
    /// Length of the parameter vector.
    var parameterCount: Int { get }
    /// Returns f(θ) and writes ∇f(θ) to `gradient`; the next two functions use the Hessian at the θ of the last
    /// call.
    func lossAndGradient(_ theta: PinnedBuffer<Float>, gradient: PinnedBuffer<Float>) -> Double
    /// Writes `H d` into `out`; returns `d · H d`.
    func hessianTimes(_ d: PinnedBuffer<Float>, into out: PinnedBuffer<Float>) -> Double
    /// Writes the diagonal of H into `m`.
    func hessianDiagonal(into m: PinnedBuffer<Float>)
}

/// Trust-region Newton with preconditioned conjugate gradients, as LIBLINEAR's TRON (Lin, Weng & Keerthi,
/// "Trust region Newton method for large-scale logistic regression", JMLR 2008; the diagonal preconditioner of
/// Hsia, Chiang & Lin, ACML 2018). It knows nothing of the objective beyond `SecondOrderObjective`.
///
/// **Iteration.** At θ with gradient g and Hessian H, conjugate gradients preconditioned by H's diagonal M
/// solve `H s = −g` approximately (Steihaug–Toint): they stop when the residual `r = −g − H s` is small
/// (`‖r‖_{M⁻¹} ≤ 0.3 ‖g‖_{M⁻¹}`) or when s reaches the trust region's boundary `‖s‖_M = Δ`. Each step costs one
/// Hessian-vector product (one pass over the data, without exponentials) and two passes over a few vectors.
/// Then f is evaluated at θ + s; the step is taken when the actual decrease is at least 10⁻⁴ of the decrease
/// the quadratic model predicts, and Δ grows or shrinks with their ratio (LIBLINEAR's rules and constants);
/// a rejected step costs one more evaluation, at θ, since the objective keeps only the last point's Hessian.
/// `‖s‖_M` and the products it needs come from the conjugate gradient recurrences.
///
/// Compared with L-BFGS, it keeps no history of past steps: the passes over the data (about as many as
/// L-BFGS's evaluations to the same tolerance) are most of the cost, where L-BFGS also read its 20 stored
/// vectors twice per iteration.
///
/// **Stopping.** When `stoppingNorm()` (evaluated right after each accepted point's evaluation) is at most
/// `gtol`; after `maxIterations` accepted steps; when the model predicts no decrease; when the actual and
/// predicted decreases are both below 10⁻¹² of f; or after 30 rejected steps in a row. Vector passes run in
/// fixed blocks reduced in block order, so the result does not depend on the thread count.
enum TrustRegionNewton {
    /// Elements per block of the blocked, parallel vector passes.
    static let block = 8192
    /// Conjugate gradients stop when `‖r‖_{M⁻¹} ≤ cgTolerance · ‖g‖_{M⁻¹}`.
    static let cgTolerance = 0.3
    /// At most this many conjugate gradient steps per iteration.
    static let maxCGSteps = 250

    /// Minimises `problem` from `x` (updated in place).
    static func minimize<P: SecondOrderObjective>(_ x: inout [Float], _ problem: P, maxIterations: Int, gtol: Double,
                                                  parallel: Parallel = Parallel(), stoppingNorm: () -> Double) -> OptimizationReport {
        precondition(x.count == problem.parameterCount)
        let state = TrustRegionState(x: x, parallel: parallel)
        let report = state.run(problem, maxIterations: maxIterations, gtol: gtol, stoppingNorm: stoppingNorm)
        x = state.x.array
        return report
    }
}

/// Working storage of one trust-region run.
private final class TrustRegionState {
    let n: Int
    let parallel: Parallel
    /// The point and its gradient; the trial point and its gradient.
    var x: PinnedBuffer<Float>, g: PinnedBuffer<Float>
    var xNew: PinnedBuffer<Float>, gNew: PinnedBuffer<Float>
    /// The step and the residual −g − H s.
    let s: PinnedBuffer<Float>, r: PinnedBuffer<Float>
    /// The inverse of the diagonal preconditioner M.
    let m: PinnedBuffer<Float>
    /// The conjugate direction and H d, which share storage with the trial point and its gradient: those
    /// are written after the conjugate gradients end and read only until the next ones start.
    var d: PinnedBuffer<Float> { xNew }
    var hd: PinnedBuffer<Float> { gNew }

    init(x: [Float], parallel: Parallel) {
        n = x.count
        self.parallel = parallel
        self.x = PinnedBuffer(x)
        func vector() -> PinnedBuffer<Float> { PinnedBuffer(repeating: 0, count: x.count) }
        g = vector(); xNew = vector(); gNew = vector()
        s = vector(); r = vector(); m = vector()
    }

    func run<P: SecondOrderObjective>(_ problem: P, maxIterations: Int, gtol: Double, stoppingNorm: () -> Double) -> OptimizationReport {
        // LIBLINEAR's constants: acceptance and radius-update thresholds on actual / predicted decrease,
        // and the radius factors.
        let eta0 = 1e-4, eta1 = 0.25, eta2 = 0.75
        let sigma1 = 0.25, sigma2 = 0.5, sigma3 = 4.0
        var f = problem.lossAndGradient(x, gradient: g)
        var passes = 1
        var gmax = stoppingNorm()
        if gmax <= gtol {
            return OptimizationReport(iterations: 0, evaluations: passes, finalLoss: f, gradientMax: gmax,
                                      converged: true, stopReason: "gradient below tolerance")
        }
        updatePreconditioner(problem)
        var delta = -1.0
        var iterations = 0, rejected = 0
        var reason = "iteration limit reached"
        var converged = false
        while iterations < maxIterations {
            // Conjugate gradients on H s = −g inside ‖s‖_M ≤ Δ.
            var rz = start()
            let gNorm = rz.squareRoot()
            if delta < 0 { delta = gNorm }
            var sMs = 0.0, sMd = 0.0, dMd = rz
            var steps = 0
            var boundary = false
            while true {
                let dHd = problem.hessianTimes(d, into: hd)
                passes += 1
                steps += 1
                let alpha = rz / dHd
                let sMsNext = sMs + 2 * alpha * sMd + alpha * alpha * dMd
                if !(dHd > 0) || !(sMsNext < delta * delta) {
                    // To the boundary along d: ‖s + τ d‖_M = Δ (LIBLINEAR's stable root).
                    let dsq = delta * delta
                    let rad = max(0, sMd * sMd + dMd * (dsq - sMs)).squareRoot()
                    let tau = sMd >= 0 ? (dsq - sMs) / (sMd + rad) : (rad - sMd) / dMd
                    _ = step(tau)
                    sMs = dsq
                    boundary = true
                    break
                }
                let rzNext = step(alpha)
                sMs = sMsNext
                if rzNext.squareRoot() <= TrustRegionNewton.cgTolerance * gNorm || steps >= TrustRegionNewton.maxCGSteps { break }
                let beta = rzNext / rz
                direction(beta)
                sMd = beta * (sMd + alpha * dMd)
                dMd = rzNext + beta * beta * dMd
                rz = rzNext
            }
            // The trial point and the model's predicted decrease −(g·s + ½ s·H s) = −½ (g·s − s·r).
            let (gs, sr) = trialPoint()
            let predicted = -0.5 * (gs - sr)
            let fNew = problem.lossAndGradient(xNew, gradient: gNew)
            passes += 1
            let actual = fNew.isFinite ? f - fNew : -Double.infinity
            let sNorm = sMs.squareRoot()
            if iterations == 0 { delta = min(delta, sNorm) }
            let curvature = fNew - f - gs
            let factor = !fNew.isFinite ? sigma1 : curvature <= 0 ? sigma3 : max(sigma1, -0.5 * (gs / curvature))
            if actual < eta0 * predicted {
                delta = min(factor * sNorm, sigma2 * delta)
            } else if actual < eta1 * predicted {
                delta = max(sigma1 * delta, min(factor * sNorm, sigma2 * delta))
            } else if actual < eta2 * predicted {
                delta = max(sigma1 * delta, min(factor * sNorm, sigma3 * delta))
            } else {
                delta = boundary ? sigma3 * delta : max(delta, min(factor * sNorm, sigma3 * delta))
            }
            if actual > eta0 * predicted {
                swap(&x, &xNew)
                swap(&g, &gNew)
                f = fNew
                iterations += 1
                rejected = 0
                gmax = stoppingNorm()
                if gmax <= gtol {
                    reason = "gradient below tolerance"
                    converged = true
                    break
                }
                updatePreconditioner(problem)
            } else {
                rejected += 1
                // The Hessian is needed at x again: evaluate there once more (rare; the gradient is x's).
                _ = problem.lossAndGradient(x, gradient: gNew)
                passes += 1
            }
            if !(predicted > 0) {
                reason = "the quadratic model predicts no decrease"
                break
            }
            if abs(actual) <= 1e-12 * abs(f) && abs(predicted) <= 1e-12 * abs(f) {
                reason = "relative loss reduction below 1e-12"
                converged = true
                break
            }
            if rejected >= 30 {
                reason = "no decrease in 30 trust-region steps"
                break
            }
        }
        return OptimizationReport(iterations: iterations, evaluations: passes, finalLoss: f, gradientMax: gmax,
                                  converged: converged, stopReason: reason)
    }

    /// m = 1 / diag(H) at the current point.
    func updatePreconditioner<P: SecondOrderObjective>(_ problem: P) {
        problem.hessianDiagonal(into: m)
        let m = self.m
        parallel.forEachRange(count: n, blockSize: TrustRegionNewton.block) { Kernels.invert(m[$0], floor: 1e-30) }
    }

    /// s = 0, r = −g, d = m ⊙ r; returns r·m·r.
    func start() -> Double {
        let (g, m, s, r, d) = (self.g, self.m, self.s, self.r, self.d)
        return parallel.mapRanges(count: n, blockSize: TrustRegionNewton.block) { b in
            Kernels.cgStart(g[b], m[b], s: s[b], r: r[b], d: d[b])
        }.reduce(0, +)
    }

    /// s += a·d, r −= a·hd; returns the new r·m·r.
    func step(_ a: Double) -> Double {
        let (d, hd, m, s, r) = (self.d, self.hd, self.m, self.s, self.r)
        let step = Float(a)
        return parallel.mapRanges(count: n, blockSize: TrustRegionNewton.block) { b in
            Kernels.cgStep(step, d[b], hd[b], m[b], s: s[b], r: r[b])
        }.reduce(0, +)
    }

    /// d = m ⊙ r + b·d.
    func direction(_ b: Double) {
        let (r, m, d) = (self.r, self.m, self.d)
        let beta = Float(b)
        parallel.forEachRange(count: n, blockSize: TrustRegionNewton.block) { Kernels.cgDirection(r[$0], m[$0], beta, d: d[$0]) }
    }

    /// xNew = x + s; returns (g·s, s·r).
    func trialPoint() -> (Double, Double) {
        let (x, s, g, r, xNew) = (self.x, self.s, self.g, self.r, self.xNew)
        let parts = parallel.mapRanges(count: n, blockSize: TrustRegionNewton.block) { b in
            Kernels.trialPoint(x[b], s[b], g[b], r[b], into: xNew[b])
        }
        return parts.reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
    }
}

extension SoftmaxProblem: SecondOrderObjective {}
