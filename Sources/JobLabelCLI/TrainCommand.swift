import Foundation
import JobLabel

/// `joblabel train`: read labeled postings, train, save the bundle.
enum TrainCommand {
    struct Settings {
        var training = TrainingSettings()
        var data: [String] = []
        var out: String?
        var skipBad = false
        var quiet = false
        var withDefaultCorpus = false
        var corpusWeight: Double?
        var input = InputSettings()
        var autotune = false
        var autotuneSettings = AutotuneConfig()
        /// `--autotune-*` options given (they need `--autotune`).
        var autotuneGiven: [String] = []
    }

    static let spec = CommandSpec<Settings>(
        name: "train",
        usage: ["joblabel train --data PATH [--data PATH ...] --out DIR [options]",
                "joblabel train --data export.csv --text-field description --labels seniority=level --out DIR"],
        description: """
        Trains a TF-IDF vectorizer and, for every label head, multinomial Naive Bayes and logistic
        regression; writes the model bundle DIR (manifest.json + weights.bin) atomically, creating missing
        directories. PATH is a .jsonl, .csv or .tsv file or a directory of them. The first malformed record stops training
        with its file and line, unless --skip-bad is given. Unless --calibration none, 15 % of each head's
        labeled rows are first held out to fit the probability calibration and per-label thresholds (the
        summary gives the held-out ECE before and after); the final models are fitted on all rows.

        Progress (reading, vectorizing, each head's fits with Newton iterations) goes to stderr when the run
        takes a while: a line redrawn in place on a terminal, a plain line every 5 s otherwise.
        """,
        groups: [
            OptionGroup(title: "OPTIONS", options: [
                .value("--data", name: "PATH", help: "labeled .jsonl/.csv/.tsv file or directory (repeatable)") { $0.data.append($1) },
                .value("--out", name: "DIR", help: "where to write the model bundle (missing directories are created). It must be new, empty or a joblabel bundle (manifest.json and weights.bin, optionally README.md, nothing else), and neither an input nor inside an input directory; checked, and tried for writing, before training. A mount point is written by replacing its files") { $0.out = $1 },
                .flag("--with-default-corpus", help: "also train on the shipped corpus (the default model's training postings: corpus/ beside Models/default, or $JOBLABEL_CORPUS), for a board with a few hundred labeled ads of its own; labels outside the corpus's vocabulary stay yours") { $0.withDefaultCorpus = true },
                .value("--corpus-weight", name: "W", help: "with --with-default-corpus: the weight of each corpus posting against 1 for each of yours (default 1)") {
                    $0.corpusWeight = try parseDouble($1, "--corpus-weight", range: 1e-4...1e4)
                },
                .flag("--skip-bad", help: "skip malformed records (listed on stderr, with a count per problem)") { $0.skipBad = true },
                .flag("--quiet", help: "no progress on stderr") { $0.quiet = true },
                TrainingSettings.threadsOption { $0.training.threads = $1 },
            ]),
            OptionGroup(title: "INPUT OPTIONS", options: InputSettings.options(\Settings.input, for: .labeled)),
            OptionGroup(title: "TRAINING OPTIONS", options: TrainingSettings.options(\Settings.training)),
            OptionGroup(title: "AUTOTUNE OPTIONS", options: autotuneOptions),
        ])

    /// `--autotune` and its settings.
    static let autotuneOptions: [Option<Settings>] = [
        .flag("--autotune", help: "search the settings by grouped cross-validation on the training data before training: per head logistic regression's C and class weights and Naive Bayes' alpha, shared by all heads n-grams, min-df, sublinear tf and the title's weight or title and body experts; the final model is trained with the best (the search starts from the settings given, see docs/autotune.md)") { $0.autotune = true },
        .value("--autotune-seconds", name: "S", help: "time budget of the search in seconds (default 300); at the budget the best so far wins") {
            $0.autotuneSettings.seconds = try parseDouble($1, "--autotune-seconds", positive: false, range: 0...1e7)
            $0.autotuneGiven.append("--autotune-seconds")
        },
        .value("--autotune-metric", name: "M", help: "'macro-f1' (default) or 'accuracy' of the out-of-fold decisions") {
            $0.autotuneSettings.metric = try parseChoice($1, "--autotune-metric", as: AutotuneMetric.self)
            $0.autotuneGiven.append("--autotune-metric")
        },
        .value("--autotune-folds", name: "K", help: "cross-validation folds of the search (default 5; grouped: reposts of one ad stay in one fold)") {
            $0.autotuneSettings.folds = try parseInt($1, "--autotune-folds", min: 2)
            $0.autotuneGiven.append("--autotune-folds")
        },
        .value("--autotune-grid", name: "NAME=V,V", help: "the values searched for one setting instead of the standard ones (repeatable): ngrams=1,2  min-df=1,2,3  sublinear-tf=on,off  title=1,2,3,5,experts (weights, 'experts', 'concatenate')  C=0.3,1,3,10,30,100  class-weight=balanced,none  alpha=0.003,0.01,0.03,0.1,0.3,1") {
            try parseAutotuneGrid($1, into: &$0.autotuneSettings.grid)
            $0.autotuneGiven.append("--autotune-grid")
        },
    ]

