import Foundation
import XCTest
import JobLabel  // deliberately not @testable: only what a program using the library can see

/// The library as a dependent program uses it: load a bundle, label postings, read reports.
final class LibraryUseTests: XCTestCase {
    /// The repository's shipped model, found from this file's location.
    static let defaultModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Models/default").path

    func testLoadAndClassifyInThreeLines() throws {
        let model = try JobLabelModel.load(Self.defaultModel)
        let labels = model.classify(title: "Software Engineering Intern",
                                    text: "Summer internship for computer science students: write Python code with our engineers. Currently enrolled students welcome.")
        XCTAssertEqual(labels["seniority"]?.label, "internship")

        XCTAssertEqual(labels.heads.map(\.head), ["role", "seniority"])
        XCTAssertNil(labels["salary"])
        for head in labels.heads {
            XCTAssertEqual(head.top.count, 3)
            XCTAssertEqual(head.top[0], LabelProbability(label: head.label, probability: head.probability))
            XCTAssertEqual(head.top.map(\.probability), head.top.map(\.probability).sorted(by: >))
            XCTAssertGreaterThan(head.probability, 0)
            XCTAssertLessThanOrEqual(head.probability, 1)
        }
    }

    func testBatchAgreesWithSinglePostingsAndAlgorithmsDiffer() throws {
        let model = try JobLabelModel.load(Self.defaultModel)
        let postings = [
            (title: "Staff Accountant", text: "Prepare journal entries, reconcile accounts, support the monthly close and the audit. CPA preferred."),
            (title: "Chief Financial Officer", text: "Lead the finance organisation, report to the CEO and the board, own the P&L and treasury."),
        ]
        let batch = model.classify(postings, top: 2)
        XCTAssertEqual(batch.count, 2)
        for (i, p) in postings.enumerated() {
            XCTAssertEqual(batch[i], model.classify(title: p.title, text: p.text, top: 2))
        }
        XCTAssertEqual(batch[0]["role"]?.label, "accounting-auditing")
        XCTAssertEqual(batch[1]["seniority"]?.label, "executive")
        let nb = model.classify(postings, algorithm: .nb, top: 2)
        XCTAssertNotEqual(nb.map { $0.heads.map(\.probability) }, batch.map { $0.heads.map(\.probability) })
        XCTAssertEqual(model.classify([], top: 1), [])
        // The ensemble: per label the mean of both algorithms' probabilities.
        let all = model.heads.map { $0.classes.count }.max() ?? 1
        let lrAll = model.classify(postings, top: all), nbAll = model.classify(postings, algorithm: .nb, top: all)
        let ensemble = model.classify(postings, algorithm: .ensemble, top: all)
        for i in postings.indices {
            for head in ensemble[i].heads {
                for entry in head.top {
                    let a = lrAll[i][head.head]?.top.first { $0.label == entry.label }?.probability ?? -1
                    let b = nbAll[i][head.head]?.top.first { $0.label == entry.label }?.probability ?? -1
                    XCTAssertEqual(entry.probability, (a + b) / 2, accuracy: 1e-6, "\(head.head) \(entry.label)")
                }
            }
        }
    }

    /// Thresholds and explanations through the public Predictor: below its threshold a head's label is
    /// `unknown` with the best label kept; explanations name features of the best label.
    func testPredictorAppliesThresholdsAndExplains() throws {
        let model = try JobLabelModel.load(Self.defaultModel)
        let posting = Posting(id: "1", title: Array("Junior Accountant".utf8),
                              text: Array("Entry level role for recent graduates: reconcile accounts and post journal entries.".utf8))
        let plain = try Predictor(model, options: LabelingOptions(explain: 2)).labels([posting]).labels[0]
        for head in plain.heads {
            XCTAssertTrue(head.isKnown)
            XCTAssertEqual(head.label, head.best)
            XCTAssertEqual(head.explanation.count, 2)
        }
        let strict = try Predictor(model, options: LabelingOptions(thresholds: .all(1))).labels([posting]).labels[0]
        for (a, b) in zip(strict.heads, plain.heads) where b.probability < 1 {
            XCTAssertFalse(a.isKnown)
            XCTAssertEqual(a.label, LabelDecision.unknown)
            XCTAssertEqual(a.best, b.best)
            XCTAssertTrue(a.explanation.isEmpty, "no explanation unless asked")
        }
        XCTAssertThrowsError(try Predictor(model, options: LabelingOptions(thresholds: .perHead(["salary": 0.5])))) { error in
            guard case JobLabelError.unknownHead("salary", let known) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(known, ["role", "seniority"])
        }
    }

