// Unsafe: `logits` hands the combined weight matrix and a CSR matrix to `Kernels.sparseTimesDense` through
// one pointer scope; the kernel's row and column bounds come from the matrix and `width`.
import Foundation

/// The one place where postings become probabilities and decisions: `classify`, `evaluate`, the training-set
/// figures, calibration and the library API all score through a `Predictor`.
///
/// All heads, and for the ensemble both classifiers, are scored in one sparse pass over a combined weight
/// matrix (`V × width`: per component and head the class columns padded to a multiple of 8), in fixed
/// blocks of postings run in parallel, so results do not depend on the thread count. For head `h` and
/// component `m` with inverse temperature `β = 1/T`:
///
///     z_c = (x · W[:, c] + b_c) · β          p_c = exp(z_c − logsumexp(z))
///
/// and the ensemble's probability is the mean of its components' `p_c`. The decision then applies the
/// thresholds (below its threshold a head's label is `unknown`), ranks the top labels and, when asked,
/// explains the best label.
public final class Predictor: @unchecked Sendable {
    /// The heads scored, in output order.
    public let heads: [HeadModel]
    /// Algorithm, ranking, explanations and thresholds.
    public let options: LabelingOptions
    /// Heads whose stored thresholds `options.thresholds` asked for but the bundle lacks (their labels are
    /// given whatever their probability).
    public let notes: [LabelingNote]
    let vectorizer: TfidfVectorizer?
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
    /// Per head and class, the probability the class needs to be given as the label (nil: no thresholds).
    let thresholds: [[Double]]?
    /// Worker threads.
    let parallel: Parallel

    /// Postings per parallel block.
    static let blockSize = 256

    /// A predictor for `model` (cost: one copy of the weights). Throws `JobLabelError.threshold` when
    /// `options.thresholds` names a head the model lacks, or asks for stored thresholds it has none of.
    public convenience init(_ model: JobLabelModel, options: LabelingOptions = LabelingOptions(), threads: Int? = nil) throws {
        let (thresholds, notes) = try options.thresholds?.resolve(model, algorithm: options.algorithm) ?? (nil, [])
        self.init(vectorizer: model.vectorizer, heads: model.heads, options: options, thresholds: thresholds, notes: notes,
                  parallel: Parallel(threads: threads))
    }

    /// A predictor over already vectorized rows (training figures, calibration, evaluation).
    init(vectorizer: TfidfVectorizer?, heads: [HeadModel], options: LabelingOptions, thresholds: [[Double]]? = nil,
         notes: [LabelingNote] = [], parallel: Parallel) {
        self.vectorizer = vectorizer
        self.heads = heads
        self.options = options
        self.thresholds = thresholds
        self.notes = notes
        self.parallel = parallel
        let components = options.algorithm.components
        self.components = components
        var offsets: [[Int]] = []
        var width = 0
        for _ in components {
            var perHead: [Int] = []
            for head in heads {
                perHead.append(width)
                width += paddedWidth(head.classes.count)
            }
            offsets.append(perHead)
        }
        self.offsets = offsets
        self.width = width
        self.inverseTemperatures = components.map { a in heads.map { 1 / $0.temperature(a) } }
        let v = heads.map { max($0.naiveBayes.featureCount, $0.logisticRegression.featureCount) }.max() ?? 0
        var bias = [Float](repeating: 0, count: width)
        // Blocks of feature rows in parallel, each zeroing and then filling its own rows (the first touch of
        // the new memory is spread over the threads too).
        let weights = [Float](unsafeUninitializedCapacity: v * width) { dst, initialized in
            guard let base = dst.baseAddress, v * width > 0 else { return }
            adviseHugePages(base, bytes: v * width * 4)
            parallel.forEachRange(count: v, blockSize: 16384) { range in
                // Each head's columns written once: its weights, then zeros for its padding (and for rows past
                // its features), so the new memory is written in one pass rather than zeroed and then copied.
                for (m, component) in components.enumerated() {
                    for (h, head) in heads.enumerated() {
                        let padded = paddedWidth(head.classes.count), lm = head.model(component), k = min(lm.classCount, padded), o = offsets[m][h]
                        let rows = range.clamped(to: 0..<min(v, lm.featureCount))
                        lm.withWeights { src in
                            for j in range {
                                let to = base + j * width + o
                                var written = 0
                                if rows.contains(j), let from = src.baseAddress {
                                    to.initialize(from: from + j * k, count: k)
                                    written = k
                                }
                                (to + written).initialize(repeating: 0, count: padded - written)
                            }
                        }
                    }
                }
            }
            initialized = v * width
        }
        for (m, component) in components.enumerated() {
            for (h, head) in heads.enumerated() {
                let lm = head.model(component), o = offsets[m][h]
                for c in 0..<lm.classCount { bias[o + c] = lm.bias[c] }
            }
        }
        self.weights = weights
        self.bias = bias
    }

