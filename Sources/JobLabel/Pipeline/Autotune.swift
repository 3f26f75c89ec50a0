import Foundation

/// The settings search of `train --autotune`: grouped K-fold cross-validation of vectorizer and classifier
/// settings on the training postings, within a time budget.
///
/// Vectorizer settings (n-grams, min-df, sublinear tf, the title's weight or title and body experts) are
/// shared by all heads and scored by the mean over heads of each head's best logistic regression score;
/// classifier settings (logistic regression's C and class weights scored on logistic regression, Naive
/// Bayes' alpha scored on Naive Bayes; with experts, each trial's title and body weights chosen by
/// out-of-fold log-loss) are chosen per head. A vectorizer setting is fitted and applied once per fold and
/// reused by every classifier setting tried on it. Scores are those of the pooled out-of-fold decisions (the
/// head's decision rule; T = 1).
///
/// Order (deterministic, a coordinate ascent that ends as a full grid search):
/// 1. the starting settings' vectorizer setting: each head's starting classifier settings, then every other
///    classifier setting of the grid, nearest the starting one first;
/// 2. the untried vectorizer setting nearest the best so far (fewest dimensions changed, then fewest steps,
///    then grid order), scored with each head's best classifier settings; when it beats the best, every
///    other classifier setting is tried on it too and it becomes the best; repeated until every vectorizer
///    setting is scored;
/// 3. the classifier settings not yet tried on each vectorizer setting, nearest the best setting first.
///
/// The budget is checked before each trial and each fold's vectorizing; when it is spent the best so far
/// wins. With a budget large enough to finish, the result is the best of the whole grid (ties: the first
/// tried) and the same on every run and thread count.
public enum Autotune {
    /// Searches the settings for `base` (heads, calibration and every setting outside the grid stay as they
    /// are) on `postings` (with row `weights`, nil: all 1). Returns the settings to train with and the
    /// report. `clock` gives seconds (monotonic); `progress` gets an `.autotune` stage before each trial.
    public static func search(_ base: TrainingConfig, postings: [Posting], weights: [Float]? = nil, settings: AutotuneConfig,
                              threads: Int? = nil, clock: @escaping @Sendable () -> Double = { Autotune.monotonicSeconds() },
                              progress: ((TrainingStage) -> Void)? = nil) -> (config: TrainingConfig, report: AutotuneReport) {
        let search = Search(base, postings: postings, weights: weights, settings: settings, parallel: Parallel(threads: threads),
                            clock: clock, progress: progress)
        search.run()
        return search.result()
    }

    /// Seconds of a monotonic clock.
    public static func monotonicSeconds() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }
}

extension JobLabelModel {
    /// Searches the settings (`Autotune.search`), then trains with the best on all of `postings`; the model
    /// keeps the search's report (`autotune`).
    public static func train(_ config: TrainingConfig, postings: [Posting], files: [String], weights: [Float]? = nil,
                             autotune: AutotuneConfig, threads: Int? = nil,
                             clock: @escaping @Sendable () -> Double = { Autotune.monotonicSeconds() },
                             progress: ((TrainingStage) -> Void)? = nil) throws -> JobLabelModel {
        guard !postings.isEmpty else { throw JobLabelError.noRecords(files: files) }
        let (chosen, report) = Autotune.search(config, postings: postings, weights: weights, settings: autotune, threads: threads,
                                               clock: clock, progress: progress)
        var model = try train(chosen, postings: postings, files: files, weights: weights, threads: threads, progress: progress)
        model.autotune = report
        return model
    }
}

/// A head as the search scores it.
private struct SearchHead {
    let name: String
    let classes: [String]
    /// Class index per posting (-1: no label).
    let y: [Int32]
    /// Postings with a label.
    let labeled: [Int]
    /// Picks labels as the trained head will (the head's decision rule).
    let decider: HeadModel
}

/// One fold of one vectorizer setting: the vectorizer fitted on the other folds' postings.
private struct SearchFold {
    let train: [Int]
    let heldOut: [Int]
    let x: CSRMatrix
    /// `x` transposed where some head's logistic regression reads it (else empty).
    let xT: CSRMatrix
    let test: CSRMatrix
    /// Per feature: a title feature (experts only).
    let isTitle: [Bool]
}