    /// Applies one `--autotune-grid NAME=V,V,...` to `grid`.
    static func parseAutotuneGrid(_ text: String, into grid: inout AutotuneGrid) throws {
        let names = ["ngrams", "min-df", "sublinear-tf", "title", "C", "class-weight", "alpha"]
        guard let eq = text.firstIndex(of: "=") else {
            throw UsageError("--autotune-grid takes NAME=V,V,... with NAME one of \(names.joined(separator: ", ")), e.g. C=1,10,100; got '\(text)'")
        }
        let name = text[..<eq].trimmingCharacters(in: .whitespaces)
        let values = text[text.index(after: eq)...].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !values.isEmpty, !values.contains(where: \.isEmpty) else {
            throw UsageError("--autotune-grid \(name): give one or more comma-separated values, e.g. \(name)=1,2")
        }
        func each<T>(_ what: String, _ parse: (String) -> T?) throws -> [T] {
            try values.map { v in
                guard let x = parse(v) else { throw UsageError("--autotune-grid \(name): '\(v)' is not \(what)") }
                return x
            }
        }
        switch name {
        case "ngrams": grid.ngrams = try each("1 or 2") { Int($0).flatMap { (1...2).contains($0) ? $0 : nil } }
        case "min-df": grid.minDF = try each("a document count (2) or a fraction (0.01)") { DocumentFrequencyBound.parse($0) }
        case "sublinear-tf": grid.sublinearTF = try each("'on' or 'off'") { $0 == "on" ? true : $0 == "off" ? false : nil }
        case "title": grid.title = try each("a title weight in 0.001...1000, 'experts' or 'concatenate'") { TitleChoice($0) }
        case "C", "c": grid.C = try each("a number in 1e-8...1e8") { Double($0).flatMap { $0 >= 1e-8 && $0 <= 1e8 ? $0 : nil } }
        case "class-weight": grid.classWeight = try each("'balanced' or 'none'") { ClassWeight(rawValue: $0) }
        case "alpha": grid.alpha = try each("a number in 0...1e6") { Double($0).flatMap { $0 >= 0 && $0 <= 1e6 ? $0 : nil } }
        default:
            let hint = suggestion(for: name, among: names).map { "; did you mean '\($0)'?" } ?? ""
            throw UsageError("--autotune-grid: unknown setting '\(name)' (one of \(names.joined(separator: ", ")))\(hint)")
        }
    }

    static func run(_ arguments: [String]) throws {
        var s = Settings()
        guard try spec.parse(arguments, into: &s) else { return }
        guard !s.data.isEmpty else { throw UsageError("train needs --data PATH (a .jsonl or .csv file)") }
        guard let out = s.out, !out.isEmpty else { throw UsageError("train needs --out DIR (where to write the model)") }
        if !s.autotune, let first = s.autotuneGiven.first { throw UsageError("\(first) goes with --autotune") }
        let started = DispatchTime.now().uptimeNanoseconds
        let heads = s.training.config.heads
        // Fail before the work, not after it: --out must spare every input (the paths given cover the files
        // found in directories) and be writable now; checked before the inputs are even looked at.
        let corpusDir = s.withDefaultCorpus ? try defaultCorpusPath() : nil
        let reads = ReadPaths(given: s.data, specs: [], extra: [s.input.labelMap, corpusDir]).inputs
        let plan = try checkModelOutput(out, inputs: reads)
        let specs = try expandInputsReporting(s.data, allowText: false, format: s.input.format, refuse: !s.skipBad).specs
        let labelMap = try loadLabelMap(s.input.labelMap, heads: heads)
        let meter = startProgress("train", quiet: s.quiet)
        defer { finishProgress(meter) }
        var postings = try readLabeledPostings(specs, heads: heads, options: s.input.readOptions(labelFields: s.training.labelFields),
                                               skipBad: s.skipBad, meter: meter)
        applyLabelMap(labelMap, to: &postings, heads: heads)
        var files = s.data
        var weights: [Float]?
        if let corpusDir {
            let corpus = try readLabeledPostings(try expandInputs([corpusDir], allowText: false), heads: heads,
                                                 options: ReadOptions(), skipBad: false)
            let w = s.corpusWeight ?? 1
            weights = [Float](repeating: 1, count: postings.count) + [Float](repeating: Float(w), count: corpus.count)
            postings += corpus
            files.append("\(corpusDir) (the shipped corpus, weight \(String(format: "%.4g", w)) per posting)")
        } else if s.corpusWeight != nil {
            throw UsageError("--corpus-weight goes with --with-default-corpus")
        }
        let report: (TrainingStage) -> Void = { stage in
            let (phase, detail) = stage.progressText
            meter.update { $0 = ProgressMeter.Status(); $0.phase = phase; $0.detail = detail }
            if case .vectorizing = stage { holdForTests(at: "training") }
        }
        let model = s.autotune
            ? try JobLabelModel.train(s.training.config, postings: postings, files: files, weights: weights, autotune: s.autotuneSettings,
                                      threads: s.training.threads, progress: report)
            : try JobLabelModel.train(s.training.config, postings: postings, files: files, weights: weights, threads: s.training.threads,
                                      progress: report)
        for head in model.heads {
            for warning in Messages.describe(caseVariants: caseVariantLabels(head.classes), head: head.name) { printError(warning) }
        }
        meter.update { $0.phase = "saving the model"; $0.detail = "" }
        try createParentDirectories(of: plan.path)
        try ModelBundle.save(model, to: plan.path, sparing: reads) { step in holdForTests(at: "save-" + step.rawValue) }
        finishProgress(meter)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        var summary = "trained on \(postings.count) postings, \(model.vectorizer.featureCount) features, in \(String(format: "%.2f", seconds)) s -> \(out)\n"
        for head in model.heads {
            let m = model.info.metrics[head.name] ?? [:]
            let lr = head.optimization.map { " (\($0.iterations) Newton iterations, \($0.converged ? "converged" : $0.stopReason))" } ?? ""
            summary += "  \(head.name): \(head.classes.count) labels, \(head.classCounts.reduce(0, +)) rows; training accuracy nb \(String(format: "%.4f", m["nb"]?.accuracy ?? 0)), lr \(String(format: "%.4f", m["lr"]?.accuracy ?? 0))\(lr)\n"
            summary += calibrationSummary(head, indent: "    ")
        }
        if let search = model.autotune { summary += search.summary.joined(separator: "\n") + "\n" }
        printError(summary.hasSuffix("\n") ? String(summary.dropLast()) : summary)
    }

