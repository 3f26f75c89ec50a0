/// How postings are labeled: which classifier, how many ranked labels, explanations and thresholds.
public struct LabelingOptions: Sendable, Hashable {
    /// The classifier (`.lr` by default).
    public var algorithm: Algorithm
    /// How many ranked labels each decision's `top` holds (at least 1: the best label).
    public var top: Int
    /// How many contributing features to explain per head (0: none, and nothing of it is computed).
    public var explain: Int
    /// Below its threshold a head's label is `unknown` (nil: every label is given).
    public var thresholds: ThresholdSpec?

    /// Creates options.
    public init(algorithm: Algorithm = .lr, top: Int = 1, explain: Int = 0, thresholds: ThresholdSpec? = nil) {
        self.algorithm = algorithm
        self.top = top
        self.explain = explain
        self.thresholds = thresholds
    }
}

/// A label with the probability the model gives it.
public struct LabelProbability: Sendable, Equatable {
    /// The label, e.g. "mid-senior".
    public var label: String
    /// Its probability, in [0, 1].
    public var probability: Double

    /// Creates a label/probability pair.
    public init(label: String, probability: Double) {
        self.label = label
        self.probability = probability
    }
}

/// One head's answer for one posting: the label given (the best one, or `unknown` below its threshold),
/// the best label and its probability, the ranked labels and, when asked, the features behind it.
public struct LabelDecision: Sendable, Equatable {
    /// The label given when the best label's probability is below its threshold.
    public static let unknown = "unknown"

    /// Head name, e.g. "role" or "seniority".
    public var head: String
    /// The label given: `best`, or `LabelDecision.unknown` when `isKnown` is false.
    public var label: String
    /// The most probable label.
    public var best: String
    /// The best label's probability.
    public var probability: Double
    /// False when the best label's probability is below its threshold (then `label` is `unknown`).
    public var isKnown: Bool
    /// The most probable labels, best first (ties in class order); `top[0]` is `best`.
    public var top: [LabelProbability]
    /// The features that contributed most to `best`, most first (empty unless asked for).
    public var explanation: [FeatureContribution]

    /// Creates a decision.
    public init(head: String, label: String, best: String, probability: Double, isKnown: Bool,
                top: [LabelProbability], explanation: [FeatureContribution] = []) {
        self.head = head
        self.label = label
        self.best = best
        self.probability = probability
        self.isKnown = isKnown
        self.top = top
        self.explanation = explanation
    }
}

/// The labels of one posting, per head in the model's head order.
public struct PostingLabels: Sendable, Equatable {
    /// One decision per head of the model.
    public var heads: [LabelDecision]

    /// Creates the labels of a posting.
    public init(heads: [LabelDecision]) { self.heads = heads }

    /// The decision of the head named `head`, or nil when the model has no such head.
    public subscript(head: String) -> LabelDecision? { heads.first { $0.head == head } }
}

/// Something about a labeling run the caller may want to tell its user.
public enum LabelingNote: Sendable, Equatable {
    /// Stored thresholds were asked for, but this head has none (why: the head's calibration note); its
    /// labels are given whatever their probability.
    case headWithoutStoredThresholds(head: String, reason: String?)
}

/// The thresholds of `LabelingOptions`: below its threshold a head's label is `unknown`.
public enum ThresholdSpec: Sendable, Hashable {
    /// One probability for every head and label.
    case all(Double)
    /// A probability per named head; other heads have none.
    case perHead([String: Double])
    /// The per-class thresholds stored in the bundle at train time (for the algorithm used).
    case manifest

    /// Parses `P`, `HEAD=P[,HEAD=P]` or `manifest` (P in [0, 1]); nil when malformed.
    public static func parse(_ s: String) -> ThresholdSpec? {
        func probability(_ t: Substring) -> Double? {
            guard let p = Double(t.trimmingCharacters(in: .whitespaces)), p.isFinite, p >= 0, p <= 1 else { return nil }
            return p
        }
        let text = s.trimmingCharacters(in: .whitespaces)
        if text == "manifest" { return .manifest }
        if !text.contains("=") { return probability(Substring(text)).map { .all($0) } }
        var heads: [String: Double] = [:]
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pair = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = pair[0].trimmingCharacters(in: .whitespaces)
            guard pair.count == 2, !name.isEmpty, heads[name] == nil, let p = probability(pair[1]) else { return nil }
            heads[name] = p
        }
        return heads.isEmpty ? nil : .perHead(heads)
    }

    /// Thresholds per head of `model` (in head order) and per class, and notes for heads the bundle has no
    /// thresholds for. Throws for a head the model does not have, or `manifest` with a bundle that has no
    /// thresholds at all.
    func resolve(_ model: JobLabelModel, algorithm: Algorithm) throws -> (thresholds: [[Double]], notes: [LabelingNote]) {
        switch self {
        case .all(let p):
            return (model.heads.map { [Double](repeating: p, count: $0.classes.count) }, [])
        case .perHead(let byHead):
            let names = model.heads.map(\.name)
            if let unknown = byHead.keys.sorted().first(where: { !names.contains($0) }) {
                throw JobLabelError.unknownHead(unknown, known: names)
            }
            return (model.heads.map { [Double](repeating: byHead[$0.name] ?? 0, count: $0.classes.count) }, [])
        case .manifest:
            guard model.heads.contains(where: { $0.calibration != nil }) else {
                throw JobLabelError.noStoredThresholds(calibrationAsked: model.config.calibration.method == .temperature)
            }
            var notes: [LabelingNote] = []
            let thresholds = model.heads.map { head -> [Double] in
                guard let c = head.calibration else {
                    notes.append(.headWithoutStoredThresholds(head: head.name, reason: head.calibrationNote))
                    return [Double](repeating: 0, count: head.classes.count)
                }
                let stored = c.algorithm(algorithm).thresholds
                // A label that never reached the target precision on the held-out rows is never given.
                return head.classes.indices.map { $0 < stored.count ? (stored[$0] ?? .infinity) : .infinity }
            }
            return (thresholds, notes)
        }
    }
}
