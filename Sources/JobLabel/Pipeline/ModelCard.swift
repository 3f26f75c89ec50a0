import Foundation

/// A term and how strongly it points to one class.
public struct TermWeight: Sendable, Equatable {
    /// The feature's name as in the vocabulary (`title:` and `cue:` prefixes included).
    public var term: String
    /// Logistic regression: the class weight; Naive Bayes: log P(term | class) minus its mean over classes.
    public var weight: Double
}

/// What a model bundle is: data fingerprint, files, label counts, settings, training metrics, the
/// optimisation report and the most telling terms per class (`joblabel inspect`).
public struct ModelCard: Sendable {
    /// The bundle's manifest.
    public let manifest: Manifest
    /// Top terms per head, algorithm and class: `topTerms[head][algorithm][class]`, most telling first.
    public let topTerms: [String: [Algorithm: [[TermWeight]]]]

    /// Builds the card of a loaded model; `termCount` terms per class (0 for none).
    public init(manifest: Manifest, model: JobLabelModel, termCount: Int = 10) {
        self.manifest = manifest
        var terms: [String: [Algorithm: [[TermWeight]]]] = [:]
        if termCount > 0 {
            for head in model.heads {
                var perAlgorithm: [Algorithm: [[TermWeight]]] = [:]
                for algorithm in Algorithm.classifiers {
                    perAlgorithm[algorithm] = ModelCard.topTerms(head.model(algorithm), vocabulary: model.vectorizer.vocabulary,
                                                                 relativeToMean: algorithm == .nb, count: termCount)
                }
                terms[head.name] = perAlgorithm
            }
        }
        topTerms = terms
    }

    /// The `count` features with the largest weight for each class of `model` (ties: vocabulary order).
    /// With `relativeToMean`, a feature's weight for a class is first reduced by its mean over all classes
    /// (for Naive Bayes: the log-probability ratio against the average class).
    public static func topTerms(_ model: LinearModel, vocabulary: TermTable, relativeToMean: Bool, count: Int) -> [[TermWeight]] {
        let k = model.classCount, v = min(model.featureCount, vocabulary.count)
        guard k > 0, count > 0 else { return [[TermWeight]](repeating: [], count: k) }
        // Per class a small sorted list (best first) of (score, feature); one pass over the weights.
        var best = [[(score: Double, feature: Int)]](repeating: [], count: k)
        model.withWeights { w in
            for j in 0..<v {
                let row = j * k
                var mean = 0.0
                if relativeToMean {
                    for c in 0..<k { mean += Double(w[row + c]) }
                    mean /= Double(k)
                }
                for c in 0..<k {
                    let score = Double(w[row + c]) - mean
                    if best[c].count == count, let last = best[c].last, score <= last.score { continue }
                    var at = best[c].count
                    while at > 0 && best[c][at - 1].score < score { at -= 1 }
                    best[c].insert((score, j), at: at)
                    if best[c].count > count { best[c].removeLast() }
                }
            }
        }
        return best.map { list in list.map { TermWeight(term: vocabulary.string($0.feature), weight: $0.score) } }
    }

