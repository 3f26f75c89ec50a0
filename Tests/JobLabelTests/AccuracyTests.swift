import Foundation
import XCTest
@testable import JobLabel

/// Trains on real data with the release CLI and checks test-set figures against measured ones.
/// Skipped (with the reason) when ../shared/data is absent or no release binary is given.
final class AccuracyTests: XCTestCase {
    static let dataRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/data").path

    private func requireData(_ dataset: String) throws -> String {
        let dir = AccuracyTests.dataRoot + "/" + dataset
        guard FileManager.default.fileExists(atPath: dir + "/train.jsonl") else {
            throw XCTSkip("\(dir) is absent: real-data accuracy tests need ../shared/data beside the repository")
        }
        guard ProcessInfo.processInfo.environment["JOBLABEL_BIN"] != nil else {
            throw XCTSkip("set JOBLABEL_BIN to a release build of joblabel (scripts/test does) to run real-data tests")
        }
        return dir
    }

    private func trainAndEvaluate(_ dir: String, labels: String, options: [String]) throws -> [String: Any] {
        let work = makeTempDirectory("joblabel-accuracy")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let t = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", work + "/model", "--labels", labels] + options)
        XCTAssertEqual(t.status, 0, t.stderr)
        let e = try CLI.run(["evaluate", "--model", work + "/model", "--data", dir + "/test.jsonl", "--format", "json"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
        return (report["heads"] as! [String: Any])[labels] as! [String: Any]
    }

    private func macroF1(_ head: [String: Any], _ algorithm: String) -> Double {
        (head[algorithm] as! [String: Any])["macro_f1"] as! Double
    }

    func test20NewsgroupsWithScikitLearnPreset() throws {
        let dir = try requireData("20news")
        let head = try trainAndEvaluate(dir, labels: "topic", options: ["--preset", "sklearn"])
        // Measured 2026-11-21 (release, 2 cores): NB 0.7451, LR 0.8137; scikit-learn 1.9.1 with the
        // same settings gets 0.7451 and 0.8135 (scripts/compare-sklearn).
        XCTAssertEqual(macroF1(head, "nb"), Expected.newsNB, accuracy: 0.01)
        XCTAssertEqual(macroF1(head, "lr"), Expected.newsLR, accuracy: 0.01)
        XCTAssertEqual((head["lr"] as! [String: Any])["n"] as? Int, 7532)
    }

    func testGlassdoorRoleWithDefaults() throws {
        let dir = try requireData("glassdoor")
        let head = try trainAndEvaluate(dir, labels: "role", options: [])
        XCTAssertEqual(macroF1(head, "nb"), Expected.glassdoorNB, accuracy: 0.04)
        XCTAssertEqual(macroF1(head, "lr"), Expected.glassdoorLR, accuracy: 0.04)
    }

    enum Expected {
        static let newsNB = 0.7451
        static let newsLR = 0.8137
        // joblabel defaults on glassdoor role (113 labeled test rows): NB 0.6003, LR 0.7838 (with the cue
        // features at weight 2; NB was 0.4809 without them).
        static let glassdoorNB = 0.6003
        static let glassdoorLR = 0.7838
    }
}

/// Runs scripts/compare-sklearn --check: vocabulary equal, NB agreement ≥ 99.5 %, LR ≥ 98 %, macro-F1
/// within 0.5 points of scikit-learn's. Skipped without ../shared/data, or when scikit-learn cannot be
/// installed from PyPI (exit 69).
final class ScikitLearnAgreementTests: XCTestCase {
    private func compare(_ dataset: String, labels: String) throws {
        let dir = AccuracyTests.dataRoot + "/" + dataset
        guard FileManager.default.fileExists(atPath: dir + "/train.jsonl") else {
            throw XCTSkip("\(dir) is absent: the scikit-learn comparison needs ../shared/data")
        }
        guard let binary = ProcessInfo.processInfo.environment["JOBLABEL_BIN"] else {
            throw XCTSkip("set JOBLABEL_BIN to a release build of joblabel (scripts/test does)")
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["bash", root.appendingPathComponent("scripts/compare-sklearn").path,
                       "--train", dir + "/train.jsonl", "--test", dir + "/test.jsonl", "--labels", labels,
                       "--joblabel", binary, "--check"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if p.terminationStatus == 69 { throw XCTSkip("scikit-learn unavailable: \(text.suffix(300))") }
        print(text)
        XCTAssertEqual(p.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("all checks passed"), text)
    }

    func testGlassdoorRoleAgreesWithScikitLearn() throws {
        try compare("glassdoor", labels: "role")
    }

    func test20NewsgroupsAgreesWithScikitLearn() throws {
        try compare("20news", labels: "topic")
    }
}
