import Foundation
import XCTest
@testable import JobLabel

/// A clock the test moves: `progress` advances it by one second per trial.
private final class TestClock: @unchecked Sendable {
    var now = 0.0
}

/// `train --autotune`: the settings search, its order and budget, per-head settings and the report.
final class AutotuneTests: XCTestCase {
    /// A small grid: 2 × 2 vectorizer settings, 2 logistic regression and 2 Naive Bayes settings per head.
    private let smallGrid = AutotuneGrid(ngrams: [1], minDF: [.count(1), .count(2)], sublinearTF: [true], title: [.weight(1), .weight(3)],
                                         C: [1, 10], classWeight: [.balanced], alpha: [0.01, 1])

    private func base() -> TrainingConfig {
        var c = TrainingConfig.product
        c.calibration = .none
        return c
    }

    /// Grid points nearest the reference first: fewest dimensions changed, then fewest steps, then index.
    func testCandidatesAreOrderedNearestFirst() {
        // sizes [2, 3]: index = 3 a + b; the reference (0, 1) is index 1.
        XCTAssertEqual(AutotuneGrid.ordered(sizes: [2, 3], from: 1), [1, 0, 2, 4, 3, 5])
        XCTAssertEqual(AutotuneGrid.ordered(sizes: [3], from: 2), [2, 1, 0])
        XCTAssertEqual(AutotuneGrid.coordinates(5, sizes: [2, 3]), [1, 2])
        XCTAssertEqual(AutotuneGrid.index([1, 2], sizes: [2, 3]), 5)
    }

    /// The starting settings are a point of the grid (added in sorted position when missing).
    func testTheGridHoldsTheStartingSettings() {
        var config = base()
        config.logisticRegression.C = 5
        config.vectorizer.titleWeight = 4
        let grid = smallGrid.including(config)
        XCTAssertEqual(grid.C, [1, 5, 10])
        XCTAssertEqual(grid.title, [.weight(1), .weight(3), .weight(4)])
        XCTAssertEqual(grid.minDF, [.count(1), .count(2)])
        let start = grid.vector(grid.vectorIndex(of: config))
        XCTAssertEqual(start.title, .weight(4))
        XCTAssertEqual(start.minDF, config.vectorizer.minDF)
        var experts = config
        experts.experts = .standard
        XCTAssertEqual(smallGrid.including(experts).title.last, .experts)
        XCTAssertEqual(AutotuneGrid.standard.including(TrainingConfig.product), AutotuneGrid.standard, "the defaults are in the standard grid")
    }

    /// With a budget large enough to finish: every trial, the starting settings first, the best of the whole
    /// grid chosen, and the same search on one thread and on two.
    func testAFinishedSearchTriesTheWholeGridFromTheStartAndIsReproducible() throws {
        let postings = syntheticCorpus(rowsPerClass: 15)
        let settings = AutotuneConfig(seconds: 1e6, metric: .macroF1, folds: 3, grid: smallGrid)
        let (config, report) = Autotune.search(base(), postings: postings, settings: settings, threads: 1)
        XCTAssertEqual(report.candidates, 4 * 2 * (2 + 2))
        XCTAssertEqual(report.trials.count, report.candidates)
        XCTAssertFalse(report.stoppedAtBudget)
        XCTAssertEqual(report.folds, 3)
        // First the starting settings: title weight 3, min-df 2; role's logistic regression C 10.
        XCTAssertTrue(report.vectors[0].title == .weight(3) && report.vectors[0].minDF == .count(2))
        let first = report.trials[0]
        XCTAssertEqual([first.head, first.classifier.rawValue], ["role", "lr"])
        XCTAssertEqual(first.C, 10)
        XCTAssertEqual(report.trials[1].head, "seniority")
        // The winner is the best vectorizer setting and, per head, the best trial on it.
        let winner = try XCTUnwrap(report.winner)
        let best = report.vectors.compactMap(\.score).max()
        XCTAssertEqual(report.vectors[winner].score, best)
        for h in report.heads {
            let onWinner = report.trials.filter { $0.vector == winner && $0.head == h.head }
            XCTAssertEqual(h.lrScore, onWinner.filter { $0.classifier == .lr }.map(\.score).max())
            XCTAssertEqual(h.nbScore, onWinner.filter { $0.classifier == .nb }.map(\.score).max())
            XCTAssertEqual(config.headSettings?[h.head], h.settings)
        }
        XCTAssertEqual(config.vectorizer.minDF, report.vectors[winner].minDF)
        // Reproducible, whatever the threads (times aside).
        let (again, twice) = Autotune.search(base(), postings: postings, settings: settings, threads: 2)
        XCTAssertEqual(again, config)
        XCTAssertEqual(twice.trials.map { [$0.score] + [$0.C ?? -1, $0.alpha ?? -1, Double($0.vector)] },
                       report.trials.map { [$0.score] + [$0.C ?? -1, $0.alpha ?? -1, Double($0.vector)] })
    }

