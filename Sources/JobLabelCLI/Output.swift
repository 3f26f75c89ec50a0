import Foundation
import JobLabel

/// Buffered writer to standard output, or to a file (`--output`) put in place atomically by `commit()`;
/// a failed write (full disk, closed pipe) becomes an I/O error.
final class StandardOutput {
    private var buffer: [UInt8] = []
    private var failure: Int32?
    private let file: AtomicFileWriter?

    /// Standard output, or `file` when given.
    init(file: AtomicFileWriter? = nil) {
        self.file = file
    }

    func write(_ bytes: [UInt8]) throws {
        buffer += bytes
        if buffer.count >= 1 << 20 { try flush() }
    }
    func write(_ s: String) throws { try write(Array(s.utf8)) }
    func flush() throws {
        if let file {
            defer { buffer.removeAll(keepingCapacity: true) }
            try file.write(buffer)
            return
        }
        if failure == nil, !buffer.isEmpty { failure = writeAll(1, buffer) }
        buffer.removeAll(keepingCapacity: true)
        if let failure {
            throw JobLabelError.io(path: "stdout", message: "write failed: \(String(cString: strerror(failure)))")
        }
    }
    /// Flushes, and puts an output file in place (standard output: only flushes).
    func commit() throws {
        try flush()
        try file?.commit()
    }
    /// Drops an output file's temporary file (standard output: flushes what is written so far).
    func abandon() {
        if let file { file.discard() } else { try? flush() }
    }
}

/// What a command reads, which its outputs must spare: the input paths as given and as expanded (the files
/// of directories), a label map, the model.
struct ReadPaths {
    var inputs: [String]
    var model: String?

    /// The paths given, the inputs they expand to, and `extra` files (a label map).
    init(given: [String], specs: [InputSpec], extra: [String?] = [], model: String? = nil) {
        inputs = (given + specs.map(\.path) + extra.compactMap { $0 }).uniqued()
        self.model = model
    }

    /// Checks an output file (`--output`, `--html`) before the work (see the library's `checkOutputFile`:
    /// not an input, not inside an input directory or the model, a regular file or none, creatable), and
    /// returns the path to write; "-" is standard output (nil).
    func checkOutput(_ path: String?) throws -> String? {
        guard let path, path != "-" else { return nil }
        if path.isEmpty { throw UsageError("an output file name is empty") }
        return try checkOutputFile(path, inputs: inputs, model: model)
    }
}

/// Writes a whole output file atomically (a checked path), creating its missing parent directories.
func writeOutputFile(_ path: String, _ bytes: [UInt8]) throws {
    try createParentDirectories(of: path)
    try writeFileAtomically(path, bytes)
}

/// The output of a command: standard output, or the checked file `path` (parents created, written to a
/// temporary file until `commit()`).
func openOutput(_ path: String?) throws -> StandardOutput {
    guard let path else { return StandardOutput() }
    try createParentDirectories(of: path)
    return StandardOutput(file: try AtomicFileWriter(path: path))
}

/// The progress meter of the running command, if any (messages clear its terminal line first).
nonisolated(unsafe) var activeProgress: ProgressMeter?

/// One message line on stderr (errors writing it are ignored: there is nowhere left to report them).
/// Messages quote ids, labels and file names from the data: control characters in them (ANSI escapes)
/// are shown as `\u{1B}` (`terminalText`), never sent to the terminal.
func printError(_ message: String) {
    activeProgress?.clearForMessage()
    writeAll(2, Array((terminalText(message) + "\n").utf8))
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
        case .experts(let head, let folds): return ("\(head): choosing the title and body experts' weights", "\(folds)-fold cross-validation")
        case .naiveBayes(let head, let heldOut): return ("\(head): naive bayes\(heldOut ? " on the calibration split" : "")", "")
        case .logisticRegression(let head, let heldOut, let iteration, let maxIterations):
            return ("\(head): logistic regression\(heldOut ? " on the calibration split" : " on all rows")", "Newton iteration \(iteration) (at most \(maxIterations))")
        case .calibrating(let head, let rows): return ("\(head): fitting temperatures and thresholds on \(rows) held-out rows", "")
        case .scoring(let head): return ("\(head): training-set figures", "")
        case .autotune(let trial, let total, let setting, let best):
            return ("autotune: trying \(trial) of \(total): \(setting)", best.map { "best so far \(String(format: "%.4f", $0))" } ?? "")
        }
    }
}

extension Array where Element: Hashable {
    /// Elements in first-seen order without repeats.
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}

/// Input names for messages: "stdin" for "-".
func displayNames(_ specs: [InputSpec]) -> String {
    specs.map { $0.path == "-" ? "stdin" : $0.path }.uniqued().joined(separator: ", ")
}
