#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One record read from an input: the posting, or what is wrong with it (always `JobLabelError.badRecord`;
/// the reader goes on with the next record).
public typealias RecordResult = Result<Posting, JobLabelError>

/// Streaming reader: yields the records of one input in file order, in batches, reading the file in chunks
/// (8 MiB by default) so memory stays bounded for huge files; records may span chunk boundaries. A record
/// longer than `options.maxRecordBytes` is a `RecordError.tooLong` failure and ends the input (the buffer
/// never grows past the limit plus one chunk); a batch ends early once it holds `batchByteBudget` bytes of
/// input, so a batch of long records does not hold thousands of them.
///
/// Formats:
/// - jsonl: one JSON object per line (see `parseJSONLine`); blank lines are skipped, a UTF-8 BOM is skipped.
/// - csv, tsv: RFC 4180 with a header row naming `text` (required), `id`, `title` and label columns
///   (other names with a `FieldMapping`); fields separated by ',' (csv), a tab (tsv) or `options.delimiter`.
/// - txt: the whole file is one posting with id = the file's basename ("stdin" for "-") and no labels;
///   its first line is the title when it looks like one (`splitTextTitle`; `options.textTitles`).
/// - lines: one posting per non-blank line, its id the line number (a JSON number), no title, no labels.
/// Ill-formed UTF-8 is replaced by U+FFFD in every format, so every posting's text is valid UTF-8. An input
/// that is plainly not UTF-8 text (UTF-16 or UTF-32, compressed, a ZIP archive) is one `RecordError.notText`
/// failure at line 0, and nothing of it is read.
///
/// A malformed record (bad JSON line, wrong field type, ragged CSV row) is returned in its place as a
/// failure and reading goes on after it. Errors about the whole input (I/O, CSV header, an unterminated
/// quote that swallows the rest of a CSV file) are thrown, after the records read before them.
public final class PostingReader {
    /// The input being read.
    public let spec: InputSpec
    let schema: RecordSchema
    let options: ReadOptions
    let input: ChunkedInput
    /// The CSV field separator.
    let delimiter: UInt8
    private var started = false
    /// JSON Lines with named fields: whether the first record's keys were checked for them.
    private var fieldsChecked = false
    private var finished = false
    /// JSON Lines: physical lines consumed so far. CSV: physical line where the next record starts.
    private var lineNumber = 0
    private var csvLayout: CSVLayout?
    private var csvFields: [[UInt8]?] = []
    /// A whole-input error met after some records of a batch: thrown by the next call, so the records
    /// before it are handed out first.
    private var fatal: Error?
    /// The current batch ends once the input consumed reaches this many bytes.
    private var batchEnd: Int64 = 0
    /// Bytes of input after which a batch ends (tests set less).
    var batchBytes = batchByteBudget

    /// Opens the input (missing file -> `.inputNotFound`, unreadable -> `.io`).
    public convenience init(_ spec: InputSpec, heads: [String], options: ReadOptions = ReadOptions()) throws {
        try self.init(spec, heads: heads, options: options, chunkSize: defaultInputChunkSize)
    }

    /// Opens the input, reading `chunkSize` bytes at a time (tests use tiny chunks).
    init(_ spec: InputSpec, heads: [String], options: ReadOptions = ReadOptions(), chunkSize: Int) throws {
        self.spec = spec
        self.schema = RecordSchema(heads: heads, fields: options.fields)
        self.options = options
        self.delimiter = options.delimiter ?? (spec.format == .tsv ? 0x09 : 0x2C)
        self.input = try ChunkedInput.open(path: spec.path, chunkSize: chunkSize, maxRecordBytes: options.maxRecordBytes)
    }

    /// Reads `bytes` as if they were the contents of `spec.path` (for tests).
    package init(bytes: [UInt8], spec: InputSpec, heads: [String], options: ReadOptions = ReadOptions(),
                 chunkSize: Int = defaultInputChunkSize) {
        self.spec = spec
        self.schema = RecordSchema(heads: heads, fields: options.fields)
        self.options = options
        self.delimiter = options.delimiter ?? (spec.format == .tsv ? 0x09 : 0x2C)
        self.input = ChunkedInput(bytes: bytes, path: spec.path, chunkSize: chunkSize, maxRecordBytes: options.maxRecordBytes)
    }

    /// Up to `maxCount` records (at least one is attempted when `maxCount < 1`); [] at end of input.
    public func next(maxCount: Int) throws -> [RecordResult] {
        if let fatal {
            self.fatal = nil
            finished = true
            throw fatal
        }
        if finished { return [] }
        let limit = max(1, maxCount)
        if !started {
            started = true
            try input.skipByteOrderMark()
            if let problem = try input.nonTextProblem() {
                finished = true
                return [.failure(.badRecord(.notText(problem), file: spec.path, line: 0))]
            }
        }
        var out: [RecordResult] = []
        batchEnd = input.bytesConsumed + Int64(batchBytes)
        do {
            switch spec.format {
            case .jsonl: try nextJSONLines(limit, into: &out)
            case .csv, .tsv: try nextCSV(limit, into: &out)
            case .lines: try nextPlainLines(limit, into: &out)
            case .txt: return try nextText()
            }
        } catch let long as RecordTooLong {
            // The record's bytes are not all read: the rest of the input cannot be split into records.
            finished = true
            let line: Int
            switch spec.format {
            case .jsonl, .lines: line = lineNumber + 1
            case .csv, .tsv: line = max(1, lineNumber)
            case .txt: line = 1
            }
            out.append(.failure(.badRecord(.tooLong(limit: long.limit, loneCR: long.loneCR, inQuotes: long.inQuotes),
                                           file: spec.path, line: line)))
        } catch {
            finished = true
            if out.isEmpty { throw error }
            fatal = error
        }
        return out
    }

