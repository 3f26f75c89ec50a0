#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// RFC 4180 CSV, parsed in two passes per record: a resumable scan over the chunked input finds where the
/// record ends (tracking quotes, so newlines inside quoted fields do not end it), then the complete record
/// is split into fields.
///
/// Leniency (consistent in both passes): a '"' inside an unquoted field is a literal character, and text
/// after a closing quote up to the next ',' is appended to the field. Record ends are LF, CRLF or a lone
/// CR; line numbers count each of those, inside quoted fields too.

/// Where one CSV record lies in the input buffer.
struct CSVRecordExtent {
    /// Absolute offsets of the record without its terminator (valid until the next `fill`).
    var lo: Int
    var hi: Int
    /// Line breaks inside the record (in quoted fields).
    var breaks: Int
    /// False for a final record without a line ending.
    var terminated: Bool
    /// True when the input ended inside a quoted field.
    var unterminatedQuote: Bool
}

private enum CSVScanState {
    case fieldStart, unquoted, quoted, quoteInQuoted
}

extension ChunkedInput {
    /// Finds the next CSV record (possibly empty, for a blank line) and consumes it with its terminator.
    /// Fields are separated by `delimiter` (',' for CSV, a tab for TSV). Returns nil at end of input.
    func nextCSVRecord(delimiter: UInt8 = 0x2C) throws -> CSVRecordExtent? {
        var state = CSVScanState.fieldStart
        var scanned = 0  // relative to start, survives fills
        var breaks = 0
        while true {
            let b = base
            let e = end
            var j = start + scanned
            scan: while j < e {
                let c = b[j]
                switch state {
                case .quoted:
                    if c == 0x22 {
                        state = .quoteInQuoted
                        j += 1
                    } else if c == 0x0A {
                        breaks += 1
                        j += 1
                    } else if c == 0x0D {
                        if j + 1 < e {
                            if b[j + 1] != 0x0A { breaks += 1 }
                            j += 1
                        } else if eof {
                            breaks += 1
                            j += 1
                        } else {
                            break scan  // need the next byte to tell CRLF from CR
                        }
                    } else {
                        j += 1
                        while j + 8 <= e {
                            let v = UnsafeRawPointer(b + j).loadUnaligned(as: UInt64.self)
                            if wordHasByte(v, 0x22) || wordHasByte(v, 0x0A) || wordHasByte(v, 0x0D) { break }
                            j += 8
                        }
                    }
                case .fieldStart, .unquoted, .quoteInQuoted:
                    if c == 0x0A || c == 0x0D {
                        var terminatorLength = 1
                        if c == 0x0D {
                            if j + 1 < e {
                                if b[j + 1] == 0x0A { terminatorLength = 2 }
                            } else if !eof {
                                break scan
                            }
                        }
                        if j - start > maxRecordBytes { throw tooLong(scanned: 0) }
                        let extent = CSVRecordExtent(lo: start, hi: j, breaks: breaks, terminated: true,
                                                     unterminatedQuote: false)
                        start = j + terminatorLength
                        return extent
                    }
                    if c == delimiter {
                        state = .fieldStart
                    } else if c == 0x22 && state == .fieldStart {
                        state = .quoted
                    } else if c == 0x22 && state == .quoteInQuoted {
                        state = .quoted  // a doubled quote
                    } else {
                        state = .unquoted
                    }
                    j += 1
                }
            }
            scanned = j - start
            if scanned > maxRecordBytes {
                var error = tooLong(scanned: 0)
                error.inQuotes = state == .quoted || state == .quoteInQuoted
                throw error
            }
            if try fill() { continue }
            if start + scanned < end { continue }  // stopped at a CR before the end was known; rescan
            if end == start { return nil }
            if end - start > maxRecordBytes { throw tooLong(scanned: 0) }
            let extent = CSVRecordExtent(lo: start, hi: end, breaks: breaks, terminated: false,
                                         unterminatedQuote: state == .quoted)
            start = end
            return extent
        }
    }
}

/// Offset of the first `byte` in `p[from..<n]`, or n.
@inline(__always) func csvFind(_ byte: UInt8, _ p: UnsafePointer<UInt8>, from: Int, _ n: Int) -> Int {
    if from >= n { return n }
    guard let hit = memchr(p + from, Int32(byte), n - from) else { return n }
    return UnsafeRawPointer(p).distance(to: UnsafeRawPointer(hit))
}

