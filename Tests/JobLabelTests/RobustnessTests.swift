import Foundation
import XCTest
@testable import JobLabel
@testable import JobLabelCLI
#if canImport(Glibc)
import Glibc
#endif

/// Bad input, corrupt model files and interrupted runs (issue #5): each case gets one clear error or a
/// documented treatment, and nothing the user already had is lost.
final class RobustnessReaderTests: XCTestCase {
    private func read(_ text: String, _ format: InputFormat = .jsonl, heads: [String] = ["role"]) -> Result<[Posting], JobLabelError> {
        read(Array(text.utf8), format, heads: heads)
    }

    private func read(_ bytes: [UInt8], _ format: InputFormat = .jsonl, heads: [String] = ["role"]) -> Result<[Posting], JobLabelError> {
        let file = format == .csv ? "in.csv" : "in.jsonl"
        do {
            return .success(try PostingReader(bytes: bytes, spec: InputSpec(path: file, format: format), heads: heads).readAll())
        } catch let e as JobLabelError {
            return .failure(e)
        } catch {
            return .failure(.io(path: "?", message: "\(error)"))
        }
    }

    private func texts(_ r: Result<[Posting], JobLabelError>, file: StaticString = #filePath, line: UInt = #line) -> [String]? {
        guard case .success(let posts) = r else { XCTFail("expected postings, got \(r)", file: file, line: line); return nil }
        return posts.map { String(decoding: $0.text, as: UTF8.self) }
    }

    private func message(_ r: Result<[Posting], JobLabelError>, file: StaticString = #filePath, line: UInt = #line) -> String? {
        guard case .failure(let e) = r else { XCTFail("expected an error, got \(r)", file: file, line: line); return nil }
        return e.description
    }

    func testEveryCorpusInputCaseHasATreatmentOrAnError() throws {
        // Invalid UTF-8 is replaced by U+FFFD (never rejected, never a crash).
        XCTAssertEqual(texts(read(Array("{\"text\": \"a".utf8) + [0xFF, 0xC3] + Array("b\"}\n".utf8))), ["a\u{FFFD}\u{FFFD}b"])
        XCTAssertEqual(texts(read(Array("text\na".utf8) + [0xFE] + Array("\n".utf8), .csv)), ["a\u{FFFD}"])
        // A BOM, CRLF and empty lines are fine.
        XCTAssertEqual(texts(read([0xEF, 0xBB, 0xBF] + Array("{\"text\": \"x\"}\r\n\r\n\n{\"text\": \"y\"}\r\n".utf8))), ["x", "y"])
        // A line that is not JSON, JSON that is not an object.
        XCTAssertEqual(message(read("{\"text\": \"x\"}\nhello\n")),
                       "in.jsonl:2: not valid JSON: unexpected character 'h' at column 1; each line must hold one complete JSON object")
        XCTAssertEqual(message(read("\"just a string\"\n")), "in.jsonl:1: expected a JSON object, got string")
        // text missing, empty (accepted: an empty posting), not a string, a number.
        XCTAssertEqual(message(read("{\"title\": \"t\"}\n")),
                       "in.jsonl:1: field 'text': missing required field 'text'; every record needs the posting body as a string")
        XCTAssertEqual(texts(read("{\"text\": \"\"}\n")), [""])
        XCTAssertEqual(message(read("{\"text\": [\"a\"]}\n")),
                       "in.jsonl:1: field 'text': 'text' must be a string, got array; put the posting body in quotes")
        XCTAssertEqual(message(read("{\"text\": 12}\n")),
                       "in.jsonl:1: field 'text': 'text' must be a string, got number; put the posting body in quotes")
        // Label values that are numbers or arrays.
        XCTAssertEqual(message(read("{\"text\": \"x\", \"role\": 3}\n")),
                       "in.jsonl:1: field 'role': label must be a string or null, got number; write the label as a string, or null for none")
        XCTAssertEqual(message(read("{\"text\": \"x\", \"role\": [\"a\"]}\n")),
                       "in.jsonl:1: field 'role': label must be a string or null, got array; write the label as a string, or null for none")
        // Unknown fields are ignored.
        guard case .success(let unknown) = read("{\"text\": \"x\", \"salary\": {\"min\": 1}, \"tags\": [1, 2], \"role\": \"a\"}\n") else {
            return XCTFail("unknown fields must be ignored")
        }
        XCTAssertEqual(unknown.map(\.labels), [["a"]])
        // A 0-byte file has no postings (train then says there is nothing to train on).
        XCTAssertEqual(texts(read("")), [])
        XCTAssertEqual(texts(read("", .csv)), [])
        // CSV: unbalanced quotes, a ragged row, a missing header column, a header only.
        XCTAssertEqual(message(read("text,role\n\"open,a\nb,c\n", .csv)),
                       "in.csv:2: field 'text': unterminated quoted field; a '\"' inside a field must be doubled (reading stops here: the rest of the file would be inside this field)")
        XCTAssertEqual(message(read("text,role\na,b,c\n", .csv)),
                       "in.csv:2: row has 3 fields but the header has 2; quote fields that contain commas")
        XCTAssertEqual(message(read("title,role\na,b\n", .csv)),
                       "in.csv:1: the header has no column 'text'; its columns are 'title', 'role'")
        guard case .success(let noRole) = read("text\nplain\n", .csv) else { return XCTFail("a missing label column is no label") }
        XCTAssertEqual(noRole.map(\.labels), [[nil]])
        XCTAssertEqual(texts(read("text,role\n", .csv)), [])
    }

