import Foundation

/// Output format of `classify`.
public enum PredictionFormat: String, Sendable, CaseIterable {
    /// One JSON object per posting.
    case jsonl
    /// CSV with a header: id, then label and probability per head.
    case csv
    /// Tab-separated, human-readable.
    case text
}

/// Formats classification results, one record per posting, in input order.
public struct PredictionWriter {
    /// Output format.
    public let format: PredictionFormat
    /// Heads in output order.
    public let heads: [String]
    /// How many ranked labels to add per head (0 = none).
    public let top: Int

    /// Creates a writer.
    public init(format: PredictionFormat, heads: [String], top: Int) {
        self.format = format
        self.heads = heads
        self.top = top
    }

    /// Header bytes (CSV only).
    public func header() -> [UInt8] {
        guard format == .csv else { return [] }
        var cols = ["id"]
        for h in heads {
            cols += [h, h + "_probability"]
            if top > 0 { cols.append(h + "_top") }
        }
        return Array((cols.map(csvField).joined(separator: ",") + "\n").utf8)
    }

    /// Appends the records of a batch.
    public func append(_ postings: [Posting], _ predictions: [HeadPrediction], to out: inout [UInt8]) {
        append(postings[...], predictions, to: &out)
    }

    /// Appends the records of a batch; row `i` of `predictions` belongs to the `i`-th posting of the slice.
    public func append(_ postings: ArraySlice<Posting>, _ predictions: [HeadPrediction], to out: inout [UInt8]) {
        for (i, posting) in postings.enumerated() {
            switch format {
            case .jsonl: appendJSON(posting, i, predictions, &out)
            case .csv: appendCSV(posting, i, predictions, &out)
            case .text: appendText(posting, i, predictions, &out)
            }
        }
    }

    private func appendJSON(_ p: Posting, _ i: Int, _ predictions: [HeadPrediction], _ out: inout [UInt8]) {
        out += Array("{\"id\": ".utf8)
        if p.idIsNumber { out += Array(p.id.utf8) } else { JSONText.appendString(p.id, to: &out) }
        for h in predictions {
            out += Array(", ".utf8)
            JSONText.appendString(h.head, to: &out)
            out += Array(": {\"label\": ".utf8)
            let best = h.best(i)
            JSONText.appendString(best.label, to: &out)
            out += Array(", \"probability\": ".utf8)
            JSONText.appendProbability(best.probability, to: &out)
            if top > 0 {
                out += Array(", \"top\": [".utf8)
                for (r, entry) in h.top(i, top).enumerated() {
                    if r > 0 { out += Array(", ".utf8) }
                    out += Array("{\"label\": ".utf8)
                    JSONText.appendString(entry.label, to: &out)
                    out += Array(", \"probability\": ".utf8)
                    JSONText.appendProbability(entry.probability, to: &out)
                    out.append(UInt8(ascii: "}"))
                }
                out.append(UInt8(ascii: "]"))
            }
            out.append(UInt8(ascii: "}"))
        }
        out += Array("}\n".utf8)
    }

    private func appendCSV(_ p: Posting, _ i: Int, _ predictions: [HeadPrediction], _ out: inout [UInt8]) {
        var fields = [p.id]
        for h in predictions {
            let best = h.best(i)
            fields.append(best.label)
            fields.append(probabilityString(best.probability))
            if top > 0 {
                fields.append(h.top(i, top).map { "\($0.label):\(probabilityString($0.probability))" }.joined(separator: ";"))
            }
        }
        out += Array((fields.map(csvField).joined(separator: ",") + "\n").utf8)
    }

    private func appendText(_ p: Posting, _ i: Int, _ predictions: [HeadPrediction], _ out: inout [UInt8]) {
        // Tabs and line breaks inside an id would break the one-record-per-line layout.
        var line = String(p.id.unicodeScalars.map { $0.value == 9 || $0.value == 10 || $0.value == 13 ? " " : Character($0) })
        for h in predictions {
            let ranked = h.top(i, max(1, top))
            line += "\t\(h.head)=" + ranked.map { "\($0.label) (\(probabilityString($0.probability)))" }.joined(separator: ", ")
        }
        out += Array((line + "\n").utf8)
    }

    private func probabilityString(_ p: Float) -> String {
        var b: [UInt8] = []
        JSONText.appendProbability(p, to: &b)
        return String(decoding: b, as: UTF8.self)
    }
}

/// Quotes a CSV field when it holds a comma, quote or line break (RFC 4180).
func csvField(_ s: String) -> String {
    if s.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) {
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
    return s
}
