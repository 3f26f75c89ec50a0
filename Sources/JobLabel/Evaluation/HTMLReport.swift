import Foundation

extension EvaluationResult {
    /// One self-contained HTML page (inline CSS and SVG; no scripts, fonts or images from elsewhere):
    /// per head, the algorithms side by side: confusion heat map, per-class precision/recall/F1, reliability
    /// diagram with ECE, level errors for ordinal heads, and coverage by probability threshold.
    ///
    /// `facts` are label/value pairs shown under the title (model, data, ...). The page is well-formed XML
    /// (void elements closed, text escaped), so it can be checked with an XML parser. Each confusion matrix
    /// is an `<svg class="confusion" data-head=… data-algorithm=…>`.
    public func html(title: String = "joblabel evaluation", facts: [(String, String)] = []) -> String {
        HTMLReport(result: self).render(title: title, facts: facts)
    }
}

/// Builds the HTML report; every chart is sized from its data so long labels and many classes fit.
struct HTMLReport {
    let result: EvaluationResult

    static let algorithmNames = ["nb": "Naive Bayes", "lr": "Logistic regression", "ensemble": "Ensemble (mean of NB and LR)"]
    /// Heads with at least this many labels get one algorithm per row for their confusion matrices, each
    /// the width of the page, with larger cells.
    static let manyLabels = 15
    /// Heads with more labels than this show the matrix of the `mostConfused` labels with the most errors;
    /// the full matrix is in a `<details>` below it.
    static let tooManyLabels = 40
    static let mostConfused = 20
    /// Figures computed from fewer rows than this carry a "few rows" caveat.
    static let fewRows = 30

    func render(title: String, facts: [(String, String)]) -> String {
        var heads: [String] = []
        for e in result.entries where !heads.contains(e.head) { heads.append(e.head) }
        var h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
        h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
        h += "<title>\(esc(title))</title>\n<style>\n\(HTMLReport.css)</style>\n</head>\n<body>\n"
        h += "<header>\n<h1>\(esc(title))</h1>\n"
        if !facts.isEmpty {
            h += "<dl class=\"facts\">" + facts.map { "<div><dt>\(esc($0.0))</dt><dd>\(esc($0.1))</dd></div>" }.joined() + "</dl>\n"
        }
        h += "</header>\n<main>\n"
        h += overview(heads)
        for head in heads {
            h += section(head, result.entries.filter { $0.head == head })
        }
        h += "<footer>Written by joblabel \(esc(ModelBundle.joblabelVersion)). Confidence is the probability the model gives its predicted label. "
        h += "ECE: expected calibration error over 10 equal-width confidence bins, Σ (rows in bin / rows) · |accuracy − mean confidence|. "
        h += "Colours of the confusion matrices are shares of the true label's row; hover a cell for its count.</footer>\n"
        h += "</main>\n</body>\n</html>\n"
        return h
    }

    // MARK: page parts

    private func overview(_ heads: [String]) -> String {
        let anyOrdinal = result.entries.contains { $0.report.ordinal != nil }
        var h = "<section class=\"card overview\">\n<h2>Summary</h2>\n<table class=\"numbers\">\n<thead><tr><th>head</th><th>algorithm</th><th>rows</th><th>accuracy</th><th>macro F1</th><th>weighted F1</th><th>ECE</th>"
        if anyOrdinal { h += "<th>within one level</th><th>mean abs. level error</th>" }
        h += "</tr></thead>\n<tbody>\n"
        for e in result.entries {
            let r = e.report
            h += "<tr><td><a href=\"#head-\(ident(e.head))\">\(esc(e.head))</a></td><td>\(algoTag(e.algorithm))</td><td>\(r.n < HTMLReport.fewRows ? fewTag("only \(r.n) rows: every figure of this head can change a lot with a few rows more or less") + " " : "")\(r.n)</td>"
            h += "<td>\(f3(r.accuracy))</td><td>\(f3(r.macroF1))</td><td>\(f3(r.weightedF1))</td><td>\(r.calibration.map { f3($0.ece) } ?? "–")</td>"
            if anyOrdinal {
                h += "<td>\(r.ordinal.map { f3($0.offByOneAccuracy) } ?? "")</td><td>\(r.ordinal.map { f2($0.meanAbsoluteError) } ?? "")</td>"
            }
            h += "</tr>\n"
        }
        h += "</tbody>\n</table>\n</section>\n"
        return h
    }

