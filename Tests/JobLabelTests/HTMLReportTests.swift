import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import JobLabel

/// Elements of an XML document, with their attributes, nesting and the text of `<title>` elements.
final class XMLOutline: NSObject, XMLParserDelegate {
    struct Element { var name: String; var attributes: [String: String]; var ancestors: [String] }
    var elements: [Element] = []
    var titles: [String] = []
    private var stack: [String] = []
    private var text = ""

    /// Parses `document`; nil with the parser's message when it is not well-formed.
    static func parse(_ document: String) -> (XMLOutline?, String) {
        let outline = XMLOutline()
        let parser = XMLParser(data: Data(document.utf8))
        parser.delegate = outline
        // swift-corelibs' parse() can return true after an error; the error is what counts.
        guard parser.parse(), parser.parserError == nil else {
            return (nil, "line \(parser.lineNumber), column \(parser.columnNumber): \(parser.parserError.map { "\($0)" } ?? "?")")
        }
        return (outline, "")
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append(Element(name: name, attributes: attributes, ancestors: stack))
        stack.append(name)
        text = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "title" { titles.append(text) }
        stack.removeLast()
    }

    func all(_ name: String, class cls: String? = nil) -> [Element] {
        elements.filter { $0.name == name && (cls == nil || ($0.attributes["class"] ?? "").split(separator: " ").contains(Substring(cls!))) }
    }
}

final class HTMLReportTests: XCTestCase {
    /// Two heads and both algorithms; a label with markup characters; a seniority head.
    private func sampleResult() -> EvaluationResult {
        var entries: [(head: String, algorithm: String, report: EvaluationReport)] = []
        for algorithm in ["nb", "lr"] {
            entries.append(("role", algorithm, EvaluationReport(
                truth: ["R&D <lab>", "sales", "sales", "legal"], predicted: ["R&D <lab>", "sales", "legal", "legal"],
                confidence: [0.9, 0.8, 0.4, algorithm == "nb" ? 0.99 : 0.6], labelOrder: ["R&D <lab>", "legal", "sales"])))
            entries.append(("seniority", algorithm, EvaluationReport(
                truth: ["entry", "entry", "mid-senior", "director"], predicted: ["entry", "associate", "mid-senior", "entry"],
                confidence: [0.9, 0.45, 0.65, 0.35], labelOrder: ["associate", "director", "entry", "mid-senior"], scale: .seniority)))
        }
        return EvaluationResult(entries: entries)
    }

    func testPageIsWellFormedWithOneConfusionMatrixPerHeadAndAlgorithm() throws {
        let html = sampleResult().html(title: "test & <report>", facts: [("model", "models/a&b")])
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>\n<html"))
        let (parsed, problem) = XMLOutline.parse(html)
        let outline = try XCTUnwrap(parsed, "not well-formed: \(problem)")
        XCTAssertEqual(outline.elements.first?.name, "html")

        let matrices = outline.all("svg", class: "confusion")
        XCTAssertEqual(matrices.count, 4)
        XCTAssertEqual(Set(matrices.compactMap { $0.attributes["id"] }),
                       ["confusion-role-nb", "confusion-role-lr", "confusion-seniority-nb", "confusion-seniority-lr"])
        XCTAssertEqual(matrices.map { "\($0.attributes["data-head"] ?? "")/\($0.attributes["data-algorithm"] ?? "")" },
                       ["role/nb", "role/lr", "seniority/nb", "seniority/lr"])
        XCTAssertEqual(outline.all("svg", class: "per-class").count, 4)
        XCTAssertEqual(outline.all("svg", class: "reliability").count, 4)
        XCTAssertEqual(outline.all("svg", class: "level-errors").count, 2, "only the seniority head is ordinal")
        XCTAssertEqual(outline.all("table", class: "coverage").count, 2)
        // Nine cells per 3-label matrix, 16 per 4-label one, each a <g> with a hover title giving the count.
        let cellTitles = outline.titles.filter { $0.hasPrefix("true ") }
        XCTAssertEqual(cellTitles.count, 2 * 9 + 2 * 16)
        XCTAssertTrue(cellTitles.contains("true sales, predicted legal: 1 of 2 rows (50.0 %)"), "\(cellTitles)")
        XCTAssertTrue(cellTitles.contains("true R&D <lab>, predicted R&D <lab>: 1 of 1 rows (100.0 %)"))

        // Self-contained: no scripts, nothing loaded from elsewhere.
        XCTAssertTrue(outline.all("script").isEmpty && outline.all("link").isEmpty && outline.all("img").isEmpty)
        XCTAssertFalse(html.contains("url("))
        let external = outline.elements.flatMap { e in e.attributes.filter { $0.key != "xmlns" && $0.value.contains("//") } }
        XCTAssertTrue(external.isEmpty, "\(external)")
        XCTAssertTrue(html.contains("R&amp;D &lt;lab&gt;"))
        XCTAssertTrue(html.contains("<title>test &amp; &lt;report&gt;</title>"))
    }

    func testCoverageTableHasOneRowPerThresholdAndBothAlgorithms() throws {
        let (parsed, _) = XMLOutline.parse(sampleResult().html())
        let outline = try XCTUnwrap(parsed)
        let coverageRows = outline.elements.filter { $0.name == "tr" && $0.ancestors.contains("tbody") }.count
        // Summary table (4 entries) + two coverage tables of 7 thresholds.
        XCTAssertEqual(coverageRows, 4 + 2 * 7)
        let html = sampleResult().html()
        XCTAssertTrue(html.contains("<td>≥ 0.90</td><td>1</td>"), "nb covers its 0.99 row at 0.9")
    }

