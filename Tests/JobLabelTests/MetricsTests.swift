import XCTest
@testable import JobLabel
@testable import JobLabelCLI

final class MetricsTests: XCTestCase {
    /// Figures as sklearn.metrics.classification_report gives for this example.
    func testPerClassAndAverages() {
        let truth = ["a", "a", "a", "b", "b", "c"]
        let predicted = ["a", "a", "b", "b", "c", "c"]
        let r = EvaluationReport(truth: truth, predicted: predicted, labelOrder: ["a", "b", "c"])
        XCTAssertEqual(r.n, 6)
        XCTAssertEqual(r.accuracy, 4.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(r.confusion, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
        XCTAssertEqual(r.perClass[0].precision, 1, accuracy: 1e-12)
        XCTAssertEqual(r.perClass[0].recall, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(r.perClass[1].f1, 0.5, accuracy: 1e-12)
        XCTAssertEqual(r.perClass[2].f1, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(r.macroF1, (0.8 + 0.5 + 2.0 / 3) / 3, accuracy: 1e-12)
        XCTAssertEqual(r.weightedF1, (0.8 * 3 + 0.5 * 2 + 2.0 / 3) / 6, accuracy: 1e-12)
    }

    func testLabelsWithoutSupportOrPredictionsDoNotCountInMacro() {
        let r = EvaluationReport(truth: ["a", "b"], predicted: ["a", "b"], labelOrder: ["a", "b", "zzz"])
        XCTAssertEqual(r.macroF1, 1, accuracy: 1e-12)
        XCTAssertEqual(r.compacted().labels, ["a", "b"])
        // A predicted label absent from the truth counts (precision 0), as in scikit-learn.
        let r2 = EvaluationReport(truth: ["a", "a"], predicted: ["a", "x"])
        XCTAssertEqual(r2.macroF1, (2.0 / 3 + 0) / 2, accuracy: 1e-12)
    }

    func testJSONShape() throws {
        let r = EvaluationReport(truth: ["a", "b"], predicted: ["a", "a"], labelOrder: ["a", "b"])
        let json = EvaluationResult(entries: [("seniority", "lr", r)]).json()
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let lr = ((object?["heads"] as? [String: Any])?["seniority"] as? [String: Any])?["lr"] as? [String: Any]
        XCTAssertEqual(lr?["n"] as? Int, 2)
        XCTAssertEqual(lr?["accuracy"] as? Double, 0.5)
        XCTAssertNotNil((lr?["per_class"] as? [String: Any])?["b"])
        XCTAssertEqual(((lr?["confusion"] as? [String: Any])?["matrix"] as? [[Int]]), [[1, 0], [1, 0]])
        XCTAssertTrue(EvaluationResult(entries: [("seniority", "lr", r)]).render(.markdown).contains("| seniority | lr "))
    }

    func testStratifiedFoldsAreBalancedAndSeeded() {
        let strata: [String?] = Array(repeating: "a", count: 10) + Array(repeating: "b", count: 5) + [nil, nil]
        let singletons = strata.indices.map { "g\($0)" }
        let folds = Folds.grouped(strata: strata, groups: singletons, k: 5, seed: 1)
        for f in 0..<5 {
            XCTAssertEqual((0..<10).filter { folds[$0] == f }.count, 2)
            XCTAssertEqual((10..<15).filter { folds[$0] == f }.count, 1)
        }
        XCTAssertEqual(folds, Folds.grouped(strata: strata, groups: singletons, k: 5, seed: 1))
        XCTAssertNotEqual(folds, Folds.grouped(strata: strata, groups: singletons, k: 5, seed: 2))
    }

    /// Reposts of one ad (same normalised title and first 300 characters of normalised text) share a fold.
    func testRepostsOfOneAdShareAFold() {
        let body = String(repeating: "We build payment software for small shops. ", count: 10)
        var postings: [Posting] = []
        for i in 0..<40 {
            let ad = i % 8   // eight ads, five copies each, with case, spacing and a changed ending
            let text = (i % 2 == 0 ? body.uppercased() : body.replacingOccurrences(of: " ", with: "  ")) + "Ad \(ad). Copy \(i)."
            postings.append(Posting(id: "\(i)", title: Array(" Data Analyst \(ad)".utf8), text: Array(text.utf8), labels: [ad % 2 == 0 ? "a" : "b"]))
        }
        XCTAssertEqual(Folds.groupKey(postings[0]), Folds.groupKey(postings[8]), "same ad, other case and spacing")
        XCTAssertNotEqual(Folds.groupKey(postings[0]), Folds.groupKey(postings[1]))
        let folds = Folds.of(postings, head: 0, k: 4, seed: 3)
        for i in postings.indices { XCTAssertEqual(folds[i], folds[i % 8], "copy \(i) of ad \(i % 8)") }
        XCTAssertEqual(Set(folds).count, 4, "eight groups fill four folds")
    }

    func testCSVFieldQuotingIsByteExact() {
        XCTAssertEqual(csvField("plain"), "plain")
        XCTAssertEqual(csvField("a,b"), "\"a,b\"")
        XCTAssertEqual(csvField("x\r\ny"), "\"x\r\ny\"")
        XCTAssertEqual(csvField("say \"hi\""), "\"say \"\"hi\"\"\"")
    }
}