    /// The budget is checked before each trial: with a clock that moves one second per trial, a 3.5 s
    /// budget allows four; a 0 s budget none, and the starting settings are kept.
    func testTheSearchStopsAtTheBudgetWithTheBestSoFar() {
        let postings = syntheticCorpus(rowsPerClass: 15)
        let clock = TestClock()
        let settings = AutotuneConfig(seconds: 3.5, metric: .accuracy, folds: 3, grid: smallGrid)
        let (config, report) = Autotune.search(base(), postings: postings, settings: settings, threads: 1, clock: { clock.now }) { stage in
            if case .autotune = stage { clock.now += 1 }
        }
        XCTAssertEqual(report.trials.count, 4)
        XCTAssertTrue(report.stoppedAtBudget)
        XCTAssertEqual(report.winner, 0, "both heads' logistic regression scored on the starting vectorizer setting")
        XCTAssertEqual(config.headSettings?["role"]?.C, 10)
        XCTAssertEqual(report.vectors.count, 1)

        let (kept, none) = Autotune.search(base(), postings: postings, settings: AutotuneConfig(seconds: 0, folds: 3, grid: smallGrid),
                                           clock: { 0 })
        XCTAssertEqual(kept, base())
        XCTAssertTrue(none.trials.isEmpty && none.stoppedAtBudget && none.winner == nil)
        XCTAssertTrue(none.summary.joined().contains("trained with the starting settings"), none.summary.joined())
    }

    /// The search's folds are grouped: with every ad posted five times and labels that the text cannot
    /// predict, scores stay near chance (a split that separated the copies would score near 1).
    func testTheSearchKeepsRepostsInOneFold() {
        var rng = SplitMix64(seed: 11)
        let words = (0..<200).map { "w\($0)" }
        var postings: [Posting] = []
        for ad in 0..<40 {
            let text = (0..<30).map { _ in words[Int(rng.next() % 200)] }.joined(separator: " ")
            let label = rng.next() % 2 == 0 ? "a" : "b"
            for copy in 0..<5 {
                postings.append(Posting(id: "\(ad)-\(copy)", title: Array("Ad \(ad)".utf8), text: Array(text.utf8), labels: [label]))
            }
        }
        var config = base()
        config.heads = ["topic"]
        config.vectorizer.minDF = .count(1)
        let grid = AutotuneGrid(ngrams: [1], minDF: [.count(1)], sublinearTF: [true], title: [.weight(3)], C: [10], classWeight: [.balanced],
                                alpha: [0.01])
        let (_, report) = Autotune.search(config, postings: postings, settings: AutotuneConfig(seconds: 1e6, metric: .accuracy, folds: 5, grid: grid))
        XCTAssertEqual(report.trials.count, 2)
        for trial in report.trials { XCTAssertLessThan(trial.score, 0.75, "\(trial)") }
        // The same data with every posting its own ad: the copies leak and the score is near 1.
        let unique = postings.map { p -> Posting in
            var q = p
            q.title = Array("\(String(decoding: p.title, as: UTF8.self)) \(p.id)".utf8)
            return q
        }
        let (_, leaky) = Autotune.search(config, postings: unique, settings: AutotuneConfig(seconds: 1e6, metric: .accuracy, folds: 5, grid: grid))
        XCTAssertGreaterThan(leaky.trials[0].score, 0.9)
    }

