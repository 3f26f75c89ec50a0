// Unsafe: the L-BFGS vector loops read and write through raw pointers at computed offsets; callers pass blocks (buffer pointers) of equal length that stay alive for the call.

// MARK: dense vectors (L-BFGS)

extension Kernels {
    /// `Σ a[i]·b[i]`: eight lanes and two accumulators in Float per 1024 elements, summed in Double.
    @inline(__always)
    static func dot(_ a: UnsafeMutableBufferPointer<Float>, _ b: UnsafeMutableBufferPointer<Float>) -> Double {
        VectorLoops.dot(start(a), start(b, count: a.count), a.count)
    }

    /// `h = bfloat16(a − b)`, and `f` = those rounded values as Float.
    static func differenceBF16(_ a: UnsafeMutableBufferPointer<Float>, _ b: UnsafeMutableBufferPointer<Float>,
                               into h: UnsafeMutableBufferPointer<UInt16>, rounded f: UnsafeMutableBufferPointer<Float>) {
        VectorLoops.differenceBF16(start(a), start(b, count: a.count), into: start(h, count: a.count),
                                   rounded: start(f, count: a.count), a.count)
    }

    /// `out += Σ_j a[j] · h[j]` for bfloat16 vectors `h`, up to four at once (one read and write of `out`).
    static func addScaledBF16(_ a: [Float], _ h: [UnsafeMutableBufferPointer<UInt16>], into out: UnsafeMutableBufferPointer<Float>) {
        VectorLoops.addScaledBF16(a, h.map { UnsafePointer(start($0, count: out.count)) }, into: start(out), out.count)
    }

    /// The six dot products of (a, b, c) with (u, v).
    struct Dots3x2 {
        var au = 0.0, av = 0.0, bu = 0.0, bv = 0.0, cu = 0.0, cv = 0.0

        /// Adds `o`, product by product.
        mutating func add(_ o: Dots3x2) {
            au += o.au; av += o.av; bu += o.bu; bv += o.bv; cu += o.cu; cv += o.cv
        }

        /// Runs `body` on six zeroed sums (in the order au, av, bu, bv, cu, cv) and returns them.
        fileprivate static func summing(_ body: (UnsafeMutablePointer<Double>) -> Void) -> Dots3x2 {
            withUnsafeTemporaryAllocation(of: Double.self, capacity: 6) { s in
                s.initialize(repeating: 0)
                body(s.baseAddress!)
                return Dots3x2(au: s[0], av: s[1], bu: s[2], bv: s[3], cu: s[4], cv: s[5])
            }
        }
    }

    /// The six dot products of (a, b, c) with (u, v) in one pass with six independent accumulators,
    /// flushed to Double every 1024 elements.
    static func dots3x2(_ a: UnsafeMutableBufferPointer<Float>, _ b: UnsafeMutableBufferPointer<Float>,
                        _ c: UnsafeMutableBufferPointer<Float>,
                        _ u: UnsafeMutableBufferPointer<Float>, _ v: UnsafeMutableBufferPointer<Float>) -> Dots3x2 {
        let n = a.count
        return Dots3x2.summing {
            VectorLoops.dots3x2(start(a), start(b, count: n), start(c, count: n), start(u, count: n), start(v, count: n), n, into: $0)
        }
    }

    /// As `dots3x2` with bfloat16 `u` and `v`.
    static func dots3x2BF16(_ a: UnsafeMutableBufferPointer<Float>, _ b: UnsafeMutableBufferPointer<Float>,
                            _ c: UnsafeMutableBufferPointer<Float>,
                            _ u: UnsafeMutableBufferPointer<UInt16>, _ v: UnsafeMutableBufferPointer<UInt16>) -> Dots3x2 {
        let n = a.count
        return Dots3x2.summing {
            VectorLoops.dots3x2BF16(start(a), start(b, count: n), start(c, count: n), start(u, count: n), start(v, count: n), n, into: $0)
        }
    }

    /// `out = x + a · d`.
    static func addScaled(_ x: UnsafeMutableBufferPointer<Float>, _ a: Float, _ d: UnsafeMutableBufferPointer<Float>,
                          into out: UnsafeMutableBufferPointer<Float>) {
        VectorLoops.addScaled(start(x), a, start(d, count: x.count), into: start(out, count: x.count), x.count)
    }

    /// `out = a · x`.
    static func scale(_ x: UnsafeMutableBufferPointer<Float>, _ a: Float, into out: UnsafeMutableBufferPointer<Float>) {
        VectorLoops.scale(start(x), a, into: start(out, count: x.count), x.count)
    }