    func testDirectoryWithNoUsableFiles() throws {
        let dir = makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = FileManager.default.createFile(atPath: dir + "/notes.txt", contents: Data("x".utf8))
        XCTAssertThrowsError(try expandInputs([dir], allowText: false)) { error in
            XCTAssertEqual((error as? JobLabelError)?.description, "\(dir): directory has no .jsonl, .csv or .tsv files")
            XCTAssertEqual(exitCode(of: error), 66)
        }
    }

    func testHugeSingleLineIsReadWithBoundedChunks() throws {
        // 200 MB in one line, from a file read in 8 MiB chunks; then a normal record after it.
        let size = ProcessInfo.processInfo.environment["JOBLABEL_HUGE_LINE_MB"].flatMap(Int.init) ?? 200
        let dir = makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/huge.jsonl"
        guard let handle = FileHandle(forWritingAtPath: { FileManager.default.createFile(atPath: path, contents: nil); return path }()) else {
            return XCTFail("cannot create \(path)")
        }
        handle.write(Data("{\"text\": \"".utf8))
        let block = Data(repeating: UInt8(ascii: "w"), count: 1 << 20)
        for _ in 0..<size { handle.write(block) }
        handle.write(Data("\"}\n{\"text\": \"tail\"}\n".utf8))
        try handle.close()
        // Over the default limit of 64 MiB: refused at line 1, the buffer bounded.
        let bounded = try PostingReader(InputSpec(path: path, format: .jsonl), heads: [])
        guard case .failure(.badRecord(.tooLong(defaultMaxRecordBytes, false, false), _, 1))? = try bounded.next(maxCount: 10).first else {
            return XCTFail("expected the line to be refused")
        }
        XCTAssertLessThanOrEqual(bounded.input.capacity, defaultMaxRecordBytes + defaultInputChunkSize + 1)
        // With a higher limit it is read.
        let reader = try PostingReader(InputSpec(path: path, format: .jsonl), heads: [], options: ReadOptions(maxRecordBytes: (size + 1) << 20))
        let posts = try reader.readAll()  // the long record fills a batch on its own
        XCTAssertEqual(posts.map(\.text.count), [size << 20, 4])
        XCTAssertEqual(posts.map(\.line), [1, 2])
    }

    func testReaderGoesOnAfterABadJSONLine() throws {
        let bytes = Array("{\"text\": \"one\"}\nnope\n{\"text\": \"three\"}\n[4]\n{\"text\": 5}\n{\"text\": \"six\"}\n".utf8)
        let reader = PostingReader(bytes: bytes, spec: InputSpec(path: "r.jsonl", format: .jsonl), heads: [])
        var good: [String] = []
        var bad: [String] = []
        for _ in 0..<20 {
            let batch = try reader.next(maxCount: 2)
            if batch.isEmpty { break }
            for record in batch {
                switch record {
                case .success(let p): good.append(String(decoding: p.text, as: UTF8.self))
                case .failure(let e): bad.append(e.description)
                }
            }
        }
        XCTAssertEqual(good, ["one", "three", "six"])
        XCTAssertEqual(bad, [
            "r.jsonl:2: not valid JSON: invalid literal, expected 'null' at column 1; each line must hold one complete JSON object",
            "r.jsonl:4: expected a JSON object, got array",
            "r.jsonl:5: field 'text': 'text' must be a string, got number; put the posting body in quotes",
        ])
    }