    /// Bytes of the input consumed by the records handed out so far.
    public var bytesConsumed: Int64 { input.bytesConsumed }

    /// Reads all remaining postings; the first malformed record is thrown.
    func readAll() throws -> [Posting] {
        var all: [Posting] = []
        while true {
            let batch = try next(maxCount: 8192)
            if batch.isEmpty { return all }
            for record in batch { all.append(try record.get()) }
        }
    }

    // MARK: JSON Lines

    private func nextJSONLines(_ limit: Int, into out: inout [RecordResult]) throws {
        out.reserveCapacity(min(limit, 1024))
        while out.count < limit && input.bytesConsumed < batchEnd {
            guard let (lo, hi) = try input.nextLine() else {
                finished = true
                break
            }
            lineNumber += 1
            let p = input.base
            var a = lo
            while a < hi {
                let c = p[a]
                if c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0A { a += 1 } else { break }
            }
            if a == hi { continue }  // blank line
            if !fieldsChecked, let mapped = schema.mapped {
                try checkNamedFields(mapped, UnsafeBufferPointer(start: p + lo, count: hi - lo))
            }
            // The line is consumed either way: reading goes on after a bad record.
            do {
                out.append(.success(try parseJSONLine(UnsafeBufferPointer(start: p + lo, count: hi - lo), schema: schema,
                                                      file: spec.path, line: lineNumber)))
            } catch let error as JobLabelError {
                if case .badRecord(.notJSON, let file, let line) = error, hasLoneCR(p + lo, hi - lo) {
                    out.append(.failure(.badRecord(.loneCR, file: file, line: line)))
                } else {
                    out.append(.failure(error))
                }
            }
        }
    }

    /// Throws `.fieldNotFound` when the first record that is a JSON object lacks a field named in the
    /// mapping (a record that is not one is left to the parser to report).
    private func checkNamedFields(_ mapped: MappedFields, _ line: UnsafeBufferPointer<UInt8>) throws {
        guard let keys = jsonObjectKeys(line) else { return }
        fieldsChecked = true
        let present = Set(keys)
        for (k, role) in mapped.required where !present.contains(mapped.names[k]) {
            throw JobLabelError.fieldNotFound(MissingField(field: mapped.names[k], role: role, named: true, file: spec.path,
                                                           line: lineNumber, available: keys, inHeader: false))
        }
    }

    // MARK: CSV

    private func nextCSV(_ limit: Int, into out: inout [RecordResult]) throws {
        let file = spec.path
        if csvLayout == nil {
            lineNumber = 1
            // The header is the first non-blank record; an input without one has no postings.
            while true {
                guard let extent = try input.nextCSVRecord(delimiter: delimiter) else {
                    finished = true
                    return
                }
                let line = lineNumber
                lineNumber += extent.breaks + (extent.terminated ? 1 : 0)
                if extent.hi == extent.lo { continue }
                let count = extent.hi - extent.lo
                // Count the columns first, then materialize them all.
                var none: [[UInt8]?] = []
                let probe = splitCSVRecord(input.base + extent.lo, count, wanted: [], delimiter: delimiter, into: &none)
                if probe.unterminatedField != nil { throw csvUnterminatedError(file: file, line: line, field: nil) }
                var names: [[UInt8]?] = Array(repeating: nil, count: probe.count)
                _ = splitCSVRecord(input.base + extent.lo, count,
                                   wanted: Array(repeating: true, count: probe.count), delimiter: delimiter, into: &names)
                let layout = try CSVLayout(headerNames: names.map { String(decoding: $0 ?? [], as: UTF8.self) },
                                           schema: schema, fields: options.fields, file: file, line: line)
                csvLayout = layout
                csvFields = Array(repeating: nil, count: layout.columnCount)
                break
            }
        }
        guard let layout = csvLayout else { return }
        out.reserveCapacity(min(limit, 1024))
        while out.count < limit && input.bytesConsumed < batchEnd {
            guard let extent = try input.nextCSVRecord(delimiter: delimiter) else {
                finished = true
                break
            }
            let line = lineNumber
            lineNumber += extent.breaks + (extent.terminated ? 1 : 0)
            if extent.hi == extent.lo { continue }  // blank line
            let split = splitCSVRecord(input.base + extent.lo, extent.hi - extent.lo, wanted: layout.wanted,
                                       delimiter: delimiter, into: &csvFields)
            if let k = split.unterminatedField {
                throw csvUnterminatedError(file: file, line: line, field: k < layout.names.count ? layout.names[k] : nil)
            }
            if split.count != layout.columnCount {
                out.append(.failure(.badRecord(.raggedRow(fields: split.count, headerFields: layout.columnCount), file: file, line: line)))
                continue
            }
            var id = ""
            if let c = layout.idColumn, let v = csvFields[c], !v.isEmpty { id = String(decoding: v, as: UTF8.self) }
            if id.isEmpty { id = synthesizedPostingID(file: file, line: line) }
            var title: [UInt8] = []
            if let c = layout.titleColumn, let v = csvFields[c] { title = repairedUTF8(v) }
            var text: [UInt8]
            if layout.textColumns.count == 1 {
                text = repairedUTF8(csvFields[layout.textColumns[0]] ?? [])
            } else {
                // Several text fields: the non-empty ones, joined with a blank line.
                text = []
                for c in layout.textColumns {
                    guard let v = csvFields[c], !v.isEmpty else { continue }
                    if !text.isEmpty { text += [0x0A, 0x0A] }
                    text += repairedUTF8(v)
                }
            }
            let labels: [String?] = layout.headColumns.map { column in
                guard let c = column, let v = csvFields[c] else { return nil }
                return labelValue(v)
            }
            let kept: [KeptValue] = layout.keepColumns.map { .string(String(decoding: repairedUTF8(csvFields[$0] ?? []), as: UTF8.self)) }
            out.append(.success(Posting(id: id, idIsNumber: false, title: title, text: text, labels: labels,
                                        file: file, line: line, kept: kept)))
        }
    }

