import Foundation
import XCTest
@testable import JobLabel

/// Field mapping, TSV and custom delimiters, plain lines, `.txt` titles and label maps in the readers.
final class FieldMappingTests: XCTestCase {
    private func b(_ s: String) -> [UInt8] { Array(s.utf8) }
    private func s(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

    /// All records of `text` read as `format` (chunks of 5 bytes so records span chunks); failures in place.
    private func read(_ text: String, _ format: InputFormat, file: String? = nil, heads: [String] = [],
                      _ options: ReadOptions = ReadOptions()) throws -> [RecordResult] {
        let reader = PostingReader(bytes: b(text), spec: InputSpec(path: file ?? "in.\(format.rawValue)", format: format),
                                   heads: heads, options: options, chunkSize: 5)
        var all: [RecordResult] = []
        while true {
            let batch = try reader.next(maxCount: 2)
            if batch.isEmpty { return all }
            all += batch
        }
    }

    private func postings(_ text: String, _ format: InputFormat, heads: [String] = [], _ options: ReadOptions = ReadOptions()) throws -> [Posting] {
        try read(text, format, heads: heads, options).map { try $0.get() }
    }

    private func thrown(_ body: () throws -> Any) -> JobLabelError? {
        do { _ = try body(); XCTFail("expected an error"); return nil } catch { return error as? JobLabelError }
    }

    // MARK: JSON Lines

    func testJSONLinesFieldsAreMapped() throws {
        let fields = FieldMapping(textFields: ["summary", "description"], titleField: "headline", idField: "job_id",
                                  labelFields: ["seniority": "level"], keepFields: ["url", "salary", "tags", "remote", "missing"])
        let jsonl = """
        {"job_id": 17, "headline": "Data Engineer", "summary": "Spark", "description": "Six years", "level": " Senior ", "url": "https://x/1?a=\\"b\\"", "salary": 5e4, "tags": ["a", {"b": null}], "remote": true, "missing": null, "role": "ignored"}
        {"job_id": "j2", "headline": null, "summary": "", "description": "Only this", "url": "u2", "salary": null, "tags": [], "remote": false}
        {"summary": "no description here"}

        """
        let ps = try postings(jsonl, .jsonl, heads: ["role", "seniority"], ReadOptions(fields: fields))
        XCTAssertEqual(ps.map(\.id), ["17", "j2", "in.jsonl:3"])
        XCTAssertEqual(ps.map(\.idIsNumber), [true, false, false])
        XCTAssertEqual(ps.map { s($0.title) }, ["Data Engineer", "", ""])
        XCTAssertEqual(ps.map { s($0.text) }, ["Spark\n\nSix years", "Only this", "no description here"])
        // 'role' is not mapped: read from its own field; 'seniority' from 'level', trimmed.
        XCTAssertEqual(ps.map(\.labels), [["ignored", "Senior"], [nil, nil], [nil, nil]])
        XCTAssertEqual(ps[0].kept, [.string("https://x/1?a=\"b\""), .json("5e4"), .json("[\"a\", {\"b\": null}]"), .json("true"), .null])
        XCTAssertEqual(ps[1].kept, [.string("u2"), .null, .json("[]"), .json("false"), .null])
        XCTAssertEqual(ps[2].kept, [.null, .null, .null, .null, .null])
    }

    func testMappedRecordErrorsNameTheMappedField() throws {
        let options = ReadOptions(fields: FieldMapping(textFields: ["body", "extra"], titleField: "headline", labelFields: ["seniority": "level"]))
        let jsonl = """
        {"body": "a", "extra": null, "headline": null, "level": null}
        {"body": 3, "extra": "x", "headline": null, "level": null}
        {"extra": null}
        {"other": 1}
        {"body": "a", "headline": 5}
        {"body": "a", "level": ["x"]}

        """
        let records = try read(jsonl, .jsonl, heads: ["seniority"], options)
        XCTAssertEqual(try records[0].get().text, b("a"))
        let errors = records.dropFirst().map { record -> RecordError? in
            guard case .failure(.badRecord(let e, _, _)) = record else { return nil }
            return e
        }
        XCTAssertEqual(errors, [.textNotString(field: "body", got: "number"), .textNotString(field: "extra", got: "null"),
                                .missingText(field: "body"), .titleNotString(field: "headline", got: "number"),
                                .labelNotString(field: "level", got: "array")])
    }

    func testAFieldNamedButAbsentFromTheFirstRecordIsRefused() throws {
        let options = ReadOptions(fields: FieldMapping(textFields: ["descripton"]))
        // The first line is not JSON: it is reported in place, the check waits for the first object.
        let records = try? read("not json\n{\"id\": 1, \"description\": \"x\", \"id\": 2}\n", .jsonl, options)
        XCTAssertNil(records)
        let e = thrown { try self.read("not json\n{\"id\": 1, \"description\": \"x\", \"id\": 2}\n", .jsonl, options) }
        XCTAssertEqual(e, .fieldNotFound(MissingField(field: "descripton", role: .text, named: true, file: "in.jsonl", line: 2,
                                                      available: ["id", "description"], inHeader: false)))
        XCTAssertEqual(e?.description, "in.jsonl:2: the first record has no field 'descripton'; its fields are 'id', 'description'")
        // Later records may lack it: only the first is checked (present there, even as null, is enough).
        let ps = try postings("{\"description\": null, \"text\": \"t\"}\n{\"description\": \"y\"}\n", .jsonl,
                              ReadOptions(fields: FieldMapping(textFields: ["description", "text"])))
        XCTAssertEqual(ps.map { s($0.text) }, ["t", "y"])
        // Each role is named in the error: a label field, a kept field.
        let label = thrown { try self.read("{\"text\": \"a\"}\n", .jsonl, heads: ["seniority"],
                                           ReadOptions(fields: FieldMapping(labelFields: ["seniority": "level"]))) }
        XCTAssertEqual(label?.description, "in.jsonl:1: the first record has no field 'level' (the label of head 'seniority'); its fields are 'text'")
        let kept = thrown { try self.read("{\"text\": \"a\"}\n", .jsonl, ReadOptions(fields: FieldMapping(keepFields: ["url"]))) }
        XCTAssertEqual(kept?.description, "in.jsonl:1: the first record has no field 'url' (a field to keep); its fields are 'text'")
    }

    func testTheStandardNamesMappedExplicitlyReadTheSameAsNoMapping() throws {
        let jsonl = "{\"id\": 1, \"title\": \"T\", \"text\": \"x\", \"role\": \"a\"}\n{\"text\": \"y\", \"role\": null}\n"
        let explicit = ReadOptions(fields: FieldMapping(textFields: ["text"], titleField: "title", idField: "id", labelFields: ["role": "role"]))
        XCTAssertEqual(try postings(jsonl, .jsonl, heads: ["role"], explicit), try postings(jsonl, .jsonl, heads: ["role"]))
        let csv = "id,title,text,role\n1,T,x,a\n,,y,\n"
        XCTAssertEqual(try postings(csv, .csv, heads: ["role"], explicit), try postings(csv, .csv, heads: ["role"]))
    }

    // MARK: CSV and TSV

    func testCSVFieldsAreMapped() throws {
        let csv = "job_id,headline,summary,description,level,url\n7,Engineer,,\"Spark, Kafka\",Mid-Senior level,\"https://x/?a=1,2\"\n8,,One,Two,,\n"
        let fields = FieldMapping(textFields: ["summary", "description"], titleField: "headline", idField: "job_id",
                                  labelFields: ["seniority": "level"], keepFields: ["url"])
        let ps = try postings(csv, .csv, heads: ["seniority"], ReadOptions(fields: fields))
        XCTAssertEqual(ps.map(\.id), ["7", "8"])
        XCTAssertEqual(ps.map { s($0.title) }, ["Engineer", ""])
        XCTAssertEqual(ps.map { s($0.text) }, ["Spark, Kafka", "One\n\nTwo"])
        XCTAssertEqual(ps.map(\.labels), [["Mid-Senior level"], [nil]])
        XCTAssertEqual(ps.map(\.kept), [[.string("https://x/?a=1,2")], [.string("")]])
    }

    func testCSVHeaderMissingANamedColumn() {
        let e = thrown { try self.read("id,title,description\n1,a,b\n", .csv, file: "ads.csv",
                                       ReadOptions(fields: FieldMapping(textFields: ["descripton"]))) }
        XCTAssertEqual(e, .fieldNotFound(MissingField(field: "descripton", role: .text, named: true, file: "ads.csv", line: 1,
                                                      available: ["id", "title", "description"], inHeader: true)))
        XCTAssertEqual(e?.description, "ads.csv:1: the header has no column 'descripton'; its columns are 'id', 'title', 'description'")
        // A head that is not mapped and lacks a column has no labels, as before; a mapped one must exist.
        XCTAssertEqual(try postings("text\na\n", .csv, heads: ["role"]).map(\.labels), [[nil]])
        XCTAssertNotNil(thrown { try self.read("text\na\n", .csv, heads: ["role"], ReadOptions(fields: FieldMapping(labelFields: ["role": "function"]))) })
    }

    func testTSVAndOtherDelimiters() throws {
        let tsv = "id\ttext\trole\n1\tcomma, inside\tsales\n2\t\"quoted\ttab\"\tit\n"
        let ps = try postings(tsv, .tsv, heads: ["role"])
        XCTAssertEqual(ps.map { s($0.text) }, ["comma, inside", "quoted\ttab"])
        XCTAssertEqual(ps.map(\.labels), [["sales"], ["it"]])
        let semicolons = "id;text;role\n1;\"a;b\";x\n"
        XCTAssertEqual(try postings(semicolons, .csv, heads: ["role"], ReadOptions(delimiter: UInt8(ascii: ";"))).map { s($0.text) }, ["a;b"])
        // A ragged TSV row is found by its tabs.
        let ragged = try read("text\trole\na\tb\tc\n", .tsv, heads: ["role"])
        guard case .failure(.badRecord(.raggedRow(3, 2), _, 2)) = ragged.first else { return XCTFail("\(ragged)") }
    }

    // MARK: Plain lines

    func testPlainLinesAreOnePostingEach() throws {
        let bytes = b("Senior data engineer, 6 years Spark\r\n\n   \nMarketing intern ") + [0xFF] + b("\nlast line without newline")
        let ps = try PostingReader(bytes: bytes, spec: InputSpec(path: "-", format: .lines), heads: ["role"], chunkSize: 5).readAll()
        XCTAssertEqual(ps.map(\.id), ["1", "4", "5"])
        XCTAssertTrue(ps.allSatisfy(\.idIsNumber))
        XCTAssertEqual(ps.map { s($0.text) }, ["Senior data engineer, 6 years Spark", "Marketing intern \u{FFFD}", "last line without newline"])
        XCTAssertEqual(ps.map(\.title), [[], [], []])
        XCTAssertEqual(ps.map(\.labels), [[nil], [nil], [nil]])
        XCTAssertEqual(ps.map(\.line), [1, 4, 5])
        XCTAssertEqual(try postings("", .lines), [])
    }

    // MARK: Titles of text files

    func testTextTitleRule() {
        func title(_ line: String) -> String? { textTitle(ofFirstLine: line) }
        // Marked titles.
        XCTAssertEqual(title("Job Title: Chief Financial Officer"), "Chief Financial Officer")
        XCTAssertEqual(title("JOB TITLE:Head of Sales"), "Head of Sales")
        XCTAssertEqual(title("Title: Senior Nurse (Nights). Leeds."), "Senior Nurse (Nights). Leeds.")
        XCTAssertEqual(title("# Staff Engineer"), "Staff Engineer")
        XCTAssertEqual(title("### Staff Engineer ###"), "Staff Engineer ###")
        XCTAssertNil(title("Title:   "))
        XCTAssertNil(title("#hashtag hiring"), "a '#' without a space is not a heading")
        XCTAssertNil(title("####### seven"))
        XCTAssertNil(title("Title: " + String(repeating: "x", count: 201)))
        // Short lines without a sentence end.
        XCTAssertEqual(title("Junior Data Analyst (Graduate Programme)"), "Junior Data Analyst (Graduate Programme)")
        XCTAssertEqual(title("Sr. Backend Engineer - Payments"), "Sr. Backend Engineer - Payments")
        XCTAssertEqual(title("Chief Financial Officer"), "Chief Financial Officer")
        XCTAssertEqual(title("one two three four five six seven eight nine ten eleven twelve"), "one two three four five six seven eight nine ten eleven twelve")
        XCTAssertNil(title("one two three four five six seven eight nine ten eleven twelve thirteen"))
        XCTAssertNil(title(String(repeating: "Engineering", count: 10)), "over 100 characters")
        XCTAssertNil(title("We are hiring."))
        XCTAssertNil(title("We are hiring!"))
        XCTAssertNil(title("Are you our next engineer?"))
        XCTAssertNil(title("About the role:"))
        XCTAssertNil(title("2024-05-01"), "no letter")
    }

    func testTextTitleSplit() {
        func split(_ text: String) -> [String]? { splitTextTitle(b(text)).map { [s($0.title), s($0.text)] } }
        XCTAssertEqual(split("Chief Financial Officer\n\nWe seek a CFO.\nBoard reporting.\n"),
                       ["Chief Financial Officer", "We seek a CFO.\nBoard reporting.\n"])
        XCTAssertEqual(split("\n\n  Job Title: Nurse  \r\nNights on the ward."), ["Nurse", "Nights on the ward."])
        XCTAssertNil(split("We seek a CFO. Board reporting and audits.\nMore text."), "a sentence is not a title")
        XCTAssertNil(split("Chief Financial Officer\n\n  \n"), "nothing after it: the line is the text")
        XCTAssertNil(split(""))
    }

    func testTextFilesUseTheRuleUnlessTurnedOff() throws {
        let text = "# Staff Engineer\n\nGo and Kubernetes."
        XCTAssertEqual(try postings(text, .txt).map { [s($0.title), s($0.text)] }, [["Staff Engineer", "Go and Kubernetes."]])
        XCTAssertEqual(try postings(text, .txt, ReadOptions(textTitles: .none)).map { [s($0.title), s($0.text)] }, [["", text]])
    }

    // MARK: Inputs

    func testInputFormatOverrideAndTSVFiles() throws {
        let dir = makeTempDirectory("joblabel-fields")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["a.tsv", "b.txt", "c.dat"] { FileManager.default.createFile(atPath: dir + "/" + name, contents: Data("x".utf8)) }
        XCTAssertEqual(try expandInputs([dir]).map(\.format), [.tsv, .txt])
        XCTAssertEqual(try expandInputs([dir], allowText: false).map(\.format), [.tsv])
        XCTAssertEqual(try expandInputs([dir + "/c.dat", "-"], allowText: true, format: .lines).map(\.format), [.lines, .lines])
        XCTAssertEqual(try expandInputs([dir + "/b.txt"], allowText: false, format: .csv).map(\.format), [.csv])
        XCTAssertEqual(thrown { try expandInputs([dir + "/c.dat"], allowText: false, format: .lines) }, .textFileHasNoLabels(path: dir + "/c.dat"))
        XCTAssertEqual(thrown { try expandInputs([dir + "/c.dat"]) }, .unknownInputType(path: dir + "/c.dat", extension: "dat"))
    }

    // MARK: Label maps

    func testLabelMapRenamesAndReportsWhatItLacks() throws {
        let map = try LabelMap.parse(b(#"{"seniority": {"Mid-Senior level": "mid-senior", "Not Applicable": null, "Intern": " internship "}}"#), path: "m.json")
        var ps = ["Mid-Senior level", "Not Applicable", "Intern", "Director", "Director", "Executive", nil].enumerated().map { i, label in
            Posting(id: "\(i)", text: [], labels: ["sales", label])
        }
        let report = map.apply(to: &ps, heads: ["role", "seniority"])
        XCTAssertEqual(ps.map(\.labels), [["sales", "mid-senior"], ["sales", nil], ["sales", "internship"], ["sales", "Director"],
                                          ["sales", "Director"], ["sales", "Executive"], ["sales", nil]])
        XCTAssertEqual(report, [UnmappedLabels(head: "seniority", labels: [LabelCount(label: "Director", rows: 2), LabelCount(label: "Executive", rows: 1)])])
        XCTAssertEqual(map.targets(head: "seniority"), ["internship", "mid-senior"])
        XCTAssertNoThrow(try map.check(heads: ["role", "seniority"], path: "m.json"))
        XCTAssertEqual(thrown { try map.check(heads: ["role"], path: "m.json") }, .labelMapUnknownHead(path: "m.json", head: "seniority", known: ["role"]))
    }

    func testBadLabelMaps() {
        func problem(_ json: String) -> String? {
            guard case .labelMapInvalid(_, let p)? = thrown({ try LabelMap.parse(self.b(json), path: "m.json") }) else { return nil }
            return p
        }
        XCTAssertEqual(problem("{"), "not valid JSON; write one object per head, e.g. {\"seniority\": {\"Mid-Senior level\": \"mid-senior\"}}")
        XCTAssertEqual(problem("[1]"), "expected a JSON object of heads, e.g. {\"seniority\": {\"Mid-Senior level\": \"mid-senior\"}}")
        XCTAssertEqual(problem(#"{"seniority": ["a"]}"#), "head 'seniority': expected an object of labels, e.g. {\"Mid-Senior level\": \"mid-senior\"}")
        XCTAssertEqual(problem(#"{"seniority": {"a": 3}}"#), "head 'seniority', label 'a': the new label must be a string or null")
        XCTAssertEqual(thrown { try LabelMap.load("/nonexistent/map.json") }, .inputNotFound(path: "/nonexistent/map.json"))
    }
}
