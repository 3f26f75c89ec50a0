import Foundation

/// Settings of title and body experts: cross-validation folds and the weights tried for each expert.
public struct ExpertsConfig: Sendable, Equatable, Codable {
    /// Folds of the cross-validation that chooses the experts' weights (grouped: reposts stay together).
    public var folds: Int
    /// The weights tried for each expert (every pair but both zero).
    public var weights: [Double]
    /// Per head, the (title, body) weights to use instead of choosing them; the key "" is for every head
    /// not named. The cross-validation then only reports how they score.
    public var fixed: [String: [Double]]

    /// Creates settings.
    public init(folds: Int = 5, weights: [Double] = [0, 0.25, 0.5, 0.75, 1, 1.5, 2], fixed: [String: [Double]] = [:]) {
        self.folds = folds
        self.weights = weights
        self.fixed = fixed
    }

    /// The (title, body) pairs scored for `head`: its fixed pair, or every pair of `weights` but both zero.
    func pairs(head: String) -> [(title: Double, body: Double)] {
        if let pair = fixed[head] ?? fixed[""], pair.count == 2 { return [(pair[0], pair[1])] }
        return weights.flatMap { a in weights.compactMap { b in a > 0 || b > 0 ? (a, b) : nil } }
    }

    /// Five folds; weights 0 (the expert left out) to 2.
    public static let standard = ExpertsConfig()
}

/// The weights of one classifier's two experts, and how they scored out of fold.
public struct ExpertWeights: Sendable, Equatable, Codable {
    /// Weight of the title expert's log-probabilities.
    public var title: Double
    /// Weight of the body expert's log-probabilities.
    public var body: Double
    /// Mean out-of-fold log-loss at these weights.
    public var cvLogLoss: Double
    /// Out-of-fold accuracy at these weights.
    public var cvAccuracy: Double
}

/// A head's title and body experts: the feature split and each classifier's chosen weights.
public struct HeadExperts: Sendable, Equatable, Codable {
    /// Features of the title expert (`title:` terms and the title's cue features).
    public var titleFeatures: Int
    /// Features of the body expert (the text's terms and cues).
    public var bodyFeatures: Int
    /// Labeled rows the weights were chosen on, and in how many folds.
    public var rows: Int
    public var folds: Int
    /// Naive Bayes' weights.
    public var nb: ExpertWeights
    /// Logistic regression's weights.
    public var lr: ExpertWeights
}

/// Title and body experts: per head and classifier, one model fitted on the title's features and one on the
/// body's (a product of experts), whose log-probabilities add with weights chosen by cross-validation:
///
///     log p(c | x) = α · log p_title(c | x_title) + β · log p_body(c | x_body) + const
///
/// A sum of two linear scorers is linear: the pair becomes one `LinearModel` over all features,
/// `W = [α W_title; β W_body]`, `b = α b_title + β b_body` (the experts' log-sum-exp terms are constant per
/// row and cancel in the softmax), so a bundle and the scoring path are the same as for one model. The
/// vectorizer normalises the title's and the body's features separately (`VectorizerConfig.separateTitleNorm`),
/// so each expert sees rows of unit length.
enum Experts {
    /// The title and body parts of a matrix: the rows of each with columns renumbered within the part.
    struct Split {
        let title: CSRMatrix
        let body: CSRMatrix
        /// Column of the full matrix of each part's column.
        let titleColumns: [Int]
        let bodyColumns: [Int]
        /// The parts' transposes where logistic regression reads them (else empty matrices).
        let titleT: CSRMatrix
        let bodyT: CSRMatrix

        init(_ x: CSRMatrix, isTitle: [Bool], classes: Int, parallel: Parallel) {
            (title, titleColumns) = x.selectingColumns { $0 < isTitle.count && isTitle[$0] }
            (body, bodyColumns) = x.selectingColumns { !($0 < isTitle.count && isTitle[$0]) }
            titleT = LogisticRegression.needsTranspose(rows: title.rowCount, features: title.columnCount, classes: classes)
                ? title.transposed(parallel: parallel) : CSRMatrix(columnCount: title.rowCount)
            bodyT = LogisticRegression.needsTranspose(rows: body.rowCount, features: body.columnCount, classes: classes)
                ? body.transposed(parallel: parallel) : CSRMatrix(columnCount: body.rowCount)
        }
    }

    /// The four fitted experts of one head.
    struct Fitted {
        let nbTitle: LinearModel, nbBody: LinearModel
        let lrTitle: LinearModel, lrBody: LinearModel
        let report: OptimizationReport
    }

    /// Fits both classifiers' title and body experts on the rows with `y ≥ 0`.
    static func fit(_ config: TrainingConfig, _ split: Split, y: [Int32], classes: [String], rowWeights: [Float]?, parallel: Parallel,
                    onIteration: ((Int) -> Void)? = nil) -> Fitted {
        let nbTitle = NaiveBayes.fit(config.naiveBayes, x: split.title, y: y, classes: classes, rowWeights: rowWeights, parallel: parallel)
        let nbBody = NaiveBayes.fit(config.naiveBayes, x: split.body, y: y, classes: classes, rowWeights: rowWeights, parallel: parallel)
        let (lrTitle, titleReport) = LogisticRegression.fit(config.logisticRegression, x: split.title, xT: split.titleT, y: y,
                                                            classes: classes, rowWeights: rowWeights, parallel: parallel, onIteration: onIteration)
        let (lrBody, bodyReport) = LogisticRegression.fit(config.logisticRegression, x: split.body, xT: split.bodyT, y: y,
                                                          classes: classes, rowWeights: rowWeights, parallel: parallel,
                                                          onIteration: { onIteration?(titleReport.iterations + $0) })
        let report = OptimizationReport(
            iterations: titleReport.iterations + bodyReport.iterations, evaluations: titleReport.evaluations + bodyReport.evaluations,
            finalLoss: titleReport.finalLoss + bodyReport.finalLoss, gradientMax: max(titleReport.gradientMax, bodyReport.gradientMax),
            converged: titleReport.converged && bodyReport.converged,
            stopReason: "title expert: \(titleReport.stopReason); body expert: \(bodyReport.stopReason)")
        return Fitted(nbTitle: nbTitle, nbBody: nbBody, lrTitle: lrTitle, lrBody: lrBody, report: report)
    }