    /// A head's own settings replace the shared ones for that head only, and survive the bundle with the report.
    func testHeadSettingsReplaceTheSharedOnesForTheirHead() throws {
        let postings = syntheticCorpus(rowsPerClass: 15)
        var own = base()
        own.headSettings = ["seniority": HeadSettings(C: 0.5, classWeight: ClassWeight.none, alpha: 0.3)]
        var shared = base()
        shared.logisticRegression.C = 0.5
        shared.logisticRegression.classWeight = .none
        shared.naiveBayes.alpha = 0.3
        let a = try JobLabelModel.train(own, postings: postings, files: ["s"])
        let b = try JobLabelModel.train(shared, postings: postings, files: ["s"])
        let c = try JobLabelModel.train(base(), postings: postings, files: ["s"])
        XCTAssertEqual(a.heads[1].logisticRegression, b.heads[1].logisticRegression)
        XCTAssertEqual(a.heads[1].naiveBayes, b.heads[1].naiveBayes)
        XCTAssertNotEqual(a.heads[1].logisticRegression, c.heads[1].logisticRegression)
        XCTAssertEqual(a.heads[0].logisticRegression, c.heads[0].logisticRegression, "the other head keeps the shared settings")
        XCTAssertEqual(a.heads[0].naiveBayes, c.heads[0].naiveBayes)

        // With experts, each classifier's own (title, body) weights.
        var experts = base()
        experts.experts = .standard
        experts.headSettings = ["role": HeadSettings(lrExperts: [1.5, 0.5], nbExperts: [0.25, 1])]
        let e = try JobLabelModel.train(experts, postings: postings, files: ["s"])
        let roleExperts = try XCTUnwrap(e.heads[0].experts)
        XCTAssertEqual([roleExperts.lr.title, roleExperts.lr.body, roleExperts.nb.title, roleExperts.nb.body], [1.5, 0.5, 0.25, 1])

        // The bundle keeps the head settings and the search's report.
        var model = try JobLabelModel.train(own, postings: postings, files: ["s"],
                                            autotune: AutotuneConfig(seconds: 1e6, folds: 3, grid: smallGrid), threads: 1)
        XCTAssertNotNil(model.autotune)
        let dir = makeTempDirectory("joblabel-autotune")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ModelBundle.save(model, to: dir + "/m")
        let loaded = try ModelBundle.load(dir + "/m")
        XCTAssertEqual(loaded.config.headSettings, model.config.headSettings)
        XCTAssertEqual(loaded.autotune, model.autotune)
        XCTAssertEqual(try ModelBundle.encode(loaded).manifest, try ModelBundle.encode(model).manifest)
        model.autotune = nil
        XCTAssertFalse(String(decoding: try ModelBundle.encode(model).manifest, as: UTF8.self).contains("autotune"))
    }
}

/// `train --autotune` through the binary.
final class AutotuneEndToEndTests: XCTestCase {
    var dir = ""