/// The folds of one vectorizer setting, with the experts' feature splits made on first use.
private final class SearchVector {
    let position: Int
    let folds: [SearchFold]
    var splits: [[Int: Experts.Split]]
    var testParts: [(title: CSRMatrix, body: CSRMatrix)?]

    init(position: Int, folds: [SearchFold]) {
        self.position = position
        self.folds = folds
        splits = [[Int: Experts.Split]](repeating: [:], count: folds.count)
        testParts = [(title: CSRMatrix, body: CSRMatrix)?](repeating: nil, count: folds.count)
    }
}

/// Fits a classifier on a fold's rows: (x, xᵀ or empty, labels, row weights, threads) -> model.
private typealias Fit = (CSRMatrix, CSRMatrix, [Int32], [Float]?, Parallel) -> LinearModel

/// Best trial of one head and classifier on one vectorizer setting.
private struct BestTrial {
    let setting: Int
    let score: Double
    let experts: [Double]?
}

private final class Search {
    let base: TrainingConfig
    let postings: [Posting]
    let weights: [Float]?
    let settings: AutotuneConfig
    let grid: AutotuneGrid
    let parallel: Parallel
    let clock: @Sendable () -> Double
    let progress: ((TrainingStage) -> Void)?
    let start: Double
    var heads: [SearchHead] = []
    var fold: [Int] = []
    var folds = 0
    var note: String?
    var stopped = false

    var vectors: [AutotuneVector] = []
    /// Grid index of each entry of `vectors`, and back.
    var gridIndex: [Int] = []
    var position: [Int: Int] = [:]
    var trials: [AutotuneTrial] = []
    /// Per vector position and head: settings tried and the best trial, per classifier.
    var lrTried: [[Set<Int>]] = [], nbTried: [[Set<Int>]] = []
    var lrBest: [[BestTrial?]] = [], nbBest: [[BestTrial?]] = []
    /// Per head, the classifier settings tried first on a new vectorizer setting (the best on the best one).
    var lrIncumbent: [Int] = [], nbIncumbent: [Int] = []
    var best: Int?
    var bestScore = -Double.infinity
    var candidates = 0

    init(_ base: TrainingConfig, postings: [Posting], weights: [Float]?, settings: AutotuneConfig, parallel: Parallel,
         clock: @escaping @Sendable () -> Double, progress: ((TrainingStage) -> Void)?) {
        self.base = base
        self.postings = postings
        self.weights = weights.flatMap { $0.count == postings.count && $0.contains(where: { $0 != 1 }) ? $0 : nil }
        self.settings = settings
        self.grid = settings.grid.including(base)
        self.parallel = parallel
        self.clock = clock
        self.progress = progress
        self.start = clock()
    }

    var vectorCount: Int { grid.vectorSizes.reduce(1, *) }

    /// True once the budget is spent (checked before each unit of work).
    func outOfTime() -> Bool {
        if !stopped && clock() - start >= settings.seconds { stopped = true }
        return stopped
    }

    // MARK: Setup

    func prepareHeads() -> Bool {
        for (h, name) in base.heads.enumerated() {
            let (classes, y) = encodeLabels(postings.map { h < $0.labels.count ? $0.labels[h] : nil })
            guard classes.count >= 2 else { continue }
            let placeholder = LinearModel(classes: classes, featureCount: 0, weights: [], bias: [Float](repeating: 0, count: classes.count))
            heads.append(SearchHead(name: name, classes: classes, y: y, labeled: y.indices.filter { y[$0] >= 0 },
                                    decider: HeadModel(name: name, classes: classes, classCounts: [], naiveBayes: placeholder,
                                                       logisticRegression: placeholder, optimization: nil, decision: base.ordinalDecision)))
        }
        guard !heads.isEmpty else {
            note = "no head has two or more labels to tell apart; the starting settings are kept"
            return false
        }
        let groups = Set(postings.map(Folds.groupKey)).count
        folds = min(settings.folds, groups)
        guard folds >= 2 else {
            folds = 0
            note = "too few distinct postings (\(groups)) to cross-validate; the starting settings are kept"
            return false
        }
        fold = Folds.of(postings, head: 0, k: folds, seed: base.seed)
        candidates = vectorCount * heads.count * (grid.lrSizes.reduce(1, *) + grid.alpha.count)
        lrIncumbent = heads.map { h in
            let c = base.resolved(head: h.name).logisticRegression
            return AutotuneGrid.index([grid.C.firstIndex(of: c.C) ?? 0, grid.classWeight.firstIndex(of: c.classWeight) ?? 0], sizes: grid.lrSizes)
        }
        nbIncumbent = heads.map { h in grid.alpha.firstIndex(of: base.resolved(head: h.name).naiveBayes.alpha) ?? 0 }
        return true
    }