    private func section(_ head: String, _ group: [(head: String, algorithm: String, report: EvaluationReport)]) -> String {
        let columns = max(1, group.count)
        let first = group[0].report
        var h = "<section class=\"card head\" id=\"head-\(ident(head))\">\n"
        let trueLabels = first.perClass.filter { $0.support > 0 }.count
        h += "<h2>\(esc(head))</h2>\n<p class=\"lead\">\(first.n) row\(first.n == 1 ? "" : "s") scored, \(trueLabels) true label\(trueLabels == 1 ? "" : "s")"
        if let o = first.ordinal { h += "; ordinal levels \(esc(o.levels.joined(separator: " < ")))" }
        h += ".</p>\n"
        if first.n < HTMLReport.fewRows {
            h += "<p class=\"caveat\"><b>Few rows.</b> Every figure of this head comes from \(first.n) row\(first.n == 1 ? "" : "s") (fewer than \(HTMLReport.fewRows)): a few rows more or less could change it a lot. Read the charts as examples, not as measurements.</p>\n"
        }
        // Many labels: one algorithm per row, so each matrix gets the page's width.
        let labelCount = group.map { $0.report.compacted().labels.count }.max() ?? 0
        let large = labelCount >= HTMLReport.manyLabels
        func row(_ heading: String, _ note: String, layout: String? = nil, _ body: (String, EvaluationReport) -> String) -> String {
            var s = "<h3>\(esc(heading))</h3>\n"
            if !note.isEmpty { s += "<p class=\"note\">\(esc(note))</p>\n" }
            s += "<div class=\"pair\" style=\"grid-template-columns: \(layout ?? "repeat(\(columns), minmax(0, 1fr))")\">\n"
            for e in group {
                s += "<div class=\"panel\">\n<h4>\(algoTag(e.algorithm)) \(esc(HTMLReport.algorithmNames[e.algorithm] ?? e.algorithm))</h4>\n"
                s += body(e.algorithm, e.report)
                s += "</div>\n"
            }
            return s + "</div>\n"
        }
        let reduced = labelCount > HTMLReport.tooManyLabels
        var confusionNote = "Rows: true label; columns: predicted label. Colour: share of the row (blue on the diagonal, red off it); numbers: rows."
        if reduced {
            confusionNote += " \(labelCount) labels are too many for one legible matrix: shown are the \(HTMLReport.mostConfused) labels with the most errors (as true or as predicted label), with each row's share of all its rows; the full matrix is under it."
        }
        h += row("Confusion matrix", confusionNote, layout: large ? "minmax(0, 1fr)" : nil) { algo, r in
            let compact = r.compacted()
            var s = "<p class=\"figures\">accuracy <b>\(f3(r.accuracy))</b> · macro F1 <b>\(f3(r.macroF1))</b> · weighted F1 <b>\(f3(r.weightedF1))</b></p>\n"
            if reduced {
                s += ConfusionChart.mostConfused(compact, count: HTMLReport.mostConfused, head: head, algorithm: algo).svg()
                s += "<details class=\"full-matrix\"><summary>The full matrix (\(compact.labels.count) labels)</summary>\n"
                s += ConfusionChart(report: compact, head: head, algorithm: algo, large: true).svg() + "</details>\n"
            } else {
                s += ConfusionChart(report: compact, head: head, algorithm: algo, large: large).svg()
            }
            return s
        }
        let fewLabels = first.n >= HTMLReport.fewRows && first.perClass.contains { $0.support > 0 && $0.support < HTMLReport.fewRows }
        h += row("Precision, recall and F1 per label",
                 fewLabels ? "Labels marked * have fewer than \(HTMLReport.fewRows) rows: their precision, recall and F1 can change a lot with a few rows more or less." : "",
                 layout: large ? "repeat(auto-fit, minmax(560px, 1fr))" : nil) { _, r in
            PerClassChart(report: r.compacted(), full: r).svg()
        }
        if group.contains(where: { $0.report.calibration != nil || $0.report.ordinal != nil }) {
            h += row(first.ordinal == nil ? "Calibration" : "Calibration and level errors",
                     "Reliability: a bar is the accuracy of the rows in one confidence bin, its black line their mean confidence (red: more confident than accurate, light blue: less); the dashed diagonal is perfect calibration; grey: rows per bin.") { _, r in
                var s = "<div class=\"charts\">\n"
                if let cal = r.calibration {
                    let pale = cal.bins.contains { $0.count > 0 && $0.count < HTMLReport.fewRows }
                    s += "<figure style=\"flex: 0 1 \(ReliabilityChart.width)px\">\n<figcaption>ECE <b>\(f3(cal.ece))</b> · mean confidence \(f3(cal.meanConfidence))\(pale ? "<br/>faded, dashed bars: bins of fewer than \(HTMLReport.fewRows) rows" : "")</figcaption>\n"
                    s += ReliabilityChart(calibration: cal).svg() + "</figure>\n"
                }
                if let o = r.ordinal {
                    s += "<figure style=\"flex: 0 1 \(LevelErrorChart.width(o))px\">\n<figcaption>within one level <b>\(f3(o.offByOneAccuracy))</b><br/>mean abs. level error <b>\(f2(o.meanAbsoluteError))</b><br/>exact \(f3(o.exactAccuracy)) · \(o.n) rows\(o.n < HTMLReport.fewRows && first.n >= HTMLReport.fewRows ? " " + fewTag("fewer than \(HTMLReport.fewRows) rows on the scale") : "")</figcaption>\n"
                    s += LevelErrorChart(summary: o).svg() + "</figure>\n"
                }
                return s + "</div>\n"
            }
        }
        if group.contains(where: { !$0.report.coverage.isEmpty }) {
            let fewCovered = first.n >= HTMLReport.fewRows && group.contains { $0.report.coverage.contains { $0.count > 0 && $0.count < HTMLReport.fewRows } }
            h += "<h3>Coverage by probability threshold</h3>\n<p class=\"note\">Rows whose predicted label has at least this probability, and how often those are right: the trade-off of labelling only confident rows\(group.contains { $0.report.manifestThresholds != nil } ? ". Last row: the thresholds stored in the model, one per label (fitted on held-out rows for a target precision; labels without one are never covered)" : "")\(fewCovered ? ". Accuracies marked * come from fewer than \(HTMLReport.fewRows) rows" : "").</p>\n"
            h += coverageTable(group, markFew: first.n >= HTMLReport.fewRows)
        }
        return h + "</section>\n"
    }

