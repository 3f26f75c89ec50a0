import Foundation

/// Applies one algorithm of a trained model to postings. All heads are scored in one sparse pass over a
/// combined weight matrix (`V × width`, each head's classes padded to a multiple of 8; for the ensemble,
/// Naive Bayes' and logistic regression's columns side by side), in fixed blocks of postings run in
/// parallel: the result does not depend on the thread count. Scores are divided by the head's temperature
/// before the softmax (calibration; T = 1 for uncalibrated bundles).
public final class Predictor: @unchecked Sendable {
    /// The model.
    public let model: JobLabelModel
    /// The classifier used.
    public let algorithm: Algorithm
    /// The linear models combined: `[.nb]`, `[.lr]`, or both for the ensemble.
    let components: [Algorithm]
    /// Row length of `weights`: Σ over components and heads of the padded class count.
    let width: Int
    /// Column where each head's classes start, per component: `offsets[component][head]`.
    let offsets: [[Int]]
    /// 1 / temperature per component and head.
    let inverseTemperatures: [[Double]]
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
        let components = algorithm == .ensemble ? Algorithm.classifiers : [algorithm]
        self.components = components
        var offsets: [[Int]] = []
        var width = 0
        for _ in components {
            var perHead: [Int] = []
            for head in model.heads {
                perHead.append(width)
                width += paddedWidth(head.classes.count)
            }
            offsets.append(perHead)
        }
        self.offsets = offsets
        self.width = width
        self.inverseTemperatures = components.map { a in model.heads.map { 1 / $0.temperature(a) } }
        let v = model.vectorizer.featureCount
        var bias = [Float](repeating: 0, count: width)
        // Blocks of feature rows in parallel, each zeroing and then filling its own rows (the first touch of
        // the new memory is spread over the threads too).
        let weights = [Float](unsafeUninitializedCapacity: v * width) { dst, initialized in
            guard let base = dst.baseAddress, v * width > 0 else { return }
            adviseHugePages(base, bytes: v * width * 4)
            let out = dst
            Parallel.forEachRange(count: v, blockSize: 16384) { range in
                (base + range.lowerBound * width).initialize(repeating: 0, count: range.count * width)
                for (m, component) in components.enumerated() {
                    for (h, head) in model.heads.enumerated() {
                        let lm = head.model(component), k = lm.classCount, o = offsets[m][h]
                        let rows = range.clamped(to: 0..<min(v, lm.featureCount))
                        lm.weights.withUnsafeBufferPointer { src in
                            guard let from = src.baseAddress, let to = out.baseAddress else { return }
                            for j in rows { (to + j * width + o).update(from: from + j * k, count: k) }
                        }
                    }
                }
            }
            initialized = v * width
        }
        for (m, component) in components.enumerated() {
            for (h, head) in model.heads.enumerated() {
                let lm = head.model(component), o = offsets[m][h]
                for c in 0..<lm.classCount { bias[o + c] = lm.bias[c] }
            }
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

    /// Per-head probabilities (row-major `rows × classes`) of the rows of an already vectorized matrix,
    /// in parallel row blocks.
    public func probabilities(matrix x: CSRMatrix) -> [[Float]] {
        let blocks = Parallel.mapRanges(count: x.rowCount, blockSize: Predictor.blockSize) { range in
            probabilities(x.rows(Array(range))).perHead
        }
        var perHead = [[Float]](repeating: [], count: model.heads.count)
        for part in blocks { for h in perHead.indices { perHead[h].append(contentsOf: part[h]) } }
        return perHead
    }

    /// Labels `postings` and formats one record per posting with `writer`: the output bytes, in input
    /// order, and how many postings had no term of the vocabulary. Vectorizing, scoring and formatting
    /// all run per block in parallel. With `writer.explain > 0` each block's rows also yield the features
    /// behind each head's best label; otherwise nothing more is computed.
    public func label(_ postings: [Posting], writer: PredictionWriter) -> (output: [UInt8], featureless: Int) {
        let blocks = Parallel.mapRanges(count: postings.count, blockSize: Predictor.blockSize) { range -> ([UInt8], Int) in
            let x = model.vectorizer.transform(postings, range)
            let (probabilities, unknown) = probabilities(x)
            var predictions = model.heads.enumerated().map { h, head in
                HeadPrediction(head: head.name, classes: head.classes, probabilities: probabilities[h])
            }
            if writer.explain > 0 {
                for h in predictions.indices {
                    predictions[h].explanations = explain(x, head: h, probabilities: probabilities[h], count: writer.explain)
                }
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

    /// Calibrated softmax probabilities of the rows of `x` per head (row-major `rows × classes`; for the
    /// ensemble the mean over its components), and the number of empty rows.
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
        let share = 1 / Double(components.count)
        let perHead: [[Float]] = model.heads.enumerated().map { h, head in
            let k = head.classes.count
            var p = [Float](repeating: 0, count: n * k)
            var row = [Double](repeating: 0, count: k)
            var mean = [Double](repeating: 0, count: k)
            for i in 0..<n {
                for m in components.indices {
                    let o = offsets[m][h], beta = inverseTemperatures[m][h]
                    var top = -Double.infinity
                    for c in 0..<k {
                        // (score + bias) / T; with T = 1 exactly the uncalibrated value.
                        row[c] = (Double(scores[i * width + o + c]) + Double(bias[o + c])) * beta
                        top = max(top, row[c])
                    }
                    var sum = 0.0
                    for c in 0..<k { sum += exp(row[c] - top) }
                    let lse = top + log(sum)
                    if components.count == 1 {
                        for c in 0..<k { p[i * k + c] = Float(exp(row[c] - lse)) }
                    } else {
                        for c in 0..<k { mean[c] = (m == 0 ? 0 : mean[c]) + exp(row[c] - lse) * share }
                    }
                }
                if components.count > 1 { for c in 0..<k { p[i * k + c] = Float(mean[c]) } }
            }
            return p
        }
        return (perHead, featureless)
    }

    /// For every row of `x`, the `count` features that contribute most to head `h`'s most probable label,
    /// largest first (ties: feature order). Contribution of feature j to class c: logistic regression
    /// `x_j · W[j,c]`; Naive Bayes `x_j · (log P(j|c) − mean_k log P(j|k))` (its ratio to the average
    /// class, as raw log-probabilities are all negative); the ensemble the mean of both, each divided by
    /// its temperature.
    func explain(_ x: CSRMatrix, head h: Int, probabilities p: [Float], count: Int) -> [[FeatureContribution]] {
        let head = model.heads[h], k = head.classes.count
        let vocabulary = model.vectorizer.vocabulary
        let parts = components.enumerated().map { m, a in
            (model: head.model(a), relative: a == .nb, scale: components.count == 1 ? 1.0 : inverseTemperatures[m][h] / Double(components.count))
        }
        let best = LinearModel.argmaxRows(p, classes: k)
        var out: [[FeatureContribution]] = []
        out.reserveCapacity(x.rowCount)
        for i in 0..<x.rowCount {
            let c = best[i]
            var items: [(weight: Double, feature: Int)] = []
            for t in x.row(i) {
                let j = Int(x.columns[t])
                let value = Double(x.values[t])
                var total = 0.0
                for part in parts where j < part.model.featureCount {
                    let w = part.model.weights, base = j * k
                    var weight = Double(w[base + c])
                    if part.relative {
                        var mean = 0.0
                        for q in 0..<k { mean += Double(w[base + q]) }
                        weight -= mean / Double(k)
                    }
                    total += value * weight * part.scale
                }
                items.append((total, j))
            }
            items.sort { $0.weight != $1.weight ? $0.weight > $1.weight : $0.feature < $1.feature }
            out.append(items.prefix(count).map { FeatureContribution(feature: vocabulary.string($0.feature), weight: $0.weight) })
        }
        return out
    }
}

/// A feature and how much it added to a label's score for one posting.
public struct FeatureContribution: Sendable, Equatable {
    /// The feature's name as in the vocabulary (`title:` and `cue:` prefixes included).
    public var feature: String
    /// Its contribution (see `Predictor`'s explanation).
    public var weight: Double

    /// Creates a contribution.
    public init(feature: String, weight: Double) {
        self.feature = feature
        self.weight = weight
    }
}

/// The predictors of a model, built on first use and shared (a model is immutable).
final class PredictorCache: @unchecked Sendable {
    private var predictors: [Algorithm: Predictor] = [:]
    private let lock = NSLock()

    /// The predictor of `algorithm` for `model`. It holds a copy of the model with a cache of its own:
    /// holding `model` itself, whose cache is this one, would be a reference cycle, and neither the
    /// model's cache nor its predictors would ever be freed.
    func predictor(_ model: JobLabelModel, _ algorithm: Algorithm) -> Predictor {
        lock.lock()
        defer { lock.unlock() }
        if let p = predictors[algorithm] { return p }
        let p = Predictor(model.withOwnCache(), algorithm: algorithm)
        predictors[algorithm] = p
        return p
    }
}
