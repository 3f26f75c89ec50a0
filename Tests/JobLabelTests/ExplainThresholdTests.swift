import Foundation
import XCTest
@testable import JobLabel

/// `classify --explain` (feature contributions) and `--threshold` (unknown below a probability), as the
/// predictor computes and the writer formats them.
final class ExplainThresholdTests: XCTestCase {
    /// Explanations of every posting and head, with all of each posting's features.
    private func explainAll(_ model: JobLabelModel, _ postings: [Posting], _ algorithm: Algorithm)
        -> (x: CSRMatrix, predictions: [HeadPrediction], explanations: [[[FeatureContribution]]]) {
        let predictor = model.predictor(algorithm)
        let x = model.vectorizer.transform(postings)
        let predictions = model.predict(postings, algorithm: algorithm)
        let explanations = model.heads.indices.map { h in
            predictor.explain(x, head: h, probabilities: predictions[h].probabilities, count: 1_000)
        }
        return (x, predictions, explanations)
    }

    /// All contributions of a posting add up to its score: LR `Σ_j x_j W[j,c] = s_c − b_c`; NB the score's
    /// difference to the mean class, `s_c − b_c − mean_k (s_k − b_k)`.
    func testContributionsAddUpToTheScoreOfTheBestLabel() throws {
        let postings = syntheticCorpus(rowsPerClass: 20)
        let model = try JobLabelModel.train(calibratedConfig(), postings: postings, files: ["synthetic"])
        for algorithm in Algorithm.classifiers {
            let (x, predictions, explanations) = explainAll(model, postings, algorithm)
            for (h, head) in model.heads.enumerated() {
                let m = head.model(algorithm), k = head.classes.count
                let scores = m.scores(x)
                for i in 0..<postings.count {
                    let c = predictions[h].bestIndex(i)
                    let raw = (0..<k).map { Double(scores[i * k + $0]) - Double(m.bias[$0]) }
                    let expected = algorithm == .lr ? raw[c] : raw[c] - raw.reduce(0, +) / Double(k)
                    let total = explanations[h][i].reduce(0) { $0 + $1.weight }
                    XCTAssertEqual(total, expected, accuracy: 1e-3, "\(algorithm) \(head.name) posting \(i)")
                    XCTAssertEqual(explanations[h][i].count, x.row(i).count, "one entry per feature of the posting")
                    let weights = explanations[h][i].map(\.weight)
                    XCTAssertEqual(weights, weights.sorted(by: >), "largest first")
                }
            }
        }
    }

    func testEnsembleContributionIsTheMeanOfBothOverTheirTemperatures() throws {
        let postings = Array(syntheticCorpus(rowsPerClass: 60).prefix(12))
        let model = try JobLabelModel.train(calibratedConfig(), postings: syntheticCorpus(rowsPerClass: 60), files: ["synthetic"])
        let (_, predictions, ensemble) = explainAll(model, postings, .ensemble)
        let x = model.vectorizer.transform(postings)
        let head = model.heads[1], k = head.classes.count
        for i in 0..<postings.count {
            let c = predictions[1].bestIndex(i)
            for item in ensemble[1][i] {
                let j = Int(model.vectorizer.vocabulary.lookup(item.feature))
                XCTAssertGreaterThanOrEqual(j, 0, "\(item.feature) is a vocabulary entry")
                let value = Double(x.values[try XCTUnwrap(x.row(i).first { x.columns[$0] == Int32(j) }, "feature of the posting")])
                let lr = head.logisticRegression.weights, nb = head.naiveBayes.weights
                let nbMean = (0..<k).reduce(0.0) { $0 + Double(nb[j * k + $1]) } / Double(k)
                let expected = (value * Double(lr[j * k + c]) / head.temperature(.lr)
                    + value * (Double(nb[j * k + c]) - nbMean) / head.temperature(.nb)) / 2
                XCTAssertEqual(item.weight, expected, accuracy: 1e-5, item.feature)
            }
        }
    }

