import Foundation
import XCTest
@testable import JobLabel
@testable import JobLabelCLI

/// `classify --explain` (feature contributions) and `--threshold` (unknown below a probability), as the
/// predictor computes and the writer formats them.
final class ExplainThresholdTests: XCTestCase {
    /// Explanations of every posting and head, with all of each posting's features.
    private func explainAll(_ model: JobLabelModel, _ postings: [Posting], _ algorithm: Algorithm)
        -> (x: CSRMatrix, best: [[Int]], explanations: [[[FeatureContribution]]]) {
        let x = model.vectorizer.transform(postings)
        let probabilities = model.probabilities(postings, algorithm: algorithm)
        let best = model.heads.indices.map { h in argmaxRows(probabilities[h], classes: model.heads[h].classes.count) }
        let labels = try! Predictor(model, options: LabelingOptions(algorithm: algorithm, explain: 1_000)).labels(postings).labels
        let explanations = model.heads.indices.map { h in labels.map { $0.heads[h].explanation } }
        for h in model.heads.indices {
            XCTAssertEqual(labels.map { $0.heads[h].best }, best[h].map { model.heads[h].classes[$0] }, "explained label = best label")
        }
        return (x, best, explanations)
    }

    /// All contributions of a posting add up to its score: LR `Σ_j x_j W[j,c] = s_c − b_c`; NB the score's
    /// difference to the mean class, `s_c − b_c − mean_k (s_k − b_k)`.
    func testContributionsAddUpToTheScoreOfTheBestLabel() throws {
        let postings = syntheticCorpus(rowsPerClass: 20)
        let model = try JobLabelModel.train(calibratedConfig(), postings: postings, files: ["synthetic"])
        for algorithm in Algorithm.classifiers {
            let (x, best, explanations) = explainAll(model, postings, algorithm)
            for (h, head) in model.heads.enumerated() {
                let m = head.model(algorithm), k = head.classes.count
                let scores = referenceScores(m, x)
                for i in 0..<postings.count {
                    let c = best[h][i]
                    let raw = (0..<k).map { scores[i * k + $0] - Double(m.bias[$0]) }
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
        let (_, best, ensemble) = explainAll(model, postings, .ensemble)
        let x = model.vectorizer.transform(postings)
        let head = model.heads[1], k = head.classes.count
        for i in 0..<postings.count {
            let c = best[1][i]
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
            XCTAssertEqual(exitCode(of: error), 64)
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

    /// A seniority decision over the labels entry and mid-senior with probabilities `p` (entry, mid-senior).
    private func decision(_ p: [Double], threshold: Double? = nil, explanation: [FeatureContribution] = []) -> PostingLabels {
        let classes = ["entry", "mid-senior"]
        let best = p[1] > p[0] ? 1 : 0
        let known = threshold.map { p[best] >= $0 } ?? true
        let top = [best, 1 - best].map { LabelProbability(label: classes[$0], probability: p[$0]) }
        return PostingLabels(heads: [LabelDecision(head: "seniority", label: known ? classes[best] : LabelDecision.unknown, best: classes[best],
                                                   probability: p[best], isKnown: known, top: top, explanation: explanation)])
    }

    private func format(_ writer: PredictionWriter, _ labels: [PostingLabels]) -> String {
        var out = writer.header()
        let postings = labels.indices.map { Posting(id: "p\($0)", text: []) }
        writer.append(postings[...], labels, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func testWriterGivesUnknownAndKeepsTheBestLabel() throws {
        let labels = [decision([0.3, 0.7], threshold: 0.5), decision([0.9, 0.1], threshold: 0.95)]
        let writer = PredictionWriter(format: .jsonl, heads: ["seniority"], top: 0, thresholds: true)
        let lines = format(writer, labels).split(separator: "\n")
        XCTAssertEqual(lines[0], #"{"id": "p0", "seniority": {"label": "mid-senior", "probability": 0.7000}}"#)
        XCTAssertEqual(lines[1], #"{"id": "p1", "seniority": {"label": "unknown", "probability": 0.9000, "best": "entry"}}"#)
        let csv = format(PredictionWriter(format: .csv, heads: ["seniority"], top: 1, thresholds: true), labels)
        XCTAssertEqual(csv, "id,seniority,seniority_probability,seniority_best,seniority_top\n"
            + "p0,mid-senior,0.7000,mid-senior,mid-senior:0.7000\np1,unknown,0.9000,entry,entry:0.9000\n")
        let text = format(PredictionWriter(format: .text, heads: ["seniority"], top: 2, thresholds: true), labels)
        XCTAssertEqual(text, "p0\tseniority=mid-senior (0.7000), entry (0.3000)\np1\tseniority=unknown; best entry (0.9000), mid-senior (0.1000)\n")
    }

    /// The library applies thresholds: below its threshold a head's label is `unknown` with the best label
    /// kept; exactly at the threshold (as Float) counts as reached; infinity is never reached.
    func testPredictorGivesUnknownBelowTheThresholdAndTheLabelAtIt() throws {
        let postings = Array(syntheticCorpus(rowsPerClass: 10).prefix(6))
        let model = try JobLabelModel.train(calibratedConfig(), postings: syntheticCorpus(rowsPerClass: 10), files: ["synthetic"])
        let plain = model.decisions(postings, algorithm: .lr)[1]
        func decide(_ threshold: Double) throws -> [LabelDecision] {
            try Predictor(model, options: LabelingOptions(thresholds: .perHead(["seniority": threshold]))).labels(postings).labels.map { $0.heads[1] }
        }
        for (i, d) in plain.enumerated() {
            let at = try decide(Double(Float(d.probability)))[i]
            XCTAssertTrue(at.isKnown)
            XCTAssertEqual(at.label, d.best)
            let above = try decide(Double(Float(d.probability).nextUp))[i]
            XCTAssertFalse(above.isKnown)
            XCTAssertEqual(above.label, LabelDecision.unknown)
            XCTAssertEqual(above.best, d.best)
            XCTAssertEqual(above.probability, d.probability)
            XCTAssertFalse(try decide(.infinity)[i].isKnown)
        }
        // Heads without a threshold give every label.
        let roles = try Predictor(model, options: LabelingOptions(thresholds: .perHead(["seniority": 1]))).labels(postings).labels.map { $0.heads[0] }
        XCTAssertTrue(roles.allSatisfy(\.isKnown))
    }

    func testWriterFormatsExplanationsInEveryFormat() {
        let items = [FeatureContribution(feature: "title:intern", weight: 1.73124), FeatureContribution(feature: "cue:years>=2", weight: -0.00004),
                     FeatureContribution(feature: "a,b\"c", weight: 0.5)]
        let p = decision([0.2, 0.8], explanation: items)
        let json = format(PredictionWriter(format: .jsonl, heads: ["seniority"], top: 0, explain: 3), [p])
        XCTAssertEqual(json, #"{"id": "p0", "seniority": {"label": "mid-senior", "probability": 0.8000, "explain": [{"feature": "title:intern", "weight": 1.7312}, {"feature": "cue:years>=2", "weight": 0.0000}, {"feature": "a,b\"c", "weight": 0.5000}]}}"# + "\n")
        XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(json.utf8)))
        let csv = format(PredictionWriter(format: .csv, heads: ["seniority"], top: 0, explain: 3), [p])
        XCTAssertEqual(csv, "id,seniority,seniority_probability,seniority_explain\n"
            + "p0,mid-senior,0.8000,\"title:intern:1.7312;cue:years>=2:0.0000;a,b\"\"c:0.5000\"\n")
        let text = format(PredictionWriter(format: .text, heads: ["seniority"], top: 0, explain: 3), [p])
        XCTAssertEqual(text, "p0\tseniority=mid-senior (0.8000) [title:intern 1.7312, cue:years>=2 0.0000, a,b\"c 0.5000]\n")
        // Without --explain nothing is added, even when explanations are present.
        let plain = format(PredictionWriter(format: .jsonl, heads: ["seniority"], top: 0), [p])
        XCTAssertFalse(plain.contains("explain"))
    }

    /// The predictor explains only when asked, and its explanations are those of the best label.
    func testPredictorExplainsOnlyWhenAsked() throws {
        let postings = syntheticCorpus(rowsPerClass: 10)
        let model = try JobLabelModel.train(calibratedConfig(), postings: postings, files: ["synthetic"])
        let plain = try Predictor(model, options: LabelingOptions()).labels(postings).labels
        let explained = try Predictor(model, options: LabelingOptions(explain: 2)).labels(postings).labels
        XCTAssertTrue(plain.allSatisfy { $0.heads.allSatisfy { $0.explanation.isEmpty } })
        let (_, _, all) = explainAll(model, postings, .lr)
        for (i, labels) in explained.enumerated() {
            for h in model.heads.indices {
                XCTAssertEqual(labels.heads[h].explanation.count, min(2, all[h][i].count))
                XCTAssertEqual(labels.heads[h].explanation, Array(all[h][i].prefix(2)))
                XCTAssertEqual(labels.heads[h].best, plain[i].heads[h].best)
            }
        }
    }
}
