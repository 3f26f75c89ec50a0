// Phase timings of the pipeline on one labeled file, in a release build:
//   swift run -c release joblabel-bench --data FILE [--labels topic] [--preset sklearn|default] [--threads N]
//                                       [--repeat N] [--vectorize-only]
//   swift run -c release joblabel-bench --load MODEL_DIR [--repeat N]
// Prints seconds for reading, vectorizing (fit + transform), NB and LR fits, transform and prediction
// (vectorizing and transform: best of --repeat runs); with --load, the median time to load a model.
import Foundation
import JobLabel

func getenvString(_ name: String) -> String? { ProcessInfo.processInfo.environment[name] }

func cpuSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Wall seconds of `body`; its process CPU seconds go to `lastCPU`.
nonisolated(unsafe) var lastCPU = 0.0
func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    let cpu = cpuSeconds()
    try body()
    lastCPU = cpuSeconds() - cpu
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

var data: String?
var config = TrainingConfig.product
var heads = ["role", "seniority"]
var vectorizeOnly = false
var repeats = 1
var loadModel: String?
var threads: Int?
var args = Array(CommandLine.arguments.dropFirst()).makeIterator()
while let arg = args.next() {
    switch arg {
    case "--data": data = args.next()
    case "--labels": heads = (args.next() ?? "").split(separator: ",").map(String.init)
    case "--preset": config = args.next() == "sklearn" ? .sklearn : .product
    case "--threads": threads = Int(args.next() ?? "")
    case "--vectorize-only": vectorizeOnly = true
    case "--load": loadModel = args.next()
    case "--repeat": repeats = max(1, Int(args.next() ?? "") ?? 1)
    default:
        FileHandle.standardError.write(Data("usage: joblabel-bench --data FILE [--labels a,b] [--preset sklearn|default] [--threads N]\n".utf8))
        exit(64)
    }
}
config.heads = heads
if let loadModel {
    // Model load time alone: median of --repeat loads (manifest, weights, checksums, tables).
    var times: [Double] = []
    do {
        for _ in 0..<max(1, repeats) { times.append(try seconds { _ = try ModelBundle.load(loadModel) }) }
    } catch {
        FileHandle.standardError.write(Data("joblabel-bench: \(error)\n".utf8))
        exit(66)
    }
    times.sort()
    print(String(format: "load        %8.4f s  (median of %d)", times[times.count / 2], times.count))
    exit(0)
}
guard let data else {
    FileHandle.standardError.write(Data("joblabel-bench: --data FILE is required\n".utf8))
    exit(64)
}
do {
    var postings: [Posting] = []
    let tRead = try seconds { postings = try readAllPostings(try expandInputs([data]), heads: heads) }
    let bytes = postings.reduce(0) { $0 + $1.text.count + $1.title.count }
    var vectorizer: TfidfVectorizer?
    var x = CSRMatrix(columnCount: 0)
    var tFit = Double.infinity
    let parallel = Parallel(threads: threads)
    for _ in 0..<repeats { tFit = min(tFit, try seconds { (vectorizer, x) = try TfidfVectorizer.fitTransform(config.vectorizer, postings, parallel: parallel) }) }
    let xT = x.transposed(parallel: parallel)
    print(String(format: "read        %8.3f s  (%d postings, %.1f MB of text)", tRead, postings.count, Double(bytes) / 1e6))
    print(String(format: "vectorize   %8.3f s  (%.1f MB/s, %d features, %d non-zeros)", tFit, Double(bytes) / 1e6 / tFit, x.columnCount, x.nonZeroCount))
    for (h, head) in heads.enumerated() where !vectorizeOnly {
        let (classes, y) = encodeLabels(postings.map { $0.labels[h] })
        var nb: LinearModel?
        var lr: LinearModel?
        var report: OptimizationReport?
        let tNB = seconds { nb = NaiveBayes.fit(config.naiveBayes, x: x, y: y, classes: classes, parallel: parallel) }
        let tLR = seconds { (lr, report) = LogisticRegression.fit(config.logisticRegression, x: x, xT: xT, y: y, classes: classes, parallel: parallel) }
        print(String(format: "%@: NB fit %.3f s; LR fit %.3f s, %.3f s CPU (%d Newton iterations, %d passes, loss %.6f, %@)", head, tNB, tLR, lastCPU,
                     report?.iterations ?? 0, report?.evaluations ?? 0, report?.finalLoss ?? 0, report?.stopReason ?? ""))
        let model = JobLabelModel(config: config, vectorizer: vectorizer!, heads: [HeadModel(name: head, classes: classes, classCounts: [],
                                  naiveBayes: nb!, logisticRegression: lr!, optimization: report)],
                                  info: TrainingInfo(files: [], documents: 0, sha256: "", metrics: [:]), trainingID: [])
        let predictor = try Predictor(model, options: LabelingOptions(algorithm: .ensemble), threads: threads)
        var labeled = 0
        let tPredict = seconds { labeled = predictor.labels(postings).labels.count }
        print(String(format: "%@: label the training rows with NB + LR (transform included) %.3f s (%d postings)", head, tPredict, labeled))
    }
    if getenvString("JOBLABEL_FIT_ONLY") != nil { exit(0) }
    var tTransform = Double.infinity
    for _ in 0..<repeats { tTransform = min(tTransform, seconds { _ = vectorizer!.transform(postings, parallel: parallel) }) }
    print(String(format: "transform   %8.3f s  (%.0f postings/s)", tTransform, Double(postings.count) / tTransform))
} catch {
    FileHandle.standardError.write(Data("joblabel-bench: \(error)\n".utf8))
    exit(65)
}
