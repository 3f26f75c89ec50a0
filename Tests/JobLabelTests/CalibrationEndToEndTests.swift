import Foundation
import XCTest
@testable import JobLabel
@testable import JobLabelCLI

/// Calibration, thresholds, explanations, the ensemble and progress, through the built binary.
final class CalibrationEndToEndTests: XCTestCase {
    var dir = ""

    override func setUp() {
        dir = makeTempDirectory("joblabel-e2e-calibration")
        writeJSONL(syntheticCorpus(), to: dir + "/train.jsonl")
        writeJSONL(syntheticCorpus(rowsPerClass: 8, seed: 99), to: dir + "/test.jsonl")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func train(_ extra: [String] = [], out: String = "model") throws -> CLI.Result {
        let r = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/" + out] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r
    }

    private func jsonLines(_ s: String) throws -> [[String: Any]] {
        try s.split(separator: "\n").map { try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    func testTrainCalibratesAndInspectShowsIt() throws {
        let t = try train()
        for expected in ["calibrated on 27 held-out rows: temperature nb ", "held-out ECE nb ", " -> ", "ensemble ",
                         "thresholds for precision 0.80: nb "] {
            XCTAssertTrue(t.stderr.contains(expected), "missing '\(expected)' in\n\(t.stderr)")
        }
        XCTAssertFalse(t.stderr.contains("joblabel train:"), "a short run prints no progress lines")
        let manifest = try ModelBundle.loadManifest(dir + "/model")
        XCTAssertEqual(manifest.calibration, .temperature)
        let c = try XCTUnwrap(manifest.heads[1].calibration)
        let i = try CLI.run(["inspect", dir + "/model"])
        XCTAssertEqual(i.status, 0, i.stderr)
        for expected in ["calibration: temperature scaling on 15 % of each label's rows held out; per-label thresholds for precision 0.80",
                         String(format: "calibration: temperature nb %.4f, lr %.4f, fitted on 27 held-out rows", c.nb.temperature ?? 0, c.lr.temperature ?? 0),
                         String(format: "lr %.4f -> %.4f", c.lr.eceBefore, c.lr.eceAfter), "   threshold nb ", "training ensemble: accuracy"] {
            XCTAssertTrue(i.stdout.contains(expected), "missing '\(expected)' in\n\(i.stdout)")
        }
        // --calibration none and the sklearn preset: no held-out split, no thresholds, T = 1.
        for flags in [["--calibration", "none"], ["--preset", "sklearn"], ["--calibration", "temperature", "--preset", "sklearn"]] {
            let r = try train(flags, out: "plain")
            XCTAssertFalse(r.stderr.contains("calibrated on"), r.stderr)
            XCTAssertEqual(try ModelBundle.loadManifest(dir + "/plain").calibration?.method, CalibrationMethod.none, "\(flags)")
            XCTAssertTrue(try CLI.run(["inspect", dir + "/plain"]).stdout.contains("calibration: none (T = 1, no thresholds): trained without calibration"))
        }
        // Options of the split and the thresholds are checked and stored.
        _ = try train(["--held-out", "0.2", "--target-precision", "0.9"], out: "other")
        let other = try ModelBundle.loadManifest(dir + "/other")
        XCTAssertEqual(other.calibration, CalibrationConfig(method: .temperature, heldOutFraction: 0.2, targetPrecision: 0.9))
        XCTAssertEqual(other.heads[0].calibration?.heldOutRows, 36)
        for bad in [["--held-out", "0.9"], ["--target-precision", "0"], ["--calibration", "platt"]] {
            let r = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/bad"] + bad)
            XCTAssertEqual(r.status, 64, "\(bad): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(bad[0]), r.stderr)
        }
        // Too small a corpus trains, with a note instead of calibration.
        writeTinyCorpusJSONL(to: dir + "/tiny.jsonl")
        let tiny = try CLI.run(["train", "--data", dir + "/tiny.jsonl", "--out", dir + "/tiny"])
        XCTAssertEqual(tiny.status, 0, tiny.stderr)
        XCTAssertTrue(tiny.stderr.contains("not calibrated: too few rows to calibrate: 9 labeled rows give no held-out rows"), tiny.stderr)
    }

    func testExplainInEveryFormat() throws {
        _ = try train()
        let j = try CLI.run(["classify", "--model", dir + "/model", "--explain", "3", dir + "/test.jsonl"])
        XCTAssertEqual(j.status, 0, j.stderr)
        let lines = try jsonLines(j.stdout)
        XCTAssertEqual(lines.count, 24)
        let model = try ModelBundle.load(dir + "/model")
        for line in lines {
            for head in ["role", "seniority"] {
                let items = try XCTUnwrap((line[head] as? [String: Any])?["explain"] as? [[String: Any]])
                XCTAssertEqual(items.count, 3)
                let weights = items.compactMap { $0["weight"] as? Double }
                XCTAssertEqual(weights, weights.sorted(by: >))
                for item in items {
                    let feature = try XCTUnwrap(item["feature"] as? String)
                    XCTAssertGreaterThanOrEqual(model.vectorizer.vocabulary.lookup(feature), 0, "\(feature) is a vocabulary entry")
                }
            }
        }
        // Title features take part: some posting's top features include one.
        XCTAssertTrue(j.stdout.contains("\"feature\": \"title:"), j.stdout)
        let csv = try CLI.run(["classify", "--model", dir + "/model", "--explain", "2", "--format", "csv", dir + "/test.jsonl"])
        XCTAssertEqual(csv.status, 0, csv.stderr)
        let rows = csv.stdout.split(separator: "\n")
        XCTAssertEqual(rows[0], "id,role,role_probability,role_explain,seniority,seniority_probability,seniority_explain")
        let pair = try NSRegularExpression(pattern: #"^[^,;]+:-?[0-9]+\.[0-9]{4};[^,;]+:-?[0-9]+\.[0-9]{4}$"#)
        for row in rows.dropFirst() {
            let fields = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            XCTAssertEqual(fields.count, 7, String(row))
            for f in [fields[3], fields[6]] {
                XCTAssertEqual(pair.numberOfMatches(in: f, range: NSRange(f.startIndex..., in: f)), 1, f)
            }
        }
        let text = try CLI.run(["classify", "--model", dir + "/model", "--explain", "1", "--format", "text", "--algorithm", "nb", dir + "/test.jsonl"])
        XCTAssertEqual(text.status, 0, text.stderr)
        for line in text.stdout.split(separator: "\n") {
            XCTAssertEqual(line.components(separatedBy: " [").count, 3, "one list per head: \(line)")
            XCTAssertTrue(line.hasSuffix("]"), String(line))
        }
        // Without --explain the output is as before.
        let plain = try CLI.run(["classify", "--model", dir + "/model", dir + "/test.jsonl"])
        XCTAssertFalse(plain.stdout.contains("explain"))
        XCTAssertEqual(try CLI.run(["classify", "--model", dir + "/model", "--explain", "0", dir + "/test.jsonl"]).status, 64)
    }

    func testThresholdsGiveUnknownAndKeepTheBestLabel() throws {
        _ = try train()
        let all = try CLI.run(["classify", "--model", dir + "/model", "--threshold", "1", dir + "/test.jsonl"])
        XCTAssertEqual(all.status, 0, all.stderr)
        for line in try jsonLines(all.stdout) {
            for head in ["role", "seniority"] {
                let h = try XCTUnwrap(line[head] as? [String: Any])
                if (h["probability"] as? Double ?? 1) < 1 {
                    XCTAssertEqual(h["label"] as? String, "unknown")
                    XCTAssertNotNil(h["best"] as? String)
                }
            }
        }
        let one = try CLI.run(["classify", "--model", dir + "/model", "--threshold", "seniority=1", "--format", "csv", dir + "/test.jsonl"])
        XCTAssertEqual(one.status, 0, one.stderr)
        let rows = one.stdout.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(rows[0], ["id", "role", "role_probability", "role_best", "seniority", "seniority_probability", "seniority_best"])
        for r in rows.dropFirst() {
            XCTAssertEqual(r[1], r[3], "role has no threshold: its label is the best one")
            XCTAssertTrue(r[4] == "unknown" || r[5] == "1.0000", r.joined(separator: ","))
        }
        // The bundle's per-class thresholds: a label is given only at or above its own threshold.
        let model = try ModelBundle.load(dir + "/model")
        for algorithm in Algorithm.allCases {
            let m = try CLI.run(["classify", "--model", dir + "/model", "--threshold", "manifest", "--algorithm", algorithm.rawValue, dir + "/test.jsonl"])
            XCTAssertEqual(m.status, 0, m.stderr)
            for line in try jsonLines(m.stdout) {
                for head in model.heads {
                    let h = try XCTUnwrap(line[head.name] as? [String: Any])
                    let best = try XCTUnwrap((h["best"] ?? h["label"]) as? String)
                    let p = try XCTUnwrap(h["probability"] as? Double)
                    let c = try XCTUnwrap(head.classes.firstIndex(of: best))
                    let threshold = try XCTUnwrap(head.calibration).algorithm(algorithm).thresholds[c]
                    // p is printed with 4 decimals, hence the tolerance.
                    if h["best"] != nil {
                        XCTAssertEqual(h["label"] as? String, "unknown")
                        if let threshold { XCTAssertLessThanOrEqual(p, threshold + 5e-5, "\(algorithm) \(head.name): \(line)") }
                    } else {
                        let t = try XCTUnwrap(threshold, "\(algorithm) \(head.name): \(best) is given, so it has a threshold")
                        XCTAssertGreaterThanOrEqual(p, t - 5e-5, "\(algorithm) \(head.name): \(best)")
                    }
                }
            }
        }
        for bad in ["2", "level=0.5", "role=", "manifests"] {
            let r = try CLI.run(["classify", "--model", dir + "/model", "--threshold", bad, dir + "/test.jsonl"])
            XCTAssertEqual(r.status, 64, "\(bad): \(r.stderr)")
            XCTAssertEqual(r.stdout, "")
        }
        _ = try train(["--calibration", "none"], out: "plain")
        let none = try CLI.run(["classify", "--model", dir + "/plain", "--threshold", "manifest", dir + "/test.jsonl"])
        XCTAssertEqual(none.status, 64)
        XCTAssertTrue(none.stderr.contains("stores no thresholds (trained with --calibration none"), none.stderr)
    }

    func testEnsembleInClassifyAndEvaluateWithTheModelsThresholds() throws {
        _ = try train()
        let e = try CLI.run(["classify", "--model", dir + "/model", "--algorithm", "ensemble", "--top", "3", dir + "/test.jsonl"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let nb = try jsonLines(try CLI.run(["classify", "--model", dir + "/model", "--algorithm", "nb", "--top", "3", dir + "/test.jsonl"]).stdout)
        let lr = try jsonLines(try CLI.run(["classify", "--model", dir + "/model", "--algorithm", "lr", "--top", "3", dir + "/test.jsonl"]).stdout)
        func probabilities(_ line: [String: Any], _ head: String) -> [String: Double] {
            let top = ((line[head] as? [String: Any])?["top"] as? [[String: Any]]) ?? []
            return Dictionary(uniqueKeysWithValues: top.map { ($0["label"] as? String ?? "", $0["probability"] as? Double ?? -1) })
        }
        for (i, line) in try jsonLines(e.stdout).enumerated() {
            for head in ["role", "seniority"] {
                let a = probabilities(nb[i], head), b = probabilities(lr[i], head)
                for (label, p) in probabilities(line, head) {
                    XCTAssertEqual(p, ((a[label] ?? -9) + (b[label] ?? -9)) / 2, accuracy: 2e-4, "\(head) \(label)")
                }
            }
        }
        let report = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/test.jsonl", "--format", "json"])
        XCTAssertEqual(report.status, 0, report.stderr)
        let heads = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])?["heads"] as? [String: [String: Any]])
        for head in ["role", "seniority"] {
            XCTAssertEqual(Set(try XCTUnwrap(heads[head]).keys), ["nb", "lr", "ensemble"])
            for algorithm in ["nb", "lr", "ensemble"] {
                let entry = try XCTUnwrap(heads[head]?[algorithm] as? [String: Any])
                let t = try XCTUnwrap(entry["manifest_thresholds"] as? [String: Any], "\(head)/\(algorithm)")
                XCTAssertEqual(t["target_precision"] as? Double, 0.8)
                XCTAssertEqual(t["labels"] as? Int, 3)
                XCTAssertLessThanOrEqual(t["n"] as? Int ?? 99, 24)
            }
        }
        // The HTML report: the ensemble beside NB and LR, and the model's thresholds under the coverage table.
        let page = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/test.jsonl", "--html", dir + "/report.html"])
        XCTAssertEqual(page.status, 0, page.stderr)
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        let (outline, problem) = XMLOutline.parse(html)
        let parsed = try XCTUnwrap(outline, problem)
        XCTAssertEqual(parsed.all("svg", class: "confusion").count, 6)
        XCTAssertEqual(parsed.all("tr", class: "model-thresholds").count, 2, "one row per head")
        XCTAssertTrue(html.contains("<td>model's thresholds</td>"))
        let only = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/test.jsonl", "--algorithm", "ensemble"])
        XCTAssertEqual(only.status, 0, only.stderr)
        XCTAssertTrue(only.stdout.contains("== seniority / ensemble =="), only.stdout)
        XCTAssertFalse(only.stdout.contains("/ lr =="))
        XCTAssertTrue(only.stdout.contains("the model's per-label thresholds (target precision 0.80; labels with one: "), only.stdout)
        XCTAssertEqual(try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/test.jsonl", "--algorithm", "svm"]).status, 64)
        // Cross-validation trains calibrated fold models and scores the ensemble too.
        let cv = try CLI.run(["evaluate", "--cv", "3", "--data", dir + "/train.jsonl", "--format", "json"])
        XCTAssertEqual(cv.status, 0, cv.stderr)
        XCTAssertTrue(cv.stdout.contains("\"ensemble\": {\"n\": 180"), String(cv.stdout.prefix(300)))
    }

    func testProgressLinesOnlyForLongRunsAndNeverWithQuiet() throws {
        // JOBLABEL_PROGRESS_INTERVAL=0 prints at every update, as a long run would every 5 s.
        let env = ["JOBLABEL_PROGRESS_INTERVAL": "0"]
        let size = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: dir + "/train.jsonl")[.size] as? Int)
        let t = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/model"], environment: env)
        XCTAssertEqual(t.status, 0, t.stderr)
        for expected in ["joblabel train: reading; ", "of \(ProgressMeter.byteCount(Int64(size))) (", "joblabel train: vectorizing 180 postings",
                         "joblabel train: role: logistic regression on the calibration split, Newton iteration 1 (at most 200)",
                         "joblabel train: seniority: logistic regression on all rows, Newton iteration",
                         "joblabel train: role: fitting temperatures and thresholds on 27 held-out rows",
                         "joblabel train: saving the model", "joblabel train: done in "] {
            XCTAssertTrue(t.stderr.contains(expected), "missing '\(expected)' in\n\(t.stderr)")
        }
        XCTAssertTrue(t.stderr.contains("\ntrained on 180 postings"), "the summary follows the progress")
        let quiet = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/model", "--quiet"], environment: env)
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        XCTAssertFalse(quiet.stderr.contains("joblabel train:"), quiet.stderr)
        XCTAssertTrue(quiet.stderr.hasPrefix("trained on 180 postings"), quiet.stderr)

        let plain = try CLI.run(["classify", "--model", dir + "/model", dir + "/train.jsonl"])
        XCTAssertEqual(plain.stderr, "", "a short run's stderr stays clean")
        let c = try CLI.run(["classify", "--model", dir + "/model", "--batch", "50", dir + "/train.jsonl"], environment: env)
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertEqual(c.stdout, plain.stdout, "progress never touches stdout")
        for expected in ["joblabel classify: labeling; ", "of \(ProgressMeter.byteCount(Int64(size)))", "/s", "50 postings", "100 postings", "180 postings"] {
            XCTAssertTrue(c.stderr.contains(expected), "missing '\(expected)' in\n\(c.stderr)")
        }
        let q = try CLI.run(["classify", "--model", dir + "/model", "--quiet", "--batch", "50", dir + "/train.jsonl"], environment: env)
        XCTAssertEqual(q.stderr, "")
        // Standard input has no size: postings, bytes unknown, no share.
        let stdin = try CLI.run(["classify", "--model", dir + "/model", "--batch", "50"], stdin: try String(contentsOfFile: dir + "/train.jsonl", encoding: .utf8), environment: env)
        XCTAssertTrue(stdin.stderr.contains("180 postings"), stdin.stderr)
        XCTAssertFalse(stdin.stderr.contains(" %)"), stdin.stderr)
    }
}
