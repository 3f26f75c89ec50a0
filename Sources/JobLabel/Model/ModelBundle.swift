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
    /// Name, size and CRC-32 of the weights file.
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
        /// CRC-32 as 8 hex digits.
        public var crc32: String
    }
}

/// Reads and writes model bundles: a directory with `manifest.json` and `weights.bin`.
public enum ModelBundle {
    /// Bundle format version written by this build (2: the manifest carries its own CRC-32; version 1
    /// bundles, without it, still load).
    public static let formatVersion = 2
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
        var blocks: [WeightsFile.Block] = [
            .bytes(name: "vocabulary", values: model.vectorizer.vocabulary.newlineSeparated()),
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
                                          crc32: String(format: "%08x", CRC32.checksum(weights))),
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

    /// Reads only the manifest of the bundle at `directory`.
    public static func loadManifest(_ directory: String) throws -> Manifest {
        let path = directory + "/" + manifestName
        try checkDirectory(directory)
        return try decodeManifest(try readFile(path), path: path)
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
        if version >= 2 {
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
        }
        do {
            return try decoder.decode(Manifest.self, from: Data(data))
        } catch {
            throw JobLabelError.modelDamaged(file: path, field: nil, problem: "manifest is damaged or incomplete (\(describeDecodingError(error))); retrain the model")
        }
    }

    /// Loads and verifies the bundle at `directory`.
    public static func load(_ directory: String) throws -> JobLabelModel {
        let manifest = try loadManifest(directory)
        let weightsPath = directory + "/" + manifest.weights.file
        return try withFileBytes(weightsPath) { try decode(manifest: manifest, weights: $0, weightsPath: weightsPath) }
    }

    /// Builds a model from a verified manifest and the weights file's bytes (`weightsPath` is for messages).
    package static func decode(manifest: Manifest, weights data: [UInt8], weightsPath: String) throws -> JobLabelModel {
        try data.withUnsafeBytes { try decode(manifest: manifest, weights: $0, weightsPath: weightsPath) }
    }

    /// `decode` of weights bytes that are not in an array (a mapped file).
    static func decode(manifest: Manifest, weights data: UnsafeRawBufferPointer, weightsPath: String) throws -> JobLabelModel {
        func bad(_ message: String) -> JobLabelError {
            .modelDamaged(file: weightsPath, field: nil, problem: message)
        }
        // The weights file's checksum runs alongside parsing and building; the training id is checked first,
        // then the file against the manifest, then whatever building found.
        let (model, fileCRC) = try WeightsFile.decodeWithChecksum(data, path: weightsPath) { id, blocks -> Result<JobLabelModel, Error> in
            guard hex(id) == manifest.trainingId else {
                throw bad("weights belong to a different training than manifest.json (training id \(hex(id)) vs \(manifest.trainingId)); keep the bundle's files together or retrain")
            }
            return Result { try build(manifest: manifest, id: id, blocks: blocks, weightsPath: weightsPath) }
        }
        guard data.count == manifest.weights.bytes,
              String(format: "%08x", fileCRC) == manifest.weights.crc32.lowercased() else {
            throw bad("weights file does not match manifest.json (size \(data.count) bytes, manifest says \(manifest.weights.bytes), or another checksum); keep the bundle's files together or retrain")
        }
        return try model.get()
    }

