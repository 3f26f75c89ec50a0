import Foundation
import JobLabel

/// A command-line mistake (exit 64): an unknown option, a missing or malformed value, a contradiction.
struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

/// A failure the command line words itself, with its exit code.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    var exitCode: Int32
    init(_ message: String, exitCode: Int32) {
        description = message
        self.exitCode = exitCode
    }
}

/// One option of a command: its names, the value it takes (nil: a flag), its help, and what it does to the
/// command's settings. The option tables of the commands are the only place options are declared: parsing
/// and `--help` both come from them.
struct Option<Settings> {
    /// Names, e.g. `["--top"]` or `["-h", "--help"]`.
    let names: [String]
    /// The value's name in the help (`"K"`), or nil for a flag.
    let value: String?
    /// What it does (wrapped in the help; a blank line in it starts a new paragraph).
    let help: String
    /// Applies the option (flags get an empty value).
    let apply: (inout Settings, String) throws -> Void

    /// A flag.
    static func flag(_ names: String..., help: String, _ apply: @escaping (inout Settings) throws -> Void) -> Option {
        Option(names: names, value: nil, help: help) { s, _ in try apply(&s) }
    }

    /// An option with a value.
    static func value(_ names: String..., name: String, help: String, _ apply: @escaping (inout Settings, String) throws -> Void) -> Option {
        Option(names: names, value: name, help: help, apply: apply)
    }
}

/// A titled group of options in the help ("OPTIONS", "TRAINING OPTIONS").
struct OptionGroup<Settings> {
    let title: String
    let options: [Option<Settings>]
}

/// A command: usage lines, a description, its option groups and what positional arguments do.
struct CommandSpec<Settings> {
    let name: String
    let usage: [String]
    let description: String
    let groups: [OptionGroup<Settings>]
    /// Handles a positional argument; nil: the command takes none.
    var positional: ((inout Settings, String) throws -> Void)?

    var options: [Option<Settings>] { groups.flatMap(\.options) }

    /// Parses `arguments` into `settings` (`--name value`, `--name=value`, flags, positionals; `--` ends the
    /// options). Returns false when `--help` was asked for (the help is printed).
    func parse(_ arguments: [String], into settings: inout Settings) throws -> Bool {
        var index = 0
        var onlyPositionals = false
        while index < arguments.count {
            let arg = arguments[index]
            index += 1
            if onlyPositionals || !arg.hasPrefix("-") || arg == "-" {
                guard let positional else {
                    throw UsageError("\(name): unexpected argument '\(arg)'; see 'joblabel \(name) --help'")
                }
                try positional(&settings, arg)
                continue
            }
            if arg == "--" { onlyPositionals = true; continue }
            var optionName = arg, inline: String?
            if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
                optionName = String(arg[..<eq])
                inline = String(arg[arg.index(after: eq)...])
            }
            if optionName == "-h" || optionName == "--help" {
                print(help())
                return false
            }
            guard let option = options.first(where: { $0.names.contains(optionName) }) else {
                let hint = suggestion(for: optionName, among: options.flatMap(\.names) + ["--help"]).map { "; did you mean '\($0)'?" } ?? ""
                throw UsageError("\(name): unknown option '\(arg)'\(hint) (see 'joblabel \(name) --help')")
            }
            if option.value == nil {
                if inline != nil { throw UsageError("\(optionName) takes no value") }
                try option.apply(&settings, "")
            } else {
                let value: String
                if let inline {
                    value = inline
                } else {
                    guard index < arguments.count else { throw UsageError("\(optionName) needs a value") }
                    value = arguments[index]
                    index += 1
                }
                try option.apply(&settings, value)
            }
        }
        return true
    }

    /// The help text, generated from the option table.
    func help() -> String {
        var out = "USAGE: " + usage.joined(separator: "\n       ") + "\n\n" + description + "\n"
        for group in groups where !group.options.isEmpty {
            out += "\n\(group.title):\n"
            for option in group.options {
                var left = "  " + option.names.joined(separator: ", ")
                if let value = option.value { left += " " + value }
                out += helpEntry(left, option.help)
            }
        }
        out += helpEntry("  -h, --help", "show this help")
        return out.hasSuffix("\n") ? String(out.dropLast()) : out
    }
}

/// One help entry: the option column (padded to 25) and its text wrapped at 100 columns.
func helpEntry(_ left: String, _ text: String) -> String {
    let column = 25, width = 100
    var lines: [String] = []
    for paragraph in text.components(separatedBy: "\n") {
        var line = ""
        for word in paragraph.split(separator: " ", omittingEmptySubsequences: true) {
            if !line.isEmpty && line.count + 1 + word.count > width - column {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        lines.append(line)
    }
    var out = ""
    let pad = String(repeating: " ", count: column)
    if left.count < column - 1 {
        out += left + String(repeating: " ", count: column - left.count) + (lines.first ?? "") + "\n"
        lines.removeFirst()
    } else {
        out += left + "\n"
    }
    for line in lines { out += pad + line + "\n" }
    return out
}

/// The candidate closest to `word` when it is close enough to be a likely typo (edit distance at most 2, or
/// at most a third of its length), else nil.
func suggestion(for word: String, among candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
    let w = Array(word.lowercased())
    let scored = candidates.map { ($0, distance(w, Array($0.lowercased()))) }
    guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
    let limit = max(1, min(2, w.count / 3))
    return best.1 <= limit && best.1 > 0 ? best.0 : nil
}

/// A label of `labels` that `label` is likely meant to be: the same but for letter case, else a close one.
func labelSuggestion(for label: String, among labels: [String]) -> String? {
    labels.first { $0 != label && $0.lowercased() == label.lowercased() } ?? suggestion(for: label, among: labels)
}

// MARK: Values

func parseInt(_ s: String, _ option: String, min: Int = 0) throws -> Int {
    guard let v = Int(s), v >= min else { throw UsageError("\(option) takes a whole number ≥ \(min), got '\(s)'") }
    return v
}

func parseDouble(_ s: String, _ option: String, positive: Bool = true, range: ClosedRange<Double> = 0...1e12) throws -> Double {
    guard let v = Double(s), v.isFinite, positive ? v > 0 : v >= 0, range.contains(v) else {
        throw UsageError("\(option) takes a \(positive ? "positive" : "non-negative") number in \(range.lowerBound)...\(range.upperBound), got '\(s)'")
    }
    return v
}

/// The value of an option that must be one of an enum's raw values; the error lists the choices.
func parseChoice<T: RawRepresentable & CaseIterable>(_ s: String, _ option: String, as type: T.Type) throws -> T where T.RawValue == String {
    guard let choice = T(rawValue: s) else {
        let names = T.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
        let hint = suggestion(for: s, among: T.allCases.map(\.rawValue)).map { "; did you mean '\($0)'?" } ?? ""
        throw UsageError("\(option) takes one of \(names), got '\(s)'\(hint)")
    }
    return choice
}
