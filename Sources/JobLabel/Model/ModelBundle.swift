import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The JSON manifest of a model bundle (`manifest.json`).
public struct Manifest: Codable, Sendable {
    /// Always "joblabel-model".
    public var format: String
    /// Bundle format version.
    public var formatVersion: Int
    /// joblabel version that wrote it.
    public var joblabelVersion: String
    /// Hex id shared with the weights file.
    public var trainingId: String
    /// Heads with their label sets.
    public var heads: [HeadManifest]
    /// Number of TF-IDF features.
    public var vocabularySize: Int
    /// Tokenizer and TF-IDF settings.
    public var vectorizer: VectorizerConfig
    /// Naive Bayes settings.
    public var naiveBayes: NaiveBayesConfig
    /// Logistic regression settings.
    public var logisticRegression: LogisticRegressionConfig
    /// Seed.
    public var seed: UInt64
    /// Calibration settings (nil in bundles written before calibration existed: T = 1, no thresholds).
    public var calibration: CalibrationConfig?
    /// Title and body experts' settings (nil: one model per classifier).
    public var experts: ExpertsConfig?
    /// How ordinal heads pick their label (nil: the most probable label).
    public var ordinalDecision: DecisionRule?
    /// The settings search that chose the settings (`train --autotune`; nil: settings given).
    public var autotune: AutotuneReport?
    /// Training data, time and training-set metrics.
    public var training: TrainingInfo
    /// Name, size and checksum of the weights file.
    public var weights: WeightsInfo
    /// CRC-32 (8 hex digits) of manifest.json as written with this value set to "00000000"; from format
    /// version 2 on (version 1 bundles have none).
    public var manifestCrc32: String?

    /// One head's labels.
    public struct HeadManifest: Codable, Sendable {
        /// Label field.
        public var name: String
        /// Classes in weight-column order.
        public var labels: [String]
        /// Training rows per class, in `labels` order.
        public var labelCounts: [Int]
        /// Logistic regression's optimisation report.
        public var lrOptimization: OptimizationReport?
        /// Temperatures, held-out ECE before and after, and per-class thresholds (nil: not calibrated).
        public var calibration: HeadCalibration?
        /// Why calibration was skipped for this head although asked for (nil otherwise).
        public var calibrationNote: String?
        /// The head's title and body experts (nil: one model per classifier).
        public var experts: HeadExperts?
        /// The head's own classifier settings, replacing the shared ones (nil: the shared ones).
        public var settings: HeadSettings?
    }

    /// The weights file.
    public struct WeightsInfo: Codable, Sendable {
        /// File name inside the bundle.
        public var file: String
        /// Size in bytes.
        public var bytes: Int
        /// The weights file's checksum (the CRC-32C of its chunk checksums, its last 4 bytes) as 8 hex digits.
        public var crc32c: String
    }
}

/// Reads and writes model bundles: a directory with `manifest.json` and `weights.bin`.
public enum ModelBundle {
    /// Bundle format version written and read by this build (3: weights file version 2, with CRC-32C chunk
    /// checksums, 64-byte aligned blocks used in place, and the vocabulary's hash table). Older bundles are
    /// refused with a message to retrain: version 1 has no manifest checksum, version 2 a weights file that
    /// must be copied and its vocabulary table rebuilt.
    public static let formatVersion = 3
    /// The manifest's checksum field as it appears in the file, up to its value.
    static let manifestChecksumKey = Array("\"manifest_crc32\" : \"".utf8)
    /// joblabel's version.
    public static let joblabelVersion = "0.1.0"
    static let manifestName = "manifest.json"
    static let weightsName = "weights.bin"
    /// The model card a bundle directory may hold beside its two files; `save` carries it over.
    static let cardName = "README.md"

    /// A step of `save`, reported to its `progress` callback.
    public enum SaveStep: String, Sendable, CaseIterable {
        /// The new bundle's files are being written to a temporary directory beside the target.
        case writing
        /// The temporary directory holds the complete new bundle; the target still holds the old one.
        case written
        /// The new bundle has replaced the old one.
        case replaced
    }