    /// The vectorizer settings of grid point `index`.
    func vectorizerConfig(_ v: AutotuneVector) -> VectorizerConfig {
        var c = base.vectorizer
        c.ngrams = v.ngrams
        c.minDF = v.minDF
        c.sublinearTF = v.sublinearTF
        c.separateTitleNorm = false
        switch v.title {
        case .concatenate: c.titleMode = .concatenate
        case .weight(let w): c.titleMode = .namespace; c.titleWeight = w
        case .experts: c.titleMode = .namespace; c.separateTitleNorm = true
        }
        return c
    }

    /// Registers grid point `index` in the report (once) and returns its position.
    func register(_ index: Int) -> Int {
        if let p = position[index] { return p }
        let p = vectors.count
        position[index] = p
        gridIndex.append(index)
        vectors.append(grid.vector(index))
        lrTried.append([Set<Int>](repeating: [], count: heads.count))
        nbTried.append([Set<Int>](repeating: [], count: heads.count))
        lrBest.append([BestTrial?](repeating: nil, count: heads.count))
        nbBest.append([BestTrial?](repeating: nil, count: heads.count))
        return p
    }

    /// Fits the vectorizer of grid point `index` on each fold's training postings and applies it to the
    /// held-out ones; nil when out of time or when the setting fails (recorded in the report).
    func vectorize(_ index: Int) -> SearchVector? {
        let p = register(index)
        guard vectors[p].failed == nil else { return nil }
        let config = vectorizerConfig(vectors[p])
        var out: [SearchFold] = []
        for f in 0..<folds {
            guard !outOfTime() else { return nil }
            let train = postings.indices.filter { fold[$0] != f }
            let heldOut = postings.indices.filter { fold[$0] == f }
            let vectorizer: TfidfVectorizer, x: CSRMatrix
            do {
                (vectorizer, x) = try TfidfVectorizer.fitTransform(config, train.map { postings[$0] }, parallel: parallel)
            } catch let e as EmptyVocabularyError {
                switch e.kind {
                case .prunedEverything: vectors[p].failed = "min-df \(config.minDF) pruned every term of fold \(f + 1)"
                case .conflictingBounds: vectors[p].failed = "min-df \(config.minDF) is above max-df \(config.maxDF)"
                case .noTokens: vectors[p].failed = "no tokens in fold \(f + 1)"
                }
                return nil
            } catch {
                vectors[p].failed = "\(error)"
                return nil
            }
            let test = vectorizer.transform(heldOut.map { postings[$0] }, parallel: parallel)
            let transpose = vectors[p].title != .experts && heads.contains {
                LogisticRegression.needsTranspose(rows: x.rowCount, features: x.columnCount, classes: $0.classes.count)
            }
            out.append(SearchFold(train: train, heldOut: heldOut, x: x,
                                  xT: transpose ? x.transposed(parallel: parallel) : CSRMatrix(columnCount: x.rowCount),
                                  test: test, isTitle: (vectorizer.normGroup ?? []).map { $0 == 1 }))
        }
        return SearchVector(position: p, folds: out)
    }

    // MARK: Trials