    // MARK: Decisions

    /// The labels of `postings`, in order, and how many postings had no term of the vocabulary (their labels
    /// rest on the class priors alone).
    public func labels(_ postings: [Posting]) -> (labels: [PostingLabels], featureless: Int) {
        let (blocks, featureless) = mapLabels(postings) { _, labels in labels }
        return (blocks.flatMap { $0 }, featureless)
    }

    /// Labels `postings` in fixed blocks run in parallel and hands each block's labels to `body` on the worker
    /// that made them (so the caller's per-block work, such as formatting output, runs in parallel too);
    /// returns `body`'s results in block order, and how many postings had no term of the vocabulary.
    public func mapLabels<T>(_ postings: [Posting], _ body: (Range<Int>, [PostingLabels]) -> T) -> (results: [T], featureless: Int) {
        guard let vectorizer else { return ([], 0) }
        let blocks = parallel.mapRanges(count: postings.count, blockSize: Predictor.blockSize) { range -> (T, Int) in
            let x = vectorizer.transform(postings, range)
            let labels = self.labels(matrix: x)
            return (body(range, labels), x.emptyRowCount)
        }
        return (blocks.map(\.0), blocks.reduce(0) { $0 + $1.1 })
    }

    /// The labels of the rows of an already vectorized matrix (one block; callers parallelise).
    func labels(matrix x: CSRMatrix) -> [PostingLabels] {
        let probabilities = self.probabilities(x)
        let perHead = heads.indices.map { h in decisions(x, head: h, probabilities: probabilities[h]) }
        return (0..<x.rowCount).map { i in PostingLabels(heads: perHead.map { $0[i] }) }
    }

    /// Head `h`'s decisions for every row of `x`, given its probabilities.
    private func decisions(_ x: CSRMatrix, head h: Int, probabilities p: [Float]) -> [LabelDecision] {
        let head = heads[h], k = head.classes.count
        let best = (0..<x.rowCount).map { head.decide(p, row: $0) }
        let explanations = options.explain > 0 ? explain(x, head: h, best: best, count: options.explain) : []
        return (0..<x.rowCount).map { i in
            guard k > 0 else {
                return LabelDecision(head: head.name, label: "", best: "", probability: 0, isKnown: true, top: [], explanation: [])
            }
            let c = best[i], probability = p[i * k + c]
            // Compared as Float, the probability's own precision: a printed 0.7000 reaches a threshold of 0.7.
            var known = true
            if let thresholds, h < thresholds.count, c < thresholds[h].count, !(probability >= Float(thresholds[h][c])) { known = false }
            let top = topClasses(p, row: i, classes: k, count: max(1, options.top))
                .map { LabelProbability(label: head.classes[$0], probability: Double(p[i * k + $0])) }
            return LabelDecision(head: head.name, label: known ? head.classes[c] : LabelDecision.unknown, best: head.classes[c],
                                 probability: Double(probability), isKnown: known, top: top,
                                 explanation: explanations.isEmpty ? [] : explanations[i])
        }
    }

    // MARK: Scores and probabilities