    /// Writes `model` to `directory` atomically: everything goes to a temporary directory beside it,
    /// which then replaces `directory` by rename, so readers see the old bundle or the new one, never a mix.
    /// Where the directory cannot be replaced (a mount point, a parent that cannot be written) its files are
    /// replaced inside it, weights first. Refused (`outputRefused`, before anything is written) when
    /// `directory` is one of `inputs`, inside one or holds one, or is neither absent, empty nor a bundle
    /// (`checkModelOutput`). A model card `README.md` in the directory stays. `progress` is told each step.
    public static func save(_ model: JobLabelModel, to directory: String, sparing inputs: [String] = [],
                            progress: ((SaveStep) -> Void)? = nil) throws {
        try writeModelBundle(model, to: directory, inputs: inputs, progress: progress)
    }

    /// Removes temporary bundles left by earlier runs that were killed (their process no longer exists).
    static func removeStaleTemporaries(parent: String, name: String) {
        let prefix = "." + name + ".tmp-"
        let fm = FileManager.default
        for entry in (try? fm.contentsOfDirectory(atPath: parent)) ?? [] where entry.hasPrefix(prefix) {
            let rest = entry.dropFirst(prefix.count)
            guard let pid = Int32(rest.prefix { $0 != "-" }), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                try? fm.removeItem(atPath: parent + "/" + entry)
            }
        }
    }

    /// Serialises a model into manifest JSON and weights bytes.
    package static func encode(_ model: JobLabelModel) throws -> (manifest: [UInt8], weights: [UInt8]) {
        let vocabulary = model.vectorizer.vocabulary.newlineSeparated()
        // The hash table a load uses as it is (the one built from the stored terms, in their order).
        let slots = TermTable.fromNewlineSeparated(vocabulary).storedSlots
        var blocks: [WeightsFile.Block] = [
            .bytes(name: "vocabulary", values: vocabulary),
            .words(name: "vocabulary/slots", shape: [slots.count / 2, 2], values: slots),
            .floats(name: "idf", shape: [model.vectorizer.featureCount], values: model.vectorizer.idf),
        ]
        for head in model.heads {
            for algorithm in Algorithm.classifiers {
                let m = head.model(algorithm)
                blocks.append(.floats(name: "\(head.name)/\(algorithm.rawValue)/weights",
                                      shape: [m.featureCount, m.classCount], values: m.weights))
                blocks.append(.floats(name: "\(head.name)/\(algorithm.rawValue)/bias", shape: [m.classCount], values: m.bias))
            }
        }
        let weights = WeightsFile.encode(trainingID: model.trainingID, blocks: blocks)
        let manifest = Manifest(
            format: "joblabel-model", formatVersion: formatVersion, joblabelVersion: joblabelVersion,
            trainingId: hex(model.trainingID),
            heads: model.heads.map {
                Manifest.HeadManifest(name: $0.name, labels: $0.classes, labelCounts: $0.classCounts, lrOptimization: $0.optimization,
                                      calibration: $0.calibration, calibrationNote: $0.calibrationNote, experts: $0.experts,
                                      settings: model.config.headSettings?[$0.name])
            },
            vocabularySize: model.vectorizer.featureCount, vectorizer: model.config.vectorizer,
            naiveBayes: model.config.naiveBayes, logisticRegression: model.config.logisticRegression,
            seed: model.config.seed, calibration: model.config.calibration, experts: model.config.experts,
            ordinalDecision: model.config.ordinalDecision == .mostProbable ? nil : model.config.ordinalDecision, autotune: model.autotune,
            training: model.info,
            weights: Manifest.WeightsInfo(file: weightsName, bytes: weights.count,
                                          crc32c: String(hexCRC: WeightsFile.storedChecksum(weights) ?? 0)),
            manifestCrc32: "00000000")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        var json = Array(try encoder.encode(manifest)) + [0x0A]
        // The checksum covers the file with its own value zeroed, then goes in place of the zeros.
        guard let at = manifestChecksumOffsets(json).first else {
            throw JobLabelError.io(path: manifestName, message: "internal error: manifest checksum field not written")
        }
        let crc = Array(String(format: "%08x", CRC32.checksum(json)).utf8)
        json.replaceSubrange(at..<(at + 8), with: crc)
        return (json, weights)
    }

    /// Reads only the manifest of the bundle at `directory` (verified and validated).
    public static func loadManifest(_ directory: String) throws -> Manifest {
        let path = directory + "/" + manifestName
        try checkDirectory(directory)
        return try decodeManifest(try readFile(path, limit: ManifestValidation.maximumManifestBytes), path: path)
    }

    /// True when `path` is a readable joblabel manifest of any version, sound or not (`train` replaces such a bundle).
    static func isBundleManifest(_ path: String) -> Bool {
        struct Header: Decodable { var format: String? }
        guard let data = try? readFile(path, limit: ManifestValidation.maximumManifestBytes),
              let header = try? JSONDecoder().decode(Header.self, from: Data(data)) else { return false }
        return header.format == "joblabel-model"
    }

    /// Parses and verifies manifest bytes (`path` is for messages).
    package static func decodeManifest(_ data: [UInt8], path: String) throws -> Manifest {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        // Check the format version before decoding the rest, so newer bundles get a clear message.
        struct Header: Decodable { var format: String?; var formatVersion: Int? }
        guard let header = try? decoder.decode(Header.self, from: Data(data)), header.format == "joblabel-model",
              let version = header.formatVersion else {
            throw JobLabelError.modelDamaged(file: path, field: nil, problem: "not a joblabel manifest (unreadable JSON or no \"format\": \"joblabel-model\"); retrain the model")
        }
        guard version <= formatVersion else {
            throw JobLabelError.modelTooNew(file: path, version: version, supported: formatVersion)
        }
        // Every version loaded is verified: one without a manifest checksum (1) could have been edited at will.
        guard version == formatVersion else {
            throw JobLabelError.modelDamaged(file: path, field: "format_version", problem: version == 1
                ? "format version 1 bundles carry no manifest checksum, so their content cannot be verified; retrain the model with this joblabel"
                : version == 2
                ? "format version 2 bundles are no longer read (this joblabel reads version \(formatVersion): weights used in place, a stored vocabulary table, CRC-32C); retrain the model with this joblabel"
                : "must be \(formatVersion), got \(version); retrain the model")
        }
        let offsets = manifestChecksumOffsets(data)
        guard offsets.count == 1, let at = offsets.first, at + 8 <= data.count else {
            throw JobLabelError.modelDamaged(file: path, field: "manifest_crc32", problem: "manifest has no readable checksum; the file is damaged, retrain the model or restore it")
        }
        var zeroed = data
        zeroed.replaceSubrange(at..<(at + 8), with: Array("00000000".utf8))
        // Compared as written (8 lowercase hex digits), so even a changed letter case is refused.
        guard data[at..<(at + 8)].elementsEqual(String(hexCRC: CRC32.checksum(zeroed)).utf8) else {
            throw JobLabelError.modelDamaged(file: path, field: nil, problem: "manifest checksum mismatch: the file is damaged or was edited; retrain the model or restore it")
        }
        let manifest: Manifest
        do {
            manifest = try decoder.decode(Manifest.self, from: Data(data))
        } catch {
            let (field, problem) = describeDecodingError(error)
            throw JobLabelError.modelDamaged(file: path, field: field, problem: "\(problem); the manifest is damaged or incomplete, retrain the model")
        }
        // A checksum shows the bytes are the ones written, not that a joblabel wrote them: every field is checked.
        try ManifestValidation.validate(manifest, file: path)
        return manifest
    }

    /// Loads and verifies the bundle at `directory`.
    public static func load(_ directory: String) throws -> JobLabelModel {
        let manifest = try loadManifest(directory)
        let weightsPath = directory + "/" + manifest.weights.file
        // The floats are used in place, but classifying copies them into its own layout: a file larger than
        // the memory this process may use cannot be used (asked only for files over 256 MiB: finding the limit
        // reads system files).
        if manifest.weights.bytes > 256 << 20 {
            let available = TrainingMemory.available()
            guard UInt64(manifest.weights.bytes) <= available else {
                throw JobLabelError.modelTooLarge(file: weightsPath, bytes: manifest.weights.bytes, availableBytes: available)
            }
        }
        // The file's size is compared with the manifest's before anything is read or mapped.
        let weights = try mapFile(weightsPath, expectedSize: manifest.weights.bytes)
        return try decode(manifest: manifest, weights: weights, weightsPath: weightsPath)
    }

    /// Builds a model from a verified manifest and the weights file's bytes (`weightsPath` is for messages).
    package static func decode(manifest: Manifest, weights data: [UInt8], weightsPath: String) throws -> JobLabelModel {
        try decode(manifest: manifest, weights: WeightsBytes(copying: data), weightsPath: weightsPath)
    }

    /// `decode` of a weights file's bytes that the model keeps and uses in place (a mapped file).
    static func decode(manifest: Manifest, weights file: WeightsBytes, weightsPath: String) throws -> JobLabelModel {
        func bad(_ message: String) -> JobLabelError {
            .modelDamaged(file: weightsPath, field: nil, problem: message)
        }
        let data = file.bytes
        guard data.count == manifest.weights.bytes else { throw sizeMismatch(data.count, manifest: manifest, weightsPath: weightsPath) }
        // Header and checksum table first (a few bytes): the training id, then the file against the manifest;
        // then every chunk's checksum and every float's range in one parallel pass, then the blocks.
        let head = try WeightsFile.header(data, path: weightsPath)
        guard hex(head.trainingID) == manifest.trainingId else {
            throw bad("weights belong to a different training than manifest.json (training id \(hex(head.trainingID)) vs \(manifest.trainingId)); keep the bundle's files together or retrain")
        }
        guard String(hexCRC: head.checksum) == manifest.weights.crc32c else {
            throw bad("weights file does not match manifest.json (its checksum is \(String(hexCRC: head.checksum)), manifest says \(manifest.weights.crc32c)); keep the bundle's files together or retrain")
        }
        let blocks = try WeightsFile.verifiedBlocks(data, head, path: weightsPath)
        return try build(manifest: manifest, id: head.trainingID, blocks: blocks, file: file, weightsPath: weightsPath)
    }

    static func sizeMismatch(_ size: Int, manifest: Manifest, weightsPath: String) -> JobLabelError {
        .modelDamaged(file: weightsPath, field: nil, problem: "weights file does not match manifest.json (size \(size) bytes, manifest says \(manifest.weights.bytes)); keep the bundle's files together or retrain")
    }

    /// The model from a weights file's verified blocks: exactly the blocks the manifest describes, each of its
    /// type and shape; the idf values in the range training gives them (the manifest itself is already
    /// validated). The weight matrices stay in `file` (little-endian hosts).
    private static func build(manifest: Manifest, id: [UInt8], blocks: [String: WeightsFile.StoredBlock], file: WeightsBytes,
                              weightsPath: String) throws -> JobLabelModel {
        func bad(_ message: String) -> JobLabelError {
            .modelDamaged(file: weightsPath, field: nil, problem: message)
        }
        let data = file.bytes
        let v = manifest.vocabularySize
        var described: Set<String> = ["vocabulary", "vocabulary/slots", "idf"]
        func block(_ name: String, type: UInt8, shape: [Int]?) throws -> WeightsFile.StoredBlock {
            described.insert(name)
            let kind = type == 1 ? "float" : type == 2 ? "byte" : "uint64"
            guard let b = blocks[name], b.type == type else {
                throw bad("weights file lacks the \(kind) block '\(name)'; retrain the model")
            }
            if let shape, b.shape != shape {
                throw bad("block '\(name)' has shape \(b.shape), manifest.json says \(shape); retrain the model")
            }
            return b
        }
        func floats(_ b: WeightsFile.StoredBlock) -> [Float] {
            (0..<b.count).map { Float(bitPattern: WeightsFile.le32(data, b.offset + 4 * $0)) }
        }
        let vocabBlock = try block("vocabulary", type: 2, shape: nil)
        let slotsBlock = try block("vocabulary/slots", type: 3, shape: nil)
        let idf = floats(try block("idf", type: 1, shape: [v]))
        let vocabBytes = UnsafeRawBufferPointer(rebasing: data[vocabBlock.offset..<(vocabBlock.offset + vocabBlock.count)])
        // The vocabulary is checked against the settings on another thread while its table is checked.
        let vectorizer = manifest.vectorizer
        let vocabularyCheck = Pending { Result { try ManifestValidation.vocabulary(vocabBytes, vectorizer) } }
        let vocabulary = Result {
            try TermTable.fromStored(vocabulary: vocabBytes,
                                     slots: UnsafeRawBufferPointer(rebasing: data[slotsBlock.offset..<(slotsBlock.offset + slotsBlock.byteCount)]))
        }
        if case .failure(let violation as ManifestValidation.Violation) = vocabularyCheck.wait() {
            throw JobLabelError.modelDamaged(file: (weightsPath as NSString).deletingLastPathComponent + "/" + manifestName,
                                             field: violation.field, problem: violation.problem + "; manifest.json and weights.bin disagree, retrain the model")
        }
        let terms: TermTable
        do {
            terms = try vocabulary.get()
        } catch let e as StoredVocabularyProblem {
            throw bad(e.message + "; retrain the model")
        }
        guard terms.count == v else {
            throw bad("vocabulary has \(terms.count) terms, manifest says \(v); retrain the model")
        }
        // idf = ln((1 + n) / (1 + df)) + 1 with 1 ≤ df ≤ n documents.
        let largestIDF = log(Double(manifest.training.documents) + 1) + 1 + 1e-3
        if let j = idf.firstIndex(where: { !(Double($0) >= 1 && Double($0) <= largestIDF) }) {
            throw bad("idf[\(j)] is \(idf[j]), outside 1...\(String(format: "%.3f", largestIDF)) for \(manifest.training.documents) documents; retrain the model")
        }
        var heads: [HeadModel] = []
        for h in manifest.heads {
            let k = h.labels.count
            var models: [Algorithm: LinearModel] = [:]
            for algorithm in Algorithm.classifiers {
                let prefix = "\(h.name)/\(algorithm.rawValue)/"
                let w = try block(prefix + "weights", type: 1, shape: [v, k])
                let b = floats(try block(prefix + "bias", type: 1, shape: [k]))
                #if _endian(little)
                models[algorithm] = LinearModel(classes: h.labels, featureCount: v, weightsIn: file, offset: w.offset, bias: b)
                #else
                models[algorithm] = LinearModel(classes: h.labels, featureCount: v, weights: floats(w), bias: b)
                #endif
            }
            guard let nb = models[.nb], let lr = models[.lr] else {
                throw bad("weights for head '\(h.name)' are missing; retrain the model")
            }
            heads.append(HeadModel(name: h.name, classes: h.labels, classCounts: h.labelCounts,
                                   naiveBayes: nb, logisticRegression: lr,
                                   optimization: h.lrOptimization, calibration: h.calibration, calibrationNote: h.calibrationNote,
                                   experts: h.experts, decision: manifest.ordinalDecision ?? .mostProbable))
        }
        if let extra = blocks.keys.sorted().first(where: { !described.contains($0) }) {
            throw bad("weights file holds a block '\(extra)' that manifest.json does not describe; retrain the model")
        }
        var config = TrainingConfig(heads: manifest.heads.map(\.name), vectorizer: manifest.vectorizer,
                                    naiveBayes: manifest.naiveBayes, logisticRegression: manifest.logisticRegression,
                                    seed: manifest.seed, calibration: manifest.calibration ?? .none, experts: manifest.experts,
                                    ordinalDecision: manifest.ordinalDecision ?? .mostProbable)
        let headSettings = manifest.heads.compactMap { h in h.settings.map { (h.name, $0) } }
        if !headSettings.isEmpty { config.headSettings = Dictionary(headSettings, uniquingKeysWith: { first, _ in first }) }
        var model = JobLabelModel(config: config,
                                  vectorizer: TfidfVectorizer(config: manifest.vectorizer, vocabulary: terms, idf: idf),
                                  heads: heads, info: manifest.training, trainingID: id)
        model.autotune = manifest.autotune
        return model
    }

    private static func checkDirectory(_ directory: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) else {
            throw JobLabelError.modelNotFound(directory: directory)
        }
        guard isDir.boolValue else {
            throw JobLabelError.modelIsAFile(path: directory)
        }
    }
}

