/// What the library reports when it cannot do what was asked, in the library's terms: which input, record,
/// field, setting or file, and what is wrong with it. Each case's `description` is one line for a person;
/// a program maps the cases to its own words (the `joblabel` executable adds option names and exit codes).
public enum JobLabelError: Error, Sendable, Equatable, CustomStringConvertible {
    // MARK: Inputs

    /// An input path does not exist.
    case inputNotFound(path: String)
    /// A directory holds no file of a readable type (`acceptsText`: `.txt` files would have counted).
    case noInputFiles(directory: String, acceptsText: Bool)
    /// A file's extension is not one of the input types.
    case unknownInputType(path: String, extension: String)
    /// A `.txt` file was given as labeled data (it has no labels).
    case textFileHasNoLabels(path: String)
    /// One record of an input is malformed; a reader can go on with the next one.
    case badRecord(RecordError, file: String, line: Int)
    /// A field a posting's part is read from is not in an input: not a column of a CSV/TSV header, or not
    /// a key of a JSON Lines input's first record.
    case fieldNotFound(MissingField)
    /// A label map file is not what it should be (`problem` says what and where).
    case labelMapInvalid(path: String, problem: String)
    /// A label map names a head that is not among the heads read.
    case labelMapUnknownHead(path: String, head: String, known: [String])
    /// A quoted CSV field never closes: the rest of the file would be inside it, so reading stops.
    case csvUnterminatedQuote(file: String, line: Int, field: String?)
    /// The operating system refused a read or write (`message` says what and why).
    case io(path: String, message: String)
    /// Directory entries that look like inputs cannot be read (see `SkippedInput`); what is read would be
    /// part of the data.
    case unreadableInputs([SkippedInput])

    // MARK: Training

    /// There are no records to train on.
    case noRecords(files: [String])
    /// No record has a value for a head's label field.
    case noLabeledRecords(head: String, files: [String])
    /// A head's labels have a single value; a classifier needs two.
    case singleClass(head: String, label: String, files: [String])
    /// The document-frequency bounds contradict each other (`maxDF` keeps fewer documents than `minDF`).
    case conflictingDocumentFrequencyBounds(minDF: String, maxDF: String)
    /// The document-frequency bounds removed every one of `terms` terms.
    case everyTermPruned(terms: Int, minDF: String, maxDF: String, files: [String])
    /// Every training text is empty after tokenization.
    case noTokens(files: [String])
    /// Training produced weights that are not finite numbers (extreme settings).
    case nonFiniteWeights(head: String)
    /// A training setting is outside the range a model bundle may hold (`field`: its manifest path, such as
    /// `vectorizer.ngrams`), so the model could not be loaded once written.
    case invalidSetting(field: String, problem: String)
    /// Training would need more memory than this process may use, estimated before fitting: `neededBytes`
    /// for `rows` postings and about `features` features; `head` has the most labels, `classes` of them
    /// for `labeledRows` labeled rows.
    case trainingTooLarge(neededBytes: UInt64, availableBytes: UInt64, rows: Int, features: Int,
                          head: String, classes: Int, labeledRows: Int)
    /// Cross-validation with fewer than two folds.
    case tooFewFolds(Int)
    /// Fewer records than folds.
    case tooFewRecordsForFolds(records: Int, folds: Int, files: [String])
    /// A fold's training part has fewer than two classes for every head.
    case foldWithoutTwoClasses(fold: Int, folds: Int, files: [String])

    // MARK: Model bundles

    /// No model at a path.
    case modelNotFound(directory: String)
    /// A model path is a file, not a bundle directory.
    case modelIsAFile(path: String)
    /// One of a bundle's files is missing.
    case modelFileMissing(path: String)
    /// A bundle's file is damaged, edited or not what `train` writes (`field`: the manifest key or weights
    /// block concerned, when known).
    case modelDamaged(file: String, field: String?, problem: String)
    /// A bundle from a newer joblabel.
    case modelTooNew(file: String, version: Int, supported: Int)
    /// A bundle's weights file is larger than the memory this process may use, so it cannot be loaded.
    case modelTooLarge(file: String, bytes: Int, availableBytes: UInt64)

    // MARK: Outputs

    /// The parent directory of an output does not exist.
    case outputParentMissing(path: String, parent: String)
    /// An output path may not be written (`reason` says why).
    case outputRefused(path: String, reason: OutputRefusal)
    /// Writing a model bundle failed; `previousKept` says whether an earlier bundle is still there.
    case modelWriteFailed(directory: String, message: String, previousKept: Bool)

    // MARK: Labeling

    /// Labeling options name a head the model does not have.
    case unknownHead(String, known: [String])
    /// Stored thresholds were asked for, but the model has none (`calibrationAsked`: it was trained with
    /// calibration, yet no head had enough rows).
    case noStoredThresholds(calibrationAsked: Bool)

