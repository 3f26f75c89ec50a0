/// A hand-written JSON Lines record parser working directly on bytes (Foundation's JSON decoding is far
/// too slow for large inputs on Linux). It decodes only the fields a posting needs and validates and skips
/// everything else.

/// What a record needs to know about its fields: the label heads (also as UTF-8) and, when the fields are
/// mapped, which named field holds what.
struct RecordSchema {
    let heads: [String]
    let headBytes: [[UInt8]]
    /// nil for the standard names (`text`, `id`, `title`, a head's own name): the fast path.
    let mapped: MappedFields?

    init(heads: [String], fields: FieldMapping = FieldMapping()) {
        self.heads = heads
        self.headBytes = heads.map { Array($0.utf8) }
        self.mapped = fields.isStandard ? nil : MappedFields(heads: heads, fields: fields)
    }
}

/// The fields of a mapped schema: each distinct field name once, and which of them hold the text parts,
/// id, title, each head's label and the kept values.
final class MappedFields {
    /// Distinct field names, as strings and as UTF-8.
    var names: [String] = []
    var nameBytes: [[UInt8]] = []
    var textFields: [Int] = []
    var idField = 0
    var titleField = 0
    /// Per head, its field.
    var headFields: [Int] = []
    var keepFields: [Int] = []
    /// Per field: whether it is kept (its non-string values are then captured as JSON text).
    var isKept: [Bool] = []
    /// The fields named explicitly, which each input must have, with what they hold.
    var required: [(field: Int, role: FieldRole)] = []

    init(heads: [String], fields: FieldMapping) {
        func index(_ name: String) -> Int {
            if let k = names.firstIndex(of: name) { return k }
            names.append(name)
            nameBytes.append(Array(name.utf8))
            isKept.append(false)
            return names.count - 1
        }
        textFields = fields.effectiveTextFields.map(index)
        idField = index(fields.idField ?? "id")
        titleField = index(fields.titleField ?? "title")
        headFields = heads.map { index(fields.field(forHead: $0)) }
        keepFields = fields.keepFields.map(index)
        for k in keepFields { isKept[k] = true }
        if fields.textFields != nil { required += textFields.map { ($0, FieldRole.text) } }
        if fields.idField != nil { required.append((idField, .id)) }
        if fields.titleField != nil { required.append((titleField, .title)) }
        for (h, head) in heads.enumerated() where fields.labelFields[head] != nil {
            required.append((headFields[h], .label(head: head)))
        }
        required += keepFields.map { ($0, FieldRole.kept) }
        // Each field once, first role first.
        var seen = Set<Int>()
        required = required.filter { seen.insert($0.field).inserted }
    }

    /// The field matching `key`, if any.
    func match(_ key: UnsafeBufferPointer<UInt8>) -> Int? {
        for (k, name) in nameBytes.enumerated() where name.count == key.count && name.elementsEqual(key) { return k }
        return nil
    }
}

/// A syntax error at byte offset `offset` of the line.
struct JSONSyntaxError: Error {
    var reason: String
    var offset: Int
}

/// The value a known field had in a record.
enum JSONFieldValue {
    case absent
    case null
    case string([UInt8])
    case number(String)
    /// Any other type; carries its name ("boolean", "array", "object").
    case other(String)

    var typeName: String {
        switch self {
        case .absent: return "nothing"
        case .null: return "null"
        case .string: return "string"
        case .number: return "number"
        case .other(let name): return name
        }
    }
}

/// The synthesized id for a record without one: "<basename>:<line>", or "stdin:<line>" for "-".
func synthesizedPostingID(file: String, line: Int) -> String {
    synthesizedIDPrefix(file: file) + String(line)
}

/// What every synthesized id of `file` starts with: "<basename>:", or "stdin:" for "-".
func synthesizedIDPrefix(file: String) -> String {
    (file == "-" ? "stdin" : inputBasename(file)) + ":"
}

/// Parses one JSON Lines record (one line, without its "\n"; surrounding whitespace is allowed).
/// `file` and `line` are used for the synthesized id, the posting's location and error messages.
func parseJSONLine(_ bytes: UnsafeBufferPointer<UInt8>, heads: [String], file: String, line: Int) throws -> Posting {
    try parseJSONLine(bytes, schema: RecordSchema(heads: heads), file: file, line: line)
}