/// Splits one complete record `p[0..<n]` into fields separated by `delimiter`. Only fields with
/// `wanted[k] == true` are materialized into `fields[k]` (which must have `wanted.count` entries; others
/// are set to nil). Returns the number of fields and the index of a quoted field that is never closed, if any.
func splitCSVRecord(_ p: UnsafePointer<UInt8>, _ n: Int, wanted: [Bool], delimiter: UInt8 = 0x2C,
                    into fields: inout [[UInt8]?]) -> (count: Int, unterminatedField: Int?) {
    for k in fields.indices { fields[k] = nil }
    var j = 0
    var col = 0
    while true {
        let keep = col < wanted.count && wanted[col]
        var value: [UInt8] = []
        if j < n && p[j] == 0x22 {
            j += 1
            var run = j
            while true {
                let q = csvFind(0x22, p, from: j, n)
                if q >= n {
                    if keep {
                        value.append(contentsOf: UnsafeBufferPointer(start: p + run, count: n - run))
                        fields[col] = value
                    }
                    return (col + 1, col)
                }
                if q + 1 < n && p[q + 1] == 0x22 {
                    if keep { value.append(contentsOf: UnsafeBufferPointer(start: p + run, count: q + 1 - run)) }
                    j = q + 2
                    run = j
                    continue
                }
                if keep { value.append(contentsOf: UnsafeBufferPointer(start: p + run, count: q - run)) }
                j = q + 1
                break
            }
            if j < n && p[j] != delimiter {
                let c = csvFind(delimiter, p, from: j, n)
                if keep { value.append(contentsOf: UnsafeBufferPointer(start: p + j, count: c - j)) }
                j = c
            }
        } else {
            let c = csvFind(delimiter, p, from: j, n)
            if keep { value = Array(UnsafeBufferPointer(start: p + j, count: c - j)) }
            j = c
        }
        if keep { fields[col] = value }
        col += 1
        if j >= n { return (col, nil) }
        j += 1  // the delimiter
    }
}

/// Column layout of a CSV file, from its header row.
struct CSVLayout {
    var columnCount: Int
    var names: [String]
    /// The columns whose cells make the text (one, unless the fields are mapped), in order.
    var textColumns: [Int]
    var idColumn: Int?
    var titleColumn: Int?
    /// Per head: its column, or nil when the header lacks it.
    var headColumns: [Int?]
    /// The kept fields' columns, in order.
    var keepColumns: [Int]
    /// Per column: whether any field uses it.
    var wanted: [Bool]

    /// Builds the layout from header names (trimmed of surrounding spaces and tabs, matched
    /// case-sensitively; for a duplicated name the last column wins). A field named in the mapping, and
    /// the text column, must be in the header.
    init(headerNames raw: [String], schema: RecordSchema, fields: FieldMapping, file: String, line: Int) throws {
        names = raw.map { name in
            var s = Substring(name)
            while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
            while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
            return String(s)
        }
        columnCount = names.count
        var index: [String: Int] = [:]
        for (k, name) in names.enumerated() { index[name] = k }
        let available = names.withoutRepeats()
        func column(_ field: String, _ role: FieldRole, named: Bool) throws -> Int {
            guard let c = index[field] else {
                throw JobLabelError.fieldNotFound(MissingField(field: field, role: role, named: named, file: file, line: line,
                                                               available: available, inHeader: true))
            }
            return c
        }
        textColumns = try fields.effectiveTextFields.map { try column($0, .text, named: fields.textFields != nil) }
        idColumn = try fields.idField.map { try column($0, .id, named: true) } ?? index["id"]
        titleColumn = try fields.titleField.map { try column($0, .title, named: true) } ?? index["title"]
        headColumns = try schema.heads.map { head in
            if let field = fields.labelFields[head] { return try column(field, .label(head: head), named: true) }
            return index[head]
        }
        keepColumns = try fields.keepFields.map { try column($0, .kept, named: true) }
        wanted = Array(repeating: false, count: columnCount)
        for c in textColumns { wanted[c] = true }
        if let c = idColumn { wanted[c] = true }
        if let c = titleColumn { wanted[c] = true }
        for case let c? in headColumns { wanted[c] = true }
        for c in keepColumns { wanted[c] = true }
    }
}

extension Array where Element: Hashable {
    /// The elements in order, each once.
    func withoutRepeats() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}

/// The error for a quoted field that never closes.
func csvUnterminatedError(file: String, line: Int, field: String?) -> JobLabelError {
    .csvUnterminatedQuote(file: file, line: line, field: field)
}
