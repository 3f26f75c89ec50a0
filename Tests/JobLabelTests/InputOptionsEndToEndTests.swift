import Foundation
import XCTest
@testable import JobLabel

/// Field mapping, plain lines, --keep, --output, missing folders, label maps, evaluate's default model
/// and `.txt` titles, through the binary.
final class InputOptionsEndToEndTests: XCTestCase {
    var dir = ""

    override func setUp() {
        dir = makeTempDirectory("joblabel-inputs")
        writeTinyCorpusJSONL(to: dir + "/train.jsonl")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func write(_ name: String, _ text: String) {
        try? text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
    }

    private func read(_ name: String) -> String? { try? String(contentsOfFile: dir + "/" + name, encoding: .utf8) }

    private func trainTiny() throws {
        let t = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/model", "--preset", "sklearn", "--quiet"])
        XCTAssertEqual(t.status, 0, t.stderr)
    }

    private func jsonLines(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    /// The tiny corpus as a CSV export with other column names (and a TSV copy).
    private func writeExport() {
        var csv = "job_id,headline,description,function,level,url\n"
        var tsv = "job_id\theadline\tdescription\tfunction\tlevel\turl\n"
        for p in tinyCorpus() {
            let title = String(decoding: p.title, as: UTF8.self), text = String(decoding: p.text, as: UTF8.self)
            csv += "\(p.id),\(title),\"\(text)\",\(p.labels[0] ?? ""),\(p.labels[1] ?? ""),https://jobs.example/\(p.id)?a=1&b=2\n"
            tsv += "\(p.id)\t\(title)\t\(text)\t\(p.labels[0] ?? "")\t\(p.labels[1] ?? "")\thttps://jobs.example/\(p.id)\n"
        }
        write("export.csv", csv)
        write("export.tsv", tsv)
        write("export.txt", csv.replacingOccurrences(of: ",", with: ";"))
    }

    // MARK: 1. Field mapping

    func testFieldMappingForTrainClassifyAndEvaluate() throws {
        writeExport()
        let model = dir + "/mapped"
        let mapping = ["--text-field", "description", "--title-field", "headline", "--id-field", "job_id"]
        // Without a mapping, the CSV has no 'text' column: the error lists the columns and names the option.
        let plain = try CLI.run(["train", "--data", dir + "/export.csv", "--out", model])
        XCTAssertEqual(plain.status, 65, plain.stderr)
        XCTAssertTrue(plain.stderr.contains("the header has no column 'text'; its columns are 'job_id', 'headline', 'description', 'function', 'level', 'url'; name the field that holds it with --text-field FIELD"), plain.stderr)
        let t = try CLI.run(["train", "--data", dir + "/export.csv", "--out", model, "--preset", "sklearn", "--quiet",
                             "--labels", "role=function,seniority=level"] + mapping)
        XCTAssertEqual(t.status, 0, t.stderr)
        // The same postings read from JSONL give the same model: the mapping read what the names say.
        try trainTiny()
        XCTAssertEqual(try ModelBundle.load(model).heads.map(\.classes), try ModelBundle.load(dir + "/model").heads.map(\.classes))
        let fromJSONL = try CLI.run(["classify", "--model", dir + "/model", dir + "/train.jsonl"])
        for input in [["export.csv"], ["export.tsv"], ["--delimiter", ";", "--input-format", "csv", "export.txt"]] {
            let c = try CLI.run(["classify", "--model", model] + mapping + input.map { $0.hasPrefix("export") ? dir + "/" + $0 : $0 })
            XCTAssertEqual(c.status, 0, c.stderr)
            XCTAssertEqual(c.stdout, fromJSONL.stdout, "\(input)")
        }
        let e = try CLI.run(["evaluate", "--model", model, "--data", dir + "/export.tsv", "--labels", "seniority=level", "--format", "json"] + mapping)
        XCTAssertEqual(e.status, 0, e.stderr)
        let heads = (try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any])["heads"] as! [String: Any]
        XCTAssertEqual(Array(heads.keys), ["seniority"])
        XCTAssertEqual(((heads["seniority"] as! [String: Any])["lr"] as! [String: Any])["n"] as? Int, 8)
    }

    func testSeveralTextFieldsAndMisspelledFields() throws {
        try trainTiny()
        write("two.jsonl", #"{"summary": "summer internship", "body": "students welcome, selling software", "url": "u"}"# + "\n")
        write("joined.jsonl", #"{"id": "two.jsonl:1", "text": "summer internship\n\nstudents welcome, selling software"}"# + "\n")
        let two = try CLI.run(["classify", "--model", dir + "/model", "--text-field", "summary,body", dir + "/two.jsonl"])
        XCTAssertEqual(two.status, 0, two.stderr)
        XCTAssertEqual(two.stdout, try CLI.run(["classify", "--model", dir + "/model", dir + "/joined.jsonl"]).stdout)
        for (option, value, message) in [
            ("--text-field", "summary,bdy", "usage error: --text-field: \(dir)/two.jsonl:1: the first record has no field 'bdy'; its fields are 'summary', 'body', 'url'; did you mean 'body'?"),
            ("--keep", "URL", "usage error: --keep: \(dir)/two.jsonl:1: the first record has no field 'URL' (a field to keep); its fields are 'summary', 'body', 'url'; did you mean 'url'?"),
            ("--title-field", "headline", "usage error: --title-field: \(dir)/two.jsonl:1: the first record has no field 'headline' (the title); its fields are 'summary', 'body', 'url'"),
        ] {
            let r = try CLI.run(["classify", "--model", dir + "/model", "--text-field", "summary", option, value, dir + "/two.jsonl"])
            XCTAssertEqual(r.status, 64, r.stderr)
            XCTAssertEqual(r.stderr, "joblabel: \(message)\n")
            XCTAssertEqual(r.stdout, "")
        }
        let label = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/m2", "--labels", "role,seniority=senority"])
        XCTAssertEqual(label.status, 64, label.stderr)
        XCTAssertTrue(label.stderr.contains("the first record has no field 'senority' (the label of head 'seniority')"), label.stderr)
        XCTAssertTrue(label.stderr.contains("did you mean 'seniority'?"), label.stderr)
        XCTAssertEqual(try CLI.run(["classify", "--model", dir + "/model", "--text-field", "a,,b", dir + "/two.jsonl"]).status, 64)
        XCTAssertEqual(try CLI.run(["classify", "--model", dir + "/model", "--delimiter", "\"", dir + "/two.jsonl"]).status, 64)
        XCTAssertEqual(try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/m3", "--labels", "role=,seniority"]).status, 64)
    }

    // MARK: 2. Plain lines

    func testPlainLinesFromStdinAndFiles() throws {
        try trainTiny()
        let r = try CLI.run(["classify", "--model", dir + "/model", "--input-format", "lines", "--format", "csv"],
                            stdin: "Senior backend engineer, 8+ years of go and python\n\nSummer internship for students in marketing\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = r.stdout.split(separator: "\n")
        XCTAssertEqual(rows.count, 3)
        XCTAssertTrue(rows[1].hasPrefix("1,information-technology,"), r.stdout)
        XCTAssertTrue(rows[2].hasPrefix("3,marketing,"), r.stdout)
        let json = try jsonLines(try CLI.run(["classify", "--model", dir + "/model", "--input-format", "lines"], stdin: "quota and pipeline\n").stdout)
        XCTAssertEqual(json.first?["id"] as? Int, 1)
        // Plain text where JSON Lines is expected: exit 65, and the way out is named.
        let wrong = try CLI.run(["classify", "--model", dir + "/model"], stdin: "Senior data engineer, 6 years Spark\n")
        XCTAssertEqual(wrong.status, 65)
        XCTAssertTrue(wrong.stderr.contains("for plain text, one posting per line, use --input-format lines"), wrong.stderr)
        // A file, whatever its extension.
        write("ads.log", "quota pipeline deals\npython code internship\n")
        let file = try CLI.run(["classify", "--model", dir + "/model", "--input-format", "lines", "--format", "text", dir + "/ads.log"])
        XCTAssertEqual(file.stdout.split(separator: "\n").map { $0.split(separator: "\t")[0] }, ["1", "2"])
        XCTAssertEqual(try CLI.run(["classify", "--model", dir + "/model", dir + "/ads.log"]).status, 64, "an unknown extension without --input-format")
        // Labeled data cannot be plain text.
        let train = try CLI.run(["train", "--data", dir + "/ads.log", "--out", dir + "/m", "--input-format", "lines"])
        XCTAssertEqual(train.status, 64)
        XCTAssertTrue(train.stderr.contains("plain text has no labels"), train.stderr)
    }

    // MARK: 3. --keep and --output

    func testKeepCopiesFieldsEscapedInEveryFormat() throws {
        try trainTiny()
        let company = "Acme, \"Ltd\"\nNorth ü =1+1"
        let record: [String: Any] = ["id": "a", "text": "quota pipeline deals", "company": company, "salary": 52000.5,
                                     "tags": ["x", ["y": NSNull()]], "remote": true]
        let line = String(decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]), as: UTF8.self)
        write("ads.jsonl", line + "\n{\"id\": \"b\", \"text\": \"python code\", \"company\": null}\n")
        let keep = ["--keep", "company,salary,tags,remote"]
        let j = try CLI.run(["classify", "--model", dir + "/model", dir + "/ads.jsonl"] + keep)
        XCTAssertEqual(j.status, 0, j.stderr)
        let out = try jsonLines(j.stdout)
        XCTAssertEqual(out[0]["company"] as? String, company)
        XCTAssertEqual(out[0]["salary"] as? Double, 52000.5)
        XCTAssertEqual((out[0]["tags"] as? [Any])?.count, 2)
        XCTAssertEqual(out[0]["remote"] as? Bool, true)
        XCTAssertTrue(out[1]["company"] is NSNull)
        XCTAssertTrue(out[1]["salary"] is NSNull, "absent fields are null")
        XCTAssertTrue(j.stdout.hasPrefix("{\"id\": \"a\", \"company\": "), "kept fields follow the id")
        let c = try CLI.run(["classify", "--model", dir + "/model", "--format", "csv", dir + "/ads.jsonl"] + keep)
        XCTAssertTrue(c.stdout.hasPrefix("id,company,salary,tags,remote,role,"), c.stdout)
        XCTAssertTrue(c.stdout.contains("a,\"Acme, \"\"Ltd\"\"\nNorth ü =1+1\",52000.5,"), c.stdout)
        // The CSV output reads back with the reader: the values survive.
        let back = try PostingReader(bytes: Array(c.stdout.utf8), spec: InputSpec(path: "out.csv", format: .csv), heads: [],
                                     options: ReadOptions(fields: FieldMapping(textFields: ["role"], keepFields: ["company", "remote"]))).readAll()
        XCTAssertEqual(back.map(\.kept), [[.string(company), .string("true")], [.string(""), .string("")]])
        let t = try CLI.run(["classify", "--model", dir + "/model", "--format", "text", "--keep", "company", dir + "/ads.jsonl"])
        XCTAssertTrue(t.stdout.hasPrefix("a\tcompany=Acme, \"Ltd\" North ü =1+1\trole="), t.stdout)
        let clash = try CLI.run(["classify", "--model", dir + "/model", "--keep", "seniority", dir + "/ads.jsonl"])
        XCTAssertEqual(clash.status, 64)
        XCTAssertTrue(clash.stderr.contains("the output already has a 'seniority' key"), clash.stderr)
    }

    func testOutputFileIsWrittenAtomicallyAndNeverAnInput() throws {
        try trainTiny()
        let stdout = try CLI.run(["classify", "--model", dir + "/model", dir + "/train.jsonl"]).stdout
        let r = try CLI.run(["classify", "--model", dir + "/model", "--output", dir + "/out/labels/today.jsonl", dir + "/train.jsonl"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(read("out/labels/today.jsonl"), stdout, "the same bytes as stdout, in a folder created for it")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/out/labels"), ["today.jsonl"], "no temporary file left")
        // An input is refused, however it is spelled.
        for output in [dir + "/train.jsonl", dir + "/out/../train.jsonl"] {
            let same = try CLI.run(["classify", "--model", dir + "/model", "--output", output, dir + "/train.jsonl"])
            XCTAssertEqual(same.status, 74, same.stderr)
            XCTAssertTrue(same.stderr.contains("is also an input"), same.stderr)
        }
        XCTAssertEqual(read("train.jsonl")?.split(separator: "\n").count, 9, "the input is untouched")
        // A failure leaves the previous file as it was.
        write("bad.jsonl", "{\"text\": \"quota\"}\nnot json\n")
        let strict = try CLI.run(["classify", "--model", dir + "/model", "--strict", "--output", dir + "/out/labels/today.jsonl", dir + "/bad.jsonl"])
        XCTAssertEqual(strict.status, 65)
        XCTAssertEqual(read("out/labels/today.jsonl"), stdout)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/out/labels"), ["today.jsonl"])
        // evaluate --output: the report, not on stdout.
        let e = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/train.jsonl", "--format", "json", "--output", dir + "/reports/r.json"])
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertEqual(e.stdout, "")
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data((read("reports/r.json") ?? "").utf8)))
        XCTAssertEqual(try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/train.jsonl", "--output", dir + "/train.jsonl"]).status, 74)
    }

    // MARK: 5. Label maps

    func testLabelMapForTrainAndEvaluate() throws {
        // The tiny corpus on a board's own scale.
        let board = ["internship": "Student", "entry": "Entry Level", "mid-senior": "Experienced"]
        let rows = tinyCorpus().map { p -> String in
            let level = p.labels[1].map { board[$0]! }
            let fields: [String: Any] = ["id": p.id, "title": String(decoding: p.title, as: UTF8.self), "text": String(decoding: p.text, as: UTF8.self),
                                         "role": p.labels[0]!, "seniority": level ?? NSNull()]
            return String(decoding: try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self)
        }
        write("board.jsonl", rows.joined(separator: "\n") + "\n")
        write("map.json", #"{"seniority": {"Student": "internship", "Entry Level": "entry"}}"#)
        let t = try CLI.run(["train", "--data", dir + "/board.jsonl", "--out", dir + "/mapped", "--preset", "sklearn", "--label-map", dir + "/map.json", "--quiet"])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stderr.contains("note: label map: head 'seniority': 1 label is not in the map and kept as read: 'Experienced' (2 rows)"), t.stderr)
        XCTAssertEqual(try ModelBundle.load(dir + "/mapped").heads[1].classes, ["Experienced", "entry", "internship"])
        // Evaluating the JSONL model on the board's scale: the map makes the labels comparable.
        try trainTiny()
        write("full.json", #"{"seniority": {"Student": "internship", "Entry Level": "entry", "Experienced": "mid-senior"}}"#)
        let e = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/board.jsonl", "--label-map", dir + "/full.json", "--format", "json", "--quiet"])
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertEqual(e.stderr, "")
        let plain = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/train.jsonl", "--format", "json"])
        XCTAssertEqual(e.stdout, plain.stdout, "mapped labels score as the model's own")
        let unmapped = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/board.jsonl", "--quiet"])
        XCTAssertTrue(unmapped.stderr.contains("labels the model never saw (Entry Level, Experienced, Student); they count as errors; a --label-map can rename them"), unmapped.stderr)
        // Mistakes in the map: a head that is not read, a label the model lacks, a file that is not a map.
        write("typo.json", #"{"senority": {"Student": "internship"}}"#)
        let head = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/board.jsonl", "--label-map", dir + "/typo.json"])
        XCTAssertEqual(head.status, 64)
        XCTAssertTrue(head.stderr.contains("the label map names head 'senority', which is not read (the heads: role, seniority); did you mean 'seniority'?"), head.stderr)
        write("label.json", #"{"seniority": {"Student": "Internship"}}"#)
        let label = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/board.jsonl", "--label-map", dir + "/label.json"])
        XCTAssertEqual(label.status, 64)
        XCTAssertTrue(label.stderr.contains("'Internship' is not one of the model's labels (entry, internship, mid-senior); did you mean 'internship'?"), label.stderr)
        write("broken.json", "{\"seniority\": ")
        let broken = try CLI.run(["train", "--data", dir + "/board.jsonl", "--out", dir + "/m", "--label-map", dir + "/broken.json"])
        XCTAssertEqual(broken.status, 65)
        XCTAssertTrue(broken.stderr.contains("broken.json: not a usable label map: not valid JSON"), broken.stderr)
    }

    // MARK: 6. evaluate: the default model, progress, --quiet

    func testEvaluateUsesTheDefaultModelAndReportsProgress() throws {
        try trainTiny()
        let env = ["JOBLABEL_MODEL": dir + "/model", "JOBLABEL_PROGRESS_INTERVAL": "0"]
        let withDefault = try CLI.run(["evaluate", "--data", dir + "/train.jsonl", "--format", "json"], environment: env)
        XCTAssertEqual(withDefault.status, 0, withDefault.stderr)
        XCTAssertEqual(withDefault.stdout, try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/train.jsonl", "--format", "json", "--quiet"]).stdout)
        XCTAssertTrue(withDefault.stderr.contains("joblabel evaluate: reading"), withDefault.stderr)
        XCTAssertTrue(withDefault.stderr.contains("joblabel evaluate: scoring 9 postings"), withDefault.stderr)
        let quiet = try CLI.run(["evaluate", "--data", dir + "/train.jsonl", "--quiet"], environment: env)
        XCTAssertEqual(quiet.status, 0)
        XCTAssertEqual(quiet.stderr, "")
        let cv = try CLI.run(["evaluate", "--cv", "2", "--preset", "sklearn", "--data", dir + "/train.jsonl"], environment: env)
        XCTAssertEqual(cv.status, 0, cv.stderr)
        XCTAssertTrue(cv.stderr.contains("joblabel evaluate: fold 2 of 2: "), cv.stderr)
        let none = try CLI.run(["evaluate", "--data", dir + "/train.jsonl"], environment: ["JOBLABEL_MODEL": dir + "/absent"])
        XCTAssertEqual(none.status, 66, none.stderr)
    }

    // MARK: issue 13: titles of text files

    func testATextFileLabelsAsTheSameAdInJSONLines() throws {
        let model = DefaultModelTests.repo.path + "/Models/default"
        let body = """
        Northwind Freight, a fictional logistics group with 2,400 staff in nine countries, seeks a CFO to lead
        finance, treasury, tax and investor relations. You will report to the CEO and the board, own the group's
        capital allocation and funding strategy, and lead a finance organisation of 60 people across four regional
        controllers. You bring 15+ years in finance, at least five of them as a finance director or CFO of a
        multinational business, a professional accounting qualification and experience of a bond issue or IPO.

        """
        for (file, first) in [("cfo.txt", "Chief Financial Officer"), ("cfo2.txt", "Job Title: Chief Financial Officer"), ("cfo3.txt", "# Chief Financial Officer")] {
            write(file, first + "\n\n" + body)
            write("cfo.jsonl", "{\"id\": \"\(file)\", \"title\": \"Chief Financial Officer\", \"text\": \(JSONText.quoted(body))}\n")
            let asText = try CLI.run(["classify", "--model", model, "--top", "3", dir + "/" + file])
            XCTAssertEqual(asText.status, 0, asText.stderr)
            XCTAssertEqual(asText.stdout, try CLI.run(["classify", "--model", model, "--top", "3", dir + "/cfo.jsonl"]).stdout, first)
        }
        // Turned off, the file is read whole as the text, as JSON Lines without a title would be.
        write("cfo.jsonl", "{\"id\": \"cfo.txt\", \"text\": \(JSONText.quoted("Chief Financial Officer\n\n" + body))}\n")
        XCTAssertEqual(try CLI.run(["classify", "--model", model, "--txt-title", "none", dir + "/cfo.txt"]).stdout,
                       try CLI.run(["classify", "--model", model, dir + "/cfo.jsonl"]).stdout)
        XCTAssertTrue(try CLI.run(["classify", "--model", model, dir + "/cfo.txt"]).stdout.contains("\"seniority\": {\"label\": \"executive\""))
    }
}