    func testCSVRaggedRowIsSkippableButAnUnterminatedQuoteEndsTheFile() throws {
        let bytes = Array("text,role\na,x\nb,y,z\nc,w\n\"d,v\ne,u\n".utf8)
        let reader = PostingReader(bytes: bytes, spec: InputSpec(path: "r.csv", format: .csv), heads: ["role"])
        // The ragged row is one failure among the records; the unterminated quote ends the file, after the
        // records before it.
        let batch = try reader.next(maxCount: 100)
        XCTAssertEqual(batch.count, 3)
        XCTAssertEqual(batch.compactMap { try? $0.get().id }, ["r.csv:2", "r.csv:4"])
        guard case .failure(let ragged) = batch[1] else { return XCTFail("the second record is ragged") }
        XCTAssertEqual(ragged, .badRecord(.raggedRow(fields: 3, headerFields: 2), file: "r.csv", line: 3))
        XCTAssertEqual(ragged.description, "r.csv:3: row has 3 fields but the header has 2; quote fields that contain commas")
        XCTAssertThrowsError(try reader.next(maxCount: 100)) {
            XCTAssertEqual($0 as? JobLabelError, .csvUnterminatedQuote(file: "r.csv", line: 5, field: "text"))
            XCTAssertTrue("\($0)".hasPrefix("r.csv:5: field 'text': unterminated quoted field"), "\($0)")
        }
        XCTAssertTrue(try reader.next(maxCount: 100).isEmpty)
    }

    func testSkippingCountsEachProblem() throws {
        let dir = makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "{\"text\": \"a\"}\nx\n{\"text\": 1}\n{\"text\": true}\n{\"role\": \"r\"}\n{\"text\": \"b\", \"role\": 2}\n"
            .write(toFile: dir + "/s.jsonl", atomically: true, encoding: .utf8)
        var reported: [Int] = []
        let specs = [InputSpec(path: dir + "/s.jsonl", format: .jsonl)]
        let (posts, skipped) = try readAllPostings(specs, heads: ["role"], skipBad: true) { error in
            if case .badRecord(_, _, let line) = error { reported.append(line) }
        }
        XCTAssertEqual(posts.map(\.line), [1])
        XCTAssertEqual(reported, [2, 3, 4, 5, 6])
        XCTAssertEqual(skipped.summary, "skipped 5 records: 2 text not a string, 1 label not a string, 1 not JSON, 1 text missing")
        XCTAssertThrowsError(try readAllPostings(specs, heads: ["role"], skipBad: false)) { error in
            XCTAssertTrue("\(error)".hasSuffix("s.jsonl:2: not valid JSON: unexpected character 'x' at column 1; each line must hold one complete JSON object"), "\(error)")
        }
        XCTAssertNil(SkippedRecords().summary)
    }

    func testLabelsAreTrimmedButCaseIsKept() throws {
        guard case .success(let j) = read("{\"text\": \"x\", \"role\": \"  Sales\\t\"}\n{\"text\": \"y\", \"role\": \" \"}\n") else { return XCTFail() }
        XCTAssertEqual(j.map(\.labels), [["Sales"], [nil]])
        guard case .success(let c) = read("text,role\nx, sales \ny,\"\t\"\n", .csv) else { return XCTFail() }
        XCTAssertEqual(c.map(\.labels), [["sales"], [nil]])
        XCTAssertEqual(caseVariantLabels(["IT", "Sales", "it", "sales", "SALES", "x"]), [["IT", "it"], ["SALES", "Sales", "sales"]])
        XCTAssertEqual(Messages.describe(caseVariants: caseVariantLabels(["IT", "Sales", "it", "sales", "SALES", "x"]), head: "role"), [
            "warning: head 'role': labels 'IT' and 'it' differ only in case; they are different classes (labels are case-sensitive), write them the same way if they mean the same",
            "warning: head 'role': labels 'SALES' and 'Sales' and 'sales' differ only in case; they are different classes (labels are case-sensitive), write them the same way if they mean the same",
        ])
        XCTAssertEqual(caseVariantLabels(["a", "b"]), [])
    }

