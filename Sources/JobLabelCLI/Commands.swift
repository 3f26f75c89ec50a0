import Foundation
import JobLabel

/// Buffered writer to standard output; a failed write (full disk, closed pipe) becomes an I/O error.
final class StandardOutput {
    private var buffer: [UInt8] = []
    private var failure: Int32?

    func write(_ bytes: [UInt8]) throws {
        buffer += bytes
        if buffer.count >= 1 << 20 { try flush() }
    }
    func write(_ s: String) throws { try write(Array(s.utf8)) }
    func flush() throws {
        if failure == nil, !buffer.isEmpty { failure = writeAll(1, buffer) }
        buffer.removeAll(keepingCapacity: true)
        if let failure {
            throw JobLabelError.io(path: "stdout", message: "write failed: \(String(cString: strerror(failure)))")
        }
    }
}

/// One batch of postings read on a background queue; `wait()` returns it (or the reader's error).
final class BatchRead: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<[Posting], Error> = .success([])

    /// Starts reading up to `count` postings from `reader` (nothing else may use the reader until `wait()`).
    init(_ reader: PostingReader, _ count: Int) {
        DispatchQueue.global().async {
            self.result = Result { try reader.next(maxCount: count) }
            self.done.signal()
        }
    }

    /// The batch, once read.
    func wait() -> Result<[Posting], Error> {
        done.wait()
        return result
    }
}

/// The progress meter of the running command, if any (messages clear its terminal line first).
nonisolated(unsafe) var activeProgress: ProgressMeter?

/// One message line on stderr (errors writing it are ignored: there is nowhere left to report them).
func printError(_ message: String) {
    activeProgress?.clearForMessage()
    writeAll(2, Array((message + "\n").utf8))
}

/// Starts the progress meter of a command (see `ProgressMeter.forStandardError`).
func startProgress(_ command: String, quiet: Bool) -> ProgressMeter {
    let meter = ProgressMeter.forStandardError(command: command, quiet: quiet)
    activeProgress = meter
    meter.start()
    return meter
}

/// Stops the progress meter (before a summary or an error message is printed).
func finishProgress(_ meter: ProgressMeter) {
    meter.finish()
    if activeProgress === meter { activeProgress = nil }
}

extension TrainingStage {
    /// The stage as progress text: (phase, detail).
    var progressText: (String, String) {
        switch self {
        case .vectorizing(let n): return ("vectorizing \(n) postings", "")
        case .naiveBayes(let head, let heldOut): return ("\(head): naive bayes\(heldOut ? " on the calibration split" : "")", "")
        case .logisticRegression(let head, let heldOut, let iteration, let maxIterations):
            return ("\(head): logistic regression\(heldOut ? " on the calibration split" : " on all rows")", "L-BFGS iteration \(iteration) (at most \(maxIterations))")
        case .calibrating(let head, let rows): return ("\(head): fitting temperatures and thresholds on \(rows) held-out rows", "")
        case .scoring(let head): return ("\(head): training-set figures", "")
        }
    }
}

