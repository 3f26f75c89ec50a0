/// Which fields of a record hold a posting's parts, for inputs whose field names are not joblabel's own.
///
/// Without a mapping (every property nil or empty, `FieldMapping()`), a record's `text`, `title` and `id`
/// fields and one field per head, named as the head, are read: the readers' fast path. A field named here
/// must exist in each input: as a column of a CSV/TSV header, or as a key of a JSON Lines input's first
/// record (its value may be null); otherwise the input is refused with `JobLabelError.fieldNotFound`,
/// which lists the fields it has. Field names are matched exactly (case-sensitively).
public struct FieldMapping: Sendable, Equatable {
    /// The fields whose strings make the body, in this order, joined with a blank line ("\n\n"); empty or
    /// missing ones are left out. nil: `text`.
    public var textFields: [String]?
    /// The field holding the title; nil: `title` (optional).
    public var titleField: String?
    /// The field holding the id; nil: `id` (optional).
    public var idField: String?
    /// Per head, the field its label is read from; a head not listed reads the field of its own name.
    public var labelFields: [String: String]
    /// Fields copied, as they are, into each posting's `kept` values (for output beside the labels).
    public var keepFields: [String]

    /// A mapping; the defaults read joblabel's own field names.
    public init(textFields: [String]? = nil, titleField: String? = nil, idField: String? = nil,
                labelFields: [String: String] = [:], keepFields: [String] = []) {
        self.textFields = textFields
        self.titleField = titleField
        self.idField = idField
        self.labelFields = labelFields
        self.keepFields = keepFields
    }

    /// True when nothing is mapped: the standard field names, nothing kept.
    public var isStandard: Bool {
        textFields == nil && titleField == nil && idField == nil && labelFields.isEmpty && keepFields.isEmpty
    }

    /// The field a head's label is read from.
    public func field(forHead head: String) -> String { labelFields[head] ?? head }

    /// The text fields (`text` by default).
    var effectiveTextFields: [String] { textFields ?? ["text"] }
}

/// The part of a posting a field holds (for messages).
public enum FieldRole: Sendable, Equatable, CustomStringConvertible {
    case text
    case title
    case id
    /// The label of a head.
    case label(head: String)
    /// A field copied to the output.
    case kept

    public var description: String {
        switch self {
        case .text: return "the text"
        case .title: return "the title"
        case .id: return "the id"
        case .label(let head): return "the label of head '\(head)'"
        case .kept: return "a field to keep"
        }
    }
}

/// Whether the first line of a `.txt` posting may be its title (see `splitTextTitle`).
public enum TextTitles: String, Sendable, CaseIterable {
    /// A first line that looks like a title is the title; the rest is the text.
    case detect
    /// The whole file is the text; no title.
    case none
}

/// How inputs are read, beyond their format: field names, the CSV separator, `.txt` titles.
public struct ReadOptions: Sendable, Equatable {
    /// Which fields hold the parts of a posting.
    public var fields: FieldMapping
    /// The field separator of CSV and TSV inputs (nil: ',' for CSV, a tab for TSV).
    public var delimiter: UInt8?
    /// Whether a `.txt` posting's first line may be its title.
    public var textTitles: TextTitles
    /// The longest record read (a JSON Lines or plain line, a CSV record, a whole `.txt` file), in bytes;
    /// a longer one is `RecordError.tooLong` and ends its input. The reader's memory stays in proportion.
    public var maxRecordBytes: Int

    /// Options; the defaults read joblabel's own fields, detect `.txt` titles and accept records of up to
    /// `defaultMaxRecordBytes` (64 MiB).
    public init(fields: FieldMapping = FieldMapping(), delimiter: UInt8? = nil, textTitles: TextTitles = .detect,
                maxRecordBytes: Int = defaultMaxRecordBytes) {
        self.fields = fields
        self.delimiter = delimiter
        self.textTitles = textTitles
        self.maxRecordBytes = maxRecordBytes
    }
}

/// A value copied from an input field into a posting (`FieldMapping.keepFields`).
public enum KeptValue: Sendable, Equatable {
    /// The field was absent, null, or the input has no fields (plain text).
    case null
    /// A string (a JSON string, or any CSV cell), as valid UTF-8.
    case string(String)
    /// Any other JSON value (number, boolean, array, object) as its JSON text.
    case json(String)

    /// The value as text: the string itself, the JSON text, or "" for null.
    public var text: String {
        switch self {
        case .null: return ""
        case .string(let s), .json(let s): return s
        }
    }
}

// MARK: Titles of text files

/// The most words and characters a first line without a marker may have to count as a title.
let textTitleMaxWords = 12
let textTitleMaxCharacters = 100
/// The most characters of a marked title ("Title: ...", "# ...").
let markedTextTitleMaxCharacters = 200

/// Splits a `.txt` posting into title and text when its first non-blank line looks like a title:
///
/// - "Job Title: X" or "Title: X" (any letter case) or a Markdown heading "# X" (one to six '#' and a
///   space): the title is X (at most 200 characters);
/// - otherwise a short line: at most 12 words and 100 characters, with a letter in it, not ending in
///   '.', '!', '?', ':', ';' or ',' (a sentence or a lead-in, not a title).
///
/// The text is what follows that line, without leading blank lines. A file whose first line is all there
/// is (no text after it) has no title. Returns nil when the first line is not a title.
func splitTextTitle(_ bytes: [UInt8]) -> (title: [UInt8], text: [UInt8])? {
    func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0A || c == 0x0B || c == 0x0C }
    var i = 0
    while i < bytes.count && isSpace(bytes[i]) { i += 1 }  // leading blank lines (and the line's indentation)
    guard i < bytes.count else { return nil }
    var end = i
    while end < bytes.count && bytes[end] != 0x0A { end += 1 }
    var rest = end
    while rest < bytes.count && isSpace(bytes[rest]) { rest += 1 }
    guard rest < bytes.count else { return nil }  // nothing after the first line
    var lineEnd = end
    while lineEnd > i && isSpace(bytes[lineEnd - 1]) { lineEnd -= 1 }
    let line = String(decoding: bytes[i..<lineEnd], as: UTF8.self)
    guard let title = textTitle(ofFirstLine: line) else { return nil }
    return (Array(title.utf8), Array(bytes[rest...]))
}

/// The title a first line (trimmed) stands for, or nil when it does not look like a title.
func textTitle(ofFirstLine line: String) -> String? {
    func trimmed(_ s: Substring) -> String {
        var t = s
        while let f = t.first, f == " " || f == "\t" { t = t.dropFirst() }
        while let l = t.last, l == " " || l == "\t" { t = t.dropLast() }
        return String(t)
    }
    func marked(_ s: String) -> String? {
        s.isEmpty || s.count > markedTextTitleMaxCharacters ? nil : s
    }
    let lower = line.lowercased()
    for marker in ["job title:", "title:"] where lower.hasPrefix(marker) {
        // The marker is ASCII, so its length in characters is the same in `line`.
        return marked(trimmed(line.dropFirst(marker.count)))
    }
    if line.hasPrefix("#") {
        let hashes = line.prefix { $0 == "#" }.count
        let after = line.dropFirst(hashes)
        guard hashes <= 6, let space = after.first, space == " " || space == "\t" else { return nil }
        return marked(trimmed(after))
    }
    guard line.count <= textTitleMaxCharacters,
          line.split(whereSeparator: { $0 == " " || $0 == "\t" }).count <= textTitleMaxWords,
          line.contains(where: { $0.isLetter }),
          let last = line.last, !".!?:;,".contains(last) else { return nil }
    return line
}
