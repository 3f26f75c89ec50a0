import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

/// A directory entry that looks like an input (a visible name with an input extension) but is not read.
public struct SkippedInput: Sendable, Equatable, CustomStringConvertible {
    /// Why an entry is not read.
    public enum Reason: Sendable, Equatable {
        /// Its name is not valid UTF-8 (shown with the odd bytes as `\xHH`), so it cannot be named here.
        case nameNotUTF8
        /// A symbolic link to nothing (or a loop of links).
        case danglingLink
        /// A subdirectory: directories are not searched (no postings are lost).
        case directory
        /// A FIFO, socket or device (`kind`), which could block or never end.
        case notARegularFile(kind: String)
        /// It cannot be opened (`reason`: the system's words, e.g. "Permission denied").
        case cannotOpen(reason: String)
    }

    /// The entry's path, printable (bytes of a name that are not UTF-8 as `\xHH`).
    public var path: String
    /// Why it is not read.
    public var reason: Reason

    /// Creates a description of a skipped entry.
    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    /// True when the entry may hold postings that are now left out (everything but a subdirectory).
    public var losesData: Bool { reason != .directory }

    /// "PATH: why it is not read".
    public var description: String {
        switch reason {
        case .nameNotUTF8: return "\(path): not read: its name is not valid UTF-8; rename it"
        case .danglingLink: return "\(path): not read: a symbolic link to nothing"
        case .directory: return "\(path): not read: a directory (directories are not searched)"
        case .notARegularFile(let kind): return "\(path): not read: a \(kind), not a regular file (name it on its own to read it)"
        case .cannotOpen(let reason): return "\(path): not read: cannot open it: \(reason)"
        }
    }
}

/// Expands command-line inputs: a file keeps its format by extension (.jsonl/.ndjson/.json and names
/// without an extension -> jsonl, .csv -> csv, .tsv -> tsv, .txt -> txt; any other extension is refused);
/// a directory expands to its .txt/.jsonl/.ndjson/.csv/.tsv files (non-recursive; extensions matched
/// case-insensitively; hidden files skipped), sorted by name in byte order; "-" -> standard input as JSON Lines.
///
/// Throws `.missingInput` for a path that does not exist or a directory with no usable files, `.io` when
/// a directory cannot be listed, and `.unreadableInputs` when a directory holds entries with an input
/// extension that cannot be read (see `expandInputs(_:allowText:format:skipped:)`, which lists them instead).
public func expandInputs(_ paths: [String]) throws -> [InputSpec] {
    try expandInputs(paths, allowText: true)
}

/// As `expandInputs(_:)`; with `allowText: false` (labeled data for train and evaluate) a directory
/// contributes only its .jsonl/.ndjson/.csv/.tsv files and a .txt file given by name is refused.
/// `format`, when given, is the format of every input, whatever its extension (a directory still
/// contributes only the files with one of the extensions above).
public func expandInputs(_ paths: [String], allowText: Bool, format override: InputFormat? = nil) throws -> [InputSpec] {
    var skipped: [SkippedInput] = []
    let specs = try expandInputs(paths, allowText: allowText, format: override, skipped: &skipped)
    let lost = skipped.filter(\.losesData)
    if !lost.isEmpty { throw JobLabelError.unreadableInputs(lost) }
    return specs
}

