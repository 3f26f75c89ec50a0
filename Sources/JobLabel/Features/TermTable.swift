// Unsafe: hashes and compares term bytes through raw pointers, 8 bytes at a time; callers pass pointers valid for the term's length (the `Padded` variants: 7 more readable bytes), and the table's own pointers stay inside its arena and slot arrays.

/// An open-addressing hash table from term bytes to dense ids `0..<count`, in insertion order.
/// Term bytes live in one arena; no per-term allocation. Each slot holds the id, the term's length, 16 bits
/// of its hash and its first 8 bytes, so a lookup of a term of up to 8 bytes (most words) reads one slot
/// and nothing else.
public struct TermTable: Sendable {
    private(set) var arena: [UInt8] = []
    /// `offsets[i]..<offsets[i+1]` is term `i` in `arena` (which may hold unused bytes after the last term).
    private(set) var offsets: [Int] = [0]
    /// Full hash of each term (for growing and merging without rehashing).
    private(set) var hashes: [UInt64] = []
    /// Two words per slot: `meta` (0 = empty, else `tag16 << 48 | length << 32 | id + 1`) and the first 8
    /// bytes of the term, zero-padded.
    private var slots: [UInt64]
    private var mask: Int

    /// Creates an empty table.
    public init(capacity: Int = 1024) {
        var size = 16
        while size * 7 < capacity * 10 { size <<= 1 }
        slots = [UInt64](repeating: 0, count: 2 * size)
        mask = size - 1
        offsets.reserveCapacity(capacity + 1)
        hashes.reserveCapacity(capacity)
    }

    /// Number of terms.
    public var count: Int { offsets.count - 1 }

    /// The bytes of term `id`.
    public func bytes(_ id: Int) -> ArraySlice<UInt8> { arena[offsets[id]..<offsets[id + 1]] }

    /// Term `id` as a String.
    public func string(_ id: Int) -> String { String(decoding: bytes(id), as: UTF8.self) }

    /// 64-bit hash of a byte string (8 bytes at a time, multiply-rotate mixing) and its first 8 bytes.
    @inline(__always)
    static func hashAndPrefix(_ p: UnsafePointer<UInt8>, _ n: Int) -> (hash: UInt64, prefix: UInt64) {
        mix(p, n) { i in
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            for k in i..<n { tail |= UInt64(p[k]) &<< shift; shift &+= 8 }
            return tail
        }
    }

    /// `hashAndPrefix` for a string followed by at least 7 readable bytes: the last partial word is one
    /// load, masked (same values as `hashAndPrefix`).
    @inline(__always)
    static func hashAndPrefixPadded(_ p: UnsafePointer<UInt8>, _ n: Int) -> (hash: UInt64, prefix: UInt64) {
        mix(p, n) { i in
            let rest = n - i
            return rest == 0 ? 0 : UnsafeRawPointer(p).loadUnaligned(fromByteOffset: i, as: UInt64.self) & (~UInt64(0) &>> UInt64(truncatingIfNeeded: 64 &- 8 &* rest))
        }
    }