/// Convenience for tests: parses one record held in an array.
func parseJSONLine(_ bytes: [UInt8], heads: [String], file: String = "test.jsonl", line: Int = 1) throws -> Posting {
    try bytes.withUnsafeBufferPointer { try parseJSONLine($0, heads: heads, file: file, line: line) }
}

/// Parses one record with a prepared schema (the hot path used by `PostingReader`).
func parseJSONLine(_ bytes: UnsafeBufferPointer<UInt8>, schema: RecordSchema, file: String, line: Int) throws -> Posting {
    // A non-nil pointer even for an empty line, so the parser never needs optionals.
    var empty: UInt8 = 0
    return try withUnsafePointer(to: &empty) { emptyPointer -> Posting in
        var parser = JSONLineParser(p: bytes.baseAddress ?? emptyPointer, n: bytes.count)
        var record = schema.mapped.map(JSONRecordFields.init(mapped:)) ?? JSONRecordFields(headCount: schema.heads.count)
        do {
            try parser.parseRecord(schema: schema, into: &record)
        } catch let e as JSONSyntaxError {
            throw JobLabelError.badRecord(.notJSON(reason: e.reason, column: e.offset + 1), file: file, line: line)
        } catch let e as JSONNotObject {
            throw JobLabelError.badRecord(.notAnObject(type: e.typeName), file: file, line: line)
        }
        if let mapped = schema.mapped { return try record.mappedPosting(mapped, schema: schema, file: file, line: line) }
        return try record.posting(schema: schema, file: file, line: line)
    }
}

/// The top-level value was valid JSON but not an object.
struct JSONNotObject: Error {
    var typeName: String
}

/// The known fields of one record, as found (duplicate keys: the last one wins).
struct JSONRecordFields {
    var text = JSONFieldValue.absent
    var id = JSONFieldValue.absent
    var title = JSONFieldValue.absent
    var labels: [JSONFieldValue]
    /// A mapped schema's fields, by `MappedFields` index (empty on the standard path).
    var fields: [JSONFieldValue] = []
    /// A mapped schema's kept fields' values that are not strings, as JSON text (by field index).
    var keptJSON: [String?] = []

    init(headCount: Int) {
        labels = Array(repeating: .absent, count: headCount)
    }

    init(mapped: MappedFields) {
        labels = []
        fields = Array(repeating: .absent, count: mapped.names.count)
        keptJSON = Array(repeating: nil, count: mapped.names.count)
    }

    /// The posting of a record read with a mapped schema.
    func mappedPosting(_ m: MappedFields, schema: RecordSchema, file: String, line: Int) throws -> Posting {
        func bad(_ problem: RecordError) -> JobLabelError { .badRecord(problem, file: file, line: line) }
        // Text: the string fields joined with a blank line; at least one must be a string.
        var textBytes: [UInt8] = []
        var anyString = false
        for k in m.textFields {
            switch fields[k] {
            case .string(let b):
                anyString = true
                if b.isEmpty { continue }
                if !textBytes.isEmpty { textBytes += [0x0A, 0x0A] }
                textBytes += b
            case .absent, .null: continue
            default: throw bad(.textNotString(field: m.names[k], got: fields[k].typeName))
            }
        }
        if !anyString {
            let first = m.textFields[0]
            if m.textFields.allSatisfy({ if case .absent = fields[$0] { return true } else { return false } }) {
                throw bad(.missingText(field: m.names[first]))
            }
            let present = m.textFields.first { if case .absent = fields[$0] { return false } else { return true } } ?? first
            throw bad(.textNotString(field: m.names[present], got: fields[present].typeName))
        }
        let idString: String
        var idIsNumber = false
        switch fields[m.idField] {
        case .string(let b): idString = String(decoding: b, as: UTF8.self)
        case .number(let s): idString = s; idIsNumber = true
        case .absent, .null: idString = synthesizedPostingID(file: file, line: line)
        default: throw bad(.idNotStringOrNumber(field: m.names[m.idField], got: fields[m.idField].typeName))
        }
        var titleBytes: [UInt8] = []
        switch fields[m.titleField] {
        case .string(let b): titleBytes = b
        case .absent, .null: break
        default: throw bad(.titleNotString(field: m.names[m.titleField], got: fields[m.titleField].typeName))
        }
        var values: [String?] = []
        values.reserveCapacity(m.headFields.count)
        for k in m.headFields {
            switch fields[k] {
            case .string(let b): values.append(labelValue(b))
            case .absent, .null: values.append(nil)
            default: throw bad(.labelNotString(field: m.names[k], got: fields[k].typeName))
            }
        }
        let kept: [KeptValue] = m.keepFields.map { k in
            switch fields[k] {
            case .string(let b): return .string(String(decoding: b, as: UTF8.self))
            case .absent, .null: return .null
            case .number(let s): return .json(s)
            case .other: return keptJSON[k].map(KeptValue.json) ?? .null
            }
        }
        return Posting(id: idString, idIsNumber: idIsNumber, title: titleBytes, text: textBytes,
                       labels: values, file: file, line: line, kept: kept)
    }

