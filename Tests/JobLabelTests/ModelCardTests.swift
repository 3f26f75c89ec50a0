import Foundation
import XCTest
@testable import JobLabel

final class ModelCardTests: XCTestCase {
    func testTopTermsByWeightAndByRatioToTheMean() {
        var vocabulary = TermTable()
        for term in ["alpha", "beta", "gamma", "delta"] { _ = vocabulary.intern(term) }
        // Rows: features; columns: classes x, y.
        let model = LinearModel(classes: ["x", "y"], featureCount: 4,
                                weights: [3, 2.9,    // alpha: high for both
                                          1, -2,     // beta: far above the mean for x
                                          2, 2,      // gamma
                                          -1, 0.5],  // delta
                                bias: [0, 0])
        let byWeight = ModelCard.topTerms(model, vocabulary: vocabulary, relativeToMean: false, count: 2)
        XCTAssertEqual(byWeight[0].map(\.term), ["alpha", "gamma"])
        XCTAssertEqual(byWeight[1].map(\.term), ["alpha", "gamma"])
        XCTAssertEqual(byWeight[0][0].weight, 3)
        let byRatio = ModelCard.topTerms(model, vocabulary: vocabulary, relativeToMean: true, count: 2)
        XCTAssertEqual(byRatio[0].map(\.term), ["beta", "alpha"])  // 1.5, 0.05 (gamma 0)
        XCTAssertEqual(byRatio[0][0].weight, 1.5, accuracy: 1e-9)
        XCTAssertEqual(byRatio[1].map(\.term), ["delta", "gamma"])  // 0.75, then 0 before alpha's −0.05 (ties: vocabulary order)
        XCTAssertEqual(ModelCard.topTerms(model, vocabulary: vocabulary, relativeToMean: false, count: 10)[0].count, 4)
        XCTAssertEqual(ModelCard.topTerms(model, vocabulary: vocabulary, relativeToMean: false, count: 0), [[], []])
    }

    func testInspectPrintsTheModelCardInTextAndJSON() throws {
        let dir = makeTempDirectory("joblabel-card")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        writeTinyCorpusJSONL(to: dir + "/train.jsonl")
        XCTAssertEqual(try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/model", "--preset", "sklearn"]).status, 0)
        let manifest = try ModelBundle.loadManifest(dir + "/model")

        let text = try CLI.run(["inspect", dir + "/model"])
        XCTAssertEqual(text.status, 0, text.stderr)
        for expected in ["data sha256: \(manifest.training.sha256)", "trained on: 9 postings from \(dir)/train.jsonl",
                         "head 'seniority': 3 labels, 8 training rows", "trust-region Newton:", "training lr: accuracy",
                         "top 10 terms per label"] {
            XCTAssertTrue(text.stdout.contains(expected), "missing '\(expected)' in\n\(text.stdout)")
        }
        // The internship class's most telling terms include the word every internship posting has.
        let internshipLine = try XCTUnwrap(text.stdout.split(separator: "\n").first { $0.hasPrefix("    internship") && $0.contains("lr: ") })
        XCTAssertTrue(internshipLine.contains("internship"), String(internshipLine))

        let json = try CLI.run(["inspect", "--json", "--terms", "3", dir + "/model"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["format"] as? String, "joblabel-model", "the manifest's keys are all still there")
        XCTAssertEqual((object["training"] as? [String: Any])?["sha256"] as? String, manifest.training.sha256)
        let terms = try XCTUnwrap(((object["top_terms"] as? [String: Any])?["seniority"] as? [String: Any]))
        for algorithm in ["lr", "nb"] {
            let perLabel = try XCTUnwrap(terms[algorithm] as? [String: [[String: Any]]])
            XCTAssertEqual(Set(perLabel.keys), ["entry", "internship", "mid-senior"])
            for list in perLabel.values {
                XCTAssertEqual(list.count, 3)
                let weights = list.compactMap { $0["weight"] as? Double }
                XCTAssertEqual(weights, weights.sorted(by: >))
            }
        }
        let none = try CLI.run(["inspect", "--terms", "0", dir + "/model"])
        XCTAssertFalse(none.stdout.contains("terms per label"))
        XCTAssertEqual(try CLI.run(["inspect", "--terms", "-1", dir + "/model"]).status, 64)
    }
}
