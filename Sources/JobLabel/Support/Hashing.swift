// Unsafe: the hash loops read the input through raw pointers in whole words and 64-byte blocks; `update` is given a buffer valid for its count.
//
// SHA-256 (FIPS 180-4) and CRC-32 (IEEE 802.3 / zlib) implemented on the standard
// library only. Both hashers are incremental value types with no allocation per block.

// MARK: - SHA-256

/// Incremental SHA-256 (FIPS 180-4).
public struct SHA256 {
    /// Chaining state H0...H7.
    private var state: State = SHA256.initialState
    /// Partial block waiting for more input (always 64 bytes of storage).
    private var buffer = [UInt8](repeating: 0, count: 64)
    /// Number of valid bytes in `buffer` (0..<64).
    private var buffered = 0
    /// Total number of message bytes fed so far.
    private var length: UInt64 = 0
    /// Message schedule W0...W63, reused for every block.
    private var schedule = [UInt32](repeating: 0, count: 64)

    /// Eight 32-bit chaining words.
    typealias State = (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)

    /// Initial hash value H(0).
    static let initialState: State = (
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a,
        0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
    )

    /// Round constants K0...K63.
    static let roundConstants: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    /// Creates a hasher in the initial state.
    public init() {}

    /// Feeds the bytes in `bytes` into the hash.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var p = bytes.baseAddress, bytes.count > 0 else { return }
        var n = bytes.count
        length &+= UInt64(n)

        if buffered > 0 {
            let take = min(64 - buffered, n)
            let start = buffered
            buffer.withUnsafeMutableBytes { buf in
                buf.baseAddress!.advanced(by: start).copyMemory(from: p, byteCount: take)
            }
            buffered += take
            p += take
            n -= take
            guard buffered == 64 else { return }
            compressBuffer()
            buffered = 0
        }

        let blocks = n / 64
        if blocks > 0 {
            compress(p, blocks: blocks)
            p += blocks * 64
            n -= blocks * 64
        }

        if n > 0 {
            buffer.withUnsafeMutableBytes { buf in
                buf.baseAddress!.copyMemory(from: p, byteCount: n)
            }
            buffered = n
        }
    }

    /// Feeds a byte collection (`[UInt8]`, `ArraySlice`, `String.UTF8View`, ...) into the hash.
    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil {
            hashingFeedChunks(of: bytes) { update($0) }
        }
    }

    /// Pads the message, returns the 32-byte digest and resets the hasher to its initial state.
    public mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        let padCount = buffered < 56 ? 56 - buffered : 120 - buffered
        var tail = [UInt8](repeating: 0, count: padCount + 8)
        tail[0] = 0x80
        for i in 0..<8 {
            tail[padCount + i] = UInt8(truncatingIfNeeded: bitLength >> (56 - 8 * UInt64(i)))
        }
        update(tail)
        precondition(buffered == 0, "SHA256 padding did not end on a block boundary")

        let s = state
        var digest = [UInt8]()
        digest.reserveCapacity(32)
        for word in [s.0, s.1, s.2, s.3, s.4, s.5, s.6, s.7] {
            digest.append(UInt8(truncatingIfNeeded: word >> 24))
            digest.append(UInt8(truncatingIfNeeded: word >> 16))
            digest.append(UInt8(truncatingIfNeeded: word >> 8))
            digest.append(UInt8(truncatingIfNeeded: word))
        }
        self = SHA256()
        return digest
    }

    /// Like `finalize()`, but returns the digest as 64 lowercase hex characters.
    public mutating func finalizeHex() -> String {
        SHA256.lowercaseHex(finalize())
    }

    /// One-shot SHA-256 of `bytes` as 64 lowercase hex characters.
    public static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalizeHex()
    }

    /// Lowercase hex encoding of `bytes`.
    static func lowercaseHex(_ bytes: [UInt8]) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Compresses the full 64-byte `buffer`.
    private mutating func compressBuffer() {
        let block = buffer  // shares storage; released when this function returns
        block.withUnsafeBytes { compress($0.baseAddress!, blocks: 1) }
    }

    /// Runs the compression function over `blocks` consecutive 64-byte blocks at `data`.
    private mutating func compress(_ data: UnsafeRawPointer, blocks: Int) {
        var st = state
        schedule.withUnsafeMutableBufferPointer { w in
            SHA256.roundConstants.withUnsafeBufferPointer { k in
                SHA256.compressBlocks(&st, w: w.baseAddress!, k: k.baseAddress!, data: data, blocks: blocks)
            }
        }
        state = st
    }

    /// Rotates `x` right by `n` bits (0 < n < 32).
    @inline(__always)
    private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 {
        (x &>> n) | (x &<< (32 &- n))
    }

    /// FIPS 180-4 §6.2.2 over `blocks` blocks at `data`, using `w` (64 words) as the schedule.
    private static func compressBlocks(_ state: inout State, w: UnsafeMutablePointer<UInt32>,
                                       k: UnsafePointer<UInt32>, data: UnsafeRawPointer, blocks: Int) {
        var (h0, h1, h2, h3, h4, h5, h6, h7) = state
        var block = data
        for _ in 0..<blocks {
            for i in 0..<16 {
                w[i] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))
            }
            for i in 16..<64 {
                let x = w[i &- 15], y = w[i &- 2]
                let s0 = rotr(x, 7) ^ rotr(x, 18) ^ (x &>> 3)
                let s1 = rotr(y, 17) ^ rotr(y, 19) ^ (y &>> 10)
                w[i] = w[i &- 16] &+ s0 &+ w[i &- 7] &+ s1
            }

            var a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7
            for i in 0..<64 {
                let bigS1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                let ch = (e & f) ^ (~e & g)
                let t1 = h &+ bigS1 &+ ch &+ k[i] &+ w[i]
                let bigS0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                let maj = (a & b) ^ (a & c) ^ (b & c)
                let t2 = bigS0 &+ maj
                h = g; g = f; f = e; e = d &+ t1
                d = c; c = b; b = a; a = t1 &+ t2
            }
            h0 &+= a; h1 &+= b; h2 &+= c; h3 &+= d
            h4 &+= e; h5 &+= f; h6 &+= g; h7 &+= h
            block += 64
        }
        state = (h0, h1, h2, h3, h4, h5, h6, h7)
    }
}