    /// One line for a person, naming the file, line and field where known.
    public var description: String {
        func location(_ file: String, _ line: Int, _ field: String?) -> String {
            var s = file == "-" ? "stdin" : file
            if line > 0 { s += ":\(line)" }
            if let field { s += ": field '\(field)'" }
            return s
        }
        func files(_ f: [String]) -> String { f.isEmpty ? "input" : f.joined(separator: ", ") }
        switch self {
        case .inputNotFound(let path):
            return "\(path): no such file or directory"
        case .noInputFiles(let directory, let acceptsText):
            return "\(directory): " + (acceptsText ? "directory has no .jsonl, .csv, .tsv or .txt files" : "directory has no .jsonl, .csv or .tsv files")
        case .unknownInputType(let path, let ext):
            return "\(path): unknown input type '.\(ext)'; give .jsonl, .csv, .tsv or .txt files (or '-' for JSON Lines on stdin)"
        case .textFileHasNoLabels(let path):
            return "\(path): a .txt file has no labels; labeled data must be .jsonl, .csv or .tsv"
        case .badRecord(let record, let file, let line):
            return "\(location(file, line, record.field)): \(record.message)"
        case .fieldNotFound(let missing):
            let fields = missing.available.isEmpty ? "none"
                : missing.available.prefix(30).map { "'\($0)'" }.joined(separator: ", ") + (missing.available.count > 30 ? ", ..." : "")
            let what = missing.role == .text ? "" : " (\(missing.role))"
            return "\(location(missing.file, missing.line, nil)): "
                + (missing.inHeader ? "the header has no column '\(missing.field)'\(what); its columns are \(fields)"
                                    : "the first record has no field '\(missing.field)'\(what); its fields are \(fields)")
        case .labelMapInvalid(let path, let problem):
            return "\(path): not a usable label map: \(problem)"
        case .labelMapUnknownHead(let path, let head, let known):
            return "\(path): the label map names head '\(head)', which is not read (the heads: \(known.joined(separator: ", ")))"
        case .csvUnterminatedQuote(let file, let line, let field):
            return "\(location(file, line, field)): unterminated quoted field; a '\"' inside a field must be doubled (reading stops here: the rest of the file would be inside this field)"
        case .io(let path, let message):
            return "\(path): \(message)"
        case .unreadableInputs(let entries):
            let first = entries.first.map(\.description) ?? ""
            return entries.count == 1 ? first
                : "\(entries.count) input files cannot be read (\(first); and \(entries.count - 1) more)"
        case .noRecords(let f):
            return "\(files(f)): no records to train on; give a JSONL or CSV file with postings"
        case .noLabeledRecords(let head, let f):
            return "\(location(files(f), 0, head)): no record has a value for label '\(head)'"
        case .singleClass(let head, let label, let f):
            return "\(location(files(f), 0, head)): label '\(head)' has only one value ('\(label)'); a classifier needs at least two classes"
        case .conflictingDocumentFrequencyBounds(let minDF, let maxDF):
            return "the maximum document frequency \(maxDF) keeps fewer documents than the minimum \(minDF)"
        case .everyTermPruned(let terms, let minDF, let maxDF, let f):
            return "\(files(f)): the document-frequency bounds (minimum \(minDF), maximum \(maxDF)) pruned away all \(terms) terms"
        case .noTokens(let f):
            return "\(location(files(f), 0, "text")): no tokens in the training texts: every document is empty after tokenization"
        case .nonFiniteWeights(let head):
            return "head '\(head)': training produced non-finite weights (the settings are too extreme)"
        case .invalidSetting(let field, let problem):
            return "setting '\(field)' \(problem)"
        case .trainingTooLarge(let needed, let available, let rows, let features, let head, let classes, let labeled):
            var s = "training would need about \(gigabytes(needed)) of memory, more than the \(gigabytes(available)) this process may use"
                + " (estimated before fitting: \(rows) postings, about \(features) features; head '\(head)' has \(classes) labels)"
            if TrainingMemory.looksLikeAnID(classes: classes, labeledRows: labeled) {
                s += "; head '\(head)' has \(classes) labels for \(labeled) labeled rows: its field looks like an id (a value per posting), not a label"
            }
            return s
        case .tooFewFolds(let k):
            return "cross-validation needs at least 2 folds, got \(k)"
        case .tooFewRecordsForFolds(let records, let folds, let f):
            return "\(files(f)): \(records) records cannot be split into \(folds) folds"
        case .foldWithoutTwoClasses(let fold, let folds, let f):
            return "\(files(f)): fold \(fold) of \(folds) has fewer than two classes for every label; use fewer folds or more data"
        case .modelNotFound(let directory):
            return "\(directory): no model here"
        case .modelIsAFile(let path):
            return "\(path): is a file, not a model directory; pass the directory that holds manifest.json"
        case .modelFileMissing(let path):
            return "\(path): no such file; the model bundle is incomplete, retrain it"
        case .modelDamaged(let file, let field, let problem):
            return "\(location(file, 0, field)): \(problem)"
        case .modelTooNew(let file, let version, let supported):
            return "\(location(file, 0, "format_version")): model format version \(version) is newer than this joblabel supports (\(supported)); upgrade joblabel"
        case .modelTooLarge(let file, let bytes, let available):
            return "\(file): the weights file is \(gigabytes(UInt64(max(0, bytes)))), more than the \(gigabytes(available)) of memory this process may use; load the model on a larger machine"
        case .outputParentMissing(let path, let parent):
            return "\(path): parent directory \(parent) does not exist"
        case .outputRefused(let path, let reason):
            return "\(path): \(reason.description)"
        case .modelWriteFailed(let directory, let message, let previousKept):
            return "\(directory): cannot write the model (\(message)); \(previousKept ? "the previous model is kept" : "nothing was written")"
        case .unknownHead(let head, let known):
            return "the model has no head '\(head)' (its heads: \(known.joined(separator: ", ")))"
        case .noStoredThresholds(let calibrationAsked):
            return "this model stores no thresholds (" + (calibrationAsked
                ? "no head had enough labeled rows to calibrate"
                : "trained without calibration, or before calibration existed") + ")"
        }
    }
}

