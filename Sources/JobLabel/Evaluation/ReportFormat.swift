import Foundation

/// Reports of every head and algorithm of one evaluation run.
public struct EvaluationResult: Sendable {
    /// (head, algorithm, report), in head order then algorithm order.
    public var entries: [(head: String, algorithm: String, report: EvaluationReport)]

    /// Creates a result.
    public init(entries: [(head: String, algorithm: String, report: EvaluationReport)] = []) {
        self.entries = entries
    }
}

/// Output format of `evaluate`.
public enum ReportFormat: String, Sendable, CaseIterable {
    /// Aligned plain-text tables.
    case text
    /// `{"heads": {HEAD: {ALGO: {...}}}}`.
    case json
    /// Markdown tables.
    case markdown
}

extension EvaluationResult {
    /// Renders the result.
    public func render(_ format: ReportFormat) -> String {
        switch format {
        case .json: return json()
        case .text: return table(markdown: false)
        case .markdown: return table(markdown: true)
        }
    }

    /// JSON in the documented shape (plus precision/recall averages).
    public func json() -> String {
        var heads: [String] = []
        var byHead: [String: [String]] = [:]
        for e in entries {
            if byHead[e.head] == nil { heads.append(e.head); byHead[e.head] = [] }
            let r = e.report
            let perClass = r.labels.indices.map { c in
                "\(JSONText.quoted(r.labels[c])): {\"precision\": \(JSONText.number(r.perClass[c].precision)), \"recall\": \(JSONText.number(r.perClass[c].recall)), \"f1\": \(JSONText.number(r.perClass[c].f1)), \"support\": \(r.perClass[c].support)}"
            }.joined(separator: ", ")
            let matrix = r.confusion.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" }.joined(separator: ", ")
            let body = """
            {"n": \(r.n), "accuracy": \(JSONText.number(r.accuracy)), \
            "macro_precision": \(JSONText.number(r.macroPrecision)), "macro_recall": \(JSONText.number(r.macroRecall)), \
            "macro_f1": \(JSONText.number(r.macroF1)), "weighted_precision": \(JSONText.number(r.weightedPrecision)), \
            "weighted_recall": \(JSONText.number(r.weightedRecall)), "weighted_f1": \(JSONText.number(r.weightedF1)), \
            "per_class": {\(perClass)}, \
            "confusion": {"labels": [\(r.labels.map(JSONText.quoted).joined(separator: ", "))], "matrix": [\(matrix)]}, \
            \(confidenceJSON(r))}
            """
            byHead[e.head]!.append("\(JSONText.quoted(e.algorithm)): \(body)")
        }
        let inner = heads.map { "\(JSONText.quoted($0)): {\(byHead[$0]!.joined(separator: ", "))}" }.joined(separator: ", ")
        return "{\"heads\": {\(inner)}}\n"
    }

