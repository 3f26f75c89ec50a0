import Foundation
import XCTest
@testable import JobLabel

/// Calibration, coverage and ordinal figures, and how every report format shows them.
final class ReportFigureTests: XCTestCase {
    let confidence = [0.95, 0.95, 0.55, 0.55, 0.15, 0.0, 1.0]
    let correct = [true, false, true, true, false, false, true]

    func testBinsAreHalfOpenFromBelow() {
        XCTAssertEqual(Calibration.bin(of: 0, binCount: 10), 0)
        XCTAssertEqual(Calibration.bin(of: 0.05, binCount: 10), 0)
        XCTAssertEqual(Calibration.bin(of: 0.25, binCount: 10), 2)
        XCTAssertEqual(Calibration.bin(of: 0.5, binCount: 10), 4, "0.5 belongs to (0.4, 0.5]")
        XCTAssertEqual(Calibration.bin(of: 0.5000001, binCount: 10), 5)
        XCTAssertEqual(Calibration.bin(of: 1, binCount: 10), 9)
    }

    func testExpectedCalibrationErrorByHand() {
        let c = Calibration(correct: correct, confidence: confidence)
        XCTAssertEqual(c.bins.count, 10)
        XCTAssertEqual(c.bins.map(\.count), [1, 1, 0, 0, 0, 2, 0, 0, 0, 3])
        XCTAssertEqual(c.bins[9].accuracy, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(c.bins[9].confidence, (0.95 + 0.95 + 1) / 3, accuracy: 1e-12)
        XCTAssertEqual(c.bins[5].accuracy, 1)
        // Σ_b |Σ_{i∈b} (correct_i − confidence_i)| / N = (0.9 + 0.9 + 0.15 + 0) / 7
        XCTAssertEqual(c.ece, 1.95 / 7, accuracy: 1e-12)
        XCTAssertEqual(c.meanConfidence, confidence.reduce(0, +) / 7, accuracy: 1e-12)
        // Perfectly calibrated: confidence 0.75, three of four right.
        XCTAssertEqual(Calibration(correct: [true, true, true, false], confidence: [0.75, 0.75, 0.75, 0.75]).ece, 0, accuracy: 1e-12)
        XCTAssertEqual(Calibration(correct: [], confidence: []).ece, 0)
    }

    func testCoverageCountsRowsAtOrAboveTheThreshold() {
        let table = CoveragePoint.table(correct: correct, confidence: confidence)
        XCTAssertEqual(table.map(\.threshold), [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
        XCTAssertEqual(table[0].count, 5)
        XCTAssertEqual(table[0].coverage, 5.0 / 7, accuracy: 1e-12)
        XCTAssertEqual(table[0].accuracy ?? -1, 0.8, accuracy: 1e-12)
        XCTAssertEqual(table[3].count, 3)
        XCTAssertEqual(table[3].accuracy ?? -1, 2.0 / 3, accuracy: 1e-12)
        let edges = CoveragePoint.table(correct: correct, confidence: confidence, thresholds: [1.0, 1.01])
        XCTAssertEqual(edges[0].count, 1, "the threshold is inclusive")
        XCTAssertEqual(edges[0].accuracy, 1)
        XCTAssertEqual(edges[1].count, 0)
        XCTAssertNil(edges[1].accuracy)
    }

    func testOrdinalHeadsListLevelsLowestFirst() {
        let truth = ["mid-senior", "entry", "director", "intern-ish"]
        let predicted = ["entry", "entry", "associate", "entry"]
        let classes = ["associate", "director", "entry", "mid-senior"]  // the model's (byte) order
        let r = EvaluationReport(truth: truth, predicted: predicted, confidence: [0.5, 0.6, 0.7, 0.8],
                                 labelOrder: classes, scale: .seniority)
        XCTAssertEqual(r.labels, ["entry", "associate", "mid-senior", "director", "intern-ish"])
        XCTAssertEqual(r.confusion[0][0], 1, "entry predicted as entry")
        let plain = EvaluationReport(truth: truth, predicted: predicted, confidence: nil, labelOrder: classes)
        XCTAssertEqual(plain.labels, classes + ["intern-ish"], "without a scale the model's order stays")
    }

    func testOrdinalLevelErrors() {
        let s = OrdinalSummary(truth: ["entry", "internship", "mid-senior", "executive", "other"],
                               predicted: ["associate", "director", "mid-senior", "entry", "entry"], scale: .seniority)
        XCTAssertEqual(s.n, 4, "a row off the scale is not counted")
        XCTAssertEqual(s.exactAccuracy, 0.25)
        XCTAssertEqual(s.offByOneAccuracy, 0.5)
        XCTAssertEqual(s.meanAbsoluteError, (1 + 4 + 0 + 4) / 4.0)
        XCTAssertEqual(s.errorCounts, [0, 1, 0, 0, 0, 1, 1, 0, 0, 1, 0])
        XCTAssertEqual(s.error(at: 0), -5)
        XCTAssertEqual(s.shownErrorRange, 1...9)
        let near = OrdinalSummary(truth: ["entry"], predicted: ["entry"], scale: .seniority)
        XCTAssertEqual(near.shownErrorRange, 4...6, "at least −1 … +1")
    }

    func testWhichHeadsAreOrdinal() {
        XCTAssertEqual(OrdinalScale.forHead("seniority", labels: ["student", "experienced"]), .seniority)
        XCTAssertEqual(OrdinalScale.forHead("level", labels: ["entry", "director", "entry"]), .seniority)
        XCTAssertNil(OrdinalScale.forHead("level", labels: ["entry", "sales"]))
        XCTAssertNil(OrdinalScale.forHead("role", labels: ["sales", "marketing"]))
        XCTAssertNil(OrdinalScale.forHead("level", labels: ["entry"]), "one level is no scale")
        // A seniority head with no label on the scale gets no ordinal figures.
        let r = EvaluationReport(truth: ["student", "experienced"], predicted: ["student", "student"], confidence: [0.6, 0.7],
                                 scale: .seniority)
        XCTAssertNil(r.ordinal)
        XCTAssertNotNil(r.calibration)
    }

    func testEvaluateKeepsTheProbabilityOfThePredictedLabel() throws {
        let postings = tinyCorpus()
        let model = try JobLabelModel.train(tinyConfig(), postings: postings, files: ["tiny"])
        let result = Evaluator.evaluate(model, postings: postings, algorithms: Algorithm.allCases)
        XCTAssertEqual(result.entries.map { "\($0.head)/\($0.algorithm)" },
                       ["role/nb", "role/lr", "role/ensemble", "seniority/nb", "seniority/lr", "seniority/ensemble"])
        for e in result.entries {
            let h = model.heads.firstIndex { $0.name == e.head }!
            let rows = postings.indices.filter { postings[$0].labels[h] != nil }
            let algorithm = Algorithm(rawValue: e.algorithm)!
            let prediction = model.decisions(rows.map { postings[$0] }, algorithm: algorithm)[h]
            XCTAssertEqual(e.report.confidences.count, rows.count)
            for (i, _) in rows.enumerated() {
                XCTAssertEqual(e.report.confidences[i], prediction[i].probability, accuracy: 1e-6)
            }
            // The scored labels are classify's labels.
            let right = rows.indices.filter { prediction[$0].label == postings[rows[$0]].labels[h] }.count
            XCTAssertEqual(e.report.accuracy, Double(right) / Double(rows.count), accuracy: 1e-12)
            XCTAssertEqual(e.report.calibration?.bins.map(\.count).reduce(0, +), rows.count)
            XCTAssertEqual(e.report.coverage.count, 7)
            XCTAssertEqual(e.report.ordinal != nil, e.head == "seniority")
        }
    }

    func testCrossValidationPoolsConfidences() throws {
        let result = try Evaluator.crossValidate(tinyConfig(), postings: tinyCorpus(), folds: 3, files: ["tiny"], algorithms: [.lr])
        for e in result.entries {
            XCTAssertEqual(e.report.confidences.count, e.report.n)
            XCTAssertTrue(e.report.confidences.allSatisfy { $0 >= 0 && $0 <= 1 })
            XCTAssertEqual(e.report.calibration?.bins.map(\.count).reduce(0, +), e.report.n)
        }
        XCTAssertNotNil(result.entries.first { $0.head == "seniority" }?.report.ordinal)
    }

    private func sampleResult() -> EvaluationResult {
        let seniority = EvaluationReport(truth: ["entry", "entry", "mid-senior", "director"],
                                         predicted: ["entry", "associate", "mid-senior", "entry"],
                                         confidence: [0.9, 0.45, 0.65, 0.35], labelOrder: ["associate", "director", "entry", "mid-senior"],
                                         scale: .seniority)
        let role = EvaluationReport(truth: ["sales", "legal"], predicted: ["sales", "sales"], confidence: [0.8, 0.55],
                                    labelOrder: ["legal", "sales"])
        return EvaluationResult(entries: [("role", "lr", role), ("seniority", "lr", seniority)])
    }

    func testJSONAddsCalibrationCoverageAndOrdinalKeys() throws {
        let json = sampleResult().json()
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let heads = try XCTUnwrap(object["heads"] as? [String: Any])
        let seniority = try XCTUnwrap((heads["seniority"] as? [String: Any])?["lr"] as? [String: Any])
        for key in ["n", "accuracy", "macro_f1", "weighted_f1", "per_class", "confusion"] { XCTAssertNotNil(seniority[key], key) }
        let ece = try XCTUnwrap(seniority["ece"] as? Double)
        // bins: 0.35 → (0.3,0.4] wrong, 0.45 → (0.4,0.5] wrong, 0.65 → right, 0.9 → right
        XCTAssertEqual(ece, (0.35 + 0.45 + 0.35 + 0.1) / 4, accuracy: 1e-6)
        let coverage = try XCTUnwrap(seniority["coverage"] as? [[String: Any]])
        XCTAssertEqual(coverage.count, 7)
        XCTAssertEqual(coverage[2]["threshold"] as? Double, 0.5)
        XCTAssertEqual(coverage[2]["coverage"] as? Double, 0.5)
        XCTAssertEqual(coverage[2]["accuracy"] as? Double, 1)
        XCTAssertEqual(coverage[6]["n"] as? Int, 1, "0.9 is covered at threshold 0.9")
        XCTAssertEqual(coverage[6]["accuracy"] as? Double, 1)
        let ordinal = try XCTUnwrap(seniority["ordinal"] as? [String: Any])
        XCTAssertEqual(ordinal["off_by_one_accuracy"] as? Double, 0.75)
        XCTAssertEqual(ordinal["mean_absolute_error"] as? Double, 1)  // level errors 0, +1, 0, −3
        XCTAssertEqual((seniority["reliability"] as? [Any])?.count, 10)
        let role = try XCTUnwrap((heads["role"] as? [String: Any])?["lr"] as? [String: Any])
        XCTAssertTrue(role["ordinal"] is NSNull, "role is not an ordinal head")
        XCTAssertNotNil(role["ece"] as? Double)
        let roleCoverage = try XCTUnwrap(role["coverage"] as? [[String: Any]])
        XCTAssertEqual(roleCoverage[6]["n"] as? Int, 0)
        XCTAssertTrue(roleCoverage[6]["accuracy"] is NSNull, "no row covered: accuracy null")
        // Without probabilities (reports built from labels alone) the keys are there and null.
        let bare = EvaluationResult(entries: [("role", "lr", EvaluationReport(truth: ["a"], predicted: ["a"]))]).json()
        XCTAssertTrue(bare.contains("\"ece\": null") && bare.contains("\"coverage\": []"), bare)
    }

    func testTextAndMarkdownShowTheFiguresAsAlignedTables() {
        let text = sampleResult().render(.text)
        XCTAssertTrue(text.contains("ECE"), text)
        XCTAssertTrue(text.contains("within one level"), text)
        XCTAssertTrue(text.contains("reliability (probability of the predicted label in 10 bins): ECE 0.3125"), text)
        // Every line of a plain-text table (header, rule, rows) has the same width.
        let lines = text.components(separatedBy: "\n")
        let section = lines.firstIndex(of: "== seniority / lr ==")!
        let start = lines[section...].firstIndex { $0.hasPrefix("threshold") }!
        let table = lines[start...].prefix { !$0.isEmpty }
        XCTAssertEqual(table.count, 9)
        XCTAssertEqual(Set(table.map(\.count)).count, 1, table.joined(separator: "\n"))
        XCTAssertTrue(table.contains { $0.hasPrefix("     0.50     2    0.5000    1.0000") }, table.joined(separator: "\n"))
        let levels = lines[lines.firstIndex { $0.hasPrefix("level error") && !$0.contains("(") }!...].prefix { !$0.isEmpty }
        XCTAssertEqual(levels.count, 2 + 5, "−3 … +1")
        XCTAssertEqual(levels.last, "         +1     1  0.2500")

        let markdown = sampleResult().render(.markdown)
        XCTAssertTrue(markdown.contains("| threshold | rows | coverage | accuracy |"), markdown)
        XCTAssertTrue(markdown.contains("| head      | algorithm | n |  exact | within one level | mean abs. level error |"), markdown)
        XCTAssertTrue(markdown.contains("|          -3 |    1 | 0.2500 |"), markdown)
    }
}
