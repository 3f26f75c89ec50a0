import Foundation
import JobLabel

/// How `train`, `classify` and `evaluate` read their inputs: which fields hold what, the input format and
/// CSV separator, `.txt` titles, and (train, evaluate) a label map.
struct InputSettings {
    var fields = FieldMapping()
    /// Every input's format, whatever its extension (nil: by extension).
    var format: InputFormat?
    var delimiter: UInt8?
    var textTitles = TextTitles.detect
    /// A label map file (train, evaluate).
    var labelMap: String?
    /// The longest record read (`--max-record-bytes`).
    var maxRecordBytes = defaultMaxRecordBytes

    /// The library's read options, with the heads' label fields from `--labels HEAD=FIELD`.
    func readOptions(labelFields: [String: String] = [:]) -> ReadOptions {
        var mapping = fields
        mapping.labelFields = labelFields
        return ReadOptions(fields: mapping, delimiter: delimiter, textTitles: textTitles, maxRecordBytes: maxRecordBytes)
    }

    /// Which command the options are for: labeled data (train, evaluate) or postings to label (classify).
    enum Use { case labeled, classify }

    /// The input options for a command whose settings hold these at `path`.
    static func options<S>(_ path: WritableKeyPath<S, InputSettings>, for use: Use) -> [Option<S>] {
        func value(_ name: String, _ valueName: String, _ help: String,
                   _ apply: @escaping (inout InputSettings, String) throws -> Void) -> Option<S> {
            Option(names: [name], value: valueName, help: help) { s, v in try apply(&s[keyPath: path], v) }
        }
        let formats: [InputFormat] = use == .classify ? InputFormat.allCases : InputFormat.allCases.filter(\.hasFields)
        var list: [Option<S>] = [
            value("--text-field", "F[,F...]", "the field(s) holding the posting's text (default: text); several are joined with a blank line") { s, v in
                s.fields.textFields = try fieldList(v, "--text-field")
            },
            value("--title-field", "F", "the field holding the title (default: title)") { s, v in
                s.fields.titleField = try fieldList(v, "--title-field", single: true)[0]
            },
            value("--id-field", "F", "the field holding the id (default: id)") { s, v in
                s.fields.idField = try fieldList(v, "--id-field", single: true)[0]
            },
        ]
        if use == .classify {
            list.append(value("--keep", "F[,F...]", "copy these input fields into each output record (JSON Lines: keys after \"id\"; CSV: columns after id; text: F=value)") { s, v in
                s.fields.keepFields = try fieldList(v, "--keep")
            })
        }
        list += [
            value("--input-format", "FMT", "read every input as " + formats.dropLast().map { "'\($0.rawValue)'" }.joined(separator: ", ")
                  + " or '\(formats.last!.rawValue)', whatever its extension (default: by extension; '-' is jsonl)"
                  + (use == .classify ? "; 'lines': one posting per line, its id the line number" : "")) { s, v in
                let format = try parseChoice(v, "--input-format", as: InputFormat.self)
                guard formats.contains(format) else {
                    throw UsageError("--input-format \(v): plain text has no labels; labeled data is jsonl, csv or tsv")
                }
                s.format = format
            },
            value("--max-record-bytes", "N", "the longest record read, in bytes (K, M, G: KiB, MiB, GiB; default 64M): a JSON Lines or plain line, a CSV record, a whole .txt file; a longer one is reported with its file and line, and the rest of that input is not read") { s, v in
                s.maxRecordBytes = try parseByteCount(v, "--max-record-bytes")
            },
            value("--delimiter", "C", "the field separator of CSV inputs: one ASCII character, or 'tab' (default: ',' for .csv, tab for .tsv)") { s, v in
                s.delimiter = try parseDelimiter(v)
            },
        ]
        if use == .classify {
            list.append(value("--txt-title", "MODE", "'detect' (default): a .txt posting's first line is its title when it looks like one (\"Title: X\", \"# X\", or a short line without a final period; see docs/cli.md); 'none': the whole file is the text") { s, v in
                s.textTitles = try parseChoice(v, "--txt-title", as: TextTitles.self)
            })
        } else {
            list.append(value("--label-map", "FILE", "JSON {\"HEAD\": {\"their label\": \"our label\", ...}, ...}: labels are renamed as read (null: no label); labels the map lacks are kept and listed on stderr") { s, v in
                s.labelMap = v
            })
        }
        return list
    }

