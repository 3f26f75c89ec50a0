import Foundation
import XCTest
@testable import JobLabel

/// Temperature scaling, the held-out split, per-class thresholds, and how train, the bundle and the
/// predictor use them.
final class CalibrationTests: XCTestCase {
    /// Labels drawn from softmax(s / 2): the fitted temperature comes out near 2, and it minimises the loss.
    func testFitTemperatureRecoversTheTemperatureOfTheLabels() {
        var rng = SplitMix64(seed: 3)
        func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
        let k = 3, n = 6000
        var scores: [Double] = [], y: [Int] = []
        for _ in 0..<n {
            let s = (0..<k).map { _ in uniform() * 8 - 4 }
            let p = referenceSoftmax(s, k: k, temperature: 2)
            var u = uniform(), c = 0
            while c < k - 1 && u > p[c] { u -= p[c]; c += 1 }
            scores += s
            y.append(c)
        }
        let t = TemperatureScaling.fitTemperature(scores: scores, y: y, k: k)
        XCTAssertEqual(t, 2, accuracy: 0.15)
        let loss = { (t: Double) in TemperatureScaling.logLoss(calibratedSoftmax(scores, classes: k, inverseTemperature: 1 / t), y: y, k: k) }
        XCTAssertLessThan(loss(t), loss(t * 0.9))
        XCTAssertLessThan(loss(t), loss(t * 1.1))
        XCTAssertLessThan(loss(t), loss(1))
        // Rounded to 4 decimals, the same on every run.
        XCTAssertEqual(t, (t * 10_000).rounded() / 10_000)
        XCTAssertEqual(TemperatureScaling.fitTemperature(scores: scores, y: y, k: k), t)
    }

    func testFitTemperatureEdgeCases() {
        // Always right with growing margins: sharpening lowers the loss without end, so T hits its floor.
        XCTAssertEqual(TemperatureScaling.fitTemperature(scores: [2, 0, 3, 0], y: [0, 0], k: 2), TemperatureScaling.temperatureRange.lowerBound)
        // Always wrong: the flattest probabilities are best.
        XCTAssertEqual(TemperatureScaling.fitTemperature(scores: [2, 0, 0, 3], y: [1, 0], k: 2), TemperatureScaling.temperatureRange.upperBound)
        XCTAssertEqual(TemperatureScaling.fitTemperature(scores: [], y: [], k: 2), 1)
    }

    func testHeldOutRowsAreStratifiedSeededAndSkipUnlabeledRows() {
        // Class 0: 20 rows, class 1: 10 rows, class 2: 6 rows (too few to give one at 15 %), 4 unlabeled.
        let y: [Int32] = Array(repeating: 0, count: 20) + Array(repeating: 1, count: 10) + Array(repeating: 2, count: 6) + Array(repeating: -1, count: 4)
        let a = TemperatureScaling.heldOutRows(y, classCount: 3, fraction: 0.15, seed: 42)
        XCTAssertEqual(a.filter { y[$0] == 0 }.count, 3)
        XCTAssertEqual(a.filter { y[$0] == 1 }.count, 1)
        XCTAssertEqual(a.filter { y[$0] == 2 }.count, 0)
        XCTAssertEqual(a, a.sorted())
        XCTAssertEqual(TemperatureScaling.heldOutRows(y, classCount: 3, fraction: 0.15, seed: 42), a, "same seed, same rows")
        let others = (0..<20).map { TemperatureScaling.heldOutRows(y, classCount: 3, fraction: 0.15, seed: UInt64($0)) }
        XCTAssertGreaterThan(Set(others).count, 5, "the seed picks the rows")
    }

    func testTooSmallSplitsAreNamed() {
        XCTAssertNil(TemperatureScaling.tooSmall(heldOut: 20, classes: 2, labeled: 140, fraction: 0.15))
        let few = TemperatureScaling.tooSmall(heldOut: 3, classes: 2, labeled: 20, fraction: 0.15)
        XCTAssertTrue(few?.contains("20 labeled rows give 3 held-out rows of 2 labels") == true, few ?? "nil")
        XCTAssertTrue(few?.contains("T = 1") == true)
        XCTAssertNotNil(TemperatureScaling.tooSmall(heldOut: 40, classes: 1, labeled: 300, fraction: 0.15))
    }

    func testThresholdIsTheSmallestProbabilityReachingTheTargetPrecision() {
        // Class 0 is predicted for six rows; right at 0.9, 0.8, 0.6; wrong at 0.7, 0.5, 0.4.
        // Precision from the top: 1/1, 2/2, 2/3, 3/4, 3/5, 3/6: 0.75 is reached at 0.6 (with ≥ 3 rows).
        // Class 1 is predicted twice, right both times: too few rows for a threshold.
        let confidences = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
        var p: [Double] = [], y: [Int] = []
        for (i, c) in confidences.enumerated() {
            p += [c, (1 - c) / 2, (1 - c) / 2]
            y.append([0, 1, 3].contains(i) ? 0 : 2)
        }
        p += [0.1, 0.8, 0.1, 0.05, 0.9, 0.05]
        y += [1, 1]
        let t = TemperatureScaling.thresholds(p, y: y, k: 3, targetPrecision: 0.75)
        XCTAssertEqual(t[0] ?? -1, 0.6, accuracy: 1e-9)
        XCTAssertNil(t[1], "two rows are too few")
        XCTAssertNil(t[2], "never predicted")
        XCTAssertEqual(TemperatureScaling.thresholds(p, y: y, k: 3, targetPrecision: 0.5)[0] ?? -1, 0.4, accuracy: 1e-9)
        XCTAssertNil(TemperatureScaling.thresholds(p, y: y, k: 3, targetPrecision: 1)[0], "never all right with 3 rows or more")
    }

