#if JOBLABEL_SSE42
import _Builtin_intrinsics.intel
#endif

/// CRC-32C (Castagnoli: polynomial 0x82F63B78 reflected, initial value and final xor 0xFFFFFFFF; the
/// checksum of iSCSI, ext4 and SSE4.2's `crc32` instruction). Builds for the host's CPU (`JOBLABEL_SSE42`,
/// set by Package.swift on x86-64 machines with AVX2) use the instruction; other builds a slicing-by-8 table.
package enum CRC32C {
    /// Slicing-by-8 lookup tables of the polynomial.
    static let tables = SlicingBy8.tables(reflectedPolynomial: 0x82F6_3B78)

    /// The CRC-32C of `bytes`.
    package static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        return update(0xFFFF_FFFF, base, bytes.count) ^ 0xFFFF_FFFF
    }

    /// The CRC-32C of a byte array.
    package static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// Three CRC registers (before the final xor) updated over `count` bytes at `a`, `b` and `c` at once (the
    /// instruction has a latency of three cycles and a throughput of one: three independent streams run at
    /// three times the speed of one).
    @inline(__always)
    static func update3(_ x: UInt32, _ y: UInt32, _ z: UInt32, _ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ c: UnsafeRawPointer,
                        count: Int) -> (UInt32, UInt32, UInt32) {
        #if JOBLABEL_SSE42
        var x64 = UInt64(x), y64 = UInt64(y), z64 = UInt64(z)
        var i = 0
        while i &+ 8 <= count {
            x64 = _mm_crc32_u64(x64, a.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            y64 = _mm_crc32_u64(y64, b.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            z64 = _mm_crc32_u64(z64, c.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i &+= 8
        }
        let r = count &- i
        return (update(UInt32(truncatingIfNeeded: x64), a + i, r), update(UInt32(truncatingIfNeeded: y64), b + i, r),
                update(UInt32(truncatingIfNeeded: z64), c + i, r))
        #else
        return (update(x, a, count), update(y, b, count), update(z, c, count))
        #endif
    }

    /// The CRC register `crc` (before the final xor) updated over `count` bytes at `data`.
    static func update(_ crc: UInt32, _ data: UnsafeRawPointer, _ count: Int) -> UInt32 {
        #if JOBLABEL_SSE42
        var c = UInt64(crc)
        var i = 0
        while i &+ 8 <= count {
            c = _mm_crc32_u64(c, data.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i &+= 8
        }
        var c32 = UInt32(truncatingIfNeeded: c)
        while i < count {
            c32 = _mm_crc32_u8(c32, data.load(fromByteOffset: i, as: UInt8.self))
            i &+= 1
        }
        return c32
        #else
        return tables.withUnsafeBufferPointer { SlicingBy8.update(crc, $0.baseAddress!, data, count) }
        #endif
    }

    /// The software path's result for `bytes` whatever the build (tests compare the two paths).
    static func checksumBySoftware(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress, raw.count > 0 else { return 0 }
            return tables.withUnsafeBufferPointer { SlicingBy8.update(0xFFFF_FFFF, $0.baseAddress!, base, raw.count) } ^ 0xFFFF_FFFF
        }
    }
}