    func testDuplicateIDsAreWarnedOncePerIDWithBothLinesAndCapped() throws {
        var posts = (1...30).map { Posting(id: "id\($0 % 14)", text: [], file: "d.jsonl", line: $0) }
        posts.append(Posting(id: "d.jsonl:1", text: [], file: "d.jsonl", line: 1))  // synthesized ids are not checked
        posts.append(Posting(id: "d.jsonl:1", text: [], file: "other/d.jsonl", line: 1))
        let duplicates = duplicateIDs(posts, limit: 10)
        XCTAssertEqual(duplicates.listed.first, DuplicateID(id: "id1", first: ("d.jsonl", 1), second: ("d.jsonl", 15)))
        XCTAssertEqual(duplicates.more, 4)
        let warnings = Messages.describe(duplicates: duplicates)
        XCTAssertEqual(warnings.count, 11)
        // In the order of their second use; each id once although 'id1' is used three times.
        XCTAssertEqual(warnings[0], "warning: id 'id1' is used more than once (d.jsonl:1 and d.jsonl:15); both records are used, give each posting its own id")
        XCTAssertEqual(warnings[1], "warning: id 'id2' is used more than once (d.jsonl:2 and d.jsonl:16); both records are used, give each posting its own id")
        XCTAssertEqual(warnings[10], "warning: 4 more ids are used more than once (not listed)")
        XCTAssertEqual(duplicateIDs([Posting(id: "a", text: []), Posting(id: "b", text: [])]).listed, [])
    }
}

final class RobustnessModelTests: XCTestCase {
    var dir = ""