    /// `markFew`: mark the rows of fewer than `fewRows` (not when the whole head has too few: its caveat says so).
    private func coverageTable(_ group: [(head: String, algorithm: String, report: EvaluationReport)], markFew: Bool) -> String {
        var h = "<table class=\"numbers coverage\">\n<thead><tr><th rowspan=\"2\">threshold</th>"
        for e in group { h += "<th colspan=\"3\">\(algoTag(e.algorithm)) \(esc(HTMLReport.algorithmNames[e.algorithm] ?? e.algorithm))</th>" }
        h += "</tr><tr>" + String(repeating: "<th>rows</th><th>coverage</th><th>accuracy</th>", count: group.count) + "</tr></thead>\n<tbody>\n"
        let thresholds = group.first { !$0.report.coverage.isEmpty }?.report.coverage.map(\.threshold) ?? []
        for (i, t) in thresholds.enumerated() {
            h += "<tr><td>≥ \(f2(t))</td>"
            for e in group {
                guard i < e.report.coverage.count else { h += "<td></td><td></td><td></td>"; continue }
                let c = e.report.coverage[i]
                let few = markFew && c.count > 0 && c.count < HTMLReport.fewRows
                h += "<td\(few ? " class=\"few-rows\" title=\"fewer than \(HTMLReport.fewRows) rows: this accuracy can change a lot\"" : "")>\(c.count)</td><td class=\"bar\"><span style=\"width: calc((100% - 24px) * \(String(format: "%.3f", c.coverage)))\"></span><i>\(pct(c.coverage))</i></td>"
                h += "<td class=\"bar acc\(few ? " few-rows" : "")\">" + (c.accuracy.map { "<span style=\"width: calc((100% - 24px) * \(String(format: "%.3f", $0)))\"></span><i>\(f3($0))\(few ? "*" : "")</i>" } ?? "<i>–</i>") + "</td>"
            }
            h += "</tr>\n"
        }
        if group.contains(where: { $0.report.manifestThresholds != nil }) {
            h += "<tr class=\"model-thresholds\"><td>model's thresholds</td>"
            for e in group {
                guard let t = e.report.manifestThresholds else { h += "<td></td><td></td><td></td>"; continue }
                let tip = "the bundle's thresholds for precision \(f2(t.targetPrecision)): \(t.labelsWithThreshold) of \(t.labelCount) labels have one"
                h += "<td title=\"\(esc(tip))\">\(t.count)</td><td class=\"bar\"><span style=\"width: calc((100% - 24px) * \(String(format: "%.3f", t.coverage)))\"></span><i>\(pct(t.coverage))</i></td>"
                h += "<td class=\"bar acc\">" + (t.accuracy.map { "<span style=\"width: calc((100% - 24px) * \(String(format: "%.3f", $0)))\"></span><i>\(f3($0))</i>" } ?? "<i>–</i>") + "</td>"
            }
            h += "</tr>\n"
        }
        return h + "</tbody>\n</table>\n"
    }

    private func fewTag(_ tip: String) -> String {
        "<span class=\"few\" title=\"\(esc(tip))\">few rows</span>"
    }

    private func algoTag(_ algorithm: String) -> String {
        "<span class=\"tag tag-\(ident(algorithm))\">\(esc(algorithm))</span>"
    }

    static let css = """
    :root { --ink: #1d2430; --muted: #5b6574; --line: #dde2e9; --bg: #f3f5f8; --card: #ffffff; --accent: #2b6cb0; }
    * { box-sizing: border-box; }
    body { margin: 0; background: var(--bg); color: var(--ink);
      font-family: "DejaVu Sans", "Segoe UI", "Helvetica Neue", Arial, sans-serif; font-size: 14px; line-height: 1.45; }
    header { background: #1f2a3a; color: #fff; padding: 22px 32px 18px; }
    header h1 { margin: 0 0 10px; font-size: 24px; font-weight: 600; letter-spacing: 0.2px; }
    .facts { display: flex; flex-wrap: wrap; gap: 6px 28px; margin: 0; }
    .facts div { display: flex; gap: 8px; }
    .facts dt { color: #9fb0c6; }
    .facts dd { margin: 0; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; overflow-wrap: anywhere; }
    main { padding: 20px 32px 28px; }
    .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 18px 22px 22px; margin: 0 0 22px;
      box-shadow: 0 1px 2px rgba(20, 30, 50, 0.05); overflow-x: auto; }
    h2 { margin: 0 0 4px; font-size: 20px; }
    h3 { margin: 22px 0 2px; font-size: 16px; border-top: 1px solid var(--line); padding-top: 14px; }
    h4 { margin: 0 0 6px; font-size: 14px; font-weight: 600; }
    .lead { margin: 0 0 4px; color: var(--muted); }
    .note { margin: 0 0 10px; color: var(--muted); font-size: 13px; }
    .pair { display: grid; gap: 26px; align-items: start; }
    .panel { min-width: 0; }
    .figures { margin: 0 0 8px; color: var(--muted); font-size: 13px; }
    .figures b, figcaption b { color: var(--ink); }
    .charts { display: flex; flex-wrap: wrap; gap: 18px 26px; align-items: flex-start; }
    figure { margin: 0; }
    figcaption { color: var(--muted); font-size: 13px; margin-bottom: 4px; }
    svg { display: block; width: 100%; height: auto; font-family: "DejaVu Sans", "Segoe UI", Arial, sans-serif; }
    svg text { fill: var(--ink); }
    svg .muted { fill: var(--muted); }
    svg .light { fill: #ffffff; }
    table.numbers { border-collapse: collapse; font-variant-numeric: tabular-nums; margin-top: 6px; }
    table.numbers th, table.numbers td { padding: 5px 12px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
    table.numbers th { font-weight: 600; color: var(--muted); font-size: 13px; background: #f7f9fb; }
    table.numbers td:first-child, table.numbers th:first-child { text-align: left; }
    table.numbers tbody tr:hover { background: #f5f8fc; }
    .overview a { color: var(--accent); text-decoration: none; font-weight: 600; }
    td.bar { position: relative; min-width: 110px; }
    td.bar span { position: absolute; left: 12px; bottom: 2px; height: 4px; background: #93c5fd; border-radius: 2px; }
    td.bar.acc span { background: #6ee7b7; }
    td.bar i { position: relative; font-style: normal; }
    .tag { display: inline-block; min-width: 26px; padding: 0 6px; border-radius: 4px; color: #fff; font-size: 12px; font-weight: 700;
      text-align: center; text-transform: uppercase; letter-spacing: 0.5px; }
    .tag-nb { background: #805ad5; }
    .tag-lr { background: #2c7a7b; }
    .tag-ensemble { background: #b7791f; }
    tr.model-thresholds td { border-top: 2px solid var(--line); font-weight: 600; }
    .caveat { margin: 8px 0 4px; padding: 8px 12px; background: #fff7e6; border: 1px solid #f6d28b; border-radius: 6px; color: #6b4a00; }
    .few { display: inline-block; padding: 0 6px; border-radius: 4px; background: #fdecc8; color: #7a5200; font-size: 11px; font-weight: 600; }
    td.few-rows, td.few-rows i { color: var(--muted); font-style: italic; }
    details.full-matrix { margin-top: 10px; }
    details.full-matrix summary { cursor: pointer; color: var(--accent); font-weight: 600; margin-bottom: 6px; }
    footer { color: var(--muted); font-size: 12px; margin-top: 8px; max-width: 1100px; }
    @media (max-width: 1000px) { .pair { grid-template-columns: minmax(0, 1fr) !important; } }

    """
}

