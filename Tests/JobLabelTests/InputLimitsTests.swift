import Foundation
import XCTest
@testable import JobLabel

/// Issue 14, classes 2 and 7 (inputs): a record's size is bounded (memory in proportion to the limit, the
/// file and line reported), and inputs that are not UTF-8 text or end lines in CR alone say so.
final class InputLimitsTests: XCTestCase {
    private func reader(_ bytes: [UInt8], _ format: InputFormat = .jsonl, limit: Int = defaultMaxRecordBytes,
                        chunk: Int = 64) -> PostingReader {
        let name = ["jsonl": "in.jsonl", "csv": "in.csv", "tsv": "in.tsv", "txt": "in.txt", "lines": "in.lines"][format.rawValue]!
        return PostingReader(bytes: bytes, spec: InputSpec(path: name, format: format), heads: ["role"],
                             options: ReadOptions(maxRecordBytes: limit), chunkSize: chunk)
    }

    /// Every record of a reader: postings as their texts, failures as "LINE: problem".
    private func records(_ r: PostingReader) throws -> [String] {
        var out: [String] = []
        while true {
            let batch = try r.next(maxCount: 1000)
            if batch.isEmpty { return out }
            for record in batch {
                switch record {
                case .success(let p): out.append(String(decoding: p.text, as: UTF8.self))
                case .failure(.badRecord(let e, _, let line)): out.append("\(line): \(e.problem)")
                case .failure(let e): out.append("other: \(e)")
                }
            }
        }
    }

    // MARK: class 2: the record bound

    func testALineOverTheLimitIsReportedWithItsLineAndEndsTheInput() throws {
        let short = "{\"text\": \"a\"}\n"          // 14 bytes with its LF
        let long = "{\"text\": \"" + String(repeating: "x", count: 5000) + "\"}\n"
        let r = reader(Array((short + short + long + short).utf8), limit: 1000)
        XCTAssertEqual(try records(r), ["a", "a", "3: record too long"])
        // The buffer stopped growing at the limit plus one chunk.
        XCTAssertLessThanOrEqual(r.input.capacity, 1000 + 64 + 1)
    }

    func testARecordOfExactlyTheLimitIsReadAndOneByteMoreIsNot() throws {
        let line = "{\"text\": \"" + String(repeating: "y", count: 88) + "\"}"   // 100 bytes
        XCTAssertEqual(line.utf8.count, 100)
        XCTAssertEqual(try records(reader(Array((line + "\n" + line).utf8), limit: 100)).count, 2)
        XCTAssertEqual(try records(reader(Array((line + "\n").utf8), limit: 99)), ["1: record too long"])
        // The final line without a line feed is bounded too.
        XCTAssertEqual(try records(reader(Array(line.utf8), limit: 99)), ["1: record too long"])
    }

    func testNoLineBreakAtAllIsBoundedInEveryFormat() throws {
        let zeros = [UInt8](repeating: 0x41, count: 200_000)
        for format in InputFormat.allCases {
            let r = reader(zeros, format, limit: 4096, chunk: 512)
            let got = try records(r)
            XCTAssertEqual(got.count, 1, "\(format)")
            XCTAssertTrue(got[0].hasSuffix("record too long"), "\(format): \(got)")
            XCTAssertLessThanOrEqual(r.input.capacity, 4096 + 512 + 1, "\(format)")
        }
    }

    func testTheMessageNamesTheLimitAndCROnlyLinesOrAnOpenQuote() throws {
        func message(_ text: String, _ format: InputFormat, limit: Int) throws -> String {
            guard case .failure(let e)? = try reader(Array(text.utf8), format, limit: limit).next(maxCount: 10).last else { return "no failure" }
            return e.description
        }
        XCTAssertEqual(try message(String(repeating: "z", count: 300), .jsonl, limit: 200),
                       "in.jsonl:1: record longer than 200 bytes; the rest of the input is not read")
        XCTAssertEqual(try message(String(repeating: "{\"text\": \"a\"}\r", count: 30), .jsonl, limit: 200),
                       "in.jsonl:1: no line feed in the first 200 bytes, but carriage returns: the lines end in CR alone (classic Mac line endings); convert them to LF first (e.g. tr '\\r' '\\n'); the rest of the input is not read")
        XCTAssertEqual(try message("text\nok\n\"never closed, " + String(repeating: "w", count: 300), .csv, limit: 200),
                       "in.csv:3: record longer than 200 bytes, inside a quoted field that may never close (a '\"' inside a field must be doubled); the rest of the input is not read")
        XCTAssertEqual(try message(String(repeating: "t", count: 300), .txt, limit: 200),
                       "in.txt:1: record longer than 200 bytes; the rest of the input is not read")
    }

