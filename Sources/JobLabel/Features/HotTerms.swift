// Unsafe: probes the slot array and compares term bytes through raw pointers; slot indices are masked to the table's size and the tail bytes of a slot's term lie within `tailBytes` (their offsets are written with them).

/// The most frequent terms of a vocabulary with their columns, in a table small enough to stay in cache: a
/// lookup of a known term of up to 8 bytes reads one slot (16 bytes), which holds the column itself.
///
/// Slot `s`: `slots[2s]` is the term's first 8 bytes (zero-padded), `slots[2s + 1]` is `tag16 << 48 |
/// length8 << 40 | (column + 1)` (0 = empty; the tag is the top 16 bits of the term's `TermTable` hash, the
/// home slot its low bits). A term longer than 8 bytes keeps the rest of its bytes at `tailBytes[tailOffset[s]...]`.
struct HotTerms: Sendable {
    private var slots: [UInt64]
    private var tailOffset: [UInt32]
    private var tailBytes: [UInt8] = []
    private let mask: Int
    /// Number of terms.
    private(set) var count = 0

    /// Terms longer than this are not kept (their length must fit in the slot).
    static let longestTerm = 255

    /// A table of the terms `ids` of `vocabulary`, each mapped to its column (its id there); terms too long
    /// for a slot and columns too large for it are left out.
    init(_ vocabulary: TermTable, ids: [Int]) {
        var size = 16
        while size < 2 * ids.count { size <<= 1 }  // at most half full: short probe runs
        slots = [UInt64](repeating: 0, count: 2 * size)
        tailOffset = [UInt32](repeating: 0, count: size)
        mask = size - 1
        vocabulary.withTermBytes { term in
            for id in ids where id < Int(Int32.max) {
                let (p, n, h) = term(id)
                if n > HotTerms.longestTerm { continue }
                var s = Int(truncatingIfNeeded: h) & mask
                while slots[2 * s + 1] != 0 { s = (s + 1) & mask }
                slots[2 * s] = TermTable.prefix(p, n)
                slots[2 * s + 1] = HotTerms.meta(h, n) | UInt64(id + 1)
                if n > 8 {
                    tailOffset[s] = UInt32(tailBytes.count)
                    tailBytes.append(contentsOf: UnsafeBufferPointer(start: p + 8, count: n - 8))
                }
                count += 1
            }
        }
        tailBytes.append(contentsOf: repeatElement(0, count: 8))  // a valid address even when empty
    }

    @inline(__always)
    private static func meta(_ hash: UInt64, _ n: Int) -> UInt64 {
        (hash & 0xFFFF_0000_0000_0000) | (UInt64(truncatingIfNeeded: n) &<< 40)
    }

    /// The column of the term `p[0..<n]` (any length; `p` is read only past its 8th byte) with this hash
    /// and prefix, or -1 when it is not in the table.
    @inline(__always)
    func column(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64, prefix: UInt64) -> Int32 {
        if n > HotTerms.longestTerm { return -1 }
        let want = HotTerms.meta(h, n)
        return slots.withUnsafeBufferPointer { sb in
            let s = sb.baseAddress!
            var i = Int(truncatingIfNeeded: h) & mask
            while true {
                let meta = s[2 &* i &+ 1]
                if meta == 0 { return -1 }
                if meta & 0xFFFF_FFFF_0000_0000 == want && s[2 &* i] == prefix {
                    if n <= 8 || tailEqual(i, p, n) { return Int32(truncatingIfNeeded: meta & 0xFFFF_FFFF) &- 1 }
                }
                i = (i &+ 1) & mask
            }
        }
    }

    /// True when the bytes of slot `s`'s term after the first 8 equal `p[8..<n]` (length and prefix matched).
    @inline(__always)
    private func tailEqual(_ s: Int, _ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        withUnsafePointers(tailOffset, tailBytes) { offsets, bytes in
            memcmpBytes(bytes + Int(offsets[s]), p + 8, n - 8)
        }
    }
}