// MARK: charts

/// Confusion matrix heat map: cells coloured by the share of their true label's row.
struct ConfusionChart {
    let report: EvaluationReport
    let head: String
    let algorithm: String
    /// Sized for a row of its own (many labels): larger cells and text.
    var large = false
    /// Rows per true label when the matrix shows only some labels (nil: the sums of its rows).
    var rowTotals: [Int]? = nil
    /// True for the matrix of the most confused labels (another class and id than the full matrix).
    var part = false

    /// The matrix of the `count` labels with the most errors, as true or as predicted label (in the
    /// report's order), coloured by the share of all rows of each true label.
    static func mostConfused(_ report: EvaluationReport, count: Int, head: String, algorithm: String) -> ConfusionChart {
        let k = report.labels.count
        let errors = (0..<k).map { c -> Int in
            (0..<k).reduce(0) { $0 + ($1 == c ? 0 : report.confusion[c][$1] + report.confusion[$1][c]) }
        }
        let keep = (0..<k).sorted { errors[$0] != errors[$1] ? errors[$0] > errors[$1] : $0 < $1 }.prefix(count).sorted()
        var part = report
        part.labels = keep.map { report.labels[$0] }
        part.perClass = keep.map { report.perClass[$0] }
        part.confusion = keep.map { t in keep.map { report.confusion[t][$0] } }
        return ConfusionChart(report: part, head: head, algorithm: algorithm, large: true,
                              rowTotals: keep.map { report.confusion[$0].reduce(0, +) }, part: true)
    }