    /// Lines about a head's calibration for the train summary: temperatures, held-out ECE before and
    /// after, how many labels got a threshold; or why it was skipped.
    static func calibrationSummary(_ head: HeadModel, indent: String) -> String {
        func f(_ x: Double) -> String { String(format: "%.4f", x) }
        guard let c = head.calibration else {
            return head.calibrationNote.map { "\(indent)not calibrated: \($0)\n" } ?? ""
        }
        let k = head.classes.count
        var s = "\(indent)calibrated on \(c.heldOutRows) held-out rows: temperature nb \(f(c.nb.temperature ?? 1)), lr \(f(c.lr.temperature ?? 1)); "
        s += "held-out ECE " + Algorithm.allCases.map { "\($0.rawValue) \(f(c.algorithm($0).eceBefore)) -> \(f(c.algorithm($0).eceAfter))" }.joined(separator: ", ") + "\n"
        s += "\(indent)thresholds for precision \(String(format: "%.2f", c.targetPrecision)): "
            + Algorithm.allCases.map { "\($0.rawValue) \(c.algorithm($0).thresholds.filter { $0 != nil }.count)" }.joined(separator: ", ") + " of \(k) labels\n"
        return s
    }
}

/// How many skipped records are listed one by one before only the summary counts them.
let skippedListLimit = 10

/// Reads labeled data for train and evaluate, reporting the bytes read to `meter`. With `skipBad`,
/// malformed records are listed on stderr (the first few) and summed up by problem; without it the first
/// one stops the run. Ids used more than once are warned about.
func readLabeledPostings(_ specs: [InputSpec], heads: [String], options: ReadOptions = ReadOptions(), skipBad: Bool,
                         meter: ProgressMeter? = nil) throws -> [Posting] {
    meter?.update { $0.phase = "reading" }
    var listed = 0
    let (postings, skipped) = try readAllPostings(specs, heads: heads, options: options, skipBad: skipBad, report: { error in
        listed += 1
        if listed <= skippedListLimit { printError("joblabel: skipped \(Messages.describe(error).message)") }
    }, progress: { done, total in
        meter?.update { $0.bytesDone = done; $0.bytesTotal = total }
    })
    if let summary = skipped.summary {
        printError("joblabel: \(summary)\(skipped.count > skippedListLimit ? " (the first \(skippedListLimit) are listed above)" : "")")
    }
    for warning in Messages.describe(duplicates: duplicateIDs(postings)) { printError(warning) }
    return postings
}

/// For the tests that kill `train` at a known step: with `JOBLABEL_TEST_HOLD_AT=STEP` in the environment,
/// `train` says `joblabel: holding at STEP` on stderr when it reaches that step and waits there until it is
/// killed. Steps: `training` (fitting has started), `save-writing`, `save-written` (the new bundle complete
/// beside the old one), `save-replaced` (the new bundle in place).
func holdForTests(at step: String) {
    guard ProcessInfo.processInfo.environment["JOBLABEL_TEST_HOLD_AT"] == step else { return }
    printError("joblabel: holding at \(step)")
    while true { sleep(60) }
}