    /// The card as aligned plain text (`directory` is the bundle's path, shown first).
    public func text(directory: String) -> String {
        let m = manifest
        var s = "model: \(directory)\n"
        s += "format: \(m.format) v\(m.formatVersion), written by joblabel \(m.joblabelVersion), training id \(m.trainingId)\n"
        s += "trained on: \(m.training.documents) postings from \(m.training.files.joined(separator: ", "))\n"
        s += "data sha256: \(m.training.sha256)\n"
        let v = m.vectorizer
        s += "features: \(m.vocabularySize) terms; tokenizer min length \(v.tokenizer.minTokenLength), lowercase \(v.tokenizer.lowercase); ngrams 1-\(v.ngrams); title \(v.titleMode.rawValue)\(v.titleMode == .namespace ? (m.experts != nil ? " (its own expert)" : " (weight \(v.titleWeight))") : ""); min-df \(v.minDF), max-df \(v.maxDF), max-features \(v.maxFeatures.map(String.init) ?? "all"), sublinear tf \(v.sublinearTF); cues \(v.cues.isEmpty ? "none" : v.cues.map(\.rawValue).joined(separator: ",") + " (weight \(v.cueWeight))")\n"
        s += "naive bayes: alpha \(m.naiveBayes.alpha), \(m.naiveBayes.fitPrior ? "learned" : "uniform") priors\n"
        s += "logistic regression: C \(m.logisticRegression.C), max-iter \(m.logisticRegression.maxIterations), tol \(m.logisticRegression.tolerance), class weight \(m.logisticRegression.classWeight.rawValue)\n"
        s += "seed: \(m.seed); weights: \(m.weights.file), \(m.weights.bytes) bytes, crc32c \(m.weights.crc32c)\n"
        if let d = m.ordinalDecision, d != .mostProbable {
            s += "decision: seniority-like heads take the median level of their probabilities (\(d.rawValue)); others the most probable label\n"
        }
        if let e = m.experts {
            let fixed = e.fixed.keys.sorted().map { ($0.isEmpty ? "other heads" : $0) + " " + (e.fixed[$0] ?? []).map { String($0) }.joined(separator: " x ") }
            let chosen = "chosen by \(e.folds)-fold grouped cross-validation among \(e.weights.map { String($0) }.joined(separator: ", "))"
            let how = fixed.isEmpty ? chosen : e.fixed[""] != nil ? "fixed: \(fixed.joined(separator: "; "))" : "fixed: \(fixed.joined(separator: "; ")); other heads \(chosen)"
            s += "experts: title and body, weights \(how); title and body features normalised apart\n"
        }
        if let c = m.calibration, c.method == .temperature {
            s += "calibration: temperature scaling on \(percent(c.heldOutFraction)) of each label's rows held out; per-label thresholds for precision \(String(format: "%.2f", c.targetPrecision))\n"
        } else {
            s += "calibration: none (T = 1, no thresholds): \(m.calibration == nil ? "the bundle predates calibration" : "trained without calibration")\n"
        }
        if let a = m.autotune {
            s += a.summary.joined(separator: "\n") + "\n"
            let scored = a.vectors.indices.filter { a.vectors[$0].score != nil }
                .sorted { (a.vectors[$0].score ?? 0, -$0) > (a.vectors[$1].score ?? 0, -$1) }
            if scored.count > 1 {
                s += "  vectorizer settings by score (\(scored.count) scored; every trial is in the manifest's \"autotune\"):\n"
                for p in scored.prefix(5) {
                    s += "    \(String(format: "%.4f", a.vectors[p].score ?? 0))  \(a.vectors[p])\n"
                }
            }
        }
        for h in m.heads {
            // Summed without trapping, whatever the manifest holds (loading refuses counts that overflow).
            let rows = h.labelCounts.reduce(0) { $0.addingReportingOverflow($1).overflow ? Int.max : $0 + $1 }
            let total = max(1, rows)
            s += "\nhead '\(h.name)': \(h.labels.count) labels, \(rows) training rows\n"
            let width = h.labels.map(\.count).max() ?? 0
            let countWidth = h.labelCounts.map { String($0).count }.max() ?? 0
            for (c, (label, count)) in zip(h.labels, h.labelCounts).enumerated() {
                let share = String(format: "%5.1f %%", Double(count) / Double(total) * 100)
                s += "  \(label.padding(toLength: width, withPad: " ", startingAt: 0))  \(String(repeating: " ", count: countWidth - String(count).count))\(count)  \(share)"
                if let cal = h.calibration {
                    s += "   threshold " + Algorithm.allCases.map { a in
                        let t = cal.algorithm(a).thresholds
                        return "\(a.rawValue) " + (c < t.count ? t[c].map { String(format: "%.4f", $0) } ?? "  -   " : "  -   ")
                    }.joined(separator: "  ")
                }
                s += "\n"
            }
            if let e = h.experts {
                func w(_ x: ExpertWeights) -> String {
                    "title \(x.title) x body \(x.body) (out-of-fold log-loss \(String(format: "%.4f", x.cvLogLoss)), accuracy \(String(format: "%.4f", x.cvAccuracy)))"
                }
                s += "  experts: \(e.titleFeatures) title and \(e.bodyFeatures) body features, weights \(m.experts.map { $0.fixed[h.name] ?? $0.fixed[""] } != nil ? "fixed, scored out of fold" : "chosen") on \(e.rows) rows; nb \(w(e.nb)); lr \(w(e.lr))\n"
            }
            if let own = h.settings {
                var parts: [String] = []
                if let c = own.C { parts.append("lr C \(c)") }
                if let w = own.classWeight { parts.append("class weight \(w.rawValue)") }
                if let a = own.alpha { parts.append("nb alpha \(a)") }
                if let e = own.lrExperts { parts.append("lr experts \(e.map { String($0) }.joined(separator: " x "))") }
                if let e = own.nbExperts { parts.append("nb experts \(e.map { String($0) }.joined(separator: " x "))") }
                s += "  own settings (in place of the shared ones): \(parts.joined(separator: ", "))\n"
            }
            if let o = h.lrOptimization {
                s += "  trust-region Newton: \(o.iterations) iterations, \(o.evaluations) passes over the data, final loss \(String(format: "%.6f", o.finalLoss)), max |gradient| \(String(format: "%.3g", o.gradientMax)), \(o.converged ? "converged" : "not converged"): \(o.stopReason)\n"
            }
            if let c = h.calibration {
                func f(_ x: Double) -> String { String(format: "%.4f", x) }
                s += "  calibration: temperature nb \(f(c.nb.temperature ?? 1)), lr \(f(c.lr.temperature ?? 1)), fitted on \(c.heldOutRows) held-out rows; held-out ECE before -> after: "
                s += Algorithm.allCases.map { "\($0.rawValue) \(f(c.algorithm($0).eceBefore)) -> \(f(c.algorithm($0).eceAfter))" }.joined(separator: ", ") + "\n"
                s += "  thresholds (beside the labels above): the smallest probability at which a label's held-out precision reaches \(String(format: "%.2f", c.targetPrecision)) ('-': never; such labels are 'unknown' under the stored thresholds)\n"
            } else {
                s += "  calibration: none, T = 1\(h.calibrationNote.map { " (\($0))" } ?? "")\n"
            }
            for (algo, metric) in (m.training.metrics[h.name] ?? [:]).sorted(by: { $0.key < $1.key }) {
                s += "  training \(algo): accuracy \(String(format: "%.4f", metric.accuracy)), macro-F1 \(String(format: "%.4f", metric.macroF1)), weighted-F1 \(String(format: "%.4f", metric.weightedF1)) (\(metric.n) rows)\n"
            }
            guard let terms = topTerms[h.name] else { continue }
            let n = terms.values.map { $0.map(\.count).max() ?? 0 }.max() ?? 0
            s += "  top \(n) terms per label (lr: largest weights; nb: log P(term | label) minus its mean over labels):\n"
            for (c, label) in h.labels.enumerated() {
                for algorithm in [Algorithm.lr, .nb] {
                    guard let list = terms[algorithm], c < list.count else { continue }
                    let name = algorithm == .lr ? label.padding(toLength: width, withPad: " ", startingAt: 0) : String(repeating: " ", count: width)
                    s += "    \(name)  \(algorithm.rawValue): \(list[c].map(\.term).joined(separator: ", "))\n"
                }
            }
        }
        return s
    }

