import Foundation

/// Applies one algorithm of a trained model to postings. All heads are scored in one sparse pass over a
/// combined weight matrix (`V × width`, each head's classes padded to a multiple of 8), in fixed blocks of
/// postings run in parallel: the result does not depend on the thread count.
public final class Predictor: @unchecked Sendable {
    /// The model.
    public let model: JobLabelModel
    /// The classifier used.
    public let algorithm: Algorithm
    /// Row length of `weights`: Σ over heads of the padded class count.
    let width: Int
    /// Column where each head's classes start.
    let offsets: [Int]
    /// Row-major `V × width` weights of every head.
    let weights: [Float]
    /// Biases, `width` values.
    let bias: [Float]

    /// Postings per parallel block.
    static let blockSize = 256

    /// Builds the combined weight matrix of `algorithm` (cost: one copy of the weights).
    public init(_ model: JobLabelModel, algorithm: Algorithm) {
        self.model = model
        self.algorithm = algorithm
        var offsets: [Int] = []
        var width = 0
        for head in model.heads {
            offsets.append(width)
            width += paddedWidth(head.classes.count)
        }
        self.offsets = offsets
        self.width = width
        let v = model.vectorizer.featureCount
        var weights = [Float](repeating: 0, count: v * width)
        var bias = [Float](repeating: 0, count: width)
        for (h, head) in model.heads.enumerated() {
            let m = head.model(algorithm), k = m.classCount, o = offsets[h]
            let rows = min(v, m.featureCount)
            m.weights.withUnsafeBufferPointer { src in
                weights.withUnsafeMutableBufferPointer { dst in
                    for j in 0..<rows { for c in 0..<k { dst[j * width + o + c] = src[j * k + c] } }
                }
            }
            for c in 0..<k { bias[o + c] = m.bias[c] }
        }
        self.weights = weights
        self.bias = bias
    }

    /// Per-head probabilities for `postings`, and how many had no term of the vocabulary.
    public func predict(_ postings: [Posting]) -> (predictions: [HeadPrediction], featureless: Int) {
        let blocks = Parallel.mapRanges(count: postings.count, blockSize: Predictor.blockSize) { range in
            probabilities(model.vectorizer.transform(postings, range))
        }
        var featureless = 0
        var perHead = [[Float]](repeating: [], count: model.heads.count)
        for (part, unknown) in blocks {
            featureless += unknown
            for h in perHead.indices { perHead[h].append(contentsOf: part[h]) }
        }
        let predictions = model.heads.enumerated().map { h, head in
            HeadPrediction(head: head.name, classes: head.classes, probabilities: perHead[h])
        }
        return (predictions, featureless)
    }

    /// Labels `postings` and formats one record per posting with `writer`: the output bytes, in input
    /// order, and how many postings had no term of the vocabulary. Vectorizing, scoring and formatting
    /// all run per block in parallel.
    public func label(_ postings: [Posting], writer: PredictionWriter) -> (output: [UInt8], featureless: Int) {
        let blocks = Parallel.mapRanges(count: postings.count, blockSize: Predictor.blockSize) { range -> ([UInt8], Int) in
            let (probabilities, unknown) = probabilities(model.vectorizer.transform(postings, range))
            let predictions = model.heads.enumerated().map { h, head in
                HeadPrediction(head: head.name, classes: head.classes, probabilities: probabilities[h])
            }
            var out: [UInt8] = []
            out.reserveCapacity(range.count * 128)
            writer.append(postings[range], predictions, to: &out)
            return (out, unknown)
        }
        var output: [UInt8] = []
        output.reserveCapacity(blocks.reduce(0) { $0 + $1.0.count })
        var featureless = 0
        for (bytes, unknown) in blocks {
            output.append(contentsOf: bytes)
            featureless += unknown
        }
        return (output, featureless)
    }

    /// Softmax probabilities of the rows of `x` per head (row-major `rows × classes`), and the number of
    /// empty rows.
    func probabilities(_ x: CSRMatrix) -> (perHead: [[Float]], featureless: Int) {
        let n = x.rowCount, width = self.width
        var scores = [Float](repeating: 0, count: n * width)
        if n > 0 && width > 0 {
            scores.withUnsafeMutableBufferPointer { sb in
                weights.withUnsafeBufferPointer { wb in
                    Kernels.withSparseRows(x) { xs in
                        let out = sb.baseAddress!
                        Kernels.sparseTimesDense(xs, rows: 0..<n, dense: wb.baseAddress ?? UnsafePointer(out), kp: width, out: out)
                    }
                }
            }
        }
        var featureless = 0
        for i in 0..<n where x.rowOffsets[i] == x.rowOffsets[i + 1] { featureless += 1 }
        let perHead: [[Float]] = model.heads.enumerated().map { h, head in
            let k = head.classes.count, o = offsets[h]
            var p = [Float](repeating: 0, count: n * k)
            var row = [Double](repeating: 0, count: k)
            for i in 0..<n {
                var m = -Double.infinity
                for c in 0..<k {
                    row[c] = Double(scores[i * width + o + c]) + Double(bias[o + c])
                    m = max(m, row[c])
                }
                var sum = 0.0
                for c in 0..<k { sum += exp(row[c] - m) }
                let lse = m + log(sum)
                for c in 0..<k { p[i * k + c] = Float(exp(row[c] - lse)) }
            }
            return p
        }
        return (perHead, featureless)
    }
}

/// The predictors of a model, built on first use and shared (a model is immutable).
final class PredictorCache: @unchecked Sendable {
    private var predictors: [Algorithm: Predictor] = [:]
    private let lock = NSLock()

    /// The predictor of `algorithm` for `model`.
    func predictor(_ model: JobLabelModel, _ algorithm: Algorithm) -> Predictor {
        lock.lock()
        defer { lock.unlock() }
        if let p = predictors[algorithm] { return p }
        let p = Predictor(model, algorithm: algorithm)
        predictors[algorithm] = p
        return p
    }
}
