import Foundation

/// Which classifier produces the labels.
public enum Algorithm: String, Sendable, CaseIterable, Codable {
    /// Multinomial Naive Bayes.
    case nb
    /// Logistic regression.
    case lr
    /// The mean of Naive Bayes' and logistic regression's calibrated probabilities.
    case ensemble

    /// The algorithms with a weight matrix of their own in a bundle (the ensemble combines them).
    public static let classifiers: [Algorithm] = [.nb, .lr]

    /// The classifiers whose probabilities make this algorithm's: itself, or both for the ensemble.
    var components: [Algorithm] { self == .ensemble ? Algorithm.classifiers : [self] }
}

/// How a head picks its label from the probabilities.
public enum DecisionRule: String, Sendable, Equatable, Codable, CaseIterable {
    /// The most probable label.
    case mostProbable = "most-probable"
    /// For a head whose labels are levels of an ordinal scale (seniority): the median level, the lowest
    /// level whose cumulative probability reaches 0.5, which minimises the expected number of levels off
    /// (the Bayes decision for the absolute level error). Other heads take the most probable label.
    case median
}

/// Everything set before training: heads, features and both classifiers' hyper-parameters.
public struct TrainingConfig: Sendable, Equatable, Codable {
    /// Label fields that become classifier heads.
    public var heads: [String]
    /// TF-IDF settings.
    public var vectorizer: VectorizerConfig
    /// Naive Bayes settings.
    public var naiveBayes: NaiveBayesConfig
    /// Logistic regression settings.
    public var logisticRegression: LogisticRegressionConfig
    /// Seed for anything random (cross-validation folds, the calibration's held-out split); training is
    /// deterministic for a given seed.
    public var seed: UInt64
    /// Probability calibration and per-class thresholds fitted at train time.
    public var calibration: CalibrationConfig
    /// Title and body experts per head (nil: one model over all features). See `Experts`.
    public var experts: ExpertsConfig?
    /// How ordinal heads pick their label (`.mostProbable` by default).
    public var ordinalDecision: DecisionRule = .mostProbable
    /// Per head, classifier settings that replace the shared ones for that head (nil: none; `train --autotune`
    /// sets them). Heads not named use `naiveBayes`, `logisticRegression` and `experts` as they are.
    public var headSettings: [String: HeadSettings]?

    /// joblabel's defaults for job postings (see README, "Defaults"): all word tokens (so "C", "R" and
    /// "5" count), unigrams, title terms as their own features with weight 3, seniority cue features with
    /// weight 2, sublinear tf, min-df 2,
    /// Naive Bayes alpha 0.01, logistic regression C 10 with balanced class weights, temperature scaling on
    /// 15 % held-out rows.
    public static let product = TrainingConfig(
        heads: ["role", "seniority"],
        vectorizer: VectorizerConfig(
            tokenizer: TokenizerConfig(lowercase: true, minTokenLength: 1), ngrams: 1,
            titleMode: .namespace, titleWeight: 3, minDF: .count(2), maxDF: .fraction(1.0),
            maxFeatures: nil, sublinearTF: true, cues: CueGroup.allCases, cueWeight: 2),
        naiveBayes: NaiveBayesConfig(alpha: 0.01, fitPrior: true),
        logisticRegression: LogisticRegressionConfig(C: 10, maxIterations: 200, tolerance: 1e-4, classWeight: .balanced),
        seed: 42, calibration: .temperature)

    /// scikit-learn's defaults (`--preset sklearn`); no calibration, as scikit-learn does none.
    public static let sklearn = TrainingConfig(
        heads: ["role", "seniority"], vectorizer: .sklearn, naiveBayes: NaiveBayesConfig(),
        logisticRegression: LogisticRegressionConfig(), seed: 42, calibration: .none)

    /// Creates a configuration.
    public init(heads: [String], vectorizer: VectorizerConfig, naiveBayes: NaiveBayesConfig,
                logisticRegression: LogisticRegressionConfig, seed: UInt64, calibration: CalibrationConfig = .none,
                experts: ExpertsConfig? = nil) {
        self.heads = heads
        self.vectorizer = vectorizer
        self.naiveBayes = naiveBayes
        self.logisticRegression = logisticRegression
        self.seed = seed
        self.calibration = calibration
        self.experts = experts
    }