    /// Out-of-fold logits of head `h` (row-major postings × classes; `predicted[i]` false where no fold model
    /// could be fitted), from the model `fit` makes of each fold's part (`part`: 0 all features, 1 the
    /// title's, 2 the body's). The folds are fitted concurrently, each on one thread (a fit's result does not
    /// depend on its threads).
    func outOfFold(_ data: SearchVector, head h: Int, part: Int, fit: Fit) -> (z: [Double], predicted: [Bool]) {
        let head = heads[h], k = head.classes.count
        if part != 0 {
            for (f, fold) in data.folds.enumerated() {
                if data.splits[f][h] == nil { data.splits[f][h] = Experts.Split(fold.x, isTitle: fold.isTitle, classes: k, parallel: parallel) }
                if data.testParts[f] == nil {
                    let isTitle = fold.isTitle
                    data.testParts[f] = (fold.test.selectingColumns { $0 < isTitle.count && isTitle[$0] }.matrix,
                                         fold.test.selectingColumns { !($0 < isTitle.count && isTitle[$0]) }.matrix)
                }
            }
        }
        let inner = Parallel(threads: max(1, parallel.threads / max(1, data.folds.count)))
        let weights = self.weights
        let perFold: [[Double]?] = parallel.mapRanges(count: data.folds.count, blockSize: 1) { range in
            let f = range.lowerBound, fold = data.folds[f]
            let y = fold.train.map { head.y[$0] }
            guard Set(y.filter { $0 >= 0 }).count >= 2 else { return nil }
            let rowWeights = weights.map { w in fold.train.map { w[$0] } }
            let (x, xT, test): (CSRMatrix, CSRMatrix, CSRMatrix)
            if part == 0 {
                (x, xT, test) = (fold.x, fold.xT, fold.test)
            } else {
                let split = data.splits[f][h]!, parts = data.testParts[f]!
                (x, xT, test) = part == 1 ? (split.title, split.titleT, parts.title) : (split.body, split.bodyT, parts.body)
            }
            let model = fit(x, xT, y, rowWeights, inner)
            let scorer = HeadModel(name: head.name, classes: head.classes, classCounts: [], naiveBayes: model,
                                   logisticRegression: model, optimization: nil)
            let predictor = Predictor(vectorizer: nil, heads: [scorer], options: LabelingOptions(algorithm: .lr), parallel: inner)
            return predictor.componentLogits(predictor.logits(test), component: 0, head: 0)
        }
        var z = [Double](repeating: 0, count: postings.count * k)
        var predicted = [Bool](repeating: false, count: postings.count)
        for (f, fold) in data.folds.enumerated() {
            guard let logits = perFold[f] else { continue }
            for (t, i) in fold.heldOut.enumerated() where head.y[i] >= 0 {
                for c in 0..<k { z[i * k + c] = logits[t * k + c] }
                predicted[i] = true
            }
        }
        return (z, predicted)
    }

    /// The metric of head `h`'s decisions from out-of-fold logits (rows without a fold model count as errors).
    func score(head h: Int, z: [Double], predicted: [Bool]) -> Double {
        let head = heads[h], k = head.classes.count
        let p = calibratedSoftmax(z, classes: k, inverseTemperature: 1)
        let truth = head.labeled.map { head.classes[Int(head.y[$0])] }
        let guesses = head.labeled.map { i in predicted[i] ? head.classes[head.decider.decide(p, row: i)] : "\u{0}(no model in fold)" }
        let report = EvaluationReport(truth: truth, predicted: guesses, labelOrder: head.classes)
        return settings.metric == .accuracy ? report.accuracy : report.macroF1
    }

    /// Scores one classifier setting of head `h` on `data`: its metric, and with experts the chosen weights.
    func evaluate(_ data: SearchVector, head h: Int, fit: Fit) -> (score: Double, experts: [Double]?) {
        guard vectors[data.position].title == .experts else {
            let (z, predicted) = outOfFold(data, head: h, part: 0, fit: fit)
            return (score(head: h, z: z, predicted: predicted), nil)
        }
        // Title and body experts: each fitted on its part; the pair of weights with the lowest out-of-fold
        // log-loss (ties: higher accuracy, then the earlier pair) makes the decisions.
        let head = heads[h], k = head.classes.count
        let (zTitle, predicted) = outOfFold(data, head: h, part: 1, fit: fit)
        let (zBody, _) = outOfFold(data, head: h, part: 2, fit: fit)
        let rows = head.labeled.filter { predicted[$0] }
        let truth = rows.map { Int(head.y[$0]) }
        var chosen: (pair: [Double], loss: Double, accuracy: Double)?
        for (a, b) in (base.experts ?? .standard).pairs(head: head.name) {
            var z = [Double](repeating: 0, count: rows.count * k)
            for (r, i) in rows.enumerated() { for c in 0..<k { z[r * k + c] = a * zTitle[i * k + c] + b * zBody[i * k + c] } }
            let p = calibratedSoftmax(z, classes: k, inverseTemperature: 1)
            let loss = TemperatureScaling.logLoss(p, y: truth, k: k)
            let right = truth.indices.filter { argmax(p, row: $0, classes: k) == truth[$0] }.count
            let accuracy = truth.isEmpty ? 0 : Double(right) / Double(truth.count)
            if let c = chosen, !(loss < c.loss - 1e-12 || (abs(loss - c.loss) <= 1e-12 && accuracy > c.accuracy)) { continue }
            chosen = ([a, b], loss, accuracy)
        }
        let pair = chosen?.pair ?? [1, 1]
        let z = zip(zTitle, zBody).map { pair[0] * $0 + pair[1] * $1 }
        return (score(head: h, z: z, predicted: predicted), pair)
    }

