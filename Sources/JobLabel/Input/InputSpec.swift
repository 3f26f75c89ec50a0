import Foundation

/// The format of one input.
public enum InputFormat: String, Sendable, CaseIterable {
    /// JSON Lines: one JSON object per line.
    case jsonl
    /// RFC 4180 CSV with a header row.
    case csv
    /// CSV with tabs between the fields (quotes as in CSV).
    case tsv
    /// Plain text: the whole file is one posting.
    case txt
    /// Plain text, one posting per line (id: the line number).
    case lines

    /// True for the formats that carry fields (labels, ids): JSON Lines, CSV and TSV.
    public var hasFields: Bool { self == .jsonl || self == .csv || self == .tsv }
}

/// One input to read: a path ("-" = standard input) and its format.
public struct InputSpec: Sendable, Equatable {
    /// The path as given on the command line; "-" means standard input.
    public var path: String
    /// How the input is parsed.
    public var format: InputFormat

    /// Creates a spec.
    public init(path: String, format: InputFormat) {
        self.path = path
        self.format = format
    }
}

/// The lowercased extension of a file name ("" when there is none).
func inputFileExtension(_ name: String) -> String {
    let base = inputBasename(name)
    guard let dot = base.lastIndex(of: "."), dot != base.startIndex else { return "" }
    return String(base[base.index(after: dot)...]).lowercased()
}

/// The last path component ("a/b/c.jsonl" -> "c.jsonl"); trailing slashes are ignored.
func inputBasename(_ path: String) -> String {
    var s = Substring(path)
    while s.count > 1 && s.hasSuffix("/") { s = s.dropLast() }
    if let slash = s.lastIndex(of: "/"), s.index(after: slash) != s.endIndex {
        return String(s[s.index(after: slash)...])
    }
    return String(s)
}

/// The format of an explicitly named file, by extension: .jsonl/.ndjson/.json and names without an
/// extension (pipes such as /dev/fd/63) are JSON Lines; any other extension is refused.
func inputFormat(forFile path: String) throws -> InputFormat {
    switch inputFileExtension(path) {
    case "csv": return .csv
    case "tsv": return .tsv
    case "txt": return .txt
    case "jsonl", "ndjson", "json", "": return .jsonl
    case let other:
        throw JobLabelError.unknownInputType(path: path, extension: other)
    }
}

/// The format of a file found inside a directory, or nil when the file is not an input.
func inputFormat(forDirectoryEntry name: String) -> InputFormat? {
    switch inputFileExtension(name) {
    case "jsonl", "ndjson": return .jsonl
    case "csv": return .csv
    case "tsv": return .tsv
    case "txt": return .txt
    default: return nil
    }
}

/// Expands command-line inputs: a file keeps its format by extension (.jsonl/.ndjson/.json and names
/// without an extension -> jsonl, .csv -> csv, .tsv -> tsv, .txt -> txt; any other extension is refused);
/// a directory expands to its .txt/.jsonl/.ndjson/.csv/.tsv files (non-recursive; extensions matched
/// case-insensitively; hidden files and subdirectories skipped), sorted by name in byte order; "-" ->
/// standard input as JSON Lines.
///
/// Throws `.missingInput` for a path that does not exist or a directory with no usable files, and
/// `.io` when a directory cannot be listed.
public func expandInputs(_ paths: [String]) throws -> [InputSpec] {
    try expandInputs(paths, allowText: true)
}

/// As `expandInputs(_:)`; with `allowText: false` (labeled data for train and evaluate) a directory
/// contributes only its .jsonl/.ndjson/.csv/.tsv files and a .txt file given by name is refused.
/// `format`, when given, is the format of every input, whatever its extension (a directory still
/// contributes only the files with one of the extensions above).
public func expandInputs(_ paths: [String], allowText: Bool, format override: InputFormat? = nil) throws -> [InputSpec] {
    let fm = FileManager.default
    var specs: [InputSpec] = []
    for path in paths {
        if path == "-" {
            specs.append(InputSpec(path: "-", format: override ?? .jsonl))
            continue
        }
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw JobLabelError.inputNotFound(path: path)
        }
        guard isDirectory.boolValue else {
            let format = try override ?? inputFormat(forFile: path)
            if !format.hasFields && !allowText {
                throw JobLabelError.textFileHasNoLabels(path: path)
            }
            specs.append(InputSpec(path: path, format: format))
            continue
        }
        let names: [String]
        do {
            names = try fm.contentsOfDirectory(atPath: path)
        } catch {
            throw JobLabelError.io(path: path, message: "cannot list directory: \(error.localizedDescription)")
        }
        let prefix = path.hasSuffix("/") ? path : path + "/"
        var found: [(name: String, format: InputFormat)] = []
        for name in names where !name.hasPrefix(".") {
            guard let format = inputFormat(forDirectoryEntry: name), allowText || (override ?? format).hasFields else { continue }
            var entryIsDirectory: ObjCBool = false
            guard fm.fileExists(atPath: prefix + name, isDirectory: &entryIsDirectory),
                  !entryIsDirectory.boolValue else { continue }
            found.append((name, format))
        }
        if found.isEmpty {
            throw JobLabelError.noInputFiles(directory: path, acceptsText: allowText)
        }
        found.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        for entry in found {
            specs.append(InputSpec(path: prefix + entry.name, format: override ?? entry.format))
        }
    }
    return specs
}

