// The short way to use the library: load a bundle, label postings.
//
//     import JobLabel
//     let model = try JobLabelModel.load("Models/default")
//     let labels = model.classify(title: "Senior Data Analyst", text: "SQL, Tableau, 5+ years ...")
//     print(labels["seniority"]?.label ?? "-", labels["seniority"]?.probability ?? 0)

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
    /// For thresholds and explanations, build a `Predictor` with `LabelingOptions`.
    public func classify(_ postings: [(title: String, text: String)], algorithm: Algorithm = .lr, top: Int = 3) -> [PostingLabels] {
        if postings.isEmpty { return [] }
        let input = postings.enumerated().map { i, p in
            Posting(id: String(i + 1), title: Array(p.title.utf8), text: Array(p.text.utf8))
        }
        return predictor(LabelingOptions(algorithm: algorithm, top: max(1, top))).labels(input).labels
    }
}
