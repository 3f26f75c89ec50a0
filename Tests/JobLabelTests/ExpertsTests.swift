import Foundation
import XCTest
@testable import JobLabel

/// Title and body experts, the title's separate normalisation and the median decision of ordinal heads.
final class ExpertsTests: XCTestCase {
    private func config(experts: ExpertsConfig? = .standard) -> TrainingConfig {
        var c = TrainingConfig.product
        c.calibration = .none
        c.experts = experts
        return c
    }

    /// With separate normalisation the title's features and the body's each have unit length.
    func testTitleAndBodyAreNormalisedApart() throws {
        var c = config(experts: nil).vectorizer
        c.separateTitleNorm = true
        let postings = syntheticCorpus(rowsPerClass: 10)
        let (v, x) = try TfidfVectorizer.fitTransform(c, postings)
        var checked = 0
        for i in 0..<x.rowCount {
            var title = 0.0, body = 0.0
            for (j, value) in x.entries(ofRow: i) {
                if TfidfVectorizer.isTitleTerm(v.vocabulary.string(j)) { title += Double(value * value) } else { body += Double(value * value) }
            }
            if title > 0 { XCTAssertEqual(title, 1, accuracy: 1e-5); checked += 1 }
            if body > 0 { XCTAssertEqual(body, 1, accuracy: 1e-5) }
        }
        XCTAssertGreaterThan(checked, 0, "postings with titles")
        XCTAssertEqual(v.transform(postings), x, "transform normalises as the fit does")
        XCTAssertTrue(TfidfVectorizer.isTitleTerm("title:senior") && TfidfVectorizer.isTitleTerm("cue:title=senior"))
        XCTAssertFalse(TfidfVectorizer.isTitleTerm("cue:years>=5") || TfidfVectorizer.isTitleTerm("senior"))
    }

    /// The combined model's log-probabilities are α log p_title + β log p_body up to a constant per row,
    /// so its probabilities are softmax(α z_title + β z_body).
    func testCombinedModelIsTheWeightedProductOfTheExperts() throws {
        let postings = syntheticCorpus(rowsPerClass: 20)
        var c = config()
        c.vectorizer.separateTitleNorm = true
        let (v, x) = try TfidfVectorizer.fitTransform(c.vectorizer, postings)
        let (classes, y) = encodeLabels(postings.map { $0.labels[0] })
        let isTitle = (0..<v.featureCount).map { TfidfVectorizer.isTitleTerm(v.vocabulary.string($0)) }
        let split = Experts.Split(x, isTitle: isTitle, classes: classes.count, parallel: Parallel())
        XCTAssertEqual(split.titleColumns.count + split.bodyColumns.count, v.featureCount)
        let fitted = Experts.fit(c, split, y: y, classes: classes, rowWeights: nil, parallel: Parallel())
        let weights = ExpertWeights(title: 1.5, body: 0.5, cvLogLoss: 0, cvAccuracy: 0)
        let combined = Experts.combine(title: fitted.lrTitle, body: fitted.lrBody, split, weights: weights, featureCount: v.featureCount)
        let zTitle = referenceScores(fitted.lrTitle, split.title), zBody = referenceScores(fitted.lrBody, split.body)
        let k = classes.count
        let expected = referenceSoftmax(zip(zTitle, zBody).map { 1.5 * $0 + 0.5 * $1 }, k: k, temperature: 1)
        let got = predictor(combined).probabilities(x)[0]
        for i in 0..<expected.count { XCTAssertEqual(Double(got[i]), expected[i], accuracy: 1e-4) }
    }

    /// Training with experts: weights chosen by cross-validation (or fixed per head), recorded in the bundle,
    /// the same on any thread count.
    func testTrainingWithExpertsRecordsTheWeightsAndIsDeterministic() throws {
        let postings = syntheticCorpus(rowsPerClass: 20)
        var settings = ExpertsConfig.standard
        settings.fixed = ["seniority": [1.5, 1]]
        let one = try JobLabelModel.train(config(experts: settings), postings: postings, files: ["s"], threads: 1)
        let two = try JobLabelModel.train(config(experts: settings), postings: postings, files: ["s"], threads: 2)
        XCTAssertEqual(try ModelBundle.encode(one).weights, try ModelBundle.encode(two).weights)
        XCTAssertEqual(try ModelBundle.encode(one).manifest, try ModelBundle.encode(two).manifest)
        let role = try XCTUnwrap(one.heads[0].experts), seniority = try XCTUnwrap(one.heads[1].experts)
        XCTAssertTrue(ExpertsConfig.standard.weights.contains(role.lr.title) && ExpertsConfig.standard.weights.contains(role.lr.body))
        XCTAssertEqual([seniority.lr.title, seniority.lr.body], [1.5, 1])
        XCTAssertEqual([seniority.nb.title, seniority.nb.body], [1.5, 1])
        XCTAssertEqual(seniority.rows, postings.filter { $0.labels[1] != nil }.count)
        XCTAssertGreaterThan(role.lr.cvAccuracy, 0.5)
        XCTAssertTrue(one.config.vectorizer.separateTitleNorm && one.config.vectorizer.titleMode == .namespace)
        let dir = makeTempDirectory("joblabel-experts")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ModelBundle.save(one, to: dir + "/m")
        let loaded = try ModelBundle.load(dir + "/m")
        XCTAssertEqual(loaded.heads.map(\.experts), one.heads.map(\.experts))
        XCTAssertEqual(loaded.config.experts, settings)
        XCTAssertEqual(loaded.probabilities(postings, algorithm: .lr), one.probabilities(postings, algorithm: .lr))
    }

