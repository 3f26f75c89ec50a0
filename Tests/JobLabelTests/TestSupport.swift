import Foundation
import XCTest
@testable import JobLabel
@testable import JobLabelCLI

/// A fresh temporary directory, removed by the caller.
func makeTempDirectory(_ name: String = "joblabel-test") -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A tiny labeled corpus: two heads, clear vocabulary per class.
func tinyCorpus() -> [Posting] {
    let rows: [(String, String, String?, String?)] = [
        ("Sales Intern", "summer internship selling software to customers, students welcome", "sales", "internship"),
        ("Account Executive", "close deals, quota, pipeline, 5+ years of b2b selling", "sales", "mid-senior"),
        ("Junior Sales Rep", "entry level role, recent graduates, cold calls and leads", "sales", "entry"),
        ("Software Engineer Intern", "internship writing python code, students in computer science", "information-technology", "internship"),
        ("Senior Backend Engineer", "8+ years building distributed systems in go and python", "information-technology", "mid-senior"),
        ("Junior Developer", "entry level developer, graduates welcome, javascript and python code", "information-technology", "entry"),
        ("Marketing Intern", "internship supporting campaigns and social media, students", "marketing", "internship"),
        ("Senior Marketing Manager", "lead campaigns, brand strategy, 7+ years of marketing", "marketing", nil),
        ("Marketing Coordinator", "entry level, graduates, social media posts and campaigns", "marketing", "entry"),
    ]
    return rows.enumerated().map { i, r in
        Posting(id: "p\(i)", title: Array(r.0.utf8), text: Array(r.1.utf8), labels: [r.2, r.3], file: "tiny", line: i + 1)
    }
}

func tinyConfig() -> TrainingConfig {
    var c = TrainingConfig.sklearn
    c.heads = ["role", "seniority"]
    return c
}

