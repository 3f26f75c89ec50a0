import JobLabel

/// A simple argument cursor: `--flag value`, `--flag=value`, boolean flags, and positionals.
struct Arguments {
    private var items: [String]
    private var index = 0

    init(_ items: [String]) { self.items = items }

    /// Next raw item, or nil at the end.
    mutating func next() -> String? {
        guard index < items.count else { return nil }
        defer { index += 1 }
        return items[index]
    }

    /// The value of an option that must be one of an enum's raw values; the error lists the choices.
    mutating func choice<T: RawRepresentable & CaseIterable>(_ option: String, inline: String?, as type: T.Type) throws -> T
    where T.RawValue == String {
        let v = try value(for: option, inline: inline)
        guard let choice = T(rawValue: v) else {
            let names = T.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            throw JobLabelError.usage("\(option) takes one of \(names), got '\(v)'")
        }
        return choice
    }

    /// The value of an option (`--x v` or `--x=v`).
    mutating func value(for option: String, inline: String?) throws -> String {
        if let inline { return inline }
        guard let v = next() else { throw JobLabelError.usage("\(option) needs a value") }
        return v
    }
}

/// Splits "--name=value" into ("--name", "value").
func splitOption(_ arg: String) -> (String, String?) {
    guard arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") else { return (arg, nil) }
    return (String(arg[..<eq]), String(arg[arg.index(after: eq)...]))
}

func parseInt(_ s: String, _ option: String, min: Int = 0) throws -> Int {
    guard let v = Int(s), v >= min else { throw JobLabelError.usage("\(option) takes a whole number ≥ \(min), got '\(s)'") }
    return v
}

func parseDouble(_ s: String, _ option: String, positive: Bool = true, range: ClosedRange<Double> = 0...1e12) throws -> Double {
    guard let v = Double(s), v.isFinite, positive ? v > 0 : v >= 0, range.contains(v) else {
        throw JobLabelError.usage("\(option) takes a \(positive ? "positive" : "non-negative") number in \(range.lowerBound)...\(range.upperBound), got '\(s)'")
    }
    return v
}

/// Options shared by `train` and `evaluate --cv`: they build a `TrainingConfig`, applied in order so that
/// flags after `--preset` override single settings of the preset.
struct TrainingOptions {
    var config = TrainingConfig.product
    /// True once `--labels` was given.
    var labelsGiven = false