/// Offsets of the manifest checksum's value (just after `"manifest_crc32" : "`) in manifest bytes. The key
/// cannot occur inside a JSON string (its quotes would be escaped there), so a sound file has exactly one.
package func manifestChecksumOffsets(_ bytes: [UInt8]) -> [Int] {
    let key = ModelBundle.manifestChecksumKey
    guard bytes.count >= key.count else { return [] }
    var out: [Int] = []
    var i = 0
    while i + key.count <= bytes.count {
        if bytes[i] == key[0] && bytes[i..<(i + key.count)].elementsEqual(key) { out.append(i + key.count) }
        i += 1
    }
    return out
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// The field (as a JSON path, `heads[1].label_counts`) and the problem of a manifest decoding error.
private func describeDecodingError(_ error: Error) -> (field: String?, problem: String) {
    guard let e = error as? DecodingError else { return (nil, "\(error)") }
    switch e {
    case .keyNotFound(let key, let ctx):
        return (jsonPath(ctx.codingPath + [key]), "is missing")
    case .valueNotFound(let type, let ctx):
        return (jsonPath(ctx.codingPath), "must be \(jsonType(type)), got null")
    case .typeMismatch(let type, let ctx):
        return (jsonPath(ctx.codingPath), "must be \(jsonType(type))")
    case .dataCorrupted(let ctx):
        return ctx.codingPath.isEmpty ? (nil, "manifest holds a number too large for its field, or a value not allowed")
                                      : (jsonPath(ctx.codingPath), "has a value that is out of range or not allowed")
    @unknown default:
        return (nil, "\(error)")
    }
}

/// A coding path as the manifest's JSON path: snake-case keys joined by dots, array indices in brackets.
func jsonPath(_ path: [CodingKey]) -> String {
    var out = ""
    for key in path {
        if let i = key.intValue {
            out += "[\(i)]"
        } else {
            if !out.isEmpty { out += "." }
            for c in key.stringValue {
                if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
            }
        }
    }
    return out
}

/// A Swift type as the JSON value it is decoded from, for messages.
private func jsonType(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: return "a string"
    case is Bool.Type: return "true or false"
    case is Int.Type, is UInt64.Type: return "a whole number"
    case is Double.Type, is Float.Type: return "a number"
    default:
        let name = "\(type)"
        return name.hasPrefix("Array") ? "an array" : name.hasPrefix("Dictionary") ? "an object" : "a value of the right type"
    }
}

