#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The binary weights file: magic, version, training id, typed blocks with shapes, and a table of CRC-32C
/// checksums, one per 64 KiB chunk, so the file is verified on every core at once.
///
///     offset 0   "JLBW"                      magic
///            4   UInt32 format version (2)
///            8   16 bytes training id        (also in the manifest, so mixed files are detected)
///           24   UInt32 block count
///           28   blocks: UInt16 name length, name (UTF-8), UInt8 type (1 = float32, 2 = bytes, 3 = uint64),
///                UInt8 rank, rank × UInt64 dimensions, zero padding to a file offset that is a multiple of 64,
///                then the data
///     B          (B = the end of the last block) C × UInt32: CRC-32C of each 64 KiB chunk of bytes 0..<B
///                (the last chunk may be shorter; C = ⌈B / 65536⌉)
///     end − 8    UInt32 C
///     end − 4    UInt32 CRC-32C of the C checksums and C (bytes B..<end−4): the file's checksum, also in
///                the manifest (`weights.crc32c`)
///
/// All integers and floats are little-endian. The float blocks are used in place where the file is mapped.
enum WeightsFile {
    static let magic: [UInt8] = Array("JLBW".utf8)
    static let version: UInt32 = 2
    /// Bytes per checksummed chunk.
    static let chunkBytes = 1 << 16
    /// Block data starts at a file offset that is a multiple of this.
    static let alignment = 64
    /// The size of a file without blocks: header (magic, version, training id, block count), one chunk
    /// checksum, the chunk count and the file's checksum.
    static let minimumBytes = 40
    /// Every float stored is finite with a magnitude below 2^100 (about 1.3e30): no training produces more,
    /// and scores summed from such weights cannot overflow. As a bit pattern: the biased exponent is below
    /// 127 + 100.
    static let floatExponentLimit: UInt32 = (127 + 100) << 23

    /// One named array.
    enum Block: Equatable {
        case floats(name: String, shape: [Int], values: [Float])
        case bytes(name: String, values: [UInt8])
        case words(name: String, shape: [Int], values: [UInt64])

        var name: String {
            switch self {
            case .floats(let n, _, _), .bytes(let n, _), .words(let n, _, _): return n
            }
        }
    }

    /// Where a block's data is in the file.
    struct StoredBlock {
        /// 1 = float32, 2 = bytes, 3 = uint64.
        var type: UInt8
        var shape: [Int]
        /// Byte offset of the data in the file.
        var offset: Int
        /// Number of elements.
        var count: Int

        var byteCount: Int { count * (type == 2 ? 1 : type == 1 ? 4 : 8) }
    }

