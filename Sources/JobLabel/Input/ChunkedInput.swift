import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Default read size for inputs: large enough for throughput, small enough to keep memory bounded.
package let defaultInputChunkSize = 8 << 20

/// A growable byte window over a file descriptor (or, for tests, an in-memory array) that is filled
/// `chunkSize` bytes at a time. Bytes in `start..<end` are read but not yet consumed. `fill()` moves the
/// pending bytes to the front of the buffer, so absolute offsets are invalidated by it; offsets relative to
/// `start` stay valid. The buffer grows only as far as one record needs.
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
    /// Path used in error messages.
    let path: String

    private let fd: Int32
    private let closeOnDeinit: Bool
    private var memory: [UInt8]
    private var memoryOffset = 0

    private init(fd: Int32, closeOnDeinit: Bool, memory: [UInt8], path: String, chunkSize: Int) {
        self.fd = fd
        self.closeOnDeinit = closeOnDeinit
        self.memory = memory
        self.path = path
        self.chunkSize = max(1, chunkSize)
        self.capacity = self.chunkSize
        guard let raw = malloc(self.capacity) else { fatalError("out of memory allocating \(self.capacity) bytes") }
        self.base = raw.assumingMemoryBound(to: UInt8.self)
    }

    /// Reads from an open descriptor; closes it on deinit when `closeOnDeinit`.
    convenience init(fd: Int32, closeOnDeinit: Bool, path: String, chunkSize: Int) {
        self.init(fd: fd, closeOnDeinit: closeOnDeinit, memory: [], path: path, chunkSize: chunkSize)
    }

    /// Serves `bytes` as if read from a file, `chunkSize` bytes per fill (for tests).
    convenience init(bytes: [UInt8], path: String, chunkSize: Int) {
        self.init(fd: -1, closeOnDeinit: false, memory: bytes, path: path, chunkSize: chunkSize)
    }

    /// Opens `path` for reading ("-" = standard input).
    static func open(path: String, chunkSize: Int) throws -> ChunkedInput {
        if path == "-" {
            return ChunkedInput(fd: FileHandle.standardInput.fileDescriptor, closeOnDeinit: false,
                                path: path, chunkSize: chunkSize)
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
        return ChunkedInput(fd: fd, closeOnDeinit: true, path: path, chunkSize: chunkSize)
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
            resize(to: max(capacity * 2, end + chunkSize))
        } else if capacity > 4 * chunkSize && end + chunkSize <= capacity / 4 {
            // A huge record has been consumed; give the memory back.
            resize(to: max(2 * chunkSize, end + chunkSize))
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
    private func resize(to newCapacity: Int) {
        guard let raw = realloc(base, newCapacity) else {
            fatalError("out of memory growing the input buffer to \(newCapacity) bytes")
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

    /// The next line without its "\n" as absolute offsets (valid until the next `fill`), or nil at end of
    /// input. The final line need not end with "\n".
    func nextLine() throws -> (lo: Int, hi: Int)? {
        var scanned = 0  // relative to start
        while true {
            let avail = end - start
            if avail > scanned, let hit = memchr(base + start + scanned, 0x0A, avail - scanned) {
                let hi = UnsafeMutableRawPointer(base).distance(to: hit)
                let lo = start
                start = hi + 1
                return (lo, hi)
            }
            scanned = avail
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

    /// Reads everything that is left and returns it (for whole-file formats).
    func readRest() throws -> [UInt8] {
        while try fill() {}
        let out = Array(UnsafeBufferPointer(start: base + start, count: end - start))
        start = end
        return out
    }
}
