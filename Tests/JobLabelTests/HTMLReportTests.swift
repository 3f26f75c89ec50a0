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

    /// 27 classes with long names: one algorithm per row, the matrix within the page's width (1400 px less
    /// margins), names shortened past 24 characters with the full one in the tooltip.
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
        XCTAssertLessThanOrEqual(viewBox[2], 1290, "fits a 1400 px page")
        XCTAssertTrue(html.contains("a-much-longer-label-tha…"))
        XCTAssertTrue(outline.titles.contains("a-much-longer-label-than-anyone-should-use"))
    }

    /// A 32-label head of three algorithms (a round-robin of confusions so every cell style occurs).
    private func bigHead(labels k: Int, rowsPerLabel: Int = 3) -> EvaluationResult {
        let labels = (0..<k).map { "label-\($0)" }
        var truth: [String] = [], predicted: [String] = []
        for (i, label) in labels.enumerated() {
            for j in 0..<rowsPerLabel {
                truth.append(label)
                predicted.append(j == 0 ? label : labels[(i + j * (i % 3 + 1)) % k])
            }
        }
        let r = EvaluationReport(truth: truth, predicted: predicted, confidence: truth.map { _ in 0.6 }, labelOrder: labels)
        return EvaluationResult(entries: ["nb", "lr", "ensemble"].map { ("role", $0, r) })
    }

    /// The sizes a matrix draws with: cell width, smallest count font, label font.
    private func matrixSizes(_ svg: String) -> (cell: Double, countFont: Double, labelFont: Double) {
        func numbers(_ pattern: String) -> [Double] {
            let regex = try! NSRegularExpression(pattern: pattern)
            return regex.matches(in: svg, range: NSRange(svg.startIndex..., in: svg)).compactMap {
                Range($0.range(at: 1), in: svg).flatMap { Double(svg[$0]) }
            }
        }
        return (numbers(#"<rect x="[0-9.]+" y="[0-9.]+" width="([0-9.]+)" height="[0-9.]+" rx="1.5""#).min() ?? 0,
                numbers(#"text-anchor="middle" font-size="([0-9.]+)""#).min() ?? 0,
                numbers(#"text-anchor="end" font-size="([0-9.]+)"><title>"#).min() ?? 0)
    }

    func testHeadsOfThirtyLabelsGetARowPerAlgorithm() throws {
        let html = bigHead(labels: 32).html()
        let (parsed, problem) = XMLOutline.parse(html)
        let outline = try XCTUnwrap(parsed, problem)
        let matrices = outline.all("svg", class: "confusion")
        XCTAssertEqual(matrices.count, 3)
        // The matrices' row is one column wide; the per-label charts fill the width two or three at a time.
        let grids = outline.all("div", class: "pair").compactMap { $0.attributes["style"] }
        XCTAssertEqual(grids.first, "grid-template-columns: minmax(0, 1fr)")
        XCTAssertEqual(grids.dropFirst().first, "grid-template-columns: repeat(auto-fit, minmax(560px, 1fr))")
        let width = try XCTUnwrap(matrices[0].attributes["viewBox"]).split(separator: " ").compactMap { Double($0) }[2]
        XCTAssertLessThanOrEqual(width, 1290, "drawn at its natural size on a 1400 px page")
        // Drawn 1:1, so these are pixels: cells of at least 22 px, counts of 10 px or more, labels of 12 px.
        let svg = String(html[html.range(of: "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"confusion\"")!.lowerBound...])
        let sizes = matrixSizes(String(svg[..<svg.range(of: "</svg>")!.upperBound]))
        XCTAssertGreaterThanOrEqual(sizes.cell, 21)
        XCTAssertGreaterThanOrEqual(sizes.countFont, 10)
        XCTAssertGreaterThanOrEqual(sizes.labelFont, 12)
        XCTAssertFalse(html.contains("confusion-most-confused"), "32 labels: the whole matrix")
        // Fewer labels keep the algorithms side by side.
        let small = bigHead(labels: 10).html()
        XCTAssertTrue(small.contains("<div class=\"pair\" style=\"grid-template-columns: repeat(3, minmax(0, 1fr))\">"))
    }

    func testVeryManyLabelsShowTheMostConfusedAndTheWholeMatrixBelow() throws {
        let result = bigHead(labels: 50)
        let html = result.html()
        let (parsed, problem) = XMLOutline.parse(html)
        let outline = try XCTUnwrap(parsed, problem)
        let parts = outline.all("svg", class: "confusion-most-confused")
        XCTAssertEqual(parts.map { $0.attributes["id"] ?? "" }, ["confusion-role-nb-most-confused", "confusion-role-lr-most-confused", "confusion-role-ensemble-most-confused"])
        // The full matrices are there too, inside <details>.
        let full = outline.all("svg", class: "confusion")
        XCTAssertEqual(full.count, 3)
        XCTAssertTrue(full.allSatisfy { $0.ancestors.contains("details") })
        XCTAssertFalse(parts.contains { $0.ancestors.contains("details") })
        // 20 labels: 400 cells per part (50 x 50 = 2500 per full matrix), shares of the whole row.
        let cellTitles = outline.titles.filter { $0.hasPrefix("true ") }
        XCTAssertEqual(cellTitles.count, 3 * (400 + 2500))
        let report = result.entries[0].report
        let errors = report.labels.indices.map { c in report.labels.indices.reduce(0) { $0 + ($1 == c ? 0 : report.confusion[c][$1] + report.confusion[$1][c]) } }
        let worst = report.labels.indices.max { errors[$0] != errors[$1] ? errors[$0] < errors[$1] : $0 > $1 }!
        XCTAssertTrue(cellTitles.contains("true \(report.labels[worst]), predicted \(report.labels[worst]): 1 of 3 rows (33.3 %)"))
        XCTAssertTrue(html.contains("shown are the 20 labels with the most errors"))
    }

    func testFiguresFromFewRowsSaySo() throws {
        // One labeled row: the head carries the caveat, the summary table a tag.
        let one = EvaluationReport(truth: ["sales"], predicted: ["sales"], confidence: [0.9], labelOrder: ["sales", "it"])
        let tiny = EvaluationResult(entries: [("role", "lr", one)]).html()
        XCTAssertNotNil(XMLOutline.parse(tiny).0)
        XCTAssertTrue(tiny.contains("<p class=\"caveat\"><b>Few rows.</b> Every figure of this head comes from 1 row (fewer than 30)"), tiny)
        XCTAssertTrue(tiny.contains("<span class=\"few\" title=\"only 1 rows: every figure of this head can change a lot with a few rows more or less\">few rows</span> 1</td>"))
        XCTAssertFalse(tiny.contains(" *</text>"), "the head's caveat is enough")
        // 40 rows: no head caveat, but the labels, bins and coverage rows of fewer than 30 are marked.
        let truth = Array(repeating: "sales", count: 34) + Array(repeating: "it", count: 6)
        let predicted = truth.enumerated().map { $0.offset % 5 == 0 ? "it" : $0.element }
        let confidence = truth.indices.map { $0 < 20 ? 0.95 : 0.5 }
        let r = EvaluationReport(truth: truth, predicted: predicted, confidence: confidence, labelOrder: ["it", "sales"])
        let html = EvaluationResult(entries: [("role", "lr", r)]).html()
        XCTAssertNotNil(XMLOutline.parse(html).0)
        XCTAssertFalse(html.contains("class=\"caveat\""))
        XCTAssertTrue(html.contains(">it *</text>"))
        XCTAssertFalse(html.contains(">sales *</text>"))
        XCTAssertTrue(html.contains("Labels marked * have fewer than 30 rows"))
        XCTAssertTrue(html.contains("faded, dashed bars: bins of fewer than 30 rows"))
        XCTAssertTrue(html.contains("stroke-dasharray=\"3 2\""))
        XCTAssertTrue(html.contains("<td class=\"few-rows\" title=\"fewer than 30 rows: this accuracy can change a lot\">"), "at 0.6 to 0.9 the coverage is 20 rows")
        XCTAssertTrue(html.contains("Accuracies marked * come from fewer than 30 rows"))
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