    /// 26 classes with long names: the matrix stays narrow enough for two side by side, names shortened
    /// past 24 characters with the full one in the tooltip.
    func testManyLongLabelsStayReadable() throws {
        let labels = (0..<26).map { "information-technology-\($0)" } + ["a-much-longer-label-than-anyone-should-use"]
        let truth = labels + labels
        let predicted = labels + labels.reversed()
        let r = EvaluationReport(truth: truth, predicted: predicted, confidence: truth.map { _ in 0.5 }, labelOrder: labels)
        let html = EvaluationResult(entries: [("role", "nb", r), ("role", "lr", r)]).html()
        let (parsed, problem) = XMLOutline.parse(html)
        let outline = try XCTUnwrap(parsed, problem)
        let matrix = try XCTUnwrap(outline.all("svg", class: "confusion").first)
        let viewBox = try XCTUnwrap(matrix.attributes["viewBox"]).split(separator: " ").compactMap { Double($0) }
        XCTAssertEqual(viewBox.count, 4)
        XCTAssertLessThanOrEqual(viewBox[2], 720, "fits half of a 1400 px page")
        XCTAssertTrue(html.contains("a-much-longer-label-tha…"))
        XCTAssertTrue(outline.titles.contains("a-much-longer-label-than-anyone-should-use"))
    }

    func testEvaluateWritesHTMLBesideTheNormalReport() throws {
        let dir = makeTempDirectory("joblabel-html")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        writeTinyCorpusJSONL(to: dir + "/train.jsonl")
        let t = try CLI.run(["train", "--data", dir + "/train.jsonl", "--out", dir + "/model", "--preset", "sklearn"])
        XCTAssertEqual(t.status, 0, t.stderr)

        let e = try CLI.run(["evaluate", "--model", dir + "/model", "--data", dir + "/train.jsonl", "--format", "json",
                             "--html", dir + "/report.html"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any])
        let seniority = ((json["heads"] as? [String: Any])?["seniority"] as? [String: Any])?["lr"] as? [String: Any]
        XCTAssertNotNil(seniority?["ece"] as? Double)
        XCTAssertNotNil(seniority?["ordinal"] as? [String: Any])
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        let (parsed, problem) = XMLOutline.parse(html)
        // Two heads, each with NB, LR and the ensemble (evaluate's default is all three).
        let confusion = try XCTUnwrap(parsed, problem).all("svg", class: "confusion")
        XCTAssertEqual(confusion.map { $0.attributes["data-algorithm"] ?? "" }, ["nb", "lr", "ensemble", "nb", "lr", "ensemble"])
        XCTAssertTrue(html.contains("Ensemble (mean of NB and LR)"))
        XCTAssertTrue(html.contains(dir + "/model"), "the page names the model")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["model", "report.html", "train.jsonl"],
                       "no temporary file is left")

        // Replaced in place on a second run; works with --cv and one algorithm.
        let cv = try CLI.run(["evaluate", "--cv", "3", "--data", dir + "/train.jsonl", "--preset", "sklearn",
                              "--algorithm", "lr", "--html", dir + "/report.html"])
        XCTAssertEqual(cv.status, 0, cv.stderr)
        XCTAssertTrue(cv.stdout.contains("coverage (rows whose predicted label"), cv.stdout)
        let cvHTML = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        XCTAssertTrue(cvHTML.contains("3 folds"))
        XCTAssertEqual(try XCTUnwrap(XMLOutline.parse(cvHTML).0).all("svg", class: "confusion").count, 2)
    }

    func testUnwritableHTMLPathFailsBeforeTheWork() throws {
        let dir = makeTempDirectory("joblabel-html")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        writeTinyCorpusJSONL(to: dir + "/train.jsonl")
        // Missing directories are created.
        let missing = try CLI.run(["evaluate", "--cv", "3", "--data", dir + "/train.jsonl", "--html", dir + "/no/such/r.html"])
        XCTAssertEqual(missing.status, 0, missing.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/no/such/r.html"))
        // A parent that is a file cannot be.
        let underFile = try CLI.run(["evaluate", "--cv", "3", "--data", dir + "/train.jsonl", "--html", dir + "/train.jsonl/r.html"])
        XCTAssertEqual(underFile.status, 74, underFile.stderr)
        XCTAssertTrue(underFile.stderr.contains("is not a directory"), underFile.stderr)
        XCTAssertEqual(underFile.stdout, "", "fails before evaluating")
        let directory = try CLI.run(["evaluate", "--cv", "3", "--data", dir + "/train.jsonl", "--html", dir])
        XCTAssertEqual(directory.status, 74, directory.stderr)
        XCTAssertTrue(directory.stderr.contains("is a directory"), directory.stderr)
    }

    func testAtomicWriteReplacesAndReportsErrors() throws {
        let dir = makeTempDirectory("joblabel-atomic")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeFileAtomically(dir + "/a.txt", Array("one".utf8))
        try writeFileAtomically(dir + "/a.txt", Array("two".utf8))
        XCTAssertEqual(try String(contentsOfFile: dir + "/a.txt", encoding: .utf8), "two")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["a.txt"])
        XCTAssertThrowsError(try writeFileAtomically(dir + "/missing/a.txt", [1])) { error in
            XCTAssertEqual(error as? JobLabelError, .outputParentMissing(path: dir + "/missing/a.txt", parent: dir + "/missing"))
        }
    }
}