    /// Applies one option if it is a training option; returns false when it is not one.
    mutating func apply(_ option: String, _ inline: String?, _ args: inout Arguments) throws -> Bool {
        switch option {
        case "--preset":
            let v = try args.value(for: option, inline: inline)
            let heads = config.heads
            switch v {
            case "sklearn": config = .sklearn
            case "default": config = .product
            default: throw JobLabelError.usage("--preset takes 'sklearn' or 'default', got '\(v)'")
            }
            config.heads = heads
        case "--labels":
            let v = try args.value(for: option, inline: inline)
            let heads = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !heads.isEmpty, Set(heads).count == heads.count else {
                throw JobLabelError.usage("--labels takes distinct comma-separated field names, e.g. --labels role,seniority")
            }
            if let bad = heads.first(where: { $0.utf8.count > 100 || $0.contains("/") || $0.unicodeScalars.contains { $0.value < 0x20 } }) {
                throw JobLabelError.usage("--labels: '\(bad.prefix(40))' is not a usable field name (at most 100 bytes, no '/' or control characters)")
            }
            if let reserved = heads.first(where: { ["id", "title", "text"].contains($0) }) {
                throw JobLabelError.usage("--labels: '\(reserved)' is an input field, not a label; name the label fields, e.g. --labels role,seniority")
            }
            config.heads = heads
            labelsGiven = true
        case "--ngrams":
            let n = try parseInt(try args.value(for: option, inline: inline), option, min: 1)
            guard n <= 2 else { throw JobLabelError.usage("--ngrams takes 1 or 2") }
            config.vectorizer.ngrams = n
        case "--tokenizer":
            let v = try args.value(for: option, inline: inline)
            switch v {
            case "sklearn": config.vectorizer.tokenizer = .sklearn
            case "words": config.vectorizer.tokenizer = TokenizerConfig(lowercase: true, minTokenLength: 1)
            default: throw JobLabelError.usage("--tokenizer takes 'sklearn' (words of 2+ characters) or 'words' (all words)")
            }
        case "--title-mode":
            config.vectorizer.titleMode = try args.choice(option, inline: inline, as: TitleMode.self)
        case "--title-weight":
            config.vectorizer.titleWeight = Float(try parseDouble(try args.value(for: option, inline: inline), option, range: 1e-3...1e3))
            config.vectorizer.titleMode = .namespace
        case "--cues":
            let v = try args.value(for: option, inline: inline)
            guard let groups = CueGroup.parseList(v) else {
                let names = CueGroup.allCases.map(\.rawValue).joined(separator: ", ")
                throw JobLabelError.usage("--cues takes 'all', 'none' or a comma-separated list of \(names), got '\(v)'")
            }
            config.vectorizer.cues = groups
        case "--cue-weight":
            config.vectorizer.cueWeight = Float(try parseDouble(try args.value(for: option, inline: inline), option, range: 1e-3...1e3))
        case "--min-df", "--max-df":
            let v = try args.value(for: option, inline: inline)
            guard let bound = DocumentFrequencyBound.parse(v) else {
                throw JobLabelError.usage("\(option) takes a document count (e.g. 2) or a fraction with a point (e.g. 0.5), got '\(v)'")
            }
            if option == "--min-df" { config.vectorizer.minDF = bound } else { config.vectorizer.maxDF = bound }
        case "--max-features":
            config.vectorizer.maxFeatures = try parseInt(try args.value(for: option, inline: inline), option, min: 1)
        case "--sublinear-tf": config.vectorizer.sublinearTF = true
        case "--no-sublinear-tf": config.vectorizer.sublinearTF = false
        case "--alpha":
            config.naiveBayes.alpha = try parseDouble(try args.value(for: option, inline: inline), option, positive: false, range: 0...1e6)
        case "--uniform-prior": config.naiveBayes.fitPrior = false
        case "--C", "--c":
            config.logisticRegression.C = try parseDouble(try args.value(for: option, inline: inline), option, range: 1e-8...1e8)
        case "--max-iter":
            config.logisticRegression.maxIterations = try parseInt(try args.value(for: option, inline: inline), option, min: 1)
        case "--tol":
            config.logisticRegression.tolerance = try parseDouble(try args.value(for: option, inline: inline), option, range: 1e-12...1)
        case "--class-weight":
            config.logisticRegression.classWeight = try args.choice(option, inline: inline, as: ClassWeight.self)
        case "--seed":
            let v = try args.value(for: option, inline: inline)
            guard let s = UInt64(v) else { throw JobLabelError.usage("--seed takes a whole number ≥ 0, got '\(v)'") }
            config.seed = s
        case "--calibration":
            config.calibration.method = try args.choice(option, inline: inline, as: CalibrationMethod.self)
        case "--held-out":
            config.calibration.heldOutFraction = try parseDouble(try args.value(for: option, inline: inline), option, range: 0.05...0.5)
        case "--target-precision":
            config.calibration.targetPrecision = try parseDouble(try args.value(for: option, inline: inline), option, range: 0.01...1)
        default:
            return false
        }
        return true
    }

    static let help = """
      --labels a,b           label fields that become heads (default: role,seniority)
      --preset NAME          'default' (joblabel's tuned settings) or 'sklearn' (scikit-learn's defaults:
                             2+ character words, title + newline + text, unigrams, min-df 1, tf, alpha 1, C 1,
                             max-iter 100, tol 1e-4); later flags override single settings
      --tokenizer MODE       'sklearn' (tokens of 2+ word characters) or 'words' (all word tokens)
      --ngrams N             1 = unigrams, 2 = unigrams and bigrams
      --title-mode MODE      'concatenate' (title + newline + text) or 'namespace' (title terms as own features)
      --title-weight W       weight of title terms (implies --title-mode namespace)
      --cues LIST            seniority cue features: 'all', 'none', or some of years, title-level,
                             text-level, degree (default: all; the sklearn preset: none)
      --cue-weight W         weight of cue features (default 2)
      --min-df X, --max-df X document-frequency bounds: a count (2) or a fraction (0.5)
      --max-features N       keep the N most frequent terms
      --sublinear-tf         use 1 + ln(tf); --no-sublinear-tf for raw tf
      --alpha A              Naive Bayes smoothing
      --uniform-prior        Naive Bayes with uniform class priors
      --C C                  logistic regression inverse L2 strength (scikit-learn's C)
      --max-iter N, --tol T  L-BFGS iteration limit and gradient tolerance
      --class-weight MODE    'balanced' or 'none'
      --seed S               seed for cross-validation folds and the calibration's held-out split
      --calibration MODE     'temperature' (default): per head and algorithm a temperature T fitted on
                             held-out rows (scores / T before the softmax), and per-class thresholds for
                             --threshold manifest; 'none' (the sklearn preset): T = 1, no thresholds
      --held-out F           share of each label's rows held out for calibration (default 0.15)
      --target-precision P   per-class thresholds: the smallest probability at which a label's held-out
                             precision reaches P (default 0.8)
      --threads N            worker threads (default: all cores; results do not depend on it)
    """
}
