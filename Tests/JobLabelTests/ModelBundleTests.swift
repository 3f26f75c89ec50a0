import XCTest
@testable import JobLabel

final class ModelBundleTests: XCTestCase {
    func testSaveLoadRoundTripGivesSamePredictions() throws {
        let dir = makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try JobLabelModel.train(tinyConfig(), postings: tinyCorpus(), files: ["tiny"])
        try ModelBundle.save(model, to: dir + "/model")
        let loaded = try ModelBundle.load(dir + "/model")
        XCTAssertEqual(loaded.heads.map(\.name), ["role", "seniority"])
        XCTAssertEqual(loaded.vectorizer.idf, model.vectorizer.idf)
        for algorithm in Algorithm.allCases {
            let a = model.probabilities(tinyCorpus(), algorithm: algorithm)
            let b = loaded.probabilities(tinyCorpus(), algorithm: algorithm)
            XCTAssertEqual(a, b)
        }
        let manifest = try ModelBundle.loadManifest(dir + "/model")
        XCTAssertEqual(manifest.vocabularySize, model.vectorizer.featureCount)
        XCTAssertEqual(manifest.heads[1].labels, ["entry", "internship", "mid-senior"])
        XCTAssertEqual(manifest.training.documents, 9)
        XCTAssertEqual(manifest.training.sha256.count, 64)
    }

    /// A bundle directory may hold its model card, README.md; retraining into it keeps the card, and any
    /// other file still makes the directory unusable as --out.
    func testRetrainingKeepsTheModelCard() throws {
        let dir = makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try JobLabelModel.train(tinyConfig(), postings: tinyCorpus(), files: ["tiny"])
        try ModelBundle.save(model, to: dir + "/model")
        try "# The card\n".write(toFile: dir + "/model/README.md", atomically: true, encoding: .utf8)
        try ModelBundle.save(model, to: dir + "/model")
        XCTAssertEqual(try String(contentsOfFile: dir + "/model/README.md", encoding: .utf8), "# The card\n")
        XCTAssertNoThrow(try ModelBundle.load(dir + "/model"))
        try "x".write(toFile: dir + "/model/notes.txt", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ModelBundle.save(model, to: dir + "/model"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/model/notes.txt"))
    }

    /// A model's cached predictors go away with the model (no reference cycle through the cache; the
    /// model loader's fuzz target failed LeakSanitizer on it).
    func testPredictorsAreFreedWithTheirModel() throws {
        weak var predictor: Predictor?
        weak var ensemble: Predictor?
        do {
            let model = try JobLabelModel.train(tinyConfig(), postings: tinyCorpus(), files: ["tiny"])
            _ = model.classify(text: "python code")
            predictor = model.predictor(LabelingOptions(algorithm: .lr, top: 3))
            ensemble = model.predictor(LabelingOptions(algorithm: .ensemble))
            XCTAssertNotNil(predictor, "cached while the model lives")
            XCTAssertTrue(model.predictor(LabelingOptions(algorithm: .lr, top: 3)) === predictor, "built once, then shared")
        }
        XCTAssertNil(predictor)
        XCTAssertNil(ensemble)
    }

    func testWeightsAreByteIdenticalAcrossRunsAndThreads() throws {
        let a = try ModelBundle.encode(try JobLabelModel.train(tinyConfig(), postings: tinyCorpus(), files: ["tiny"], threads: 1)).weights
        let b = try ModelBundle.encode(try JobLabelModel.train(tinyConfig(), postings: tinyCorpus(), files: ["tiny"], threads: 2)).weights
        XCTAssertEqual(a, b)
    }

    func testEveryTruncationAndEveryFlippedByteIsRejected() throws {
        let model = try JobLabelModel.train(tinyConfig(), postings: tinyCorpus(), files: ["tiny"])
        let bytes = try ModelBundle.encode(model).weights
        XCTAssertNoThrow(try WeightsFile.decode(bytes, path: "w"))
        for cut in 0..<bytes.count {
            XCTAssertThrowsError(try WeightsFile.decode(Array(bytes[0..<cut]), path: "w"), "truncated at \(cut)")
        }
        for i in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 200)) {
            var damaged = bytes
            damaged[i] ^= 0x40
            XCTAssertThrowsError(try WeightsFile.decode(damaged, path: "w"), "flipped byte \(i)")
        }
    }

    func testClearErrorsForBadBundles() throws {
        let dir = makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertThrowsError(try ModelBundle.load(dir + "/missing")) { error in
            XCTAssertEqual(exitCode(of: error), 66)
        }
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/file", contents: Data("x".utf8)))
        XCTAssertThrowsError(try ModelBundle.load(dir + "/file")) { error in
            XCTAssertTrue("\(error)".contains("is a file"), "\(error)")
        }
        // A newer format version is named as such.
        let model = try JobLabelModel.train(tinyConfig(), postings: tinyCorpus(), files: ["tiny"])
        try ModelBundle.save(model, to: dir + "/m")
        let manifestPath = dir + "/m/manifest.json"
        let text = try String(contentsOfFile: manifestPath, encoding: .utf8)
        try text.replacingOccurrences(of: "\"format_version\" : 3", with: "\"format_version\" : 9")
            .write(toFile: manifestPath, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ModelBundle.load(dir + "/m")) { error in
            XCTAssertTrue("\(error)".contains("newer than this joblabel supports"), "\(error)")
        }
        // Weights from another training are detected.
        try ModelBundle.save(model, to: dir + "/a")
        var other = tinyConfig()
        other.naiveBayes.alpha = 0.5
        try ModelBundle.save(try JobLabelModel.train(other, postings: tinyCorpus(), files: ["tiny"]), to: dir + "/b")
        try FileManager.default.removeItem(atPath: dir + "/a/weights.bin")
        try FileManager.default.copyItem(atPath: dir + "/b/weights.bin", toPath: dir + "/a/weights.bin")
        XCTAssertThrowsError(try ModelBundle.load(dir + "/a")) { error in
            XCTAssertTrue("\(error)".contains("different training"), "\(error)")
        }
    }

    func testSaveReplacesAnExistingBundleAndLeavesNoTemporaries() throws {
        let dir = makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try JobLabelModel.train(tinyConfig(), postings: tinyCorpus(), files: ["tiny"])
        try ModelBundle.save(first, to: dir + "/model")
        var config = tinyConfig()
        config.heads = ["role"]
        try ModelBundle.save(try JobLabelModel.train(config, postings: tinyCorpus(), files: ["tiny"]), to: dir + "/model")
        XCTAssertEqual(try ModelBundle.load(dir + "/model").heads.map(\.name), ["role"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["model"])
        // A temporary bundle left by a killed run (a process that no longer exists) is cleaned up.
        try FileManager.default.createDirectory(atPath: dir + "/.model.tmp-999999999-1", withIntermediateDirectories: false)
        try ModelBundle.save(first, to: dir + "/model")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["model"])
        // Saving where the parent does not exist fails and writes nothing.
        XCTAssertThrowsError(try ModelBundle.save(first, to: dir + "/no/such/parent/model"))
    }
}