    /// Creates a configuration with an ordinal decision rule.
    public init(heads: [String], vectorizer: VectorizerConfig, naiveBayes: NaiveBayesConfig,
                logisticRegression: LogisticRegressionConfig, seed: UInt64, calibration: CalibrationConfig,
                experts: ExpertsConfig?, ordinalDecision: DecisionRule) {
        self.init(heads: heads, vectorizer: vectorizer, naiveBayes: naiveBayes, logisticRegression: logisticRegression,
                  seed: seed, calibration: calibration, experts: experts)
        self.ordinalDecision = ordinalDecision
    }

    /// The settings head `head` is trained with: the shared ones with its `headSettings` applied.
    public func resolved(head: String) -> TrainingConfig {
        guard let s = headSettings?[head] else { return self }
        var c = self
        if let v = s.C { c.logisticRegression.C = v }
        if let v = s.classWeight { c.logisticRegression.classWeight = v }
        if let v = s.alpha { c.naiveBayes.alpha = v }
        return c
    }
}

/// Classifier settings of one head that replace the shared ones (nil fields: the shared setting).
public struct HeadSettings: Sendable, Equatable, Codable {
    /// Logistic regression's C.
    public var C: Double?
    /// Logistic regression's class weights.
    public var classWeight: ClassWeight?
    /// Naive Bayes' alpha.
    public var alpha: Double?
    /// With title and body experts: logistic regression's (title, body) weights instead of weights chosen by
    /// cross-validation.
    public var lrExperts: [Double]?
    /// With title and body experts: Naive Bayes' (title, body) weights.
    public var nbExperts: [Double]?

    private enum CodingKeys: String, CodingKey {
        case C = "c", classWeight, alpha, lrExperts, nbExperts
    }

    /// Creates settings.
    public init(C: Double? = nil, classWeight: ClassWeight? = nil, alpha: Double? = nil, lrExperts: [Double]? = nil,
                nbExperts: [Double]? = nil) {
        self.C = C
        self.classWeight = classWeight
        self.alpha = alpha
        self.lrExperts = lrExperts
        self.nbExperts = nbExperts
    }
}

/// The fitted classifiers of one label field.
public struct HeadModel: Sendable {
    /// Label field name, e.g. "seniority".
    public let name: String
    /// Class labels, sorted.
    public let classes: [String]
    /// Training rows per class.
    public let classCounts: [Int]
    /// Naive Bayes as a linear scorer.
    public let naiveBayes: LinearModel
    /// Logistic regression.
    public let logisticRegression: LinearModel
    /// How logistic regression's optimisation ended (nil when loaded from an older bundle).
    public let optimization: OptimizationReport?
    /// Temperatures, held-out figures and per-class thresholds (nil: not calibrated, T = 1).
    public let calibration: HeadCalibration?
    /// Why the head is not calibrated although calibration was asked for (too few rows), else nil.
    public let calibrationNote: String?
    /// The title and body experts whose weighted sum each classifier is (nil: one model).
    public let experts: HeadExperts?
    /// How the head picks its label: class indices from the lowest level to the highest when it decides by
    /// the median level, nil when by the most probable label.
    let levelOrder: [Int]?

    /// Creates a head.
    public init(name: String, classes: [String], classCounts: [Int], naiveBayes: LinearModel,
                logisticRegression: LinearModel, optimization: OptimizationReport?,
                calibration: HeadCalibration? = nil, calibrationNote: String? = nil, experts: HeadExperts? = nil,
                decision: DecisionRule = .mostProbable) {
        self.name = name
        self.classes = classes
        self.classCounts = classCounts
        self.naiveBayes = naiveBayes
        self.logisticRegression = logisticRegression
        self.optimization = optimization
        self.calibration = calibration
        self.calibrationNote = calibrationNote
        self.experts = experts
        if decision == .median, let scale = OrdinalScale.forHead(name, labels: classes) {
            let levels = classes.map { scale.level($0) }
            levelOrder = levels.allSatisfy({ $0 != nil }) ? classes.indices.sorted { levels[$0]! < levels[$1]! } : nil
        } else {
            levelOrder = nil
        }
    }

