/// The binary weights file: magic, version, training id, typed blocks with shapes, CRC-32 trailer.
///
///     offset 0   "JLBW"                      magic
///            4   UInt32 format version
///            8   16 bytes training id        (also in the manifest, so mixed files are detected)
///           24   UInt32 block count
///           28   blocks: UInt16 name length, name (UTF-8), UInt8 type (1 = float32, 2 = bytes),
///                UInt8 rank, rank × UInt64 dimensions, zero padding to a multiple of 4, then the data
///     end − 4    UInt32 CRC-32 (IEEE) of every byte before it
///
/// All integers and floats are little-endian.
enum WeightsFile {
    static let magic: [UInt8] = Array("JLBW".utf8)
    static let version: UInt32 = 1
    /// The size of a file without blocks: header (magic, version, training id, block count) and checksum.
    static let minimumBytes = 32
    /// Every float stored is finite with a magnitude below 2^100 (about 1.3e30): no training produces more,
    /// and scores summed from such weights cannot overflow. As a bit pattern: the biased exponent is below
    /// 127 + 100.
    static let floatExponentLimit: UInt32 = (127 + 100) << 23

    /// One named array.
    enum Block: Equatable {
        case floats(name: String, shape: [Int], values: [Float])
        case bytes(name: String, values: [UInt8])

        var name: String {
            switch self {
            case .floats(let n, _, _), .bytes(let n, _): return n
            }
        }
    }

    /// Serialises blocks.
    static func encode(trainingID: [UInt8], blocks: [Block]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(blocks.reduce(64) { n, b in
            switch b {
            case .floats(_, _, let v): return n + 64 + v.count * 4
            case .bytes(_, let v): return n + 64 + v.count
            }
        })
        out += magic
        appendLE(&out, version)
        out += trainingID.prefix(16) + [UInt8](repeating: 0, count: max(0, 16 - trainingID.count))
        appendLE(&out, UInt32(blocks.count))
        for block in blocks {
            let name = Array(block.name.utf8)
            appendLE(&out, UInt16(name.count))
            out += name
            switch block {
            case .floats(_, let shape, let values):
                out.append(1)
                out.append(UInt8(shape.count))
                for d in shape { appendLE(&out, UInt64(d)) }
                while out.count % 4 != 0 { out.append(0) }
                #if _endian(little)
                values.withUnsafeBytes { out += $0 }
                #else
                for v in values { appendLE(&out, v.bitPattern) }
                #endif
            case .bytes(_, let values):
                out.append(2)
                out.append(1)
                appendLE(&out, UInt64(values.count))
                while out.count % 4 != 0 { out.append(0) }
                out += values
            }
        }
        appendLE(&out, CRC32.checksum(out))
        return out
    }

    /// Parses and verifies a weights file; every failure is a one-line message.
    static func decode(_ data: [UInt8], path: String) throws -> (trainingID: [UInt8], blocks: [String: Block]) {
        try decodeWithChecksum(data, path: path) { id, blocks in (id, blocks) }.value
    }

    /// Parses and verifies a weights file and passes its training id and blocks to `build`, also returning the
    /// CRC-32 of the whole file (trailer included). The checksum runs on a second thread while the blocks are
    /// parsed and built; a checksum mismatch is reported before any error of parsing or `build`.
    static func decodeWithChecksum<T>(_ data: [UInt8], path: String,
                                      _ build: ([UInt8], [String: Block]) throws -> T) throws -> (value: T, fileCRC: UInt32) {
        try data.withUnsafeBytes { try decodeWithChecksum($0, path: path, build) }
    }

    /// `decodeWithChecksum` of bytes in memory that is not an array (a mapped file).
    static func decodeWithChecksum<T>(_ data: UnsafeRawBufferPointer, path: String,
                                      _ build: ([UInt8], [String: Block]) throws -> T) throws -> (value: T, fileCRC: UInt32) {
        func bad(_ message: String) -> JobLabelError {
            .modelDamaged(file: path, field: nil, problem: message)
        }
        guard data.count >= 32 else {
            throw bad("weights file is truncated (\(data.count) bytes); retrain the model or restore the file")
        }
        guard Array(data[0..<4]) == magic else {
            throw bad("not a joblabel weights file (bad magic number); a model is a directory written by 'joblabel train'")
        }
        var header = ByteReader(data: data, limit: data.count - 4)
        header.offset = 4
        let fileVersion = try header.u32(or: bad("truncated header"))
        guard fileVersion <= version else {
            throw bad("weights format version \(fileVersion) is newer than this joblabel supports (\(version)); upgrade joblabel or retrain the model")
        }
        guard fileVersion == version else {
            throw bad("weights format version \(fileVersion) is not supported (expected \(version)); retrain the model")
        }
        // The checksum runs on a thread of its own while this one parses and builds (and copies the float
        // blocks on the worker threads).
        let checksumming = Pending { checksums(data) }
        let built = Result { let (id, blocks) = try parseBlocks(data, path: path); return try build(id, blocks) }
        let sums = checksumming.wait()
        guard sums.stored == sums.actual else {
            throw bad("weights file is corrupt (checksum mismatch); retrain the model or restore the file")
        }
        return (try built.get(), sums.file)
    }

