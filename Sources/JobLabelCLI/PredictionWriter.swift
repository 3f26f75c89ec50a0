import Foundation
import JobLabel

/// Output format of `classify`.
enum PredictionFormat: String, Sendable, CaseIterable {
    /// One JSON object per posting.
    case jsonl
    /// CSV with a header: id, then label and probability per head.
    case csv
    /// Tab-separated, human-readable.
    case text
}

/// Formats the library's decisions, one record per posting, in input order.
struct PredictionWriter {
    /// Output format.
    let format: PredictionFormat
    /// Heads in output order.
    let heads: [String]
    /// How many ranked labels to add per head (0 = none).
    let top: Int
    /// How many contributing features to add per head (0 = none).
    let explain: Int
    /// True when thresholds apply (CSV then has a `HEAD_best` column).
    let thresholds: Bool
    /// Input fields copied into each record (`--keep`), after the id; postings carry their values in `kept`.
    let keep: [String]
    /// CSV cells as they are (`--csv-raw`): no `'` before a cell that a spreadsheet would run as a formula.
    let csvRaw: Bool
    /// The keys of the kept fields, as JSON strings.
    private let keepKeys: [[UInt8]]

    init(format: PredictionFormat, heads: [String], top: Int, explain: Int = 0, thresholds: Bool = false, keep: [String] = [],
         csvRaw: Bool = false) {
        self.format = format
        self.csvRaw = csvRaw
        self.heads = heads
        self.top = top
        self.explain = explain
        self.thresholds = thresholds
        self.keep = keep
        keepKeys = keep.map { k in
            var b: [UInt8] = []
            JSONText.appendString(k, to: &b)
            return b
        }
    }

    /// Header bytes (CSV only).
    func header() -> [UInt8] {
        guard format == .csv else { return [] }
        var cols = ["id"] + keep
        for h in heads {
            cols += [h, h + "_probability"]
            if thresholds { cols.append(h + "_best") }
            if top > 0 { cols.append(h + "_top") }
            if explain > 0 { cols.append(h + "_explain") }
        }
        return Array((cols.map { csvField($0, raw: csvRaw) }.joined(separator: ",") + "\n").utf8)
    }

    /// Appends the records of a batch; `labels[i]` belongs to the `i`-th posting of the slice.
    func append(_ postings: ArraySlice<Posting>, _ labels: [PostingLabels], to out: inout [UInt8]) {
        for (posting, decisions) in zip(postings, labels) {
            switch format {
            case .jsonl: appendJSON(posting, decisions.heads, &out)
            case .csv: appendCSV(posting, decisions.heads, &out)
            case .text: appendText(posting, decisions.heads, &out)
            }
        }
    }