    func svg() -> String {
        let labels = report.labels
        let m = max(1, labels.count)
        let cell = large ? clamp((880 / Double(m)).rounded(.down), 22, 40) : clamp((468 / Double(m)).rounded(.down), 17, 46)
        let countFont = large ? clamp(cell * 0.45, 10, 13) : clamp(cell * 0.42, 8.5, 13)
        let labelFont = large ? 12.5 : m > 14 ? 10.5 : 12
        let shown = labels.map { shorten($0, 24) }
        let labelWidth = shown.map { textWidth($0, labelFont) }.max() ?? 40
        let left = 22 + labelWidth + 8
        let top = 26.0
        let grid = cell * Double(m)
        let supportWidth = 44.0
        let slant = 0.7071
        let bottom = top + grid + 8 + labelWidth * slant + labelFont + 26
        let width = max(left + grid + supportWidth, left + grid / 2 + 80)
        let totals = rowTotals ?? report.confusion.map { $0.reduce(0, +) }
        let id = "confusion-\(ident(head))-\(ident(algorithm))" + (part ? "-most-confused" : "")
        var s = svgOpen(width: width, height: bottom, cls: part ? "confusion-most-confused" : "confusion",
                        extra: "id=\"\(id)\" data-head=\"\(esc(head))\" data-algorithm=\"\(esc(algorithm))\"",
                        label: (part ? "Most confused labels of \(head), \(algorithm)" : "Confusion matrix of \(head), \(algorithm)"))
        s += "<text x=\"\(fmt(left + grid + supportWidth - 4))\" y=\"\(fmt(top - 8))\" text-anchor=\"end\" font-size=\"11\" class=\"muted\">rows</text>\n"
        for t in 0..<labels.count {
            let y = top + Double(t) * cell
            s += "<text x=\"\(fmt(left - 8))\" y=\"\(fmt(y + cell / 2))\" dy=\"0.35em\" text-anchor=\"end\" font-size=\"\(fmt(labelFont))\"><title>\(esc(labels[t]))</title>\(esc(shown[t]))</text>\n"
            for p in 0..<labels.count {
                let count = report.confusion[t][p]
                let share = totals[t] == 0 ? 0 : Double(count) / Double(totals[t])
                let x = left + Double(p) * cell
                let fill = count == 0 ? "#f6f7f9" : heat(share, diagonal: t == p)
                let tip = "true \(labels[t]), predicted \(labels[p]): \(count) of \(totals[t]) rows (\(pct(share)))"
                s += "<g><title>\(esc(tip))</title><rect x=\"\(fmt(x))\" y=\"\(fmt(y))\" width=\"\(fmt(cell - 1))\" height=\"\(fmt(cell - 1))\" rx=\"1.5\" fill=\"\(fill)\"/>"
                if count > 0 {
                    s += "<text x=\"\(fmt(x + (cell - 1) / 2))\" y=\"\(fmt(y + (cell - 1) / 2))\" dy=\"0.35em\" text-anchor=\"middle\" font-size=\"\(fmt(countFont))\"\(share > 0.55 ? " class=\"light\"" : "")>\(cell < 34 ? compact(count) : String(count))</text>"
                }
                s += "</g>\n"
            }
            s += "<text x=\"\(fmt(left + grid + supportWidth - 4))\" y=\"\(fmt(y + cell / 2))\" dy=\"0.35em\" text-anchor=\"end\" font-size=\"11\" class=\"muted\">\(totals[t])</text>\n"
        }
        // Predicted labels hang below the columns, slanted so long names neither overlap nor widen the chart.
        for p in 0..<labels.count {
            let x = left + Double(p) * cell + (cell - 1) / 2
            let y = top + grid + 8
            s += "<text transform=\"translate(\(fmt(x)),\(fmt(y))) rotate(-45)\" text-anchor=\"end\" dy=\"0.35em\" font-size=\"\(fmt(labelFont))\"><title>\(esc(labels[p]))</title>\(esc(shown[p]))</text>\n"
        }
        s += "<text x=\"\(fmt(left + grid / 2))\" y=\"\(fmt(bottom - 8))\" text-anchor=\"middle\" font-size=\"12\" class=\"muted\">predicted label</text>\n"
        s += "<text transform=\"translate(12,\(fmt(top + grid / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\" class=\"muted\">true label</text>\n"
        return s + "</svg>\n"
    }

    /// White to blue (diagonal) or white to red (errors) by the row share.
    private func heat(_ share: Double, diagonal: Bool) -> String {
        let stops: [(Double, Double, Double)] = diagonal
            ? [(239, 246, 255), (147, 197, 253), (37, 99, 235), (23, 37, 84)]
            : [(255, 241, 236), (252, 165, 140), (220, 38, 38), (127, 29, 29)]
        let t = clamp(0.12 + 0.88 * share, 0, 1) * Double(stops.count - 1)
        let i = min(stops.count - 2, Int(t))
        let u = t - Double(i)
        func mix(_ a: Double, _ b: Double) -> Int { Int((a + (b - a) * u).rounded()) }
        return String(format: "#%02x%02x%02x", mix(stops[i].0, stops[i + 1].0), mix(stops[i].1, stops[i + 1].1), mix(stops[i].2, stops[i + 1].2))
    }
}

/// Per-label precision, recall and F1 as three bars, with support, then the macro and weighted averages.
struct PerClassChart {
    let report: EvaluationReport
    let full: EvaluationReport

