/// A malformed record: the reader consumed it and can go on with the next one.
struct BadRecord: Error {
    var error: JobLabelError
}

/// Malformed records that were skipped (`--skip-bad`, or classify's report-and-continue), by problem.
public struct SkippedRecords: Sendable, Equatable {
    /// How many records were skipped.
    public private(set) var count = 0
    /// Skipped records per short problem name ("not JSON", "text not a string", ...).
    public private(set) var byProblem: [String: Int] = [:]

    /// Creates an empty tally.
    public init() {}

    /// Counts one skipped record.
    public mutating func add(_ error: JobLabelError) {
        count += 1
        byProblem[Self.problem(of: error), default: 0] += 1
    }

    /// "skipped 3 records: 2 text not a string, 1 not JSON" (most frequent problem first), or nil when none.
    public var summary: String? {
        guard count > 0 else { return nil }
        return "skipped \(count) record\(count == 1 ? "" : "s"): " + breakdown
    }

    /// "2 text not a string, 1 not JSON": the count per problem, most frequent first.
    public var breakdown: String {
        byProblem.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.value) \($0.key)" }.joined(separator: ", ")
    }

    /// A short name for what is wrong with a record.
    static func problem(of error: JobLabelError) -> String {
        guard case .badData(_, _, let field, let message) = error else { return "unreadable" }
        switch field {
        case nil:
            if message.hasPrefix("not valid JSON") { return "not JSON" }
            if message.hasPrefix("expected a JSON object") { return "not a JSON object" }
            if message.hasPrefix("row has") { return "wrong number of CSV fields" }
            return "malformed"
        case "text"?:
            return message.hasPrefix("missing") ? "text missing" : "text not a string"
        case "id"?: return "id not a string or number"
        case "title"?: return "title not a string"
        default: return "label not a string"
        }
    }
}

/// Reads every posting of every spec, in order. With `skipBad`, malformed records are left out and
/// tallied (each is passed to `report`); without it the first one is thrown.
public func readAllPostings(_ specs: [InputSpec], heads: [String], skipBad: Bool,
                            report: (JobLabelError) -> Void = { _ in }) throws -> (postings: [Posting], skipped: SkippedRecords) {
    var all: [Posting] = []
    var skipped = SkippedRecords()
    for spec in specs {
        let reader = try PostingReader(spec, heads: heads)
        reader.resumesAfterBadRecord = skipBad
        while true {
            let batch: [Posting]
            do {
                batch = try reader.next(maxCount: 8192)
            } catch let error as JobLabelError where skipBad && reader.lastErrorWasRecordError {
                skipped.add(error)
                report(error)
                continue
            }
            if batch.isEmpty { break }
            all.append(contentsOf: batch)
        }
    }
    return (all, skipped)
}

/// Warnings for ids that occur more than once (ids synthesized from file and line are not checked):
/// one line per id naming its first two places, at most `limit` lines, then one line with the rest's count.
public func duplicateIDWarnings(_ postings: [Posting], limit: Int = 10) -> [String] {
    var first: [String: Int] = [:]
    var reported = Set<String>()
    var lines: [String] = []
    var unlisted = 0
    func place(_ p: Posting) -> String { (p.file == "-" ? "stdin" : p.file) + ":" + String(p.line) }
    // The synthesized ids' "<basename>:" worked out once per file rather than once per record.
    var idPrefix: [String: String] = [:]
    for (k, p) in postings.enumerated() {
        if !p.idIsNumber {
            let prefix: String
            if let known = idPrefix[p.file] {
                prefix = known
            } else {
                prefix = synthesizedIDPrefix(file: p.file)
                idPrefix[p.file] = prefix
            }
            if p.id == prefix + String(p.line) { continue }
        }
        guard let earlier = first[p.id] else {
            first[p.id] = k
            continue
        }
        guard reported.insert(p.id).inserted else { continue }
        if lines.count < limit {
            lines.append("warning: id '\(p.id.prefix(80))' is used more than once (\(place(postings[earlier])) and \(place(p))); both records are used, give each posting its own id")
        } else {
            unlisted += 1
        }
    }
    if unlisted > 0 { lines.append("warning: \(unlisted) more id\(unlisted == 1 ? " is" : "s are") used more than once (not listed)") }
    return lines
}

/// Warnings for labels of one head that differ only in letter case ("Sales" and "sales"): they are kept
/// as different classes, which is rarely what was meant.
public func labelCaseWarnings(head: String, labels: [String]) -> [String] {
    var groups: [String: [String]] = [:]
    for label in labels { groups[label.lowercased(), default: []].append(label) }
    return groups.values.filter { $0.count > 1 }.map { $0.sorted() }.sorted { $0[0] < $1[0] }.map { group in
        "warning: head '\(head)': labels \(group.map { "'\($0)'" }.joined(separator: " and ")) differ only in case; they are different classes (labels are case-sensitive), write them the same way if they mean the same"
    }
}