    func testThresholdSpecsParse() {
        XCTAssertEqual(ThresholdSpec.parse("0.6"), .all(0.6))
        XCTAssertEqual(ThresholdSpec.parse("1"), .all(1))
        XCTAssertEqual(ThresholdSpec.parse("manifest"), .manifest)
        XCTAssertEqual(ThresholdSpec.parse("seniority=0.7,role=0.5"), .perHead(["seniority": 0.7, "role": 0.5]))
        XCTAssertEqual(ThresholdSpec.parse(" role = 0.5 "), .perHead(["role": 0.5]))
        for bad in ["", "1.5", "-0.1", "nan", "x=", "=0.5", "role=0.5,role=0.6", "role=0.5,", "role:0.5", "manifests"] {
            XCTAssertNil(ThresholdSpec.parse(bad), "'\(bad)'")
        }
    }

    func testThresholdSpecsResolvePerHeadAndClass() throws {
        let uncalibrated = try JobLabelModel.train(tinyConfig(), postings: tinyCorpus(), files: ["tiny"])
        XCTAssertEqual(try ThresholdSpec.all(0.5).resolve(uncalibrated, algorithm: .lr).thresholds, [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]])
        XCTAssertEqual(try ThresholdSpec.perHead(["seniority": 0.7]).resolve(uncalibrated, algorithm: .lr).thresholds, [[0, 0, 0], [0.7, 0.7, 0.7]])
        XCTAssertThrowsError(try ThresholdSpec.perHead(["level": 0.7]).resolve(uncalibrated, algorithm: .lr)) { error in
            XCTAssertEqual((error as? JobLabelError)?.exitCode, 64)
            XCTAssertTrue("\(error)".contains("no head 'level' (its heads: role, seniority)"), "\(error)")
        }
        XCTAssertThrowsError(try ThresholdSpec.manifest.resolve(uncalibrated, algorithm: .lr)) { error in
            XCTAssertTrue("\(error)".contains("stores no thresholds"), "\(error)")
        }
        let calibrated = try JobLabelModel.train(calibratedConfig(), postings: syntheticCorpus(), files: ["synthetic"])
        for algorithm in Algorithm.allCases {
            let (resolved, notes) = try ThresholdSpec.manifest.resolve(calibrated, algorithm: algorithm)
            XCTAssertEqual(notes, [])
            for (h, head) in calibrated.heads.enumerated() {
                let stored = try XCTUnwrap(head.calibration).algorithm(algorithm).thresholds
                XCTAssertEqual(resolved[h], stored.map { $0 ?? .infinity }, "a label without a threshold is never given")
            }
        }
    }

    private func prediction(_ p: [Float], explanations: [[FeatureContribution]] = []) -> HeadPrediction {
        HeadPrediction(head: "seniority", classes: ["entry", "mid-senior"], probabilities: p, explanations: explanations)
    }

    private func format(_ writer: PredictionWriter, _ predictions: [HeadPrediction], count: Int) -> String {
        var out = writer.header()
        let postings = (0..<count).map { Posting(id: "p\($0)", text: []) }
        writer.append(postings, predictions, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func testWriterGivesUnknownBelowTheThresholdAndKeepsTheBestLabel() throws {
        let p = prediction([0.3, 0.7, 0.9, 0.1])  // p0: mid-senior 0.7; p1: entry 0.9
        let writer = PredictionWriter(format: .jsonl, heads: ["seniority"], top: 0, thresholds: [[0.95, 0.5]])
        let lines = format(writer, [p], count: 2).split(separator: "\n")
        XCTAssertEqual(lines[0], #"{"id": "p0", "seniority": {"label": "mid-senior", "probability": 0.7000}}"#)
        XCTAssertEqual(lines[1], #"{"id": "p1", "seniority": {"label": "unknown", "probability": 0.9000, "best": "entry"}}"#)
        let csv = format(PredictionWriter(format: .csv, heads: ["seniority"], top: 1, thresholds: [[0.95, 0.5]]), [p], count: 2)
        XCTAssertEqual(csv, "id,seniority,seniority_probability,seniority_best,seniority_top\n"
            + "p0,mid-senior,0.7000,mid-senior,mid-senior:0.7000\np1,unknown,0.9000,entry,entry:0.9000\n")
        let text = format(PredictionWriter(format: .text, heads: ["seniority"], top: 2, thresholds: [[0.95, 0.5]]), [p], count: 2)
        XCTAssertEqual(text, "p0\tseniority=mid-senior (0.7000), entry (0.3000)\np1\tseniority=unknown; best entry (0.9000), mid-senior (0.1000)\n")
        // Exactly at the threshold counts as reached; infinity is never reached.
        let edge = format(PredictionWriter(format: .jsonl, heads: ["seniority"], top: 0, thresholds: [[.infinity, 0.7]]), [p], count: 2)
        XCTAssertTrue(edge.hasPrefix(#"{"id": "p0", "seniority": {"label": "mid-senior""#), edge)
        XCTAssertTrue(edge.contains(#""label": "unknown", "probability": 0.9000, "best": "entry""#), edge)
    }

    func testWriterFormatsExplanationsInEveryFormat() {
        let items = [FeatureContribution(feature: "title:intern", weight: 1.73124), FeatureContribution(feature: "cue:years>=2", weight: -0.00004),
                     FeatureContribution(feature: "a,b\"c", weight: 0.5)]
        let p = prediction([0.2, 0.8], explanations: [items])
        let json = format(PredictionWriter(format: .jsonl, heads: ["seniority"], top: 0, explain: 3), [p], count: 1)
        XCTAssertEqual(json, #"{"id": "p0", "seniority": {"label": "mid-senior", "probability": 0.8000, "explain": [{"feature": "title:intern", "weight": 1.7312}, {"feature": "cue:years>=2", "weight": 0.0000}, {"feature": "a,b\"c", "weight": 0.5000}]}}"# + "\n")
        XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(json.utf8)))
        let csv = format(PredictionWriter(format: .csv, heads: ["seniority"], top: 0, explain: 3), [p], count: 1)
        XCTAssertEqual(csv, "id,seniority,seniority_probability,seniority_explain\n"
            + "p0,mid-senior,0.8000,\"title:intern:1.7312;cue:years>=2:0.0000;a,b\"\"c:0.5000\"\n")
        let text = format(PredictionWriter(format: .text, heads: ["seniority"], top: 0, explain: 3), [p], count: 1)
        XCTAssertEqual(text, "p0\tseniority=mid-senior (0.8000) [title:intern 1.7312, cue:years>=2 0.0000, a,b\"c 0.5000]\n")
        // Without --explain nothing is added, even when explanations are present.
        let plain = format(PredictionWriter(format: .jsonl, heads: ["seniority"], top: 0), [p], count: 1)
        XCTAssertFalse(plain.contains("explain"))
    }

    /// `label` computes explanations only when the writer asks for them, and they are the predictor's.
    func testLabelAddsExplanationsOnlyWhenAsked() throws {
        let postings = syntheticCorpus(rowsPerClass: 10)
        let model = try JobLabelModel.train(calibratedConfig(), postings: postings, files: ["synthetic"])
        let predictor = model.predictor(.lr)
        let plain = predictor.label(postings, writer: PredictionWriter(format: .jsonl, heads: model.heads.map(\.name), top: 0)).output
        let explained = predictor.label(postings, writer: PredictionWriter(format: .jsonl, heads: model.heads.map(\.name), top: 0, explain: 2)).output
        let lines = String(decoding: explained, as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(lines.count, postings.count)
        XCTAssertFalse(String(decoding: plain, as: UTF8.self).contains("explain"))
        let x = model.vectorizer.transform(postings)
        let probabilities = model.predict(postings, algorithm: .lr)
        for (i, line) in lines.enumerated() {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            for (h, head) in model.heads.enumerated() {
                let items = try XCTUnwrap((object[head.name] as? [String: Any])?["explain"] as? [[String: Any]])
                let expected = predictor.explain(x, head: h, probabilities: probabilities[h].probabilities, count: 2)[i]
                XCTAssertEqual(items.compactMap { $0["feature"] as? String }, expected.map(\.feature))
            }
        }
    }
}