    func testSkippingBadRecordsDoesNotSkipARecordThatEndsItsInput() throws {
        let dir = makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/in.jsonl"
        try ("{\"text\": \"a\", \"role\": \"x\"}\n{\"text\": \"" + String(repeating: "b", count: 3000) + "\"}\n{\"text\": \"c\", \"role\": \"y\"}\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try readAllPostings([InputSpec(path: path, format: .jsonl)], heads: ["role"],
                                                 options: ReadOptions(maxRecordBytes: 1000), skipBad: true)) { error in
            XCTAssertEqual((error as? JobLabelError)?.description, "\(path):2: record longer than 1000 bytes; the rest of the input is not read")
        }
        // A malformed record that does not end the input is still skipped.
        try "{\"text\": \"a\", \"role\": \"x\"}\nnot json\n{\"text\": \"c\", \"role\": \"y\"}\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(try readAllPostings([InputSpec(path: path, format: .jsonl)], heads: ["role"], skipBad: true).postings.count, 2)
    }

    func testABatchEndsOnceItHoldsItsByteBudget() throws {
        let line = "{\"text\": \"" + String(repeating: "q", count: 990) + "\"}\n"
        let r = reader(Array(String(repeating: line, count: 50).utf8), chunk: 4096)
        r.batchBytes = 10_000
        var sizes: [Int] = []
        while true {
            let batch = try r.next(maxCount: 1000)
            if batch.isEmpty { break }
            sizes.append(batch.count)
        }
        XCTAssertEqual(sizes.reduce(0, +), 50)
        XCTAssertEqual(sizes.max(), 10)  // 10 records of 1002 bytes reach the budget
    }

    func testLabelMapReadingIsBoundedAndReadsPipes() throws {
        XCTAssertThrowsError(try readWholeInput("/dev/zero", limit: 1 << 16)) { error in
            XCTAssertEqual((error as? JobLabelError)?.description, "/dev/zero: longer than 65536 bytes; not read")
        }
    }

    // MARK: class 7: CR-only lines, UTF-16 and other non-text inputs

    func testJSONLinesWithCROnlyLineEndingsSaySo() throws {
        let text = "{\"text\": \"a\"}\r{\"text\": \"b\"}\r"
        guard case .failure(let e)? = try reader(Array(text.utf8)).next(maxCount: 10).first else { return XCTFail("no failure") }
        XCTAssertEqual(e.description, "in.jsonl:1: not valid JSON: carriage returns not followed by a line feed separate records on this line (lines that end in CR alone, classic Mac line endings); convert them to LF first (e.g. tr '\\r' '\\n')")
        // CRLF is still fine, and a line that is not JSON for another reason keeps its message.
        XCTAssertEqual(try records(reader(Array("{\"text\": \"a\"}\r\n{\"text\": \"b\"}\r\n".utf8))), ["a", "b"])
        XCTAssertEqual(try records(reader(Array("{\"text\": \"a\"} x\r\n".utf8))), ["1: not JSON"])
    }

    func testPlainLinesEndAtACRAloneToo() throws {
        let r = reader(Array("first\rsecond\r\nthird\n\rfifth".utf8), .lines)
        let postings = try r.readAll()
        XCTAssertEqual(postings.map { String(decoding: $0.text, as: UTF8.self) }, ["first", "second", "third", "fifth"])
        XCTAssertEqual(postings.map(\.id), ["1", "2", "3", "5"])
    }

    func testUTF16UTF32AndCompressedInputsAreNamedNotMisread() throws {
        func problem(_ bytes: [UInt8], _ format: InputFormat = .jsonl) throws -> String? {
            guard case .failure(.badRecord(.notText(let p), _, let line))? = try reader(bytes, format).next(maxCount: 10).first else { return nil }
            XCTAssertEqual(line, 0)
            return p
        }
        let jsonl = "{\"id\": \"a\", \"text\": \"senior engineer\"}\n"
        func utf16(_ s: String, bigEndian: Bool) -> [UInt8] {
            s.utf16.flatMap { u in bigEndian ? [UInt8(u >> 8), UInt8(u & 0xFF)] : [UInt8(u & 0xFF), UInt8(u >> 8)] }
        }
        XCTAssertEqual(try problem([0xFF, 0xFE] + utf16(jsonl, bigEndian: false)),
                       "is UTF-16 text (little-endian, with a byte order mark), not UTF-8; convert it first, e.g. iconv -f UTF-16 -t UTF-8")
        XCTAssertEqual(try problem([0xFE, 0xFF] + utf16("id,text\na,b\n", bigEndian: true), .csv),
                       "is UTF-16 text (big-endian, with a byte order mark), not UTF-8; convert it first, e.g. iconv -f UTF-16 -t UTF-8")
        XCTAssertEqual(try problem(utf16("id,text\na,b\n", bigEndian: false), .csv),
                       "is UTF-16 text (little-endian), not UTF-8; convert it first, e.g. iconv -f UTF-16 -t UTF-8")
        XCTAssertEqual(try problem(utf16("Senior engineer wanted", bigEndian: true), .txt),
                       "is UTF-16 text (big-endian), not UTF-8; convert it first, e.g. iconv -f UTF-16 -t UTF-8")
        XCTAssertEqual(try problem([0xFF, 0xFE, 0, 0, 0x7B, 0, 0, 0]),
                       "is UTF-32 text (little-endian, with a byte order mark), not UTF-8; convert it first, e.g. iconv -f UTF-32 -t UTF-8")
        XCTAssertEqual(try problem([0x1F, 0x8B, 0x08, 0x00, 0x12]),
                       "is gzip-compressed, not text; decompress it first (e.g. zcat, xzcat, zstdcat or bzcat FILE | joblabel ... -)")
        XCTAssertEqual(try problem([0x50, 0x4B, 0x03, 0x04, 0x14, 0x00], .csv),
                       "is a ZIP archive (an Excel .xlsx or Word .docx file?), not text; save or export it as CSV or plain text first")
        // UTF-8 (with or without its BOM), short inputs and text with a few odd bytes are read as before.
        XCTAssertNil(try problem(Array(jsonl.utf8)))
        XCTAssertNil(try problem([0xEF, 0xBB, 0xBF] + Array(jsonl.utf8)))
        XCTAssertNil(try problem(Array("a".utf8), .txt))
        XCTAssertNil(try problem(Array("Café\u{0}crème brûlée chef wanted, full time".utf8), .txt))
    }
}
