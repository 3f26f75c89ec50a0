import Foundation
import JobLabel

/// The settings `train` and `evaluate --cv` build a `TrainingConfig` from, applied in order so that flags
/// after `--preset` override single settings of the preset.
struct TrainingSettings {
    var config = TrainingConfig.product
    /// True once `--labels` was given.
    var labelsGiven = false
    /// Heads whose label is read from another field (`--labels HEAD=FIELD`).
    var labelFields: [String: String] = [:]
    /// Training options given other than `--labels` (evaluate refuses them without `--cv`).
    var given: [String] = []
    /// Worker threads (nil: every core).
    var threads: Int?

    /// The training options, for a command whose settings hold these at `path`.
    static func options<S>(_ path: WritableKeyPath<S, TrainingSettings>) -> [Option<S>] {
        func value(_ name: String, _ valueName: String, _ help: String,
                   _ apply: @escaping (inout TrainingSettings, String) throws -> Void) -> Option<S> {
            Option(names: [name], value: valueName, help: help) { s, v in
                try apply(&s[keyPath: path], v)
                if name != "--labels" { s[keyPath: path].given.append(name) }
            }
        }
        func flag(_ name: String, _ help: String, _ apply: @escaping (inout TrainingSettings) -> Void) -> Option<S> {
            Option(names: [name], value: nil, help: help) { s, _ in
                apply(&s[keyPath: path])
                s[keyPath: path].given.append(name)
            }
        }
        return [
            value("--labels", "a,b", "label fields that become heads (default: role,seniority); HEAD=FIELD reads head HEAD from field FIELD, e.g. --labels role=function,seniority=required_experience") { s, v in
                var heads: [String] = []
                var fields: [String: String] = [:]
                for entry in v.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
                    guard let eq = entry.firstIndex(of: "=") else { heads.append(entry); continue }
                    let head = entry[..<eq].trimmingCharacters(in: .whitespaces)
                    let field = entry[entry.index(after: eq)...].trimmingCharacters(in: .whitespaces)
                    guard !head.isEmpty, !field.isEmpty else {
                        throw UsageError("--labels: '\(entry)' needs a head and a field, e.g. --labels seniority=required_experience")
                    }
                    heads.append(head)
                    fields[head] = field
                }
                guard !heads.isEmpty, Set(heads).count == heads.count else {
                    throw UsageError("--labels takes distinct comma-separated field names, e.g. --labels role,seniority (or HEAD=FIELD)")
                }
                if let bad = heads.first(where: { $0.utf8.count > 100 || $0.contains("/") || $0.unicodeScalars.contains { $0.value < 0x20 } }) {
                    throw UsageError("--labels: '\(bad.prefix(40))' is not a usable field name (at most 100 bytes, no '/' or control characters)")
                }
                if let reserved = heads.first(where: { ["id", "title", "text"].contains($0) }) {
                    throw UsageError("--labels: '\(reserved)' is an input field, not a label; name the label fields, e.g. --labels role,seniority")
                }
                s.config.heads = heads
                s.labelFields = fields
                s.labelsGiven = true
            },
            value("--preset", "NAME", "'default' (joblabel's tuned settings) or 'sklearn' (scikit-learn's defaults: 2+ character words, title + newline + text, unigrams, min-df 1, tf, alpha 1, C 1, max-iter 100, tol 1e-4); later flags override single settings") { s, v in
                let heads = s.config.heads
                switch v {
                case "sklearn": s.config = .sklearn
                case "default": s.config = .product
                default: throw UsageError("--preset takes 'sklearn' or 'default', got '\(v)'")
                }
                s.config.heads = heads
            },
            value("--tokenizer", "MODE", "'sklearn' (tokens of 2+ word characters) or 'words' (all word tokens)") { s, v in
                switch v {
                case "sklearn": s.config.vectorizer.tokenizer = .sklearn
                case "words": s.config.vectorizer.tokenizer = TokenizerConfig(lowercase: true, minTokenLength: 1)
                default: throw UsageError("--tokenizer takes 'sklearn' (words of 2+ characters) or 'words' (all words)")
                }
            },
            value("--ngrams", "N", "1 = unigrams, 2 = unigrams and bigrams") { s, v in
                let n = try parseInt(v, "--ngrams", min: 1)
                guard n <= 2 else { throw UsageError("--ngrams takes 1 or 2") }
                s.config.vectorizer.ngrams = n
            },
            value("--title-mode", "MODE", "'concatenate' (title + newline + text) or 'namespace' (title terms as own features)") { s, v in
                s.config.vectorizer.titleMode = try parseChoice(v, "--title-mode", as: TitleMode.self)
            },
            value("--title-weight", "W", "weight of title terms (implies --title-mode namespace)") { s, v in
                s.config.vectorizer.titleWeight = Float(try parseDouble(v, "--title-weight", range: 1e-3...1e3))
                s.config.vectorizer.titleMode = .namespace
            },
            value("--cues", "LIST", "seniority cue features: 'all', 'none', or some of years, title-level, text-level, degree (default: all; the sklearn preset: none)") { s, v in
                guard let groups = CueGroup.parseList(v) else {
                    let names = CueGroup.allCases.map(\.rawValue).joined(separator: ", ")
                    throw UsageError("--cues takes 'all', 'none' or a comma-separated list of \(names), got '\(v)'")
                }
                s.config.vectorizer.cues = groups
            },
            value("--cue-weight", "W", "weight of cue features (default 2)") { s, v in
                s.config.vectorizer.cueWeight = Float(try parseDouble(v, "--cue-weight", range: 1e-3...1e3))
            },
            value("--min-df", "X", "minimum document frequency: a count (2) or a fraction (0.5)") { s, v in
                guard let bound = DocumentFrequencyBound.parse(v) else {
                    throw UsageError("--min-df takes a document count (e.g. 2) or a fraction with a point (e.g. 0.5), got '\(v)'")
                }
                s.config.vectorizer.minDF = bound
            },
            value("--max-df", "X", "maximum document frequency: a count or a fraction (default 1.0)") { s, v in
                guard let bound = DocumentFrequencyBound.parse(v) else {
                    throw UsageError("--max-df takes a document count (e.g. 2) or a fraction with a point (e.g. 0.5), got '\(v)'")
                }
                s.config.vectorizer.maxDF = bound
            },
            value("--max-features", "N", "keep the N most frequent terms") { s, v in
                s.config.vectorizer.maxFeatures = try parseInt(v, "--max-features", min: 1)
            },
            flag("--sublinear-tf", "use 1 + ln(tf)") { $0.config.vectorizer.sublinearTF = true },
            flag("--no-sublinear-tf", "use raw tf") { $0.config.vectorizer.sublinearTF = false },
            value("--alpha", "A", "Naive Bayes smoothing") { s, v in
                s.config.naiveBayes.alpha = try parseDouble(v, "--alpha", positive: false, range: 0...1e6)
            },
            flag("--uniform-prior", "Naive Bayes with uniform class priors") { $0.config.naiveBayes.fitPrior = false },
            Option(names: ["--C", "--c"], value: "C", help: "logistic regression inverse L2 strength (scikit-learn's C)") { s, v in
                s[keyPath: path].config.logisticRegression.C = try parseDouble(v, "--C", range: 1e-8...1e8)
                s[keyPath: path].given.append("--C")
            },
            value("--max-iter", "N", "logistic regression: Newton iteration limit") { s, v in
                s.config.logisticRegression.maxIterations = try parseInt(v, "--max-iter", min: 1)
            },
            value("--tol", "T", "logistic regression: stop when no gradient component exceeds T") { s, v in
                s.config.logisticRegression.tolerance = try parseDouble(v, "--tol", range: 1e-12...1)
            },
            value("--class-weight", "MODE", "'balanced' or 'none'") { s, v in
                s.config.logisticRegression.classWeight = try parseChoice(v, "--class-weight", as: ClassWeight.self)
            },
            value("--experts", "MODE", "'title-body': per head a title model and a body model whose log-probabilities add, with weights chosen by grouped 5-fold cross-validation on the training rows (implies --title-mode namespace; title and body features are normalised apart); 'none' (default): one model over all features") { s, v in
                switch v {
                case "title-body": s.config.experts = .standard
                case "none": s.config.experts = nil
                default:
                    let hint = suggestion(for: v, among: ["title-body", "none"]).map { "; did you mean '\($0)'?" } ?? ""
                    throw UsageError("--experts takes 'title-body' or 'none', got '\(v)'\(hint)")
                }
            },
            value("--expert-weights", "[HEAD=]T,B", "title and body experts (implies --experts title-body) with these weights of the title's and the body's log-probabilities instead of weights chosen by cross-validation; HEAD= gives them to one head (repeat the option for others)") { s, v in
                var head = "", pair = Substring(v)
                if let eq = v.firstIndex(of: "=") { head = String(v[..<eq]); pair = v[v.index(after: eq)...] }
                let parts = pair.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
                guard parts.count == 2, parts.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= 100 }), parts.contains(where: { $0 > 0 }) else {
                    throw UsageError("--expert-weights takes [HEAD=]T,B: two weights in 0...100, not both 0, e.g. seniority=1.5,1; got '\(v)'")
                }
                var experts = s.config.experts ?? .standard
                experts.fixed[head] = parts
                s.config.experts = experts
            },
            value("--ordinal-decision", "RULE", "how heads whose labels are seniority levels pick their label: 'most-probable' (default) or 'median' (the median level of the probabilities: fewer predictions two or more levels off)") { s, v in
                s.config.ordinalDecision = try parseChoice(v, "--ordinal-decision", as: DecisionRule.self)
            },
            value("--seed", "S", "seed for cross-validation folds and the calibration's held-out split") { s, v in
                guard let seed = UInt64(v) else { throw UsageError("--seed takes a whole number ≥ 0, got '\(v)'") }
                s.config.seed = seed
            },
            value("--calibration", "MODE", "'temperature' (default): per head and algorithm a temperature T fitted on held-out rows (scores / T before the softmax), and per-class thresholds for --threshold manifest; 'none' (the sklearn preset): T = 1, no thresholds") { s, v in
                s.config.calibration.method = try parseChoice(v, "--calibration", as: CalibrationMethod.self)
            },
            value("--held-out", "F", "share of each label's rows held out for calibration (default 0.15)") { s, v in
                s.config.calibration.heldOutFraction = try parseDouble(v, "--held-out", range: 0.05...0.5)
            },
            value("--target-precision", "P", "per-class thresholds: the smallest probability at which a label's held-out precision reaches P (default 0.8)") { s, v in
                s.config.calibration.targetPrecision = try parseDouble(v, "--target-precision", range: 0.01...1)
            },
        ]
    }

    /// `--threads N`, which every command takes.
    static func threadsOption<S>(_ apply: @escaping (inout S, Int) -> Void) -> Option<S> {
        Option(names: ["--threads"], value: "N", help: "worker threads (default: all cores; results do not depend on it)") { s, v in
            apply(&s, try parseInt(v, "--threads", min: 1))
        }
    }
}