/// A field that an input lacks (see `JobLabelError.fieldNotFound`).
public struct MissingField: Sendable, Equatable {
    /// The field looked for.
    public var field: String
    /// What it was to hold.
    public var role: FieldRole
    /// True when the field was named explicitly (a `FieldMapping`), false for a default name (`text`).
    public var named: Bool
    /// The input, and the line of its header or first record.
    public var file: String
    public var line: Int
    /// The fields the input has, in their order: the header's columns, or the first record's keys.
    public var available: [String]
    /// True for a CSV/TSV header, false for a JSON Lines record.
    public var inHeader: Bool

    /// Creates the description of a missing field.
    public init(field: String, role: FieldRole, named: Bool, file: String, line: Int, available: [String], inHeader: Bool) {
        self.field = field
        self.role = role
        self.named = named
        self.file = file
        self.line = line
        self.available = available
        self.inHeader = inHeader
    }
}

/// A byte count in GB to 3 significant digits ("13.6 GB", "1.46 GB"; below 0.1 GB in MB, below 0.1 MB in bytes).
func gigabytes(_ bytes: UInt64) -> String {
    let gb = Double(bytes) / 1e9
    if gb >= 100 { return String(format: "%.0f GB", gb) }
    if gb >= 0.1 { return String(format: "%#.3g GB", gb) }
    return bytes >= 100_000 ? String(format: "%#.3g MB", Double(bytes) / 1e6) : "\(bytes) bytes"
}

/// Why an output path may not be written.
public enum OutputRefusal: Sendable, Equatable, CustomStringConvertible {
    /// A model bundle would go where a file is.
    case notADirectory
    /// The directory holds something that is not a joblabel model.
    case notAModel
    /// The bundle directory holds files the bundle does not (first few named).
    case holdsOtherFiles([String])
    /// A file would go where a directory is.
    case isADirectory
    /// The output is one of the inputs (it would be overwritten while, or before, it is read).
    case isAnInput
    /// The output lies inside an input directory (the next run would read it as an input).
    case insideAnInput(String)
    /// The output directory holds an input (replacing the directory would delete it).
    case holdsAnInput(String)
    /// The output lies inside the model being read.
    case insideTheModel(String)
    /// The output exists and is a FIFO, device or socket (`kind`), which a regular file would replace.
    case notARegularFile(String)
    /// The output is a symbolic link to nothing.
    case danglingLink

    /// What is wrong, in a few words.
    public var description: String {
        switch self {
        case .notADirectory: return "exists and is not a directory"
        case .notAModel: return "exists and is not a joblabel model"
        case .holdsOtherFiles(let names):
            return "holds files besides the model (\(names.prefix(3).joined(separator: ", "))\(names.count > 3 ? ", ..." : ""))"
        case .isADirectory: return "is a directory"
        case .isAnInput: return "is also an input; it would be overwritten"
        case .insideAnInput(let input): return "is inside the input directory \(input); outputs are kept out of the inputs"
        case .holdsAnInput(let input): return "holds the input \(input), which writing the model would delete"
        case .insideTheModel(let model): return "is inside the model \(model) being read"
        case .notARegularFile(let kind): return "is a \(kind), not a regular file; it would be replaced by one"
        case .danglingLink: return "is a symbolic link to nothing"
        }
    }
}

