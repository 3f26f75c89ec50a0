import Foundation
import XCTest
@testable import JobLabel
@testable import JobLabelCLI
#if canImport(Glibc)
import Glibc
#endif

/// Issue 14, classes 3, 4 and 6 (validators): an output never destroys an input, directory entries are
/// never skipped in silence, and text from the data is escaped for each output format.
final class OutputSafetyTests: XCTestCase {
    var dir = ""

    override func setUp() { dir = makeTempDirectory("joblabel-outputs") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private func touch(_ name: String, _ text: String = "x") {
        try? FileManager.default.createDirectory(atPath: parentPath(dir + "/" + name), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(text.utf8))
    }

    private func refusal(_ body: () throws -> Any) -> OutputRefusal? {
        do {
            _ = try body()
            return nil
        } catch JobLabelError.outputRefused(_, let reason) {
            return reason
        } catch {
            XCTFail("unexpected \(error)")
            return nil
        }
    }

    // MARK: class 3: outputs spare the inputs and the model

    func testAnOutputIsRefusedWhenItIsOrIsInsideAnInputOrTheModel() throws {
        touch("data/a.jsonl")
        touch("model/manifest.json")
        let data = dir + "/data", model = dir + "/model"
        XCTAssertEqual(refusal { try checkOutputFile(data + "/a.jsonl", inputs: [data + "/a.jsonl"]) }, .isAnInput)
        // However spelled: "..", a hard link, a symbolic link.
        XCTAssertEqual(refusal { try checkOutputFile(data + "/../data/a.jsonl", inputs: [data + "/a.jsonl"]) }, .isAnInput)
        XCTAssertEqual(link(data + "/a.jsonl", dir + "/hard.jsonl"), 0)
        XCTAssertEqual(refusal { try checkOutputFile(dir + "/hard.jsonl", inputs: [data + "/a.jsonl"]) }, .isAnInput)
        XCTAssertEqual(symlink(data, dir + "/alias"), 0)
        XCTAssertEqual(refusal { try checkOutputFile(dir + "/alias/new.html", inputs: [data]) }, .insideAnInput(data))
        XCTAssertEqual(refusal { try checkOutputFile(data + "/sub/new.html", inputs: [data]) }, .insideAnInput(data))
        XCTAssertEqual(refusal { try checkOutputFile(model + "/report.html", inputs: [], model: model) }, .insideTheModel(model))
        // Beside the inputs is fine.
        XCTAssertEqual(try checkOutputFile(dir + "/report.html", inputs: [data, data + "/a.jsonl"], model: model), dir + "/report.html")
        // A model directory may not hold an input, nor lie inside one.
        XCTAssertEqual(refusal { try checkModelOutput(dir, inputs: [data + "/a.jsonl"]) }, .holdsAnInput(data + "/a.jsonl"))
        XCTAssertEqual(refusal { try checkModelOutput(data + "/m", inputs: [data]) }, .insideAnInput(data))
    }

    func testAnOutputThatIsNotARegularFileIsRefusedAndALinkIsFollowed() throws {
        XCTAssertEqual(mkfifo(dir + "/fifo", 0o644), 0)
        XCTAssertEqual(refusal { try checkOutputFile(dir + "/fifo", inputs: []) }, .notARegularFile("FIFO (named pipe)"))
        XCTAssertEqual(refusal { try checkOutputFile(dir, inputs: []) }, .isADirectory)
        XCTAssertEqual(symlink(dir + "/nothing", dir + "/dangling"), 0)
        XCTAssertEqual(refusal { try checkOutputFile(dir + "/dangling", inputs: []) }, .danglingLink)
        touch("real.txt")
        XCTAssertEqual(symlink(dir + "/real.txt", dir + "/link.txt"), 0)
        let target = try checkOutputFile(dir + "/link.txt", inputs: [])
        XCTAssertEqual(FileIdentity(target), FileIdentity(dir + "/real.txt"))
    }

    func testTwoSpellingsOfOneOutputAreOneOutput() throws {
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        XCTAssertTrue(isSameOutput(dir + "/r.html", dir + "/./r.html"))
        XCTAssertTrue(isSameOutput(dir + "/r.html", dir + "/sub/../r.html"))
        XCTAssertFalse(isSameOutput(dir + "/r.html", dir + "/s.html"))
        XCTAssertFalse(isSameOutput(dir + "/r.html", dir + "/sub/r.html"))
    }

    func testReplacingAFileKeepsItsPermissions() throws {
        touch("private.txt", "old")
        XCTAssertEqual(chmod(dir + "/private.txt", 0o600), 0)
        try writeFileAtomically(dir + "/private.txt", Array("new".utf8))
        let writer = try AtomicFileWriter(path: dir + "/private.txt")
        try writer.write(Array("newer".utf8))
        try writer.commit()
        var st = stat()
        XCTAssertEqual(stat(dir + "/private.txt", &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        XCTAssertEqual(try String(contentsOfFile: dir + "/private.txt", encoding: .utf8), "newer")
    }

    func testABundleIsRecognisedOnlyWhenBothFilesAreRegularFilesOfTheirFormat() throws {
        let model = try JobLabelModel.train(tinyConfig(), postings: tinyCorpus(), files: ["tiny"])
        let out = dir + "/m"
        try ModelBundle.save(model, to: out)
        XCTAssertEqual(try checkModelOutput(out, inputs: []).replacesModel, true)
        // A model card may stay; another file may not.
        touch("m/README.md", "card")
        XCTAssertEqual(try checkModelOutput(out, inputs: []).mode, .replaceDirectory)
        touch("m/notes.txt")
        XCTAssertEqual(refusal { try checkModelOutput(out, inputs: []) }, .holdsOtherFiles(["notes.txt"]))
        unlink(out + "/notes.txt")
        // weights.bin a directory (with the user's files in it), a link, or of another format: not a bundle.
        let weights = try Data(contentsOf: URL(fileURLWithPath: out + "/weights.bin"))
        unlink(out + "/weights.bin")
        touch("m/weights.bin/keep.txt", "precious")
        XCTAssertEqual(refusal { try checkModelOutput(out, inputs: []) }, .notAModel)
        XCTAssertThrowsError(try ModelBundle.save(model, to: out))
        XCTAssertEqual(try String(contentsOfFile: out + "/weights.bin/keep.txt", encoding: .utf8), "precious")
        try FileManager.default.removeItem(atPath: out + "/weights.bin")
        try weights.write(to: URL(fileURLWithPath: dir + "/w.bin"))
        XCTAssertEqual(symlink(dir + "/w.bin", out + "/weights.bin"), 0)
        XCTAssertEqual(refusal { try checkModelOutput(out, inputs: []) }, .notAModel)
        unlink(out + "/weights.bin")
        touch("m/weights.bin", "not weights")
        XCTAssertEqual(refusal { try checkModelOutput(out, inputs: []) }, .notAModel)
        unlink(out + "/weights.bin")
        // The manifest alone is not a bundle either; a README alone neither.
        XCTAssertEqual(refusal { try checkModelOutput(out, inputs: []) }, .notAModel)
        // A README.md that is a directory is not a model card.
        try weights.write(to: URL(fileURLWithPath: out + "/weights.bin"))
        unlink(out + "/README.md")
        touch("m/README.md/x")
        XCTAssertEqual(refusal { try checkModelOutput(out, inputs: []) }, .notAModel)
    }

    func testAModelThatCannotReplaceItsDirectoryReplacesTheFilesInside() throws {
        // The in-place path, as used for mount points: the files are replaced, the card stays, the
        // directory itself (its inode) is the same.
        let model = try JobLabelModel.train(tinyConfig(), postings: tinyCorpus(), files: ["tiny"])
        let out = dir + "/m"
        try ModelBundle.save(model, to: out)
        touch("m/README.md", "card")
        let before = FileIdentity(out)
        var other = tinyConfig()
        other.naiveBayes.alpha = 0.5
        let second = try JobLabelModel.train(other, postings: tinyCorpus(), files: ["tiny"])
        try replaceBundleFiles(second, in: out)
        XCTAssertEqual(FileIdentity(out), before)
        XCTAssertEqual(try ModelBundle.load(out).config.naiveBayes.alpha, 0.5)
        XCTAssertEqual(try String(contentsOfFile: out + "/README.md", encoding: .utf8), "card")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(), ["README.md", "manifest.json", "weights.bin"])
    }

    // MARK: class 4: directory entries are never skipped in silence

    func testDirectoryEntriesThatCannotBeReadAreNamed() throws {
        touch("in/good.jsonl", "{\"text\": \"a\"}\n")
        touch("in/notes.md")            // not an input: skipped by rule, not named
        touch("in/.hidden.jsonl")       // hidden: skipped by rule
        // A name that is not UTF-8 ("caf\xE9.jsonl").
        let bad: [CChar] = Array((dir + "/in/caf").utf8CString.dropLast()) + [CChar(bitPattern: 0xE9)] + Array(".jsonl".utf8CString)
        let fd = open(bad, O_WRONLY | O_CREAT, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        XCTAssertEqual(symlink(dir + "/nowhere", dir + "/in/dangling.csv"), 0)
        XCTAssertEqual(mkfifo(dir + "/in/pipe.jsonl", 0o644), 0)
        try FileManager.default.createDirectory(atPath: dir + "/in/sub.jsonl", withIntermediateDirectories: true)
        var skipped: [SkippedInput] = []
        let specs = try expandInputs([dir + "/in"], allowText: true, skipped: &skipped)
        XCTAssertEqual(specs, [InputSpec(path: dir + "/in/good.jsonl", format: .jsonl)])
        XCTAssertEqual(skipped.map(\.description), [
            "\(dir)/in/sub.jsonl: not read: a directory (directories are not searched)",
            "\(dir)/in/caf\\xE9.jsonl: not read: its name is not valid UTF-8; rename it",
            "\(dir)/in/dangling.csv: not read: a symbolic link to nothing",
            "\(dir)/in/pipe.jsonl: not read: a FIFO (named pipe), not a regular file (name it on its own to read it)",
        ])
        XCTAssertEqual(skipped.map(\.losesData), [false, true, true, true])
        // Without a list to put them in, they are an error, not a silent omission.
        XCTAssertThrowsError(try expandInputs([dir + "/in"])) { error in
            guard case JobLabelError.unreadableInputs(let entries) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(entries.count, 3)
            XCTAssertEqual(exitCode(of: error), 66)
        }
    }

    // MARK: class 6: escaping per format

    func testCSVCellsAreSafeForSpreadsheets() {
        XCTAssertEqual(csvField("=HYPERLINK(\"http://x\",\"y\")"), "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"")
        XCTAssertEqual(csvField("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0")
        XCTAssertEqual(csvField("-2+3"), "'-2+3")
        XCTAssertEqual(csvField("@SUM(A1)"), "'@SUM(A1)")
        XCTAssertEqual(csvField("\t=1"), "'\t=1")
        XCTAssertEqual(csvField("\r=1"), "\"'\r=1\"")
        // Plain numbers and ordinary text are left alone; raw cells are raw.
        XCTAssertEqual(csvField("-3"), "-3")
        XCTAssertEqual(csvField("+1.5e3"), "+1.5e3")
        XCTAssertEqual(csvField("0.9944"), "0.9944")
        XCTAssertEqual(csvField("mid-senior"), "mid-senior")
        XCTAssertEqual(csvField("=1+1", raw: true), "=1+1")
        // NUL and other control characters never reach the file; quoting as in RFC 4180.
        XCTAssertEqual(csvField("a\u{0}b\u{1B}[31mc"), "a\u{FFFD}b\u{FFFD}[31mc")
        XCTAssertEqual(csvField("a,b"), "\"a,b\"")
        XCTAssertEqual(csvField("line\nbreak"), "\"line\nbreak\"")
    }

    func testTextAndTerminalTextShowControlCharactersInsteadOfSendingThem() {
        XCTAssertEqual(textCell("plain label"), "plain label")
        XCTAssertEqual(textCell("a\tb\nc\rd"), "a b c d")
        XCTAssertEqual(textCell("\u{1B}[2J\u{1B}]0;title\u{7}"), "\\u{1B}[2J\\u{1B}]0;title\\u{7}")
        XCTAssertEqual(textCell("x\u{0}y\u{7F}z\u{9B}w"), "x\\u{0}y\\u{7F}z\\u{9B}w")
        XCTAssertEqual(textCell("evil\u{202E}txt.exe\u{2028}"), "evil\\u{202E}txt.exe\\u{2028}")
        XCTAssertEqual(textCell("Café – “quoted” ✓"), "Café – “quoted” ✓")
        XCTAssertEqual(terminalText("line one\n\tline two \u{1B}[31mred"), "line one\n\tline two \\u{1B}[31mred")
    }

    func testMarkdownCellsCannotBreakTheTableOrBecomeMarkup() {
        XCTAssertEqual(markdownCell("sales|ops"), "sales\\|ops")
        XCTAssertEqual(markdownCell("two\nlines"), "two lines")
        XCTAssertEqual(markdownCell("[click](http://x) <img src=x> *b* _i_ `c` ~s~ a&b \\"),
                       "\\[click\\](http://x) \\<img src=x\\> \\*b\\* \\_i\\_ \\`c\\` \\~s\\~ a\\&b \\\\")
        XCTAssertEqual(markdownCell("mid-senior"), "mid-senior")
        XCTAssertEqual(markdownCell("\u{1B}[31m"), "\\\\u{1B}\\[31m")  // renders as \u{1B}[31m
    }

    func testReportTablesEscapeLabelsForTheirFormat() {
        let pipe = "a|b\nc", red = "\u{1B}[31mred"
        let report = EvaluationReport(truth: [pipe, red, red], predicted: [pipe, red, pipe])
        let result = EvaluationResult(entries: [(head: "role", algorithm: "lr", report: report)])
        let markdown = result.render(.markdown)
        XCTAssertTrue(markdown.contains("| a\\|b c "), markdown)
        XCTAssertFalse(markdown.contains("\u{1B}"))
        let text = result.render(.text)
        XCTAssertTrue(text.contains("\\u{1B}[31mred"), text)
        XCTAssertFalse(text.contains("\u{1B}"))
        XCTAssertFalse(text.contains("a|b\nc"))
    }
}