    /// The class this head gives row `i` of row-major probabilities `p` (`classes.count` per row): the most
    /// probable (first on ties), or the median level (see `DecisionRule`). The one place labels are picked.
    func decide<T: BinaryFloatingPoint>(_ p: [T], row i: Int) -> Int {
        let k = classes.count
        guard let order = levelOrder else { return argmax(p, row: i, classes: k) }
        var total = 0.0
        for c in 0..<k { total += Double(p[i * k + c]) }
        var cumulative = 0.0
        for c in order {
            cumulative += Double(p[i * k + c])
            if cumulative >= total / 2 { return c }
        }
        return order.last ?? 0
    }

    /// The linear classifier of `algorithm` (`.nb` or `.lr`; the ensemble has none of its own and gets
    /// logistic regression's).
    public func model(_ algorithm: Algorithm) -> LinearModel {
        algorithm == .nb ? naiveBayes : logisticRegression
    }

    /// The temperature `classify` divides `algorithm`'s scores by (1 when not calibrated or for the ensemble).
    public func temperature(_ algorithm: Algorithm) -> Double {
        guard algorithm != .ensemble, let t = calibration?.algorithm(algorithm).temperature, t.isFinite, t > 0 else { return 1 }
        return t
    }
}

/// A step of training, reported to the `progress` callback of `JobLabelModel.train`.
public enum TrainingStage: Sendable, Equatable {
    /// Fitting the vocabulary and vectorizing every posting.
    case vectorizing(postings: Int)
    /// Choosing a head's title and body experts' weights by cross-validation with `folds` folds.
    case experts(head: String, folds: Int)
    /// Fitting Naive Bayes for a head (`heldOut`: on the training part of the calibration split).
    case naiveBayes(head: String, heldOut: Bool)
    /// Logistic regression for a head: Newton iteration `iteration` of at most `maxIterations`.
    case logisticRegression(head: String, heldOut: Bool, iteration: Int, maxIterations: Int)
    /// Fitting temperatures and thresholds of a head on its held-out rows.
    case calibrating(head: String, rows: Int)
    /// Training-set figures of a head.
    case scoring(head: String)
    /// Searching the settings (`Autotune`): trying setting `trial` of at most `of`, described by `setting`;
    /// `best` is the best cross-validated score so far (nil before the first).
    case autotune(trial: Int, of: Int, setting: String, best: Double?)
}

/// Accuracy and F1 figures kept in the manifest.
public struct MetricsSummary: Sendable, Equatable, Codable {
    /// Rows scored.
    public var n: Int
    /// Accuracy.
    public var accuracy: Double
    /// Macro-averaged F1.
    public var macroF1: Double
    /// Support-weighted F1.
    public var weightedF1: Double

    /// Summarises a report.
    public init(_ r: EvaluationReport) {
        n = r.n; accuracy = r.accuracy; macroF1 = r.macroF1; weightedF1 = r.weightedF1
    }
}

/// Facts about a training run, kept in the manifest. Nothing here depends on the clock or the machine, so
/// the same corpus and settings give a byte-identical bundle.
public struct TrainingInfo: Sendable, Equatable, Codable {
    /// Input files as given.
    public var files: [String]
    /// Records read.
    public var documents: Int
    /// SHA-256 over the parsed records (id, title, text and head labels of every row, in order).
    public var sha256: String
    /// Training-set figures per head and algorithm.
    public var metrics: [String: [String: MetricsSummary]]

    /// Creates the facts of a training run.
    public init(files: [String], documents: Int, sha256: String, metrics: [String: [String: MetricsSummary]]) {
        self.files = files
        self.documents = documents
        self.sha256 = sha256
        self.metrics = metrics
    }
}

/// A trained joblabel model: one TF-IDF vectorizer shared by all heads, and per head NB and LR.
public struct JobLabelModel: Sendable {
    /// Settings it was trained with.
    public let config: TrainingConfig
    /// The fitted vectorizer.
    public let vectorizer: TfidfVectorizer
    /// One entry per head, in `config.heads` order.
    public let heads: [HeadModel]
    /// Facts about the training run.
    public let info: TrainingInfo
    /// Identifier shared by the manifest and the weights file of one training.
    public let trainingID: [UInt8]
    /// The search that chose the settings (`train --autotune`), nil when they were given.
    public var autotune: AutotuneReport?
    /// Predictors built on first use.
    private let predictors = PredictorCache()