    /// Tries logistic regression setting `s` of head `h` on `data` (unless tried or out of time).
    func tryLR(_ data: SearchVector, head h: Int, setting s: Int) {
        let p = data.position
        guard !lrTried[p][h].contains(s), !outOfTime() else { return }
        let (C, classWeight) = grid.lrSetting(s)
        var trial = AutotuneTrial(vector: p, head: heads[h].name, classifier: .lr, C: C, classWeight: classWeight, alpha: nil,
                                  experts: nil, score: 0, seconds: 0)
        announce(p, trial)
        let started = clock()
        var config = base.logisticRegression
        config.C = C
        config.classWeight = classWeight
        let classes = heads[h].classes
        let (score, experts) = evaluate(data, head: h) { x, xT, y, w, parallel in
            LogisticRegression.fit(config, x: x, xT: xT, y: y, classes: classes, rowWeights: w, parallel: parallel).0
        }
        record(&trial, score: score, experts: experts, started: started)
        lrTried[p][h].insert(s)
        if lrBest[p][h].map({ score > $0.score }) ?? true { lrBest[p][h] = BestTrial(setting: s, score: score, experts: experts) }
        updateBest(p)
    }

    /// Tries Naive Bayes setting `s` (an alpha) of head `h` on `data` (unless tried or out of time).
    func tryNB(_ data: SearchVector, head h: Int, setting s: Int) {
        let p = data.position
        guard !nbTried[p][h].contains(s), !outOfTime() else { return }
        var trial = AutotuneTrial(vector: p, head: heads[h].name, classifier: .nb, C: nil, classWeight: nil, alpha: grid.alpha[s],
                                  experts: nil, score: 0, seconds: 0)
        announce(p, trial)
        let started = clock()
        var config = base.naiveBayes
        config.alpha = grid.alpha[s]
        let classes = heads[h].classes
        let (score, experts) = evaluate(data, head: h) { x, _, y, w, parallel in
            NaiveBayes.fit(config, x: x, y: y, classes: classes, rowWeights: w, parallel: parallel)
        }
        record(&trial, score: score, experts: experts, started: started)
        nbTried[p][h].insert(s)
        if nbBest[p][h].map({ score > $0.score }) ?? true { nbBest[p][h] = BestTrial(setting: s, score: score, experts: experts) }
    }

    func announce(_ p: Int, _ trial: AutotuneTrial) {
        progress?(.autotune(trial: trials.count + 1, of: candidates, setting: "\(vectors[p]); \(trial.head) \(trial)",
                            best: best == nil ? nil : bestScore))
    }

    func record(_ trial: inout AutotuneTrial, score: Double, experts: [Double]?, started: Double) {
        trial.score = rounded(score, 6)
        trial.experts = experts
        trial.seconds = rounded(max(0, clock() - started), 3)
        trials.append(trial)
    }

    /// The mean over heads of each head's best logistic regression score on vector position `p` (nil until
    /// every head has one).
    func vectorScore(_ p: Int) -> Double? {
        let scores = lrBest[p].compactMap { $0?.score }
        guard scores.count == heads.count else { return nil }
        return scores.reduce(0, +) / Double(scores.count)
    }

    /// Makes position `p` the best when it scores higher than the best so far.
    func updateBest(_ p: Int) {
        guard let s = vectorScore(p) else { return }
        vectors[p].score = rounded(s, 6)
        if best == p {
            bestScore = s
        } else if best == nil || s > bestScore {
            best = p
            bestScore = s
        }
    }