    func testTrainingCalibratesEachHeadAndStaysReproducible() throws {
        let postings = syntheticCorpus()
        let model = try JobLabelModel.train(calibratedConfig(), postings: postings, files: ["synthetic"], threads: 1)
        for head in model.heads {
            let c = try XCTUnwrap(head.calibration, head.calibrationNote ?? "")
            XCTAssertEqual(c.heldOutRows, 27, "floor(60 · 0.15) rows of each of three labels")
            XCTAssertEqual(c.targetPrecision, 0.8)
            for algorithm in Algorithm.allCases { XCTAssertEqual(c.algorithm(algorithm).thresholds.count, head.classes.count) }
            for algorithm in Algorithm.classifiers {
                let a = c.algorithm(algorithm)
                XCTAssertLessThanOrEqual(a.logLossAfter, a.logLossBefore + 1e-9, "\(head.name)/\(algorithm): fitted T never raises the held-out loss")
            }
            XCTAssertLessThan(c.nb.logLossAfter, c.nb.logLossBefore, "\(head.name): NB's T is not 1, so it lowers the held-out loss")
            XCTAssertNil(c.ensemble.temperature)
            XCTAssertNotEqual(head.temperature(.lr), 1)
            XCTAssertEqual(head.temperature(.ensemble), 1)
        }
        let again = try JobLabelModel.train(calibratedConfig(), postings: postings, files: ["synthetic"], threads: 2)
        XCTAssertEqual(try ModelBundle.encode(model).weights, try ModelBundle.encode(again).weights)
        XCTAssertEqual(try ModelBundle.encode(model).manifest, try ModelBundle.encode(again).manifest)
        // The final LR starts from the held-out split's solution and reaches the same optimum as a cold start.
        var none = calibratedConfig()
        none.calibration = .none
        let cold = try JobLabelModel.train(none, postings: postings, files: ["synthetic"])
        XCTAssertNil(cold.heads[0].calibration)
        let x = model.vectorizer.transform(postings)
        for h in 0..<2 {
            let warm = referenceSoftmax(referenceScores(model.heads[h].logisticRegression, x), k: 3, temperature: 1)
            let start = referenceSoftmax(referenceScores(cold.heads[h].logisticRegression, x), k: 3, temperature: 1)
            let gap = zip(warm, start).map { abs($0 - $1) }.max() ?? 1
            XCTAssertLessThan(gap, 0.01, "head \(h): warm and cold starts converge to the same model")
            XCTAssertEqual(argmaxRows(warm.map(Float.init), classes: 3), argmaxRows(start.map(Float.init), classes: 3))
        }
        XCTAssertNotEqual(try ModelBundle.encode(model).manifest, try ModelBundle.encode(cold).manifest)
    }

    func testSmallCorporaTrainWithoutCalibrationAndSayWhy() throws {
        let model = try JobLabelModel.train(calibratedConfig(), postings: tinyCorpus(), files: ["tiny"])
        for head in model.heads {
            XCTAssertNil(head.calibration)
            XCTAssertTrue(head.calibrationNote?.contains("too few rows to calibrate") == true, head.calibrationNote ?? "nil")
            XCTAssertEqual(head.temperature(.lr), 1)
        }
    }

    /// classify's probabilities are softmax(scores / T); the ensemble's are the mean of NB's and LR's.
    func testPredictorDividesScoresByTheTemperatureAndAveragesForTheEnsemble() throws {
        let postings = syntheticCorpus()
        let model = try JobLabelModel.train(calibratedConfig(), postings: postings, files: ["synthetic"])
        let x = model.vectorizer.transform(postings)
        let nb = model.probabilities(postings, algorithm: .nb), lr = model.probabilities(postings, algorithm: .lr)
        let ensemble = model.probabilities(postings, algorithm: .ensemble)
        for (h, head) in model.heads.enumerated() {
            let k = head.classes.count
            for (algorithm, predicted) in [(Algorithm.nb, nb[h]), (.lr, lr[h])] {
                let expected = referenceSoftmax(referenceScores(head.model(algorithm), x), k: k, temperature: head.temperature(algorithm))
                for i in 0..<expected.count { XCTAssertEqual(Double(predicted[i]), expected[i], accuracy: 1e-5) }
            }
            for i in 0..<(postings.count * k) {
                XCTAssertEqual(ensemble[h][i], (nb[h][i] + lr[h][i]) / 2, accuracy: 1e-6)
            }
            // The decisions the library returns carry those probabilities.
            let decisions = model.decisions(postings, algorithm: .ensemble)[h]
            for i in postings.indices {
                let best = argmax(ensemble[h], row: i, classes: k)
                XCTAssertEqual(decisions[i].best, head.classes[best])
                XCTAssertEqual(decisions[i].probability, Double(ensemble[h][i * k + best]))
            }
        }
    }

