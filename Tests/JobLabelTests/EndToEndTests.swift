import Foundation
import XCTest
@testable import JobLabel

/// Runs the built `joblabel` binary: $JOBLABEL_BIN, else the one beside the test bundle.
struct CLI {
    static var binary: String? {
        if let env = ProcessInfo.processInfo.environment["JOBLABEL_BIN"], !env.isEmpty { return env }
        var dir = Bundle.main.bundleURL
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("joblabel").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    static func run(_ args: [String], stdin: String? = nil, environment: [String: String] = [:],
                    directory: String? = nil) throws -> Result {
        guard let binary else { throw XCTSkip("joblabel binary not found; build it or set JOBLABEL_BIN") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

final class EndToEndTests: XCTestCase {
    var dir = ""

    override func setUp() {
        dir = makeTempDirectory("joblabel-e2e")
        writeTinyCorpusJSONL(to: dir + "/train.jsonl")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func train(_ extra: [String] = []) throws -> CLI.Result {
        try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/model", "--preset", "sklearn"] + extra)
    }

    func testSIGBUSFromATruncatedMappedFileIsAnIOErrorNotACrash() throws {
        XCTAssertEqual(try train().status, 0)
        guard let binary = CLI.binary else { throw XCTSkip("joblabel binary not found; build it or set JOBLABEL_BIN") }
        // SIGBUS is what touching a truncated mapping raises; the process waits on stdin when it arrives.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["classify", "--model", dir + "/model", "-"]
        let input = Pipe(), err = Pipe()
        p.standardInput = input
        p.standardOutput = Pipe()
        p.standardError = err
        try p.run()
        Thread.sleep(forTimeInterval: 1)
        kill(p.processIdentifier, SIGBUS)
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        try? input.fileHandleForWriting.close()
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertEqual(p.terminationStatus, 74)
        XCTAssertTrue(e.contains("shrank while it was being read"), e)
    }

    func testTrainClassifyEvaluateInspect() throws {
        let t = try train()
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/model/manifest.json"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/model/weights.bin"))

        let c = try CLI.run(["classify", "--model", dir + "/model", "--top", "2", dir + "/train.jsonl"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let lines = c.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 9)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        XCTAssertEqual(first["id"] as? String, "p0")
        let role = first["role"] as! [String: Any]
        XCTAssertNotNil(role["label"] as? String)
        let top = role["top"] as! [[String: Any]]
        XCTAssertEqual(top.count, 2)
        XCTAssertGreaterThanOrEqual(top[0]["probability"] as! Double, top[1]["probability"] as! Double)
        XCTAssertEqual(role["label"] as? String, top[0]["label"] as? String)
        XCTAssertEqual((first["seniority"] as! [String: Any])["label"] as? String, "internship")

        let e = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/train.jsonl", "--format", "json"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
        let seniorityLR = ((report["heads"] as! [String: Any])["seniority"] as! [String: Any])["lr"] as! [String: Any]
        XCTAssertEqual(seniorityLR["n"] as? Int, 8, "the row with a null seniority is not scored")
        XCTAssertNotNil(seniorityLR["confusion"])

        let text = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/train.jsonl"])
        XCTAssertTrue(text.stdout.contains("macro avg"), text.stdout)
        let i = try CLI.run(["inspect", dir + "/model"])
        XCTAssertEqual(i.status, 0, i.stderr)
        XCTAssertTrue(i.stdout.contains("head 'seniority': 3 labels"), i.stdout)
    }

    func testInputFormatsAndOutputFormats() throws {
        XCTAssertEqual(try train().status, 0)
        let inputs = dir + "/inputs"
        try FileManager.default.createDirectory(atPath: inputs, withIntermediateDirectories: true)
        try "Summer internship for students selling to customers".write(toFile: inputs + "/b.txt", atomically: true, encoding: .utf8)
        try "\u{FEFF}id,title,text\r\n7,\"Dev, Junior\",\"entry level developer,\r\n\"\"python\"\" code\"\r\n".write(toFile: inputs + "/a.csv", atomically: true, encoding: .utf8)
        try "ignored".write(toFile: inputs + "/notes.md", atomically: true, encoding: .utf8)
        let c = try CLI.run(["classify", "--model", dir + "/model", "--format", "csv", inputs])
        XCTAssertEqual(c.status, 0, c.stderr)
        let rows = c.stdout.split(separator: "\n")
        XCTAssertEqual(rows.first, "id,role,role_probability,seniority,seniority_probability")
        XCTAssertEqual(rows.count, 3)
        XCTAssertTrue(rows[1].hasPrefix("7,"), String(rows[1]))
        XCTAssertTrue(rows[2].hasPrefix("b.txt,"), String(rows[2]))

        let s = try CLI.run(["classify", "--model", dir + "/model", "--format", "text", "--algorithm", "nb"],
                            stdin: "{\"id\": 42, \"text\": \"internship for students\"}\n")
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertTrue(s.stdout.hasPrefix("42\trole="), s.stdout)
        let j = try CLI.run(["classify", "--model", dir + "/model", "-"], stdin: "{\"id\": 42, \"text\": \"internship\"}\n")
        XCTAssertTrue(j.stdout.hasPrefix("{\"id\": 42, "), j.stdout)
        XCTAssertEqual(j.stderr, "")
        // A posting with no known word still gets labels, and stderr says why they are weak.
        let empty = try CLI.run(["classify", "--model", dir + "/model"], stdin: "{\"text\": \"\"}\n{\"text\": \"zzz qqq\"}\n")
        XCTAssertEqual(empty.status, 0, empty.stderr)
        XCTAssertEqual(empty.stdout.split(separator: "\n").count, 2)
        XCTAssertTrue(empty.stderr.contains("2 posting(s) had no word the model knows"), empty.stderr)
    }

    func testCrossValidation() throws {
        let r = try CLI.run(["evaluate", "--cv", "3", "--data", dir + "/train.jsonl", "--preset", "sklearn", "--format", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let role = (report["heads"] as! [String: Any])["role"] as! [String: Any]
        XCTAssertEqual((role["nb"] as! [String: Any])["n"] as? Int, 9)
    }

    func testErrorsAndExitCodes() throws {
        let usage = try CLI.run(["train", "--data", dir + "/train.jsonl"])
        XCTAssertEqual(usage.status, 64)
        XCTAssertTrue(usage.stderr.contains("--out"), usage.stderr)
        XCTAssertEqual(try CLI.run(["frobnicate"]).status, 64)
        XCTAssertEqual(try CLI.run(["train", "--bogus"]).status, 64)

        let missing = try CLI.run(["train", "--data", dir + "/nope.jsonl", "--out", dir + "/m"])
        XCTAssertEqual(missing.status, 66)
        XCTAssertTrue(missing.stderr.contains("nope.jsonl"), missing.stderr)

        // A bad record: error names file and line; the previous model survives.
        XCTAssertEqual(try train().status, 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/model/weights.bin"))
        let bad = dir + "/bad.jsonl"
        try "{\"text\": \"fine\", \"role\": \"sales\"}\n{\"text\": 5}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try CLI.run(["train", "--data", bad, "--out", dir + "/model"])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.contains("bad.jsonl:2"), r.stderr)
        XCTAssertTrue(r.stderr.contains("text"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line: \(r.stderr)")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/model/weights.bin")), before)

        let noModel = try CLI.run(["classify", "--model", dir + "/none"], stdin: "")
        XCTAssertEqual(noModel.status, 66)
        let badLabel = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/m2", "--labels", "topic"])
        XCTAssertEqual(badLabel.status, 65)
        XCTAssertTrue(badLabel.stderr.contains("topic"), badLabel.stderr)
    }

    func testHelpForEveryCommand() throws {
        for command in ["train", "classify", "evaluate", "inspect"] {
            let r = try CLI.run([command, "--help"])
            XCTAssertEqual(r.status, 0)
            XCTAssertTrue(r.stdout.contains("USAGE: joblabel \(command)"), r.stdout)
        }
    }

    func testTrainNeverReplacesADirectoryThatIsNotAModel() throws {
        let precious = dir + "/precious"
        try FileManager.default.createDirectory(atPath: precious, withIntermediateDirectories: true)
        try "keep me".write(toFile: precious + "/notes.md", atomically: true, encoding: .utf8)
        let r = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", precious])
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertTrue(r.stderr.contains("not a joblabel model"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: precious), ["notes.md"])
    }

    func testFailedOutputWriteIsAnError() throws {
        guard FileManager.default.fileExists(atPath: "/dev/full") else { throw XCTSkip("no /dev/full on this system") }
        XCTAssertEqual(try train().status, 0)
        guard let binary = CLI.binary else { throw XCTSkip("no binary") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["classify", "--model", dir + "/model", dir + "/train.jsonl"]
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/full")
        let err = Pipe()
        p.standardError = err
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 74, message)
        XCTAssertTrue(message.contains("stdout"), message)
    }

    func testLabelEdgeCases() throws {
        // One class only: refused with the reason.
        try "{\"text\": \"alpha beta\", \"role\": \"sales\"}\n{\"text\": \"gamma delta\", \"role\": \"sales\"}\n"
            .write(toFile: dir + "/one.jsonl", atomically: true, encoding: .utf8)
        let one = try CLI.run(["train", "--data", dir + "/one.jsonl", "--out", dir + "/m1", "--labels", "role", "--preset", "sklearn"])
        XCTAssertEqual(one.status, 65, one.stderr)
        XCTAssertTrue(one.stderr.contains("only one value"), one.stderr)
        XCTAssertEqual(try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/m", "--labels", "a/b"]).status, 64)
        XCTAssertEqual(try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/m", "--labels", "text"]).status, 64)
        XCTAssertEqual(try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/m", "--alpha", "1e308"]).status, 64)
        // Labeled data never comes from .txt files.
        let labeled = dir + "/labeled"
        try FileManager.default.createDirectory(atPath: labeled, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: dir + "/train.jsonl", toPath: labeled + "/train.jsonl")
        try "loose notes".write(toFile: labeled + "/notes.txt", atomically: true, encoding: .utf8)
        XCTAssertEqual(try CLI.run(["train", "--data", labeled + "/notes.txt", "--out", dir + "/m"]).status, 64)
        let fromDir = try CLI.run(["train", "--data", labeled, "--out", dir + "/m3", "--preset", "sklearn"])
        XCTAssertEqual(fromDir.status, 0, fromDir.stderr)
        XCTAssertTrue(fromDir.stderr.contains("trained on 9 postings"), fromDir.stderr)
    }

    func testCrossValidationWithASparseSecondHead() throws {
        // Only two rows carry 'team': most folds cannot train that head, yet the run completes.
        var lines = try String(contentsOfFile: dir + "/train.jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
        lines[0] = String(lines[0].dropLast()) + ", \"team\": \"red\"}"
        lines[1] = String(lines[1].dropLast()) + ", \"team\": \"blue\"}"
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/sparse.jsonl", atomically: true, encoding: .utf8)
        let r = try CLI.run(["evaluate", "--cv", "3", "--data", dir + "/sparse.jsonl", "--labels", "role,team", "--preset", "sklearn", "--format", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let heads = (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any])["heads"] as! [String: Any]
        XCTAssertEqual(((heads["team"] as! [String: Any])["lr"] as! [String: Any])["n"] as? Int, 2)
    }

    func testShippedDefaultModelIsFoundAndCanBeOverridden() throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/posting.txt").path
        // No --model: the binary finds Models/default by walking up from its own directory.
        let r = try CLI.run(["classify", example], environment: ["JOBLABEL_MODEL": ""])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(object["id"] as? String, "posting.txt")
        XCTAssertEqual((object["role"] as? [String: Any])?["label"] as? String, "information-technology")
        XCTAssertEqual((object["seniority"] as? [String: Any])?["label"] as? String, "entry")
        // JOBLABEL_MODEL wins over the search.
        let missing = try CLI.run(["classify", example], environment: ["JOBLABEL_MODEL": dir + "/nowhere"])
        XCTAssertEqual(missing.status, 66, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("nowhere"), missing.stderr)
    }

    func testCSVTrainingAndThreadIndependentModelFiles() throws {
        var csv = "id,title,text,role,seniority\r\n"
        for p in tinyCorpus() {
            let fields = [p.id, String(decoding: p.title, as: UTF8.self), String(decoding: p.text, as: UTF8.self),
                          p.labels[0] ?? "", p.labels[1] ?? ""]
            csv += fields.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: ",") + "\r\n"
        }
        try csv.write(toFile: dir + "/train.csv", atomically: true, encoding: .utf8)
        let one = try CLI.run(["train", "--data", dir + "/train.csv", "--out", dir + "/one", "--threads", "1", "--preset", "sklearn"])
        XCTAssertEqual(one.status, 0, one.stderr)
        let two = try CLI.run(["train", "--data", dir + "/train.csv", "--out", dir + "/two", "--threads", "2", "--preset", "sklearn"])
        XCTAssertEqual(two.status, 0, two.stderr)
        let jsonl = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/three", "--preset", "sklearn"])
        XCTAssertEqual(jsonl.status, 0, jsonl.stderr)
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/one/weights.bin"))
        XCTAssertEqual(a, try Data(contentsOf: URL(fileURLWithPath: dir + "/two/weights.bin")))
        // The same records as CSV or JSON Lines give the same data fingerprint and weights.
        XCTAssertEqual(a, try Data(contentsOf: URL(fileURLWithPath: dir + "/three/weights.bin")))
    }

    func testClassifyKeepsEarlierOutputWhenARecordIsBad() throws {
        XCTAssertEqual(try train().status, 0)
        let r = try CLI.run(["classify", "--model", dir + "/model"],
                            stdin: "{\"id\": \"ok\", \"text\": \"sales internship\"}\nnot json\n")
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("{\"id\": \"ok\""), r.stdout)
        XCTAssertTrue(r.stderr.contains("stdin:2"), r.stderr)
    }

    func testOutDirectoryIsCheckedBeforeTrainingAndOtherFilesAreKept() throws {
        XCTAssertEqual(try train().status, 0)
        try "my notes".write(toFile: dir + "/model/NOTES.md", atomically: true, encoding: .utf8)
        let r = try train()
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertTrue(r.stderr.contains("NOTES.md"), r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/model/NOTES.md"))
        // The check comes before reading: a missing data file is not even looked at.
        let early = try CLI.run(["train", "--data", dir + "/absent.jsonl", "--out", dir + "/train.jsonl/m"])
        XCTAssertEqual(early.status, 74, early.stderr)
        XCTAssertTrue(early.stderr.contains("is not a directory"), early.stderr)
        // Missing directories above --out are created, only once there is a model to write.
        let failed = try CLI.run(["train", "--data", dir + "/absent.jsonl", "--out", dir + "/models/new/m"])
        XCTAssertEqual(failed.status, 66, failed.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/models"))
        let created = try train(["--out", dir + "/models/new/m"])
        XCTAssertEqual(created.status, 0, created.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/models/new/m/manifest.json"))
    }

    func testEvaluateHeadSelectionAndNotes() throws {
        XCTAssertEqual(try train().status, 0)
        let one = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/train.jsonl", "--labels", "seniority", "--format", "json"])
        XCTAssertEqual(one.status, 0, one.stderr)
        let heads = (try JSONSerialization.jsonObject(with: Data(one.stdout.utf8)) as! [String: Any])["heads"] as! [String: Any]
        XCTAssertEqual(Array(heads.keys), ["seniority"])
        XCTAssertEqual(try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/train.jsonl", "--labels", "topic"]).status, 64)
        let trainingOption = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/train.jsonl", "--C", "3"])
        XCTAssertEqual(trainingOption.status, 64, trainingOption.stderr)
        // Only 'role' labels (one empty string = no label): seniority is skipped with a note.
        try "{\"text\": \"python code internship\", \"role\": \"information-technology\", \"seniority\": \"\"}\n{\"text\": \"quota\", \"role\": \"astronomy\"}\n"
            .write(toFile: dir + "/roles.jsonl", atomically: true, encoding: .utf8)
        let r = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/roles.jsonl"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("head 'seniority': no row in the data has this label; not scored"), r.stderr)
        XCTAssertTrue(r.stderr.contains("1 rows have labels the model never saw (astronomy)"), r.stderr)
        XCTAssertFalse(r.stdout.contains("seniority"), r.stdout)
    }

    func testInputNamesAndInspect() throws {
        XCTAssertEqual(try train().status, 0)
        try "x".write(toFile: dir + "/f.pdf", atomically: true, encoding: .utf8)
        let pdf = try CLI.run(["classify", "--model", dir + "/model", dir + "/f.pdf"])
        XCTAssertEqual(pdf.status, 64, pdf.stderr)
        XCTAssertTrue(pdf.stderr.contains("unknown input type '.pdf'"), pdf.stderr)
        XCTAssertEqual(try CLI.run(["inspect", "--model", dir + "/model"]).status, 0)
        XCTAssertEqual(try CLI.run(["inspect", dir + "/model", dir + "/other"]).status, 64)
        try FileManager.default.removeItem(atPath: dir + "/model/weights.bin")
        let broken = try CLI.run(["inspect", dir + "/model"])
        XCTAssertNotEqual(broken.status, 0, broken.stdout)
        XCTAssertTrue(broken.stderr.contains("weights.bin"), broken.stderr)
        let bounds = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/m", "--min-df", "5", "--max-df", "3"])
        XCTAssertEqual(bounds.status, 64, bounds.stderr)
    }
}