    func svg() -> String {
        let labelFont = 12.0
        var rows: [(String, Double, Double, Double, Int, Bool)] = report.labels.indices.map { c in
            (report.labels[c], report.perClass[c].precision, report.perClass[c].recall, report.perClass[c].f1, report.perClass[c].support, false)
        }
        rows.append(("macro avg", full.macroPrecision, full.macroRecall, full.macroF1, full.n, true))
        rows.append(("weighted avg", full.weightedPrecision, full.weightedRecall, full.weightedF1, full.n, true))
        // A label with fewer than `fewRows` rows is marked '*' (unless the whole head has too few rows: the
        // head's caveat says so once).
        let markFew = full.n >= HTMLReport.fewRows
        let shown = rows.map { r in shorten(r.0, 24) + (markFew && !r.5 && r.4 > 0 && r.4 < HTMLReport.fewRows ? " *" : "") }
        let labelWidth = shown.map { textWidth($0, labelFont) }.max() ?? 60
        let left = labelWidth + 12
        let barWidth = 250.0
        let rowHeight = report.labels.count > 14 ? 21.0 : 26.0
        let bar = (rowHeight - 6) / 3
        let top = 40.0
        let gap = 10.0
        let height = top + rowHeight * Double(rows.count) + gap + 8
        let width = left + barWidth + 116
        let colors = ["#60a5fa", "#f59e0b", "#10b981"]
        var s = svgOpen(width: width, height: height, cls: "per-class", extra: "", label: "Precision, recall and F1 per label")
        // Legend and axis.
        for (i, name) in ["precision", "recall", "F1"].enumerated() {
            let x = left + Double(i) * 92
            s += "<rect x=\"\(fmt(x))\" y=\"4\" width=\"11\" height=\"11\" rx=\"2\" fill=\"\(colors[i])\"/><text x=\"\(fmt(x + 16))\" y=\"13\" font-size=\"12\">\(name)</text>\n"
        }
        s += "<text x=\"\(fmt(left + barWidth + 16))\" y=\"\(fmt(top - 8))\" font-size=\"11\" class=\"muted\">F1</text>"
        s += "<text x=\"\(fmt(width - 4))\" y=\"\(fmt(top - 8))\" text-anchor=\"end\" font-size=\"11\" class=\"muted\">support</text>\n"
        let gridBottom = height - 6
        for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let x = left + tick * barWidth
            s += "<line x1=\"\(fmt(x))\" y1=\"\(fmt(top - 4))\" x2=\"\(fmt(x))\" y2=\"\(fmt(gridBottom))\" stroke=\"#e5e9ef\" stroke-width=\"1\"/>"
            s += "<text x=\"\(fmt(x))\" y=\"\(fmt(top - 8))\" text-anchor=\"middle\" font-size=\"10\" class=\"muted\">\(tick == 0 || tick == 1 ? String(Int(tick)) : String(tick))</text>\n"
        }
        for (i, r) in rows.enumerated() {
            let y = top + Double(i) * rowHeight + (r.5 ? gap : 0)
            if r.5 && !rows[i - 1].5 {
                s += "<line x1=\"0\" y1=\"\(fmt(y - gap / 2))\" x2=\"\(fmt(width))\" y2=\"\(fmt(y - gap / 2))\" stroke=\"#c9d1dc\" stroke-width=\"1\"/>\n"
            }
            let tip = "\(r.0): precision \(f3(r.1)), recall \(f3(r.2)), F1 \(f3(r.3)), support \(r.4)" + (r.4 < HTMLReport.fewRows ? " (few rows)" : "")
            s += "<g><title>\(esc(tip))</title>"
            s += "<text x=\"\(fmt(left - 8))\" y=\"\(fmt(y + rowHeight / 2))\" dy=\"0.35em\" text-anchor=\"end\" font-size=\"\(fmt(labelFont))\"\(r.5 ? " font-weight=\"bold\"" : "")>\(esc(shown[i]))</text>"
            for (j, v) in [r.1, r.2, r.3].enumerated() {
                let w = max(0, min(1, v)) * barWidth
                s += "<rect x=\"\(fmt(left))\" y=\"\(fmt(y + 3 + Double(j) * bar))\" width=\"\(fmt(max(w, 0.5)))\" height=\"\(fmt(bar - 0.8))\" fill=\"\(colors[j])\"/>"
            }
            s += "<text x=\"\(fmt(left + barWidth + 16))\" y=\"\(fmt(y + rowHeight / 2))\" dy=\"0.35em\" font-size=\"12\" font-weight=\"bold\">\(f2(r.3))</text>"
            s += "<text x=\"\(fmt(width - 4))\" y=\"\(fmt(y + rowHeight / 2))\" dy=\"0.35em\" text-anchor=\"end\" font-size=\"12\" class=\"muted\">\(r.4)</text></g>\n"
        }
        return s + "</svg>\n"
    }
}

/// Reliability diagram: accuracy per confidence bin against the diagonal, gaps shaded, counts underneath.
struct ReliabilityChart {
    let calibration: Calibration

    static let plot = 230.0, left = 46.0
    /// Natural width of the chart.
    static var width: Int { Int(left + plot + 16) }