    /// `x · W + b` for every component and head: row-major `rows × width`. Columns `offsets[m][h] ..< +
    /// classes` belong to component `m` of head `h`. The bias is added in Double, as the probabilities use it;
    /// with `floatBias` it is added in Float, as the calibration's temperatures and thresholds are fitted
    /// (scores in the precision the weights are stored in).
    func logits(_ x: CSRMatrix, floatBias: Bool = false) -> [Double] {
        let n = x.rowCount, width = self.width
        var scores = [Float](repeating: 0, count: n * width)
        if n > 0 && width > 0 {
            scores.withUnsafeMutableBufferPointer { sb in
                weights.withUnsafeBufferPointer { wb in
                    Kernels.withSparseRows(x) { xs in
                        let out = sb.baseAddress!
                        let dense = wb.baseAddress ?? UnsafePointer(out)  // no features: the rows are empty and it is never read
                        // Rows are independent: blocks in parallel give the same values on any thread count.
                        parallel.forEachRange(count: n, blockSize: 512) { rows in
                            Kernels.sparseTimesDense(xs, rows: rows, dense: dense, kp: width, out: out)
                        }
                    }
                }
            }
        }
        var out = [Double](repeating: 0, count: n * width)
        for i in 0..<n {
            for c in 0..<width {
                let s = scores[i * width + c]
                out[i * width + c] = floatBias ? Double(s + bias[c]) : Double(s) + Double(bias[c])
            }
        }
        return out
    }

    /// Head `h`'s logits of component `m` (row-major `rows × classes`), taken from `logits`.
    func componentLogits(_ logits: [Double], component m: Int, head h: Int) -> [Double] {
        let k = heads[h].classes.count, o = offsets[m][h], n = width == 0 ? 0 : logits.count / width
        var out = [Double](repeating: 0, count: n * k)
        for i in 0..<n { for c in 0..<k { out[i * k + c] = logits[i * width + o + c] } }
        return out
    }

    /// Per head, the probabilities of the predictor's algorithm for the rows of `x` (row-major `rows ×
    /// classes`): the calibrated softmax of each component, and for the ensemble their mean.
    func probabilities(_ x: CSRMatrix) -> [[Float]] {
        let z = logits(x), n = x.rowCount
        return heads.indices.map { h in
            let k = heads[h].classes.count
            let perComponent = components.indices.map { m in
                calibratedSoftmax(componentLogits(z, component: m, head: h), classes: k, inverseTemperature: inverseTemperatures[m][h])
            }
            let p = ensembleMean(perComponent)
            return (0..<(n * k)).map { Float(p[$0]) }
        }
    }

    /// Per head and algorithm (the predictor's components, then the ensemble when there are two), the
    /// probabilities of the rows of `x`: every algorithm's figures from one sparse pass.
    func probabilitiesByAlgorithm(_ x: CSRMatrix) -> [[Algorithm: [Float]]] {
        let z = logits(x)
        return heads.indices.map { h in
            let k = heads[h].classes.count
            let perComponent = components.indices.map { m in
                calibratedSoftmax(componentLogits(z, component: m, head: h), classes: k, inverseTemperature: inverseTemperatures[m][h])
            }
            var out: [Algorithm: [Float]] = [:]
            for (m, a) in components.enumerated() { out[a] = perComponent[m].map(Float.init) }
            if components.count > 1 { out[.ensemble] = ensembleMean(perComponent).map(Float.init) }
            return out
        }
    }

    /// `probabilitiesByAlgorithm` of every row of `x`, in parallel row blocks, concatenated.
    func probabilitiesByAlgorithm(matrix x: CSRMatrix) -> [[Algorithm: [Float]]] {
        let blocks = parallel.mapRanges(count: x.rowCount, blockSize: Predictor.blockSize) { range in
            probabilitiesByAlgorithm(x.rows(Array(range)))
        }
        var out = [[Algorithm: [Float]]](repeating: [:], count: heads.count)
        for block in blocks {
            for (h, byAlgorithm) in block.enumerated() {
                for (a, p) in byAlgorithm { out[h][a, default: []].append(contentsOf: p) }
            }
        }
        return out
    }

    // MARK: Explanations