/// Writes `tinyCorpus()` as JSON Lines (id, title, text, role, seniority) to `path`.
func writeTinyCorpusJSONL(to path: String) {
    var lines: [String] = []
    for p in tinyCorpus() {
        func q(_ s: String?) -> String { s.map(JSONText.quoted) ?? "null" }
        lines.append("{\"id\": \(q(p.id)), \"title\": \(q(String(decoding: p.title, as: UTF8.self))), \"text\": \(q(String(decoding: p.text, as: UTF8.self))), \"role\": \(q(p.labels[0])), \"seniority\": \(q(p.labels[1]))}")
    }
    try? (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
}

/// A deterministic corpus big enough for a calibration split: `rowsPerClass` postings per role (3 roles)
/// with a seniority each (3 levels, every third row), built from class words, shared words and 15 %
/// of words from another class, so the classes overlap and probabilities are not all near 1.
func syntheticCorpus(rowsPerClass: Int = 60, seed: UInt64 = 7) -> [Posting] {
    let roles = ["sales": ["quota", "pipeline", "deals", "customers", "revenue", "prospects", "crm", "territory"],
                 "engineering": ["python", "code", "systems", "backend", "api", "deploy", "tests", "services"],
                 "marketing": ["brand", "campaigns", "social", "content", "seo", "audience", "events", "media"]]
    let levels = ["entry": ["graduates", "junior", "learn", "training"],
                  "mid-senior": ["senior", "lead", "mentor", "ownership"],
                  "director": ["director", "strategy", "budget", "executive"]]
    let shared = ["team", "work", "company", "office", "role", "benefits", "remote", "growth"]
    var rng = SplitMix64(seed: seed)
    func pick(_ words: [String]) -> String { words[Int(rng.next() % UInt64(words.count))] }
    let roleNames = roles.keys.sorted(), levelNames = levels.keys.sorted()
    var out: [Posting] = []
    for (r, role) in roleNames.enumerated() {
        for i in 0..<rowsPerClass {
            let level = levelNames[(i + r) % levelNames.count]
            var words: [String] = []
            for _ in 0..<12 {
                let u = rng.next() % 100
                if u < 15 { words.append(pick(roles[roleNames[(r + 1 + Int(u) % 2) % 3]]!)) }
                else if u < 50 { words.append(pick(roles[role]!)) }
                else if u < 70 { words.append(pick(levels[level]!)) }
                else { words.append(pick(shared)) }
            }
            let title = rng.next() % 2 == 0 ? "\(pick(levels[level]!)) \(pick(roles[role]!))" : pick(shared)
            out.append(Posting(id: "s\(r)-\(i)", title: Array(title.utf8), text: Array(words.joined(separator: " ").utf8),
                               labels: [role, level], file: "synthetic", line: out.count + 1))
        }
    }
    return out
}

/// Writes postings (id, title, text, role, seniority) as JSON Lines to `path`.
func writeJSONL(_ postings: [Posting], to path: String) {
    func q(_ s: String?) -> String { s.map(JSONText.quoted) ?? "null" }
    let lines = postings.map { p in
        "{\"id\": \(q(p.id)), \"title\": \(q(String(decoding: p.title, as: UTF8.self))), \"text\": \(q(String(decoding: p.text, as: UTF8.self))), \"role\": \(q(p.labels.first ?? nil)), \"seniority\": \(q(p.labels.count > 1 ? p.labels[1] : nil))}"
    }
    try? (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
}

/// joblabel's defaults (calibration included) with both heads.
func calibratedConfig() -> TrainingConfig {
    var c = TrainingConfig.product
    c.heads = ["role", "seniority"]
    return c
}

extension JobLabelModel {
    /// Per head, the probabilities `algorithm` gives `postings` (row-major `postings × classes`), through the
    /// library's one scoring path.
    func probabilities(_ postings: [Posting], algorithm: Algorithm) -> [[Float]] {
        Predictor(vectorizer: vectorizer, heads: heads, options: LabelingOptions(algorithm: algorithm), parallel: Parallel())
            .probabilities(vectorizer.transform(postings))
    }

    /// Per head, the decisions `algorithm` gives `postings`.
    func decisions(_ postings: [Posting], algorithm: Algorithm, top: Int = 1) -> [[LabelDecision]] {
        let labels = predictor(LabelingOptions(algorithm: algorithm, top: top)).labels(postings).labels
        return heads.indices.map { h in labels.map { $0.heads[h] } }
    }
}

/// The test's own arithmetic: `x · W + b` of a linear model, computed densely in Double, row-major.
func referenceScores(_ m: LinearModel, _ x: CSRMatrix) -> [Double] {
    let k = m.classCount, weights = m.weights
    var out = [Double](repeating: 0, count: x.rowCount * k)
    for i in 0..<x.rowCount {
        for c in 0..<k { out[i * k + c] = Double(m.bias[c]) }
        for (j, v) in x.entries(ofRow: i) {
            for c in 0..<k { out[i * k + c] += Double(v) * Double(weights[j * k + c]) }
        }
    }
    return out
}

/// The test's own softmax of `scores / temperature`, row-major.
func referenceSoftmax(_ scores: [Double], k: Int, temperature: Double) -> [Double] {
    var p = scores
    for i in 0..<(scores.count / k) {
        let row = (0..<k).map { scores[i * k + $0] / temperature }
        let m = row.max() ?? 0
        let sum = row.reduce(0) { $0 + exp($1 - m) }
        for c in 0..<k { p[i * k + c] = exp(row[c] - m) / sum }
    }
    return p
}

/// Index of the largest value in each row (first on ties).
func argmaxRows(_ p: [Float], classes k: Int) -> [Int] {
    (0..<(k == 0 ? 0 : p.count / k)).map { i in argmax(p, row: i, classes: k) }
}

/// A one-head predictor whose classifiers are both `m` (the production scoring path over a bare model).
func predictor(_ m: LinearModel, algorithm: Algorithm = .lr) -> Predictor {
    let head = HeadModel(name: "h", classes: m.classes, classCounts: [], naiveBayes: m, logisticRegression: m, optimization: nil)
    return Predictor(vectorizer: nil, heads: [head], options: LabelingOptions(algorithm: algorithm), parallel: Parallel())
}

/// An input or record error as (file, line, field, message), the way the command line prints it: for
/// compact assertions of all four at once.
enum FlatError: Equatable {
    case badData(file: String, line: Int, field: String?, message: String)
}

extension JobLabelError {
    /// The error's file, line, field and message, for errors about a place in an input.
    var flat: FlatError? {
        switch self {
        case .badRecord(let record, let file, let line): return .badData(file: file, line: line, field: record.field, message: record.message)
        case .csvUnterminatedQuote:
            // "file:line: field 'x': message" -> the parts.
            let text = description
            var rest = Substring(text)
            guard let colon = rest.firstIndex(of: ":") else { return nil }
            let file = String(rest[..<colon])
            rest = rest[rest.index(after: colon)...]
            guard let colon2 = rest.firstIndex(of: ":"), let line = Int(rest[..<colon2]) else { return nil }
            rest = rest[rest.index(after: colon2)...].dropFirst()
            var field: String?
            if rest.hasPrefix("field '"), let end = rest.range(of: "': ") {
                field = String(rest[rest.index(rest.startIndex, offsetBy: 7)..<end.lowerBound])
                rest = rest[end.upperBound...]
            }
            return .badData(file: file, line: line, field: field, message: String(rest))
        default: return nil
        }
    }
}

/// The exit code the command line gives an error.
func exitCode(of error: Error) -> Int32 { Messages.describe(error).exitCode }