    /// The calibration, coverage and ordinal keys of one report's JSON object (no braces around them).
    func confidenceJSON(_ r: EvaluationReport) -> String {
        func num(_ x: Double?) -> String { x.map { JSONText.number($0) } ?? "null" }
        let reliability = (r.calibration?.bins ?? []).map { b in
            "{\"lower\": \(num(b.lower)), \"upper\": \(num(b.upper)), \"n\": \(b.count), \"confidence\": \(b.count == 0 ? "null" : num(b.confidence)), \"accuracy\": \(b.count == 0 ? "null" : num(b.accuracy))}"
        }.joined(separator: ", ")
        let coverage = r.coverage.map { c in
            "{\"threshold\": \(num(c.threshold)), \"n\": \(c.count), \"coverage\": \(num(c.coverage)), \"accuracy\": \(num(c.accuracy))}"
        }.joined(separator: ", ")
        var ordinal = "null"
        if let o = r.ordinal {
            let errors = o.errorCounts.indices.map { "{\"error\": \(o.error(at: $0)), \"n\": \(o.errorCounts[$0])}" }.joined(separator: ", ")
            ordinal = "{\"levels\": [\(o.levels.map(JSONText.quoted).joined(separator: ", "))], \"n\": \(o.n), "
                + "\"exact_accuracy\": \(num(o.exactAccuracy)), \"off_by_one_accuracy\": \(num(o.offByOneAccuracy)), "
                + "\"mean_absolute_error\": \(num(o.meanAbsoluteError)), \"level_errors\": [\(errors)]}"
        }
        var thresholds = "null"
        if let t = r.manifestThresholds {
            thresholds = "{\"target_precision\": \(num(t.targetPrecision)), \"labels_with_threshold\": \(t.labelsWithThreshold), \"labels\": \(t.labelCount), "
                + "\"n\": \(t.count), \"coverage\": \(num(t.coverage)), \"accuracy\": \(num(t.accuracy))}"
        }
        return "\"ece\": \(num(r.calibration?.ece)), \"mean_confidence\": \(num(r.calibration?.meanConfidence)), "
            + "\"reliability\": [\(reliability)], \"coverage\": [\(coverage)], \"manifest_thresholds\": \(thresholds), \"ordinal\": \(ordinal)"
    }

    /// Text or Markdown tables: a summary (with ECE, and level errors for ordinal heads), then per head and
    /// algorithm the per-class table, confusion matrix, coverage by threshold, reliability bins and level errors.
    public func table(markdown: Bool) -> String {
        var out = ""
        // Heads and labels come from the data: escaped for the format (`markdownCell`, `textCell`).
        let cell: (String) -> String = markdown ? markdownCell : textCell
        let summaryRows = entries.map { e in
            [cell(e.head), cell(e.algorithm), String(e.report.n), f(e.report.accuracy), f(e.report.macroPrecision),
             f(e.report.macroRecall), f(e.report.macroF1), f(e.report.weightedF1), e.report.calibration.map { f($0.ece) } ?? "-"]
        }
        out += renderTable(["head", "algorithm", "n", "accuracy", "macro P", "macro R", "macro F1", "weighted F1", "ECE"],
                           summaryRows, markdown: markdown, numericFrom: 2)
        let ordinalEntries = entries.filter { $0.report.ordinal != nil }
        if let scale = ordinalEntries.first?.report.ordinal?.levels.map(cell) {
            out += "\n" + (markdown ? "Ordinal heads (levels \(scale.joined(separator: " < "))):\n\n"
                                      : "ordinal heads (levels \(scale.joined(separator: " < ")))\n")
            let rows = ordinalEntries.compactMap { e in
                e.report.ordinal.map { o in
                    [cell(e.head), cell(e.algorithm), String(o.n), f(o.exactAccuracy), f(o.offByOneAccuracy), f(o.meanAbsoluteError)]
                }
            }
            out += renderTable(["head", "algorithm", "n", "exact", "within one level", "mean abs. level error"],
                               rows, markdown: markdown, numericFrom: 2)
        }
        for e in entries {
            let r = e.report.compacted()
            out += "\n" + (markdown ? "### \(cell(e.head)) / \(cell(e.algorithm))\n\n" : "== \(cell(e.head)) / \(cell(e.algorithm)) ==\n")
            let labels = r.labels.map(cell)
            var rows = r.labels.indices.map { c in
                [labels[c], f(r.perClass[c].precision), f(r.perClass[c].recall), f(r.perClass[c].f1), String(r.perClass[c].support)]
            }
            rows.append(["macro avg", f(e.report.macroPrecision), f(e.report.macroRecall), f(e.report.macroF1), String(e.report.n)])
            rows.append(["weighted avg", f(e.report.weightedPrecision), f(e.report.weightedRecall), f(e.report.weightedF1), String(e.report.n)])
            out += renderTable(["label", "precision", "recall", "f1", "support"], rows, markdown: markdown, numericFrom: 1)
            out += "\n" + (markdown ? "Confusion matrix (rows: true label, columns: predicted):\n\n"
                                      : "confusion (rows: true, columns: predicted, numbered as the rows)\n")
            // Plain text numbers the columns so the matrix stays narrow whatever the label lengths.
            let header = ["true \\ predicted"] + (markdown ? labels : r.labels.indices.map { String($0 + 1) })
            let cm = r.labels.indices.map { t in
                [markdown ? labels[t] : "\(t + 1) \(labels[t])"] + r.confusion[t].map(String.init)
            }
            out += renderTable(header, cm, markdown: markdown, numericFrom: 1)
            out += confidenceTables(e.report, markdown: markdown, cell: cell)
        }
        return out
    }