/// Opens a regular file for reading with POSIX calls: its descriptor and size (one-line errors, no Foundation
/// exceptions). A symbolic link is followed, but what it leads to must be a regular file too: a FIFO, device
/// or socket is refused without reading from it (opened non-blocking, so a FIFO with no writer cannot hang).
private func openForReading(_ path: String) throws -> (fd: Int32, size: Int) {
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else {
        let err = errno
        if err == ENOENT {
            throw JobLabelError.modelFileMissing(path: path)
        }
        let hint = err == EACCES ? "; make it readable (chmod +r) or run as its owner" : ""
        throw JobLabelError.io(path: path, message: "cannot open: \(String(cString: strerror(err)))\(hint)")
    }
    var st = stat()
    guard fstat(fd, &st) == 0 else {
        let err = errno
        close(fd)
        throw JobLabelError.io(path: path, message: "cannot stat: \(String(cString: strerror(err)))")
    }
    if (st.st_mode & S_IFMT) == S_IFDIR {
        close(fd)
        throw JobLabelError.io(path: path, message: "is a directory, expected a file")
    }
    guard (st.st_mode & S_IFMT) == S_IFREG else {
        close(fd)
        throw JobLabelError.modelDamaged(file: path, field: nil, problem: "is not a regular file (a FIFO, device or socket); a model bundle holds the files joblabel train writes")
    }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    return (fd, Int(st.st_size))
}