    func testCalibrationRoundTripsThroughTheBundleAndOldBundlesLoadWithTemperatureOne() throws {
        let dir = makeTempDirectory("joblabel-calibration")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try JobLabelModel.train(calibratedConfig(), postings: syntheticCorpus(), files: ["synthetic"])
        try ModelBundle.save(model, to: dir + "/m")
        let loaded = try ModelBundle.load(dir + "/m")
        XCTAssertEqual(loaded.heads.map(\.calibration), model.heads.map(\.calibration))
        XCTAssertEqual(loaded.config.calibration, .temperature)
        XCTAssertEqual(loaded.probabilities(syntheticCorpus(), algorithm: .ensemble)[1],
                       model.probabilities(syntheticCorpus(), algorithm: .ensemble)[1])
        let manifest = try String(contentsOfFile: dir + "/m/manifest.json", encoding: .utf8)
        for key in ["\"calibration\" : {", "\"held_out_rows\" : 27", "\"ece_before\"", "\"ece_after\"", "\"temperature\"", "\"thresholds\" : ["] {
            XCTAssertTrue(manifest.contains(key), "manifest lacks \(key)")
        }

        // A bundle written before calibration existed: the same manifest without the new keys.
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(manifest.utf8)) as? [String: Any])
        object["calibration"] = nil
        object["heads"] = (object["heads"] as? [[String: Any]])?.map { h -> [String: Any] in
            var h = h
            h["calibration"] = nil
            h["calibration_note"] = nil
            return h
        }
        try writeManifest(object, to: dir + "/m/manifest.json")
        let old = try ModelBundle.load(dir + "/m")
        XCTAssertTrue(old.heads.allSatisfy { $0.calibration == nil && $0.temperature(.lr) == 1 && $0.temperature(.nb) == 1 })
        XCTAssertEqual(old.config.calibration.method, .none)
        let card = ModelCard(manifest: try ModelBundle.loadManifest(dir + "/m"), model: old, termCount: 0).text(directory: dir + "/m")
        XCTAssertTrue(card.contains("calibration: none (T = 1, no thresholds): the bundle predates calibration"), card)
        XCTAssertTrue(card.contains("  calibration: none, T = 1"), card)
        // Without calibration the probabilities are the plain softmax of the scores.
        let x = old.vectorizer.transform(syntheticCorpus())
        let plain = referenceSoftmax(referenceScores(old.heads[0].model(.lr), x), k: 3, temperature: 1)
        let p = old.probabilities(syntheticCorpus(), algorithm: .lr)[0]
        for i in 0..<plain.count { XCTAssertEqual(Double(p[i]), plain[i], accuracy: 1e-5) }
    }

    func testDamagedCalibrationIsRefusedNamingTheField() throws {
        let dir = makeTempDirectory("joblabel-calibration")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ModelBundle.save(try JobLabelModel.train(calibratedConfig(), postings: syntheticCorpus(), files: ["synthetic"]), to: dir + "/m")
        let text = try String(contentsOfFile: dir + "/m/manifest.json", encoding: .utf8)
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        var heads = try XCTUnwrap(object["heads"] as? [[String: Any]])
        var calibration = try XCTUnwrap(heads[1]["calibration"] as? [String: Any])
        var lr = try XCTUnwrap(calibration["lr"] as? [String: Any])
        lr["temperature"] = -2
        calibration["lr"] = lr
        heads[1]["calibration"] = calibration
        object["heads"] = heads
        try writeManifest(object, to: dir + "/m/manifest.json")
        XCTAssertThrowsError(try ModelBundle.load(dir + "/m")) { error in
            XCTAssertEqual(exitCode(of: error), 65)
            XCTAssertTrue("\(error)".contains("field 'heads[1].calibration.lr.temperature'"), "\(error)")
        }
    }

    /// Writes a manifest object as the bundle does (pretty, sorted keys) with a correct checksum.
    private func writeManifest(_ object: [String: Any], to path: String) throws {
        var o = object
        o["manifest_crc32"] = "00000000"
        var bytes = Array(try JSONSerialization.data(withJSONObject: o, options: [.prettyPrinted, .sortedKeys])) + [0x0A]
        // JSONSerialization writes `"key" : value` like JSONEncoder; re-stamp the checksum in place.
        let at = try XCTUnwrap(manifestChecksumOffsets(bytes).first, String(decoding: bytes.prefix(200), as: UTF8.self))
        let crc = Array(String(format: "%08x", CRC32.checksum(bytes)).utf8)
        bytes.replaceSubrange(at..<(at + 8), with: crc)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}