    /// Coverage by threshold, reliability bins and level errors of one report, as tables.
    func confidenceTables(_ r: EvaluationReport, markdown: Bool, cell: (String) -> String = { $0 }) -> String {
        var out = ""
        func caption(_ s: String) -> String { "\n" + (markdown ? s.prefix(1).uppercased() + s.dropFirst() + ":\n\n" : s + "\n") }
        if !r.coverage.isEmpty {
            out += caption("coverage (rows whose predicted label has probability >= threshold, and their accuracy)")
            let rows = r.coverage.map { c in
                [String(format: "%.2f", c.threshold), String(c.count), f(c.coverage), c.accuracy.map(f) ?? "-"]
            }
            out += renderTable(["threshold", "rows", "coverage", "accuracy"], rows, markdown: markdown, numericFrom: 0)
        }
        if let t = r.manifestThresholds {
            let text = "the model's per-label thresholds (target precision \(String(format: "%.2f", t.targetPrecision)); labels with one: \(t.labelsWithThreshold) of \(t.labelCount)): \(t.count) rows covered (coverage \(f(t.coverage))), accuracy \(t.accuracy.map(f) ?? "-")"
            out += "\n" + (markdown ? text.prefix(1).uppercased() + text.dropFirst() + ".\n" : text + "\n")
        }
        if let cal = r.calibration {
            out += caption("reliability (probability of the predicted label in 10 bins): ECE \(f(cal.ece)), mean confidence \(f(cal.meanConfidence)), accuracy \(f(r.accuracy))")
            let rows = cal.bins.map { b in
                [String(format: "%.1f-%.1f", b.lower, b.upper), String(b.count),
                 b.count == 0 ? "-" : f(b.confidence), b.count == 0 ? "-" : f(b.accuracy),
                 b.count == 0 ? "-" : f(b.accuracy - b.confidence)]
            }
            out += renderTable(["confidence", "rows", "mean confidence", "accuracy", "accuracy - confidence"],
                               rows, markdown: markdown, numericFrom: 1)
        }
        if let o = r.ordinal {
            out += caption("level error (predicted level - true level; \(o.n) rows on the scale \(o.levels.map(cell).joined(separator: " < "))): exact \(f(o.exactAccuracy)), within one level \(f(o.offByOneAccuracy)), mean absolute level error \(f(o.meanAbsoluteError))")
            let shown = o.shownErrorRange
            let rows = shown.map { i in
                [o.error(at: i) > 0 ? "+\(o.error(at: i))" : String(o.error(at: i)), String(o.errorCounts[i]),
                 f(o.n == 0 ? 0 : Double(o.errorCounts[i]) / Double(o.n))]
            }
            out += renderTable(["level error", "rows", "share"], rows, markdown: markdown, numericFrom: 0)
        }
        return out
    }

    private func f(_ x: Double) -> String { String(format: "%.4f", x) }
}