    /// Tries every classifier setting of every head not yet tried on `data`, nearest each head's incumbent first.
    func sweep(_ data: SearchVector) {
        for h in heads.indices {
            for s in AutotuneGrid.ordered(sizes: grid.lrSizes, from: lrIncumbent[h]) { tryLR(data, head: h, setting: s) }
            for s in AutotuneGrid.ordered(sizes: [grid.alpha.count], from: nbIncumbent[h]) { tryNB(data, head: h, setting: s) }
        }
    }

    // MARK: The search

    func run() {
        guard prepareHeads() else { return }
        let vectorSizes = grid.vectorSizes
        let baseIndex = grid.vectorIndex(of: base)
        // 1-2: coordinate ascent over the vectorizer settings.
        var next: Int? = baseIndex
        while let index = next, !outOfTime() {
            if let data = vectorize(index) {
                let p = data.position
                for h in heads.indices { tryLR(data, head: h, setting: lrIncumbent[h]) }
                for h in heads.indices { tryNB(data, head: h, setting: nbIncumbent[h]) }
                if best == p {
                    sweep(data)
                    for h in heads.indices {
                        if let b = lrBest[p][h] { lrIncumbent[h] = b.setting }
                        if let b = nbBest[p][h] { nbIncumbent[h] = b.setting }
                    }
                }
            }
            let reference = best.map { gridIndex[$0] } ?? baseIndex
            next = AutotuneGrid.ordered(sizes: vectorSizes, from: reference).first { position[$0] == nil }
        }
        // 3: the rest of the grid.
        guard !outOfTime(), let first = best else { return }
        for index in AutotuneGrid.ordered(sizes: vectorSizes, from: gridIndex[first]) {
            guard !outOfTime() else { return }
            guard let p = position[index], vectors[p].failed == nil else { continue }
            let complete = heads.indices.allSatisfy { lrTried[p][$0].count == grid.lrSizes.reduce(1, *) && nbTried[p][$0].count == grid.alpha.count }
            if complete { continue }
            if let data = vectorize(index) { sweep(data) }
        }
    }

    // MARK: The result

    func result() -> (config: TrainingConfig, report: AutotuneReport) {
        var config = base
        var winners: [AutotuneHeadWinner] = []
        if let p = best {
            let v = vectors[p]
            config.vectorizer = vectorizerConfig(v)
            config.vectorizer.separateTitleNorm = false
            if v.title == .experts {
                config.experts = base.experts ?? .standard
            } else {
                config.experts = nil
            }
            var own: [String: HeadSettings] = base.headSettings ?? [:]
            for (h, head) in heads.enumerated() {
                let start = base.resolved(head: head.name)
                var s = own[head.name] ?? HeadSettings()
                let lr = lrBest[p][h], nb = nbBest[p][h]
                let (C, classWeight) = lr.map { grid.lrSetting($0.setting) } ?? (start.logisticRegression.C, start.logisticRegression.classWeight)
                s.C = C
                s.classWeight = classWeight
                s.alpha = nb.map { grid.alpha[$0.setting] } ?? start.naiveBayes.alpha
                s.lrExperts = lr?.experts
                s.nbExperts = nb?.experts
                own[head.name] = s
                winners.append(AutotuneHeadWinner(head: head.name, settings: s, lrScore: lr.map { rounded($0.score, 6) },
                                                  nbScore: nb.map { rounded($0.score, 6) }))
            }
            config.headSettings = own
        }
        let everything = folds > 0 && vectors.count == vectorCount && vectors.indices.allSatisfy { p in
            vectors[p].failed != nil || heads.indices.allSatisfy {
                lrTried[p][$0].count == grid.lrSizes.reduce(1, *) && nbTried[p][$0].count == grid.alpha.count
            }
        }
        let report = AutotuneReport(
            budgetSeconds: settings.seconds, metric: settings.metric, folds: folds, grid: grid, candidates: candidates,
            seconds: rounded(max(0, clock() - start), 3), stoppedAtBudget: folds > 0 && !everything, note: note,
            vectors: vectors, trials: trials, winner: best, heads: winners)
        return (config, report)
    }
}

private func rounded(_ x: Double, _ digits: Int) -> Double {
    let scale = pow(10, Double(digits))
    return (x * scale).rounded() / scale
}