    /// The model from a weights file's blocks (checked against the manifest's shapes).
    private static func build(manifest: Manifest, id: [UInt8], blocks: [String: WeightsFile.Block], weightsPath: String) throws -> JobLabelModel {
        func bad(_ message: String) -> JobLabelError {
            .modelDamaged(file: weightsPath, field: nil, problem: message)
        }
        guard case .bytes(_, let vocabBytes)? = blocks["vocabulary"],
              case .floats(_, _, let idf)? = blocks["idf"] else {
            throw bad("weights file lacks the vocabulary or idf block; retrain the model")
        }
        let vocabulary = TermTable.fromNewlineSeparated(vocabBytes)
        let v = manifest.vocabularySize
        guard vocabulary.count == v, idf.count == v else {
            throw bad("vocabulary has \(vocabulary.count) terms and \(idf.count) idf values, manifest says \(v); retrain the model")
        }
        var heads: [HeadModel] = []
        for h in manifest.heads {
            var models: [Algorithm: LinearModel] = [:]
            for algorithm in Algorithm.classifiers {
                let prefix = "\(h.name)/\(algorithm.rawValue)/"
                guard case .floats(_, _, let w)? = blocks[prefix + "weights"],
                      case .floats(_, _, let b)? = blocks[prefix + "bias"],
                      w.count == v * h.labels.count, b.count == h.labels.count else {
                    throw bad("weights for head '\(h.name)' (\(algorithm.rawValue)) are missing or have the wrong shape; retrain the model")
                }
                models[algorithm] = LinearModel(classes: h.labels, featureCount: v, weights: w, bias: b)
            }
            if let c = h.calibration {
                let k = h.labels.count
                let parts = Algorithm.allCases.map { c.algorithm($0) }
                guard parts.allSatisfy({ $0.thresholds.count == k && $0.thresholds.allSatisfy { t in t.map { $0.isFinite && $0 >= 0 && $0 <= 1 } ?? true } }),
                      Algorithm.classifiers.allSatisfy({ c.algorithm($0).temperature.map { $0.isFinite && $0 > 0 } ?? false }) else {
                    throw JobLabelError.modelDamaged(file: (weightsPath as NSString).deletingLastPathComponent + "/" + ModelBundle.manifestName,
                        field: "heads.\(h.name).calibration",
                        problem: "calibration of head '\(h.name)' needs a positive temperature for nb and lr and one threshold in [0, 1] or null per label; retrain the model")
                }
            }
            guard let nb = models[.nb], let lr = models[.lr] else {
                throw bad("weights for head '\(h.name)' are missing; retrain the model")
            }
            heads.append(HeadModel(name: h.name, classes: h.labels, classCounts: h.labelCounts,
                                   naiveBayes: nb, logisticRegression: lr,
                                   optimization: h.lrOptimization, calibration: h.calibration, calibrationNote: h.calibrationNote,
                                   experts: h.experts, decision: manifest.ordinalDecision ?? .mostProbable))
        }
        var config = TrainingConfig(heads: manifest.heads.map(\.name), vectorizer: manifest.vectorizer,
                                    naiveBayes: manifest.naiveBayes, logisticRegression: manifest.logisticRegression,
                                    seed: manifest.seed, calibration: manifest.calibration ?? .none, experts: manifest.experts,
                                    ordinalDecision: manifest.ordinalDecision ?? .mostProbable)
        let headSettings = manifest.heads.compactMap { h in h.settings.map { (h.name, $0) } }
        if !headSettings.isEmpty { config.headSettings = Dictionary(headSettings, uniquingKeysWith: { first, _ in first }) }
        var model = JobLabelModel(config: config,
                                  vectorizer: TfidfVectorizer(config: manifest.vectorizer, vocabulary: vocabulary, idf: idf),
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

private func describeDecodingError(_ error: Error) -> String {
    guard let e = error as? DecodingError else { return "\(error)" }
    switch e {
    case .keyNotFound(let key, let ctx):
        return "missing key '\((ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
    case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
        return "bad value at '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))'"
    @unknown default:
        return "\(error)"
    }
}

/// Opens a file for reading with POSIX calls: its descriptor and size (one-line errors, no Foundation exceptions).
private func openForReading(_ path: String) throws -> (fd: Int32, size: Int) {
    let fd = open(path, O_RDONLY)
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
    return (fd, (st.st_mode & S_IFMT) == S_IFREG ? Int(st.st_size) : -1)
}

/// Reads a whole file with POSIX calls (one-line errors, no Foundation exceptions).
func readFile(_ path: String) throws -> [UInt8] {
    let (fd, size) = try openForReading(path)
    defer { close(fd) }
    return try readAll(fd, size: max(0, size), path: path)
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

/// Runs `body` on the bytes of a whole regular file mapped read-only: no copy and no fresh memory, the page
/// cache backs them (a 28.6 MB weights file: ~15 ms less than reading it). Falls back to reading when the
/// file cannot be mapped. A file truncated by another process while it is mapped raises SIGBUS (the
/// `joblabel` executable turns that into an I/O error, exit 74); `joblabel train` never does that, it
/// replaces files by renaming.
func withFileBytes<R>(_ path: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
    let (fd, size) = try openForReading(path)
    defer { close(fd) }
    if size > 0 {
        #if os(Linux)
        let flags = MAP_PRIVATE | MAP_POPULATE
        #else
        let flags = MAP_PRIVATE
        #endif
        if let p = mmap(nil, size, PROT_READ, flags, fd, 0), p != MAP_FAILED {
            defer { munmap(p, size) }
            return try body(UnsafeRawBufferPointer(start: p, count: size))
        }
    }
    return try readAll(fd, size: max(0, size), path: path).withUnsafeBytes(body)
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