    func posting(schema: RecordSchema, file: String, line: Int) throws -> Posting {
        func bad(_ problem: RecordError) -> JobLabelError { .badRecord(problem, file: file, line: line) }
        let textBytes: [UInt8]
        switch text {
        case .string(let b): textBytes = b
        case .absent: throw bad(.missingText(field: "text"))
        default: throw bad(.textNotString(field: "text", got: text.typeName))
        }
        let idString: String
        var idIsNumber = false
        switch id {
        case .string(let b): idString = String(decoding: b, as: UTF8.self)
        case .number(let s): idString = s; idIsNumber = true
        case .absent, .null: idString = synthesizedPostingID(file: file, line: line)
        default: throw bad(.idNotStringOrNumber(field: "id", got: id.typeName))
        }
        var titleBytes: [UInt8] = []
        switch title {
        case .string(let b): titleBytes = b
        case .absent, .null: break
        default: throw bad(.titleNotString(field: "title", got: title.typeName))
        }
        var values: [String?] = []
        values.reserveCapacity(labels.count)
        for (k, v) in labels.enumerated() {
            switch v {
            case .string(let b): values.append(labelValue(b))
            case .absent, .null: values.append(nil)
            default: throw bad(.labelNotString(field: schema.heads[k], got: v.typeName))
            }
        }
        return Posting(id: idString, idIsNumber: idIsNumber, title: titleBytes, text: textBytes,
                       labels: values, file: file, line: line)
    }
}

/// Cursor over one line's bytes.
struct JSONLineParser {
    let p: UnsafePointer<UInt8>
    let n: Int
    var i = 0

    init(p: UnsafePointer<UInt8>, n: Int) {
        self.p = p
        self.n = n
    }

    @inline(__always) func fail(_ reason: String, at offset: Int? = nil) -> JSONSyntaxError {
        JSONSyntaxError(reason: reason, offset: min(offset ?? i, n))
    }