    func svg() -> String {
        let plot = ReliabilityChart.plot
        let left = ReliabilityChart.left, top = 12.0
        let countsTop = top + plot + 34
        let countsHeight = 42.0
        let height = countsTop + countsHeight + 18
        let width = Double(ReliabilityChart.width)
        var s = svgOpen(width: width, height: height, cls: "reliability", extra: "", label: "Reliability diagram")
        s += "<rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(plot))\" height=\"\(fmt(plot))\" fill=\"#fbfcfd\" stroke=\"#c9d1dc\"/>\n"
        for tick in stride(from: 0.0, through: 1.0001, by: 0.2) {
            let x = left + tick * plot, y = top + plot - tick * plot
            s += "<line x1=\"\(fmt(x))\" y1=\"\(fmt(top))\" x2=\"\(fmt(x))\" y2=\"\(fmt(top + plot))\" stroke=\"#eef1f5\"/>"
            s += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(y))\" x2=\"\(fmt(left + plot))\" y2=\"\(fmt(y))\" stroke=\"#eef1f5\"/>"
            s += "<text x=\"\(fmt(x))\" y=\"\(fmt(top + plot + 14))\" text-anchor=\"middle\" font-size=\"10\" class=\"muted\">\(f1(tick))</text>"
            s += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(y))\" dy=\"0.35em\" text-anchor=\"end\" font-size=\"10\" class=\"muted\">\(f1(tick))</text>\n"
        }
        let maxCount = max(1, calibration.bins.map(\.count).max() ?? 1)
        for b in calibration.bins {
            let x = left + b.lower * plot + 1.5
            let w = (b.upper - b.lower) * plot - 3
            let cx = left + (b.lower + b.upper) / 2 * plot
            let ch = b.count == 0 ? 0 : max(1.5, Double(b.count) / Double(maxCount) * countsHeight)
            let tip = b.count == 0
                ? "confidence \(f1(b.lower))–\(f1(b.upper)): no rows"
                : "confidence \(f1(b.lower))–\(f1(b.upper)): \(b.count) rows, mean confidence \(f3(b.confidence)), accuracy \(f3(b.accuracy))" + (b.count < HTMLReport.fewRows ? " (few rows)" : "")
            s += "<g><title>\(esc(tip))</title>"
            if b.count > 0 {
                // Solid up to the lower of accuracy and confidence; above it light blue when accuracy is
                // higher (underconfident) or red when confidence is (overconfident); a tick at the confidence.
                let yAcc = top + plot - b.accuracy * plot
                let yConf = top + plot - b.confidence * plot
                let yLow = max(yAcc, yConf)
                // A bin of few rows is drawn pale: its accuracy is a rough one.
                if b.count < HTMLReport.fewRows { s += "<g opacity=\"0.45\">" }
                s += "<rect x=\"\(fmt(x))\" y=\"\(fmt(yLow))\" width=\"\(fmt(w))\" height=\"\(fmt(top + plot - yLow))\" fill=\"#3b82f6\"/>"
                if yConf - yAcc > 0.5 {
                    s += "<rect x=\"\(fmt(x))\" y=\"\(fmt(yAcc))\" width=\"\(fmt(w))\" height=\"\(fmt(yConf - yAcc))\" fill=\"#93c5fd\"/>"
                } else if yAcc - yConf > 0.5 {
                    s += "<rect x=\"\(fmt(x))\" y=\"\(fmt(yConf))\" width=\"\(fmt(w))\" height=\"\(fmt(yAcc - yConf))\" fill=\"#fca5a5\" fill-opacity=\"0.75\" stroke=\"#ef4444\" stroke-width=\"0.8\"/>"
                }
                s += "<line x1=\"\(fmt(x - 1))\" y1=\"\(fmt(yConf))\" x2=\"\(fmt(x + w + 1))\" y2=\"\(fmt(yConf))\" stroke=\"#111827\" stroke-width=\"2\"/>"
                if b.count < HTMLReport.fewRows {
                    let yTop = min(yAcc, yConf)
                    s += "</g><rect x=\"\(fmt(x))\" y=\"\(fmt(yTop))\" width=\"\(fmt(w))\" height=\"\(fmt(top + plot - yTop))\" fill=\"none\" stroke=\"#475569\" stroke-width=\"1\" stroke-dasharray=\"3 2\"/>"
                }
            }
            s += "<rect x=\"\(fmt(x))\" y=\"\(fmt(countsTop + countsHeight - ch))\" width=\"\(fmt(w))\" height=\"\(fmt(ch))\" fill=\"#94a3b8\"/>"
            s += "<text x=\"\(fmt(cx))\" y=\"\(fmt(countsTop + countsHeight + 13))\" text-anchor=\"middle\" font-size=\"10\" class=\"muted\">\(compact(b.count))</text></g>\n"
        }
        s += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(top + plot))\" x2=\"\(fmt(left + plot))\" y2=\"\(fmt(top))\" stroke=\"#334155\" stroke-dasharray=\"4 3\" stroke-width=\"1.2\"/>\n"
        s += "<text x=\"\(fmt(left + plot / 2))\" y=\"\(fmt(top + plot + 28))\" text-anchor=\"middle\" font-size=\"11\" class=\"muted\">confidence of the predicted label</text>\n"
        s += "<text transform=\"translate(12,\(fmt(top + plot / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"11\" class=\"muted\">accuracy</text>\n"
        s += "<text transform=\"translate(12,\(fmt(countsTop + countsHeight / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"10\" class=\"muted\">rows</text>\n"
        return s + "</svg>\n"
    }
}

/// Distribution of signed level errors (predicted − true) on an ordinal scale.
struct LevelErrorChart {
    let summary: OrdinalSummary

    static let gap = 6.0, left = 30.0
    /// Bar width: narrower when many error values are shown.
    static func barWidth(_ summary: OrdinalSummary) -> Double { summary.shownErrorRange.count <= 5 ? 32 : 24 }
    /// Natural width of the chart for `summary`.
    static func width(_ summary: OrdinalSummary) -> Int {
        Int(max(200, left + Double(summary.shownErrorRange.count) * (barWidth(summary) + gap) + 10))
    }