    private func appendJSON(_ p: Posting, _ decisions: [LabelDecision], _ out: inout [UInt8]) {
        out.append(literal: "{\"id\": ")
        if p.idIsNumber { out.append(contentsOf: p.id.utf8) } else { JSONText.appendString(p.id, to: &out) }
        if !keep.isEmpty {
            for (k, key) in keepKeys.enumerated() {
                out.append(literal: ", ")
                out += key
                out.append(literal: ": ")
                switch k < p.kept.count ? p.kept[k] : .null {
                case .null: out.append(literal: "null")
                case .string(let s): JSONText.appendString(s, to: &out)
                case .json(let raw): out.append(contentsOf: raw.utf8)
                }
            }
        }
        for d in decisions {
            out.append(literal: ", ")
            JSONText.appendString(d.head, to: &out)
            out.append(literal: ": {\"label\": ")
            JSONText.appendString(d.label, to: &out)
            out.append(literal: ", \"probability\": ")
            JSONText.appendProbability(Float(d.probability), to: &out)
            if !d.isKnown {
                out.append(literal: ", \"best\": ")
                JSONText.appendString(d.best, to: &out)
            }
            if top > 0 {
                out.append(literal: ", \"top\": [")
                for (r, entry) in d.top.prefix(top).enumerated() {
                    if r > 0 { out.append(literal: ", ") }
                    out.append(literal: "{\"label\": ")
                    JSONText.appendString(entry.label, to: &out)
                    out.append(literal: ", \"probability\": ")
                    JSONText.appendProbability(Float(entry.probability), to: &out)
                    out.append(UInt8(ascii: "}"))
                }
                out.append(UInt8(ascii: "]"))
            }
            if explain > 0 {
                out.append(literal: ", \"explain\": [")
                for (r, item) in d.explanation.enumerated() {
                    if r > 0 { out.append(literal: ", ") }
                    out.append(literal: "{\"feature\": ")
                    JSONText.appendString(item.feature, to: &out)
                    out.append(literal: ", \"weight\": ")
                    out.append(contentsOf: weightString(item.weight).utf8)
                    out.append(UInt8(ascii: "}"))
                }
                out.append(UInt8(ascii: "]"))
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(literal: "}\n")
    }

    private func appendCSV(_ p: Posting, _ decisions: [LabelDecision], _ out: inout [UInt8]) {
        var fields = [p.id]
        for k in keep.indices { fields.append(k < p.kept.count ? p.kept[k].text : "") }
        for d in decisions {
            fields.append(d.label)
            fields.append(probabilityString(d.probability))
            if thresholds { fields.append(d.best) }
            if top > 0 {
                fields.append(d.top.prefix(top).map { "\($0.label):\(probabilityString($0.probability))" }.joined(separator: ";"))
            }
            if explain > 0 {
                fields.append(d.explanation.map { "\($0.feature):\(weightString($0.weight))" }.joined(separator: ";"))
            }
        }
        out += Array((fields.map { csvField($0, raw: csvRaw) }.joined(separator: ",") + "\n").utf8)
    }

    private func appendText(_ p: Posting, _ decisions: [LabelDecision], _ out: inout [UInt8]) {
        // Every value goes through `textCell`: tabs and line breaks would break the one-record-per-line
        // layout, and control characters (ANSI escapes) must not reach a terminal.
        var line = textCell(p.id)
        for (k, name) in keep.enumerated() { line += "\t\(textCell(name))=" + textCell(k < p.kept.count ? p.kept[k].text : "") }
        for d in decisions {
            line += "\t\(textCell(d.head))=" + (d.isKnown ? "" : "\(LabelDecision.unknown); best ")
                + d.top.prefix(max(1, top)).map { "\(textCell($0.label)) (\(probabilityString($0.probability)))" }.joined(separator: ", ")
            if explain > 0 {
                line += " [" + d.explanation.map { "\(textCell($0.feature)) \(weightString($0.weight))" }.joined(separator: ", ") + "]"
            }
        }
        out += Array((line + "\n").utf8)
    }

    private func probabilityString(_ p: Double) -> String {
        var b: [UInt8] = []
        JSONText.appendProbability(Float(p), to: &b)
        return String(decoding: b, as: UTF8.self)
    }

    /// A contribution with four decimals ("1.7312", "-0.0400").
    func weightString(_ w: Double) -> String {
        guard w.isFinite else { return "0.0000" }
        let s = String(format: "%.4f", w)
        return s == "-0.0000" ? "0.0000" : s
    }
}

/// One CSV cell. Every cell `classify` writes (header, ids, labels, kept input fields, features) goes
/// through here:
/// - control characters other than tab, LF and CR (NUL, ESC, ...) and DEL become U+FFFD;
/// - unless `raw`, a cell that starts with `=`, `+`, `-`, `@`, a tab or a CR gets a leading `'`, so a
///   spreadsheet shows it as text instead of running it as a formula (CWE-1236: `=HYPERLINK(...)` in a
///   scraped id); plain numbers (`-3`, `+1.5e3`) are left as they are;
/// - quoted when it holds a comma, quote or line break (RFC 4180).
func csvField(_ s: String, raw: Bool = false) -> String {
    var s = s
    if s.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D) || $0 == 0x7F }) {
        s = String(String.UnicodeScalarView(s.unicodeScalars.map { v in
            (v.value < 0x20 && v.value != 0x09 && v.value != 0x0A && v.value != 0x0D) || v.value == 0x7F ? "\u{FFFD}" : v
        }))
    }
    if !raw, let first = s.utf8.first, first == 0x3D || first == 0x2B || first == 0x2D || first == 0x40 || first == 0x09 || first == 0x0D,
       !isPlainNumber(s) {
        s = "'" + s
    }
    if s.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) {
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
    return s
}

/// True for a decimal number and nothing else: optional sign, digits with an optional fraction, optional
/// exponent ("-3", "+1.5", "2e-4").
func isPlainNumber(_ s: String) -> Bool {
    var bytes = Substring(s).utf8[...]
    if let c = bytes.first, c == 0x2B || c == 0x2D { bytes = bytes.dropFirst() }
    func digits() -> Int {
        let n = bytes.prefix { $0 >= 0x30 && $0 <= 0x39 }.count
        bytes = bytes.dropFirst(n)
        return n
    }
    var count = digits()
    if bytes.first == 0x2E {
        bytes = bytes.dropFirst()
        count += digits()
    }
    guard count > 0 else { return false }
    if let e = bytes.first, e == 0x65 || e == 0x45 {
        bytes = bytes.dropFirst()
        if let c = bytes.first, c == 0x2B || c == 0x2D { bytes = bytes.dropFirst() }
        guard digits() > 0 else { return false }
    }
    return bytes.isEmpty
}

extension Array where Element == UInt8 {
    /// Appends the UTF-8 bytes of a string literal (no intermediate array).
    @inline(__always)
    mutating func append(literal s: StaticString) {
        s.withUTF8Buffer { append(contentsOf: $0) }
    }
}
