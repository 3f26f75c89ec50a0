#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The vocabulary's hash table as a model file stores it: the `vocabulary` block (terms, newline-separated,
/// in strictly increasing byte order) and the `vocabulary/slots` block (the `TermTable` slot array that
/// `TermTable.fromNewlineSeparated` builds from those terms). Loading checks the slots instead of building
/// them: one pass over the slots, hashing each term once, instead of inserting every term.
extension TermTable {
    /// The number of slots a table built from `count` terms has (`TermTable.init(capacity:)`).
    static func slotCount(terms count: Int) -> Int {
        let capacity = max(16, count)
        var size = 16
        while size * 7 < capacity * 10 { size <<= 1 }
        return size
    }

    /// The table over the newline-separated `vocabulary` with the stored `slots` (`2 × slotCount` little-endian
    /// words), after checking that they are what `joblabel train` writes: terms strictly increasing (so
    /// distinct), the slot count for that many terms, every term in exactly one slot with its length, prefix
    /// and hash tag, and every term reachable from its home slot (no empty slot between them), so that every
    /// lookup gives the answer a rebuilt table would. Throws a `problem` message otherwise.
    static func fromStored(vocabulary: UnsafeRawBufferPointer, slots stored: UnsafeRawBufferPointer) throws -> TermTable {
        // Terms: the bytes without the newlines, and where each starts; each after the one before in byte order.
        var offsets: [Int] = [0]
        var arena: [UInt8] = []
        if vocabulary.count > 0, let base = vocabulary.baseAddress {
            let bytes = base.assumingMemoryBound(to: UInt8.self), end = vocabulary.count
            // Capacity for the most terms the bytes can hold; pages never written are never touched.
            offsets.reserveCapacity(end / 2 + 2)
            var unsorted = -1
            arena = [UInt8](unsafeUninitializedCapacity: end) { out, initialized in
                var start = 0, used = 0, previous = 0..<0
                while start <= end {
                    let i = start < end ? memchr(bytes + start, 0x0A, end - start).map { base.distance(to: UnsafeRawPointer($0)) } ?? end : end
                    let n = i - start
                    if offsets.count > 1 {
                        let c = memcmp(bytes + previous.lowerBound, bytes + start, min(previous.count, n))
                        if c > 0 || (c == 0 && previous.count >= n) { unsorted = offsets.count - 1; break }
                    }
                    if n > 0 { (out.baseAddress! + used).initialize(from: bytes + start, count: n) }
                    used += n
                    offsets.append(used)
                    previous = start..<i
                    start = i + 1
                }
                initialized = used
            }
            if unsorted >= 0 {
                throw StoredVocabularyProblem(message: "vocabulary term \(unsorted) is not after the one before it in byte order (the terms are sorted and distinct)")
            }
        }
        let v = offsets.count - 1
        let size = slotCount(terms: v), mask = size - 1
        guard stored.count == 16 * size else {
            throw StoredVocabularyProblem(message: "block 'vocabulary/slots' holds \(stored.count / 8) words, \(2 * size) for \(v) terms")
        }
        var occupied = 0, outOfRange = false
        let slots = [UInt64](unsafeUninitializedCapacity: 2 * size) { s, initialized in
            adviseHugePages(s.baseAddress, bytes: 16 * size)
            #if _endian(little)
            UnsafeMutableRawBufferPointer(s).copyMemory(from: stored)
            #else
            for i in 0..<(2 * size) { s[i] = UInt64(littleEndian: stored.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) }
            #endif
            initialized = 2 * size
            for i in 0..<size where s[2 * i] != 0 {
                occupied += 1
                let id = Int(s[2 * i] & 0xFFFF_FFFF) - 1
                if id < 0 || id >= v { outOfRange = true }
            }
        }
        guard !outOfRange, occupied == v else {
            throw StoredVocabularyProblem(message: "block 'vocabulary/slots' holds \(occupied) slots for \(v) terms, or a term number out of range")
        }
        // Each term is looked up as `lookup` would: from its home slot to the slot holding its number, through
        // filled slots only, where its length, hash tag and prefix must be. With as many filled slots as terms,
        // each in a slot of its own, no slot is left over. Terms go in batches: first their hashes, then a
        // touch of each home slot (independent loads, whose cache misses overlap), then the walks.
        let batch = 32
        var hashes = [UInt64](repeating: 0, count: v)
        let problem: String? = withUnsafePointers(arena, offsets) { a, o in
            slots.withUnsafeBufferPointer { s in
                hashes.withUnsafeMutableBufferPointer { hashes in
                  withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 2 * batch) { scratch in
                    let prefixes = scratch.baseAddress!, homeMetas = scratch.baseAddress! + batch
                    var lo = 0
                    while lo < v {
                        let hi = min(v, lo + batch)
                        for id in lo..<hi {
                            let (h, prefix) = TermTable.hashAndPrefix(a + o[id], o[id + 1] - o[id])
                            hashes[id] = h
                            prefixes[id - lo] = prefix
                        }
                        for id in lo..<hi { homeMetas[id - lo] = s[2 &* (Int(truncatingIfNeeded: hashes[id]) & mask)] }
                        for id in lo..<hi {
                            let h = hashes[id], n = o[id + 1] - o[id]
                            var i = Int(truncatingIfNeeded: h) & mask, meta = homeMetas[id - lo]
                            while true {
                                if meta == 0 { return "block 'vocabulary/slots' does not hold term \(id) where a lookup finds it" }
                                if Int(meta & 0xFFFF_FFFF) == id + 1 { break }
                                i = (i + 1) & mask
                                meta = s[2 * i]
                            }
                            guard s[2 * i] == TermTable.slotMeta(hash: h, length: n, id: id), s[2 * i + 1] == prefixes[id - lo] else {
                                return "block 'vocabulary/slots' slot \(i) does not match term \(id)"
                            }
                        }
                        lo = hi
                    }
                    return nil
                  }
                }
            }
        }
        if let problem { throw StoredVocabularyProblem(message: problem) }
        return TermTable(arena: arena, offsets: offsets, hashes: hashes, slots: slots)
    }
}

/// Why a stored vocabulary table was refused.
struct StoredVocabularyProblem: Error {
    let message: String
}