    /// The median level: the lowest level whose cumulative probability reaches half; the most probable
    /// label for heads that are not ordinal or under the default rule.
    func testMedianDecisionOfOrdinalHeads() {
        let lr = LinearModel(classes: ["associate", "entry", "mid-senior"], featureCount: 0, weights: [], bias: [0, 0, 0])
        func head(_ name: String, _ rule: DecisionRule, _ classes: [String] = ["associate", "entry", "mid-senior"]) -> HeadModel {
            HeadModel(name: name, classes: classes, classCounts: [], naiveBayes: lr, logisticRegression: lr, optimization: nil, decision: rule)
        }
        // entry 0.45 is the most probable; by level entry < associate < mid-senior the median is associate.
        let p: [Float] = [0.15, 0.45, 0.40]
        XCTAssertEqual(head("seniority", .mostProbable).decide(p, row: 0), 1)
        XCTAssertEqual(head("seniority", .median).decide(p, row: 0), 0)
        XCTAssertEqual(head("level", .median).decide(p, row: 0), 0, "any head whose labels are levels")
        XCTAssertEqual(head("role", .median, ["a", "b", "c"]).decide(p, row: 0), 1, "not ordinal: most probable")
        XCTAssertEqual(head("seniority", .median).decide([0.05, 0.6, 0.35] as [Float], row: 0), 1)
    }
}

/// Row weights (the shipped corpus mixed into a board's own postings): a row of weight 2 counts as two.
final class RowWeightTests: XCTestCase {
    func testAWeightOfTwoIsARowTwice() throws {
        let postings = syntheticCorpus(rowsPerClass: 8)
        let (v, x) = try TfidfVectorizer.fitTransform(TrainingConfig.product.vectorizer, postings)
        _ = v
        let (classes, y) = encodeLabels(postings.map { $0.labels[0] })
        var weights = [Float](repeating: 1, count: x.rowCount)
        let doubled = stride(from: 0, to: x.rowCount, by: 3).map { $0 }
        for i in doubled { weights[i] = 2 }
        let twice = x.rows(Array(0..<x.rowCount) + doubled)
        let yTwice = y + doubled.map { y[$0] }
        let nbWeighted = NaiveBayes.fit(NaiveBayesConfig(), x: x, y: y, classes: classes, rowWeights: weights)
        let nbTwice = NaiveBayes.fit(NaiveBayesConfig(), x: twice, y: yTwice, classes: classes)
        for (a, b) in zip(nbWeighted.weights + nbWeighted.bias, nbTwice.weights + nbTwice.bias) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        let config = LogisticRegressionConfig(C: 2, maxIterations: 300, tolerance: 1e-6, classWeight: .none)
        let (lrWeighted, _) = LogisticRegression.fit(config, x: x, xT: x.transposed(), y: y, classes: classes, rowWeights: weights)
        let (lrTwice, _) = LogisticRegression.fit(config, x: twice, xT: twice.transposed(), y: yTwice, classes: classes)
        for (a, b) in zip(lrWeighted.weights + lrWeighted.bias, lrTwice.weights + lrTwice.bias) { XCTAssertEqual(a, b, accuracy: 2e-3) }
        // All weights 1 is the unweighted fit, bit for bit.
        let ones = [Float](repeating: 1, count: x.rowCount)
        XCTAssertEqual(NaiveBayes.fit(NaiveBayesConfig(), x: x, y: y, classes: classes, rowWeights: ones),
                       NaiveBayes.fit(NaiveBayesConfig(), x: x, y: y, classes: classes))
    }

    /// `train --with-default-corpus` adds the shipped corpus ($JOBLABEL_CORPUS here) at --corpus-weight.
    func testTrainWithTheDefaultCorpus() throws {
        let dir = makeTempDirectory("joblabel-with-corpus")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/corpus", withIntermediateDirectories: true)
        writeTinyCorpusJSONL(to: dir + "/corpus/tiny.jsonl")
        let board = "{\"text\": \"we need a lighthouse keeper for the night shift\", \"role\": \"other\", \"seniority\": \"entry\"}\n"
            + "{\"text\": \"head lighthouse keeper leading the coastal team\", \"role\": \"other\", \"seniority\": \"director\"}\n"
        try board.write(toFile: dir + "/board.jsonl", atomically: true, encoding: .utf8)
        let r = try CLI.run(["train", "--data", dir + "/board.jsonl", "--with-default-corpus", "--corpus-weight", "0.5",
                             "--out", dir + "/m", "--calibration", "none"], environment: ["JOBLABEL_CORPUS": dir + "/corpus"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("trained on 11 postings"), r.stderr)
        let model = try ModelBundle.load(dir + "/m")
        XCTAssertTrue(model.heads[0].classes.contains("other"), "the board's own labels stay")
        XCTAssertTrue(model.heads[0].classes.contains("sales"), "the corpus's labels too")
        XCTAssertTrue(model.info.files.last?.contains("weight 0.5 per posting") == true, "\(model.info.files)")
        let lone = try CLI.run(["train", "--data", dir + "/board.jsonl", "--corpus-weight", "0.5", "--out", dir + "/m2"])
        XCTAssertEqual(lone.status, 64, lone.stderr)
        XCTAssertTrue(lone.stderr.contains("--with-default-corpus"), lone.stderr)
    }
}