/// As `expandInputs(_:allowText:format:)`, and the directory entries that look like inputs but are not
/// read are appended to `skipped` instead of being left out in silence: names that are not UTF-8, links to
/// nothing, FIFOs, sockets and devices (which could block or never end), files that cannot be opened, and
/// subdirectories. A directory whose only candidates are skipped throws `.unreadableInputs`.
public func expandInputs(_ paths: [String], allowText: Bool, format override: InputFormat? = nil,
                         skipped: inout [SkippedInput]) throws -> [InputSpec] {
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
        let prefix = path.hasSuffix("/") ? path : path + "/"
        var found: [(name: String, format: InputFormat)] = []
        var lost: [SkippedInput] = []
        for name in try directoryEntryNames(path) where name.first != 0x2E {  // hidden: skipped by rule
            let shown = String(decoding: name, as: UTF8.self)
            guard let format = inputFormat(forDirectoryEntry: shown), allowText || (override ?? format).hasFields else { continue }
            guard let utf8 = String(validating: name, as: UTF8.self) else {
                lost.append(SkippedInput(path: prefix + printableFileName(name), reason: .nameNotUTF8))
                continue
            }
            if let reason = unreadableEntryReason(prefix + utf8) {
                let entry = SkippedInput(path: prefix + utf8, reason: reason)
                if entry.losesData { lost.append(entry) } else { skipped.append(entry) }
                continue
            }
            found.append((utf8, format))
        }
        skipped += lost.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        if found.isEmpty {
            if !lost.isEmpty { throw JobLabelError.unreadableInputs(lost) }
            throw JobLabelError.noInputFiles(directory: path, acceptsText: allowText)
        }
        found.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        for entry in found {
            specs.append(InputSpec(path: prefix + entry.name, format: override ?? entry.format))
        }
    }
    return specs
}

/// The names in a directory as raw bytes (without "." and ".."), so names that are not UTF-8 are seen too.
func directoryEntryNames(_ path: String) throws -> [[UInt8]] {
    guard let dir = opendir(path) else {
        throw JobLabelError.io(path: path, message: "cannot list directory: \(String(cString: strerror(errno)))")
    }
    defer { closedir(dir) }
    var names: [[UInt8]] = []
    while let entry = readdir(dir) {
        let name: [UInt8] = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            return Array(bytes.prefix { $0 != 0 })
        }
        if name == [0x2E] || name == [0x2E, 0x2E] { continue }
        names.append(name)
    }
    return names
}

/// A file name for messages: UTF-8 as it is, other bytes and control characters as `\xHH`.
func printableFileName(_ name: [UInt8]) -> String {
    var out = ""
    var i = 0
    while i < name.count {
        // The longest valid UTF-8 sequence here, if any.
        var taken = false
        for length in stride(from: min(4, name.count - i), through: 1, by: -1) {
            if let s = String(validating: name[i..<(i + length)], as: UTF8.self), s.unicodeScalars.count == 1,
               let scalar = s.unicodeScalars.first, scalar.value >= 0x20, scalar.value != 0x7F {
                out += s
                i += length
                taken = true
                break
            }
        }
        if !taken {
            out += "\\x" + String(name[i], radix: 16, uppercase: true).leftPadded(to: 2)
            i += 1
        }
    }
    return out
}

extension String {
    /// The string with "0" in front up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// Why a directory entry with an input extension cannot be read, or nil when it is a regular file this
/// process may read. It is never opened here (opening a FIFO could wait forever for a writer).
func unreadableEntryReason(_ path: String) -> SkippedInput.Reason? {
    var st = stat()
    guard stat(path, &st) == 0 else {
        let err = errno
        var link = stat()
        if lstat(path, &link) == 0 && (link.st_mode & S_IFMT) == S_IFLNK && err == ENOENT { return .danglingLink }
        return .cannotOpen(reason: String(cString: strerror(err)))
    }
    switch st.st_mode & S_IFMT {
    case S_IFREG: break
    case S_IFDIR: return .directory
    case S_IFIFO: return .notARegularFile(kind: "FIFO (named pipe)")
    case S_IFSOCK: return .notARegularFile(kind: "socket")
    case S_IFCHR: return .notARegularFile(kind: "character device")
    case S_IFBLK: return .notARegularFile(kind: "block device")
    default: return .notARegularFile(kind: "special file")
    }
    if access(path, R_OK) != 0 { return .cannotOpen(reason: String(cString: strerror(errno))) }
    return nil
}
