// The short way to use the library: load a bundle, label postings.
//
//     import JobLabel
//     let model = try JobLabelModel.load("Models/default")
//     let labels = model.classify(title: "Senior Data Analyst", text: "SQL, Tableau, 5+ years ...")
//     print(labels["seniority"]?.label ?? "-", labels["seniority"]?.probability ?? 0)

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

/// One head's answer for one posting: the most probable label, and the runners-up.
public struct HeadLabel: Sendable, Equatable {
    /// Head name, e.g. "role" or "seniority".
    public var head: String
    /// The most probable label.
    public var label: String
    /// Its probability.
    public var probability: Double
    /// The most probable labels, best first (ties in class order); `top[0]` is `label`.
    public var top: [LabelProbability]
}

/// The labels of one posting, per head in the model's head order.
public struct PostingLabels: Sendable, Equatable {
    /// One answer per head of the model.
    public var heads: [HeadLabel]

    /// The answer of the head named `head`, or nil when the model has no such head.
    public subscript(head: String) -> HeadLabel? { heads.first { $0.head == head } }
}

extension JobLabelModel {
    /// Loads and verifies the model bundle at `directory` (as written by `joblabel train`); throws
    /// `JobLabelError` when it is missing, damaged or from a newer joblabel.
    public static func load(_ directory: String) throws -> JobLabelModel {
        try ModelBundle.load(directory)
    }

    /// Labels one posting: per head the most probable label, its probability and the `top` best labels.
    public func classify(title: String = "", text: String, algorithm: Algorithm = .lr, top: Int = 3) -> PostingLabels {
        classify([(title: title, text: text)], algorithm: algorithm, top: top)[0]
    }

    /// Labels many postings at once (one vectorisation pass; faster than one call per posting), in order.
    public func classify(_ postings: [(title: String, text: String)], algorithm: Algorithm = .lr, top: Int = 3) -> [PostingLabels] {
        if postings.isEmpty { return [] }
        let input = postings.enumerated().map { i, p in
            Posting(id: String(i + 1), title: Array(p.title.utf8), text: Array(p.text.utf8))
        }
        let predictions = predict(input, algorithm: algorithm)
        return input.indices.map { i in
            PostingLabels(heads: predictions.map { p in
                let best = p.classes.isEmpty ? []
                    : p.top(i, max(1, top)).map { LabelProbability(label: $0.label, probability: Double($0.probability)) }
                return HeadLabel(head: p.head, label: best.first?.label ?? "", probability: best.first?.probability ?? 0, top: best)
            })
        }
    }
}
