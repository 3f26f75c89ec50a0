import Foundation
import JobLabel

/// `joblabel classify`: label postings from files or stdin, one output record per posting, in input order.
enum ClassifyCommand {
    struct Settings {
        var model: String?
        var options = LabelingOptions(top: 0)
        var format = PredictionFormat.jsonl
        var batch = 4096
        var threads: Int?
        var strict = false
        var quiet = false
        var inputs: [String] = []
        var input = InputSettings()
        var output: String?
        var csvRaw = false
    }

    static let spec = CommandSpec<Settings>(
        name: "classify",
        usage: ["joblabel classify [--model DIR] [--algorithm lr|nb|ensemble] [--top K] [--explain N] [--threshold T]",
                "                  [--format jsonl|csv|text] [--output FILE] [--strict] [--quiet] [input options] [INPUT ...]"],
        description: """
        Labels postings with a trained model. INPUT is a .jsonl, .csv, .tsv or .txt file (a .txt file is one
        posting, its id the file name), a directory (its .txt, .jsonl, .csv and .tsv files, sorted), or '-'
        for JSON Lines on standard input (also the default when no INPUT is given); with --input-format lines,
        one posting per line (echo "Senior data engineer" | joblabel classify --input-format lines).
        Without --model, the shipped default model is used: $JOBLABEL_MODEL if set, else Models/default
        found beside the executable (searching up from its directory), else ./Models/default.
        One output line per posting, in input order. A malformed record is reported on stderr with its file
        and line and gets no output line; the others are still labeled, and the exit status is then 65.
        """,
        groups: [OptionGroup(title: "OPTIONS", options: [
            .value("--model", name: "DIR", help: "model bundle written by 'joblabel train'") { $0.model = $1 },
            .value("--algorithm", name: "A", help: "'lr' (logistic regression, default), 'nb' (Naive Bayes) or 'ensemble' (the mean of both algorithms' calibrated probabilities)") {
                $0.options.algorithm = try parseChoice($1, "--algorithm", as: Algorithm.self)
            },
            .value("--top", name: "K", help: "also list the K most probable labels per head") { $0.options.top = try parseInt($1, "--top", min: 1) },
            .value("--explain", name: "N", help: "per head, the N features (terms, title: and cue: features) that contributed most to the best label, with their contributions (lr: x_j * W[j,label]; nb: x_j * (log P(j|label) - its mean over labels); ensemble: mean of both / T)") {
                $0.options.explain = try parseInt($1, "--explain", min: 1)
            },
            .value("--threshold", name: "T", help: "below it a head's label is 'unknown' (the best label is still given): a probability P for every head, HEAD=P[,HEAD=P], or 'manifest' for the per-label thresholds fitted at train time (see 'joblabel train --help')") {
                guard let spec = ThresholdSpec.parse($1) else {
                    throw UsageError("--threshold takes a probability in 0...1 (e.g. 0.6), HEAD=P[,HEAD=P] (e.g. seniority=0.7,role=0.5) or 'manifest', got '\($1)'")
                }
                $0.options.thresholds = spec
            },
            .value("--format", name: "F", help: "'jsonl' (default), 'csv' or 'text'; CSV cells that start with = + - @, a tab or a CR get a leading ' so that spreadsheets do not run them as formulas (plain numbers excepted), and text shows control characters as \\u{1B}") { $0.format = try parseChoice($1, "--format", as: PredictionFormat.self) },
            .flag("--csv-raw", help: "with --format csv: no leading ' before cells a spreadsheet would run as formulas (for programs that read the CSV, not spreadsheets)") { $0.csvRaw = true },
            .value("--output", name: "FILE", help: "write the labels to FILE instead of stdout ('-': stdout): atomically (a temporary file renamed into place when all is written; on a failure FILE is left as it was; an existing FILE keeps its permissions), creating missing directories; refused when FILE is an input, inside an input directory or the model, or not a regular file") { $0.output = $1 },
            .value("--batch", name: "N", help: "postings per batch (default 4096)") { $0.batch = try parseInt($1, "--batch", min: 1) },
            TrainingSettings.threadsOption { $0.threads = $1 },
            .flag("--strict", help: "stop at the first malformed record (exit 65; the labels before it are on stdout, while an --output file is left as it was)") { $0.strict = true },
            .flag("--quiet", help: "no progress on stderr (by default long runs report bytes read of the input files, rate and ETA: redrawn on a terminal, a line every 5 s otherwise)") { $0.quiet = true },
        ]), OptionGroup(title: "INPUT OPTIONS", options: InputSettings.options(\Settings.input, for: .classify))],
        positional: { $0.inputs.append($1) })