    /// The stored trailer, the CRC-32 of the bytes before it, and the CRC-32 of the whole file.
    private static func checksums(_ data: UnsafeRawBufferPointer) -> (stored: UInt32, actual: UInt32, file: UInt32) {
        let stored = UInt32(data[data.count - 4]) | UInt32(data[data.count - 3]) << 8
            | UInt32(data[data.count - 2]) << 16 | UInt32(data[data.count - 1]) << 24
        var crc = CRC32()
        crc.update(UnsafeRawBufferPointer(rebasing: data[0..<(data.count - 4)]))
        let actual = crc.value
        crc.update(UnsafeRawBufferPointer(rebasing: data[(data.count - 4)...]))
        return (stored, actual, crc.value)
    }

    /// The training id and blocks of a weights file whose header (magic, version) has been checked.
    private static func parseBlocks(_ data: UnsafeRawBufferPointer, path: String) throws -> ([UInt8], [String: Block]) {
        func bad(_ message: String) -> JobLabelError {
            .modelDamaged(file: path, field: nil, problem: message)
        }
        var reader = ByteReader(data: data, limit: data.count - 4)
        reader.offset = 8
        let id = try reader.bytes(16, or: bad("truncated header"))
        let count = try reader.u32(or: bad("truncated header"))
        var blocks: [String: Block] = [:]
        for _ in 0..<count {
            let nameLength = Int(try reader.u16(or: bad("truncated block header")))
            let name = String(decoding: try reader.bytes(nameLength, or: bad("truncated block name")), as: UTF8.self)
            let type = try reader.u8(or: bad("truncated block header"))
            let rank = Int(try reader.u8(or: bad("truncated block header")))
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
            while reader.offset % 4 != 0 { _ = try reader.u8(or: bad("truncated block padding")) }
            guard blocks[name] == nil else { throw bad("block '\(name)' appears twice") }
            switch type {
            case 1:
                let start = try reader.skip(elements * 4, or: bad("block '\(name)' is truncated"))
                var outOfRange = false
                let values = [Float](unsafeUninitializedCapacity: elements) { buffer, initialized in
                    adviseHugePages(buffer.baseAddress, bytes: elements * 4)
                    let to = UnsafeMutableRawBufferPointer(buffer), from = UnsafeRawBufferPointer(rebasing: data[start..<(start + elements * 4)])
                    // In 4 MiB pieces over the threads: the first touches of the new pages (a fault and a zero-fill
                    // each) are spread over them too. Each piece is checked for values out of range while it is
                    // in the cache.
                    let pieces = Parallel().mapRanges(count: from.count, blockSize: 4 << 20) { r -> Bool in
                        let piece = UnsafeMutableRawBufferPointer(rebasing: to[r])
                        piece.copyMemory(from: UnsafeRawBufferPointer(rebasing: from[r]))
                        return WeightsFile.allInRange(piece)
                    }
                    outOfRange = pieces.contains(false)
                    initialized = elements
                }
                #if _endian(big)
                values = values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
                #endif
                if outOfRange, let i = values.firstIndex(where: { !WeightsFile.inRange($0) }) {
                    throw bad("block '\(name)' holds \(values[i]) at index \(i): every stored number is finite and below 2^100 (about 1.3e30) in magnitude; retrain the model")
                }
                blocks[name] = .floats(name: name, shape: shape, values: values)
            case 2:
                blocks[name] = .bytes(name: name, values: try reader.bytes(elements, or: bad("block '\(name)' is truncated")))
            default:
                throw bad("block '\(name)' has unknown type \(type)")
            }
        }
        guard reader.offset == data.count - 4 else {
            throw bad("weights file has \(data.count - 4 - reader.offset) unexpected bytes before the checksum")
        }
        return (id, blocks)
    }

    /// True when a stored float is finite and below 2^100 in magnitude (see `floatExponentLimit`).
    @inline(__always)
    static func inRange(_ x: Float) -> Bool {
        x.bitPattern & 0x7F80_0000 < floatExponentLimit
    }

    /// `inRange` for every float in `bytes` (little-endian, a multiple of 4 bytes; one branch-free pass).
    static func allInRange(_ bytes: UnsafeMutableRawBufferPointer) -> Bool {
        let n = bytes.count / 4
        guard n > 0, let base = bytes.baseAddress else { return true }
        let words = base.assumingMemoryBound(to: UInt32.self)
        var worst: UInt32 = 0
        for i in 0..<n { worst = max(worst, UInt32(littleEndian: words[i]) & 0x7F80_0000) }
        return worst < floatExponentLimit
    }

    private static func appendLE<T: FixedWidthInteger>(_ out: inout [UInt8], _ v: T) {
        var x = v.littleEndian
        withUnsafeBytes(of: &x) { out += $0 }
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
