import Foundation

/// How `train` calibrates probabilities.
public enum CalibrationMethod: String, Sendable, Equatable, Codable, CaseIterable {
    /// One temperature per head and algorithm, fitted on a held-out split (scores / T before the softmax).
    case temperature
    /// No calibration: T = 1, no held-out split, no per-class thresholds.
    case none
}

/// Calibration settings: the method, the share of each head's labeled rows held out to fit it, and the
/// precision the per-class thresholds aim at.
public struct CalibrationConfig: Sendable, Equatable, Codable {
    /// Temperature scaling or none.
    public var method: CalibrationMethod
    /// Share of each class's labeled rows held out (stratified by the head, shuffled with the seed).
    public var heldOutFraction: Double
    /// A class's threshold is the smallest probability at which its held-out precision reaches this.
    public var targetPrecision: Double

    /// Creates settings.
    public init(method: CalibrationMethod, heldOutFraction: Double = 0.15, targetPrecision: Double = 0.8) {
        self.method = method
        self.heldOutFraction = heldOutFraction
        self.targetPrecision = targetPrecision
    }

    /// joblabel's default: temperature scaling on 15 % of the rows, thresholds for precision 0.8.
    public static let temperature = CalibrationConfig(method: .temperature)
    /// No calibration (scikit-learn's behaviour, the `sklearn` preset).
    public static let none = CalibrationConfig(method: .none)
}

/// Held-out figures of one algorithm of one head, and what `classify` applies: its temperature and the
/// per-class thresholds.
public struct AlgorithmCalibration: Sendable, Equatable, Codable {
    /// Scores are divided by this before the softmax (nil for the ensemble, which averages calibrated
    /// probabilities).
    public var temperature: Double?
    /// Held-out expected calibration error (10 equal-width bins) before calibration (T = 1).
    public var eceBefore: Double
    /// Held-out expected calibration error with the fitted temperature.
    public var eceAfter: Double
    /// Held-out mean log-loss before calibration.
    public var logLossBefore: Double
    /// Held-out mean log-loss with the fitted temperature.
    public var logLossAfter: Double
    /// Held-out accuracy (calibration does not change it).
    public var accuracy: Double
    /// Per class, in label order: the smallest calibrated probability at which the class's held-out
    /// precision reaches the target precision; nil when it never does (or too few held-out rows are
    /// predicted as it).
    public var thresholds: [Double?]
}

/// Temperature scaling of one head: the held-out split's size and each algorithm's calibration.
public struct HeadCalibration: Sendable, Equatable, Codable {
    /// Labeled rows held out to fit the temperatures and thresholds.
    public var heldOutRows: Int
    /// Target precision of the thresholds.
    public var targetPrecision: Double
    /// Naive Bayes.
    public var nb: AlgorithmCalibration
    /// Logistic regression.
    public var lr: AlgorithmCalibration
    /// The mean of the calibrated NB and LR probabilities.
    public var ensemble: AlgorithmCalibration

    /// The calibration of `algorithm`.
    public func algorithm(_ algorithm: Algorithm) -> AlgorithmCalibration {
        switch algorithm {
        case .nb: return nb
        case .lr: return lr
        case .ensemble: return ensemble
        }
    }
}

/// Fitting temperatures and thresholds on held-out rows (Guo et al. 2017, "On calibration of modern
/// neural networks"): one scalar T per head and algorithm minimising the held-out log-loss of
/// `softmax(scores / T)`. Everything here is deterministic.
public enum TemperatureScaling {
    /// Fewest held-out rows calibration is fitted on; with fewer it is skipped.
    public static let minimumHeldOutRows = 20
    /// Fewest held-out rows predicted as a class (at or above the threshold) for it to get a threshold.
    public static let minimumThresholdRows = 3
    /// Range of T searched.
    static let temperatureRange: ClosedRange<Double> = 1e-3...1e3

