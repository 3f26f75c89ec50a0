import Foundation

/// The rules a decoded manifest must satisfy besides its JSON types: every field's range, the invariants
/// between fields, and the sizes that bound what loading allocates. A checksum only proves that the bytes
/// are the ones written, and anyone can write a manifest and recompute it, so a bundle is checked like any
/// other input: a value no `joblabel train` writes is refused, naming the field by its JSON path
/// (`heads[1].label_counts[3]`, `vectorizer.ngrams`).
///
/// One function per section of the manifest; a new section (or a new kind of model with fields of its own)
/// adds a function and a line in `check`. The settings sections (`vectorizer`, `naive_bayes`,
/// `logistic_regression`, `calibration`) and the head names are also checked on a `TrainingConfig` before
/// training (`TrainingMemory.preflight`), so `train` never writes a bundle that loading refuses.
package enum ManifestValidation {
    /// One broken rule: the field's JSON path and what is wrong with it ("must be 1 or 2, got 7").
    package struct Violation: Error, Equatable {
        package var field: String
        package var problem: String
    }

    /// Largest manifest read (a manifest is a few KB; one with 100,000 labels is about 10 MB).
    package static let maximumManifestBytes = 64 << 20
    /// Most training documents a manifest may claim (2^40; no corpus comes near).
    package static let maximumDocuments = 1 << 40
    /// Longest head name: block names in the weights file hold at most 65,535 bytes.
    package static let maximumHeadNameBytes = 1024
    /// The range of the per-head temperatures calibration fits (`TemperatureScaling.temperatureRange`).
    static let temperatureRange = TemperatureScaling.temperatureRange

    /// Checks a decoded manifest; throws `JobLabelError.modelDamaged` naming `file` and the field.
    package static func validate(_ m: Manifest, file: String) throws {
        do {
            try check(m)
        } catch let v as Violation {
            throw JobLabelError.modelDamaged(file: file, field: v.field,
                                             problem: v.problem + "; no joblabel train writes this, retrain the model")
        }
    }

    /// Every section of a manifest; throws the first `Violation`.
    package static func check(_ m: Manifest) throws {
        try header(m)
        try weightsInfo(m.weights)
        try training(m.training)
        try vectorizer(m.vectorizer, at: "vectorizer")
        try documentFrequencies(m.vectorizer, documents: m.training.documents)
        try naiveBayes(m.naiveBayes, at: "naive_bayes")
        try logisticRegression(m.logisticRegression, at: "logistic_regression")
        if let c = m.calibration { try calibration(c, at: "calibration") }
        if let e = m.experts { try experts(e, heads: m.heads.map(\.name), at: "experts") }
        try heads(m)
        for (i, h) in m.heads.enumerated() {
            if let e = h.experts {
                try require(m.experts != nil, "heads[\(i)].experts", "is present although the manifest has no \"experts\"")
                try headExperts(e, vocabularySize: m.vocabularySize, documents: m.training.documents, at: "heads[\(i)].experts")
            }
            if let own = h.settings { try headSettings(own, at: "heads[\(i)].settings") }
        }
        if let a = m.autotune { try autotune(a, at: "autotune") }
        try sizes(m)
    }

    /// Checks the settings of a training run against the same rules (nothing trained yet): throws
    /// `JobLabelError.invalidSetting` naming the setting by its manifest path.
    package static func validate(_ config: TrainingConfig) throws {
        do {
            try require(!config.heads.isEmpty, "heads", "must name at least one label field")
            var seen = Set<String>()
            for (i, name) in config.heads.enumerated() {
                try headName(name, at: "heads[\(i)].name")
                try require(seen.insert(name).inserted, "heads[\(i)].name", "repeats head \(quoted(name))")
            }
            try vectorizer(config.vectorizer, at: "vectorizer")
            try naiveBayes(config.naiveBayes, at: "naive_bayes")
            try logisticRegression(config.logisticRegression, at: "logistic_regression")
            try calibration(config.calibration, at: "calibration")
            if let e = config.experts { try experts(e, heads: config.heads, at: "experts") }
            let own = config.headSettings ?? [:]
            for name in own.keys.sorted() {
                try require(config.heads.contains(name), "heads", "has settings for \(quoted(name)), which is not a head")
                if let s = own[name] { try headSettings(s, at: "heads.\(name).settings") }
            }
        } catch let v as Violation {
            throw JobLabelError.invalidSetting(field: v.field, problem: v.problem)
        }
    }

    // MARK: Sections

    /// Format, versions, ids and checksums.
    static func header(_ m: Manifest) throws {
        try require(m.format == "joblabel-model", "format", "must be \"joblabel-model\", got \(quoted(m.format))")
        try require(m.formatVersion == ModelBundle.formatVersion, "format_version", "must be \(ModelBundle.formatVersion), got \(m.formatVersion)")
        try require(!m.joblabelVersion.isEmpty && m.joblabelVersion.utf8.count <= 64 && !hasControlCharacters(m.joblabelVersion),
                    "joblabel_version", "must be a short version string, got \(quoted(m.joblabelVersion))")
        try require(isLowercaseHex(m.trainingId, digits: 32), "training_id", "must be 32 lowercase hex digits, got \(quoted(m.trainingId))")
        try require(m.manifestCrc32.map { isLowercaseHex($0, digits: 8) } ?? false,
                    "manifest_crc32", "must be 8 lowercase hex digits, got \(m.manifestCrc32.map(quoted) ?? "nothing")")
    }

    /// The weights file's name, size and checksum. Its name is a plain file name, so loading opens a file
    /// inside the bundle directory and nowhere else.
    static func weightsInfo(_ w: Manifest.WeightsInfo) throws {
        let plain = !w.file.isEmpty && w.file.utf8.count <= 255 && w.file != "." && w.file != ".."
            && !w.file.utf8.contains(UInt8(ascii: "/")) && !w.file.utf8.contains(0) && !hasControlCharacters(w.file)
        try require(plain, "weights.file", "must be a file name inside the bundle (no '/'), got \(quoted(w.file))")
        try require(w.bytes >= WeightsFile.minimumBytes, "weights.bytes", "must be at least \(WeightsFile.minimumBytes), got \(w.bytes)")
        try require(isLowercaseHex(w.crc32c, digits: 8), "weights.crc32c", "must be 8 lowercase hex digits, got \(quoted(w.crc32c))")
    }

    /// Tokenizer and TF-IDF settings (also checked before training).
    static func vectorizer(_ v: VectorizerConfig, at path: String) throws {
        try require((1...256).contains(v.tokenizer.minTokenLength), path + ".tokenizer.min_token_length",
                    "must be 1 to 256, got \(v.tokenizer.minTokenLength)")
        try require((1...2).contains(v.ngrams), path + ".ngrams", "must be 1 or 2, got \(v.ngrams)")
        try require(v.titleWeight.isFinite && (0...1000).contains(v.titleWeight), path + ".title_weight",
                    "must be a number from 0 to 1000, got \(v.titleWeight)")
        try require(v.cueWeight.isFinite && (0...1000).contains(v.cueWeight), path + ".cue_weight",
                    "must be a number from 0 to 1000, got \(v.cueWeight)")
        try require(Set(v.cues).count == v.cues.count, path + ".cues", "lists a cue group twice")
        if let f = v.maxFeatures { try require(f >= 1, path + ".max_features", "must be at least 1, got \(f)") }
    }

    /// The document-frequency bounds against each other for the training's document count (`train` refuses
    /// bounds that keep no document).
    static func documentFrequencies(_ v: VectorizerConfig, documents: Int) throws {
        try require(v.minDF.documents(of: documents) <= v.maxDF.documents(of: documents), "vectorizer.max_df",
                    "keeps fewer documents (\(v.maxDF)) than vectorizer.min_df (\(v.minDF)) for \(documents) documents")
    }

    /// Naive Bayes settings (also checked before training).
    static func naiveBayes(_ c: NaiveBayesConfig, at path: String) throws {
        try require(c.alpha.isFinite && (0...1e6).contains(c.alpha), path + ".alpha", "must be a number from 0 to 1e6, got \(c.alpha)")
    }

    /// Logistic regression settings (also checked before training).
    static func logisticRegression(_ c: LogisticRegressionConfig, at path: String) throws {
        try require(c.C.isFinite && (1e-8...1e8).contains(c.C), path + ".c", "must be a number from 1e-8 to 1e8, got \(c.C)")
        try require(c.maxIterations >= 0, path + ".max_iterations", "must be at least 0, got \(c.maxIterations)")
        try require(c.tolerance.isFinite && (0...1).contains(c.tolerance), path + ".tolerance", "must be a number from 0 to 1, got \(c.tolerance)")
    }

    /// Calibration settings (also checked before training).
    static func calibration(_ c: CalibrationConfig, at path: String) throws {
        try require(c.heldOutFraction.isFinite && c.heldOutFraction >= 0 && c.heldOutFraction < 1, path + ".held_out_fraction",
                    "must be at least 0 and below 1, got \(c.heldOutFraction)")
        try require(isProbability(c.targetPrecision), path + ".target_precision", "must be a number from 0 to 1, got \(c.targetPrecision)")
    }

    /// Title and body experts' settings (also checked before training): fold count, the weights tried and the
    /// weights fixed per head ("" for every head not named).
    static func experts(_ e: ExpertsConfig, heads: [String], at path: String) throws {
        try require((2...100).contains(e.folds), path + ".folds", "must be 2 to 100, got \(e.folds)")
        try require((1...100).contains(e.weights.count), path + ".weights", "must hold 1 to 100 weights, got \(e.weights.count)")
        for (i, w) in e.weights.enumerated() {
            try require(isExpertWeight(w), "\(path).weights[\(i)]", "must be a number from 0 to 1000, got \(w)")
        }
        for key in e.fixed.keys.sorted() {
            try require(key.isEmpty || heads.contains(key), "\(path).fixed", "names \(quoted(key)), which is not a head")
            try expertPair(e.fixed[key] ?? [], at: "\(path).fixed.\(key)")
        }
    }

    /// A (title, body) pair of expert weights: two numbers from 0 to 1000, not both 0.
    static func expertPair(_ pair: [Double], at path: String) throws {
        try require(pair.count == 2, path, "must hold 2 weights (title, body), got \(pair.count)")
        try require(pair.allSatisfy(isExpertWeight), path, "must hold numbers from 0 to 1000, got \(pair)")
        try require(pair.contains { $0 > 0 }, path, "must not be 0 for both experts")
    }

    static func isExpertWeight(_ w: Double) -> Bool { w.isFinite && (0...1000).contains(w) }

    /// A head's experts: the feature split covers the vocabulary; the weights and their out-of-fold figures.
    static func headExperts(_ e: HeadExperts, vocabularySize: Int, documents: Int, at path: String) throws {
        try require(e.titleFeatures >= 0 && e.bodyFeatures >= 0 && e.titleFeatures <= vocabularySize
                    && e.bodyFeatures == vocabularySize - e.titleFeatures, path + ".body_features",
                    "title and body features must add up to vocabulary_size (\(vocabularySize)), got \(e.titleFeatures) + \(e.bodyFeatures)")
        try require((0...documents).contains(e.rows), path + ".rows", "must be 0 to training.documents (\(documents)), got \(e.rows)")
        try require((0...100).contains(e.folds), path + ".folds", "must be 0 to 100, got \(e.folds)")
        for (name, w) in [("nb", e.nb), ("lr", e.lr)] {
            try expertPair([w.title, w.body], at: "\(path).\(name)")
            try require(!(w.cvLogLoss < 0) && w.cvLogLoss != .infinity, "\(path).\(name).cv_log_loss",
                        "must be a number of at least 0, got \(w.cvLogLoss)")
            try require(w.cvAccuracy.isNaN || isProbability(w.cvAccuracy), "\(path).\(name).cv_accuracy",
                        "must be a number from 0 to 1, got \(w.cvAccuracy)")
        }
    }

    /// A head's own classifier settings (`train --autotune`), by the rules of the shared ones.
    static func headSettings(_ s: HeadSettings, at path: String) throws {
        if let c = s.C {
            try require(c.isFinite && (1e-8...1e8).contains(c), path + ".c", "must be a number from 1e-8 to 1e8, got \(c)")
        }
        if let a = s.alpha {
            try require(a.isFinite && (0...1e6).contains(a), path + ".alpha", "must be a number from 0 to 1e6, got \(a)")
        }
        if let e = s.lrExperts { try expertPair(e, at: path + ".lr_experts") }
        if let e = s.nbExperts { try expertPair(e, at: path + ".nb_experts") }
    }

    /// The settings search's record: what `inspect` prints from it must be in range (positions, numbers).
    static func autotune(_ a: AutotuneReport, at path: String) throws {
        func number(_ x: Double, _ field: String) throws {
            try require(x.isFinite && x >= 0, field, "must be a number of at least 0, got \(x)")
        }
        try number(a.budgetSeconds, path + ".budget_seconds")
        try number(a.seconds, path + ".seconds")
        try require((0...100).contains(a.folds), path + ".folds", "must be 0 to 100, got \(a.folds)")
        try require(a.candidates >= 0, path + ".candidates", "must be at least 0, got \(a.candidates)")
        if let w = a.winner {
            try require((0..<a.vectors.count).contains(w), path + ".winner", "must be a position in autotune.vectors (0 to \(a.vectors.count - 1)), got \(w)")
        }
        for (i, v) in a.vectors.enumerated() {
            if let score = v.score { try require(isProbability(score), "\(path).vectors[\(i)].score", "must be a number from 0 to 1, got \(score)") }
        }
        for (i, t) in a.trials.enumerated() {
            try require((0..<a.vectors.count).contains(t.vector), "\(path).trials[\(i)].vector",
                        "must be a position in autotune.vectors (0 to \(a.vectors.count - 1)), got \(t.vector)")
            try require(t.score.isNaN || isProbability(t.score), "\(path).trials[\(i)].score", "must be a number from 0 to 1, got \(t.score)")
            try number(t.seconds, "\(path).trials[\(i)].seconds")
        }
        for (i, h) in a.heads.enumerated() { try headSettings(h.settings, at: "\(path).heads[\(i)].settings") }
    }

    /// The training run's facts: document count, fingerprint, training-set figures.
    static func training(_ t: TrainingInfo) throws {
        try require((1...maximumDocuments).contains(t.documents), "training.documents", "must be 1 to \(maximumDocuments), got \(t.documents)")
        try require(isLowercaseHex(t.sha256, digits: 64), "training.sha256", "must be 64 lowercase hex digits, got \(quoted(t.sha256))")
        for (head, byAlgorithm) in t.metrics.sorted(by: { $0.key < $1.key }) {
            for (algorithm, s) in byAlgorithm.sorted(by: { $0.key < $1.key }) {
                let at = "training.metrics.\(head).\(algorithm)"
                try require((0...t.documents).contains(s.n), at + ".n", "must be 0 to training.documents (\(t.documents)), got \(s.n)")
                try require(isProbability(s.accuracy), at + ".accuracy", "must be a number from 0 to 1, got \(s.accuracy)")
                try require(isProbability(s.macroF1), at + ".macro_f1", "must be a number from 0 to 1, got \(s.macroF1)")
                try require(isProbability(s.weightedF1), at + ".weighted_f1", "must be a number from 0 to 1, got \(s.weightedF1)")
            }
        }
    }

    /// Heads: names, labels, label counts, optimisation reports and calibrations.
    static func heads(_ m: Manifest) throws {
        try require(!m.heads.isEmpty, "heads", "must hold at least one head")
        var names = Set<String>()
        for (i, h) in m.heads.enumerated() {
            let at = "heads[\(i)]"
            try headName(h.name, at: at + ".name")
            try require(names.insert(h.name).inserted, at + ".name", "repeats head \(quoted(h.name))")
            try require(h.labels.count >= 2, at + ".labels", "must hold at least 2 labels, got \(h.labels.count)")
            var labels = Set<String>()
            for (c, label) in h.labels.enumerated() {
                try require(!label.isEmpty, "\(at).labels[\(c)]", "must not be empty")
                try require(labels.insert(label).inserted, "\(at).labels[\(c)]", "repeats label \(quoted(label))")
            }
            try require(h.labelCounts.count == h.labels.count, at + ".label_counts",
                        "must hold one count per label (\(h.labels.count)), got \(h.labelCounts.count)")
            // The labeled rows of a head are some of the training documents; summed with overflow checks.
            var labeled = 0
            for (c, n) in h.labelCounts.enumerated() {
                try require(n >= 0, "\(at).label_counts[\(c)]", "must be at least 0, got \(n)")
                let (sum, overflow) = labeled.addingReportingOverflow(n)
                try require(!overflow && sum <= m.training.documents, "\(at).label_counts[\(c)]",
                            "makes the head's labeled rows more than training.documents (\(m.training.documents))")
                labeled = sum
            }
            // Training-set figures are computed on the head's labeled rows.
            for (algorithm, summary) in (m.training.metrics[h.name] ?? [:]).sorted(by: { $0.key < $1.key }) {
                try require(summary.n == labeled, "training.metrics.\(h.name).\(algorithm).n",
                            "must be the head's labeled rows (the sum of \(at).label_counts, \(labeled)), got \(summary.n)")
            }
            if let o = h.lrOptimization {
                try optimization(o, maxIterations: m.logisticRegression.maxIterations, at: at + ".lr_optimization")
            }
            if let c = h.calibration {
                try require(m.calibration?.method == .temperature, at + ".calibration",
                            "is present although calibration.method is not \"temperature\"")
                try headCalibration(c, labels: h.labels.count, labeledRows: labeled, at: at + ".calibration")
            }
            if let note = h.calibrationNote {
                try require(h.calibration == nil, at + ".calibration_note", "is present although the head is calibrated")
                try require(note.utf8.count <= 4096, at + ".calibration_note", "must be at most 4096 bytes, got \(note.utf8.count)")
            }
        }
    }

    /// How logistic regression's optimisation ended.
    static func optimization(_ o: OptimizationReport, maxIterations: Int, at path: String) throws {
        try require((0...max(0, maxIterations)).contains(o.iterations), path + ".iterations",
                    "must be 0 to logistic_regression.max_iterations (\(maxIterations)), got \(o.iterations)")
        try require(o.evaluations >= 0, path + ".evaluations", "must be at least 0, got \(o.evaluations)")
        try require(o.finalLoss.isFinite && o.finalLoss >= 0, path + ".final_loss", "must be a number of at least 0, got \(o.finalLoss)")
        try require(o.gradientMax.isFinite && o.gradientMax >= 0, path + ".gradient_max", "must be a number of at least 0, got \(o.gradientMax)")
        try require(o.stopReason.utf8.count <= 1000, path + ".stop_reason", "must be at most 1000 bytes, got \(o.stopReason.utf8.count)")
    }

    /// One head's calibration: temperatures in the range calibration searches, held-out figures, and one
    /// threshold (or null) per label.
    static func headCalibration(_ c: HeadCalibration, labels k: Int, labeledRows: Int, at path: String) throws {
        try require((1...max(1, labeledRows)).contains(c.heldOutRows), path + ".held_out_rows",
                    "must be 1 to the head's labeled rows (\(labeledRows)), got \(c.heldOutRows)")
        try require(isProbability(c.targetPrecision), path + ".target_precision", "must be a number from 0 to 1, got \(c.targetPrecision)")
        for algorithm in Algorithm.allCases {
            let a = c.algorithm(algorithm), at = path + "." + algorithm.rawValue
            if algorithm == .ensemble {
                try require(a.temperature == nil, at + ".temperature", "must be absent (the ensemble averages calibrated probabilities)")
            } else {
                let range = temperatureRange
                try require(a.temperature.map { $0.isFinite && range.contains($0) } ?? false, at + ".temperature",
                            "must be a number from \(range.lowerBound) to \(range.upperBound), got \(a.temperature.map { "\($0)" } ?? "nothing")")
            }
            try require(isProbability(a.eceBefore), at + ".ece_before", "must be a number from 0 to 1, got \(a.eceBefore)")
            try require(isProbability(a.eceAfter), at + ".ece_after", "must be a number from 0 to 1, got \(a.eceAfter)")
            try require(a.logLossBefore.isFinite && a.logLossBefore >= 0, at + ".log_loss_before", "must be a number of at least 0, got \(a.logLossBefore)")
            try require(a.logLossAfter.isFinite && a.logLossAfter >= 0, at + ".log_loss_after", "must be a number of at least 0, got \(a.logLossAfter)")
            try require(isProbability(a.accuracy), at + ".accuracy", "must be a number from 0 to 1, got \(a.accuracy)")
            try require(a.thresholds.count == k, at + ".thresholds", "must hold one threshold (or null) per label (\(k)), got \(a.thresholds.count)")
            for (i, t) in a.thresholds.enumerated() {
                if let t { try require(isProbability(t), "\(at).thresholds[\(i)]", "must be null or a number from 0 to 1, got \(t)") }
            }
        }
    }

    /// `vocabulary_size` against `max_features` and against the weights file's size: every feature has an
    /// idf value and, per head, a weight per label in both classifiers, and the vocabulary block at least a
    /// byte and a separator per term. So the file's size (checked against the real file before it is read)
    /// bounds every shape, and everything loading allocates from them.
    static func sizes(_ m: Manifest) throws {
        let v = m.vocabularySize
        try require(v >= 1, "vocabulary_size", "must be at least 1, got \(v)")
        if let f = m.vectorizer.maxFeatures {
            try require(v <= f, "vocabulary_size", "must be at most vectorizer.max_features (\(f)), got \(v)")
        }
        guard let needed = minimumWeightsBytes(m) else {
            throw Violation(field: "vocabulary_size", problem: "\(v) features times the heads' labels overflow")
        }
        try require(needed <= m.weights.bytes, "vocabulary_size",
                    "\(v) features and the heads' labels need a weights file of at least \(needed) bytes, but weights.bytes is \(m.weights.bytes)")
    }

    /// The fewest bytes a weights file holding the manifest's shapes can have (nil on overflow).
    static func minimumWeightsBytes(_ m: Manifest) -> Int? {
        let v = m.vocabularySize
        var floats = v  // idf
        for h in m.heads {
            let k = h.labels.count
            guard case (let vk, false) = v.multipliedReportingOverflow(by: k),
                  case (let perAlgorithm, false) = vk.addingReportingOverflow(k),
                  case (let both, false) = perAlgorithm.multipliedReportingOverflow(by: 2),
                  case (let sum, false) = floats.addingReportingOverflow(both) else { return nil }
            floats = sum
        }
        guard case (let floatBytes, false) = floats.multipliedReportingOverflow(by: 4),
              case (let vocabulary, false) = v.multipliedReportingOverflow(by: 2),
              case (let data, false) = floatBytes.addingReportingOverflow(vocabulary),
              case (let total, false) = data.addingReportingOverflow(WeightsFile.minimumBytes - 1) else { return nil }
        return total
    }

    // MARK: The vocabulary against the vectorizer settings

    /// Checks the vocabulary block (newline-separated terms) against the settings that produced it, so a
    /// setting edited in the manifest cannot silently leave features unused: `title:` terms only in
    /// namespace title mode, `cue:` terms only of the configured cue groups, two-word terms only with
    /// `ngrams` 2, no ASCII capitals when lowercasing, every word at least `min_token_length` scalars long,
    /// no empty term. One pass over the bytes.
    static func vocabulary(_ bytes: [UInt8], _ v: VectorizerConfig) throws {
        try bytes.withUnsafeBytes { try vocabulary($0, v) }
    }

    /// `vocabulary` of bytes in place (a mapped weights file).
    static func vocabulary(_ bytes: UnsafeRawBufferPointer, _ v: VectorizerConfig) throws {
        // Unigram vocabularies (the default) are checked 8 bytes at a time; whatever looks wrong there, and
        // every other vocabulary, goes through the byte-by-byte check, which names the term.
        if v.ngrams == 1 && quickVocabularyCheck(bytes, v) { return }
        try vocabularyByBytes(bytes, v)
    }

    /// True when a unigram vocabulary passes every rule of `vocabulary` (false: not sure, check by bytes).
    /// Words of 8 bytes are scanned for capitals and spaces (bit tricks: "Bit Twiddling Hacks", hasbetween
    /// and an exact zero-byte mask), and the terms split at the newlines the words hold.
    static func quickVocabularyCheck(_ bytes: [UInt8], _ v: VectorizerConfig) -> Bool {
        bytes.withUnsafeBytes { quickVocabularyCheck($0, v) }
    }

    static func quickVocabularyCheck(_ raw: UnsafeRawBufferPointer, _ v: VectorizerConfig) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        @inline(__always) func zeroBytes(_ x: UInt64) -> UInt64 { ~(((x & low7) &+ low7) | x | low7) }
        @inline(__always) func hasBetween(_ x: UInt64, _ m: UInt64, _ n: UInt64) -> Bool {
            ((ones &* (127 &+ n)) &- (x & low7)) & ~x & ((x & low7) &+ (ones &* (127 &- m))) & (ones &* 128) != 0
        }
        let minLength = v.tokenizer.minTokenLength, lowercase = v.tokenizer.lowercase, namespace = v.titleMode == .namespace
        let groups: [(prefix: [UInt8], group: CueGroup)] = [
            (Array("years".utf8), .years), (Array("title=".utf8), .titleLevel), (Array("text=".utf8), .textLevel), (Array("degree=".utf8), .degree),
        ]
        return { () -> Bool in
            let n = raw.count
            guard n > 0, let base = raw.baseAddress else { return false }
            @inline(__always) func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
            @inline(__always) func u16(_ at: Int) -> UInt16 { UInt16(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt16.self)) }
            /// The term `start..<end` (not empty) passes the prefix and length rules.
            func termOK(_ start: Int, _ end: Int) -> Bool {
                let length = end - start
                if length >= 4 && u32(start) == 0x3A65_7563 {  // "cue:"
                    return groups.contains { g in
                        length >= 4 + g.prefix.count && g.prefix.indices.allSatisfy { base.load(fromByteOffset: start + 4 + $0, as: UInt8.self) == g.prefix[$0] }
                            && v.cues.contains(g.group)
                    }
                }
                var wordStart = start
                if length >= 6 && u32(start) == 0x6C74_6974 && u16(start + 4) == 0x3A65 {  // "title:"
                    guard namespace else { return false }
                    wordStart += 6
                }
                if end - wordStart >= 4 * minLength { return true }
                var scalars = 0
                for k in wordStart..<end where base.load(fromByteOffset: k, as: UInt8.self) & 0xC0 != 0x80 { scalars += 1 }
                return scalars >= minLength
            }
            var start = 0, at = 0
            while at < n {
                var w: UInt64
                if at + 8 <= n {
                    w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt64.self))
                } else {
                    w = ones &* 0x61  // padding: "a"
                    for k in 0..<(n - at) { w = w & ~(UInt64(0xFF) << (8 * k)) | UInt64(base.load(fromByteOffset: at + k, as: UInt8.self)) << (8 * k) }
                }
                if lowercase && hasBetween(w, 0x40, 0x5B) { return false }
                var newlines = zeroBytes(w ^ (ones &* 0x0A))
                if zeroBytes(w ^ (ones &* 0x20)) != 0 { return false }
                while newlines != 0 {
                    let end = at + newlines.trailingZeroBitCount / 8
                    if end >= n { break }
                    if end == start || !termOK(start, end) { return false }
                    start = end + 1
                    newlines &= newlines &- 1
                }
                at += 8
            }
            return start < n && termOK(start, n)
        }()
    }

    static func vocabularyByBytes(_ bytes: [UInt8], _ v: VectorizerConfig) throws {
        try bytes.withUnsafeBytes { try vocabularyByBytes($0, v) }
    }

    static func vocabularyByBytes(_ raw: UnsafeRawBufferPointer, _ v: VectorizerConfig) throws {
        let groups: [(prefix: [UInt8], group: CueGroup)] = [
            (Array("cue:years".utf8), .years), (Array("cue:title=".utf8), .titleLevel),
            (Array("cue:text=".utf8), .textLevel), (Array("cue:degree=".utf8), .degree),
        ]
        let titlePrefix = Array("title:".utf8)
        let minLength = v.tokenizer.minTokenLength, lowercase = v.tokenizer.lowercase, namespace = v.titleMode == .namespace
        let b = raw.bindMemory(to: UInt8.self)
        try { () throws -> Void in
            let n = b.count
            func term(_ start: Int) -> String { String(decoding: b[start..<min(n, start + 60)].prefix { $0 != 0x0A }, as: UTF8.self) }
            func has(_ prefix: [UInt8], at start: Int) -> Bool {
                guard start + prefix.count <= n else { return false }
                for k in 0..<prefix.count where b[start + k] != prefix[k] { return false }
                return true
            }
            var start = 0, index = 0
            while start <= n {
                // "cue:" and "title:" cannot occur in a word (':' is not a word character).
                if start + 4 <= n && b[start] == UInt8(ascii: "c") && b[start + 3] == UInt8(ascii: ":") && has(Array("cue:".utf8), at: start) {
                    var end = start, space = false, capital = false
                    while end < n && b[end] != 0x0A {
                        space = space || b[end] == 0x20
                        capital = capital || (b[end] &- 0x41 < 26)
                        end += 1
                    }
                    if lowercase && capital {
                        throw Violation(field: "vectorizer.tokenizer.lowercase", problem: "is true, but the vocabulary holds \(quoted(term(start)))")
                    }
                    guard !space, let g = groups.first(where: { has($0.prefix, at: start) })?.group, v.cues.contains(g) else {
                        throw Violation(field: "vectorizer.cues", problem: "does not produce the vocabulary's cue feature \(quoted(term(start)))")
                    }
                    start = end + 1
                    index += 1
                    continue
                }
                var at = start
                if start + 6 <= n && b[start] == UInt8(ascii: "t") && b[start + 5] == UInt8(ascii: ":") && has(titlePrefix, at: start) {
                    guard namespace else {
                        throw Violation(field: "vectorizer.title_mode", problem: "is \"\(v.titleMode.rawValue)\", but the vocabulary holds the title feature \(quoted(term(start))) (namespace mode)")
                    }
                    at += titlePrefix.count
                }
                // The words of one term: scalars per word (bytes that do not continue a UTF-8 sequence).
                var words = 1, scalars = 0
                while true {
                    let c: UInt8 = at < n ? b[at] : 0x0A
                    if c == 0x0A || c == 0x20 {
                        if scalars < minLength {
                            if at == start { throw Violation(field: "vocabulary_size", problem: "the vocabulary's term \(index) is empty") }
                            throw Violation(field: "vectorizer.tokenizer.min_token_length", problem: "is \(minLength), but the vocabulary holds \(quoted(term(start)))")
                        }
                        if c == 0x0A { break }
                        words += 1
                        scalars = 0
                    } else {
                        scalars &+= c & 0xC0 != 0x80 ? 1 : 0
                        if lowercase && c &- 0x41 < 26 {
                            throw Violation(field: "vectorizer.tokenizer.lowercase", problem: "is true, but the vocabulary holds \(quoted(term(start)))")
                        }
                    }
                    at += 1
                }
                if words > v.ngrams {
                    throw Violation(field: "vectorizer.ngrams", problem: "is \(v.ngrams), but the vocabulary holds the \(words)-word term \(quoted(term(start)))")
                }
                start = at + 1
                index += 1
            }
        }()
    }

    // MARK: Shared rules

    /// A head name: not empty, at most `maximumHeadNameBytes`, no control characters (it is printed).
    static func headName(_ name: String, at path: String) throws {
        try require(!name.isEmpty, path, "must not be empty")
        try require(name.utf8.count <= maximumHeadNameBytes, path, "must be at most \(maximumHeadNameBytes) bytes, got \(name.utf8.count)")
        try require(!hasControlCharacters(name), path, "must not hold control characters, got \(quoted(name))")
    }

    static func require(_ condition: Bool, _ field: @autoclosure () -> String, _ problem: @autoclosure () -> String) throws {
        if !condition { throw Violation(field: field(), problem: problem()) }
    }

    static func isProbability(_ x: Double) -> Bool { x.isFinite && x >= 0 && x <= 1 }

    static func isLowercaseHex(_ s: String, digits: Int) -> Bool {
        s.utf8.count == digits && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    static func hasControlCharacters(_ s: String) -> Bool {
        s.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    /// A string value for a message: quoted, escaped, at most 40 characters.
    static func quoted(_ s: String) -> String {
        let short = s.count > 40 ? String(s.prefix(40)) + "..." : s
        return JSONText.quoted(short)
    }
}