    /// Largest absolute value.
    static func maxAbs(_ x: UnsafeMutableBufferPointer<Float>) -> Float {
        VectorLoops.maxAbs(start(x), x.count)
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

    /// `Σ a[i]·b[i]`: eight lanes and two accumulators in Float per 1024 elements, summed in Double.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Double {
        var i = 0
        var total = 0.0
        while i + 16 <= count {
            let stop = min(count, i + 1024)
            var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
            while i + 16 <= stop {
                s0 += load8(a + i) * load8(b + i)
                s1 += load8(a + i + 8) * load8(b + i + 8)
                i += 16
            }
            total += Double((s0 + s1).sum())
        }
        while i < count { total += Double(a[i] * b[i]); i += 1 }
        return total
    }

    /// Eight bfloat16 values widened to Float.
    @inline(__always)
    private static func loadBF16(_ p: UnsafePointer<UInt16>) -> SIMD8<Float> {
        let h = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<UInt16>.self)
        return unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: h) &<< 16, to: SIMD8<Float>.self)
    }

    /// Float to bfloat16, rounding to nearest even (finite inputs).
    @inline(__always)
    private static func roundBF16(_ v: SIMD8<Float>) -> SIMD8<UInt16> {
        let bits = unsafeBitCast(v, to: SIMD8<UInt32>.self)
        let rounded = bits &+ 0x7FFF &+ ((bits &>> 16) & 1)
        return SIMD8<UInt16>(truncatingIfNeeded: rounded &>> 16)
    }

    @inline(__always)
    private static func roundBF16(_ v: Float) -> UInt16 {
        let bits = v.bitPattern
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// `h = bfloat16(a − b)`, and `f` = those rounded values as Float.
    @inline(never)
    static func differenceBF16(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into h: UnsafeMutablePointer<UInt16>,
                               rounded f: UnsafeMutablePointer<Float>, _ count: Int) {
        var i = 0
        while i + 8 <= count {
            let r = roundBF16(load8(a + i) - load8(b + i))
            UnsafeMutableRawPointer(h + i).storeBytes(of: r, as: SIMD8<UInt16>.self)
            store8(unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: r) &<< 16, to: SIMD8<Float>.self), f + i)
            i += 8
        }
        while i < count {
            let r = roundBF16(a[i] - b[i])
            h[i] = r
            f[i] = Float(bitPattern: UInt32(r) << 16)
            i += 1
        }
    }

    /// `out += a · h` for bfloat16 `h`.
    @inline(never)
    static func addScaledBF16(_ a: Float, _ h: UnsafePointer<UInt16>, into out: UnsafeMutablePointer<Float>, _ count: Int) {
        let va = SIMD8<Float>(repeating: a)
        var i = 0
        while i + 8 <= count {
            store8(load8(out + i) + va * loadBF16(h + i), out + i)
            i += 8
        }
        while i < count { out[i] += a * Float(bitPattern: UInt32(h[i]) << 16); i += 1 }
    }

    /// `out += Σ_j a[j] · h[j]` for up to four bfloat16 vectors `h` at once (one read and write of `out`).
    @inline(never)
    static func addScaledBF16(_ a: [Float], _ h: [UnsafePointer<UInt16>], into out: UnsafeMutablePointer<Float>, _ count: Int) {
        switch h.count {
        case 4:
            let (a0, a1, a2, a3) = (SIMD8<Float>(repeating: a[0]), SIMD8<Float>(repeating: a[1]),
                                    SIMD8<Float>(repeating: a[2]), SIMD8<Float>(repeating: a[3]))
            let (h0, h1, h2, h3) = (h[0], h[1], h[2], h[3])
            var i = 0
            while i + 8 <= count {
                let sum = (a0 * loadBF16(h0 + i) + a1 * loadBF16(h1 + i)) + (a2 * loadBF16(h2 + i) + a3 * loadBF16(h3 + i))
                store8(load8(out + i) + sum, out + i)
                i += 8
            }
            while i < count {
                out[i] += (a[0] * Float(bitPattern: UInt32(h0[i]) << 16) + a[1] * Float(bitPattern: UInt32(h1[i]) << 16))
                    + (a[2] * Float(bitPattern: UInt32(h2[i]) << 16) + a[3] * Float(bitPattern: UInt32(h3[i]) << 16))
                i += 1
            }
        case 2:
            let (a0, a1) = (SIMD8<Float>(repeating: a[0]), SIMD8<Float>(repeating: a[1]))
            let (h0, h1) = (h[0], h[1])
            var i = 0
            while i + 8 <= count {
                store8(load8(out + i) + (a0 * loadBF16(h0 + i) + a1 * loadBF16(h1 + i)), out + i)
                i += 8
            }
            while i < count {
                out[i] += a[0] * Float(bitPattern: UInt32(h0[i]) << 16) + a[1] * Float(bitPattern: UInt32(h1[i]) << 16)
                i += 1
            }
        default:
            for (j, v) in h.enumerated() { addScaledBF16(a[j], v, into: out, count) }
        }
    }

    /// The six dot products of (a, b, c) with (u, v) — a·u, a·v, b·u, b·v, c·u, c·v — in one pass with six
    /// independent accumulators, flushed to Double every 1024 elements; added to `out[0..<6]`.
    @inline(never)
    static func dots3x2(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
                        _ u: UnsafePointer<Float>, _ v: UnsafePointer<Float>, _ count: Int,
                        into out: UnsafeMutablePointer<Double>) {
        dots3x2(a, b, c, count, into: out) { (load8(u + $0), load8(v + $0)) } scalar: { (u[$0], v[$0]) }
    }

    /// As `dots3x2` with bfloat16 `u` and `v`.
    @inline(never)
    static func dots3x2BF16(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
                            _ u: UnsafePointer<UInt16>, _ v: UnsafePointer<UInt16>, _ count: Int,
                            into out: UnsafeMutablePointer<Double>) {
        dots3x2(a, b, c, count, into: out) { (loadBF16(u + $0), loadBF16(v + $0)) } scalar: {
            (Float(bitPattern: UInt32(u[$0]) << 16), Float(bitPattern: UInt32(v[$0]) << 16))
        }
    }

    @inline(__always)
    private static func dots3x2(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ count: Int,
                                into out: UnsafeMutablePointer<Double>,
                                _ uv: (Int) -> (SIMD8<Float>, SIMD8<Float>), scalar: (Int) -> (Float, Float)) {
        var i = 0
        while i + 8 <= count {
            let stop = min(count, i + 1024)
            var au = SIMD8<Float>(), av = SIMD8<Float>(), bu = SIMD8<Float>(), bv = SIMD8<Float>()
            var cu = SIMD8<Float>(), cv = SIMD8<Float>()
            while i + 8 <= stop {
                let (uu, vv) = uv(i)
                let aa = load8(a + i), bb = load8(b + i), cc = load8(c + i)
                au += aa * uu; av += aa * vv
                bu += bb * uu; bv += bb * vv
                cu += cc * uu; cv += cc * vv
                i += 8
            }
            out[0] += Double(au.sum()); out[1] += Double(av.sum())
            out[2] += Double(bu.sum()); out[3] += Double(bv.sum())
            out[4] += Double(cu.sum()); out[5] += Double(cv.sum())
        }
        while i < count {
            let (uu, vv) = scalar(i)
            out[0] += Double(a[i] * uu); out[1] += Double(a[i] * vv)
            out[2] += Double(b[i] * uu); out[3] += Double(b[i] * vv)
            out[4] += Double(c[i] * uu); out[5] += Double(c[i] * vv)
            i += 1
        }
    }

    /// `out = x + a · d`.
    @inline(never)
    static func addScaled(_ x: UnsafePointer<Float>, _ a: Float, _ d: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                          _ count: Int) {
        var i = 0
        let va = SIMD8<Float>(repeating: a)
        while i + 8 <= count {
            store8(load8(x + i) + va * load8(d + i), out + i)
            i += 8
        }
        while i < count { out[i] = x[i] + a * d[i]; i += 1 }
    }

    /// `out = a · x`.
    @inline(never)
    static func scale(_ x: UnsafePointer<Float>, _ a: Float, into out: UnsafeMutablePointer<Float>, _ count: Int) {
        var i = 0
        let va = SIMD8<Float>(repeating: a)
        while i + 8 <= count {
            store8(va * load8(x + i), out + i)
            i += 8
        }
        while i < count { out[i] = a * x[i]; i += 1 }
    }

    /// Largest absolute value of `x[0..<count]`.
    @inline(never)
    static func maxAbs(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var m: Float = 0
        for i in 0..<count { m = max(m, abs(x[i])) }
        return m
    }
}
