// Unsafe: hands out raw pointers to array storage and owns raw memory (PinnedBuffer); callers read and write only within each buffer's count, only while it is alive (array pointers only inside the closure).

/// Runs `body` with the base addresses of two arrays, which are valid only inside `body`. An empty array
/// gives a pointer to a zeroed placeholder, which must not be written.
@inline(__always)
func withUnsafePointers<A, B, R>(_ a: [A], _ b: [B], _ body: (UnsafePointer<A>, UnsafePointer<B>) throws -> R) rethrows -> R {
    try a.withUnsafeBufferPointer { pa in
        try b.withUnsafeBufferPointer { pb in try body(baseAddress(pa), baseAddress(pb)) }
    }
}

/// `withUnsafePointers` for three arrays.
@inline(__always)
func withUnsafePointers<A, B, C, R>(_ a: [A], _ b: [B], _ c: [C],
                                    _ body: (UnsafePointer<A>, UnsafePointer<B>, UnsafePointer<C>) throws -> R) rethrows -> R {
    try a.withUnsafeBufferPointer { pa in
        try b.withUnsafeBufferPointer { pb in
            try c.withUnsafeBufferPointer { pc in try body(baseAddress(pa), baseAddress(pb), baseAddress(pc)) }
        }
    }
}

/// Runs `body` with the base addresses of two arrays for reading and writing, valid only inside `body`
/// (an empty array gives a placeholder that must not be used).
@inline(__always)
func withUnsafeMutablePointers<A, B, R>(_ a: inout [A], _ b: inout [B],
                                        _ body: (UnsafeMutablePointer<A>, UnsafeMutablePointer<B>) throws -> R) rethrows -> R {
    try a.withUnsafeMutableBufferPointer { pa in
        try b.withUnsafeMutableBufferPointer { pb in try body(mutableBaseAddress(pa), mutableBaseAddress(pb)) }
    }
}

/// `withUnsafeMutablePointers` for three arrays.
@inline(__always)
func withUnsafeMutablePointers<A, B, C, R>(_ a: inout [A], _ b: inout [B], _ c: inout [C],
                                           _ body: (UnsafeMutablePointer<A>, UnsafeMutablePointer<B>, UnsafeMutablePointer<C>) throws -> R) rethrows -> R {
    try a.withUnsafeMutableBufferPointer { pa in
        try b.withUnsafeMutableBufferPointer { pb in
            try c.withUnsafeMutableBufferPointer { pc in
                try body(mutableBaseAddress(pa), mutableBaseAddress(pb), mutableBaseAddress(pc))
            }
        }
    }
}

/// 64 zero bytes standing in for the storage of empty arrays.
private let emptyPlaceholder: UnsafeMutableRawPointer = {
    let p = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
    p.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
    return p
}()

@inline(__always)
private func baseAddress<T>(_ b: UnsafeBufferPointer<T>) -> UnsafePointer<T> {
    b.baseAddress ?? UnsafePointer(emptyPlaceholder.assumingMemoryBound(to: T.self))
}

@inline(__always)
private func mutableBaseAddress<T>(_ b: UnsafeMutableBufferPointer<T>) -> UnsafeMutablePointer<T> {
    b.baseAddress ?? emptyPlaceholder.assumingMemoryBound(to: T.self)
}

/// A fixed-length buffer at a stable address, allocated and initialised once and freed with the object.
/// Parallel blocks read and write disjoint ranges of it (`buffer[range]`) without a `withUnsafe…` scope;
/// whoever uses a range keeps the buffer alive meanwhile (e.g. by holding it in a stored property).
final class PinnedBuffer<Element>: @unchecked Sendable {
    /// The first element (an uninitialised one-element allocation when `count` is 0).
    let base: UnsafeMutablePointer<Element>
    /// Number of elements.
    let count: Int

    /// `count` copies of `value`.
    init(repeating value: Element, count: Int) {
        precondition(count >= 0)
        self.count = count
        base = UnsafeMutablePointer<Element>.allocate(capacity: max(1, count))
        base.initialize(repeating: value, count: count)
    }

    /// A copy of `elements`.
    init(_ elements: [Element]) {
        count = elements.count
        base = UnsafeMutablePointer<Element>.allocate(capacity: max(1, count))
        elements.withUnsafeBufferPointer { e in
            if let source = e.baseAddress { base.initialize(from: source, count: count) }
        }
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    /// Element `i` (checked).
    subscript(i: Int) -> Element {
        get {
            precondition(i >= 0 && i < count, "index out of range")
            return base[i]
        }
        set {
            precondition(i >= 0 && i < count, "index out of range")
            base[i] = newValue
        }
    }

    /// The elements `range` (checked), valid while the buffer is alive.
    subscript(range: Range<Int>) -> UnsafeMutableBufferPointer<Element> {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range out of bounds")
        return UnsafeMutableBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    /// The address of element `i` (checked; `count` gives the end), valid while the buffer is alive.
    func pointer(at i: Int) -> UnsafeMutablePointer<Element> {
        precondition(i >= 0 && i <= count, "offset out of bounds")
        return base + i
    }

    /// The elements as an array.
    var array: [Element] { Array(UnsafeBufferPointer(start: base, count: count)) }
}

/// Grows `array` to at least `count` elements (at least doubling it), keeping its first `keep` elements; the
/// other elements are left as the allocator returned them, so memory is touched (and counted in the
/// resident set) only when it is written. For buffers whose callers write every element before reading it
/// (or read unwritten ones only to mask them away, like the 8-byte loads past a term's end).
@inline(never)
func growUninitialized<T: BitwiseCopyable>(_ array: inout [T], to count: Int, keep: Int) {
    let old = array
    let size = max(count, 2 * old.count)
    let kept = min(keep, old.count)
    array = [T](unsafeUninitializedCapacity: size) { buffer, initialized in
        old.withUnsafeBufferPointer { source in
            if kept > 0, let from = source.baseAddress, let to = buffer.baseAddress { to.initialize(from: from, count: kept) }
        }
        initialized = size
    }
}