    /// Comma-separated field names, each non-empty.
    static func fieldList(_ value: String, _ option: String, single: Bool = false) throws -> [String] {
        let names = value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty, !names.contains(where: \.isEmpty) else {
            throw UsageError("\(option) takes \(single ? "a field name" : "comma-separated field names"), got '\(value)'")
        }
        guard !single || names.count == 1 else { throw UsageError("\(option) takes one field name, got '\(value)'") }
        return names
    }

    /// A size in bytes: a whole number, optionally followed by K, M, G or T (KiB ... TiB); at least 1, at most 1T.
    static func parseByteCount(_ value: String, _ option: String) throws -> Int {
        var digits = Substring(value)
        var unit = 1
        if let last = digits.last?.uppercased(), let scale = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40][last] {
            unit = scale
            digits = digits.dropLast()
        }
        guard let n = Int(digits), n >= 1, n <= (1 << 40) / unit else {
            throw UsageError("\(option) takes a number of bytes from 1 to 1T, optionally with K, M, G or T (e.g. 256M), got '\(value)'")
        }
        return n * unit
    }

    /// `--delimiter`: one ASCII character other than a quote or a line break, or 'tab' / '\t'.
    static func parseDelimiter(_ value: String) throws -> UInt8 {
        if value == "tab" || value == "\\t" || value == "\t" { return 0x09 }
        guard value.utf8.count == 1, let c = value.utf8.first, c >= 0x20, c < 0x7F, c != 0x22 else {
            throw UsageError("--delimiter takes one ASCII character other than '\"' (e.g. ';' or '|'), or 'tab', got '\(value)'")
        }
        return c
    }
}

/// Reads the label map named by `--label-map` and checks it against the heads read; nil without one.
func loadLabelMap(_ path: String?, heads: [String]) throws -> LabelMap? {
    guard let path else { return nil }
    let map = try LabelMap.load(path)
    try map.check(heads: heads, path: path)
    return map
}

/// Applies a label map to labeled postings, and lists on stderr the labels it did not map.
func applyLabelMap(_ map: LabelMap?, to postings: inout [Posting], heads: [String]) {
    guard let map else { return }
    for unmapped in map.apply(to: &postings, heads: heads) {
        let shown = unmapped.labels.prefix(10).map { "'\($0.label)' (\($0.rows) row\($0.rows == 1 ? "" : "s"))" }.joined(separator: ", ")
        let more = unmapped.labels.count > 10 ? ", and \(unmapped.labels.count - 10) more" : ""
        printError("note: label map: head '\(unmapped.head)': \(unmapped.labels.count) label\(unmapped.labels.count == 1 ? " is" : "s are") not in the map and kept as read: \(shown)\(more)")
    }
}

/// Expands the inputs of a command, naming on stderr every directory entry that looks like an input but
/// is not read (nothing is left out in silence). Returns the inputs and the entries that may hold postings.
/// With `refuse` (train and evaluate without --skip-bad), such entries stop the command (exit 66): what
/// is left would be part of the data.
func expandInputsReporting(_ paths: [String], allowText: Bool, format: InputFormat?, refuse: Bool,
                           otherwise: String = "leave them out with --skip-bad") throws
    -> (specs: [InputSpec], unread: [SkippedInput]) {
    var skipped: [SkippedInput] = []
    let specs: [InputSpec]
    do {
        specs = try expandInputs(paths, allowText: allowText, format: format, skipped: &skipped)
    } catch JobLabelError.unreadableInputs(let entries) {
        // A directory whose every input is unreadable: each is named, as below.
        for entry in skipped { printError((entry.losesData ? "joblabel: " : "note: ") + entry.description) }
        throw CommandFailure("\(entries.count) input file\(entries.count == 1 ? "" : "s") cannot be read (listed above) and there is nothing else to read", exitCode: 66)
    }
    let unread = skipped.filter(\.losesData)
    for entry in skipped {
        printError((entry.losesData ? "joblabel: " : "note: ") + entry.description)
    }
    if refuse && !unread.isEmpty {
        throw CommandFailure("\(unread.count) input file\(unread.count == 1 ? "" : "s") cannot be read (listed above); the rest would be only part of the data: fix or move \(unread.count == 1 ? "it" : "them"), or \(otherwise)", exitCode: 66)
    }
    return (specs, unread)
}
