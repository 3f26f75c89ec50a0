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
        var output: String?
        var quiet = false
        var input = InputSettings()
    }

    static let spec = CommandSpec<Settings>(
        name: "evaluate",
        usage: ["joblabel evaluate [--model DIR] --data PATH [--algorithm nb|lr|ensemble|all] [--format text|json|markdown] [--html FILE]",
                "                  [--output FILE] [--quiet] [input options]",
                "joblabel evaluate --cv K --data PATH [train options] [--html FILE]"],
        description: """
        Reports, per head and algorithm: n, accuracy, macro and weighted precision/recall/F1, per-class
        precision, recall, F1 and support, the confusion matrix, the expected calibration error (ECE) and
        reliability bins of the predicted label's probability, coverage and accuracy at probability
        thresholds 0.3-0.9 (and at the model's own per-label thresholds, when it has them), and for
        seniority-like heads (internship < entry < associate < mid-senior < director < executive) level
        errors: within-one-level accuracy and mean absolute level error. Probabilities are the calibrated
        ones 'classify' gives.
        Rows without a value for a head are not scored for that head. Without --model (and --cv), the shipped
        default model is scored (see 'joblabel classify --help'). With --cv, runs grouped, stratified K-fold
        cross-validation (postings with the same normalised title and first 300 characters of text, reposts
        of one ad, stay in one fold; folds stratified by the first head, shuffled with --seed) and scores the
        pooled out-of-fold predictions. Progress goes to stderr when the run takes a while (--quiet: none).
        """,
        groups: [
            OptionGroup(title: "OPTIONS", options: [
                .value("--model", name: "DIR", help: "model bundle to evaluate (default: the shipped model)") { $0.model = $1 },
                .value("--data", name: "PATH", help: "labeled .jsonl/.csv/.tsv file or directory (repeatable)") { $0.data.append($1) },
                .value("--algorithm", name: "A", help: "'nb', 'lr', 'ensemble' (mean of NB's and LR's calibrated probabilities) or 'all' (default: the three)") { s, v in
                    if v == "all" { s.algorithms = Algorithm.allCases; return }
                    guard let a = Algorithm(rawValue: v) else { throw UsageError("--algorithm takes 'nb', 'lr', 'ensemble' or 'all', got '\(v)'") }
                    s.algorithms = [a]
                },
                .value("--format", name: "F", help: "'text' (default), 'json' or 'markdown'") { $0.format = try parseChoice($1, "--format", as: ReportFormat.self) },
                .value("--html", name: "FILE", help: "also write the report as one self-contained HTML page (charts, no scripts); atomically, missing directories are created, an existing FILE keeps its permissions; refused when FILE is an input, inside an input directory or the model, or not a regular file") { $0.html = $1 },
                .value("--output", name: "FILE", help: "write the report to FILE instead of stdout ('-': stdout); as --html") { $0.output = $1 },
                .value("--cv", name: "K", help: "cross-validate with K folds instead of loading a model") { $0.folds = try parseInt($1, "--cv", min: 2) },
                .flag("--skip-bad", help: "skip malformed records (listed on stderr, with a count per problem)") { $0.skipBad = true },
                .flag("--quiet", help: "no progress on stderr") { $0.quiet = true },
                TrainingSettings.threadsOption { $0.training.threads = $1 },
            ]),
            OptionGroup(title: "INPUT OPTIONS", options: InputSettings.options(\Settings.input, for: .labeled)),
            OptionGroup(title: "TRAINING OPTIONS (with --cv only; with --model, --labels picks which of its heads to score)",
                        options: TrainingSettings.options(\Settings.training)),
        ])

    static func run(_ arguments: [String]) throws {
        var s = Settings()
        guard try spec.parse(arguments, into: &s) else { return }
        guard !s.data.isEmpty else { throw UsageError("evaluate needs --data PATH (labeled postings)") }
        let specs = try expandInputsReporting(s.data, allowText: false, format: s.input.format, refuse: !s.skipBad).specs
        // Fail before the work, not after it.
        let modelRead = s.folds == nil ? try s.model ?? defaultModelPath() : nil
        let reads = ReadPaths(given: s.data, specs: specs, extra: [s.input.labelMap], model: modelRead)
        if s.html == "-" { throw UsageError("--html takes a file name; the report itself goes to standard output") }
        let htmlTarget = try reads.checkOutput(s.html)
        let outputTarget = try reads.checkOutput(s.output)
        if let htmlTarget, let outputTarget, isSameOutput(htmlTarget, outputTarget) {
            throw UsageError("--html and --output name the same file")
        }
        let options = s.input.readOptions(labelFields: s.training.labelFields)
        var result: EvaluationResult
        var facts: [(String, String)] = []
        let threads = s.training.threads
        let meter = startProgress("evaluate", quiet: s.quiet)
        defer { finishProgress(meter) }
        if let folds = s.folds {
            guard s.model == nil else { throw UsageError("use either --model or --cv, not both") }
            let config = s.training.config
            let labelMap = try loadLabelMap(s.input.labelMap, heads: config.heads)
            var postings = try readLabeledPostings(specs, heads: config.heads, options: options, skipBad: s.skipBad, meter: meter)
            applyLabelMap(labelMap, to: &postings, heads: config.heads)
            if !s.quiet {
                let groups = Set(postings.map(Folds.groupKey)).count
                printError("joblabel evaluate: \(folds)-fold cross-validation, grouped: reposts of one ad (same normalised title and first 300 characters of text) stay in one fold; \(groups) groups in \(postings.count) postings")
            }
            result = try Evaluator.crossValidate(config, postings: postings, folds: folds, files: s.data, algorithms: s.algorithms, threads: threads) { fold, stage in
                let (phase, detail) = stage.progressText
                meter.update { $0 = ProgressMeter.Status(); $0.phase = "fold \(fold) of \(folds): \(phase)"; $0.detail = detail }
            }
            facts = [("cross-validation", "\(folds) folds, grouped (reposts of one ad in one fold), stratified by \(config.heads.first ?? "-"), seed \(config.seed)"),
                     ("data", displayNames(specs)), ("postings", String(postings.count))]
        } else {
            if let first = s.training.given.first {
                throw UsageError("\(first) is a training setting: it applies with --cv, not to a trained --model")
            }
            let modelPath = try s.model ?? defaultModelPath()
            var model = try ModelBundle.load(modelPath)
            let known = model.heads.map(\.name)
            if s.training.labelsGiven {
                if let unknown = s.training.config.heads.first(where: { !known.contains($0) }) {
                    let hint = suggestion(for: unknown, among: known).map { "; did you mean '\($0)'?" } ?? ""
                    throw UsageError("the model has no head '\(unknown)' (its heads: \(known.joined(separator: ", ")))\(hint)")
                }
                model = model.selectingHeads(s.training.config.heads)
            }
            let heads = model.heads.map(\.name)
            let labelMap = try loadLabelMap(s.input.labelMap, heads: s.training.labelsGiven ? heads : known)
            if let labelMap, let path = s.input.labelMap {
                // The map's labels are the model's: a label it lacks is a typo (or a model that cannot say it).
                for head in model.heads {
                    if let wrong = labelMap.targets(head: head.name).first(where: { !head.classes.contains($0) }) {
                        let hint = labelSuggestion(for: wrong, among: head.classes).map { "; did you mean '\($0)'?" } ?? ""
                        throw UsageError("\(path): head '\(head.name)': '\(wrong)' is not one of the model's labels (\(head.classes.joined(separator: ", ")))\(hint)")
                    }
                }
            }
            var postings = try readLabeledPostings(specs, heads: heads, options: options, skipBad: s.skipBad, meter: meter)
            applyLabelMap(labelMap, to: &postings, heads: heads)
            meter.update { $0 = ProgressMeter.Status(); $0.phase = "scoring \(postings.count) postings" }
            result = Evaluator.evaluate(model, postings: postings, algorithms: s.algorithms, threads: threads)
            facts = [("model", modelPath), ("trained on", "\(model.info.documents) postings, data sha256 \(model.info.sha256.prefix(12))…"),
                     ("data", displayNames(specs)), ("postings", String(postings.count))]
            finishProgress(meter)
            // Say when truth holds labels the model cannot predict: they count as errors.
            for (h, head) in model.heads.enumerated() {
                let unseen = postings.compactMap { h < $0.labels.count ? $0.labels[h] : nil }.filter { !head.classes.contains($0) }
                if !unseen.isEmpty {
                    let distinct = Array(Set(unseen)).sorted()
                    let names = distinct.prefix(5).map { label in
                        label + (labelSuggestion(for: label, among: head.classes).map { " (did you mean '\($0)'?)" } ?? "")
                    }.joined(separator: ", ")
                    printError("note: head '\(head.name)': \(unseen.count) rows have labels the model never saw (\(names)\(distinct.count > 5 ? ", ..." : "")); they count as errors\(s.input.labelMap == nil ? "; a --label-map can rename them" : "")")
                }
            }
        }
        finishProgress(meter)
        if result.entries.allSatisfy({ $0.report.n == 0 }) {
            throw CommandFailure("\(s.data.joined(separator: ", ")): no record has a value for any of the model's labels (\(result.entries.map(\.head).uniqued().joined(separator: ", "))); evaluate needs labeled postings", exitCode: 65)
        }
        let skipped = Set(result.entries.filter { $0.report.n == 0 }.map(\.head))
        for head in result.entries.map(\.head).uniqued() where skipped.contains(head) {
            printError("note: head '\(head)': no row in the data has this label; not scored")
        }
        result.entries.removeAll { skipped.contains($0.head) }
        if let html = htmlTarget {
            try writeOutputFile(html, Array(result.html(facts: facts).utf8))
        }
        if let output = outputTarget {
            try writeOutputFile(output, Array(result.render(s.format).utf8))
        } else {
            let stdout = StandardOutput()
            try stdout.write(result.render(s.format))
            try stdout.flush()
        }
    }
}