    /// The hash and prefix of `p[0..<n]`: whole 8-byte words are mixed in, then `tail(i)`, the bytes from `i`
    /// (fewer than 8) as a zero-padded little-endian word.
    @inline(__always)
    private static func mix(_ p: UnsafePointer<UInt8>, _ n: Int, tail: (Int) -> UInt64) -> (hash: UInt64, prefix: UInt64) {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: n)
        var i = 0
        let raw = UnsafeRawPointer(p)
        var prefix: UInt64 = 0
        while i + 8 <= n {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if i == 0 { prefix = w }
            h = (h ^ w) &* 0xFF51_AFD7_ED55_8CCD
            h = (h << 29) | (h >> 35)
            i += 8
        }
        let last = tail(i)
        if n < 8 { prefix = last }
        h = (h ^ last) &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 32
        h = h &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        return (h, prefix)
    }

    /// The hash of a term of at most 8 bytes given by its zero-padded bytes (`hashAndPrefix(p, n).hash`).
    @inline(__always)
    static func hashShort(_ prefix: UInt64, _ n: Int) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: n)
        var last = prefix
        if n == 8 {
            h = (h ^ prefix) &* 0xFF51_AFD7_ED55_8CCD
            h = (h << 29) | (h >> 35)
            last = 0
        }
        h = (h ^ last) &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 32
        h = h &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        return h
    }

    /// The first 8 bytes of a byte string, zero-padded.
    @inline(__always)
    static func prefix(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        if n >= 8 { return UnsafeRawPointer(p).loadUnaligned(as: UInt64.self) }
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(p[i]) &<< UInt64(truncatingIfNeeded: 8 &* i) }
        return v
    }

    /// 64-bit hash of a byte string.
    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 { hashAndPrefix(p, n).hash }

    @inline(__always)
    private static func metaKey(_ hash: UInt64, _ n: Int) -> UInt64 {
        (hash & 0xFFFF_0000_0000_0000) | (UInt64(truncatingIfNeeded: min(n, 0xFFFF)) &<< 32)
    }

    /// True when the bytes of term `id` after the first 8 equal `p[8..<n]` (the caller matched length and prefix).
    @inline(__always)
    private func tailEqual(_ id: Int, _ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        if n <= 8 { return true }
        let lo = offsets[id]
        guard offsets[id + 1] - lo == n else { return false }
        return arena.withUnsafeBufferPointer { a in
            memcmpBytes(a.baseAddress! + lo + 8, p + 8, n - 8)
        }
    }

    /// The id of a term, or -1 when absent.
    @inline(__always)
    public func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        let (h, prefix) = TermTable.hashAndPrefix(p, n)
        return lookup(p, n, hash: h, prefix: prefix)
    }

    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64, prefix: UInt64) -> Int32 {
        probe(p, n, hash: h, prefix: prefix).id
    }

    /// The id of a term of at most 8 bytes given by its zero-padded bytes and hash, or -1 when absent.
    @inline(__always)
    func lookupShort(_ prefix: UInt64, _ n: Int, hash h: UInt64) -> Int32 {
        probe(emptyBytePointer, n, hash: h, prefix: prefix).id  // up to 8 bytes: the slot holds them all
    }

    /// The term's id, or -1 and the empty slot where it would go.
    @inline(__always)
    private func probe(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64, prefix: UInt64) -> (id: Int32, slot: Int) {
        let want = TermTable.metaKey(h, n)
        return slots.withUnsafeBufferPointer { s in
            var i = Int(truncatingIfNeeded: h) & mask
            while true {
                let meta = s[2 &* i]
                if meta == 0 { return (-1, i) }
                if meta & 0xFFFF_FFFF_0000_0000 == want && s[2 &* i &+ 1] == prefix {
                    let id = Int(meta & 0xFFFF_FFFF) - 1
                    if tailEqual(id, p, n) { return (Int32(id), i) }
                }
                i = (i &+ 1) & mask
            }
        }
    }

    /// The id of a term, adding it when absent.
    public mutating func intern(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        let (h, prefix) = TermTable.hashAndPrefix(p, n)
        return intern(p, n, hash: h, prefix: prefix)
    }

    /// `intern` with the hash and prefix already computed.
    @inline(__always)
    mutating func intern(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64, prefix: UInt64) -> Int32 {
        let (found, i) = probe(p, n, hash: h, prefix: prefix)
        if found >= 0 { return found }
        let id = count
        // The arena may be longer than the bytes in use (offsets' last value); it grows by doubling.
        let used = offsets[offsets.count - 1]
        if arena.count < used + n { arena.append(contentsOf: repeatElement(0, count: max(used + n, 2 * arena.count) - arena.count)) }
        if n > 0 { arena.withUnsafeMutableBufferPointer { ($0.baseAddress! + used).update(from: p, count: n) } }
        offsets.append(used + n)
        hashes.append(h)
        slots[2 * i] = TermTable.metaKey(h, n) | UInt64(id + 1)
        slots[2 * i + 1] = prefix
        if count * 10 > (mask + 1) * 7 { grow() }  // load factor at most 0.7
        return Int32(id)
    }

    /// Convenience for tests.
    public mutating func intern(_ s: String) -> Int32 {
        let b = Array(s.utf8)
        return b.withUnsafeBufferPointer { intern($0.baseAddress ?? emptyBytePointer, b.count) }
    }

    /// Convenience for tests.
    public func lookup(_ s: String) -> Int32 {
        let b = Array(s.utf8)
        return b.withUnsafeBufferPointer { lookup($0.baseAddress ?? emptyBytePointer, b.count) }
    }

    private mutating func grow() {
        let size = (mask + 1) * 2
        slots = [UInt64](repeating: 0, count: 2 * size)
        mask = size - 1
        arena.withUnsafeBufferPointer { a in
            let base = a.baseAddress ?? emptyBytePointer
            for id in 0..<count {
                let lo = offsets[id], n = offsets[id + 1] - lo
                let h = hashes[id]
                var i = Int(truncatingIfNeeded: h) & mask
                while slots[2 * i] != 0 { i = (i + 1) & mask }
                slots[2 * i] = TermTable.metaKey(h, n) | UInt64(id + 1)
                slots[2 * i + 1] = TermTable.prefix(base + lo, n)
            }
        }
    }

    /// Gives `body` an accessor from id to (pointer, length, hash), valid inside `body`.
    func withTermBytes<R>(_ body: ((Int) -> (UnsafePointer<UInt8>, Int, UInt64)) throws -> R) rethrows -> R {
        try withUnsafePointers(arena, offsets, hashes) { base, o, h in
            try body { id in (base + o[id], o[id + 1] - o[id], h[id]) }
        }
    }

    /// A table of distinct terms given by their bytes (term `i` is `arena[offsets[i]..<offsets[i+1]]`) and
    /// hashes, in id order.
    init(arena: [UInt8], offsets: [Int], hashes: [UInt64]) {
        self.init(capacity: hashes.count)
        self.arena = arena
        self.offsets = offsets
        self.hashes = hashes
        _ = insertAll(checkDuplicates: false)
    }

    /// Fills the empty slots with every term, in the order of their home slots so that the writes sweep the
    /// slot array once instead of jumping around it (one cache miss per term otherwise). With
    /// `checkDuplicates`, returns false as soon as a term equals one inserted before (the table is then
    /// incomplete); else always true.
    private mutating func insertAll(checkDuplicates: Bool) -> Bool {
        let n = count, m = mask
        if n == 0 { return true }
        // Counting sort by the top bits of the home slot, moving each term's slot contents (so the insertion
        // loop below reads them in order): one pass over the terms in id order counts, one places.
        let slotBits = (m + 1).trailingZeroBitCount
        let bucketBits = min(slotBits, 16), shift = slotBits - bucketBits
        var start = [Int32](repeating: 0, count: (1 << bucketBits) + 1)
        for h in hashes { start[((Int(truncatingIfNeeded: h) & m) >> shift) + 1] += 1 }
        for b in 0..<(1 << bucketBits) { start[b + 1] += start[b] }
        var records = [(meta: UInt64, prefix: UInt64, home: Int)](repeating: (0, 0, 0), count: n)
        let arenaCopy = arena, offsetsCopy = offsets
        arenaCopy.withUnsafeBufferPointer { a in
            let base = a.baseAddress ?? emptyBytePointer
            for (id, h) in hashes.enumerated() {
                let home = Int(truncatingIfNeeded: h) & m, b = home >> shift
                let lo = offsetsCopy[id], len = offsetsCopy[id + 1] - lo
                records[Int(start[b])] = (TermTable.metaKey(h, len) | UInt64(id + 1), TermTable.prefix(base + lo, len), home)
                start[b] += 1
            }
        }
        return withUnsafePointers(arenaCopy, offsetsCopy) { base, o in
            slots.withUnsafeMutableBufferPointer { s in
                for (meta, prefix, home) in records {
                    var i = home
                    while s[2 * i] != 0 {
                        if checkDuplicates && s[2 * i] & 0xFFFF_FFFF_0000_0000 == meta & 0xFFFF_FFFF_0000_0000 && s[2 * i + 1] == prefix {
                            let id = Int(meta & 0xFFFF_FFFF) - 1, other = Int(s[2 * i] & 0xFFFF_FFFF) - 1
                            let len = o[id + 1] - o[id]
                            if o[other + 1] - o[other] == len && memcmpBytes(base + o[other], base + o[id], len) { return false }
                        }
                        i = (i + 1) & m
                    }
                    s[2 * i] = meta
                    s[2 * i + 1] = prefix
                }
                return true
            }
        }
    }

    /// The full hash of term `id`.
    func hash(of id: Int) -> UInt64 { hashes[id] }

    /// Calls `body(pointer, length, hash)` for every term in id order.
    func forEachTerm(_ body: (UnsafePointer<UInt8>, Int, UInt64) -> Void) {
        arena.withUnsafeBufferPointer { a in
            let base = a.baseAddress ?? emptyBytePointer
            for id in 0..<count { body(base + offsets[id], offsets[id + 1] - offsets[id], hashes[id]) }
        }
    }

    /// A new table holding the terms `ids` (in that order) of this one.
    public func subset(_ ids: [Int]) -> TermTable {
        var t = TermTable(capacity: ids.count)
        t.arena.reserveCapacity(ids.reduce(0) { $0 + offsets[$1 + 1] - offsets[$1] })
        t.offsets.reserveCapacity(ids.count + 1)
        t.hashes.reserveCapacity(ids.count)
        arena.withUnsafeBufferPointer { a in
            let base = a.baseAddress ?? emptyBytePointer
            for id in ids {
                let lo = offsets[id], n = offsets[id + 1] - lo
                _ = t.intern(base + lo, n, hash: hashes[id], prefix: TermTable.prefix(base + lo, n))
            }
        }
        return t
    }

    /// Builds a table from newline-separated terms (the model file's vocabulary block). A repeated term
    /// keeps its first id (the table then has fewer terms than lines).
    public static func fromNewlineSeparated(_ data: [UInt8]) -> TermTable {
        if data.isEmpty { return TermTable(capacity: 16) }
        var lines = 1
        for b in data where b == 0x0A { lines += 1 }
        var t = TermTable(capacity: max(16, lines))
        t.arena.reserveCapacity(data.count)
        t.offsets.reserveCapacity(lines + 1)
        t.hashes.reserveCapacity(lines)
        data.withUnsafeBufferPointer { d in
            let base = d.baseAddress ?? emptyBytePointer
            var start = 0
            for i in 0...d.count where i == d.count || d[i] == 0x0A {
                let n = i - start
                t.arena.append(contentsOf: UnsafeBufferPointer(start: base + start, count: n))
                t.offsets.append(t.arena.count)
                t.hashes.append(TermTable.hashAndPrefix(base + start, n).hash)
                start = i + 1
            }
        }
        if t.insertAll(checkDuplicates: true) { return t }
        // A repeated term (never written by `joblabel train`): intern one by one, which keeps first ids.
        var deduped = TermTable(capacity: max(16, lines))
        t.forEachTerm { p, n, h in _ = deduped.intern(p, n, hash: h, prefix: TermTable.prefix(p, n)) }
        return deduped
    }

    /// The slot array as stored in a model file (`storedSlots` and `init(arena:offsets:hashes:slots:)`: the
    /// table is saved with the model, not rebuilt on load; Model/StoredVocabulary.swift).
    var storedSlots: [UInt64] { slots }

    /// A slot's `meta` word for term `id` of `length` bytes with full hash `hash`.
    static func slotMeta(hash: UInt64, length: Int, id: Int) -> UInt64 { metaKey(hash, length) | UInt64(id + 1) }

    /// A table from its parts as `storedSlots` gave them; the caller has verified that they agree
    /// (`TermTable.fromStored`).
    init(arena: [UInt8], offsets: [Int], hashes: [UInt64], slots: [UInt64]) {
        self.arena = arena
        self.offsets = offsets
        self.hashes = hashes
        self.slots = slots
        self.mask = slots.count / 2 - 1
    }

    /// Terms joined by newlines (inverse of `fromNewlineSeparated`).
    public func newlineSeparated() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(arena.count + count)
        for id in 0..<count {
            if id > 0 { out.append(0x0A) }
            out.append(contentsOf: bytes(id))
        }
        return out
    }
}

/// A valid pointer for empty buffers.
let emptyBytePointer: UnsafePointer<UInt8> = {
    let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    p.initialize(to: 0)
    return UnsafePointer(p)
}()

@inline(__always)
func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 8 <= n {
        if ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) != rb.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < n { if a[i] != b[i] { return false }; i += 1 }
    return true
}