    override func setUp() { dir = makeTempDirectory("joblabel-robust") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// Loads a bundle made of these two files' bytes (in memory, as `ModelBundle.load` does after reading
    /// them); returns the error, failing if it loads.
    private func loadError(manifest: [UInt8], weights: [UInt8], _ what: String) -> JobLabelError? {
        let m = dir + "/probe"
        do {
            let parsed = try ModelBundle.decodeManifest(manifest, path: m + "/manifest.json")
            _ = try ModelBundle.decode(manifest: parsed, weights: weights, weightsPath: m + "/weights.bin")
            XCTFail("\(what): a damaged bundle loaded")
            return nil
        } catch let e as JobLabelError {
            XCTAssertEqual(e.description.split(separator: "\n").count, 1, "\(what): one line: \(e)")
            return e
        } catch {
            XCTFail("\(what): untyped error \(error)")
            return nil
        }
    }

    func testEveryTruncationAndEveryFlippedByteOfBothFilesIsRefused() throws {
        let model = try JobLabelModel.train(tinyConfig(), postings: tinyCorpus(), files: ["tiny"])
        let (manifest, weights) = try ModelBundle.encode(model)
        try ModelBundle.save(model, to: dir + "/good")
        XCTAssertNoThrow(try ModelBundle.load(dir + "/good"))
        for cut in 0..<weights.count {
            _ = loadError(manifest: manifest, weights: Array(weights[..<cut]), "weights cut at \(cut)")
        }
        for cut in 0..<manifest.count {
            _ = loadError(manifest: Array(manifest[..<cut]), weights: weights, "manifest cut at \(cut)")
        }
        for mask: UInt8 in [0x01, 0x80] {
            for i in weights.indices {
                var w = weights
                w[i] ^= mask
                _ = loadError(manifest: manifest, weights: w, "weights byte \(i) ^ \(mask)")
            }
            for i in manifest.indices {
                var m = manifest
                m[i] ^= mask
                _ = loadError(manifest: m, weights: weights, "manifest byte \(i) ^ \(mask)")
            }
        }
        // The checksum is compared as written: the same value in upper case is a changed byte (found by fuzzing).
        guard let at = manifestChecksumOffsets(manifest).first else { return XCTFail("no checksum") }
        var upper = manifest
        for k in at..<(at + 8) where upper[k] >= UInt8(ascii: "a") { upper[k] -= 0x20 }
        if upper == manifest { upper[at] = upper[at] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0") }
        XCTAssertEqual(loadError(manifest: upper, weights: weights, "checksum case")?.description,
                       "\(dir)/probe/manifest.json: manifest checksum mismatch: the file is damaged or was edited; retrain the model or restore it")
        // A changed label (valid JSON, plausible content) is caught by the manifest's checksum.
        let edited = String(decoding: manifest, as: UTF8.self).replacingOccurrences(of: "\"marketing\"", with: "\"marketinG\"")
        XCTAssertEqual(loadError(manifest: Array(edited.utf8), weights: weights, "edited label")?.description,
                       "\(dir)/probe/manifest.json: manifest checksum mismatch: the file is damaged or was edited; retrain the model or restore it")
    }

    func testModelFileErrorsAreOneClearLine() throws {
        let model = try JobLabelModel.train(tinyConfig(), postings: tinyCorpus(), files: ["tiny"])
        let (manifest, weights) = try ModelBundle.encode(model)
        // Missing bundle, a file instead of a directory, a missing weights file.
        XCTAssertThrowsError(try ModelBundle.load(dir + "/none")) {
            XCTAssertEqual($0 as? JobLabelError, .modelNotFound(directory: dir + "/none"))
            XCTAssertEqual(Messages.describe($0).message, "\(dir)/none: no model here; train one with 'joblabel train --data FILE --out \(dir)/none'")
            XCTAssertEqual(exitCode(of: $0), 66)
        }
        FileManager.default.createFile(atPath: dir + "/file", contents: Data("x".utf8))
        XCTAssertThrowsError(try ModelBundle.load(dir + "/file")) {
            XCTAssertEqual("\($0)", "\(dir)/file: is a file, not a model directory; pass the directory that holds manifest.json")
        }
        // A newer format version.
        let newer = String(decoding: manifest, as: UTF8.self).replacingOccurrences(of: "\"format_version\" : 3", with: "\"format_version\" : 4")
        XCTAssertEqual(loadError(manifest: Array(newer.utf8), weights: weights, "newer")?.description,
                       "\(dir)/probe/manifest.json: field 'format_version': model format version 4 is newer than this joblabel supports (3); upgrade joblabel")
        // Manifest and weights from different trainings.
        var other = tinyConfig()
        other.naiveBayes.alpha = 0.5
        let otherWeights = try ModelBundle.encode(try JobLabelModel.train(other, postings: tinyCorpus(), files: ["tiny"])).weights
        let mixed = loadError(manifest: manifest, weights: otherWeights, "mixed")?.description ?? ""
        XCTAssertTrue(mixed.hasPrefix("\(dir)/probe/weights.bin: weights belong to a different training than manifest.json"), mixed)
        // The shipped default model loads.
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Models/default").path
        XCTAssertFalse(try ModelBundle.load(shipped).heads.isEmpty)
    }

    func testUnreadableModelFile() throws {
        guard getuid() != 0 else { throw XCTSkip("running as root: file permissions do not stop root from reading") }
        try ModelBundle.save(try JobLabelModel.train(tinyConfig(), postings: tinyCorpus(), files: ["tiny"]), to: dir + "/m")
        chmod(dir + "/m/weights.bin", 0)
        XCTAssertThrowsError(try ModelBundle.load(dir + "/m")) {
            XCTAssertEqual("\($0)", "\(dir)/m/weights.bin: cannot open: Permission denied; make it readable (chmod +r) or run as its owner")
            XCTAssertEqual(exitCode(of: $0), 74)
        }
    }
}

/// The same cases through the `joblabel` binary: exit codes, stderr texts, and what is left on disk.
final class RobustnessEndToEndTests: XCTestCase {
    var dir = ""

    override func setUp() {
        dir = makeTempDirectory("joblabel-robust-e2e")
        writeTinyCorpusJSONL(to: dir + "/train.jsonl")
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
        return dir + "/" + name
    }

    private func trainModel(_ out: String = "model", _ extra: [String] = []) throws {
        let r = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/" + out, "--preset", "sklearn"] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testClassifyReportsBadRecordsGoesOnAndFailsAtTheEnd() throws {
        try trainModel()
        let input = "{\"id\": \"a\", \"text\": \"sales internship\"}\nnot json\n{\"id\": \"c\", \"text\": 7}\n\n{\"id\": \"d\", \"text\": \"python code\"}\n"
        let r = try CLI.run(["classify", "--model", dir + "/model", "--format", "csv"], stdin: input)
        XCTAssertEqual(r.status, 65, r.stderr)
        // One output line per good record, in input order; bad records get none.
        XCTAssertEqual(r.stdout.split(separator: "\n").map { String($0.prefix { $0 != "," }) }, ["id", "a", "d"])
        XCTAssertEqual(r.stderr.split(separator: "\n").map(String.init), [
            "joblabel: stdin:2: not valid JSON: invalid literal, expected 'null' at column 1; each line must hold one complete JSON object",
            "joblabel: stdin:3: field 'text': 'text' must be a string, got number; put the posting body in quotes",
            "joblabel: stdin: 2 malformed records were skipped (1 not JSON, 1 text not a string) and have no output line; fix them (listed above), or use --strict to stop at the first",
        ])
        // --strict stops at the first; the labels before it are written.
        let strict = try CLI.run(["classify", "--model", dir + "/model", "--strict", "--format", "csv"], stdin: input)
        XCTAssertEqual(strict.status, 65, strict.stderr)
        XCTAssertEqual(strict.stdout.split(separator: "\n").map { String($0.prefix { $0 != "," }) }, ["id", "a"])
        XCTAssertEqual(strict.stderr, "joblabel: stdin:2: not valid JSON: invalid literal, expected 'null' at column 1; each line must hold one complete JSON object\n")
        // A CSV whose quote never closes cannot be resumed: the run stops there.
        let csv = try write("open.csv", "id,text\nx,sales deals\ny,\"never closed\nz,more\n")
        let open = try CLI.run(["classify", "--model", dir + "/model", csv])
        XCTAssertEqual(open.status, 65, open.stderr)
        XCTAssertEqual(open.stdout.split(separator: "\n").count, 1)
        XCTAssertEqual(open.stderr, "joblabel: \(csv):3: field 'text': unterminated quoted field; a '\"' inside a field must be doubled (reading stops here: the rest of the file would be inside this field)\n")
    }

    func testTrainAndEvaluateSkipBadRecordsOnlyWhenAsked() throws {
        let good = try String(contentsOfFile: dir + "/train.jsonl", encoding: .utf8)
        let data = try write("mixed.jsonl", good + "{\"text\": 1}\n[]\n{\"text\": \"x\", \"role\": 5}\n")
        let strict = try CLI.run(["train", "--data", data, "--out", dir + "/m", "--preset", "sklearn"])
        XCTAssertEqual(strict.status, 65)
        XCTAssertEqual(strict.stderr, "joblabel: \(data):10: field 'text': 'text' must be a string, got number; put the posting body in quotes\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/m"))
        let skip = try CLI.run(["train", "--data", data, "--out", dir + "/m", "--preset", "sklearn", "--skip-bad"])
        XCTAssertEqual(skip.status, 0, skip.stderr)
        XCTAssertTrue(skip.stderr.contains("joblabel: skipped \(data):11: expected a JSON object, got array\n"), skip.stderr)
        XCTAssertTrue(skip.stderr.contains("joblabel: skipped 3 records: 1 label not a string, 1 not a JSON object, 1 text not a string\n"), skip.stderr)
        XCTAssertTrue(skip.stderr.contains("trained on 9 postings"), skip.stderr)
        let evaluate = try CLI.run(["evaluate", "--model", dir + "/m", "--data", data, "--skip-bad"])
        XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
        XCTAssertTrue(evaluate.stderr.contains("joblabel: skipped 3 records:"), evaluate.stderr)
        XCTAssertEqual(try CLI.run(["evaluate", "--model", dir + "/m", "--data", data]).status, 65)
    }

    func testDuplicateIDsAndCaseOnlyLabelDifferencesAreWarnings() throws {
        let data = try write("dup.jsonl", """
        {"id": "x", "text": "sales quota deals", "role": "sales"}
        {"id": "x", "text": "python code", "role": "it"}
        {"id": 7, "text": "sales pipeline", "role": " Sales "}
        {"id": 7, "text": "go code", "role": "it"}

        """)
        let r = try CLI.run(["train", "--data", data, "--out", dir + "/m", "--preset", "sklearn", "--labels", "role"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("warning: id 'x' is used more than once (\(data):1 and \(data):2); both records are used, give each posting its own id\n"), r.stderr)
        XCTAssertTrue(r.stderr.contains("warning: id '7' is used more than once (\(data):3 and \(data):4)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("warning: head 'role': labels 'Sales' and 'sales' differ only in case;"), r.stderr)
        XCTAssertEqual(try ModelBundle.loadManifest(dir + "/m").heads[0].labels, ["Sales", "it", "sales"])
    }

    func testTrainingEdgeCases() throws {
        func train(_ text: String, _ extra: [String] = []) throws -> CLI.Result {
            try CLI.run(["train", "--data", try write("edge.jsonl", text), "--out", dir + "/edge", "--preset", "sklearn", "--labels", "role"] + extra)
        }
        let data = dir + "/edge.jsonl"
        // A class with one example trains.
        let single = try train("{\"text\": \"alpha beta\", \"role\": \"a\"}\n{\"text\": \"beta gamma\", \"role\": \"a\"}\n{\"text\": \"delta\", \"role\": \"b\"}\n")
        XCTAssertEqual(single.status, 0, single.stderr)
        // Every document empty after tokenization.
        let empty = try train("{\"text\": \"!!\", \"role\": \"a\"}\n{\"text\": \"\", \"role\": \"b\"}\n")
        XCTAssertEqual(empty.status, 65)
        XCTAssertEqual(empty.stderr, "joblabel: \(data): field 'text': no tokens in the training texts: every document is empty after tokenization\n")
        // --min-df prunes the whole vocabulary.
        let pruned = try train("{\"text\": \"alpha\", \"role\": \"a\"}\n{\"text\": \"beta\", \"role\": \"b\"}\n", ["--min-df", "2"])
        XCTAssertEqual(pruned.status, 65)
        XCTAssertEqual(pruned.stderr, "joblabel: \(data): --min-df/--max-df pruned away all 2 terms; lower --min-df or raise --max-df\n")
        // More heads than the data has.
        let heads = try CLI.run(["train", "--data", data, "--out", dir + "/edge", "--preset", "sklearn", "--labels", "role,team"])
        XCTAssertEqual(heads.status, 65)
        XCTAssertEqual(heads.stderr, "joblabel: \(data): field 'team': no record has a value for label 'team'; choose the label fields with --labels (e.g. --labels role,seniority)\n")
        // A 0-byte file.
        let zero = try train("")
        XCTAssertEqual(zero.status, 65)
        XCTAssertEqual(zero.stderr, "joblabel: \(data): no records to train on; give a JSONL or CSV file with postings\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/edge/manifest.json") && single.status != 0)
    }

    func testModelDirectoryThatIsAFileOrMissingIsOneLine() throws {
        let file = try write("notamodel", "x")
        let r = try CLI.run(["classify", "--model", file], stdin: "{\"text\": \"x\"}\n")
        XCTAssertEqual(r.status, 66)
        XCTAssertEqual(r.stderr, "joblabel: \(file): is a file, not a model directory; pass the directory that holds manifest.json\n")
        XCTAssertEqual(r.stdout, "")
    }

    func testFileSizeLimitIsAClearErrorAndKeepsThePreviousModel() throws {
        guard let binary = CLI.binary else { throw XCTSkip("joblabel binary not found") }
        try trainModel("model", ["--alpha", "0.5"])
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/model/weights.bin"))
        // ulimit -f 1: files may not grow past 1024 bytes, so weights.bin cannot be written (EFBIG; the
        // binary ignores SIGXFSZ). A full disk takes the same path (ENOSPC).
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", "ulimit -f 1 && exec \"$0\" \"$@\"", binary, "train", "--data", dir + "/train.jsonl",
                       "--out", dir + "/model", "--preset", "sklearn"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 74, message)
        XCTAssertTrue(message.hasSuffix("joblabel: \(dir)/model: cannot write the model (write failed: File too large); the previous model is kept; free disk space or choose another --out\n"), message)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/model/weights.bin")), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["model", "train.jsonl"])
    }

    /// A corpus big enough that training takes a while, deterministic.
    private func generatedCorpus(_ n: Int) throws -> String {
        var rng = SplitMix(seed: 7)
        let roles = ["sales", "it", "marketing", "finance"]
        var words: [String] = []
        for i in 0..<3000 { words.append("w\(i)") }
        var lines = ""
        for k in 0..<n {
            let r = Int(rng.next() % 4)
            var text: [String] = []
            for _ in 0..<40 { text.append(words[Int(rng.next() % 750) + r * 750 * Int(rng.next() % 2)]) }
            lines += "{\"id\": \"g\(k)\", \"text\": \"\(text.joined(separator: " "))\", \"role\": \"\(roles[r])\", \"seniority\": \"\(k % 3 == 0 ? "entry" : "senior")\"}\n"
        }
        return try write("big.jsonl", lines)
    }

    func testKilledTrainingLeavesTheOldOrTheNewModelAndThreadsDoNotChangeIt() throws {
        guard let binary = CLI.binary else { throw XCTSkip("joblabel binary not found") }
        let data = try generatedCorpus(300)
        let out = dir + "/model"
        func run(_ extra: [String], threads: Int = 2) throws -> CLI.Result {
            try CLI.run(["train", "--data", data, "--out", out, "--threads", String(threads)] + extra)
        }
        // Determinism: 1 and 2 threads give the same weights.bin and manifest.json.
        XCTAssertEqual(try run([], threads: 1).status, 0)
        let one = try Data(contentsOf: URL(fileURLWithPath: out + "/weights.bin"))
        let oneManifest = try Data(contentsOf: URL(fileURLWithPath: out + "/manifest.json"))
        let newRun = try run([], threads: 2)
        XCTAssertEqual(newRun.status, 0, newRun.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/weights.bin")), one)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/manifest.json")), oneManifest)
        let newID = try ModelBundle.loadManifest(out).trainingId
        XCTAssertEqual(try run(["--alpha", "0.5"]).status, 0)
        let oldID = try ModelBundle.loadManifest(out).trainingId
        XCTAssertNotEqual(oldID, newID)

        // Killed at a known step (the binary waits there when JOBLABEL_TEST_HOLD_AT names it): before the
        // new bundle replaces the old one the directory holds the old bundle, after it the new one; never a
        // mixture, and the temporary directory of a killed run goes with the next run.
        let expected = ["training": oldID, "save-writing": oldID, "save-written": oldID, "save-replaced": newID]
        for (step, signal) in [("training", SIGINT), ("save-writing", SIGKILL), ("save-written", SIGINT), ("save-replaced", SIGKILL)] {
            do {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: binary)
                p.arguments = ["train", "--data", data, "--out", out, "--threads", "2"]
                var env = ProcessInfo.processInfo.environment
                env["JOBLABEL_TEST_HOLD_AT"] = step
                p.environment = env
                p.standardOutput = FileHandle.nullDevice
                let err = Pipe()
                p.standardError = err
                try p.run()
                // Wait for the step (or the end of the run, which would be a failure).
                var said = Data()
                while !String(decoding: said, as: UTF8.self).contains("holding at \(step)") {
                    let chunk = err.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    said.append(chunk)
                }
                XCTAssertTrue(String(decoding: said, as: UTF8.self).contains("holding at \(step)"), "\(step): \(String(decoding: said, as: UTF8.self))")
                kill(p.processIdentifier, signal)
                p.waitUntilExit()
                XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(), ["manifest.json", "weights.bin"], "killed at \(step)")
                let hexID = try ModelBundle.load(out).trainingID.map { String(format: "%02x", $0) }.joined()
                XCTAssertEqual(hexID, expected[step], "killed at \(step) (\(signal)): the \(expected[step] == oldID ? "old" : "new") model")
                if hexID == newID { XCTAssertEqual(try run(["--alpha", "0.5"]).status, 0) }  // back to the old one
            }
        }
        // Leftovers of the killed runs are gone after the next complete run.
        XCTAssertEqual(try run(["--alpha", "0.5"]).status, 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".model.tmp-") }
        XCTAssertEqual(leftovers, [])
    }
}

/// A tiny deterministic generator for test data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