/// Finds the shipped default model: $JOBLABEL_MODEL, then Models/default in the nearest ancestor of
/// the executable's directory, then ./Models/default.
func defaultModelPath() throws -> String {
    if let env = ProcessInfo.processInfo.environment["JOBLABEL_MODEL"], !env.isEmpty { return env }
    let fm = FileManager.default
    var exe = (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    if !exe.hasPrefix("/") { exe = fm.currentDirectoryPath + "/" + exe }
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent().standardizedFileURL
    for _ in 0..<8 {
        for candidate in ["Models/default", "share/joblabel/Models/default"] {
            let path = dir.appendingPathComponent(candidate).path
            if fm.fileExists(atPath: path + "/manifest.json") { return path }
        }
        let parent = dir.deletingLastPathComponent()
        if parent.path == dir.path { break }
        dir = parent
    }
    let local = fm.currentDirectoryPath + "/Models/default"
    if fm.fileExists(atPath: local + "/manifest.json") { return local }
    throw JobLabelError.missingInput(path: "Models/default",
        message: "no default model found; pass --model DIR or set JOBLABEL_MODEL (searched beside the executable and in ./Models/default)")
}

extension Array where Element: Hashable {
    /// Elements in first-seen order without repeats.
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}

/// How many skipped records are listed one by one before only the summary counts them.
let skippedListLimit = 10

/// Reads labeled data for train and evaluate. With `skipBad`, malformed records are listed on stderr
/// (the first few) and summed up by problem; without it the first one stops the run. Ids used more than
/// once are warned about.
func readLabeledPostings(_ specs: [InputSpec], heads: [String], skipBad: Bool) throws -> [Posting] {
    var listed = 0
    let (postings, skipped) = try readAllPostings(specs, heads: heads, skipBad: skipBad) { error in
        listed += 1
        if listed <= skippedListLimit { printError("joblabel: skipped \(error.description)") }
    }
    if let summary = skipped.summary {
        printError("joblabel: \(summary)\(skipped.count > skippedListLimit ? " (the first \(skippedListLimit) are listed above)" : "")")
    }
    for warning in duplicateIDWarnings(postings) { printError(warning) }
    return postings
}

/// Input names for messages: "stdin" for "-".
func displayNames(_ specs: [InputSpec]) -> String {
    specs.map { $0.path == "-" ? "stdin" : $0.path }.uniqued().joined(separator: ", ")
}

enum Commands {
    // MARK: train

    static let trainHelp = """
    USAGE: joblabel train --data PATH [--data PATH ...] --out DIR [options]

    Trains a TF-IDF vectorizer and, for every label head, multinomial Naive Bayes and logistic
    regression; writes the model bundle DIR (manifest.json + weights.bin) atomically.
    PATH is a .jsonl or .csv file or a directory of them. The first malformed record stops training
    with its file and line, unless --skip-bad is given. Unless --calibration none, 15 % of each head's
    labeled rows are first held out to fit the probability calibration and per-label thresholds (the
    summary gives the held-out ECE before and after); the final models are fitted on all rows.

    Progress (reading, vectorizing, each head's fits with L-BFGS iterations) goes to stderr when the run
    takes a while: a line redrawn in place on a terminal, a plain line every 5 s otherwise.

    OPTIONS:
    \(TrainingOptions.help)
      --skip-bad             skip malformed records (listed on stderr, with a count per problem)
      --quiet                no progress on stderr
      -h, --help             show this help
    """

    static func train(_ argv: [String]) throws {
        var args = Arguments(argv)
        var options = TrainingOptions()
        var data: [String] = []
        var out: String?
        var skipBad = false
        var quiet = false
        while let arg = args.next() {
            let (option, inline) = splitOption(arg)
            if try options.apply(option, inline, &args) { continue }
            switch option {
            case "--data": data.append(try args.value(for: option, inline: inline))
            case "--skip-bad": skipBad = true
            case "--quiet": quiet = true
            case "--out": out = try args.value(for: option, inline: inline)
            case "--threads": Parallel.threads = try parseInt(try args.value(for: option, inline: inline), option, min: 1)
            case "-h", "--help": print(trainHelp); return
            default: throw JobLabelError.usage("train: unknown option '\(arg)'; see 'joblabel train --help'")
            }
        }
        guard !data.isEmpty else { throw JobLabelError.usage("train needs --data PATH (a .jsonl or .csv file)") }
        guard let out else { throw JobLabelError.usage("train needs --out DIR (where to write the model)") }
        try ModelBundle.checkReplaceable(out)  // fail before the work, not after it
        let started = DispatchTime.now().uptimeNanoseconds
        let specs = try expandInputs(data, allowText: false)
        let meter = startProgress("train", quiet: quiet)
        defer { finishProgress(meter) }
        let files = FileReadProgress(paths: specs.map(\.path))
        meter.setBytesProbe(files.bytesRead)
        meter.update { $0.phase = "reading"; $0.bytesTotal = files.totalBytes }
        let postings = try readLabeledPostings(specs, heads: options.config.heads, skipBad: skipBad)
        meter.setBytesProbe(nil)
        let model = try JobLabelModel.train(options.config, postings: postings, files: data) { stage in
            let (phase, detail) = stage.progressText
            meter.update { $0 = ProgressMeter.Status(); $0.phase = phase; $0.detail = detail }
        }
        for head in model.heads {
            for warning in labelCaseWarnings(head: head.name, labels: head.classes) { printError(warning) }
        }
        meter.update { $0.phase = "saving the model"; $0.detail = "" }
        try ModelBundle.save(model, to: out)
        finishProgress(meter)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        var summary = "trained on \(postings.count) postings, \(model.vectorizer.featureCount) features, in \(String(format: "%.2f", seconds)) s -> \(out)\n"
        for head in model.heads {
            let m = model.info.metrics[head.name] ?? [:]
            let lr = head.optimization.map { " (L-BFGS \($0.iterations) iterations, \($0.converged ? "converged" : $0.stopReason))" } ?? ""
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

    // MARK: classify

    static let classifyHelp = """
    USAGE: joblabel classify [--model DIR] [--algorithm lr|nb|ensemble] [--top K] [--explain N] [--threshold T]
                             [--format jsonl|csv|text] [--strict] [--quiet] [INPUT ...]

    Labels postings with a trained model. INPUT is a .jsonl, .csv or .txt file (a .txt file is one
    posting, its id the file name), a directory (its .txt, .jsonl and .csv files, sorted), or '-'
    for JSON Lines on standard input (also the default when no INPUT is given).
    Without --model, the shipped default model is used: $JOBLABEL_MODEL if set, else Models/default
    found beside the executable (searching up from its directory), else ./Models/default.
    One output line per posting, in input order. A malformed record is reported on stderr with its file
    and line and gets no output line; the others are still labeled, and the exit status is then 65.

    OPTIONS:
      --model DIR            model bundle written by 'joblabel train'
      --algorithm A          'lr' (logistic regression, default), 'nb' (Naive Bayes) or 'ensemble' (the
                             mean of both algorithms' calibrated probabilities)
      --top K                also list the K most probable labels per head
      --explain N            per head, the N features (terms, title: and cue: features) that contributed
                             most to the best label, with their contributions (lr: x_j * W[j,label];
                             nb: x_j * (log P(j|label) - its mean over labels); ensemble: mean of both / T)
      --threshold T          below it a head's label is 'unknown' (the best label is still given): a
                             probability P for every head, HEAD=P[,HEAD=P], or 'manifest' for the
                             per-label thresholds fitted at train time (see 'joblabel train --help')
      --format F             'jsonl' (default), 'csv' or 'text'
      --batch N              postings per batch (default 4096)
      --threads N            worker threads
      --strict               stop at the first malformed record (exit 65; earlier labels are written)
      --quiet                no progress on stderr (by default long runs report bytes read of the input
                             files, rate and ETA: redrawn on a terminal, a line every 5 s otherwise)
      -h, --help             show this help
    """

    static func classify(_ argv: [String]) throws {
        var args = Arguments(argv)
        var modelPath: String?
        var algorithm = Algorithm.lr
        var top = 0
        var explain = 0
        var threshold: ThresholdSpec?
        var threads: Int?
        var format = PredictionFormat.jsonl
        var batch = 4096
        var strict = false
        var quiet = false
        var inputs: [String] = []
        while let arg = args.next() {
            let (option, inline) = splitOption(arg)
            switch option {
            case "--model": modelPath = try args.value(for: option, inline: inline)
            case "--algorithm":
                algorithm = try args.choice(option, inline: inline, as: Algorithm.self)
            case "--top": top = try parseInt(try args.value(for: option, inline: inline), option, min: 1)
            case "--explain": explain = try parseInt(try args.value(for: option, inline: inline), option, min: 1)
            case "--threshold":
                let v = try args.value(for: option, inline: inline)
                guard let spec = ThresholdSpec.parse(v) else {
                    throw JobLabelError.usage("--threshold takes a probability in 0...1 (e.g. 0.6), HEAD=P[,HEAD=P] (e.g. seniority=0.7,role=0.5) or 'manifest', got '\(v)'")
                }
                threshold = spec
            case "--format":
                format = try args.choice(option, inline: inline, as: PredictionFormat.self)
            case "--batch": batch = try parseInt(try args.value(for: option, inline: inline), option, min: 1)
            case "--threads":
                threads = try parseInt(try args.value(for: option, inline: inline), option, min: 1)
                Parallel.threads = threads ?? 1
            case "--strict": strict = true
            case "--quiet": quiet = true
            case "-h", "--help": print(classifyHelp); return
            default:
                if arg.hasPrefix("--") { throw JobLabelError.usage("classify: unknown option '\(arg)'; see 'joblabel classify --help'") }
                inputs.append(arg)
            }
        }
        let model = try ModelBundle.load(try modelPath ?? defaultModelPath())
        let specs = try expandInputs(inputs.isEmpty ? ["-"] : inputs)
        let predictor: Predictor
        do {
            predictor = try Predictor(model, options: LabelingOptions(algorithm: algorithm, top: top, explain: explain, thresholds: threshold),
                                      threads: threads)
        } catch let error as JobLabelError {
            throw thresholdUsageError(error)
        }
        for note in predictor.notes { printError(message(note)) }
        let writer = PredictionWriter(format: format, heads: model.heads.map(\.name), top: top, explain: explain, thresholds: threshold != nil)
        let stdout = StandardOutput()
        var featureless = 0
        var skipped = SkippedRecords()
        try stdout.write(writer.header())
        let meter = startProgress("classify", quiet: quiet)
        defer { finishProgress(meter) }
        let files = FileReadProgress(paths: specs.map(\.path))
        meter.setBytesProbe(files.bytesRead)
        meter.update { $0.phase = "labeling"; $0.bytesTotal = files.totalBytes; $0.itemName = "postings" }
        do {
            for spec in specs {
                let reader = try PostingReader(spec, heads: [])
                reader.resumesAfterBadRecord = !strict
                // The next batch is parsed while the current one is labeled. Batches start small and double up
                // to --batch, so labeling (parallel) starts before much of the input is parsed (serial).
                var size = min(batch, 256)
                func nextSize() -> Int {
                    defer { size = min(batch, size * 2) }
                    return size
                }
                var next = BatchRead(reader, nextSize())
                reading: while true {
                    switch next.wait() {
                    case .failure(let error as JobLabelError) where reader.lastErrorWasRecordError:
                        // Report it and go on: the output keeps one line per good record, in input order.
                        try stdout.flush()
                        printError("joblabel: \(error.description)")
                        skipped.add(error)
                        next = BatchRead(reader, nextSize())
                    case .failure(let error):
                        throw error
                    case .success(let postings):
                        if postings.isEmpty { break reading }
                        next = BatchRead(reader, nextSize())
                        let (blocks, unknown) = predictor.mapLabels(postings) { range, labels in
                            var out: [UInt8] = []
                            out.reserveCapacity(range.count * 128)
                            writer.append(postings[range], labels, to: &out)
                            return out
                        }
                        featureless += unknown
                        for bytes in blocks { try stdout.write(bytes) }
                        meter.update { $0.items += postings.count }
                    }
                }
            }
        } catch {
            try? stdout.flush()  // keep the labels of every record before the bad one
            throw error
        }
        try stdout.flush()
        finishProgress(meter)
        if featureless > 0 {
            printError("note: \(featureless) posting(s) had no word the model knows (empty or foreign text); their labels rest on the class priors alone and mean little")
        }
        if skipped.count > 0 {
            throw JobLabelError.badData(file: displayNames(specs), line: 0, field: nil,
                message: "\(skipped.count) malformed record\(skipped.count == 1 ? " was" : "s were") skipped (\(skipped.breakdown)) and \(skipped.count == 1 ? "has" : "have") no output line; fix \(skipped.count == 1 ? "it" : "them") (listed above), or use --strict to stop at the first")
        }
    }

    /// The threshold errors of the library, as usage errors naming `--threshold`.
    static func thresholdUsageError(_ error: JobLabelError) -> JobLabelError {
        switch error {
        case .unknownHead(let head, let known):
            return .usage("--threshold: the model has no head '\(head)' (its heads: \(known.joined(separator: ", ")))")
        case .noStoredThresholds(let calibrationAsked):
            let why = calibrationAsked ? "no head had enough labeled rows to calibrate (see 'joblabel inspect')"
                                       : "trained with --calibration none, or before calibration existed"
            return .usage("--threshold manifest: this model stores no thresholds (\(why)); give a probability such as --threshold 0.6, or retrain with more data")
        default:
            return error
        }
    }

    /// A labeling note as a line for stderr.
    static func message(_ note: LabelingNote) -> String {
        switch note {
        case .headWithoutStoredThresholds(let head, let reason):
            return "note: head '\(head)' has no stored thresholds (\(reason ?? "not calibrated")); its labels are given whatever their probability"
        }
    }

    // MARK: evaluate

    static let evaluateHelp = """
    USAGE: joblabel evaluate --model DIR --data PATH [--algorithm nb|lr|ensemble|all] [--format text|json|markdown] [--html FILE]
           joblabel evaluate --cv K --data PATH [train options] [--html FILE]

    Reports, per head and algorithm: n, accuracy, macro and weighted precision/recall/F1, per-class
    precision, recall, F1 and support, the confusion matrix, the expected calibration error (ECE) and
    reliability bins of the predicted label's probability, coverage and accuracy at probability
    thresholds 0.3-0.9 (and at the model's own per-label thresholds, when it has them), and for
    seniority-like heads (internship < entry < associate < mid-senior < director < executive) level
    errors: within-one-level accuracy and mean absolute level error. Probabilities are the calibrated
    ones 'classify' gives.
    Rows without a value for a head are not scored for that head. With --cv, runs stratified K-fold
    cross-validation (folds stratified by the first head, shuffled with --seed) and scores the pooled
    out-of-fold predictions.

    OPTIONS:
      --model DIR            model bundle to evaluate
      --data PATH            labeled .jsonl/.csv file or directory (repeatable)
      --algorithm A          'nb', 'lr', 'ensemble' (mean of NB's and LR's calibrated probabilities) or
                             'all' (default: the three)
      --format F             'text' (default), 'json' or 'markdown'
      --html FILE            also write the report as one self-contained HTML page (charts, no scripts)
      --cv K                 cross-validate with K folds instead of loading a model
      --labels a,b           with --model: which of its heads to score (default: all)
      --skip-bad             skip malformed records (listed on stderr, with a count per problem)

    TRAINING OPTIONS (with --cv only):
    \(TrainingOptions.help)
      -h, --help             show this help
    """

    static func evaluate(_ argv: [String]) throws {
        var args = Arguments(argv)
        var options = TrainingOptions()
        var modelPath: String?
        var data: [String] = []
        var algorithms = Algorithm.allCases
        var format = ReportFormat.text
        var folds: Int?
        var skipBad = false
        var trainingOptions: [String] = []
        var htmlPath: String?
        while let arg = args.next() {
            let (option, inline) = splitOption(arg)
            switch option {
            case "--model": modelPath = try args.value(for: option, inline: inline)
            case "--data": data.append(try args.value(for: option, inline: inline))
            case "--html": htmlPath = try args.value(for: option, inline: inline)
            case "--algorithm":
                let v = try args.value(for: option, inline: inline)
                if v == "all" { algorithms = Algorithm.allCases } else if let a = Algorithm(rawValue: v) { algorithms = [a] } else {
                    throw JobLabelError.usage("--algorithm takes 'nb', 'lr', 'ensemble' or 'all', got '\(v)'")
                }
            case "--format":
                format = try args.choice(option, inline: inline, as: ReportFormat.self)
            case "--cv": folds = try parseInt(try args.value(for: option, inline: inline), option, min: 2)
            case "--skip-bad": skipBad = true
            case "--threads": Parallel.threads = try parseInt(try args.value(for: option, inline: inline), option, min: 1)
            case "-h", "--help": print(evaluateHelp); return
            default:
                if try options.apply(option, inline, &args) {
                    if option != "--labels" { trainingOptions.append(option) }
                    continue
                }
                throw JobLabelError.usage("evaluate: unknown option '\(arg)'; see 'joblabel evaluate --help'")
            }
        }
        guard !data.isEmpty else { throw JobLabelError.usage("evaluate needs --data PATH (labeled postings)") }
        if let htmlPath { try checkWritableFileTarget(htmlPath) }  // fail before the work, not after it
        let specs = try expandInputs(data, allowText: false)
        var result: EvaluationResult
        var facts: [(String, String)] = []
        if let folds {
            guard modelPath == nil else { throw JobLabelError.usage("use either --model or --cv, not both") }
            let postings = try readLabeledPostings(specs, heads: options.config.heads, skipBad: skipBad)
            result = try Evaluator.crossValidate(options.config, postings: postings, folds: folds, files: data, algorithms: algorithms)
            facts = [("cross-validation", "\(folds) folds, stratified by \(options.config.heads.first ?? "-"), seed \(options.config.seed)"),
                     ("data", displayNames(specs)), ("postings", String(postings.count))]
        } else {
            guard let modelPath else { throw JobLabelError.usage("evaluate needs --model DIR, or --cv K to cross-validate") }
            if let first = trainingOptions.first {
                throw JobLabelError.usage("\(first) is a training setting: it applies with --cv, not to a trained --model")
            }
            var model = try ModelBundle.load(modelPath)
            if options.labelsGiven {
                let known = model.heads.map(\.name)
                if let unknown = options.config.heads.first(where: { !known.contains($0) }) {
                    throw JobLabelError.usage("the model has no head '\(unknown)' (its heads: \(known.joined(separator: ", ")))")
                }
                model = model.selectingHeads(options.config.heads)
            }
            let postings = try readLabeledPostings(specs, heads: model.heads.map(\.name), skipBad: skipBad)
            result = Evaluator.evaluate(model, postings: postings, algorithms: algorithms)
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
            throw JobLabelError.badData(file: data.joined(separator: ", "), line: 0, field: nil,
                message: "no record has a value for any of the model's labels (\(result.entries.map(\.head).uniqued().joined(separator: ", "))); evaluate needs labeled postings")
        }
        let skipped = Set(result.entries.filter { $0.report.n == 0 }.map(\.head))
        for head in result.entries.map(\.head).uniqued() where skipped.contains(head) {
            printError("note: head '\(head)': no row in the data has this label; not scored")
        }
        result.entries.removeAll { skipped.contains($0.head) }
        if let htmlPath {
            try writeFileAtomically(htmlPath, Array(result.html(facts: facts).utf8))
        }
        let stdout = StandardOutput()
        try stdout.write(result.render(format))
        try stdout.flush()
    }

    // MARK: inspect

    static let inspectHelp = """
    USAGE: joblabel inspect [--json] [--terms N] [--model DIR | DIR]

    Prints the model card of a bundle, after checking that it loads (weights present, checksums and
    shapes right): data fingerprint (SHA-256 of the training records), files and number of postings,
    label counts per head, settings, training-set metrics, logistic regression's optimisation report,
    and the top terms per label (logistic regression: largest weights; Naive Bayes: log P(term | label)
    minus its mean over labels). Without DIR, the shipped default model (see 'joblabel classify --help').

    OPTIONS:
      --json                 the manifest as stored, with a "top_terms" key added
      --terms N              top terms per label (default 10; 0 leaves them out)
      --model DIR            the model bundle (or give DIR as the argument)
      -h, --help             show this help
    """

    static func inspect(_ argv: [String]) throws {
        var args = Arguments(argv)
        var path: String?
        var json = false
        var termCount = 10
        while let arg = args.next() {
            let (option, inline) = splitOption(arg)
            switch option {
            case "-h", "--help": print(inspectHelp); return
            case "--json": json = true
            case "--terms": termCount = try parseInt(try args.value(for: option, inline: inline), option, min: 0)
            case "--model": path = try args.value(for: option, inline: inline)
            default:
                if arg.hasPrefix("--") { throw JobLabelError.usage("inspect: unknown option '\(arg)'") }
                if let path { throw JobLabelError.usage("inspect takes one model directory, got '\(path)' and '\(arg)'") }
                path = arg
            }
        }
        let dir = try path ?? defaultModelPath()
        let manifest = try ModelBundle.loadManifest(dir)
        // Loading verifies the weights too: a bundle that cannot load is reported, not described.
        let card = ModelCard(manifest: manifest, model: try ModelBundle.load(dir), termCount: termCount)
        let stdout = StandardOutput()
        try stdout.write(json ? card.json(manifestBytes: try readManifestBytes(dir)) : Array(card.text(directory: dir).utf8))
        try stdout.flush()
    }

    private static func readManifestBytes(_ dir: String) throws -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: dir + "/manifest.json") else {
            throw JobLabelError.io(path: dir + "/manifest.json", message: "cannot read")
        }
        return Array(d)
    }
}
