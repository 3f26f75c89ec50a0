/// Scores a model on labeled postings, and runs stratified K-fold cross-validation.
public enum Evaluator {
    /// Reports for every head of `model` and each of `algorithms`, on the rows that have that head's label.
    /// Probabilities are those `classify` gives (calibrated, the ensemble's mean); where the bundle has
    /// per-class thresholds for an algorithm, their coverage and accuracy are reported too.
    public static func evaluate(_ model: JobLabelModel, postings: [Posting], algorithms: [Algorithm], threads: Int? = nil) -> EvaluationResult {
        let x = model.vectorizer.transform(postings, parallel: Parallel(threads: threads))
        // Probabilities, not raw scores: the argmax is the label `classify` gives, and its probability
        // feeds calibration and coverage. Every algorithm from one scoring pass.
        let byAlgorithm = Predictor(vectorizer: nil, heads: model.heads, options: LabelingOptions(algorithm: .ensemble),
                                    parallel: Parallel(threads: threads)).probabilitiesByAlgorithm(matrix: x)
        let probabilities = algorithms.map { a in model.heads.indices.map { byAlgorithm[$0][a] ?? [] } }
        var result = EvaluationResult()
        for (h, head) in model.heads.enumerated() {
            let rows = postings.indices.filter { h < postings[$0].labels.count && postings[$0].labels[h] != nil }
            let truth = rows.map { postings[$0].labels[h]! }
            let scale = OrdinalScale.forHead(head.name, labels: head.classes + truth)
            let k = head.classes.count
            for (a, algorithm) in algorithms.enumerated() {
                let p = probabilities[a][h]
                let best = rows.map { head.decide(p, row: $0) }
                let predicted = best.map { head.classes[$0] }
                let confidence = zip(rows, best).map { Double(p[$0 * k + $1]) }
                var report = EvaluationReport(truth: truth, predicted: predicted, confidence: confidence,
                                              labelOrder: head.classes, scale: scale)
                if let calibration = head.calibration {
                    report.manifestThresholds = ThresholdCoverage(
                        targetPrecision: calibration.targetPrecision, thresholds: calibration.algorithm(algorithm).thresholds,
                        predicted: best, confidence: confidence, correct: zip(truth, predicted).map { $0 == $1 })
                }
                result.entries.append((head.name, algorithm.rawValue, report))
            }
        }
        return result
    }

    /// Grouped, stratified K-fold: trains on K−1 folds, predicts the held-out fold, and scores the pooled
    /// out-of-fold predictions. Reposts of one ad stay in one fold (`Folds`); folds are stratified by the first
    /// head's label and shuffled with `config.seed`. `progress` gets each fold (1-based) and its training stages.
    public static func crossValidate(_ config: TrainingConfig, postings: [Posting], folds k: Int, files: [String],
                                     algorithms: [Algorithm], threads: Int? = nil,
                                     progress: ((_ fold: Int, _ stage: TrainingStage) -> Void)? = nil) throws -> EvaluationResult {
        guard k >= 2 else { throw JobLabelError.tooFewFolds(k) }
        guard postings.count >= k else { throw JobLabelError.tooFewRecordsForFolds(records: postings.count, folds: k, files: files) }
        let fold = Folds.of(postings, head: 0, k: k, seed: config.seed)
        // truth/predicted per (head, algorithm), pooled over folds in original row order.
        var predicted = [[[String?]]](repeating: [[String?]](repeating: [String?](repeating: nil, count: postings.count),
                                                              count: algorithms.count), count: config.heads.count)
        var confidence = [[[Double]]](repeating: [[Double]](repeating: [Double](repeating: 0, count: postings.count),
                                                            count: algorithms.count), count: config.heads.count)
        var classOrder = [[String]](repeating: [], count: config.heads.count)
        for f in 0..<k {
            let trainRows = postings.indices.filter { fold[$0] != f }
            let testRows = postings.indices.filter { fold[$0] == f }
            // A head whose labels are too sparse to train in this fold (fewer than two classes) predicts
            // nothing for it: those held-out rows count as errors rather than aborting the run.
            let trainable = config.heads.indices.filter { h in
                Set(trainRows.compactMap { h < postings[$0].labels.count ? postings[$0].labels[h] : nil }).count >= 2
            }
            guard !trainable.isEmpty else {
                throw JobLabelError.foldWithoutTwoClasses(fold: f + 1, folds: k, files: files)
            }
            var foldConfig = config
            foldConfig.heads = trainable.map { config.heads[$0] }
            let foldPostings = trainRows.map { i -> Posting in
                var p = postings[i]
                p.labels = trainable.map { h in h < postings[i].labels.count ? postings[i].labels[h] : nil }
                return p
            }
            let model = try JobLabelModel.train(foldConfig, postings: foldPostings, files: files, threads: threads,
                                                progress: progress.map { report in { report(f + 1, $0) } })
            let x = model.vectorizer.transform(testRows.map { postings[$0] }, parallel: Parallel(threads: threads))
            let byAlgorithm = Predictor(vectorizer: nil, heads: model.heads, options: LabelingOptions(algorithm: .ensemble),
                                        parallel: Parallel(threads: threads)).probabilitiesByAlgorithm(matrix: x)
            for (a, algorithm) in algorithms.enumerated() {
                for (slot, head) in model.heads.enumerated() {
                    let h = trainable[slot], p = byAlgorithm[slot][algorithm] ?? [], classes = head.classes
                    for c in classes where !classOrder[h].contains(c) { classOrder[h].append(c) }
                    for (t, row) in testRows.enumerated() {
                        let best = head.decide(p, row: t)
                        predicted[h][a][row] = classes[best]
                        confidence[h][a][row] = Double(p[t * classes.count + best])
                    }
                }
            }
        }
        var result = EvaluationResult()
        for (h, head) in config.heads.enumerated() {
            let rows = postings.indices.filter { h < postings[$0].labels.count && postings[$0].labels[h] != nil }
            let truth = rows.map { postings[$0].labels[h]! }
            let order = classOrder[h].sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            let scale = OrdinalScale.forHead(head, labels: order + truth)
            for (a, algorithm) in algorithms.enumerated() {
                // A row no fold's model could label has confidence 0: it is an error in the lowest bin,
                // and no threshold covers it.
                let pred = rows.map { predicted[h][a][$0] ?? "(no model in fold)" }
                let conf = rows.map { confidence[h][a][$0] }
                result.entries.append((head, algorithm.rawValue,
                                       EvaluationReport(truth: truth, predicted: pred, confidence: conf, labelOrder: order, scale: scale)))
            }
        }
        return result
    }
}

/// SplitMix64: a tiny, portable, seedable generator (same sequence on every platform).
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    /// Creates a generator.
    public init(seed: UInt64) { state = seed }
    /// Next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