    static func run(_ arguments: [String]) throws {
        var s = Settings()
        guard try spec.parse(arguments, into: &s) else { return }
        let modelPath = try s.model ?? defaultModelPath()
        let model = try ModelBundle.load(modelPath)
        let (specs, unread) = try expandInputsReporting(s.inputs.isEmpty ? ["-"] : s.inputs, allowText: true, format: s.input.format,
                                                      refuse: s.strict, otherwise: "label the others without --strict")
        let headNames = model.heads.map(\.name)
        let keep = s.input.fields.keepFields
        if let clash = keep.first(where: { $0 == "id" || headNames.contains($0) }) {
            throw UsageError("--keep \(clash): the output already has a '\(clash)' key (the id and the model's heads: \(headNames.joined(separator: ", "))); keep other fields")
        }
        if keep.count != Set(keep).count { throw UsageError("--keep names a field twice") }
        let predictor: Predictor
        do {
            predictor = try Predictor(model, options: s.options, threads: s.threads)
        } catch let error as JobLabelError {
            throw Messages.thresholdError(error)
        }
        for note in predictor.notes { printError(Messages.describe(note)) }
        let writer = PredictionWriter(format: s.format, heads: headNames, top: s.options.top, explain: s.options.explain,
                                      thresholds: s.options.thresholds != nil, keep: keep, csvRaw: s.csvRaw)
        let output = try ReadPaths(given: s.inputs, specs: specs, model: modelPath).checkOutput(s.output)
        let stdout = try openOutput(output)
        var featureless = 0
        var labeled = 0
        var skipped = SkippedRecords()
        try stdout.write(writer.header())
        let stream = RecordStream(specs, heads: [], options: s.input.readOptions())
        let meter = startProgress("classify", quiet: s.quiet)
        defer { finishProgress(meter) }
        meter.update { $0.phase = "labeling"; $0.bytesTotal = stream.totalBytes; $0.itemName = "postings" }

        /// Labels a run of good postings and writes their records.
        func label(_ postings: [Posting]) throws {
            guard !postings.isEmpty else { return }
            let (blocks, unknown) = predictor.mapLabels(postings) { range, labels in
                var out: [UInt8] = []
                out.reserveCapacity(range.count * 128)
                writer.append(postings[range], labels, to: &out)
                return out
            }
            featureless += unknown
            labeled += postings.count
            for bytes in blocks { try stdout.write(bytes) }
        }

        do {
            // The next batch is parsed while the current one is labeled. Batches start small and double up to
            // --batch, so labeling (parallel) starts before much of the input is parsed (serial).
            var size = min(s.batch, 256)
            func nextSize() -> Int {
                defer { size = min(s.batch, size * 2) }
                return size
            }
            var next = BatchRead(stream, nextSize())
            while true {
                let (records, position) = try next.wait().get()
                if records.isEmpty { break }
                next = BatchRead(stream, nextSize())
                // Good records are labeled in runs; a malformed one is reported between the output of the
                // records around it, so the output keeps one line per good record, in input order.
                var run: [Posting] = []
                for record in records {
                    switch record {
                    case .success(let posting): run.append(posting)
                    case .failure(let error):
                        try label(run)
                        run = []
                        try stdout.flush()
                        if s.strict { throw error }
                        printError("joblabel: \(Messages.describe(error).message)")
                        skipped.add(error)
                    }
                }
                try label(run)
                meter.update { $0.items += records.count; $0.bytesDone = position }
            }
        } catch {
            stdout.abandon()  // stdout keeps the labels of every record before the failure; a file is left as it was
            throw error
        }
        try stdout.commit()
        finishProgress(meter)
        if featureless > 0 {
            printError("note: \(featureless) posting(s) had no word the model knows (empty or foreign text); their labels rest on the class priors alone and mean little")
        }
        if skipped.count > 0 {
            // Plain text where JSON Lines was expected (`echo ... | joblabel classify`): say how to read it.
            let notJSON = skipped.byProblem[RecordError.notJSON(reason: "", column: 0).problem] ?? 0
            let plainText = labeled == 0 && notJSON == skipped.count ? "; for plain text, one posting per line, use --input-format lines" : ""
            throw CommandFailure("\(displayNames(specs)): \(skipped.count) malformed record\(skipped.count == 1 ? " was" : "s were") skipped (\(skipped.breakdown)) and \(skipped.count == 1 ? "has" : "have") no output line; fix \(skipped.count == 1 ? "it" : "them") (listed above), or use --strict to stop at the first\(plainText)\(unreadNote(unread))", exitCode: 65)
        }
        if !unread.isEmpty {
            throw CommandFailure("\(unread.count) input file\(unread.count == 1 ? " was" : "s were") not read (listed above) and \(unread.count == 1 ? "has" : "have") no output lines; fix or move \(unread.count == 1 ? "it" : "them")", exitCode: 66)
        }
    }

    /// "; and N input files were not read", for the final message of a run with both problems.
    static func unreadNote(_ unread: [SkippedInput]) -> String {
        unread.isEmpty ? "" : "; and \(unread.count) input file\(unread.count == 1 ? " was" : "s were") not read (listed above)"
    }
}

/// One batch of records read on a background queue; `wait()` returns it with the stream's position after
/// it (or the stream's error).
final class BatchRead: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<([RecordResult], Int64), Error> = .success(([], 0))

    /// Starts reading up to `count` records from `stream` (nothing else may use the stream until `wait()`).
    init(_ stream: RecordStream, _ count: Int) {
        DispatchQueue.global().async {
            self.result = Result { (try stream.next(maxCount: count), stream.bytesConsumed) }
            self.done.signal()
        }
    }

    /// The batch, once read.
    func wait() -> Result<([RecordResult], Int64), Error> {
        done.wait()
        return result
    }
}
