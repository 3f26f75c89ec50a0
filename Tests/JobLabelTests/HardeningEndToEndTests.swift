import Foundation
import XCTest
@testable import JobLabel
#if canImport(Glibc)
import Glibc
#endif

/// Issue 14, classes 2, 3, 4, 6 and 7, through the binary: bounded records, outputs that spare the inputs,
/// no silent skipping, escaped text, and errors that tell the truth before the work.
final class HardeningEndToEndTests: XCTestCase {
    var dir = ""

    override func setUp() {
        dir = makeTempDirectory("joblabel-harden")
        writeTinyCorpusJSONL(to: dir + "/train.jsonl")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func write(_ name: String, _ text: String) {
        try? FileManager.default.createDirectory(atPath: parentPath(dir + "/" + name), withIntermediateDirectories: true)
        try? text.write(toFile: dir + "/" + name, atomically: false, encoding: .utf8)
    }

    private func read(_ name: String) -> String? { try? String(contentsOfFile: dir + "/" + name, encoding: .utf8) }

    private func train(_ out: String = "model", data: String = "train.jsonl", _ extra: [String] = []) throws -> CLI.Result {
        try CLI.run(["train", "--data", dir + "/" + data, "--out", dir + "/" + out, "--preset", "sklearn", "--quiet"] + extra)
    }

    /// Runs `/bin/sh -c script` with the joblabel binary as $0.
    private func shell(_ script: String) throws -> (status: Int32, stderr: String) {
        guard let binary = CLI.binary else { throw XCTSkip("joblabel binary not found; build it or set JOBLABEL_BIN") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script, binary]
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: e, as: UTF8.self))
    }

    // MARK: class 2: an input that never ends

    func testDevZeroStopsAtTheRecordLimitInBoundedMemory() throws {
        XCTAssertEqual(try train().status, 0)
        // Under a 1 GB address-space limit: the reader stops at 64 MiB (plus one 8 MiB chunk) instead of
        // growing until the allocator fails.
        let r = try shell("ulimit -v 1000000; exec \"$0\" classify --quiet --model '\(dir)/model' /dev/zero")
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("joblabel: /dev/zero:1: record longer than 67108864 bytes; the rest of the input is not read; to read longer records, raise --max-record-bytes\n"), r.stderr)
    }

    func testMaxRecordBytesBoundsEveryCommandAndRaisesTheLimit() throws {
        XCTAssertEqual(try train().status, 0)
        let long = "{\"id\": \"long\", \"text\": \"" + String(repeating: "sales ", count: 500) + "\", \"role\": \"sales\"}"
        write("long.jsonl", "{\"id\": \"short\", \"text\": \"python code\", \"role\": \"information-technology\"}\n\(long)\n{\"id\": \"after\", \"text\": \"campaigns\"}\n")
        let c = try CLI.run(["classify", "--model", dir + "/model", "--max-record-bytes", "1K", dir + "/long.jsonl"])
        XCTAssertEqual(c.status, 65)
        XCTAssertEqual(c.stdout.split(separator: "\n").count, 1, c.stdout)  // the record before it
        XCTAssertTrue(c.stderr.contains("long.jsonl:2: record longer than 1024 bytes; the rest of the input is not read"), c.stderr)
        let raised = try CLI.run(["classify", "--model", dir + "/model", "--max-record-bytes", "4K", dir + "/long.jsonl"])
        XCTAssertEqual(raised.status, 0, raised.stderr)
        XCTAssertEqual(raised.stdout.split(separator: "\n").count, 3)
        // train does not skip it even with --skip-bad: the rest of the file would be left out.
        let t = try train("m2", data: "long.jsonl", ["--max-record-bytes", "1024", "--skip-bad"])
        XCTAssertEqual(t.status, 65)
        XCTAssertTrue(t.stderr.contains("long.jsonl:2: record longer than 1024 bytes"), t.stderr)
        let bad = try CLI.run(["classify", "--model", dir + "/model", "--max-record-bytes", "12X", dir + "/long.jsonl"])
        XCTAssertEqual(bad.status, 64)
    }

    // MARK: class 3: an output never destroys an input

    func testEvaluateOutputsMayNotGoIntoTheModelOrTheInputsAndKeepPermissions() throws {
        XCTAssertEqual(try train().status, 0)
        let model = dir + "/model"
        let before = try FileManager.default.contentsOfDirectory(atPath: model).sorted()
        for option in ["--html", "--output"] {
            let r = try CLI.run(["evaluate", "--model", model, "--data", dir + "/train.jsonl", option, model + "/report.html"])
            XCTAssertEqual(r.status, 74, r.stderr)
            XCTAssertTrue(r.stderr.contains("is inside the model \(model) being read"), r.stderr)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: model).sorted(), before)
        write("data/train.jsonl", read("train.jsonl")!)
        let inside = try CLI.run(["evaluate", "--model", model, "--data", dir + "/data", "--html", dir + "/data/report.html"])
        XCTAssertEqual(inside.status, 74, inside.stderr)
        XCTAssertTrue(inside.stderr.contains("is inside the input directory \(dir)/data"), inside.stderr)
        // One file named twice, differently spelled; an empty name.
        let twice = try CLI.run(["evaluate", "--model", model, "--data", dir + "/train.jsonl", "--html", dir + "/r.html", "--output", dir + "/./r.html"])
        XCTAssertEqual(twice.status, 64, twice.stderr)
        XCTAssertEqual(try CLI.run(["evaluate", "--model", model, "--data", dir + "/train.jsonl", "--output", ""]).status, 64)
        // Replacing a report keeps its permissions.
        write("report.txt", "old")
        XCTAssertEqual(chmod(dir + "/report.txt", 0o600), 0)
        let ok = try CLI.run(["evaluate", "--model", model, "--data", dir + "/train.jsonl", "--output", dir + "/report.txt", "--quiet"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        var st = stat()
        XCTAssertEqual(stat(dir + "/report.txt", &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        XCTAssertNotEqual(read("report.txt"), "old")
    }

    func testClassifyOutputIsNeverAFIFOOrALinkReplacedByAFile() throws {
        XCTAssertEqual(try train().status, 0)
        XCTAssertEqual(mkfifo(dir + "/pipe", 0o644), 0)
        let fifo = try CLI.run(["classify", "--model", dir + "/model", "--output", dir + "/pipe", dir + "/train.jsonl"])
        XCTAssertEqual(fifo.status, 74)
        XCTAssertTrue(fifo.stderr.contains("pipe: is a FIFO (named pipe), not a regular file"), fifo.stderr)
        var st = stat()
        XCTAssertEqual(lstat(dir + "/pipe", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO)
        // A link stays a link; its target gets the labels.
        write("labels.jsonl", "")
        XCTAssertEqual(symlink(dir + "/labels.jsonl", dir + "/latest.jsonl"), 0)
        let r = try CLI.run(["classify", "--model", dir + "/model", "--output", dir + "/latest.jsonl", dir + "/train.jsonl"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(lstat(dir + "/latest.jsonl", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFLNK)
        XCTAssertEqual(read("labels.jsonl")?.split(separator: "\n").count, tinyCorpus().count)
    }

    func testTrainOutDeletesNothingItDidNotWrite() throws {
        XCTAssertEqual(try train().status, 0)
        // weights.bin replaced by a directory with the user's file in it: not a bundle, refused before training.
        unlink(dir + "/model/weights.bin")
        write("model/weights.bin/keep.txt", "precious")
        let r = try train()
        XCTAssertEqual(r.status, 74)
        XCTAssertTrue(r.stderr.contains("model: exists and is not a joblabel model"), r.stderr)
        XCTAssertEqual(read("model/weights.bin/keep.txt"), "precious")
        // A directory that holds one of the inputs.
        write("box/train.jsonl", read("train.jsonl")!)
        let holds = try train("box", data: "box/train.jsonl")
        XCTAssertEqual(holds.status, 74)
        XCTAssertTrue(holds.stderr.contains("box: holds the input"), holds.stderr)
        XCTAssertNotNil(read("box/train.jsonl"))
    }

    // MARK: class 4: nothing is skipped in silence

    func testUnreadableDirectoryEntriesAreNamedAndStopTrainingUnlessSkipped() throws {
        write("in/good.jsonl", read("train.jsonl")!)
        let bad: [CChar] = Array((dir + "/in/caf").utf8CString.dropLast()) + [CChar(bitPattern: 0xE9)] + Array(".jsonl".utf8CString)
        let fd = open(bad, O_WRONLY | O_CREAT, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        XCTAssertEqual(symlink(dir + "/gone.jsonl", dir + "/in/dangling.jsonl"), 0)
        XCTAssertEqual(mkfifo(dir + "/in/pipe.jsonl", 0o644), 0)  // opening it would wait forever
        let t = try train(data: "in")
        XCTAssertEqual(t.status, 66, t.stderr)
        XCTAssertTrue(t.stderr.contains("in/caf\\xE9.jsonl: not read: its name is not valid UTF-8; rename it"), t.stderr)
        XCTAssertTrue(t.stderr.contains("in/dangling.jsonl: not read: a symbolic link to nothing"), t.stderr)
        XCTAssertTrue(t.stderr.contains("in/pipe.jsonl: not read: a FIFO (named pipe), not a regular file"), t.stderr)
        XCTAssertTrue(t.stderr.contains("3 input files cannot be read (listed above); the rest would be only part of the data"), t.stderr)
        let skipped = try train(data: "in", ["--skip-bad"])
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertTrue(skipped.stderr.contains("in/caf\\xE9.jsonl: not read"), skipped.stderr)
        // classify labels the rest, names each entry and fails at the end.
        let c = try CLI.run(["classify", "--model", dir + "/model", dir + "/in"])
        XCTAssertEqual(c.status, 66, c.stderr)
        XCTAssertEqual(c.stdout.split(separator: "\n").count, tinyCorpus().count)
        XCTAssertTrue(c.stderr.contains("3 input files were not read (listed above) and have no output lines"), c.stderr)
    }

    // MARK: class 6: text that reaches a spreadsheet or a terminal

    func testScrapedIdsAndLabelsAreEscapedInEveryFormat() throws {
        let formula = "=HYPERLINK(\"http://evil.example\",\"open\")"
        let pipe = "sales|ops\nnew line"
        let escape = "\u{1B}[31mred\u{1B}[0m"
        var rows: [String] = []
        for (i, p) in tinyCorpus().enumerated() {
            let role = [formula, pipe, escape][i % 3]
            rows.append("{\"id\": \(JSONText.quoted(i == 0 ? "@cmd" : i == 1 ? escape : "-\(i)")), \"text\": \(JSONText.quoted(String(decoding: p.text, as: UTF8.self))), \"role\": \(JSONText.quoted(role))}")
        }
        rows.append("{\"id\": \"nul\\u0000id\", \"text\": \"python code\", \"role\": \(JSONText.quoted(pipe))}")
        write("odd.jsonl", rows.joined(separator: "\n") + "\n")
        let t = try train(data: "odd.jsonl", ["--labels", "role"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let csv = try CLI.run(["classify", "--model", dir + "/model", "--format", "csv", dir + "/odd.jsonl"])
        XCTAssertEqual(csv.status, 0, csv.stderr)
        XCTAssertTrue(csv.stdout.contains("\"'=HYPERLINK("), csv.stdout)
        XCTAssertTrue(csv.stdout.contains("\n'@cmd,"), csv.stdout)
        XCTAssertTrue(csv.stdout.contains("\n-2,"), csv.stdout)  // a plain number stays a number
        XCTAssertFalse(csv.stdout.contains("\u{0}"))
        XCTAssertFalse(csv.stdout.contains("\u{1B}"))
        let raw = try CLI.run(["classify", "--model", dir + "/model", "--format", "csv", "--csv-raw", dir + "/odd.jsonl"])
        XCTAssertTrue(raw.stdout.contains("\n@cmd,"), raw.stdout)
        let text = try CLI.run(["classify", "--model", dir + "/model", "--format", "text", "--top", "3", dir + "/odd.jsonl"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertFalse(text.stdout.contains("\u{1B}"))
        XCTAssertTrue(text.stdout.contains("\\u{1B}[31mred"), text.stdout)
        XCTAssertEqual(text.stdout.split(separator: "\n").count, rows.count)  // one line per posting
        XCTAssertTrue(text.stdout.split(separator: "\n").allSatisfy { $0.split(separator: "\t").count == 2 }, text.stdout)
        let md = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/odd.jsonl", "--format", "markdown", "--quiet"])
        XCTAssertEqual(md.status, 0, md.stderr)
        XCTAssertTrue(md.stdout.contains("sales\\|ops new line"), md.stdout)
        XCTAssertFalse(md.stdout.contains("\u{1B}"))
        // Table rows keep their column count.
        let summary = md.stdout.split(separator: "\n").filter { $0.hasPrefix("| ") && $0.contains("sales") }
        XCTAssertFalse(summary.isEmpty)
        let textReport = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/odd.jsonl", "--quiet"])
        XCTAssertFalse(textReport.stdout.contains("\u{1B}"))
        // stderr: the duplicate-id warning quotes an id from the data.
        write("dup.jsonl", "{\"id\": \"\\u001b]0;pwned\\u0007\", \"text\": \"a\"}\n{\"id\": \"\\u001b]0;pwned\\u0007\", \"text\": \"b\"}\n")
        let dup = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/dup.jsonl", "--labels", "role", "--quiet"])
        XCTAssertTrue(dup.stderr.contains("\\u{1B}]0;pwned\\u{7}"), dup.stderr)
        XCTAssertFalse(dup.stderr.contains("\u{1B}"))
    }

    // MARK: class 7: errors that tell the truth, early

    func testInputsThatAreNotUTF8TextOrEndLinesInCRSaySo() throws {
        XCTAssertEqual(try train().status, 0)
        var utf16: [UInt8] = [0xFF, 0xFE]
        for u in "{\"id\": \"a\", \"text\": \"python code\"}\n".utf16 { utf16 += [UInt8(u & 0xFF), UInt8(u >> 8)] }
        FileManager.default.createFile(atPath: dir + "/wide.jsonl", contents: Data(utf16))
        let w = try CLI.run(["classify", "--model", dir + "/model", dir + "/wide.jsonl"])
        XCTAssertEqual(w.status, 65)
        XCTAssertTrue(w.stderr.contains("wide.jsonl: is UTF-16 text (little-endian, with a byte order mark), not UTF-8; convert it first, e.g. iconv -f UTF-16 -t UTF-8"), w.stderr)
        XCTAssertFalse(w.stderr.contains("not valid JSON"))
        write("mac.jsonl", "{\"id\": \"a\", \"text\": \"python code\"}\r{\"id\": \"b\", \"text\": \"campaigns\"}\r")
        let m = try CLI.run(["classify", "--model", dir + "/model", dir + "/mac.jsonl"])
        XCTAssertEqual(m.status, 65)
        XCTAssertTrue(m.stderr.contains("mac.jsonl:1: not valid JSON: carriage returns not followed by a line feed separate records on this line (lines that end in CR alone"), m.stderr)
    }

    func testAnOutThatCannotBeWrittenIsReportedBeforeTraining() throws {
        for out in ["/proc/joblabel-test-model", "/sys/joblabel-test-model"] where FileManager.default.fileExists(atPath: parentPath(out)) {
            let r = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", out, "--preset", "sklearn"])
            XCTAssertEqual(r.status, 74, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("joblabel: \(out): cannot create it in \(parentPath(out)): "), r.stderr)
            XCTAssertFalse(r.stderr.contains("trained on"))
        }
    }

    func testAMountPointIsWrittenByReplacingItsFiles() throws {
        let mnt = dir + "/mnt"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let mount = try shell("mount -t tmpfs -o size=16m joblabel-test '\(mnt)' 2>/dev/null")
        guard mount.status == 0 else { throw XCTSkip("cannot mount a tmpfs here (needs root)") }
        defer { _ = try? shell("umount '\(mnt)'") }
        let first = try train("mnt")
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mnt).sorted(), ["manifest.json", "weights.bin"])
        write("mnt/README.md", "card")
        let again = try train("mnt", ["--alpha", "0.5"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try ModelBundle.load(mnt).config.naiveBayes.alpha, 0.5)
        XCTAssertEqual(read("mnt/README.md"), "card")
        let c = try CLI.run(["classify", "--model", mnt, dir + "/train.jsonl"])
        XCTAssertEqual(c.status, 0, c.stderr)
    }

    func testAnOutWhoseParentIsNotWritableIsWrittenInPlace() throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), let binary = CLI.binary else {
            throw XCTSkip("needs root and setpriv to run as another user")
        }
        // A directory the user may write in, inside one they may not (as a container volume).
        XCTAssertEqual(chmod(dir, 0o755), 0)
        try FileManager.default.createDirectory(atPath: dir + "/models/mine", withIntermediateDirectories: true)
        XCTAssertEqual(chown(dir + "/models/mine", 65534, 65534), 0)
        XCTAssertEqual(chmod(dir + "/models", 0o755), 0)
        XCTAssertEqual(chmod(dir + "/train.jsonl", 0o644), 0)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = ["--reuid", "65534", "--regid", "65534", "--clear-groups", binary, "train", "--data", dir + "/train.jsonl",
                       "--out", dir + "/models/mine", "--preset", "sklearn", "--quiet"]
        let err = Pipe()
        p.standardError = err
        try p.run()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if p.terminationStatus != 0 && !e.contains("models/mine") { throw XCTSkip("the binary or the data cannot be reached as nobody: \(e)") }
        XCTAssertEqual(p.terminationStatus, 0, e)
        XCTAssertNoThrow(try ModelBundle.load(dir + "/models/mine"))
    }
}
