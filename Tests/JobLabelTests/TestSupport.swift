import Foundation
import XCTest
@testable import JobLabel

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