    /// Creates a model from its parts (used by the loader).
    public init(config: TrainingConfig, vectorizer: TfidfVectorizer, heads: [HeadModel], info: TrainingInfo, trainingID: [UInt8]) {
        self.config = config
        self.vectorizer = vectorizer
        self.heads = heads
        self.info = info
        self.trainingID = trainingID
    }

    /// Trains on `postings` (their `labels` aligned with `config.heads`) with `threads` worker threads (nil:
    /// every core; the result does not depend on it); `weights` (one per posting, nil: all 1) weigh each
    /// posting in both classifiers' fits (e.g. the shipped corpus added to a board's own postings);
    /// `progress`, when given, is called on the calling thread at each step and Newton iteration.
    public static func train(_ config: TrainingConfig, postings: [Posting], files: [String], weights: [Float]? = nil,
                             threads: Int? = nil, progress: ((TrainingStage) -> Void)? = nil) throws -> JobLabelModel {
        let rowWeights = weights.flatMap { w in w.count == postings.count && w.contains(where: { $0 != 1 }) ? w : nil }
        let parallel = Parallel(threads: threads)
        var config = config
        if config.experts != nil {
            // The experts read the title's features apart from the body's, each normalised on its own.
            config.vectorizer.titleMode = .namespace
            config.vectorizer.separateTitleNorm = true
        }
        guard !postings.isEmpty else {
            throw JobLabelError.noRecords(files: files)
        }
        // Settings a bundle may not hold, and problems too large for this machine, are refused before fitting.
        try TrainingMemory.preflight(config, postings: postings)
        // The data fingerprint (SHA-256 over every record: 0.15 s for 20 MB, serial) is hashed on a thread of
        // its own while the model is fitted.
        let fingerprinting = Pending(parallel) { fingerprintPostings(postings, heads: config.heads.count, weights: rowWeights) }
        progress?(.vectorizing(postings: postings.count))
        let (vectorizer, x): (TfidfVectorizer, CSRMatrix)
        do {
            (vectorizer, x) = try TfidfVectorizer.fitTransform(config.vectorizer, postings, parallel: parallel)
        } catch let e as EmptyVocabularyError {
            let (minDF, maxDF) = (config.vectorizer.minDF.description, config.vectorizer.maxDF.description)
            switch e.kind {
            case .conflictingBounds: throw JobLabelError.conflictingDocumentFrequencyBounds(minDF: minDF, maxDF: maxDF)
            case .prunedEverything: throw JobLabelError.everyTermPruned(terms: e.terms, minDF: minDF, maxDF: maxDF, files: files)
            case .noTokens: throw JobLabelError.noTokens(files: files)
            }
        }
        // xᵀ only when some head's logistic regression reads it (not for small vocabularies with many rows).
        let needsTranspose = config.heads.indices.contains { h in
            let classes = Set(postings.compactMap { $0.labels.indices.contains(h) ? $0.labels[h] : nil }).count
            return LogisticRegression.needsTranspose(rows: x.rowCount, features: x.columnCount, classes: classes)
        }
        let xT = needsTranspose && config.experts == nil ? x.transposed(parallel: parallel) : CSRMatrix(columnCount: x.rowCount)
        let titleMask = (vectorizer.normGroup ?? []).map { $0 == 1 }
        var heads: [HeadModel] = []
        var metrics: [String: [String: MetricsSummary]] = [:]
        for (h, name) in config.heads.enumerated() {
            let (classes, y) = encodeLabels(postings.map { $0.labels.indices.contains(h) ? $0.labels[h] : nil })
            guard !classes.isEmpty else {
                throw JobLabelError.noLabeledRecords(head: name, files: files)
            }
            guard classes.count >= 2 else {
                throw JobLabelError.singleClass(head: name, label: classes[0], files: files)
            }
            var counts = [Int](repeating: 0, count: classes.count)
            for c in y where c >= 0 { counts[Int(c)] += 1 }
            let maxIterations = config.logisticRegression.maxIterations
            // The head's own classifier settings, where it has some (`headSettings`).
            let headConfig = config.resolved(head: name)
            // Title and body experts: the feature split, and each classifier's weights chosen once by
            // cross-validation on the head's labeled rows.
            var experts: (split: Experts.Split, info: HeadExperts)?
            if let settings = config.experts {
                let split = Experts.Split(x, isTitle: titleMask, classes: classes.count, parallel: parallel)
                progress?(.experts(head: name, folds: settings.folds))
                let folds = Folds.of(postings, head: h, k: settings.folds, seed: config.seed &+ UInt64(h))
                let (nbWeights, lrWeights, rows) = Experts.chooseWeights(headConfig, head: name, split, y: y, classes: classes, folds: folds,
                                                                         rowWeights: rowWeights, parallel: parallel)
                experts = (split, HeadExperts(titleFeatures: split.titleColumns.count, bodyFeatures: split.bodyColumns.count,
                                              rows: rows, folds: settings.folds, nb: nbWeights, lr: lrWeights))
            }
            /// Naive Bayes and logistic regression fitted on the rows with a label in `trainY`: one model each,
            /// or each the weighted sum of its title and body experts.
            func fitClassifiers(_ trainY: [Int32], initial: LinearModel?, heldOut: Bool) -> (LinearModel, LinearModel, OptimizationReport) {
                progress?(.naiveBayes(head: name, heldOut: heldOut))
                let onIteration: (Int) -> Void = { progress?(.logisticRegression(head: name, heldOut: heldOut, iteration: $0, maxIterations: maxIterations)) }
                if let (split, info) = experts {
                    progress?(.logisticRegression(head: name, heldOut: heldOut, iteration: 0, maxIterations: maxIterations))
                    let fitted = Experts.fit(headConfig, split, y: trainY, classes: classes, rowWeights: rowWeights, parallel: parallel,
                                             onIteration: onIteration)
                    let v = x.columnCount
                    return (Experts.combine(title: fitted.nbTitle, body: fitted.nbBody, split, weights: info.nb, featureCount: v),
                            Experts.combine(title: fitted.lrTitle, body: fitted.lrBody, split, weights: info.lr, featureCount: v),
                            fitted.report)
                }
                let nb = NaiveBayes.fit(headConfig.naiveBayes, x: x, y: trainY, classes: classes, rowWeights: rowWeights, parallel: parallel)
                progress?(.logisticRegression(head: name, heldOut: heldOut, iteration: 0, maxIterations: maxIterations))
                let (lr, report) = LogisticRegression.fit(headConfig.logisticRegression, x: x, xT: xT, y: trainY, classes: classes, initial: initial,
                                                          rowWeights: rowWeights, parallel: parallel, onIteration: onIteration)
                return (nb, lr, report)
            }
            // Calibration: NB and LR fitted on the rows outside a held-out split, the temperatures and
            // thresholds fitted on the split; the final LR then starts from that LR, which is close.
            var calibration: HeadCalibration?
            var calibrationNote: String?
            var initialLR: LinearModel?
            if config.calibration.method == .temperature {
                let fraction = config.calibration.heldOutFraction
                let heldOut = TemperatureScaling.heldOutRows(y, classCount: classes.count, fraction: fraction,
                                                             seed: config.seed &+ UInt64(h))
                let heldOutClasses = Set(heldOut.map { y[$0] }).count
                if let reason = TemperatureScaling.tooSmall(heldOut: heldOut.count, classes: heldOutClasses,
                                                            labeled: counts.reduce(0, +), fraction: fraction) {
                    calibrationNote = reason
                } else {
                    var trainY = y
                    for i in heldOut { trainY[i] = -1 }
                    let (nbPart, lrPart, _) = fitClassifiers(trainY, initial: nil, heldOut: true)
                    progress?(.calibrating(head: name, rows: heldOut.count))
                    calibration = TemperatureScaling.calibrate(naiveBayes: nbPart, logisticRegression: lrPart, heldOut: x.rows(heldOut),
                                                               y: heldOut.map { Int(y[$0]) }, targetPrecision: config.calibration.targetPrecision, parallel: parallel)
                    if calibration == nil {
                        calibrationNote = "the held-out models gave non-finite scores (the settings are too extreme), so probabilities are not calibrated (T = 1)"
                    } else if lrPart.weights.allSatisfy({ $0.isFinite }) && lrPart.bias.allSatisfy({ $0.isFinite }) {
                        initialLR = lrPart
                    }
                }
            }
            let (nb, lr, report) = fitClassifiers(y, initial: initialLR, heldOut: false)
            for m in [nb, lr] where !(m.weights.allSatisfy { $0.isFinite } && m.bias.allSatisfy { $0.isFinite }) {
                throw JobLabelError.nonFiniteWeights(head: name)
            }
            let head = HeadModel(name: name, classes: classes, classCounts: counts, naiveBayes: nb,
                                 logisticRegression: lr, optimization: report, calibration: calibration,
                                 calibrationNote: calibrationNote, experts: experts?.info, decision: config.ordinalDecision)
            heads.append(head)
            progress?(.scoring(head: name))
            let labeled = y.indices.filter { y[$0] >= 0 }
            let sub = labeled.count == x.rowCount ? x : x.rows(labeled)
            let truth = labeled.map { classes[Int(y[$0])] }
            var perAlgorithm: [String: MetricsSummary] = [:]
            // One scoring pass for both classifiers; the ensemble is the mean of their calibrated probabilities.
            let probabilities = Predictor(vectorizer: nil, heads: [head], options: LabelingOptions(algorithm: .ensemble),
                                          parallel: parallel).probabilitiesByAlgorithm(matrix: sub)[0]
            for algorithm in Algorithm.allCases {
                let p = probabilities[algorithm] ?? []
                let predicted = (0..<sub.rowCount).map { classes[head.decide(p, row: $0)] }
                perAlgorithm[algorithm.rawValue] = MetricsSummary(EvaluationReport(truth: truth, predicted: predicted, labelOrder: classes))
            }
            metrics[name] = perAlgorithm
        }
        let fingerprint = fingerprinting.wait()
        var idHash = SHA256()
        idHash.update(Array(fingerprint.utf8))
        // The settings as canonical JSON (sorted keys), so the id depends on the settings alone.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        idHash.update((try? encoder.encode(config)).map(Array.init) ?? Array(String(describing: config).utf8))
        let trainingID = Array(idHash.finalize().prefix(16))
        let info = TrainingInfo(files: files, documents: postings.count, sha256: fingerprint, metrics: metrics)
        return JobLabelModel(config: config, vectorizer: vectorizer, heads: heads, info: info, trainingID: trainingID)
    }

