import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Default read size for inputs: large enough for throughput, small enough to keep memory bounded.
package let defaultInputChunkSize = 8 << 20

/// The default longest record (64 MiB), far above any real posting: an input without line breaks
/// (`/dev/zero`, a binary file, a whole JSON array on one line) stops there instead of filling memory.
public let defaultMaxRecordBytes = 64 << 20

/// A record (line, CSV record or whole `.txt` file) longer than the reader's limit: thrown by the
/// `ChunkedInput` scans; the reader turns it into `RecordError.tooLong`.
struct RecordTooLong: Error {
    /// The limit, in bytes.
    var limit: Int
    /// True when the bytes read hold a CR not followed by LF: lines that end in CR alone.
    var loneCR: Bool
    /// CSV: the limit was reached inside a quoted field (likely one that never closes).
    var inQuotes = false
}

/// A growable byte window over a file descriptor (or, for tests, an in-memory array) that is filled
/// `chunkSize` bytes at a time. Bytes in `start..<end` are read but not yet consumed. `fill()` moves the
/// pending bytes to the front of the buffer, so absolute offsets are invalidated by it; offsets relative to
/// `start` stay valid. The buffer grows only as far as one record needs, and never past `maxRecordBytes`
/// plus one chunk: a longer record is `RecordTooLong`.
final class ChunkedInput {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    /// First unconsumed byte.
    var start = 0
    /// One past the last byte read.
    private(set) var end = 0
    /// True once the source reported end of input.
    private(set) var eof = false
    let chunkSize: Int
    /// The longest record a scan accepts (bytes, without its line terminator).
    let maxRecordBytes: Int
    /// Path used in error messages.
    let path: String

    private let fd: Int32
    private let closeOnDeinit: Bool
    private var memory: [UInt8]
    private var memoryOffset = 0

    private init(fd: Int32, closeOnDeinit: Bool, memory: [UInt8], path: String, chunkSize: Int, maxRecordBytes: Int) {
        self.fd = fd
        self.closeOnDeinit = closeOnDeinit
        self.memory = memory
        self.path = path
        self.chunkSize = max(1, chunkSize)
        self.maxRecordBytes = max(1, maxRecordBytes)
        self.capacity = self.chunkSize
        guard let raw = malloc(self.capacity) else { fatalError("out of memory allocating \(self.capacity) bytes") }
        self.base = raw.assumingMemoryBound(to: UInt8.self)
    }

    /// Reads from an open descriptor; closes it on deinit when `closeOnDeinit`.
    convenience init(fd: Int32, closeOnDeinit: Bool, path: String, chunkSize: Int, maxRecordBytes: Int = defaultMaxRecordBytes) {
        self.init(fd: fd, closeOnDeinit: closeOnDeinit, memory: [], path: path, chunkSize: chunkSize, maxRecordBytes: maxRecordBytes)
    }

    /// Serves `bytes` as if read from a file, `chunkSize` bytes per fill (for tests).
    convenience init(bytes: [UInt8], path: String, chunkSize: Int, maxRecordBytes: Int = defaultMaxRecordBytes) {
        self.init(fd: -1, closeOnDeinit: false, memory: bytes, path: path, chunkSize: chunkSize, maxRecordBytes: maxRecordBytes)
    }

