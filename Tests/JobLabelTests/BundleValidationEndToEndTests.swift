import Foundation
import XCTest
@testable import JobLabel

/// Untrusted bundles and absurd training problems through the `joblabel` binary: exit 65 and the field
/// named, within a time limit (a hang fails the test instead of stopping the suite).
final class BundleValidationEndToEndTests: XCTestCase {
    var dir = ""

    override func setUp() {
        dir = makeTempDirectory("joblabel-validate-e2e")
        try? "{\"text\": \"sales quota deals\"}\n".write(toFile: dir + "/post.jsonl", atomically: true, encoding: .utf8)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    struct Run { var status: Int32; var signaled: Bool; var timedOut: Bool; var stdout: String; var stderr: String }

    /// Runs `/bin/sh -c script` with `$JOBLABEL` set to the binary, killing it after `seconds` (scripts `exec`
    /// the binary, so the process killed is joblabel itself).
    private func sh(_ script: String, seconds: Double = 20) throws -> Run {
        guard let binary = CLI.binary else { throw XCTSkip("joblabel binary not found; build it or set JOBLABEL_BIN") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        var env = ProcessInfo.processInfo.environment
        env["JOBLABEL"] = binary
        p.environment = env
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let outFile = dir + "/.stdout", errFile = dir + "/.stderr"
        FileManager.default.createFile(atPath: outFile, contents: nil)
        FileManager.default.createFile(atPath: errFile, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outFile))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errFile))
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        let timedOut = p.isRunning
        if timedOut { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        let out = (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
        return Run(status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal, timedOut: timedOut, stdout: out, stderr: err)
    }

    /// Asserts exit 65 with one stderr line naming `field` (and `mentions`).
    private func assertRefused(_ r: Run, field: String?, mentions: String? = nil, _ what: String, line: UInt = #line) {
        XCTAssertFalse(r.timedOut, "\(what): hung", line: line)
        XCTAssertFalse(r.signaled, "\(what): killed by signal \(r.status)", line: line)
        XCTAssertEqual(r.status, 65, "\(what): \(r.stderr)", line: line)
        XCTAssertEqual(r.stdout, "", "\(what)", line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(what): \(r.stderr)", line: line)
        if let field { XCTAssertTrue(r.stderr.contains("field '\(field)'"), "\(what): \(r.stderr)", line: line) }
        if let mentions { XCTAssertTrue(r.stderr.contains(mentions), "\(what): \(r.stderr)", line: line) }
    }

    private func bundle(_ name: String, _ manifest: [UInt8], _ weights: [UInt8] = BundleFixture.bundle.weights) throws -> String {
        try BundleFixture.write(manifest, weights, to: dir + "/" + name)
        return name
    }

    func testTheFixtureClassifies() throws {
        let m = try bundle("good", BundleFixture.editedManifest([]))
        let r = try sh("exec \"$JOBLABEL\" classify --model \(m) --quiet post.jsonl")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\"role\""), r.stdout)
    }

    func testEditedBundlesWithRecomputedChecksumsAreRefused() throws {
        func post(_ m: String) -> String { "exec \"$JOBLABEL\" classify --quiet --model \(m) post.jsonl" }
        // Version 1 switched the manifest checksum off.
        var m = try bundle("v1", BundleFixture.editedManifest([("\"format_version\" : 3", "\"format_version\" : 1")]))
        assertRefused(try sh(post(m)), field: "format_version", mentions: "retrain", "format version 1")
        // NaN weights gave every posting the same label with exit 0.
        let (nm, nw) = BundleFixture.reweighed(BundleFixture.blocks(setting: "role/lr/bias", index: 0, to: .nan))
        m = try bundle("nan", nm, nw)
        assertRefused(try sh(post(m)), field: nil, mentions: "block 'role/lr/bias' holds nan", "NaN bias")
        // A huge n-gram count made classify spin forever.
        m = try bundle("ngrams", BundleFixture.editedManifest([("\"ngrams\" : 1", "\"ngrams\" : 9223372036854775807")]))
        assertRefused(try sh(post(m), seconds: 10), field: "vectorizer.ngrams", "huge ngrams")
        // A weights file outside the bundle.
        m = try bundle("outside", BundleFixture.editedManifest([("\"file\" : \"weights.bin\"", "\"file\" : \"../good/weights.bin\"")]))
        assertRefused(try sh(post(m)), field: "weights.file", "weights outside the bundle")
    }