    func svg() -> String {
        let range = Array(summary.shownErrorRange)
        let barWidth = LevelErrorChart.barWidth(summary), gap = LevelErrorChart.gap
        let left = LevelErrorChart.left, top = 22.0, plot = 150.0
        let width = Double(LevelErrorChart.width(summary))
        let height = top + plot + 48
        let maxCount = max(1, range.map { summary.errorCounts[$0] }.max() ?? 1)
        var s = svgOpen(width: width, height: height, cls: "level-errors", extra: "", label: "Level errors")
        s += "<line x1=\"\(fmt(left - 4))\" y1=\"\(fmt(top + plot))\" x2=\"\(fmt(width - 4))\" y2=\"\(fmt(top + plot))\" stroke=\"#c9d1dc\"/>\n"
        for (k, i) in range.enumerated() {
            let e = summary.error(at: i)
            let count = summary.errorCounts[i]
            let share = summary.n == 0 ? 0 : Double(count) / Double(summary.n)
            let h = Double(count) / Double(maxCount) * plot
            let x = left + Double(k) * (barWidth + gap)
            let color = e == 0 ? "#16a34a" : abs(e) == 1 ? "#facc15" : "#f97316"
            let what = e == 0 ? "right level" : "\(abs(e)) level\(abs(e) == 1 ? "" : "s") too \(e > 0 ? "high" : "low")"
            s += "<g><title>\(esc("\(what): \(count) rows (\(pct(share)))"))</title>"
            s += "<rect x=\"\(fmt(x))\" y=\"\(fmt(top + plot - h))\" width=\"\(fmt(barWidth))\" height=\"\(fmt(max(h, count > 0 ? 1 : 0)))\" rx=\"2\" fill=\"\(color)\"/>"
            s += "<text x=\"\(fmt(x + barWidth / 2))\" y=\"\(fmt(top + plot - h - 5))\" text-anchor=\"middle\" font-size=\"11\">\(count)</text>"
            s += "<text x=\"\(fmt(x + barWidth / 2))\" y=\"\(fmt(top + plot + 15))\" text-anchor=\"middle\" font-size=\"11\" class=\"muted\">\(e > 0 ? "+\(e)" : e < 0 ? "−\(-e)" : "0")</text></g>\n"
        }
        s += "<text x=\"\(fmt(left + Double(range.count) * (barWidth + gap) / 2 - gap / 2))\" y=\"\(fmt(height - 8))\" text-anchor=\"middle\" font-size=\"11\" class=\"muted\">predicted level − true level</text>\n"
        return s + "</svg>\n"
    }
}

// MARK: helpers

/// `<svg>` start tag with a viewBox, never drawn wider than its natural size.
private func svgOpen(width: Double, height: Double, cls: String, extra: String, label: String) -> String {
    let w = width.rounded(.up), h = height.rounded(.up)
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"\(cls)\" \(extra) viewBox=\"0 0 \(fmt(w)) \(fmt(h))\" style=\"max-width: \(fmt(w))px\" role=\"img\" aria-label=\"\(esc(label))\">\n"
}

/// Text escaped for HTML/XML content and attribute values.
private func esc(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.count)
    for ch in s.unicodeScalars {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default:
            // Control characters are not allowed in XML 1.0 text.
            if ch.value < 0x20 && ch != "\n" && ch != "\t" { out += "\u{FFFD}" } else { out.unicodeScalars.append(ch) }
        }
    }
    return out
}

/// A name usable in an id or class: letters, digits, '-' and '_', others as '-'.
private func ident(_ s: String) -> String {
    String(s.unicodeScalars.map { ch -> Character in
        (ch.isASCII && (CharacterSet.alphanumerics.contains(ch) || ch == "-" || ch == "_")) ? Character(ch) : "-"
    })
}

/// Label shortened with an ellipsis past `limit` characters (the full one is in the tooltip).
private func shorten(_ s: String, _ limit: Int) -> String {
    s.count <= limit ? s : String(s.prefix(limit - 1)) + "…"
}

/// Approximate rendered width of `s` in a sans-serif font (DejaVu Sans is about 0.6 em per character).
private func textWidth(_ s: String, _ fontSize: Double) -> Double {
    Double(s.count) * fontSize * 0.61
}

/// A count in at most four characters: 999, 1.2k, 12k, 1.2M.
private func compact(_ n: Int) -> String {
    switch n {
    case ..<1000: return String(n)
    case ..<9950: return String(format: "%.1fk", Double(n) / 1000)
    case ..<999_500: return "\(Int((Double(n) / 1000).rounded()))k"
    default: return String(format: "%.1fM", Double(n) / 1_000_000)
    }
}

private func clamp(_ x: Double, _ lo: Double, _ hi: Double) -> Double { min(max(x, lo), hi) }

/// Coordinates with at most one decimal.
private func fmt(_ x: Double) -> String {
    let r = (x * 10).rounded() / 10
    return r == r.rounded() ? String(Int(r)) : String(format: "%.1f", r)
}

private func f1(_ x: Double) -> String { String(format: "%.1f", x) }
private func f2(_ x: Double) -> String { String(format: "%.2f", x) }
private func f3(_ x: Double) -> String { String(format: "%.3f", x) }
private func pct(_ x: Double) -> String { String(format: "%.1f %%", x * 100) }
