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
    /// How many contributing features to add per head (0 = none).
    public let explain: Int
    /// Per head (in `heads` order), the probability each class needs to be given as the label, in class
    /// order; below it the label is `unknown` (0 = always given, infinity = never). Nil: no thresholds.
    public let thresholds: [[Double]]?

    /// The label given when the best label's probability is below its threshold.
    public static let unknownLabel = "unknown"

    /// Creates a writer.
    public init(format: PredictionFormat, heads: [String], top: Int, explain: Int = 0, thresholds: [[Double]]? = nil) {
        self.format = format
        self.heads = heads
        self.top = top
        self.explain = explain
        self.thresholds = thresholds
    }

    /// Header bytes (CSV only).
    public func header() -> [UInt8] {
        guard format == .csv else { return [] }
        var cols = ["id"]
        for h in heads {
            cols += [h, h + "_probability"]
            if thresholds != nil { cols.append(h + "_best") }
            if top > 0 { cols.append(h + "_top") }
            if explain > 0 { cols.append(h + "_explain") }
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

    /// The label to give for posting `i` of head `h`: the best one, or `unknownLabel` when its probability
    /// is below its class's threshold; with the best label and its probability.
    func decision(_ prediction: HeadPrediction, head h: Int, _ i: Int) -> (label: String, best: String, probability: Float, known: Bool) {
        let c = prediction.bestIndex(i)
        let best = prediction.classes.isEmpty ? "" : prediction.classes[c]
        let p = prediction.classes.isEmpty ? 0 : prediction.probabilities[i * prediction.classes.count + c]
        // Compared as Float, the probability's own precision: a printed 0.7000 reaches --threshold 0.7.
        if let thresholds, h < thresholds.count, c < thresholds[h].count, !(p >= Float(thresholds[h][c])) {
            return (PredictionWriter.unknownLabel, best, p, false)
        }
        return (best, best, p, true)
    }

    /// The features of posting `i`, if any were computed.
    private func explanation(_ prediction: HeadPrediction, _ i: Int) -> [FeatureContribution] {
        explain > 0 && i < prediction.explanations.count ? prediction.explanations[i] : []
    }

    private func appendJSON(_ p: Posting, _ i: Int, _ predictions: [HeadPrediction], _ out: inout [UInt8]) {
        out += Array("{\"id\": ".utf8)
        if p.idIsNumber { out += Array(p.id.utf8) } else { JSONText.appendString(p.id, to: &out) }
        for (hi, h) in predictions.enumerated() {
            out += Array(", ".utf8)
            JSONText.appendString(h.head, to: &out)
            out += Array(": {\"label\": ".utf8)
            let d = decision(h, head: hi, i)
            JSONText.appendString(d.label, to: &out)
            out += Array(", \"probability\": ".utf8)
            JSONText.appendProbability(d.probability, to: &out)
            if !d.known {
                out += Array(", \"best\": ".utf8)
                JSONText.appendString(d.best, to: &out)
            }
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
            if explain > 0 {
                out += Array(", \"explain\": [".utf8)
                for (r, item) in explanation(h, i).enumerated() {
                    if r > 0 { out += Array(", ".utf8) }
                    out += Array("{\"feature\": ".utf8)
                    JSONText.appendString(item.feature, to: &out)
                    out += Array(", \"weight\": ".utf8)
                    out += Array(weightString(item.weight).utf8)
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
        for (hi, h) in predictions.enumerated() {
            let d = decision(h, head: hi, i)
            fields.append(d.label)
            fields.append(probabilityString(d.probability))
            if thresholds != nil { fields.append(d.best) }
            if top > 0 {
                fields.append(h.top(i, top).map { "\($0.label):\(probabilityString($0.probability))" }.joined(separator: ";"))
            }
            if explain > 0 {
                fields.append(explanation(h, i).map { "\($0.feature):\(weightString($0.weight))" }.joined(separator: ";"))
            }
        }
        out += Array((fields.map(csvField).joined(separator: ",") + "\n").utf8)
    }

    private func appendText(_ p: Posting, _ i: Int, _ predictions: [HeadPrediction], _ out: inout [UInt8]) {
        // Tabs and line breaks inside an id would break the one-record-per-line layout.
        var line = String(p.id.unicodeScalars.map { $0.value == 9 || $0.value == 10 || $0.value == 13 ? " " : Character($0) })
        for (hi, h) in predictions.enumerated() {
            let ranked = h.top(i, max(1, top))
            let d = decision(h, head: hi, i)
            line += "\t\(h.head)=" + (d.known ? "" : "\(PredictionWriter.unknownLabel); best ")
                + ranked.map { "\($0.label) (\(probabilityString($0.probability)))" }.joined(separator: ", ")
            if explain > 0 {
                line += " [" + explanation(h, i).map { "\($0.feature) \(weightString($0.weight))" }.joined(separator: ", ") + "]"
            }
        }
        out += Array((line + "\n").utf8)
    }

    private func probabilityString(_ p: Float) -> String {
        var b: [UInt8] = []
        JSONText.appendProbability(p, to: &b)
        return String(decoding: b, as: UTF8.self)
    }

    /// A contribution with four decimals ("1.7312", "-0.0400").
    func weightString(_ w: Double) -> String {
        guard w.isFinite else { return "0.0000" }
        let s = String(format: "%.4f", w)
        return s == "-0.0000" ? "0.0000" : s
    }
}

/// Quotes a CSV field when it holds a comma, quote or line break (RFC 4180).
func csvField(_ s: String) -> String {
    if s.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) {
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
    return s
}

/// The `--threshold` setting of `classify`: below its threshold a head's label is `unknown`.
public enum ThresholdSpec: Sendable, Equatable {
    /// One probability for every head and label.
    case all(Double)
    /// A probability per named head; other heads have none.
    case perHead([String: Double])
    /// The per-class thresholds stored in the bundle at train time (for the algorithm used).
    case manifest

    /// Parses `P`, `HEAD=P[,HEAD=P]` or `manifest` (P in [0, 1]); nil when malformed.
    public static func parse(_ s: String) -> ThresholdSpec? {
        func probability(_ t: Substring) -> Double? {
            guard let p = Double(t.trimmingCharacters(in: .whitespaces)), p.isFinite, p >= 0, p <= 1 else { return nil }
            return p
        }
        let text = s.trimmingCharacters(in: .whitespaces)
        if text == "manifest" { return .manifest }
        if !text.contains("=") { return probability(Substring(text)).map { .all($0) } }
        var heads: [String: Double] = [:]
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pair = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = pair[0].trimmingCharacters(in: .whitespaces)
            guard pair.count == 2, !name.isEmpty, heads[name] == nil, let p = probability(pair[1]) else { return nil }
            heads[name] = p
        }
        return heads.isEmpty ? nil : .perHead(heads)
    }

    /// Thresholds per head of `model` (in head order) and per class, as `PredictionWriter` takes them,
    /// and notes for stderr (heads the bundle has no thresholds for). Throws a usage error for a head
    /// the model does not have, or `manifest` with a bundle that has no thresholds at all.
    public func resolve(_ model: JobLabelModel, algorithm: Algorithm) throws -> (thresholds: [[Double]], notes: [String]) {
        switch self {
        case .all(let p):
            return (model.heads.map { [Double](repeating: p, count: $0.classes.count) }, [])
        case .perHead(let byHead):
            let names = model.heads.map(\.name)
            if let unknown = byHead.keys.sorted().first(where: { !names.contains($0) }) {
                throw JobLabelError.usage("--threshold: the model has no head '\(unknown)' (its heads: \(names.joined(separator: ", ")))")
            }
            return (model.heads.map { [Double](repeating: byHead[$0.name] ?? 0, count: $0.classes.count) }, [])
        case .manifest:
            guard model.heads.contains(where: { $0.calibration != nil }) else {
                let why = model.config.calibration.method == .temperature
                    ? "no head had enough labeled rows to calibrate (see 'joblabel inspect')"
                    : "trained with --calibration none, or before calibration existed"
                throw JobLabelError.usage("--threshold manifest: this model stores no thresholds (\(why)); give a probability such as --threshold 0.6, or retrain with more data")
            }
            var notes: [String] = []
            let thresholds = model.heads.map { head -> [Double] in
                guard let c = head.calibration else {
                    notes.append("note: head '\(head.name)' has no stored thresholds (\(head.calibrationNote ?? "not calibrated")); its labels are given whatever their probability")
                    return [Double](repeating: 0, count: head.classes.count)
                }
                let stored = c.algorithm(algorithm).thresholds
                // A label that never reached the target precision on the held-out rows is never given.
                return head.classes.indices.map { $0 < stored.count ? (stored[$0] ?? .infinity) : .infinity }
            }
            return (thresholds, notes)
        }
    }
}