    /// The same model restricted to the named heads, in that order (names must exist).
    public func selectingHeads(_ names: [String]) -> JobLabelModel {
        let picked = names.compactMap { name in heads.first { $0.name == name } }
        var c = config
        c.heads = picked.map(\.name)
        return JobLabelModel(config: c, vectorizer: vectorizer, heads: picked, info: info, trainingID: trainingID)
    }

    /// A predictor with `options` and no thresholds (built once per model and options, then shared).
    func predictor(_ options: LabelingOptions) -> Predictor {
        predictors.predictor(vectorizer: vectorizer, heads: heads, options: options)
    }
}

/// The predictors of a model, built on first use and shared (a model is immutable). A predictor holds the
/// model's vectorizer and heads, not the model, so nothing here refers back to the cache.
final class PredictorCache: @unchecked Sendable {
    private var predictors: [LabelingOptions: Predictor] = [:]
    private let lock = NSLock()

    func predictor(vectorizer: TfidfVectorizer, heads: [HeadModel], options: LabelingOptions) -> Predictor {
        lock.lock()
        defer { lock.unlock() }
        if let p = predictors[options] { return p }
        let p = Predictor(vectorizer: vectorizer, heads: heads, options: options, parallel: Parallel())
        predictors[options] = p
        return p
    }
}

/// SHA-256 over the parsed records, so the same postings give the same fingerprint whatever the file format;
/// with row weights, each record's weight too.
func fingerprintPostings(_ postings: [Posting], heads: Int, weights: [Float]? = nil) -> String {
    var h = SHA256()
    for (i, p) in postings.enumerated() {
        if let weights { h.update(Array(String(weights[i]).utf8)); h.update([2]) }
        h.update(Array(p.id.utf8)); h.update([0])
        h.update(p.title); h.update([0])
        h.update(p.text); h.update([0])
        for i in 0..<heads {
            if i < p.labels.count, let l = p.labels[i] { h.update(Array(l.utf8)) }
            h.update([1])
        }
    }
    return h.finalizeHex()
}