    // MARK: plain text

    /// Values for the kept fields of a posting from plain text, which has no fields.
    private var noKeptValues: [KeptValue] { Array(repeating: .null, count: options.fields.keepFields.count) }

    private func nextText() throws -> [RecordResult] {
        let bytes = repairedUTF8(try input.readRest())
        finished = true
        let id = spec.path == "-" ? "stdin" : inputBasename(spec.path)
        var title: [UInt8] = [], text = bytes
        if options.textTitles == .detect, let split = splitTextTitle(bytes) { (title, text) = split }
        return [.success(Posting(id: id, idIsNumber: false, title: title, text: text,
                                 labels: Array(repeating: nil, count: schema.heads.count), file: spec.path, line: 1,
                                 kept: noKeptValues))]
    }

    /// One posting per non-blank line; its id is the line number. Lines end in LF, CRLF or a CR alone.
    private func nextPlainLines(_ limit: Int, into out: inout [RecordResult]) throws {
        let noLabels = [String?](repeating: nil, count: schema.heads.count)
        let kept = noKeptValues
        while out.count < limit && input.bytesConsumed < batchEnd {
            guard let (lo, hi) = try input.nextLine() else {
                finished = true
                break
            }
            let p = input.base
            // The LF-delimited line, split at CRs that are not the CR of a CRLF.
            var segment = lo
            while true {
                var end = hi
                if let cr = memchr(p + segment, 0x0D, hi - segment) {
                    end = UnsafeMutableRawPointer(p).distance(to: cr)
                }
                lineNumber += 1
                var a = segment, b = end
                func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0B || c == 0x0C }
                while a < b && isSpace(p[a]) { a += 1 }
                while b > a && isSpace(p[b - 1]) { b -= 1 }
                if a < b {
                    var text: [UInt8] = []
                    text.reserveCapacity(b - a)
                    appendRepairingUTF8(p + a, b - a, to: &text)
                    out.append(.success(Posting(id: String(lineNumber), idIsNumber: true, title: [], text: text, labels: noLabels,
                                                file: spec.path, line: lineNumber, kept: kept)))
                }
                if end >= hi - 1 { break }  // the line's end, or the CR of a CRLF
                segment = end + 1
            }
        }
    }
}

/// How many bytes of input a batch of `PostingReader.next(maxCount:)` holds at most, plus one record.
package let batchByteBudget = 64 << 20

/// True when `p[0..<n]` holds a CR that is not followed by LF (a CR at the very end is a CRLF's).
func hasLoneCR(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i < n, let hit = memchr(p + i, 0x0D, n - i) {
        let at = UnsafeRawPointer(p).distance(to: hit)
        if at + 1 < n && p[at + 1] != 0x0A { return true }
        i = at + 1
    }
    return false
}

/// Parses a whole in-memory JSON Lines document (for tests and small inputs).
func parseJSONLines(_ bytes: [UInt8], heads: [String], file: String = "test.jsonl",
                    chunkSize: Int = defaultInputChunkSize) throws -> [Posting] {
    try PostingReader(bytes: bytes, spec: InputSpec(path: file, format: .jsonl), heads: heads, chunkSize: chunkSize).readAll()
}

/// Parses a whole in-memory CSV document (for tests and small inputs).
func parseCSV(_ bytes: [UInt8], heads: [String], file: String = "test.csv",
              chunkSize: Int = defaultInputChunkSize) throws -> [Posting] {
    try PostingReader(bytes: bytes, spec: InputSpec(path: file, format: .csv), heads: heads, chunkSize: chunkSize).readAll()
}