    /// Held-out rows for one head: per class `floor(n_k · fraction)` of its labeled rows (`y ≥ 0`), picked
    /// by a shuffle seeded with `seed`; sorted ascending. Classes with fewer than `1 / fraction` rows keep
    /// all of them for training.
    public static func heldOutRows(_ y: [Int32], classCount k: Int, fraction: Double, seed: UInt64) -> [Int] {
        var byClass = [[Int]](repeating: [], count: k)
        for (i, c) in y.enumerated() where c >= 0 && Int(c) < k { byClass[Int(c)].append(i) }
        var rng = SplitMix64(seed: seed)
        var out: [Int] = []
        for rows in byClass {
            var rows = rows
            let take = Int((Double(rows.count) * fraction).rounded(.down))
            guard take > 0 else { continue }
            for i in stride(from: rows.count - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                rows.swapAt(i, j)
            }
            out.append(contentsOf: rows.prefix(take))
        }
        return out.sorted()
    }

    /// Why a held-out split of `heldOut` rows (of `labeled` labeled rows, `classes` classes among them) is
    /// too small to calibrate on, or nil when it is big enough.
    public static func tooSmall(heldOut: Int, classes: Int, labeled: Int, fraction: Double) -> String? {
        if heldOut >= minimumHeldOutRows && classes >= 2 { return nil }
        let needed = Int((Double(minimumHeldOutRows) / fraction).rounded(.up))
        let got = heldOut == 0 ? "no held-out rows" : "\(heldOut) held-out row\(heldOut == 1 ? "" : "s") of \(classes) label\(classes == 1 ? "" : "s")"
        return "too few rows to calibrate: \(labeled) labeled rows give \(got) (a label needs at least \(Int((1 / fraction).rounded(.up))) rows to contribute one); calibration needs at least \(minimumHeldOutRows) held-out rows of two or more labels (about \(needed) labeled rows at a held-out fraction of \(fraction)), so probabilities are not calibrated (T = 1)"
    }

    /// The temperature minimising the mean log-loss of `softmax(scores / T)` on rows with true class `y`
    /// (`scores`: row-major `rows × k`, biases included). The loss is convex in β = 1/T, so its derivative
    /// `mean_i (E_p[s_i] − s_{i,y_i})` increases with β and is bisected (on ln β) to its zero; T is rounded
    /// to 4 decimals and kept in `temperatureRange`.
    public static func fitTemperature(scores: [Double], y: [Int], k: Int) -> Double {
        let n = y.count
        guard n > 0, k > 1 else { return 1 }
        func derivative(_ beta: Double) -> Double {
            var total = 0.0
            var row = [Double](repeating: 0, count: k)
            for i in 0..<n {
                var m = -Double.infinity
                for c in 0..<k { row[c] = beta * scores[i * k + c]; m = max(m, row[c]) }
                var sum = 0.0, weighted = 0.0
                for c in 0..<k {
                    let e = exp(row[c] - m)
                    sum += e
                    weighted += e * scores[i * k + c]
                }
                total += weighted / sum - scores[i * k + y[i]]
            }
            return total / Double(n)
        }
        var lo = log(1 / temperatureRange.upperBound), hi = log(1 / temperatureRange.lowerBound)
        if derivative(exp(lo)) >= 0 { return temperatureRange.upperBound }
        if derivative(exp(hi)) <= 0 { return temperatureRange.lowerBound }
        for _ in 0..<64 {
            let mid = (lo + hi) / 2
            if derivative(exp(mid)) < 0 { lo = mid } else { hi = mid }
        }
        let t = 1 / exp((lo + hi) / 2)
        return min(max((t * 10_000).rounded() / 10_000, temperatureRange.lowerBound), temperatureRange.upperBound)
    }

    /// Mean negative log-probability of the true classes (probabilities floored at 1e-15, as scikit-learn).
    public static func logLoss(_ p: [Double], y: [Int], k: Int) -> Double {
        guard !y.isEmpty else { return 0 }
        var total = 0.0
        for (i, c) in y.enumerated() { total -= log(max(p[i * k + c], 1e-15)) }
        return total / Double(y.count)
    }

