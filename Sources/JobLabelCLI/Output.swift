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

/// Checks an output file (`--output`, `--html`) before the work: not one of the inputs, not a directory,
/// and its missing parent directories can be created.
func checkOutputFile(_ path: String, inputs: [InputSpec]) throws {
    if inputs.contains(where: { $0.path != "-" && ($0.path == path || isSameFile($0.path, path)) }) {
        throw JobLabelError.outputRefused(path: path, reason: .isAnInput)
    }
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
        throw JobLabelError.outputRefused(path: path, reason: .isADirectory)
    }
    try checkCreatableParent(path)
}

/// Writes a whole output file atomically, creating its missing parent directories.
func writeOutputFile(_ path: String, _ bytes: [UInt8]) throws {
    try createParentDirectories(of: path)
    try writeFileAtomically(path, bytes)
}

/// The output of a command: standard output, or the file `path` (checked, parents created, written to a
/// temporary file until `commit()`).
func openOutput(_ path: String?, inputs: [InputSpec]) throws -> StandardOutput {
    guard let path else { return StandardOutput() }
    try checkOutputFile(path, inputs: inputs)
    try createParentDirectories(of: path)
    return StandardOutput(file: try AtomicFileWriter(path: path))
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
        case .experts(let head, let folds): return ("\(head): choosing the title and body experts' weights", "\(folds)-fold cross-validation")
        case .naiveBayes(let head, let heldOut): return ("\(head): naive bayes\(heldOut ? " on the calibration split" : "")", "")
        case .logisticRegression(let head, let heldOut, let iteration, let maxIterations):
            return ("\(head): logistic regression\(heldOut ? " on the calibration split" : " on all rows")", "Newton iteration \(iteration) (at most \(maxIterations))")
        case .calibrating(let head, let rows): return ("\(head): fitting temperatures and thresholds on \(rows) held-out rows", "")
        case .scoring(let head): return ("\(head): training-set figures", "")
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