/// Reads a whole regular file with POSIX calls (one-line errors, no Foundation exceptions); a manifest
/// (`limit`: its largest size) longer than `limit` is refused before it is read.
func readFile(_ path: String, limit: Int = Int.max) throws -> [UInt8] {
    let (fd, size) = try openForReading(path)
    defer { close(fd) }
    guard size <= limit else {
        throw JobLabelError.modelDamaged(file: path, field: nil, problem: "is \(size) bytes, more than the \(limit) a model bundle's manifest may have; retrain the model")
    }
    return try readAll(fd, size: size, path: path)
}

/// Reads `size` bytes (fewer if the file is shorter) from `fd` straight into uninitialised storage (no zero-fill).
private func readAll(_ fd: Int32, size: Int, path: String) throws -> [UInt8] {
    var failure: Int32 = 0
    let out = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
        adviseHugePages(buffer.baseAddress, bytes: size)
        var done = 0
        while done < size, let base = buffer.baseAddress {
            let n = read(fd, base + done, size - done)
            if n < 0 {
                if errno == EINTR { continue }
                failure = errno
                break
            }
            if n == 0 { break }
            done += n
        }
        initialized = done
    }
    if failure != 0 {
        throw JobLabelError.io(path: path, message: "read failed: \(String(cString: strerror(failure)))")
    }
    return out
}

