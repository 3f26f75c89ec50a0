import Foundation

/// Renames labels as they are read, per head: a board's own scale ("Mid-Senior level", "experienced") onto
/// a model's labels ("mid-senior"). Stored as JSON, one object per head:
///
///     {"seniority": {"Mid-Senior level": "mid-senior", "Entry level": "entry", "Not Applicable": null}}
///
/// A label is looked up exactly as read (after the readers' trimming of surrounding spaces; letter case
/// counts). A label mapped to null means "no label" for that head. A label the map lacks is kept as it is,
/// and `apply` reports it. Heads the map does not name are left alone.
public struct LabelMap: Sendable, Equatable {
    /// Per head: label as read -> label to use (nil: no label).
    public var heads: [String: [String: String?]]

    /// A map from per-head dictionaries.
    public init(heads: [String: [String: String?]]) {
        self.heads = heads
    }

    /// Reads a label map file (`.inputNotFound`, `.io`, or `.labelMapInvalid` naming what is wrong).
    public static func load(_ path: String) throws -> LabelMap {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw JobLabelError.inputNotFound(path: path)
        }
        if isDirectory.boolValue { throw JobLabelError.io(path: path, message: "is a directory, expected a JSON file") }
        return try parse(try readWholeInput(path), path: path)
    }

    /// Parses the JSON of a label map; `path` names it in errors.
    public static func parse(_ bytes: [UInt8], path: String) throws -> LabelMap {
        func invalid(_ problem: String) -> JobLabelError { .labelMapInvalid(path: path, problem: problem) }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            throw invalid("not valid JSON; write one object per head, e.g. {\"seniority\": {\"Mid-Senior level\": \"mid-senior\"}}")
        }
        guard let top = json as? [String: Any] else {
            throw invalid("expected a JSON object of heads, e.g. {\"seniority\": {\"Mid-Senior level\": \"mid-senior\"}}")
        }
        var heads: [String: [String: String?]] = [:]
        for (head, value) in top {
            guard let entries = value as? [String: Any] else {
                throw invalid("head '\(head)': expected an object of labels, e.g. {\"Mid-Senior level\": \"mid-senior\"}")
            }
            var map: [String: String?] = [:]
            for (from, to) in entries {
                if to is NSNull {
                    map[from] = .some(nil)
                } else if let label = to as? String, let trimmed = labelValue(Array(label.utf8)) {
                    map[from] = trimmed
                } else if let label = to as? String, label.allSatisfy(\.isWhitespace) {
                    map[from] = .some(nil)
                } else {
                    throw invalid("head '\(head)', label '\(from)': the new label must be a string or null")
                }
            }
            heads[head] = map
        }
        return LabelMap(heads: heads)
    }

    /// Throws `.labelMapUnknownHead` when the map names a head that is not in `heads`.
    public func check(heads known: [String], path: String) throws {
        if let unknown = heads.keys.sorted().first(where: { !known.contains($0) }) {
            throw JobLabelError.labelMapUnknownHead(path: path, head: unknown, known: known)
        }
    }

    /// The labels a head's map produces (its values, without null), sorted.
    public func targets(head: String) -> [String] {
        Array(Set((heads[head] ?? [:]).values.compactMap { $0 })).sorted()
    }

    /// Renames the labels of `postings` (whose `labels` follow `heads`); returns, per mapped head, the
    /// labels that the map lacks and were kept as read (none: the head is not listed).
    public func apply(to postings: inout [Posting], heads names: [String]) -> [UnmappedLabels] {
        var report: [UnmappedLabels] = []
        for (h, head) in names.enumerated() {
            guard let map = heads[head] else { continue }
            var unmapped: [String: Int] = [:]
            for i in postings.indices where h < postings[i].labels.count {
                guard let label = postings[i].labels[h] else { continue }
                if let mapped = map[label] {
                    postings[i].labels[h] = mapped
                } else {
                    unmapped[label, default: 0] += 1
                }
            }
            if !unmapped.isEmpty {
                let labels = unmapped.map { LabelCount(label: $0.key, rows: $0.value) }
                    .sorted { $0.rows != $1.rows ? $0.rows > $1.rows : $0.label < $1.label }
                report.append(UnmappedLabels(head: head, labels: labels))
            }
        }
        return report
    }
}

/// Labels of one head that a label map did not rename (most rows first).
public struct UnmappedLabels: Sendable, Equatable {
    public var head: String
    public var labels: [LabelCount]
}

/// A label and how many rows have it.
public struct LabelCount: Sendable, Equatable {
    public var label: String
    public var rows: Int
}