/// What is wrong with one record of an input.
public enum RecordError: Error, Sendable, Equatable {
    /// The line is not valid JSON (`column`: 1-based byte column of the problem).
    case notJSON(reason: String, column: Int)
    /// The line is valid JSON but not an object (`type`: what it is).
    case notAnObject(type: String)
    /// The text field is absent.
    case missingText(field: String)
    /// The text field is not a string.
    case textNotString(field: String, got: String)
    /// The id field is neither a string nor a number.
    case idNotStringOrNumber(field: String, got: String)
    /// The title field is neither a string nor null.
    case titleNotString(field: String, got: String)
    /// A label field is neither a string nor null.
    case labelNotString(field: String, got: String)
    /// A CSV row's field count differs from the header's.
    case raggedRow(fields: Int, headerFields: Int)
    /// The record is longer than the reader's limit of `limit` bytes, so the rest of its input is not read
    /// (`loneCR`: the bytes read hold CRs that are not followed by LF, i.e. lines end in CR alone;
    /// `inQuotes`: a CSV record inside a quoted field, likely one that never closes).
    case tooLong(limit: Int, loneCR: Bool = false, inQuotes: Bool = false)
    /// A JSON Lines line is not JSON because CR characters not followed by LF separate records on it:
    /// lines that end in CR alone.
    case loneCR
    /// The input is not UTF-8 text (`problem`: what it is, e.g. UTF-16 or gzip-compressed, and what to do);
    /// nothing of it is read.
    case notText(String)

    /// The field concerned, when there is one.
    public var field: String? {
        switch self {
        case .notJSON, .notAnObject, .raggedRow, .tooLong, .loneCR, .notText: return nil
        case .missingText(let f), .textNotString(let f, _), .idNotStringOrNumber(let f, _), .titleNotString(let f, _),
             .labelNotString(let f, _): return f
        }
    }

    /// A short name of the problem, for tallies of skipped records ("not JSON", "text not a string", ...).
    public var problem: String {
        switch self {
        case .notJSON: return "not JSON"
        case .notAnObject: return "not a JSON object"
        case .missingText: return "text missing"
        case .textNotString: return "text not a string"
        case .idNotStringOrNumber: return "id not a string or number"
        case .titleNotString: return "title not a string"
        case .labelNotString: return "label not a string"
        case .raggedRow: return "wrong number of CSV fields"
        case .tooLong: return "record too long"
        case .loneCR: return "CR line endings"
        case .notText: return "not UTF-8 text"
        }
    }

    /// True when the rest of the input is not read after this record (a record over the length limit, an
    /// input that is not UTF-8 text): skipping it would leave out everything after it, so readers that skip
    /// bad records (`readAllPostings(skipBad: true)`) stop at it instead.
    public var endsInput: Bool {
        switch self {
        case .tooLong, .notText: return true
        default: return false
        }
    }

    /// What is wrong and how to fix it.
    public var message: String {
        switch self {
        case .notJSON(let reason, let column):
            return "not valid JSON: \(reason) at column \(column); each line must hold one complete JSON object"
        case .notAnObject(let type):
            return "expected a JSON object, got \(type)"
        case .missingText(let field):
            return "missing required field '\(field)'; every record needs the posting body as a string"
        case .textNotString(let field, let got):
            return "'\(field)' must be a string, got \(got); put the posting body in quotes"
        case .idNotStringOrNumber(_, let got):
            return "id must be a string or number, got \(got); use a string id or drop the field"
        case .titleNotString(_, let got):
            return "title must be a string or null, got \(got); use a string title or null"
        case .labelNotString(_, let got):
            return "label must be a string or null, got \(got); write the label as a string, or null for none"
        case .raggedRow(let fields, let headerFields):
            return "row has \(fields) fields but the header has \(headerFields); quote fields that contain commas"
        case .tooLong(let limit, let loneCR, let inQuotes):
            if loneCR {
                return "no line feed in the first \(limit) bytes, but carriage returns: the lines end in CR alone (classic Mac line endings); convert them to LF first (e.g. tr '\\r' '\\n'); the rest of the input is not read"
            }
            return "record longer than \(limit) bytes" + (inQuotes ? ", inside a quoted field that may never close (a '\"' inside a field must be doubled)" : "")
                + "; the rest of the input is not read"
        case .loneCR:
            return "not valid JSON: carriage returns not followed by a line feed separate records on this line (lines that end in CR alone, classic Mac line endings); convert them to LF first (e.g. tr '\\r' '\\n')"
        case .notText(let problem):
            return problem
        }
    }
}