    /// Opens `path` for reading ("-" = standard input).
    static func open(path: String, chunkSize: Int, maxRecordBytes: Int = defaultMaxRecordBytes) throws -> ChunkedInput {
        if path == "-" {
            return ChunkedInput(fd: FileHandle.standardInput.fileDescriptor, closeOnDeinit: false,
                                path: path, chunkSize: chunkSize, maxRecordBytes: maxRecordBytes)
        }
        var fd: Int32
        repeat {
            #if canImport(Glibc)
            fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            #else
            fd = Darwin.open(path, O_RDONLY | O_CLOEXEC)
            #endif
        } while fd < 0 && errno == EINTR
        if fd < 0 {
            let code = errno
            if code == ENOENT || code == ENOTDIR {
                throw JobLabelError.inputNotFound(path: path)
            }
            throw JobLabelError.io(path: path, message: "cannot open: \(String(cString: strerror(code)))")
        }
        var info = stat()
        if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
            _ = close(fd)
            throw JobLabelError.io(path: path, message: "is a directory, not a file")
        }
        return ChunkedInput(fd: fd, closeOnDeinit: true, path: path, chunkSize: chunkSize, maxRecordBytes: maxRecordBytes)
    }

    deinit {
        free(base)
        if closeOnDeinit && fd >= 0 { _ = close(fd) }
    }

    /// Number of unconsumed bytes.
    @inline(__always) var pending: Int { end - start }

    /// Bytes taken from the source so far.
    private(set) var bytesRead: Int64 = 0
    /// Bytes handed to the reader so far: read, and no longer pending.
    var bytesConsumed: Int64 { bytesRead - Int64(end - start) }

    /// Reads up to `chunkSize` more bytes after the pending ones. Returns false (and sets `eof`) when the
    /// source has no more data. Moves pending bytes to offset 0 first.
    func fill() throws -> Bool {
        if eof { return false }
        let count = end - start
        if start > 0 {
            if count > 0 { memmove(base, base + start, count) }
            start = 0
            end = count
        }
        if capacity - end < chunkSize {
            // Doubling, but never past the longest record plus one chunk (the scans stop there).
            let ceiling = maxRecordBytes > Int.max / 2 ? Int.max / 2 : maxRecordBytes + chunkSize + 1
            try resize(to: max(min(capacity * 2, ceiling), end + chunkSize))
        } else if capacity > 4 * chunkSize && end + chunkSize <= capacity / 4 {
            // A huge record has been consumed; give the memory back.
            try resize(to: max(2 * chunkSize, end + chunkSize))
        }
        if fd < 0 {
            let n = min(chunkSize, memory.count - memoryOffset)
            if n <= 0 {
                eof = true
                return false
            }
            memory.withUnsafeBufferPointer { src in
                (base + end).update(from: src.baseAddress! + memoryOffset, count: n)
            }
            memoryOffset += n
            end += n
            bytesRead += Int64(n)
            return true
        }
        while true {
            let n = read(fd, base + end, chunkSize)
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw JobLabelError.io(path: path, message: "read failed: \(String(cString: strerror(code)))")
            }
            if n == 0 {
                eof = true
                return false
            }
            end += n
            bytesRead += Int64(n)
            return true
        }
    }

    /// Fills until at least `count` bytes are pending or the input ends.
    func ensure(_ count: Int) throws {
        while pending < count {
            if try !fill() { return }
        }
    }

    /// Resizes the buffer keeping bytes 0..<end (start is 0 here). realloc lets the C library move large
    /// blocks by remapping pages instead of copying and re-faulting them.
    private func resize(to newCapacity: Int) throws {
        guard let raw = realloc(base, newCapacity) else {
            throw JobLabelError.io(path: path, message: "out of memory: a record of \(end - start) bytes and more does not fit (\(newCapacity) bytes could not be allocated)")
        }
        base = raw.assumingMemoryBound(to: UInt8.self)
        capacity = newCapacity
    }

    /// Skips a UTF-8 byte order mark at the current position (call once, before the first record).
    func skipByteOrderMark() throws {
        try ensure(3)
        if pending >= 3 && base[start] == 0xEF && base[start + 1] == 0xBB && base[start + 2] == 0xBF {
            start += 3
        }
    }

    /// What the input is when it is plainly not UTF-8 text, from its first bytes (call once, before the first
    /// record, after `skipByteOrderMark`): UTF-16 or UTF-32 (a byte order mark, or every other byte zero),
    /// a compressed file or a ZIP archive. nil for anything else, which is read as UTF-8.
    func nonTextProblem() throws -> String? {
        try ensure(4)
        return describeNonText(UnsafeBufferPointer(start: base + start, count: min(pending, 1024)))
    }

    /// The next line without its "\n" as absolute offsets (valid until the next `fill`), or nil at end of
    /// input. The final line need not end with "\n". A line longer than `maxRecordBytes` is `RecordTooLong`.
    func nextLine() throws -> (lo: Int, hi: Int)? {
        var scanned = 0  // relative to start
        while true {
            let avail = end - start
            if avail > scanned, let hit = memchr(base + start + scanned, 0x0A, avail - scanned) {
                let hi = UnsafeMutableRawPointer(base).distance(to: hit)
                if hi - start > maxRecordBytes { throw tooLong(scanned: hi - start) }
                let lo = start
                start = hi + 1
                return (lo, hi)
            }
            scanned = avail
            if scanned > maxRecordBytes { throw tooLong(scanned: scanned) }
            if try !fill() {
                if end > start {
                    let lo = start
                    start = end
                    return (lo, end)
                }
                return nil
            }
        }
    }

    /// `RecordTooLong` for the pending record whose first `scanned` bytes were looked at.
    func tooLong(scanned: Int) -> RecordTooLong {
        var loneCR = false
        var p = base + start
        let stop = base + start + min(scanned, end - start)
        while p < stop, let hit = memchr(p, 0x0D, stop - p) {
            let cr = hit.assumingMemoryBound(to: UInt8.self)
            if cr + 1 < stop && cr[1] != 0x0A {
                loneCR = true
                break
            }
            p = cr + 1
        }
        return RecordTooLong(limit: maxRecordBytes, loneCR: loneCR)
    }

    /// Reads everything that is left and returns it (for whole-file formats); more than `maxRecordBytes`
    /// bytes is `RecordTooLong`.
    func readRest() throws -> [UInt8] {
        while try fill() {
            if end - start > maxRecordBytes { throw tooLong(scanned: 0) }
        }
        if end - start > maxRecordBytes { throw tooLong(scanned: 0) }
        let out = Array(UnsafeBufferPointer(start: base + start, count: end - start))
        start = end
        return out
    }
}

