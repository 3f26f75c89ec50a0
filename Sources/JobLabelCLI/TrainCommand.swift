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
                .value("--out", name: "DIR", help: "where to write the model bundle (missing directories are created)") { $0.out = $1 },
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
        ])

    static func run(_ arguments: [String]) throws {
        var s = Settings()
        guard try spec.parse(arguments, into: &s) else { return }
        guard !s.data.isEmpty else { throw UsageError("train needs --data PATH (a .jsonl or .csv file)") }
        guard let out = s.out else { throw UsageError("train needs --out DIR (where to write the model)") }
        // Fail before the work, not after it.
        try checkCreatableParent(out)
        if FileManager.default.fileExists(atPath: URL(fileURLWithPath: out).standardizedFileURL.deletingLastPathComponent().path) {
            try ModelBundle.checkReplaceable(out)
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let heads = s.training.config.heads
        let specs = try expandInputs(s.data, allowText: false, format: s.input.format)
        let labelMap = try loadLabelMap(s.input.labelMap, heads: heads)
        let meter = startProgress("train", quiet: s.quiet)
        defer { finishProgress(meter) }
        var postings = try readLabeledPostings(specs, heads: heads, options: s.input.readOptions(labelFields: s.training.labelFields),
                                               skipBad: s.skipBad, meter: meter)
        applyLabelMap(labelMap, to: &postings, heads: heads)
        var files = s.data
        var weights: [Float]?
        if s.withDefaultCorpus {
            let corpusDir = try defaultCorpusPath()
            let corpus = try readLabeledPostings(try expandInputs([corpusDir], allowText: false), heads: heads,
                                                 options: ReadOptions(), skipBad: false)
            let w = s.corpusWeight ?? 1
            weights = [Float](repeating: 1, count: postings.count) + [Float](repeating: Float(w), count: corpus.count)
            postings += corpus
            files.append("\(corpusDir) (the shipped corpus, weight \(String(format: "%.4g", w)) per posting)")
        } else if s.corpusWeight != nil {
            throw UsageError("--corpus-weight goes with --with-default-corpus")
        }
        let model = try JobLabelModel.train(s.training.config, postings: postings, files: files, weights: weights, threads: s.training.threads) { stage in
            let (phase, detail) = stage.progressText
            meter.update { $0 = ProgressMeter.Status(); $0.phase = phase; $0.detail = detail }
        }
        for head in model.heads {
            for warning in Messages.describe(caseVariants: caseVariantLabels(head.classes), head: head.name) { printError(warning) }
        }
        meter.update { $0.phase = "saving the model"; $0.detail = "" }
        try createParentDirectories(of: out)
        try ModelBundle.save(model, to: out)
        finishProgress(meter)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        var summary = "trained on \(postings.count) postings, \(model.vectorizer.featureCount) features, in \(String(format: "%.2f", seconds)) s -> \(out)\n"
        for head in model.heads {
            let m = model.info.metrics[head.name] ?? [:]
            let lr = head.optimization.map { " (\($0.iterations) Newton iterations, \($0.converged ? "converged" : $0.stopReason))" } ?? ""
            summary += "  \(head.name): \(head.classes.count) labels, \(head.classCounts.reduce(0, +)) rows; training accuracy nb \(String(format: "%.4f", m["nb"]?.accuracy ?? 0)), lr \(String(format: "%.4f", m["lr"]?.accuracy ?? 0))\(lr)\n"
            summary += calibrationSummary(head, indent: "    ")
        }
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