    func testMissingModelIsATypedError() {
        XCTAssertThrowsError(try JobLabelModel.load("/nonexistent/joblabel-model")) { error in
            guard case JobLabelError.modelNotFound(let directory) = error, directory == "/nonexistent/joblabel-model" else { return XCTFail("expected modelNotFound, got \(error)") }
        }
    }

    func testTrainSaveLoadEvaluateWithThePublicAPI() throws {
        let rows: [(String, String, String)] = [
            ("Sales Intern", "summer internship selling software, students welcome", "internship"),
            ("Marketing Intern", "internship for students supporting campaigns", "internship"),
            ("Senior Account Executive", "close deals, 8+ years of b2b selling, lead the team", "mid-senior"),
            ("Senior Engineer", "8+ years building distributed systems, lead projects", "mid-senior"),
            ("Junior Sales Rep", "entry level role for recent graduates, cold calls", "entry"),
            ("Junior Developer", "entry level developer, graduates welcome", "entry"),
        ]
        let postings = rows.enumerated().map { i, r in
            Posting(id: "p\(i)", title: Array(r.0.utf8), text: Array(r.1.utf8), labels: [r.2])
        }
        var config = TrainingConfig.sklearn
        config.heads = ["seniority"]
        let model = try JobLabelModel.train(config, postings: postings, files: ["memory"])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("joblabel-library-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ModelBundle.save(model, to: dir)
        let loaded = try JobLabelModel.load(dir)
        let answer = loaded.classify(title: "Design Intern", text: "internship for students")
        XCTAssertEqual(answer["seniority"]?.label, "internship")
        XCTAssertEqual(answer["seniority"]?.top.count, 3)

        // Reports carry calibration, coverage and (for a seniority head) level errors.
        let result = Evaluator.evaluate(loaded, postings: postings, algorithms: [.lr])
        let report = try XCTUnwrap(result.entries.first?.report)
        XCTAssertEqual(report.confidences.count, postings.count)
        XCTAssertEqual(report.calibration?.bins.count, 10)
        XCTAssertEqual(report.coverage.map(\.threshold), CoveragePoint.defaultThresholds)
        XCTAssertEqual(report.ordinal?.levels, OrdinalScale.seniority.levels)
        XCTAssertTrue(result.html().contains("<svg"))

        let card = ModelCard(manifest: try ModelBundle.loadManifest(dir), model: loaded, termCount: 2)
        XCTAssertTrue(card.text(directory: dir).contains("head 'seniority': 3 labels"))

        // A settings search with a narrowed grid, then training with the best settings.
        let grid = AutotuneGrid(ngrams: [1], minDF: [.count(1)], sublinearTF: [false], title: [.concatenate], C: [0.1, 1],
                                classWeight: [.balanced], alpha: [1])
        let tuned = try JobLabelModel.train(config, postings: postings + postings.map { p in
            var q = p
            q.id += "b"
            q.title += Array(" II".utf8)
            return q
        }, files: ["memory"], autotune: AutotuneConfig(seconds: 60, metric: .accuracy, folds: 3, grid: grid))
        let search = try XCTUnwrap(tuned.autotune)
        XCTAssertEqual(search.trials.count, search.candidates)
        XCTAssertEqual(tuned.config.headSettings?["seniority"], search.heads.first?.settings)
    }
}