    /// Serialises blocks.
    static func encode(trainingID: [UInt8], blocks: [Block]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(blocks.reduce(4096) { n, b in
            switch b {
            case .floats(_, _, let v): return n + 128 + v.count * 4
            case .bytes(_, let v): return n + 128 + v.count
            case .words(_, _, let v): return n + 128 + v.count * 8
            }
        })
        out += magic
        appendLE(&out, version)
        out += trainingID.prefix(16) + [UInt8](repeating: 0, count: max(0, 16 - trainingID.count))
        appendLE(&out, UInt32(blocks.count))
        func header(_ name: String, type: UInt8, shape: [Int]) {
            let name = Array(name.utf8)
            appendLE(&out, UInt16(name.count))
            out += name
            out.append(type)
            out.append(UInt8(shape.count))
            for d in shape { appendLE(&out, UInt64(d)) }
            while out.count % alignment != 0 { out.append(0) }
        }
        for block in blocks {
            switch block {
            case .floats(let name, let shape, let values):
                header(name, type: 1, shape: shape)
                #if _endian(little)
                values.withUnsafeBytes { out += $0 }
                #else
                for v in values { appendLE(&out, v.bitPattern) }
                #endif
            case .bytes(let name, let values):
                header(name, type: 2, shape: [values.count])
                out += values
            case .words(let name, let shape, let values):
                header(name, type: 3, shape: shape)
                for v in values { appendLE(&out, v) }
            }
        }
        let body = out.count
        var chunks: [UInt8] = []
        out.withUnsafeBytes { raw in
            var at = 0
            while at < body {
                let n = min(chunkBytes, body - at)
                appendLE(&chunks, CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[at..<(at + n)])))
                at += n
            }
        }
        appendLE(&chunks, UInt32((body + chunkBytes - 1) / chunkBytes))
        out += chunks
        appendLE(&out, CRC32C.checksum(chunks))
        return out
    }

    /// The file's checksum as its last 4 bytes hold it (nil for a file too short to have one).
    static func storedChecksum(_ data: [UInt8]) -> UInt32? {
        guard data.count >= 4 else { return nil }
        return data.withUnsafeBytes { le32($0, $0.count - 4) }
    }

    /// Parses and verifies a weights file held in an array (copies the blocks; for tests and tools).
    static func decode(_ data: [UInt8], path: String) throws -> (trainingID: [UInt8], blocks: [String: Block]) {
        try data.withUnsafeBytes { raw in
            let head = try header(raw, path: path)
            let stored = try verifiedBlocks(raw, head, path: path)
            var blocks: [String: Block] = [:]
            for (name, b) in stored {
                let bytes = UnsafeRawBufferPointer(rebasing: raw[b.offset..<(b.offset + b.byteCount)])
                switch b.type {
                case 1: blocks[name] = .floats(name: name, shape: b.shape, values: (0..<b.count).map { Float(bitPattern: le32(bytes, 4 * $0)) })
                case 2: blocks[name] = .bytes(name: name, values: Array(bytes))
                default: blocks[name] = .words(name: name, shape: b.shape, values: (0..<b.count).map { le64(bytes, 8 * $0) })
                }
            }
            return (head.trainingID, blocks)
        }
    }

    /// What the first and last bytes of a weights file say.
    struct Header {
        var trainingID: [UInt8]
        /// The file's checksum (its last 4 bytes), verified against the chunk checksums it covers.
        var checksum: UInt32
        /// Where the blocks end and the chunk checksums start.
        var bodyBytes: Int
    }

    /// Checks magic, version and the checksum table's own checksum (reads the header and the table only).
    static func header(_ data: UnsafeRawBufferPointer, path: String) throws -> Header {
        func bad(_ message: String) -> JobLabelError {
            .modelDamaged(file: path, field: nil, problem: message)
        }
        guard data.count >= minimumBytes else {
            throw bad("weights file is truncated (\(data.count) bytes); retrain the model or restore the file")
        }
        guard Array(data[0..<4]) == magic else {
            throw bad("not a joblabel weights file (bad magic number); a model is a directory written by 'joblabel train'")
        }
        let fileVersion = le32(data, 4)
        guard fileVersion <= version else {
            throw bad("weights format version \(fileVersion) is newer than this joblabel supports (\(version)); upgrade joblabel or retrain the model")
        }
        guard fileVersion == version else {
            throw bad("weights format version \(fileVersion) is not read by this joblabel (it reads \(version)); retrain the model")
        }
        let chunks = Int(le32(data, data.count - 8))
        let body = data.count - 8 - 4 * chunks
        guard chunks >= 1, body >= 28, chunks == (body + chunkBytes - 1) / chunkBytes else {
            throw bad("weights file is truncated or its checksum table is damaged; retrain the model or restore the file")
        }
        let checksum = le32(data, data.count - 4)
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: data[body..<(data.count - 4)])) == checksum else {
            throw bad("weights file is corrupt (checksum mismatch in its checksum table); retrain the model or restore the file")
        }
        return Header(trainingID: Array(data[8..<24]), checksum: checksum, bodyBytes: body)
    }

    /// Parses the block headers, then verifies every chunk's checksum and that every float is in range
    /// (`inRange`) in one pass over the file on all threads of `parallel`. A checksum mismatch is reported
    /// before any error of parsing, and that before a float out of range.
    static func verifiedBlocks(_ data: UnsafeRawBufferPointer, _ head: Header, path: String,
                               parallel: Parallel = Parallel()) throws -> [String: StoredBlock] {
        func bad(_ message: String) -> JobLabelError {
            .modelDamaged(file: path, field: nil, problem: message)
        }
        let parsed = Result { try parseBlocks(data, limit: head.bodyBytes, path: path) }
        // Float regions, sorted by offset (the range check looks at nothing else).
        let regions: [Range<Int>] = ((try? parsed.get()) ?? [:]).values.filter { $0.type == 1 }
            .map { $0.offset..<($0.offset + $0.byteCount) }.sorted { $0.lowerBound < $1.lowerBound }
        let body = head.bodyBytes, chunks = (body + chunkBytes - 1) / chunkBytes
        guard let base = data.baseAddress else { throw bad("weights file is empty") }
        // Jobs of 8 triples of chunks (1.5 MiB); each triple is checksummed in lockstep (`CRC32C.checksum3`),
        // a piece of 16 KiB of each at a time, and the floats of those pieces checked while they are in the cache.
        let triples = (chunks + 2) / 3
        let piece = 16 << 10
        let results = parallel.mapRanges(count: triples, blockSize: 8) { range -> (crcs: [UInt32], inRange: Bool) in
            var crcs: [UInt32] = []
            var inRange = true
            func check(_ lo: Int, _ hi: Int) {
                for r in regions where r.lowerBound < hi && r.upperBound > lo {
                    let from = max(lo, r.lowerBound), to = min(hi, r.upperBound)
                    if !allInRange(base + from, count: (to - from) / 4) { inRange = false }
                }
            }
            for t in range {
                let first = 3 * t
                if first + 2 < chunks && (first + 3) * chunkBytes <= body {
                    var x: UInt32 = 0xFFFF_FFFF, y: UInt32 = 0xFFFF_FFFF, z: UInt32 = 0xFFFF_FFFF
                    let a = first * chunkBytes, b = a + chunkBytes, c = b + chunkBytes
                    var at = 0
                    while at < chunkBytes {
                        (x, y, z) = CRC32C.update3(x, y, z, base + a + at, base + b + at, base + c + at, count: piece)
                        if !regions.isEmpty {
                            check(a + at, a + at + piece); check(b + at, b + at + piece); check(c + at, c + at + piece)
                        }
                        at += piece
                    }
                    crcs += [x ^ 0xFFFF_FFFF, y ^ 0xFFFF_FFFF, z ^ 0xFFFF_FFFF]
                } else {
                    for k in first..<min(chunks, first + 3) {
                        let lo = k * chunkBytes, hi = min(body, lo + chunkBytes)
                        crcs.append(CRC32C.update(0xFFFF_FFFF, base + lo, hi - lo) ^ 0xFFFF_FFFF)
                        check(lo, hi)
                    }
                }
            }
            return (crcs, inRange)
        }
        var k = 0
        for r in results {
            for crc in r.crcs {
                guard crc == le32(data, body + 4 * k) else {
                    throw bad("weights file is corrupt (checksum mismatch in bytes \(k * chunkBytes)..<\(min(body, (k + 1) * chunkBytes))); retrain the model or restore the file")
                }
                k += 1
            }
        }
        let blocks = try parsed.get()
        if results.contains(where: { !$0.inRange }) {
            for (name, b) in blocks.sorted(by: { $0.value.offset < $1.value.offset }) where b.type == 1 {
                for i in 0..<b.count {
                    let x = Float(bitPattern: le32(data, b.offset + 4 * i))
                    if !inRange(x) {
                        throw bad("block '\(name)' holds \(x) at index \(i): every stored number is finite and below 2^100 (about 1.3e30) in magnitude; retrain the model")
                    }
                }
            }
        }
        return blocks
    }

    /// The blocks of a weights file whose header (magic, version) has been checked; `limit`: where they end.
    private static func parseBlocks(_ data: UnsafeRawBufferPointer, limit: Int, path: String) throws -> [String: StoredBlock] {
        func bad(_ message: String) -> JobLabelError {
            .modelDamaged(file: path, field: nil, problem: message)
        }
        var reader = ByteReader(data: data, limit: limit)
        reader.offset = 24
        let count = try reader.u32(or: bad("truncated header"))
        var blocks: [String: StoredBlock] = [:]
        for _ in 0..<count {
            let nameLength = Int(try reader.u16(or: bad("truncated block header")))
            let name = String(decoding: try reader.bytes(nameLength, or: bad("truncated block name")), as: UTF8.self)
            let type = try reader.u8(or: bad("truncated block header"))
            let rank = Int(try reader.u8(or: bad("truncated block header")))
            guard (1...3).contains(type) else { throw bad("block '\(name)' has unknown type \(type)") }
            var shape: [Int] = []
            var elements = 1
            for _ in 0..<rank {
                let d = try reader.u64(or: bad("truncated block shape"))
                guard d <= UInt64(Int32.max) else { throw bad("block '\(name)' has an impossible dimension \(d)") }
                shape.append(Int(d))
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(d))
                guard !overflow, product <= data.count else { throw bad("block '\(name)' is larger than the file") }
                elements = product
            }
            while reader.offset % alignment != 0 {
                guard try reader.u8(or: bad("truncated block padding")) == 0 else { throw bad("block '\(name)' has padding that is not zero") }
            }
            guard blocks[name] == nil else { throw bad("block '\(name)' appears twice") }
            let block = StoredBlock(type: type, shape: shape, offset: reader.offset, count: elements)
            _ = try reader.skip(block.byteCount, or: bad("block '\(name)' is truncated"))
            blocks[name] = block
        }
        guard reader.offset == limit else {
            throw bad("weights file has \(limit - reader.offset) unexpected bytes before its checksums")
        }
        return blocks
    }

    /// True when a stored float is finite and below 2^100 in magnitude (see `floatExponentLimit`).
    @inline(__always)
    static func inRange(_ x: Float) -> Bool {
        x.bitPattern & 0x7F80_0000 < floatExponentLimit
    }

    /// `inRange` for `count` little-endian floats at `p` (4-byte aligned; one branch-free pass).
    static func allInRange(_ p: UnsafeRawPointer, count n: Int) -> Bool {
        guard n > 0 else { return true }
        let words = p.assumingMemoryBound(to: UInt32.self)
        var worst: UInt32 = 0
        for i in 0..<n { worst = max(worst, UInt32(littleEndian: words[i]) & 0x7F80_0000) }
        return worst < floatExponentLimit
    }

    @inline(__always)
    static func le32(_ data: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(littleEndian: data.loadUnaligned(fromByteOffset: at, as: UInt32.self))
    }

    @inline(__always)
    static func le64(_ data: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        UInt64(littleEndian: data.loadUnaligned(fromByteOffset: at, as: UInt64.self))
    }

    private static func appendLE<T: FixedWidthInteger>(_ out: inout [UInt8], _ v: T) {
        var x = v.littleEndian
        withUnsafeBytes(of: &x) { out += $0 }
    }
}