    func testInspectDoesNotTrapOnLabelCountsThatOverflow() throws {
        let head = try ModelBundle.decodeManifest(Array(BundleFixture.bundle.manifest.utf8), path: "m").heads[0]
        let counts = head.labelCounts.map(String.init)
        let block = "\"label_counts\" : [\n        \(counts.joined(separator: ",\n        "))\n      ]"
        let m = try bundle("counts", BundleFixture.editedManifest([(block, "\"label_counts\" : [1, 9223372036854775807, 9223372036854775807]")]))
        for command in ["inspect \(m)", "inspect --json \(m)", "classify --quiet --model \(m) post.jsonl"] {
            assertRefused(try sh("exec \"$JOBLABEL\" \(command)"), field: "heads[0].label_counts[1]", command)
        }
    }

    func testOnlyRegularFilesAreOpenedAndNothingBlocks() throws {
        let good = try bundle("good", BundleFixture.editedManifest([]))
        // weights.bin and manifest.json as FIFOs with no writer (opening one for reading blocked), as /dev/zero.
        for (name, file) in [("fifo-w", "weights.bin"), ("fifo-m", "manifest.json")] {
            _ = try bundle(name, BundleFixture.editedManifest([]))
            try FileManager.default.removeItem(atPath: "\(dir)/\(name)/\(file)")
            XCTAssertEqual(mkfifo("\(dir)/\(name)/\(file)", 0o644), 0)
            assertRefused(try sh("exec \"$JOBLABEL\" classify --quiet --model \(name) post.jsonl", seconds: 10), field: nil,
                          mentions: "not a regular file", "FIFO \(file)")
        }
        _ = try bundle("zero", BundleFixture.editedManifest([]))
        try FileManager.default.removeItem(atPath: "\(dir)/zero/weights.bin")
        try FileManager.default.createSymbolicLink(atPath: "\(dir)/zero/weights.bin", withDestinationPath: "/dev/zero")
        assertRefused(try sh("exec \"$JOBLABEL\" inspect zero", seconds: 10), field: nil, mentions: "not a regular file", "/dev/zero")
        // A symbolic link to a regular file is followed.
        _ = try bundle("linked", BundleFixture.editedManifest([]))
        try FileManager.default.removeItem(atPath: "\(dir)/linked/weights.bin")
        try FileManager.default.createSymbolicLink(atPath: "\(dir)/linked/weights.bin", withDestinationPath: "../\(good)/weights.bin")
        XCTAssertEqual(try sh("exec \"$JOBLABEL\" classify --quiet --model linked post.jsonl").status, 0)
    }

    func testATrainingRunThatCannotFitIsRefusedWithTheEstimateAndTheIDNamed() throws {
        // 8,000 postings whose 'ticket' label is a value per posting, under a 1 GB address-space limit (in which
        // fitting aborted, failing to allocate): the estimate (2.3 GB: 3,000 features × 8,000 classes per
        // matrix) is refused before fitting, with the likely cause.
        var lines: [String] = []
        for i in 0..<8000 {
            let text = (0..<20).map { "w\(($0 * 37 + i * 11) % 3000)" }.joined(separator: " ")
            lines.append("{\"id\": \"r\(i)\", \"text\": \"\(text)\", \"ticket\": \"T-\(i)\", \"team\": \"\(i % 2 == 0 ? "a" : "b")\"}")
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/ids.jsonl", atomically: true, encoding: .utf8)
        let r = try sh("ulimit -v 1000000 && exec \"$JOBLABEL\" train --data ids.jsonl --labels team,ticket --out model --quiet", seconds: 60)
        XCTAssertFalse(r.timedOut)
        XCTAssertFalse(r.signaled, "signal \(r.status): \(r.stderr)")
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("joblabel: training would need about "), r.stderr)
        XCTAssertTrue(r.stderr.contains("head 'ticket' has 8000 labels for 8000 labeled rows: its field looks like an id"), r.stderr)
        XCTAssertTrue(r.stderr.contains("--labels"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/model"))
        // The same data with sane labels trains under the same limit.
        let ok = try sh("ulimit -v 1000000 && exec \"$JOBLABEL\" train --data ids.jsonl --labels team --out model --quiet", seconds: 120)
        XCTAssertEqual(ok.status, 0, ok.stderr)
    }
}