/// The bytes of a whole regular file mapped read-only: no copy and no fresh memory, the page cache backs
/// them, and the model uses its floats in place. Falls back to reading when the file cannot be mapped. A
/// file truncated by another process while it is mapped raises SIGBUS (the `joblabel` executable turns that
/// into an I/O error, exit 74); `joblabel train` never does that, it replaces files by renaming.
/// `expectedSize`, when given, is compared with the file's size before anything is mapped or read.
func mapFile(_ path: String, expectedSize: Int? = nil) throws -> WeightsBytes {
    let (fd, size) = try openForReading(path)
    defer { close(fd) }
    if let expectedSize, size != expectedSize {
        throw JobLabelError.modelDamaged(file: path, field: nil, problem: "weights file does not match manifest.json (size \(size) bytes, manifest says \(expectedSize)); keep the bundle's files together or retrain")
    }
    if size > 0 {
        #if os(Linux)
        let flags = MAP_PRIVATE | MAP_POPULATE
        #else
        let flags = MAP_PRIVATE
        #endif
        if let p = mmap(nil, size, PROT_READ, flags, fd, 0), p != MAP_FAILED {
            return WeightsBytes(mapping: p, count: size)
        }
    }
    return WeightsBytes(copying: try readAll(fd, size: max(0, size), path: path))
}

/// Writes all of `bytes` to a file descriptor, retrying short writes and EINTR; returns errno on failure.
@discardableResult
package func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { raw in write(fd, raw.baseAddress! + done, raw.count - done) }
        if n < 0 {
            if errno == EINTR { continue }
            return errno
        }
        if n == 0 { return EIO }
        done += n
    }
    return nil
}

/// Writes a whole file and fsyncs it; errors (e.g. a full disk) become `.io`.
func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else {
        throw JobLabelError.io(path: path, message: "cannot create: \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    if let err = writeAll(fd, bytes) {
        throw JobLabelError.io(path: path, message: "write failed: \(String(cString: strerror(err)))")
    }
    guard fsync(fd) == 0 else {
        throw JobLabelError.io(path: path, message: "fsync failed: \(String(cString: strerror(errno)))")
    }
}

/// fsyncs a directory so renames inside it are durable.
func syncPath(_ path: String) throws {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return }
    defer { close(fd) }
    _ = fsync(fd)
}

extension String {
    /// A CRC-32 as 8 lowercase hex digits, as the manifest stores checksums.
    package init(hexCRC value: UInt32) {
        let digits = String(value, radix: 16)
        self = String(repeating: "0", count: 8 - digits.count) + digits
    }
}