// MARK: - CRC-32

/// CRC-32 (IEEE 802.3, polynomial 0xEDB88320 reflected, init 0xFFFFFFFF, final xor 0xFFFFFFFF — same as zlib's crc32).
public struct CRC32 {
    /// Running CRC register (before the final xor).
    private var crc: UInt32 = 0xFFFF_FFFF

    /// Slicing-by-8 lookup tables of the polynomial.
    static let tables = SlicingBy8.tables(reflectedPolynomial: 0xEDB8_8320)

    /// Creates a checksum in the initial state (value 0).
    public init() {}

    /// Feeds the bytes in `bytes` into the checksum.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        crc = CRC32.tables.withUnsafeBufferPointer { tables in
            SlicingBy8.update(crc, tables.baseAddress!, base, bytes.count)
        }
    }

    /// Feeds a byte collection (`[UInt8]`, `ArraySlice`, `String.UTF8View`, ...) into the checksum.
    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil {
            hashingFeedChunks(of: bytes) { update($0) }
        }
    }

    /// The CRC-32 of all bytes fed so far.
    public var value: UInt32 { crc ^ 0xFFFF_FFFF }

    /// One-shot CRC-32 of `bytes`.
    public static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var c = CRC32()
        c.update(bytes)
        return c.value
    }
}

/// Table-driven CRC-32 of any reflected polynomial, eight bytes per step (slicing-by-8): CRC-32 and
/// CRC-32C's software path.
enum SlicingBy8 {
    /// The eight lookup tables of `polynomial` (reflected), table `t` at offset `t * 256`; table 0 is the
    /// classic byte table.
    static func tables(reflectedPolynomial polynomial: UInt32) -> [UInt32] {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ polynomial : c >> 1 }
            t[i] = c
        }
        for slice in 1..<8 {
            for i in 0..<256 {
                let prev = t[(slice - 1) * 256 + i]
                t[slice * 256 + i] = (prev >> 8) ^ t[Int(prev & 0xff)]
            }
        }
        return t
    }

    /// The CRC register `start` (before the final xor) updated over `count` bytes at `data` with the
    /// tables `t` (little-endian words, as the tables assume).
    static func update(_ start: UInt32, _ t: UnsafePointer<UInt32>, _ data: UnsafeRawPointer, _ count: Int) -> UInt32 {
        var crc = start
        var p = data
        var n = count
        let t1 = t + 256, t2 = t + 512, t3 = t + 768
        let t4 = t + 1024, t5 = t + 1280, t6 = t + 1536, t7 = t + 1792
        while n >= 8 {
            let one = UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)) ^ crc
            let two = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            crc = t7[Int(one & 0xff)] ^ t6[Int((one &>> 8) & 0xff)]
                ^ t5[Int((one &>> 16) & 0xff)] ^ t4[Int(one &>> 24)]
                ^ t3[Int(two & 0xff)] ^ t2[Int((two &>> 8) & 0xff)]
                ^ t1[Int((two &>> 16) & 0xff)] ^ t[Int(two &>> 24)]
            p += 8
            n &-= 8
        }
        while n > 0 {
            crc = t[Int((crc ^ UInt32(p.load(as: UInt8.self))) & 0xff)] ^ (crc &>> 8)
            p += 1
            n &-= 1
        }
        return crc
    }
}

// MARK: - Shared

/// Feeds a collection without contiguous storage to `body` in bounded chunks, without copying it whole.
private func hashingFeedChunks<C: Collection>(of bytes: C, _ body: (UnsafeRawBufferPointer) -> Void) where C.Element == UInt8 {
    let chunkSize = 4096
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: chunkSize) { chunk in
        var filled = 0
        for b in bytes {
            chunk[filled] = b
            filled += 1
            if filled == chunkSize {
                body(UnsafeRawBufferPointer(chunk))
                filled = 0
            }
        }
        if filled > 0 {
            body(UnsafeRawBufferPointer(start: chunk.baseAddress, count: filled))
        }
    }
}