/// The bytes of a weights file, kept alive as long as a model uses its floats in place: a read-only mapping
/// of the file, or a copy in memory aligned like one.
final class WeightsBytes: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
    private let mapped: Bool

    /// A copy of `data` (64-byte aligned, so float blocks are aligned as in a mapped file).
    init(copying data: [UInt8]) {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(1, data.count), alignment: WeightsFile.alignment)
        data.withUnsafeBytes { if let b = $0.baseAddress { p.copyMemory(from: b, byteCount: $0.count) } }
        bytes = UnsafeRawBufferPointer(start: p, count: data.count)
        mapped = false
    }

    /// Bytes mapped with `mmap` (`count` > 0), unmapped when this is released.
    init(mapping p: UnsafeRawPointer, count: Int) {
        bytes = UnsafeRawBufferPointer(start: p, count: count)
        mapped = true
    }

    deinit {
        guard let p = bytes.baseAddress else { return }
        if mapped { munmap(UnsafeMutableRawPointer(mutating: p), bytes.count) } else { p.deallocate() }
    }
}

/// Bounds-checked little-endian reader.
struct ByteReader {
    let data: UnsafeRawBufferPointer
    let limit: Int
    var offset = 0

    mutating func bytes(_ n: Int, or error: @autoclosure () -> Error) throws -> [UInt8] {
        guard n >= 0, n <= limit - offset else { throw error() }
        defer { offset += n }
        return Array(data[offset..<(offset + n)])
    }
    /// Skips `n` bytes and returns the offset where they start.
    mutating func skip(_ n: Int, or error: @autoclosure () -> Error) throws -> Int {
        guard n >= 0, n <= limit - offset else { throw error() }
        defer { offset += n }
        return offset
    }
    mutating func u8(or error: @autoclosure () -> Error) throws -> UInt8 {
        try bytes(1, or: error())[0]
    }
    mutating func u16(or error: @autoclosure () -> Error) throws -> UInt16 {
        let b = try bytes(2, or: error())
        return UInt16(b[0]) | UInt16(b[1]) << 8
    }
    mutating func u32(or error: @autoclosure () -> Error) throws -> UInt32 {
        let b = try bytes(4, or: error())
        return b.enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
    }
    mutating func u64(or error: @autoclosure () -> Error) throws -> UInt64 {
        let b = try bytes(8, or: error())
        return b.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }
}
