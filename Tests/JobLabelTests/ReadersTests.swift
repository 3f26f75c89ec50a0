import Foundation
import XCTest
@testable import JobLabel

/// A fresh, uniquely named temporary directory for one test.
private func readersTempDirectory() -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("joblabel-readers-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

private func utf8Bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

private func utf8String(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

/// The error thrown by `body`, or a test failure.
/// The flat form of the error `body` throws.
private func flatError(_ body: () throws -> Any, file: StaticString = #filePath, line: UInt = #line) -> FlatError? {
    thrownError(body, file: file, line: line)?.flat
}

private func thrownError(_ body: () throws -> Any, file: StaticString = #filePath, line: UInt = #line) -> JobLabelError? {
    do {
        _ = try body()
        XCTFail("expected an error", file: file, line: line)
        return nil
    } catch let e as JobLabelError {
        return e
    } catch {
        XCTFail("unexpected error type: \(error)", file: file, line: line)
        return nil
    }
}

final class ReadersTests: XCTestCase {
    var tempDirectory = ""

    override func setUp() {
        super.setUp()
        tempDirectory = readersTempDirectory()
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: tempDirectory)
        super.tearDown()
    }

    @discardableResult
    private func makeTestFile(_ name: String, _ content: [UInt8]) -> String {
        let path = tempDirectory + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(content))
        return path
    }

    // MARK: JSON Lines: values

    func testJSONEscapes() throws {
        let line = #"{"text": "a\"b\\c\/d\b\f\n\r\t|\u00e9\u4E2D\ud83d\ude00|\u0041", "id": "x\ty"}"#
        let p = try parseJSONLine(utf8Bytes(line), heads: [])
        XCTAssertEqual(p.text, utf8Bytes("a\"b\\c/d\u{8}\u{C}\n\r\t|é中😀|A"))
        XCTAssertEqual(p.id, "x\ty")
        XCTAssertFalse(p.idIsNumber)
    }

    func testJSONLoneSurrogatesBecomeReplacementCharacter() throws {
        let p = try parseJSONLine(utf8Bytes(#"{"text": "1\ud800x 2\udc00 3\ud800\u0041 4\ud83d"}"#), heads: [])
        XCTAssertEqual(utf8String(p.text), "1\u{FFFD}x 2\u{FFFD} 3\u{FFFD}A 4\u{FFFD}")
    }

    func testJSONInvalidUTF8IsReplaced() throws {
        // 0xFF (never valid), 0xC3 followed by ASCII (truncated), E2 82 then quote (truncated 3-byte),
        // ED A0 80 (encoded surrogate), a valid "é" in between.
        var line = utf8Bytes(#"{"title": "t"#)
        line += [0xFF, 0x41, 0xC3, 0x42, 0xC3, 0xA9, 0xED, 0xA0, 0x80, 0x43, 0xE2, 0x82]
        line += utf8Bytes(#"", "text": "ok", "role": "r"#)
        line += [0xF0, 0x9F]
        line += utf8Bytes(#""}"#)
        let p = try parseJSONLine(line, heads: ["role"])
        XCTAssertEqual(utf8String(p.title), "t\u{FFFD}A\u{FFFD}Bé\u{FFFD}\u{FFFD}\u{FFFD}C\u{FFFD}")
        // Same as the standard library's repair.
        XCTAssertEqual(p.title, utf8Bytes(String(decoding: [0x74, 0xFF, 0x41, 0xC3, 0x42, 0xC3, 0xA9, 0xED, 0xA0, 0x80, 0x43, 0xE2, 0x82] as [UInt8], as: UTF8.self)))
        XCTAssertEqual(p.labels, ["r\u{FFFD}"])
        XCTAssertEqual(p.text, utf8Bytes("ok"))
    }

    func testJSONRawControlCharactersAreAccepted() throws {
        let p = try parseJSONLine(utf8Bytes("{\"text\": \"a\tb\u{1}c\"}"), heads: [])
        XCTAssertEqual(p.text, utf8Bytes("a\tb\u{1}c"))
    }

    func testJSONNumberIDsKeepTheirLiteral() throws {
        let a = try parseJSONLine(utf8Bytes(#"{"id": 42, "text": "x"}"#), heads: [])
        XCTAssertEqual(a.id, "42")
        XCTAssertTrue(a.idIsNumber)
        let b = try parseJSONLine(utf8Bytes(#"{"id": -1.50e+3, "text": "x"}"#), heads: [])
        XCTAssertEqual(b.id, "-1.50e+3")
        XCTAssertTrue(b.idIsNumber)
        let c = try parseJSONLine(utf8Bytes(#"{"id": "42", "text": "x"}"#), heads: [])
        XCTAssertEqual(c.id, "42")
        XCTAssertFalse(c.idIsNumber)
    }

    func testJSONSynthesizedIDs() throws {
        let a = try parseJSONLine(utf8Bytes(#"{"text": "x"}"#), heads: [], file: "data/in/train.jsonl", line: 7)
        XCTAssertEqual(a.id, "train.jsonl:7")
        XCTAssertFalse(a.idIsNumber)
        XCTAssertEqual(a.file, "data/in/train.jsonl")
        XCTAssertEqual(a.line, 7)
        let b = try parseJSONLine(utf8Bytes(#"{"id": null, "text": "x"}"#), heads: [], file: "-", line: 3)
        XCTAssertEqual(b.id, "stdin:3")
        XCTAssertEqual(b.file, "-")
    }

    func testJSONLabelsAndTitle() throws {
        let p = try parseJSONLine(utf8Bytes(#"{"seniority": null, "text": "", "role": "sales", "title": "Rep"}"#),
                                  heads: ["role", "seniority", "industry"])
        XCTAssertEqual(p.labels, ["sales", nil, nil])
        XCTAssertEqual(p.title, utf8Bytes("Rep"))
        XCTAssertEqual(p.text, [])
        let q = try parseJSONLine(utf8Bytes(#"{"text": "t", "title": null}"#), heads: ["role"])
        XCTAssertEqual(q.title, [])
        XCTAssertEqual(q.labels, [nil])
    }

    func testJSONDuplicateKeysLastWins() throws {
        let p = try parseJSONLine(utf8Bytes(#"{"text": "a", "role": 5, "text": "b", "role": "x"}"#), heads: ["role"])
        XCTAssertEqual(p.text, utf8Bytes("b"))
        XCTAssertEqual(p.labels, ["x"])
    }

    func testJSONEscapedKeysAreMatched() throws {
        let p = try parseJSONLine(utf8Bytes(#"{"te\u0078t": "body", "r\u006Fle": "r"}"#), heads: ["role"])
        XCTAssertEqual(p.text, utf8Bytes("body"))
        XCTAssertEqual(p.labels, ["r"])
    }

    func testJSONNestedUnknownFieldsAreSkipped() throws {
        let line = #"{"meta": {"a": [1, {"text": "no"}, "}]", -0.5e-2], "b": {}, "c": [[], [[]]]}, "#
            + #""flags": [true, false, null], "s": "\"}", "text": "yes", "after": {"role": 9}}"#
        let p = try parseJSONLine(utf8Bytes(line), heads: ["role"])
        XCTAssertEqual(p.text, utf8Bytes("yes"))
        XCTAssertEqual(p.labels, [nil])
    }

    // MARK: JSON Lines: errors

    func testJSONLabelOfWrongTypeNamesFieldTypeAndLine() throws {
        let doc = "{\"text\": \"a\", \"role\": \"x\"}\n{\"text\": \"b\", \"role\": 3}\n"
        let e = thrownError { try parseJSONLines(utf8Bytes(doc), heads: ["role"], file: "in.jsonl") }
        XCTAssertEqual(e?.flat, .badData(file: "in.jsonl", line: 2, field: "role",
                                   message: "label must be a string or null, got number; write the label as a string, or null for none"))
        for (value, type) in [("true", "boolean"), ("[\"a\"]", "array"), ("{}", "object")] {
            let f = thrownError { try parseJSONLine(utf8Bytes("{\"text\": \"a\", \"seniority\": \(value)}"),
                                                    heads: ["role", "seniority"], file: "f", line: 4) }
            XCTAssertEqual(f?.flat, .badData(file: "f", line: 4, field: "seniority",
                                       message: "label must be a string or null, got \(type); write the label as a string, or null for none"))
        }
    }

    func testJSONMissingText() throws {
        let e = thrownError { try parseJSONLine(utf8Bytes(#"{"id": 1, "title": "t"}"#), heads: [], file: "f", line: 9) }
        XCTAssertEqual(e?.flat, .badData(file: "f", line: 9, field: "text",
                                   message: "missing required field 'text'; every record needs the posting body as a string"))
    }

    func testJSONTextIDAndTitleOfWrongType() throws {
        guard case .badData(_, _, let f1, let m1)? = flatError({ try parseJSONLine(utf8Bytes(#"{"text": 12}"#), heads: []) })
        else { return XCTFail("expected badData") }
        XCTAssertEqual(f1, "text")
        XCTAssertTrue(m1.contains("number"), m1)
        guard case .badData(_, _, let f2, let m2)? = flatError({ try parseJSONLine(utf8Bytes(#"{"text": null}"#), heads: []) })
        else { return XCTFail("expected badData") }
        XCTAssertEqual(f2, "text")
        XCTAssertTrue(m2.contains("null"), m2)
        guard case .badData(_, _, let f3, let m3)? = flatError({ try parseJSONLine(utf8Bytes(#"{"text": "", "id": [1]}"#), heads: []) })
        else { return XCTFail("expected badData") }
        XCTAssertEqual(f3, "id")
        XCTAssertTrue(m3.contains("array"), m3)
        guard case .badData(_, _, let f4, let m4)? = flatError({ try parseJSONLine(utf8Bytes(#"{"text": "", "title": false}"#), heads: []) })
        else { return XCTFail("expected badData") }
        XCTAssertEqual(f4, "title")
        XCTAssertTrue(m4.contains("boolean"), m4)
    }

    func testJSONNonObjectLine() throws {
        let e = thrownError { try parseJSONLines(utf8Bytes("{\"text\": \"a\"}\n[1, 2]\n"), heads: [], file: "x.jsonl") }
        XCTAssertEqual(e?.flat, .badData(file: "x.jsonl", line: 2, field: nil, message: "expected a JSON object, got array"))
        let s = thrownError { try parseJSONLine(utf8Bytes(#"  "just a string"  "#), heads: [], file: "x", line: 1) }
        XCTAssertEqual(s?.flat, .badData(file: "x", line: 1, field: nil, message: "expected a JSON object, got string"))
    }

    func testJSONInvalidSyntaxReportsColumn() throws {
        let e = thrownError { try parseJSONLine(utf8Bytes(#"{"text" "a"}"#), heads: [], file: "x", line: 3) }
        XCTAssertEqual(e?.flat, .badData(file: "x", line: 3, field: nil,
                                   message: "not valid JSON: expected ':' after object key at column 9; each line must hold one complete JSON object"))
        let cases = [
            #"{"text": "a",}"#, #"{"text": "a""#, #"{"text": "unterminated}"#, #"{"text": "a", "x": tru}"#,
            #"{"text": "a", "x": 01}"#, #"{"text": "a", "x": [1 2]}"#, #"{"text": "bad \q escape"}"#,
            #"{"text": "\u12G4"}"#, #"{text: "a"}"#, #"{"text": "a", "x": {"k" 1}}"#, "{",
        ]
        for c in cases {
            guard case .badData(let file, let line, let field, let message)? =
                    flatError({ try parseJSONLine(utf8Bytes(c), heads: [], file: "x", line: 5) })
            else { XCTFail("no error for \(c)"); continue }
            XCTAssertEqual(file, "x")
            XCTAssertEqual(line, 5)
            XCTAssertNil(field)
            XCTAssertTrue(message.hasPrefix("not valid JSON: "), "\(c): \(message)")
            XCTAssertTrue(message.contains(" at column "), "\(c): \(message)")
        }
    }

    func testJSONTrailingGarbage() throws {
        let e = thrownError { try parseJSONLine(utf8Bytes(#"{"text": "a"} x"#), heads: [], file: "x", line: 1) }
        guard case .badData(_, 1, nil, let message)? = e?.flat else { return XCTFail("wrong error \(String(describing: e))") }
        XCTAssertTrue(message.hasPrefix("not valid JSON: unexpected data after the object"), message)
        XCTAssertTrue(message.contains("column 15"), message)
        // Two objects on one line are also rejected.
        XCTAssertNotNil(thrownError { try parseJSONLine(utf8Bytes(#"{"text": "a"}{"text": "b"}"#), heads: []) })
    }

    // MARK: JSON Lines: documents

    func testJSONByteOrderMarkCRLFAndBlankLines() throws {
        let doc: [UInt8] = [0xEF, 0xBB, 0xBF] + utf8Bytes("{\"text\": \"a\"}\r\n\r\n   \t\n{\"text\": \"b\", \"id\": 5}\r\n\n")
        let posts = try parseJSONLines(doc, heads: [], file: "dir/d.jsonl")
        XCTAssertEqual(posts.map(\.text), [utf8Bytes("a"), utf8Bytes("b")])
        XCTAssertEqual(posts.map(\.line), [1, 4])
        XCTAssertEqual(posts.map(\.id), ["d.jsonl:1", "5"])
        XCTAssertEqual(try parseJSONLines([], heads: []), [])
        XCTAssertEqual(try parseJSONLines(utf8Bytes("\n\n  \r\n"), heads: []), [])
    }

    func testJSONLastLineWithoutNewline() throws {
        let posts = try parseJSONLines(utf8Bytes("{\"text\": \"a\"}\n{\"text\": \"b\"}"), heads: [])
        XCTAssertEqual(posts.map(\.text), [utf8Bytes("a"), utf8Bytes("b")])
        XCTAssertEqual(posts.map(\.line), [1, 2])
    }

    func testJSONRecordsSpanningTinyChunks() throws {
        let big = String(repeating: "long text é \\\" ", count: 50)
        var doc = "\u{FEFF}{\"id\": 1, \"text\": \"\(big)\", \"role\": \"a\"}\n\n"
        doc += "{\"id\": \"two\", \"title\": \"\\ud83d\\ude00\", \"text\": \"short\", \"role\": null}\r\n"
        doc += "{\"text\": \"\(big)\(big)\", \"nested\": {\"x\": [\"\(big)\"]}}"
        let reference = try parseJSONLines(utf8Bytes(doc), heads: ["role"])
        XCTAssertEqual(reference.count, 3)
        XCTAssertEqual(reference.map(\.line), [1, 3, 4])
        XCTAssertEqual(reference[0].text.count, utf8Bytes(big).count - 50)  // each \" collapses to one byte
        for chunk in [1, 2, 3, 7, 64] {
            XCTAssertEqual(try parseJSONLines(utf8Bytes(doc), heads: ["role"], chunkSize: chunk), reference, "chunk \(chunk)")
        }
        // Through a real file with a 7-byte chunk, in batches of 2.
        let path = makeTestFile("span.jsonl", utf8Bytes(doc))
        let reader = try PostingReader(InputSpec(path: path, format: .jsonl), heads: ["role"], chunkSize: 7)
        let first = try reader.next(maxCount: 2).map { try $0.get() }
        XCTAssertEqual(first.count, 2)
        let second = try reader.next(maxCount: 2).map { try $0.get() }
        XCTAssertEqual(second.count, 1)
        XCTAssertTrue(try reader.next(maxCount: 2).isEmpty)
        XCTAssertEqual((first + second).map(\.text), reference.map(\.text))
        XCTAssertEqual((first + second).map(\.id), [ "1", "two", "span.jsonl:4"])
    }

    func testJSONLargeRecordFromFile() throws {
        // A 3 MB text field read with 64 KiB chunks: the record spans ~50 chunks.
        let body = [UInt8](repeating: UInt8(ascii: "w"), count: 3 << 20)
        let doc = utf8Bytes("{\"text\": \"") + body + utf8Bytes("\"}\n{\"text\": \"tail\"}\n")
        let path = makeTestFile("large.jsonl", doc)
        let reader = try PostingReader(InputSpec(path: path, format: .jsonl), heads: [], chunkSize: 64 << 10)
        let posts = try reader.next(maxCount: 10).map { try $0.get() }
        XCTAssertEqual(posts.count, 2)
        XCTAssertEqual(posts[0].text, body)
        XCTAssertEqual(posts[1].text, utf8Bytes("tail"))
        XCTAssertEqual(posts[1].line, 2)
    }

    func testReaderMissingFileAndDirectory() throws {
        let missing = tempDirectory + "/nope.jsonl"
        let e = thrownError { try PostingReader(InputSpec(path: missing, format: .jsonl), heads: []) }
        XCTAssertEqual(e, .inputNotFound(path: missing))
        guard case .io(let path, _)? = thrownError({ try PostingReader(InputSpec(path: self.tempDirectory, format: .jsonl), heads: []) })
        else { return XCTFail("expected .io for a directory") }
        XCTAssertEqual(path, tempDirectory)
    }

    // MARK: CSV

    func testCSVQuotesDoubledQuotesAndEmbeddedNewlines() throws {
        let doc = "id,title,text,role\n"
            + "1,\"Dev, Junior\",\"say \"\"hi\"\"\",sales\n"
            + "2,t,\"line1\nline2\r\nline3\rline4\",\n"
            + "3,,plain,\"\"\n"
        let posts = try parseCSV(utf8Bytes(doc), heads: ["role"], file: "a.csv")
        XCTAssertEqual(posts.count, 3)
        XCTAssertEqual(posts[0].id, "1")
        XCTAssertFalse(posts[0].idIsNumber)
        XCTAssertEqual(posts[0].title, utf8Bytes("Dev, Junior"))
        XCTAssertEqual(posts[0].text, utf8Bytes("say \"hi\""))
        XCTAssertEqual(posts[0].labels, ["sales"])
        XCTAssertEqual(posts[1].text, utf8Bytes("line1\nline2\r\nline3\rline4"))
        XCTAssertEqual(posts[1].labels, [nil])
        XCTAssertEqual(posts[2].title, [])
        XCTAssertEqual(posts[2].text, utf8Bytes("plain"))
        XCTAssertEqual(posts[2].labels, [nil])
        XCTAssertEqual(posts.map(\.line), [2, 3, 7])
        XCTAssertEqual(posts.map(\.file), ["a.csv", "a.csv", "a.csv"])
    }

    func testCSVByteOrderMarkCRLFBlankLinesAndTrimmedHeader() throws {
        let doc: [UInt8] = [0xEF, 0xBB, 0xBF] + utf8Bytes(" id , text\t,role\r\n\r\n7,hello,x\r\n\r\n,world,\r\n")
        let posts = try parseCSV(doc, heads: ["role"], file: "dir/b.csv")
        XCTAssertEqual(posts.map(\.id), ["7", "b.csv:5"])
        XCTAssertEqual(posts.map(\.text), [utf8Bytes("hello"), utf8Bytes("world")])
        XCTAssertEqual(posts.map(\.labels), [["x"], [nil]])
        XCTAssertEqual(posts.map(\.line), [3, 5])
    }

    func testCSVNoTrailingNewlineAndMissingHeadColumn() throws {
        let posts = try parseCSV(utf8Bytes("text,role\nfirst,a\n\"last, quoted\",b"), heads: ["seniority", "role"])
        XCTAssertEqual(posts.map(\.text), [utf8Bytes("first"), utf8Bytes("last, quoted")])
        XCTAssertEqual(posts.map(\.labels), [[nil, "a"], [nil, "b"]])
        XCTAssertEqual(posts.map(\.id), ["test.csv:2", "test.csv:3"])
        let crOnly = try parseCSV(utf8Bytes("text\rone\rtwo"), heads: [])
        XCTAssertEqual(crOnly.map(\.text), [utf8Bytes("one"), utf8Bytes("two")])
        XCTAssertEqual(crOnly.map(\.line), [2, 3])
    }

    func testCSVRaggedRow() throws {
        let e = thrownError { try parseCSV(utf8Bytes("id,text\n1,a\n2,b,extra\n"), heads: [], file: "r.csv") }
        XCTAssertEqual(e?.flat, .badData(file: "r.csv", line: 3, field: nil, message: "row has 3 fields but the header has 2; quote fields that contain commas"))
        let f = thrownError { try parseCSV(utf8Bytes("id,text,role\n\"multi\nline\",x\n"), heads: [], file: "r.csv") }
        XCTAssertEqual(f?.flat, .badData(file: "r.csv", line: 2, field: nil, message: "row has 2 fields but the header has 3; quote fields that contain commas"))
    }

    func testCSVUnterminatedQuote() throws {
        let e = thrownError { try parseCSV(utf8Bytes("id,text\n1,ok\n2,\"never closed\nmore\n"), heads: [], file: "u.csv") }
        XCTAssertEqual(e?.flat, .badData(file: "u.csv", line: 3, field: "text",
                                   message: "unterminated quoted field; a '\"' inside a field must be doubled (reading stops here: the rest of the file would be inside this field)"))
    }

    func testCSVMissingTextColumn() throws {
        let e = thrownError { try parseCSV(utf8Bytes("id,body\n1,a\n"), heads: [], file: "m.csv") }
        XCTAssertEqual(e, .fieldNotFound(MissingField(field: "text", role: .text, named: false, file: "m.csv", line: 1,
                                                      available: ["id", "body"], inHeader: true)))
        XCTAssertEqual(e?.description, "m.csv:1: the header has no column 'text'; its columns are 'id', 'body'")
        // Matching is case-sensitive.
        XCTAssertNotNil(thrownError { try parseCSV(utf8Bytes("Text\na\n"), heads: []) })
    }

    func testCSVHeaderOnlyAndEmptyFile() throws {
        XCTAssertEqual(try parseCSV(utf8Bytes("id,text,role\n"), heads: ["role"]), [])
        XCTAssertEqual(try parseCSV(utf8Bytes("id,text,role"), heads: ["role"]), [])
        XCTAssertEqual(try parseCSV([], heads: ["role"]), [])
        let path = makeTestFile("empty.csv", [])
        XCTAssertEqual(try readAllPostings([InputSpec(path: path, format: .csv)], heads: []), [])
    }

    func testCSVInvalidUTF8IsReplaced() throws {
        let doc = utf8Bytes("text,role\n\"a") + [0xFF] + utf8Bytes("b\",x") + [0xC3] + utf8Bytes("\n")
        let posts = try parseCSV(doc, heads: ["role"])
        XCTAssertEqual(posts.first?.text, utf8Bytes("a\u{FFFD}b"))
        XCTAssertEqual(posts.first?.labels, ["x\u{FFFD}"])
    }

    func testCSVRecordsSpanningTinyChunks() throws {
        let long = String(repeating: "word, \"\"quoted\"\"\r\nnext ", count: 40)
        let doc = "\u{FEFF}id,title,text,role\r\n"
            + "a,\"T1\",\"\(long)\",r1\r\n"
            + "\r\n"
            + "b,T2,unquoted text,\"r\r\n2\"\r\n"
            + "c,,\"\(long)\r\",\r"
            + "d,x,y,z"
        let reference = try parseCSV(utf8Bytes(doc), heads: ["role"])
        XCTAssertEqual(reference.map(\.id), ["a", "b", "c", "d"])
        XCTAssertEqual(reference.map(\.line), [2, 44, 46, 88])
        XCTAssertEqual(reference[1].labels, ["r\r\n2"])
        for chunk in [1, 2, 3, 7, 100] {
            XCTAssertEqual(try parseCSV(utf8Bytes(doc), heads: ["role"], chunkSize: chunk), reference, "chunk \(chunk)")
        }
        let path = makeTestFile("span.csv", utf8Bytes(doc))
        let reader = try PostingReader(InputSpec(path: path, format: .csv), heads: ["role"], chunkSize: 7)
        var all: [Posting] = []
        while true {
            let batch = try reader.next(maxCount: 3)
            if batch.isEmpty { break }
            XCTAssertLessThanOrEqual(batch.count, 3)
            all += try batch.map { try $0.get() }
        }
        XCTAssertEqual(all.map(\.text), reference.map(\.text))
        XCTAssertEqual(all.map(\.line), reference.map(\.line))
    }

    // MARK: txt

    func testTextFileIsOnePosting() throws {
        let content = utf8Bytes("Senior engineer\nline two ") + [0xFF] + utf8Bytes(" end")
        let path = makeTestFile("posting.txt", content)
        let posts = try readAllPostings([InputSpec(path: path, format: .txt)], heads: ["role", "seniority"],
                                        options: ReadOptions(textTitles: .none), skipBad: false).postings
        XCTAssertEqual(posts.count, 1)
        XCTAssertEqual(posts[0].id, "posting.txt")
        XCTAssertEqual(posts[0].title, [])
        XCTAssertEqual(posts[0].text, utf8Bytes("Senior engineer\nline two \u{FFFD} end"))
        XCTAssertEqual(posts[0].labels, [nil, nil])
        XCTAssertEqual(posts[0].file, path)
        // By default a first line that looks like a title is the title.
        let titled = try readAllPostings([InputSpec(path: path, format: .txt)], heads: [])
        XCTAssertEqual(titled.map(\.title), [utf8Bytes("Senior engineer")])
        XCTAssertEqual(titled.map(\.text), [utf8Bytes("line two \u{FFFD} end")])
    }

    // MARK: expandInputs

    func testExpandInputsDirectorySortingAndFiltering() throws {
        let dir = tempDirectory + "/inputs"
        try FileManager.default.createDirectory(atPath: dir + "/sub.csv", withIntermediateDirectories: true)
        for name in ["b.csv", "a.jsonl", "c.txt", "d.ndjson", "notes.md", "x.json", "B.txt", "a10.jsonl", "a2.jsonl", ".hidden.jsonl"] {
            _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: Data("{}".utf8))
        }
        let specs = try expandInputs([dir])
        XCTAssertEqual(specs, [
            InputSpec(path: dir + "/B.txt", format: .txt),
            InputSpec(path: dir + "/a.jsonl", format: .jsonl),
            InputSpec(path: dir + "/a10.jsonl", format: .jsonl),
            InputSpec(path: dir + "/a2.jsonl", format: .jsonl),
            InputSpec(path: dir + "/b.csv", format: .csv),
            InputSpec(path: dir + "/c.txt", format: .txt),
            InputSpec(path: dir + "/d.ndjson", format: .jsonl),
        ])
        XCTAssertEqual(try expandInputs([dir + "/"]).first, InputSpec(path: dir + "/B.txt", format: .txt))
    }

    func testExpandInputsFilesAndStdin() throws {
        let json = makeTestFile("x.json", [])
        let csv = makeTestFile("y.csv", [])
        let other = makeTestFile("z.dat", [])
        let bare = makeTestFile("noextension", [])
        let txt = makeTestFile("w.txt", [])
        XCTAssertEqual(try expandInputs(["-", json, csv, bare, txt]), [
            InputSpec(path: "-", format: .jsonl),
            InputSpec(path: json, format: .jsonl),
            InputSpec(path: csv, format: .csv),
            InputSpec(path: bare, format: .jsonl),
            InputSpec(path: txt, format: .txt),
        ])
        XCTAssertThrowsError(try expandInputs([other])) { error in
            XCTAssertEqual(exitCode(of: error), 64)
        }
    }

    func testExpandInputsMissingPathAndEmptyDirectory() throws {
        let missing = tempDirectory + "/does-not-exist"
        XCTAssertEqual(thrownError { try expandInputs([missing]) },
                       .inputNotFound(path: missing))
        let empty = tempDirectory + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        XCTAssertEqual(thrownError { try expandInputs([empty]) },
                       .noInputFiles(directory: empty, acceptsText: true))
        _ = FileManager.default.createFile(atPath: empty + "/readme.md", contents: Data())
        XCTAssertEqual(thrownError { try expandInputs([empty]) },
                       .noInputFiles(directory: empty, acceptsText: true))
    }

    func testReadAllPostingsKeepsSpecOrder() throws {
        let a = makeTestFile("a.jsonl", utf8Bytes("{\"text\": \"one\", \"role\": \"r\"}\n{\"text\": \"two\"}\n"))
        let b = makeTestFile("b.csv", utf8Bytes("text,role\nthree,s\n"))
        let c = makeTestFile("c.txt", utf8Bytes("four"))
        let posts = try readAllPostings(try expandInputs([c, a, b]), heads: ["role"])
        XCTAssertEqual(posts.map { utf8String($0.text) }, ["four", "one", "two", "three"])
        XCTAssertEqual(posts.map(\.labels), [[nil], ["r"], [nil], ["s"]])
        XCTAssertEqual(posts.map(\.id), ["c.txt", "a.jsonl:1", "a.jsonl:2", "b.csv:2"])
    }

    /// A malformed record comes in its place among the good ones, typed, and reading goes on after it.
    func testBadRecordsComeInTheirPlaceAndReadingGoesOn() throws {
        let bytes = Array("{\"text\": \"one\"}\n{\"text\": \"two\"}\n[1]\n{\"text\": \"four\"}\n".utf8)
        let reader = PostingReader(bytes: bytes, spec: InputSpec(path: "b.jsonl", format: .jsonl), heads: [])
        let batch = try reader.next(maxCount: 10)
        XCTAssertEqual(batch.count, 4)
        XCTAssertEqual(batch.compactMap { try? $0.get().id }, ["b.jsonl:1", "b.jsonl:2", "b.jsonl:4"])
        guard case .failure(let error) = batch[2] else { return XCTFail("the third record is the bad one") }
        XCTAssertEqual(error, .badRecord(.notAnObject(type: "array"), file: "b.jsonl", line: 3))
        XCTAssertEqual(error.flat, .badData(file: "b.jsonl", line: 3, field: nil, message: "expected a JSON object, got array"))
        XCTAssertEqual(try reader.next(maxCount: 10).count, 0)
        XCTAssertThrowsError(try readAllPostingsFromBytes(bytes))
    }

    private func readAllPostingsFromBytes(_ bytes: [UInt8]) throws -> [Posting] {
        try PostingReader(bytes: bytes, spec: InputSpec(path: "b.jsonl", format: .jsonl), heads: []).readAll()
    }

    func testSizedStringDecodingEqualsAppendingDecoding() throws {
        // Literals for every path of the sized decoder: empty, plain, simple escapes at both ends, \u escapes
        // (surrogate pairs, lone surrogates), well-formed and ill-formed UTF-8 (which grows to U+FFFD), and
        // the fallback part-way through; each decodes as the appending decoder does, and ends at the same place.
        let literals: [[UInt8]] = [
            Array(#""""#.utf8), Array(#""plain text""#.utf8), Array(#""\n\tedge\\""#.utf8),
            Array(#""a\"b\/c\bd\fe\rf""#.utf8), Array(#""caf\u00e9 \ud83d\ude00 \ud800 x \udc00""#.utf8),
            Array("\"naïve ünïcödé 日本\"".utf8), [0x22, 0x61, 0xFF, 0x62, 0xC3, 0x22], [0x22, 0xE2, 0x82, 0x5C, 0x6E, 0xF0, 0x9F, 0x22],
            Array(#""before\n\u0041 after \t tail""#.utf8) + [0x22] + Array(#", "next": 1"#.utf8),
        ]
        for literal in literals {
            try literal.withUnsafeBufferPointer { b in
                var sized = JSONLineParser(p: b.baseAddress!, n: b.count)
                var appending = sized
                var expected: [UInt8] = []
                try appending.decodeString(into: &expected)
                XCTAssertEqual(try sized.decodeStringSized(), expected, "\(literal)")
                XCTAssertEqual(sized.i, appending.i)
            }
        }
        for bad in [Array(#""unterminated"#.utf8), Array(#""bad \q escape""#.utf8), Array(#""\u12""#.utf8)] {
            try bad.withUnsafeBufferPointer { b in
                var parser = JSONLineParser(p: b.baseAddress!, n: b.count)
                XCTAssertThrowsError(try parser.decodeStringSized())
            }
        }
    }
}