    /// The manifest's JSON object (`manifestBytes` as stored, keys unchanged) with a `top_terms` key added:
    /// `{"top_terms": {HEAD: {"lr"|"nb": {LABEL: [{"term", "weight"}]}}}}`.
    public func json(manifestBytes: [UInt8]) -> [UInt8] {
        var heads: [String] = []
        for h in manifest.heads {
            guard let terms = topTerms[h.name] else { continue }
            let algorithms = Algorithm.classifiers.compactMap { algorithm -> String? in
                guard let list = terms[algorithm] else { return nil }
                let classes = h.labels.enumerated().map { c, label in
                    let items = (c < list.count ? list[c] : []).map {
                        "{\"term\" : \(JSONText.quoted($0.term)), \"weight\" : \(JSONText.number($0.weight))}"
                    }
                    return "      \(JSONText.quoted(label)) : [\(items.joined(separator: ", "))]"
                }
                return "    \(JSONText.quoted(algorithm.rawValue)) : {\n\(classes.joined(separator: ",\n"))\n    }"
            }
            heads.append("  \(JSONText.quoted(h.name)) : {\n\(algorithms.joined(separator: ",\n"))\n  }")
        }
        let addition = Array(",\n  \"top_terms\" : {\n\(heads.joined(separator: ",\n"))\n  }\n}\n".utf8)
        // A decoded manifest is a JSON object, so its last non-blank byte is its closing brace.
        var end = manifestBytes.count
        while end > 0, [0x20, 0x0A, 0x0D, 0x09].contains(manifestBytes[end - 1]) { end -= 1 }
        guard end > 0, manifestBytes[end - 1] == UInt8(ascii: "}") else {
            return Array("{\"manifest\" : ".utf8) + manifestBytes + addition
        }
        var body = Array(manifestBytes[..<(end - 1)])
        while let last = body.last, [0x20, 0x0A, 0x0D, 0x09].contains(last) { body.removeLast() }
        return body + addition
    }
}

/// A share as a whole percentage ("15 %").
private func percent(_ x: Double) -> String {
    let p = x * 100
    return p == p.rounded() ? "\(Int(p)) %" : String(format: "%.1f %%", p)
}
