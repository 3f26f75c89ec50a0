import Foundation
import JobLabel

/// `joblabel evaluate`: score a model on labeled postings, or cross-validate settings.
enum EvaluateCommand {
    struct Settings {
        var training = TrainingSettings()
        var model: String?
        var data: [String] = []
        var algorithms = Algorithm.allCases
        var format = ReportFormat.text
        var folds: Int?
        var skipBad = false
        var html: String?
    }

    static let spec = CommandSpec<Settings>(
        name: "evaluate",
        usage: ["joblabel evaluate --model DIR --data PATH [--algorithm nb|lr|ensemble|all] [--format text|json|markdown] [--html FILE]",
                "joblabel evaluate --cv K --data PATH [train options] [--html FILE]"],
        description: """
        Reports, per head and algorithm: n, accuracy, macro and weighted precision/recall/F1, per-class
        precision, recall, F1 and support, the confusion matrix, the expected calibration error (ECE) and
        reliability bins of the predicted label's probability, coverage and accuracy at probability
        thresholds 0.3-0.9 (and at the model's own per-label thresholds, when it has them), and for
        seniority-like heads (internship < entry < associate < mid-senior < director < executive) level
        errors: within-one-level accuracy and mean absolute level error. Probabilities are the calibrated
        ones 'classify' gives.
        Rows without a value for a head are not scored for that head. With --cv, runs grouped, stratified
        K-fold cross-validation (postings with the same normalised title and first 300 characters of text,
        reposts of one ad, stay in one fold; folds stratified by the first head, shuffled with --seed) and
        scores the pooled out-of-fold predictions.
        """,
        groups: [
            OptionGroup(title: "OPTIONS", options: [
                .value("--model", name: "DIR", help: "model bundle to evaluate") { $0.model = $1 },
                .value("--data", name: "PATH", help: "labeled .jsonl/.csv file or directory (repeatable)") { $0.data.append($1) },
                .value("--algorithm", name: "A", help: "'nb', 'lr', 'ensemble' (mean of NB's and LR's calibrated probabilities) or 'all' (default: the three)") { s, v in
                    if v == "all" { s.algorithms = Algorithm.allCases; return }
                    guard let a = Algorithm(rawValue: v) else { throw UsageError("--algorithm takes 'nb', 'lr', 'ensemble' or 'all', got '\(v)'") }
                    s.algorithms = [a]
                },
                .value("--format", name: "F", help: "'text' (default), 'json' or 'markdown'") { $0.format = try parseChoice($1, "--format", as: ReportFormat.self) },
                .value("--html", name: "FILE", help: "also write the report as one self-contained HTML page (charts, no scripts)") { $0.html = $1 },
                .value("--cv", name: "K", help: "cross-validate with K folds instead of loading a model") { $0.folds = try parseInt($1, "--cv", min: 2) },
                .flag("--skip-bad", help: "skip malformed records (listed on stderr, with a count per problem)") { $0.skipBad = true },
                TrainingSettings.threadsOption { $0.training.threads = $1 },
            ]),
            OptionGroup(title: "TRAINING OPTIONS (with --cv only; with --model, --labels picks which of its heads to score)",
                        options: TrainingSettings.options(\Settings.training)),
        ])

    static func run(_ arguments: [String]) throws {
        var s = Settings()
        guard try spec.parse(arguments, into: &s) else { return }
        guard !s.data.isEmpty else { throw UsageError("evaluate needs --data PATH (labeled postings)") }
        if let html = s.html { try checkWritableFileTarget(html) }  // fail before the work, not after it
        let specs = try expandInputs(s.data, allowText: false)
        var result: EvaluationResult
        var facts: [(String, String)] = []
        let threads = s.training.threads
        if let folds = s.folds {
            guard s.model == nil else { throw UsageError("use either --model or --cv, not both") }
            let config = s.training.config
            let postings = try readLabeledPostings(specs, heads: config.heads, skipBad: s.skipBad)
            result = try Evaluator.crossValidate(config, postings: postings, folds: folds, files: s.data, algorithms: s.algorithms, threads: threads)
            facts = [("cross-validation", "\(folds) folds, grouped (reposts of one ad in one fold), stratified by \(config.heads.first ?? "-"), seed \(config.seed)"),
                     ("data", displayNames(specs)), ("postings", String(postings.count))]
        } else {
            guard let modelPath = s.model else { throw UsageError("evaluate needs --model DIR, or --cv K to cross-validate") }
            if let first = s.training.given.first {
                throw UsageError("\(first) is a training setting: it applies with --cv, not to a trained --model")
            }
            var model = try ModelBundle.load(modelPath)
            if s.training.labelsGiven {
                let known = model.heads.map(\.name)
                if let unknown = s.training.config.heads.first(where: { !known.contains($0) }) {
                    let hint = suggestion(for: unknown, among: known).map { "; did you mean '\($0)'?" } ?? ""
                    throw UsageError("the model has no head '\(unknown)' (its heads: \(known.joined(separator: ", ")))\(hint)")
                }
                model = model.selectingHeads(s.training.config.heads)
            }
            let postings = try readLabeledPostings(specs, heads: model.heads.map(\.name), skipBad: s.skipBad)
            result = Evaluator.evaluate(model, postings: postings, algorithms: s.algorithms, threads: threads)
            facts = [("model", modelPath), ("trained on", "\(model.info.documents) postings, data sha256 \(model.info.sha256.prefix(12))…"),
                     ("data", displayNames(specs)), ("postings", String(postings.count))]
            // Say when truth holds labels the model cannot predict: they count as errors.
            for (h, head) in model.heads.enumerated() {
                let unseen = postings.compactMap { h < $0.labels.count ? $0.labels[h] : nil }.filter { !head.classes.contains($0) }
                if !unseen.isEmpty {
                    let names = Array(Set(unseen)).sorted().prefix(5).joined(separator: ", ")
                    printError("note: head '\(head.name)': \(unseen.count) rows have labels the model never saw (\(names)\(Set(unseen).count > 5 ? ", ..." : "")); they count as errors")
                }
            }
        }
        if result.entries.allSatisfy({ $0.report.n == 0 }) {
            throw CommandFailure("\(s.data.joined(separator: ", ")): no record has a value for any of the model's labels (\(result.entries.map(\.head).uniqued().joined(separator: ", "))); evaluate needs labeled postings", exitCode: 65)
        }
        let skipped = Set(result.entries.filter { $0.report.n == 0 }.map(\.head))
        for head in result.entries.map(\.head).uniqued() where skipped.contains(head) {
            printError("note: head '\(head)': no row in the data has this label; not scored")
        }
        result.entries.removeAll { skipped.contains($0.head) }
        if let html = s.html {
            try writeFileAtomically(html, Array(result.html(facts: facts).utf8))
        }
        let stdout = StandardOutput()
        try stdout.write(result.render(s.format))
        try stdout.flush()
    }
}