/// Aligned plain-text or Markdown table; columns from `numericFrom` on are right-aligned.
func renderTable(_ header: [String], _ rows: [[String]], markdown: Bool, numericFrom: Int) -> String {
    let all = [header] + rows
    var widths = [Int](repeating: 0, count: header.count)
    for row in all { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
    func pad(_ s: String, _ i: Int) -> String {
        let gap = String(repeating: " ", count: max(0, widths[i] - s.count))
        return i >= numericFrom ? gap + s : s + gap
    }
    var out = ""
    for (r, row) in all.enumerated() {
        let cells = row.indices.map { pad(row[$0], $0) }
        out += markdown ? "| " + cells.joined(separator: " | ") + " |\n" : cells.joined(separator: "  ") + "\n"
        if r == 0 {
            if markdown {
                out += "|" + widths.indices.map { i in
                    i >= numericFrom ? String(repeating: "-", count: widths[i] + 1) + ":" : String(repeating: "-", count: widths[i] + 2)
                }.joined(separator: "|") + "|\n"
            } else {
                out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
            }
        }
    }
    return out
}

// MARK: Escaping for text and Markdown

/// True for the characters that must not reach a terminal or a one-line text field raw: C0 controls (ESC
/// starts ANSI sequences), DEL, C1 controls (U+009B is a one-character CSI), the line and paragraph
/// separators, and the bidirectional overrides and isolates (which reorder what is shown).
@inline(__always) func isUnsafeForText(_ v: UInt32) -> Bool {
    v < 0x20 || (v >= 0x7F && v <= 0x9F) || v == 0x2028 || v == 0x2029 || (v >= 0x202A && v <= 0x202E)
        || (v >= 0x2066 && v <= 0x2069)
}

/// Shared by `textCell` and `terminalText`: unsafe characters as `\u{1B}`; tab, LF and CR as one space
/// each, unless `keepLayout` keeps tab and LF.
private func escapingControls(_ s: String, keepLayout: Bool) -> String {
    // Fast path: no byte that can start an unsafe character (C0, DEL, the lead bytes of C1 and U+20xx).
    guard s.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == 0xC2 || $0 == 0xE2 }) else { return s }
    var out = String.UnicodeScalarView()
    for scalar in s.unicodeScalars {
        let v = scalar.value
        if !isUnsafeForText(v) {
            out.append(scalar)
        } else if v == 0x0A || v == 0x09 || v == 0x0D {
            out.append(keepLayout && v != 0x0D ? scalar : " ")
        } else {
            out.append(contentsOf: "\\u{\(String(v, radix: 16, uppercase: true))}".unicodeScalars)
        }
    }
    return String(out)
}

/// A value (id, label, head, feature, kept field) for one cell of a plain-text format — `classify --format
/// text`, `evaluate --format text`: tabs and line breaks become spaces (they would break the layout), and
/// other control characters (ANSI escape sequences), C1 controls, line separators and bidirectional
/// overrides are shown as `\u{1B}` instead of reaching the terminal. Anything else is unchanged.
package func textCell(_ s: String) -> String {
    escapingControls(s, keepLayout: false)
}

/// Text for a terminal (messages on stderr, `inspect`): as `textCell`, but tabs and line feeds are kept.
package func terminalText(_ s: String) -> String {
    escapingControls(s, keepLayout: true)
}

/// A value for one Markdown table cell (`evaluate --format markdown`): as `textCell`, then `\`, `|` (which
/// would split the cell) and the characters Markdown gives a meaning (`` ` * _ [ ] < > ~ & ``) are
/// backslash-escaped, so a label shows as written and cannot become a link, markup or HTML.
package func markdownCell(_ s: String) -> String {
    let text = textCell(s)
    let special: Set<UInt8> = [0x5C, 0x7C, 0x60, 0x2A, 0x5F, 0x5B, 0x5D, 0x3C, 0x3E, 0x7E, 0x26]
    guard text.utf8.contains(where: { special.contains($0) }) else { return text }
    var out = ""
    for ch in text.unicodeScalars {
        if ch.isASCII && special.contains(UInt8(ch.value)) { out += "\\" }
        out.unicodeScalars.append(ch)
    }
    return out
}