    /// For every row of `x`, the `count` features that contribute most to head `h`'s label `best[i]`,
    /// largest first (ties: feature order). Contribution of feature j to class c: logistic regression
    /// `x_j · W[j,c]`; Naive Bayes `x_j · (log P(j|c) − mean_k log P(j|k))` (its ratio to the average
    /// class, as raw log-probabilities are all negative); the ensemble the mean of both, each divided by
    /// its temperature.
    func explain(_ x: CSRMatrix, head h: Int, best: [Int], count: Int) -> [[FeatureContribution]] {
        guard let vectorizer else { return [] }
        let head = heads[h], k = head.classes.count
        let vocabulary = vectorizer.vocabulary
        let parts = components.enumerated().map { m, a in
            (model: head.model(a), relative: a == .nb, scale: components.count == 1 ? 1.0 : inverseTemperatures[m][h] / Double(components.count))
        }
        var out: [[FeatureContribution]] = []
        out.reserveCapacity(x.rowCount)
        // The weights without copying them (a loaded model's stay in the model file's memory).
        withEachWeights(parts.map(\.model)) { partWeights in
        for i in 0..<x.rowCount {
            let c = best[i]
            var items: [(weight: Double, feature: Int)] = []
            for (j, value) in x.entries(ofRow: i) {
                var total = 0.0
                for (p, part) in parts.enumerated() where j < part.model.featureCount {
                    let w = partWeights[p], base = j * k
                    var weight = Double(w[base + c])
                    if part.relative {
                        var mean = 0.0
                        for q in 0..<k { mean += Double(w[base + q]) }
                        weight -= mean / Double(k)
                    }
                    total += Double(value) * weight * part.scale
                }
                items.append((total, j))
            }
            items.sort { $0.weight != $1.weight ? $0.weight > $1.weight : $0.feature < $1.feature }
            out.append(items.prefix(count).map { FeatureContribution(feature: vocabulary.string($0.feature), weight: $0.weight) })
        }
        }
        return out
    }
}

/// Row-wise softmax of `logits · β` (row-major `rows × classes`), computed as `exp(z − logsumexp(z))` in
/// Double: the one softmax of the library (prediction, calibration and its held-out figures use it).
func calibratedSoftmax(_ logits: [Double], classes k: Int, inverseTemperature beta: Double) -> [Double] {
    var p = [Double](repeating: 0, count: logits.count)
    guard k > 0 else { return p }
    var row = [Double](repeating: 0, count: k)
    for i in 0..<(logits.count / k) {
        var top = -Double.infinity
        for c in 0..<k {
            // With β = 1 exactly the uncalibrated value.
            row[c] = logits[i * k + c] * beta
            top = max(top, row[c])
        }
        var sum = 0.0
        for c in 0..<k { sum += exp(row[c] - top) }
        let lse = top + log(sum)
        for c in 0..<k { p[i * k + c] = exp(row[c] - lse) }
    }
    return p
}

/// The `count` classes of row `i` (row-major `rows × classes`) with the highest probabilities, highest
/// first, ties by class index: the first `count` of the classes sorted that way, found by insertion into a
/// list of `count` (a row's top labels are few; sorting all its classes cost more than the rest of a decision).
func topClasses(_ p: [Float], row i: Int, classes k: Int, count: Int) -> [Int] {
    let t = min(count, k)
    var top: [Int] = []
    top.reserveCapacity(t)
    guard t > 0 else { return top }
    p.withUnsafeBufferPointer { buffer in
        let row = buffer.baseAddress! + i * k
        for c in 0..<k {
            let v = row[c]
            // Position after every kept class that comes first: higher, or equal (lower index, seen earlier).
            var at = top.count
            while at > 0 && v > row[top[at - 1]] { at -= 1 }
            if at >= t { continue }
            if top.count == t { top.removeLast() }
            top.insert(c, at: at)
        }
    }
    return top
}

/// The ensemble's probabilities: the mean of its components' (one component: itself).
func ensembleMean(_ components: [[Double]]) -> [Double] {
    guard components.count > 1, let first = components.first else { return components.first ?? [] }
    let share = 1 / Double(components.count)
    var mean = [Double](repeating: 0, count: first.count)
    for component in components { for i in mean.indices { mean[i] += component[i] * share } }
    return mean
}

/// Index of the largest value of row `i` of a row-major matrix (first on ties, as numpy's argmax).
func argmax<T: Comparable>(_ p: [T], row i: Int, classes k: Int) -> Int {
    var best = 0
    for c in 1..<max(1, k) where p[i * k + c] > p[i * k + best] { best = c }
    return best
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

/// Calls `body` with the weights of every model in `models`, in order, without copying them.
func withEachWeights<R>(_ models: [LinearModel], _ done: [UnsafeBufferPointer<Float>] = [], _ body: ([UnsafeBufferPointer<Float>]) -> R) -> R {
    guard done.count < models.count else { return body(done) }
    return models[done.count].withWeights { w in withEachWeights(models, done + [w], body) }
}
