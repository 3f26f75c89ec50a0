import Foundation
import XCTest

/// The shipped model: reproducible from corpus/ bit for bit, and its measured figures on real postings
/// (scripts/evaluate-default) with slack. The real-data test is skipped when ../shared/data is absent.
final class DefaultModelTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// scripts/train-default's command reproduces Models/default byte for byte (weights and manifest).
    func testDefaultModelIsReproducibleFromCorpus() throws {
        // Training the whole corpus with title and body experts takes minutes with a debug build.
        guard ProcessInfo.processInfo.environment["JOBLABEL_BIN"] != nil else {
            throw XCTSkip("set JOBLABEL_BIN to a release build of joblabel (scripts/test does): it retrains the whole corpus twice")
        }
        let work = makeTempDirectory("joblabel-default")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let repo = DefaultModelTests.repo.path
        for threads in ["1", "2"] {
            let out = work + "/model-\(threads)"
            // scripts/train-default's command (its settings are in scripts/default-model-flags), run from the
            // repository root as the script does.
            let flags = try String(contentsOfFile: repo + "/scripts/default-model-flags", encoding: .utf8)
                .split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
            let r = try CLI.run(["train", "--data", "corpus", "--out", out] + flags + ["--threads", threads], directory: repo)
            XCTAssertEqual(r.status, 0, r.stderr)
            for file in ["weights.bin", "manifest.json"] {
                let shipped = try Data(contentsOf: URL(fileURLWithPath: repo + "/Models/default/" + file))
                let rebuilt = try Data(contentsOf: URL(fileURLWithPath: out + "/" + file))
                XCTAssertEqual(shipped, rebuilt, "\(file) trained with \(threads) thread(s) differs from Models/default: run scripts/train-default and commit the result with the corpus change")
            }
        }
    }

    /// Five machine-learning internship postings saved as text, title line first, in varied formats (an ad,
    /// a careers page, an article, a short ad, a placement): all `internship`, all with a tech role.
    func testMachineLearningInternshipsSavedAsTextAreInternships() throws {
        let dir = DefaultModelTests.repo.appendingPathComponent("examples/internships").path
        let r = try CLI.run(["classify", "--format", "jsonl", "--model", DefaultModelTests.repo.appendingPathComponent("Models/default").path, dir])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 5, r.stdout)
        for line in lines {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let seniority = (object["seniority"] as? [String: Any])?["label"] as? String
            let role = (object["role"] as? [String: Any])?["label"] as? String ?? ""
            XCTAssertEqual(seniority, "internship", String(line))
            XCTAssertTrue(["information-technology", "engineering", "research"].contains(role), String(line))
        }
    }

    /// Pooled figures of the shipped model on the label_source "source" rows of ../shared/data.
    func testDefaultModelOnRealPostings() throws {
        let data = AccuracyTests.dataRoot
        guard FileManager.default.fileExists(atPath: data + "/emscad/test.jsonl") else {
            throw XCTSkip("\(data) is absent: the default model's real-data figures need ../shared/data beside the repository")
        }
        guard let binary = ProcessInfo.processInfo.environment["JOBLABEL_BIN"] else {
            throw XCTSkip("set JOBLABEL_BIN to a release build of joblabel (scripts/test does)")
        }
        let json = makeTempDirectory("joblabel-yardstick") + "/figures.json"
        defer { try? FileManager.default.removeItem(atPath: (json as NSString).deletingLastPathComponent) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", DefaultModelTests.repo.appendingPathComponent("scripts/evaluate_default.py").path,
                       "--bin", binary, "--data", data, "--only", "default,loso,adapted", "--json", json]
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, e)
        guard p.terminationStatus == 0, let o = FileManager.default.contents(atPath: json),
              let report = try JSONSerialization.jsonObject(with: o) as? [String: Any],
              let tables = report["tables"] as? [String: Any],
              let table = tables["default"] as? [String: [String: [String: Any]]],
              let loso = (tables["loso"] as? [String: [String: [String: Any]]])?["seniority"],
              let adapted = (tables["adapted"] as? [String: [String: [String: Any]]])?["seniority"],
              let pooled = table["seniority"]?["pooled"], let emscad = table["role"]?["emscad"],
              let criteria = table["role"]?["linkedin-criteria"] else {
            return XCTFail("unexpected output of evaluate_default.py: \(e)")
        }
        func figure(_ e: [String: Any]?, _ system: String, _ metric: String) -> Double {
            ((e?[system] as? [String: Any])?[metric] as? Double) ?? -1
        }
        XCTAssertEqual((pooled["model"] as? [String: Any])?["n"] as? Int, Expected.pooledRows)
        XCTAssertEqual(figure(pooled, "model", "accuracy"), Expected.pooledSeniorityAccuracy, accuracy: 0.02)
        XCTAssertEqual(figure(pooled, "model", "macro_f1_core"), Expected.pooledSeniorityCoreMacroF1, accuracy: 0.02)
        XCTAssertEqual(figure(pooled, "model", "within_one"), Expected.pooledSeniorityWithinOne, accuracy: 0.02)
        XCTAssertEqual(figure(emscad, "model", "accuracy"), Expected.emscadRoleAccuracy, accuracy: 0.03)
        XCTAssertEqual(figure(criteria, "model", "accuracy"), Expected.criteriaRoleAccuracy, accuracy: 0.03)
        XCTAssertEqual(figure(adapted["pooled"], "adapted model", "accuracy"), Expected.adaptedPooledSeniorityAccuracy, accuracy: 0.02)
        // The targets of issue 13 met on these files: the model above the title rule on the pooled rows and
        // (leave one source out) on emscad and linkedin; role on linkedin-criteria at least 0.65; within one
        // level at least 0.90; the adapted model above the corpus-only one.
        XCTAssertGreaterThan(figure(pooled, "model", "accuracy"), figure(pooled, "title rule", "accuracy"))
        for source in ["emscad", "linkedin"] {
            XCTAssertGreaterThan(figure(loso[source], "corpus-only model", "accuracy"), figure(loso[source], "title rule", "accuracy"), source)
        }
        XCTAssertGreaterThanOrEqual(figure(criteria, "model", "accuracy"), 0.65)
        XCTAssertGreaterThanOrEqual(figure(pooled, "model", "within_one"), 0.90)
        XCTAssertGreaterThan(figure(adapted["pooled"], "adapted model", "accuracy"), figure(adapted["pooled"], "corpus-only model", "accuracy"))
    }

    enum Expected {
        // Measured with `scripts/evaluate-default` on Models/default (test files of emscad, linkedin,
        // linkedin-data-jobs and linkedin-criteria; see Models/default/README.md).
        static let pooledRows = 192
        static let pooledSeniorityAccuracy = 0.536
        static let pooledSeniorityCoreMacroF1 = 0.447
        static let pooledSeniorityWithinOne = 0.911
        static let emscadRoleAccuracy = 0.538
        static let criteriaRoleAccuracy = 0.774
        static let adaptedPooledSeniorityAccuracy = 0.599
    }
}