    /// Per class, the smallest probability `t` among the held-out rows predicted as that class such that
    /// the rows predicted as it with probability ≥ `t` are right at least `targetPrecision` of the time
    /// (and number at least `minimumThresholdRows`); nil when no such `t` exists.
    public static func thresholds(_ p: [Double], y: [Int], k: Int, targetPrecision: Double) -> [Double?] {
        var byClass = [[(confidence: Double, right: Bool)]](repeating: [], count: k)
        for i in y.indices {
            let c = argmax(p, row: i, classes: k)
            byClass[c].append((p[i * k + c], c == y[i]))
        }
        return byClass.map { rows in
            let sorted = rows.sorted { $0.confidence > $1.confidence }
            var best: Double?
            var covered = 0, right = 0
            for (at, r) in sorted.enumerated() {
                covered += 1
                if r.right { right += 1 }
                // Only at the last row of a run of equal probabilities: a threshold admits all of them.
                if at + 1 < sorted.count && sorted[at + 1].confidence == r.confidence { continue }
                if covered >= minimumThresholdRows && Double(right) >= targetPrecision * Double(covered) { best = r.confidence }
            }
            return best.map { ($0 * 1_000_000).rounded(.down) / 1_000_000 }
        }
    }

    /// Held-out figures of probabilities `before` (T = 1) and `after` calibration.
    static func figures(before: [Double], after: [Double], y: [Int], k: Int, temperature: Double?,
                        targetPrecision: Double) -> AlgorithmCalibration {
        func ece(_ p: [Double]) -> Double {
            let best = y.indices.map { argmax(p, row: $0, classes: k) }
            let cal = Calibration(correct: y.indices.map { best[$0] == y[$0] },
                                  confidence: y.indices.map { p[$0 * k + best[$0]] })
            return cal.ece
        }
        let right = y.indices.filter { argmax(after, row: $0, classes: k) == y[$0] }.count
        func r(_ x: Double) -> Double { (x * 1_000_000).rounded() / 1_000_000 }
        return AlgorithmCalibration(
            temperature: temperature, eceBefore: r(ece(before)), eceAfter: r(ece(after)),
            logLossBefore: r(logLoss(before, y: y, k: k)), logLossAfter: r(logLoss(after, y: y, k: k)),
            accuracy: r(y.isEmpty ? 0 : Double(right) / Double(y.count)),
            thresholds: thresholds(after, y: y, k: k, targetPrecision: targetPrecision))
    }

    /// Fits both temperatures on the held-out rows `x` (true classes `y`) of models trained without them,
    /// and derives the ensemble's figures and every algorithm's thresholds. Nil when a score is not finite.
    static func calibrate(naiveBayes nb: LinearModel, logisticRegression lr: LinearModel, heldOut x: CSRMatrix,
                          y: [Int], targetPrecision: Double, parallel: Parallel) -> HeadCalibration? {
        let k = lr.classCount
        let head = HeadModel(name: "", classes: lr.classes, classCounts: [], naiveBayes: nb, logisticRegression: lr, optimization: nil)
        let predictor = Predictor(vectorizer: nil, heads: [head], options: LabelingOptions(algorithm: .ensemble), parallel: parallel)
        let logits = predictor.logits(x, floatBias: true)
        let nbScores = predictor.componentLogits(logits, component: 0, head: 0)
        let lrScores = predictor.componentLogits(logits, component: 1, head: 0)
        guard nbScores.allSatisfy({ $0.isFinite }), lrScores.allSatisfy({ $0.isFinite }) else { return nil }
        let tNB = fitTemperature(scores: nbScores, y: y, k: k)
        let tLR = fitTemperature(scores: lrScores, y: y, k: k)
        let nbBefore = calibratedSoftmax(nbScores, classes: k, inverseTemperature: 1), nbAfter = calibratedSoftmax(nbScores, classes: k, inverseTemperature: 1 / tNB)
        let lrBefore = calibratedSoftmax(lrScores, classes: k, inverseTemperature: 1), lrAfter = calibratedSoftmax(lrScores, classes: k, inverseTemperature: 1 / tLR)
        let ensembleBefore = ensembleMean([nbBefore, lrBefore]), ensembleAfter = ensembleMean([nbAfter, lrAfter])
        return HeadCalibration(
            heldOutRows: y.count, targetPrecision: targetPrecision,
            nb: figures(before: nbBefore, after: nbAfter, y: y, k: k, temperature: tNB, targetPrecision: targetPrecision),
            lr: figures(before: lrBefore, after: lrAfter, y: y, k: k, temperature: tLR, targetPrecision: targetPrecision),
            ensemble: figures(before: ensembleBefore, after: ensembleAfter, y: y, k: k, temperature: nil, targetPrecision: targetPrecision))
    }
}
