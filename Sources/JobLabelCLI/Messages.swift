import JobLabel

/// What the command line says about the library's errors, warnings and notes: the library describes a
/// problem in its own terms; here it gets the option to change and the exit code (sysexits: 64 usage,
/// 65 bad data, 66 missing input, 74 I/O error, 70 internal).
enum Messages {
    /// The stderr line (without "joblabel: ") and exit code for an error.
    static func describe(_ error: Error) -> (message: String, exitCode: Int32) {
        switch error {
        case let usage as UsageError: return ("usage error: \(usage.description)", 64)
        case let failure as CommandFailure: return (failure.description, failure.exitCode)
        case let error as JobLabelError: return describe(error)
        default: return ("\(error)", 70)
        }
    }

    static func describe(_ error: JobLabelError) -> (message: String, exitCode: Int32) {
        let text = error.description
        switch error {
        case .inputNotFound, .noInputFiles, .modelIsAFile, .modelFileMissing:
            return (text, 66)
        case .unreadableInputs:
            return (text + "; fix or move them", 66)
        case .modelNotFound(let directory):
            return (text + "; train one with 'joblabel train --data FILE --out \(directory)'", 66)
        case .unknownInputType, .textFileHasNoLabels, .tooFewFolds:
            return ("usage error: " + text, 64)
        case .conflictingDocumentFrequencyBounds(let minDF, let maxDF):
            return ("usage error: --max-df \(maxDF) keeps fewer documents than --min-df \(minDF); raise --max-df or lower --min-df", 64)
        case .unknownHead, .noStoredThresholds:
            return ("usage error: " + text, 64)
        case .fieldNotFound(let missing):
            return describe(missing, text)
        case .labelMapInvalid:
            return (text, 65)
        case .labelMapUnknownHead(_, let head, let known):
            let hint = suggestion(for: head, among: known).map { "; did you mean '\($0)'?" } ?? ""
            return ("usage error: " + text + hint, 64)
        case .badRecord(.tooLong(_, false, _), _, _):
            return (text + "; to read longer records, raise --max-record-bytes", 65)
        case .invalidSetting:
            return ("usage error: " + text, 64)
        case .trainingTooLarge(_, _, _, _, _, let classes, let labeledRows):
            return (text + (TrainingMemory.looksLikeAnID(classes: classes, labeledRows: labeledRows)
                ? "; choose the label fields with --labels"
                : "; train on fewer postings, keep fewer features (--max-features, a higher --min-df) or use fewer --labels"), 65)
        case .modelTooLarge:
            return (text, 65)
        case .badRecord, .csvUnterminatedQuote, .noRecords, .singleClass, .noTokens,
             .foldWithoutTwoClasses, .modelDamaged, .modelTooNew:
            return (text, 65)
        case .noLabeledRecords:
            return (text + "; choose the label fields with --labels (e.g. --labels role,seniority)", 65)
        case .everyTermPruned(let terms, _, _, let files):
            return ("\(files.joined(separator: ", ")): --min-df/--max-df pruned away all \(terms) terms; lower --min-df or raise --max-df", 65)
        case .nonFiniteWeights:
            return (text + "; use moderate --alpha, --C and --title-weight values", 65)
        case .tooFewRecordsForFolds:
            return (text + "; use a smaller --cv", 65)
        case .outputParentMissing:
            return (text + "; create it first", 74)
        case .outputRefused(_, let reason):
            switch reason {
            case .isADirectory: return (text + "; give a file name such as report.html", 74)
            case .notAModel: return (text + "; choose another --out (an empty or new directory)", 74)
            case .holdsOtherFiles: return (text + "; move them out or choose another --out", 74)
            case .notADirectory: return (text + "; choose another --out", 74)
            case .isAnInput, .insideAnInput, .insideTheModel: return (text + "; write the output elsewhere", 74)
            case .holdsAnInput: return (text + "; choose another --out", 74)
            case .notARegularFile: return (text + "; name a regular file (without --output, the output goes to standard output)", 74)
            case .danglingLink: return (text + "; remove the link or name another file", 74)
            }
        case .modelWriteFailed:
            return (text + "; free disk space or choose another --out", 74)
        case .io:
            return (text, 74)
        }
    }

    /// A field an input lacks: the option that names it, and a likely field when one is close. A field
    /// named on the command line is a usage error (64); the default `text` missing is bad data (65).
    static func describe(_ missing: MissingField, _ text: String) -> (message: String, exitCode: Int32) {
        let option: String
        switch missing.role {
        case .text: option = "--text-field"
        case .title: option = "--title-field"
        case .id: option = "--id-field"
        case .label(let head): option = "--labels \(head)=FIELD"
        case .kept: option = "--keep"
        }
        let hint = labelSuggestion(for: missing.field, among: missing.available).map { "; did you mean '\($0)'?" } ?? ""
        if missing.named { return ("usage error: \(option.split(separator: " ")[0]): " + text + hint, 64) }
        return (text + hint + "; name the field that holds it with \(option) FIELD", 65)
    }

    /// A labeling note as a line for stderr.
    static func describe(_ note: LabelingNote) -> String {
        switch note {
        case .headWithoutStoredThresholds(let head, let reason):
            return "note: head '\(head)' has no stored thresholds (\(reason ?? "not calibrated")); its labels are given whatever their probability"
        }
    }

    /// The threshold errors of the library, as usage errors naming `--threshold`.
    static func thresholdError(_ error: JobLabelError) -> Error {
        switch error {
        case .unknownHead(let head, let known):
            let hint = suggestion(for: head, among: known).map { "; did you mean '\($0)'?" } ?? ""
            return UsageError("--threshold: the model has no head '\(head)' (its heads: \(known.joined(separator: ", ")))\(hint)")
        case .noStoredThresholds(let calibrationAsked):
            let why = calibrationAsked ? "no head had enough labeled rows to calibrate (see 'joblabel inspect')"
                                       : "trained with --calibration none, or before calibration existed"
            return UsageError("--threshold manifest: this model stores no thresholds (\(why)); give a probability such as --threshold 0.6, or retrain with more data")
        default:
            return error
        }
    }

    /// Warnings for ids used by more than one record.
    static func describe(duplicates: (listed: [DuplicateID], more: Int)) -> [String] {
        func place(_ p: (file: String, line: Int)) -> String { (p.file == "-" ? "stdin" : p.file) + ":" + String(p.line) }
        var lines = duplicates.listed.map { d in
            "warning: id '\(d.id.prefix(80))' is used more than once (\(place(d.first)) and \(place(d.second))); both records are used, give each posting its own id"
        }
        if duplicates.more > 0 {
            lines.append("warning: \(duplicates.more) more id\(duplicates.more == 1 ? " is" : "s are") used more than once (not listed)")
        }
        return lines
    }

    /// Warnings for labels of a head that differ only in case.
    static func describe(caseVariants groups: [[String]], head: String) -> [String] {
        groups.map { group in
            "warning: head '\(head)': labels \(group.map { "'\($0)'" }.joined(separator: " and ")) differ only in case; they are different classes (labels are case-sensitive), write them the same way if they mean the same"
        }
    }
}