/// What `bytes` (the first bytes of an input) are when they are plainly not UTF-8 text: the problem and
/// what to do, as a message (see `ChunkedInput.nonTextProblem`); nil otherwise.
func describeNonText(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
    let n = bytes.count
    func starts(_ magic: [UInt8]) -> Bool { n >= magic.count && zip(bytes, magic).allSatisfy { $0 == $1 } }
    func unicode(_ name: String, _ endian: String, bom: Bool) -> String {
        "is \(name) text (\(endian)\(bom ? ", with a byte order mark" : "")), not UTF-8; convert it first, e.g. iconv -f \(name) -t UTF-8"
    }
    if starts([0x00, 0x00, 0xFE, 0xFF]) { return unicode("UTF-32", "big-endian", bom: true) }
    if starts([0xFF, 0xFE, 0x00, 0x00]) { return unicode("UTF-32", "little-endian", bom: true) }
    if starts([0xFF, 0xFE]) { return unicode("UTF-16", "little-endian", bom: true) }
    if starts([0xFE, 0xFF]) { return unicode("UTF-16", "big-endian", bom: true) }
    let compressed = "compressed, not text; decompress it first (e.g. zcat, xzcat, zstdcat or bzcat FILE | joblabel ... -)"
    if starts([0x1F, 0x8B]) { return "is gzip-" + compressed }
    if starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return "is xz-" + compressed }
    if starts([0x28, 0xB5, 0x2F, 0xFD]) { return "is zstd-" + compressed }
    if n >= 10, (0x31...0x39).contains(bytes[3]), starts([0x42, 0x5A, 0x68, bytes[3], 0x31, 0x41, 0x59, 0x26, 0x53, 0x59]) {
        return "is bzip2-" + compressed
    }
    if starts([0x50, 0x4B, 0x03, 0x04]) {
        return "is a ZIP archive (an Excel .xlsx or Word .docx file?), not text; save or export it as CSV or plain text first"
    }
    // UTF-16 without a byte order mark: ASCII characters leave every other byte zero.
    let pairs = n / 2
    if pairs >= 2 {
        var zeroEven = 0, zeroOdd = 0
        for i in 0..<pairs {
            if bytes[2 * i] == 0 { zeroEven += 1 }
            if bytes[2 * i + 1] == 0 { zeroOdd += 1 }
        }
        if zeroOdd * 10 >= pairs * 3 && zeroEven * 20 < pairs { return unicode("UTF-16", "little-endian", bom: false) }
        if zeroEven * 10 >= pairs * 3 && zeroOdd * 20 < pairs { return unicode("UTF-16", "big-endian", bom: false) }
    }
    return nil
}

/// Reads a whole small input file (a label map): "-" is standard input; FIFOs and devices are read to their
/// end; more than `limit` bytes is an error (`.io`, naming the limit) rather than unbounded memory.
package func readWholeInput(_ path: String, limit: Int = defaultMaxRecordBytes) throws -> [UInt8] {
    let input = try ChunkedInput.open(path: path, chunkSize: min(limit, 1 << 20) + 1, maxRecordBytes: limit)
    do {
        return try input.readRest()
    } catch is RecordTooLong {
        throw JobLabelError.io(path: path, message: "longer than \(limit) bytes; not read")
    }
}