    override func setUp() {
        dir = makeTempDirectory("joblabel-autotune-e2e")
        writeJSONL(syntheticCorpus(rowsPerClass: 12), to: dir + "/train.jsonl")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testAutotuneFinishesWithinItsBudgetAndTheManifestAndInspectShowTheSearch() throws {
        let started = Date()
        let r = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/m", "--autotune", "--autotune-seconds", "5",
                             "--calibration", "none"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 30)
        XCTAssertTrue(r.stderr.contains("autotune: ") && r.stderr.contains("settings tried in"), r.stderr)
        let manifest = try ModelBundle.loadManifest(dir + "/m")
        let search = try XCTUnwrap(manifest.autotune)
        XCTAssertLessThanOrEqual(search.seconds, 5.5)
        XCTAssertFalse(search.trials.isEmpty)
        XCTAssertEqual(search.folds, 5)
        let winner = try XCTUnwrap(search.winner)
        XCTAssertEqual(search.heads.map(\.head), ["role", "seniority"])
        for head in manifest.heads { XCTAssertEqual(head.settings, search.heads.first { $0.head == head.name }?.settings) }
        XCTAssertEqual(manifest.vectorizer.minDF, search.vectors[winner].minDF)

        let text = try CLI.run(["inspect", "--terms", "0", dir + "/m"])
        XCTAssertEqual(text.status, 0, text.stderr)
        for expected in ["autotune: \(search.trials.count) of \(search.candidates) settings tried", "  best: \(search.vectors[winner])",
                         "own settings (in place of the shared ones): lr C"] {
            XCTAssertTrue(text.stdout.contains(expected), "missing '\(expected)' in\n\(text.stdout)")
        }
        let json = try CLI.run(["inspect", "--json", "--terms", "0", dir + "/m"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let autotune = try XCTUnwrap(object["autotune"] as? [String: Any])
        XCTAssertEqual((autotune["trials"] as? [Any])?.count, search.trials.count)
        XCTAssertEqual(autotune["winner"] as? Int, winner)
        XCTAssertNotNil(autotune["stopped_at_budget"] as? Bool)
    }

    /// A 0 s budget tries nothing and trains with the starting settings: the same weights as without --autotune.
    func testAZeroSecondBudgetTrainsWithTheStartingSettings() throws {
        let r = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/zero", "--autotune", "--autotune-seconds", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("0 of ") && r.stderr.contains("trained with the starting settings"), r.stderr)
        XCTAssertEqual(try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/plain"]).status, 0)
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/zero/weights.bin"), FileManager.default.contents(atPath: dir + "/plain/weights.bin"))
        let search = try XCTUnwrap(try ModelBundle.loadManifest(dir + "/zero").autotune)
        XCTAssertTrue(search.trials.isEmpty && search.stoppedAtBudget && search.winner == nil)
    }

    func testAutotuneOptionsAreChecked() throws {
        let lone = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/m", "--autotune-seconds", "5"])
        XCTAssertEqual(lone.status, 64)
        XCTAssertTrue(lone.stderr.contains("--autotune-seconds goes with --autotune"), lone.stderr)
        let typo = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/m", "--autotune", "--autotune-grid", "ngram=1,2"])
        XCTAssertEqual(typo.status, 64)
        XCTAssertTrue(typo.stderr.contains("did you mean 'ngrams'"), typo.stderr)
        let bad = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/m", "--autotune", "--autotune-grid", "C=1,-3"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("'-3'"), bad.stderr)
        let metric = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/m", "--autotune", "--autotune-metric", "f1"])
        XCTAssertEqual(metric.status, 64, metric.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/m"))
    }

    /// `evaluate --cv` keeps reposts of one ad in one fold, and says so: labels the text cannot predict score
    /// near chance although every ad is posted five times.
    func testEvaluateCrossValidationIsGrouped() throws {
        var rng = SplitMix64(seed: 5)
        var lines: [String] = []
        for ad in 0..<30 {
            let text = (0..<30).map { _ in "w\(rng.next() % 200)" }.joined(separator: " ")
            let label = rng.next() % 2 == 0 ? "a" : "b"
            for copy in 0..<5 { lines.append("{\"id\": \"\(ad)-\(copy)\", \"title\": \"Ad \(ad)\", \"text\": \"\(text)\", \"topic\": \"\(label)\"}") }
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/reposts.jsonl", atomically: true, encoding: .utf8)
        let r = try CLI.run(["evaluate", "--cv", "5", "--data", dir + "/reposts.jsonl", "--labels", "topic", "--calibration", "none",
                             "--algorithm", "lr", "--format", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("5-fold cross-validation, grouped") && r.stderr.contains("30 groups in 150 postings"), r.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let lr = try XCTUnwrap(((object["heads"] as? [String: Any])?["topic"] as? [String: Any])?["lr"] as? [String: Any])
        XCTAssertLessThan(try XCTUnwrap(lr["accuracy"] as? Double), 0.75)
    }

    /// A narrowed grid that finishes: the whole grid, recorded as searched.
    func testANarrowedGridIsSearchedWhole() throws {
        let r = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/m", "--calibration", "none", "--autotune",
                             "--autotune-grid", "ngrams=1", "--autotune-grid", "min-df=1,2", "--autotune-grid", "sublinear-tf=on",
                             "--autotune-grid", "title=3,experts", "--autotune-grid", "C=1,10", "--autotune-grid", "class-weight=balanced",
                             "--autotune-grid", "alpha=0.01", "--autotune-folds", "3", "--autotune-metric", "accuracy"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let search = try XCTUnwrap(try ModelBundle.loadManifest(dir + "/m").autotune)
        XCTAssertEqual(search.candidates, 2 * 2 * 2 * (2 + 1))
        XCTAssertEqual(search.trials.count, search.candidates, r.stderr)
        XCTAssertFalse(search.stoppedAtBudget)
        XCTAssertEqual(search.metric, .accuracy)
        XCTAssertEqual(search.folds, 3)
        XCTAssertEqual(search.grid.title, [.weight(3), .experts])
        XCTAssertTrue(search.trials.filter { search.vectors[$0.vector].title == .experts }.allSatisfy { $0.experts?.count == 2 })
    }
}
