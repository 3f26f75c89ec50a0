// Unsafe: the trust-region vector loops read and write through raw pointers at computed offsets; callers pass blocks (buffer pointers) of equal length that stay alive for the call.

// MARK: dense vectors (trust-region Newton)

extension Kernels {
    /// Starts a preconditioned conjugate gradient solve of `H s = −g`: `s = 0`, `r = −g`, `d = m ⊙ r` (`m` the
    /// inverse preconditioner); returns `Σ r·d`.
    static func cgStart(_ g: UnsafeMutableBufferPointer<Float>, _ m: UnsafeMutableBufferPointer<Float>,
                        s: UnsafeMutableBufferPointer<Float>, r: UnsafeMutableBufferPointer<Float>,
                        d: UnsafeMutableBufferPointer<Float>) -> Double {
        let n = g.count
        return VectorLoops.cgStart(start(g), start(m, count: n), s: start(s, count: n), r: start(r, count: n), d: start(d, count: n), n)
    }

    /// A conjugate gradient step: `s += a·d`, `r −= a·hd`; returns `Σ r²·m` of the new `r`.
    static func cgStep(_ a: Float, _ d: UnsafeMutableBufferPointer<Float>, _ hd: UnsafeMutableBufferPointer<Float>,
                       _ m: UnsafeMutableBufferPointer<Float>, s: UnsafeMutableBufferPointer<Float>,
                       r: UnsafeMutableBufferPointer<Float>) -> Double {
        let n = d.count
        return VectorLoops.cgStep(a, start(d), start(hd, count: n), start(m, count: n), s: start(s, count: n), r: start(r, count: n), n)
    }

    /// The next conjugate direction: `d = m ⊙ r + b·d`.
    static func cgDirection(_ r: UnsafeMutableBufferPointer<Float>, _ m: UnsafeMutableBufferPointer<Float>, _ b: Float,
                            d: UnsafeMutableBufferPointer<Float>) {
        let n = r.count
        VectorLoops.cgDirection(start(r), start(m, count: n), b, d: start(d, count: n), n)
    }

    /// The trial point `out = x + s`; returns `(g·s, s·r)`.
    static func trialPoint(_ x: UnsafeMutableBufferPointer<Float>, _ s: UnsafeMutableBufferPointer<Float>,
                           _ g: UnsafeMutableBufferPointer<Float>, _ r: UnsafeMutableBufferPointer<Float>,
                           into out: UnsafeMutableBufferPointer<Float>) -> (Double, Double) {
        let n = x.count
        return VectorLoops.trialPoint(start(x), start(s, count: n), start(g, count: n), start(r, count: n), into: start(out, count: n), n)
    }

    /// `m = 1 / max(m, floor)`, element by element (a diagonal preconditioner inverted).
    static func invert(_ m: UnsafeMutableBufferPointer<Float>, floor: Float) {
        for i in m.indices { m[i] = 1 / max(m[i], floor) }
    }

    /// Largest absolute value.
    static func maxAbs(_ x: [Float]) -> Float {
        x.withUnsafeBufferPointer { p in p.baseAddress.map { VectorLoops.maxAbs($0, p.count) } ?? 0 }
    }

    /// The first element of `b` (a block of a `PinnedBuffer`, never without storage), after checking that it
    /// holds `count` elements (when given).
    @inline(__always)
    private static func start<T>(_ b: UnsafeMutableBufferPointer<T>, count: Int? = nil) -> UnsafeMutablePointer<T> {
        precondition(count == nil || b.count == count, "blocks of different lengths")
        guard let p = b.baseAddress else { preconditionFailure("a block without storage") }
        return p
    }
}

/// The loops of the vector kernels, on pointers at the start of a block of `count` elements. Each is a
/// function of its own (`@inline(never)`), so that its code does not depend on where it is called from.
private enum VectorLoops {
    @inline(never)
    static func cgStart(_ g: UnsafePointer<Float>, _ m: UnsafePointer<Float>, s: UnsafeMutablePointer<Float>,
                        r: UnsafeMutablePointer<Float>, d: UnsafeMutablePointer<Float>, _ count: Int) -> Double {
        var i = 0
        var total = 0.0
        while i + 8 <= count {
            let stop = min(count, i + 1024)
            var acc = SIMD8<Float>()
            while i + 8 <= stop {
                let rv = -load8(g + i)
                let dv = load8(m + i) * rv
                store8(SIMD8(), s + i)
                store8(rv, r + i)
                store8(dv, d + i)
                acc += rv * dv
                i += 8
            }
            total += Double(acc.sum())
        }
        while i < count {
            s[i] = 0; r[i] = -g[i]; d[i] = m[i] * r[i]
            total += Double(r[i] * d[i])
            i += 1
        }
        return total
    }

    @inline(never)
    static func cgStep(_ a: Float, _ d: UnsafePointer<Float>, _ hd: UnsafePointer<Float>, _ m: UnsafePointer<Float>,
                       s: UnsafeMutablePointer<Float>, r: UnsafeMutablePointer<Float>, _ count: Int) -> Double {
        let va = SIMD8<Float>(repeating: a)
        var i = 0
        var total = 0.0
        while i + 8 <= count {
            let stop = min(count, i + 1024)
            var acc = SIMD8<Float>()
            while i + 8 <= stop {
                store8(load8(s + i) + va * load8(d + i), s + i)
                let rv = load8(r + i) - va * load8(hd + i)
                store8(rv, r + i)
                acc += rv * rv * load8(m + i)
                i += 8
            }
            total += Double(acc.sum())
        }
        while i < count {
            s[i] += a * d[i]
            r[i] -= a * hd[i]
            total += Double(r[i] * r[i] * m[i])
            i += 1
        }
        return total
    }

    @inline(never)
    static func cgDirection(_ r: UnsafePointer<Float>, _ m: UnsafePointer<Float>, _ b: Float, d: UnsafeMutablePointer<Float>,
                            _ count: Int) {
        let vb = SIMD8<Float>(repeating: b)
        var i = 0
        while i + 8 <= count {
            store8(load8(m + i) * load8(r + i) + vb * load8(d + i), d + i)
            i += 8
        }
        while i < count { d[i] = m[i] * r[i] + b * d[i]; i += 1 }
    }

    @inline(never)
    static func trialPoint(_ x: UnsafePointer<Float>, _ s: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ r: UnsafePointer<Float>,
                           into out: UnsafeMutablePointer<Float>, _ count: Int) -> (Double, Double) {
        var i = 0
        var gs = 0.0, sr = 0.0
        while i + 8 <= count {
            let stop = min(count, i + 1024)
            var a = SIMD8<Float>(), b = SIMD8<Float>()
            while i + 8 <= stop {
                let sv = load8(s + i)
                store8(load8(x + i) + sv, out + i)
                a += load8(g + i) * sv
                b += sv * load8(r + i)
                i += 8
            }
            gs += Double(a.sum()); sr += Double(b.sum())
        }
        while i < count {
            out[i] = x[i] + s[i]
            gs += Double(g[i] * s[i]); sr += Double(s[i] * r[i])
            i += 1
        }
        return (gs, sr)
    }

    /// Largest absolute value of `x[0..<count]`.
    @inline(never)
    static func maxAbs(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var m: Float = 0
        for i in 0..<count { m = max(m, abs(x[i])) }
        return m
    }
}
