import Foundation

/// The records of several inputs, read one input after the other in batches: the one loop over inputs that
/// `train`, `evaluate` and `classify` share. A batch holds good postings and malformed records in input
/// order; errors about a whole input are thrown (after the records read before them).
public final class RecordStream {
    /// The inputs, in reading order.
    public let specs: [InputSpec]
    let heads: [String]
    let options: ReadOptions
    private var index = 0
    private var reader: PostingReader?
    private var finishedBytes: Int64 = 0
    /// The inputs' total size in bytes; nil when one is not a regular file (standard input, a pipe).
    public let totalBytes: Int64?

    /// A stream over `specs`, with label heads `heads`, read as `options` say.
    public init(_ specs: [InputSpec], heads: [String], options: ReadOptions = ReadOptions()) {
        self.specs = specs
        self.heads = heads
        self.options = options
        var total: Int64? = 0
        for spec in specs {
            var st = stat()
            if spec.path != "-", stat(spec.path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG {
                total = total.map { $0 + Int64(st.st_size) }
            } else {
                total = nil
            }
        }
        totalBytes = total
    }

    /// Bytes of the inputs consumed by the records handed out so far (the progress of a run through them).
    public var bytesConsumed: Int64 { finishedBytes + (reader?.bytesConsumed ?? 0) }

    /// The next batch of at most `maxCount` records; [] once every input is read.
    public func next(maxCount: Int) throws -> [RecordResult] {
        while index < specs.count {
            if reader == nil { reader = try PostingReader(specs[index], heads: heads, options: options) }
            let batch = try reader?.next(maxCount: maxCount) ?? []
            if !batch.isEmpty { return batch }
            finishedBytes += reader?.bytesConsumed ?? 0
            reader = nil
            index += 1
        }
        return []
    }
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
        if case .badRecord(let record, _, _) = error { return record.problem }
        return "unreadable"
    }
}

/// Reads every posting of every spec, in order; the first malformed record is thrown.
public func readAllPostings(_ specs: [InputSpec], heads: [String]) throws -> [Posting] {
    try readAllPostings(specs, heads: heads, skipBad: false).postings
}

/// Reads every posting of every spec, in order, as `options` say. With `skipBad`, malformed records are
/// left out and tallied (each is passed to `report`); without it the first one is thrown. A record that
/// ends its input (`RecordError.endsInput`: too long, not UTF-8 text) is thrown either way. `progress` gets
/// the bytes read so far and the inputs' total size (nil when unknown) after every batch.
public func readAllPostings(_ specs: [InputSpec], heads: [String], options: ReadOptions = ReadOptions(), skipBad: Bool,
                            report: (JobLabelError) -> Void = { _ in },
                            progress: (_ bytesRead: Int64, _ totalBytes: Int64?) -> Void = { _, _ in })
    throws -> (postings: [Posting], skipped: SkippedRecords) {
    var all: [Posting] = []
    var skipped = SkippedRecords()
    let stream = RecordStream(specs, heads: heads, options: options)
    progress(0, stream.totalBytes)
    while true {
        let batch = try stream.next(maxCount: 8192)
        if batch.isEmpty { break }
        defer { progress(stream.bytesConsumed, stream.totalBytes) }
        for record in batch {
            switch record {
            case .success(let posting): all.append(posting)
            case .failure(let error):
                // A record that ends its input is not skipped: everything after it would be left out too.
                if case .badRecord(let record, _, _) = error, record.endsInput { throw error }
                guard skipBad else { throw error }
                skipped.add(error)
                report(error)
            }
        }
    }
    return (all, skipped)
}

/// An id used by more than one record.
public struct DuplicateID: Sendable, Equatable {
    /// The id.
    public var id: String
    /// Where it is first used, and where again: (file, line).
    public var first: (file: String, line: Int)
    /// The second record with it.
    public var second: (file: String, line: Int)

    public static func == (a: DuplicateID, b: DuplicateID) -> Bool {
        a.id == b.id && a.first == b.first && a.second == b.second
    }
}

/// Ids that occur more than once (ids synthesized from file and line are not checked), in order of their
/// second use: at most `limit`, and how many more there are.
public func duplicateIDs(_ postings: [Posting], limit: Int = 10) -> (listed: [DuplicateID], more: Int) {
    var first: [String: Int] = [:]
    var reported = Set<String>()
    var listed: [DuplicateID] = []
    var more = 0
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
        if listed.count < limit {
            listed.append(DuplicateID(id: p.id, first: (postings[earlier].file, postings[earlier].line), second: (p.file, p.line)))
        } else {
            more += 1
        }
    }
    return (listed, more)
}

/// Groups of labels of one head that differ only in letter case ("Sales" and "sales"): they are kept as
/// different classes, which is rarely what was meant. Each group is sorted; groups by their first label.
public func caseVariantLabels(_ labels: [String]) -> [[String]] {
    var groups: [String: [String]] = [:]
    for label in labels { groups[label.lowercased(), default: []].append(label) }
    return groups.values.filter { $0.count > 1 }.map { $0.sorted() }.sorted { $0[0] < $1[0] }
}