    /// One linear model over all `featureCount` features from a title and a body expert and their weights.
    static func combine(title: LinearModel, body: LinearModel, _ split: Split, weights: ExpertWeights, featureCount v: Int) -> LinearModel {
        let k = title.classCount
        var w = [Float](repeating: 0, count: v * k)
        for (part, model, scale) in [(split.titleColumns, title, weights.title), (split.bodyColumns, body, weights.body)] {
            let modelWeights = model.weights
            for (local, column) in part.enumerated() where local < model.featureCount {
                for c in 0..<k { w[column * k + c] = Float(scale * Double(modelWeights[local * k + c])) }
            }
        }
        let b = (0..<k).map { Float(weights.title * Double(title.bias[$0]) + weights.body * Double(body.bias[$0])) }
        return LinearModel(classes: title.classes, featureCount: v, weights: w, bias: b)
    }

    /// Chooses each classifier's expert weights by cross-validation on the labeled rows: per fold the experts
    /// are fitted on the other folds and score the fold; every pair of weights is then scored on the pooled
    /// out-of-fold log-probabilities (no refitting), and the pair with the lowest mean log-loss wins (ties:
    /// higher accuracy, then the earlier pair).
    static func chooseWeights(_ config: TrainingConfig, head: String, _ split: Split, y: [Int32], classes: [String], folds: [Int],
                              rowWeights: [Float]?, parallel: Parallel) -> (nb: ExpertWeights, lr: ExpertWeights, rows: Int) {
        let k = classes.count
        let labeled = y.indices.filter { y[$0] >= 0 }
        // Out-of-fold logits per classifier and expert, row-major over `labeled` order.
        var oof = [[Double]](repeating: [Double](repeating: 0, count: labeled.count * k), count: 4)  // nbT, nbB, lrT, lrB
        let foldCount = (folds.max() ?? 0) + 1
        var position = [Int](repeating: -1, count: y.count)
        for (p, i) in labeled.enumerated() { position[i] = p }
        for f in 0..<foldCount {
            let held = labeled.filter { folds[$0] == f }
            guard !held.isEmpty else { continue }
            var trainY = y
            for i in held { trainY[i] = -1 }
            guard Set(trainY.filter { $0 >= 0 }).count >= 2 else { continue }
            let fitted = fit(config, split, y: trainY, classes: classes, rowWeights: rowWeights, parallel: parallel)
            for (e, (nb, lr, part)) in [(fitted.nbTitle, fitted.lrTitle, split.title), (fitted.nbBody, fitted.lrBody, split.body)].enumerated() {
                let head = HeadModel(name: "", classes: classes, classCounts: [], naiveBayes: nb, logisticRegression: lr, optimization: nil)
                let predictor = Predictor(vectorizer: nil, heads: [head], options: LabelingOptions(algorithm: .ensemble), parallel: parallel)
                let z = predictor.logits(part.rows(held))
                let zNB = predictor.componentLogits(z, component: 0, head: 0), zLR = predictor.componentLogits(z, component: 1, head: 0)
                for (r, i) in held.enumerated() {
                    for c in 0..<k {
                        oof[e][position[i] * k + c] = zNB[r * k + c]
                        oof[2 + e][position[i] * k + c] = zLR[r * k + c]
                    }
                }
            }
        }
        let truth = labeled.map { Int(y[$0]) }
        // The head's own pair per classifier (`HeadSettings`), else the configured pairs.
        let own = config.headSettings?[head]
        func best(_ zTitle: [Double], _ zBody: [Double], fixed: [Double]?) -> ExpertWeights {
            var chosen = ExpertWeights(title: 1, body: 1, cvLogLoss: .infinity, cvAccuracy: 0)
            let pairs = fixed.flatMap { $0.count == 2 ? [(title: $0[0], body: $0[1])] : nil } ?? (config.experts ?? .standard).pairs(head: head)
            for (a, b) in pairs {
                do {
                    let z = zip(zTitle, zBody).map { a * $0 + b * $1 }
                    let p = calibratedSoftmax(z, classes: k, inverseTemperature: 1)
                    let loss = TemperatureScaling.logLoss(p, y: truth, k: k)
                    let right = truth.indices.filter { argmax(p, row: $0, classes: k) == truth[$0] }.count
                    let accuracy = truth.isEmpty ? 0 : Double(right) / Double(truth.count)
                    if loss < chosen.cvLogLoss - 1e-12 || (abs(loss - chosen.cvLogLoss) <= 1e-12 && accuracy > chosen.cvAccuracy) {
                        chosen = ExpertWeights(title: a, body: b, cvLogLoss: loss, cvAccuracy: accuracy)
                    }
                }
            }
            func r(_ x: Double) -> Double { (x * 1_000_000).rounded() / 1_000_000 }
            chosen.cvLogLoss = r(chosen.cvLogLoss)
            chosen.cvAccuracy = r(chosen.cvAccuracy)
            return chosen
        }
        return (best(oof[0], oof[1], fixed: own?.nbExperts), best(oof[2], oof[3], fixed: own?.lrExperts), labeled.count)
    }
}
