import Foundation
import XCTest

/// corpus/ keeps its invariants (scripts/check-corpus): schema, known labels, unique ids, 60 to 700 words,
/// every seniority level at least 120 postings and every role at least 30, no sentence shared by two postings.
final class CorpusTests: XCTestCase {
    func testCorpusPassesCheckCorpus() throws {
        let repo = DefaultModelTests.repo
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", repo.appendingPathComponent("scripts/check-corpus").path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        do { try p.run() } catch { throw XCTSkip("python3 is needed to run scripts/check-corpus: \(error)") }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, text)
        XCTAssertTrue(text.hasSuffix("ok\n"), text)
        // At least the minimum of 1,500 postings and 24 roles.
        let count = text.split(separator: " ").first.flatMap { Int($0) } ?? 0
        XCTAssertGreaterThanOrEqual(count, 1500, text)
        let roles = text.split(separator: "\n").first { $0.hasPrefix("role: ") }?.split(separator: ",").count ?? 0
        XCTAssertGreaterThanOrEqual(roles, 24, text)
    }
}