    @inline(__always) mutating func skipWhitespace() {
        while i < n {
            let c = p[i]
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 } else { break }
        }
    }

    /// The next byte, or a failure at end of line.
    @inline(__always) func peek(_ what: String) throws -> UInt8 {
        if i >= n { throw fail("unexpected end of line, expected \(what)") }
        return p[i]
    }

    /// The JSON type name of the value starting with `c`.
    static func typeName(startingWith c: UInt8) -> String {
        switch c {
        case UInt8(ascii: "{"): return "object"
        case UInt8(ascii: "["): return "array"
        case UInt8(ascii: "\""): return "string"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "boolean"
        case UInt8(ascii: "n"): return "null"
        default: return "number"
        }
    }

    /// Parses the whole line: one object, optional surrounding whitespace.
    mutating func parseRecord(schema: RecordSchema, into record: inout JSONRecordFields) throws {
        skipWhitespace()
        let first = try peek("a JSON object")
        if first != UInt8(ascii: "{") {
            try skipValue()
            skipWhitespace()
            if i < n { throw fail("unexpected data after the value") }
            throw JSONNotObject(typeName: Self.typeName(startingWith: first))
        }
        i += 1
        skipWhitespace()
        if try peek("'}' or a key") == UInt8(ascii: "}") {
            i += 1
        } else {
            var keyScratch: [UInt8] = []
            while true {
                if try peek("a key") != UInt8(ascii: "\"") { throw fail("expected a string key") }
                let target = try parseKey(schema: schema, scratch: &keyScratch)
                skipWhitespace()
                if try peek("':'") != UInt8(ascii: ":") { throw fail("expected ':' after object key") }
                i += 1
                skipWhitespace()
                switch target {
                case .none:
                    try skipValue()
                case .field(let k):
                    let start = i
                    let v = try parseFieldValue()
                    record.fields[k] = v
                    if let m = schema.mapped, m.isKept[k] {
                        switch v {
                        case .other:
                            var raw: [UInt8] = []
                            appendRepairingUTF8(p + start, i - start, to: &raw)
                            record.keptJSON[k] = String(decoding: raw, as: UTF8.self)
                        default: record.keptJSON[k] = nil
                        }
                    }
                case .text:
                    record.text = try parseFieldValue()
                case .id:
                    record.id = try parseFieldValue()
                case .title:
                    record.title = try parseFieldValue()
                case .head(let k):
                    let v = try parseFieldValue()
                    record.labels[k] = v
                    // The same name listed twice among the heads gets the value twice.
                    var j = k + 1
                    while j < schema.headBytes.count {
                        if schema.headBytes[j] == schema.headBytes[k] { record.labels[j] = v }
                        j += 1
                    }
                }
                skipWhitespace()
                let c = try peek("',' or '}'")
                if c == UInt8(ascii: ",") {
                    i += 1
                    skipWhitespace()
                    continue
                }
                if c == UInt8(ascii: "}") {
                    i += 1
                    break
                }
                throw fail("expected ',' or '}' after a value")
            }
        }
        skipWhitespace()
        if i < n { throw fail("unexpected data after the object") }
    }

    enum KeyTarget {
        case none, text, id, title
        case head(Int)
        /// A field of a mapped schema.
        case field(Int)
    }

    /// Reads a key (at its opening quote) and says which known field it names.
    mutating func parseKey(schema: RecordSchema, scratch: inout [UInt8]) throws -> KeyTarget {
        let open = i
        var j = i + 1
        while j < n {
            let c = p[j]
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { break }
            j += 1
        }
        if j >= n { throw fail("unterminated string", at: open) }
        if p[j] == UInt8(ascii: "\"") {
            i = j + 1
            return Self.match(UnsafeBufferPointer(start: p + open + 1, count: j - open - 1), schema: schema)
        }
        // Escapes in the key: decode it first.
        scratch.removeAll(keepingCapacity: true)
        try decodeString(into: &scratch)
        return scratch.withUnsafeBufferPointer { Self.match($0, schema: schema) }
    }

    static func match(_ key: UnsafeBufferPointer<UInt8>, schema: RecordSchema) -> KeyTarget {
        if let mapped = schema.mapped { return mapped.match(key).map(KeyTarget.field) ?? .none }
        switch key.count {
        case 4 where key.elementsEqual("text".utf8): return .text
        case 2 where key.elementsEqual("id".utf8): return .id
        case 5 where key.elementsEqual("title".utf8): return .title
        default: break
        }
        for (k, h) in schema.headBytes.enumerated() where h.count == key.count && h.elementsEqual(key) {
            return .head(k)
        }
        return .none
    }

    /// Parses a value of a known field, keeping strings and number literals.
    mutating func parseFieldValue() throws -> JSONFieldValue {
        let c = try peek("a value")
        switch c {
        case UInt8(ascii: "\""):
            // Sized once: the decoded bytes are at most the literal's (but for ill-formed UTF-8, which grows
            // to U+FFFD), so the array is neither regrown while decoding nor left with slack.
            return .string(try decodeStringSized())
        case UInt8(ascii: "n"):
            try skipLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let s = i
            try skipNumber()
            return .number(String(decoding: UnsafeBufferPointer(start: p + s, count: i - s), as: UTF8.self))
        default:
            let name = Self.typeName(startingWith: c)
            try skipValue()
            return .other(name)
        }
    }

    /// Advances `i` past bytes that need no attention inside a string: stops at '"', '\\', a non-ASCII
    /// byte or the end. Eight bytes at a time where possible.
    @inline(__always) mutating func skipPlainStringBytes(stopAtNonASCII: Bool) {
        let highMask: UInt64 = stopAtNonASCII ? inputHighs : 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
            if v & highMask != 0 || wordHasByte(v, 0x22) || wordHasByte(v, 0x5C) { break }
            i += 8
        }
        while i < n {
            let c = p[i]
            if c == 0x22 || c == 0x5C || (stopAtNonASCII && c >= 0x80) { break }
            i += 1
        }
    }

    /// Bytes between the opening quote at `i` and the closing one (escapes included, undecoded), or the rest
    /// of the input when the string is not terminated. `i` does not move.
    func literalLength() -> Int {
        var j = i + 1
        while true {
            if j + 8 <= n {
                // The lowest quote or backslash of 8 bytes (the SWAR zero-byte test is exact for the lowest
                // match; only bytes above it can be false positives).
                let v = UnsafeRawPointer(p + j).loadUnaligned(as: UInt64.self)
                let q = v ^ 0x2222_2222_2222_2222, b = v ^ 0x5C5C_5C5C_5C5C_5C5C
                let m = ((q &- inputOnes) & ~q | (b &- inputOnes) & ~b) & inputHighs
                if m == 0 { j += 8; continue }
                j += m.trailingZeroBitCount >> 3
            } else {
                if j >= n { return n - i - 1 }
                if p[j] != 0x22 && p[j] != 0x5C { j += 1; continue }
            }
            if p[j] == 0x22 { return j - i - 1 }
            j += 2  // a backslash and the byte it escapes
        }
    }

    /// Decodes the string starting at the opening quote at `i`, appending its UTF-8 to `out`.
    /// Escapes are resolved; ill-formed UTF-8 and lone surrogates become U+FFFD; raw control characters
    /// are kept as they are (leniently).
    mutating func decodeString(into out: inout [UInt8]) throws {
        let open = i
        i += 1
        try decodeStringRest(into: &out, open: open)
    }

    /// `decodeString` into a new array sized from the literal (`literalLength`): plain runs, simple escapes
    /// and well-formed UTF-8 are written straight into it; at a `\u` escape or ill-formed UTF-8 (which may
    /// grow) the rest is decoded by appending, as `decodeString` does.
    mutating func decodeStringSized() throws -> [UInt8] {
        let open = i
        let capacity = literalLength()
        i += 1
        var rest = false
        var out = try [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            guard let dst = buffer.baseAddress else { rest = true; return }  // an empty literal
            var w = 0
            var run = i
            // Writes stay within the literal's length: runs are copied as they are, an escape of two bytes
            // writes one, and the scan stops at the closing quote, before which the literal ends.
            while true {
                skipPlainStringBytes(stopAtNonASCII: true)
                if i >= n { throw fail("unterminated string", at: open) }
                let c = p[i]
                let len = c >= 0x80 ? utf8SequenceCheck(p + i, n - i) : 0
                if len > 0 {
                    i += len  // well-formed: part of the run
                    continue
                }
                if i > run { (dst + w).initialize(from: p + run, count: i - run); w += i - run }
                run = i
                if c == 0x22 {
                    i += 1
                    break
                }
                if c == 0x5C, i + 1 < n, let b = Self.simpleEscape(p[i + 1]) {
                    dst[w] = b
                    w += 1
                    i += 2
                    run = i
                    continue
                }
                rest = true
                break
            }
            initialized = w
        }
        if rest { try decodeStringRest(into: &out, open: open) }
        return out
    }

    /// The byte a two-byte escape stands for (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`), or nil.
    @inline(__always) static func simpleEscape(_ e: UInt8) -> UInt8? {
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): return e
        case UInt8(ascii: "b"): return 0x08
        case UInt8(ascii: "f"): return 0x0C
        case UInt8(ascii: "n"): return 0x0A
        case UInt8(ascii: "r"): return 0x0D
        case UInt8(ascii: "t"): return 0x09
        default: return nil
        }
    }

    /// The body of `decodeString` from `i` (just after the opening quote at `open`) to the closing quote.
    mutating func decodeStringRest(into out: inout [UInt8], open: Int) throws {
        var run = i
        while true {
            skipPlainStringBytes(stopAtNonASCII: true)
            if i >= n { throw fail("unterminated string", at: open) }
            let c = p[i]
            if c == 0x22 {
                if i > run { out.append(contentsOf: UnsafeBufferPointer(start: p + run, count: i - run)) }
                i += 1
                return
            }
            if c == 0x5C {
                if i > run { out.append(contentsOf: UnsafeBufferPointer(start: p + run, count: i - run)) }
                try decodeEscape(into: &out)
                run = i
                continue
            }
            let len = utf8SequenceCheck(p + i, n - i)
            if len > 0 {
                i += len
            } else {
                if i > run { out.append(contentsOf: UnsafeBufferPointer(start: p + run, count: i - run)) }
                out.append(contentsOf: replacementCharacterBytes)
                i += -len
                run = i
            }
        }
    }

    /// Four hex digits at `at`, or nil.
    @inline(__always) func hex4(at: Int) -> UInt32? {
        if at + 4 > n { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = p[at + k]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    /// Decodes the escape at `i` (a backslash) and advances past it.
    mutating func decodeEscape(into out: inout [UInt8]) throws {
        if i + 1 >= n { throw fail("unterminated string") }
        let e = p[i + 1]
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            guard let cp = hex4(at: i + 2) else { throw fail("invalid \\u escape, expected four hex digits") }
            i += 6
            if cp >= 0xD800 && cp <= 0xDBFF {
                if i + 1 < n && p[i] == 0x5C && p[i + 1] == UInt8(ascii: "u"),
                   let low = hex4(at: i + 2), low >= 0xDC00 && low <= 0xDFFF {
                    i += 6
                    appendUTF8Scalar(0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00), to: &out)
                } else {
                    out.append(contentsOf: replacementCharacterBytes)  // lone high surrogate
                }
            } else if cp >= 0xDC00 && cp <= 0xDFFF {
                out.append(contentsOf: replacementCharacterBytes)  // lone low surrogate
            } else {
                appendUTF8Scalar(cp, to: &out)
            }
            return
        default:
            throw fail("invalid escape sequence '\\\(Self.printable(e))'")
        }
        i += 2
    }

    static func printable(_ c: UInt8) -> String {
        c >= 0x20 && c < 0x7F ? String(UnicodeScalar(c)) : "\\x" + String(c, radix: 16)
    }

    /// Skips a string (at its opening quote) without decoding it; escapes are checked.
    mutating func skipString() throws {
        let open = i
        i += 1
        while true {
            skipPlainStringBytes(stopAtNonASCII: false)
            if i >= n { throw fail("unterminated string", at: open) }
            if p[i] == 0x22 {
                i += 1
                return
            }
            // Backslash.
            if i + 1 >= n { throw fail("unterminated string", at: open) }
            let e = p[i + 1]
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                 UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                i += 2
            case UInt8(ascii: "u"):
                if hex4(at: i + 2) == nil { throw fail("invalid \\u escape, expected four hex digits") }
                i += 6
            default:
                throw fail("invalid escape sequence '\\\(Self.printable(e))'")
            }
        }
    }

    @inline(__always) func isDigit(_ k: Int) -> Bool {
        k < n && p[k] >= UInt8(ascii: "0") && p[k] <= UInt8(ascii: "9")
    }

    /// Skips a number, checking the JSON grammar.
    mutating func skipNumber() throws {
        let s = i
        if p[i] == UInt8(ascii: "-") { i += 1 }
        if i < n && p[i] == UInt8(ascii: "0") {
            i += 1
        } else if isDigit(i) {
            while isDigit(i) { i += 1 }
        } else {
            throw fail("invalid number", at: s)
        }
        if i < n && p[i] == UInt8(ascii: ".") {
            i += 1
            if !isDigit(i) { throw fail("invalid number, expected a digit after '.'") }
            while isDigit(i) { i += 1 }
        }
        if i < n && (p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E")) {
            i += 1
            if i < n && (p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-")) { i += 1 }
            if !isDigit(i) { throw fail("invalid number, expected a digit in the exponent") }
            while isDigit(i) { i += 1 }
        }
    }

    mutating func skipLiteral(_ word: StaticString) throws {
        let len = word.utf8CodeUnitCount
        let w = word.utf8Start
        var k = 0
        while k < len {
            if i + k >= n || p[i + k] != w[k] {
                throw fail(k == 0 ? "unexpected character '\(Self.printable(p[i]))'" : "invalid literal, expected '\(word)'")
            }
            k += 1
        }
        i += len
    }

    /// Skips any one value (at `i`), including nested objects and arrays, without recursion.
    mutating func skipValue() throws {
        // Open containers: true = object, false = array.
        var stack: [Bool] = []
        while true {
            // Parse the start of a value.
            skipWhitespace()
            let c = try peek("a value")
            switch c {
            case UInt8(ascii: "{"):
                i += 1
                skipWhitespace()
                if try peek("'}' or a key") == UInt8(ascii: "}") {
                    i += 1
                } else {
                    stack.append(true)
                    try skipKeyAndColon()
                    continue
                }
            case UInt8(ascii: "["):
                i += 1
                skipWhitespace()
                if try peek("']' or a value") == UInt8(ascii: "]") {
                    i += 1
                } else {
                    stack.append(false)
                    continue
                }
            case UInt8(ascii: "\""): try skipString()
            case UInt8(ascii: "t"): try skipLiteral("true")
            case UInt8(ascii: "f"): try skipLiteral("false")
            case UInt8(ascii: "n"): try skipLiteral("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try skipNumber()
            default:
                throw fail("unexpected character '\(Self.printable(c))'")
            }
            // After a complete value: close containers or move to the next element.
            while true {
                guard let isObject = stack.last else { return }
                skipWhitespace()
                let d = try peek(isObject ? "',' or '}'" : "',' or ']'")
                if d == UInt8(ascii: ",") {
                    i += 1
                    if isObject {
                        skipWhitespace()
                        try skipKeyAndColon()
                    }
                    break  // parse the next value
                }
                if d == UInt8(ascii: isObject ? "}" : "]") {
                    i += 1
                    stack.removeLast()
                    continue
                }
                throw fail(isObject ? "expected ',' or '}' after a value" : "expected ',' or ']' after a value")
            }
        }
    }

    /// Skips `"key" :` inside an object being skipped.
    mutating func skipKeyAndColon() throws {
        if try peek("a key") != UInt8(ascii: "\"") { throw fail("expected a string key") }
        try skipString()
        skipWhitespace()
        if try peek("':'") != UInt8(ascii: ":") { throw fail("expected ':' after object key") }
        i += 1
    }
}

/// A label as read from a record, without surrounding spaces, tabs and line breaks (" sales " is "sales");
/// empty or whitespace-only means "no label" (in JSON Lines and CSV alike). Case is kept: "Sales" and
/// "sales" are different labels (train warns about such pairs).
func labelValue(_ bytes: [UInt8]) -> String? {
    let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
    guard let first = bytes.firstIndex(where: { !isSpace($0) }),
          let last = bytes.lastIndex(where: { !isSpace($0) }) else { return nil }
    return String(decoding: bytes[first...last], as: UTF8.self)
}

/// The keys of a line holding one JSON object, in order and each once, or nil when the line is not a JSON
/// object (for messages about a missing field: the fields a record has).
func jsonObjectKeys(_ bytes: UnsafeBufferPointer<UInt8>) -> [String]? {
    guard let base = bytes.baseAddress else { return nil }
    var parser = JSONLineParser(p: base, n: bytes.count)
    var keys: [String] = []
    do {
        parser.skipWhitespace()
        guard try parser.peek("a JSON object") == UInt8(ascii: "{") else { return nil }
        parser.i += 1
        parser.skipWhitespace()
        if try parser.peek("'}' or a key") == UInt8(ascii: "}") {
            parser.i += 1
        } else {
            while true {
                guard try parser.peek("a key") == UInt8(ascii: "\"") else { return nil }
                var key: [UInt8] = []
                try parser.decodeString(into: &key)
                let name = String(decoding: key, as: UTF8.self)
                if !keys.contains(name) { keys.append(name) }
                parser.skipWhitespace()
                guard try parser.peek("':'") == UInt8(ascii: ":") else { return nil }
                parser.i += 1
                try parser.skipValue()
                parser.skipWhitespace()
                let c = try parser.peek("',' or '}'")
                parser.i += 1
                if c == UInt8(ascii: "}") { break }
                guard c == UInt8(ascii: ",") else { return nil }
                parser.skipWhitespace()
            }
        }
        parser.skipWhitespace()
        return parser.i < parser.n ? nil : keys
    } catch {
        return nil
    }
}
