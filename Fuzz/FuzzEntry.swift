// The fuzz targets' entry points (target JobLabelFuzz): shared by the libFuzzer binary that scripts/fuzz builds
// (with Fuzz/FuzzMain.swift) and the regression test that replays Fuzz/corpus. They reach the library's
// `package` declarations, not its internals.
import Foundation
import JobLabel

/// For any bytes each entry point must return normally (bad input = a `JobLabelError`); a trap or an
/// untyped error is a bug.
public enum FuzzEntry {
    /// What went wrong in one run, for the harness; nil when the input was handled as designed.
    public typealias Failure = String

    /// JSON Lines reader: byte 0 picks the chunk size (1...64 bytes, so records span many chunk
    /// boundaries), the rest is the file. Reads everything, resuming after bad records.
    public static func jsonl(_ data: [UInt8]) -> Failure? { readAll(data, format: .jsonl) }

    /// CSV reader, as `jsonl`.
    public static func csv(_ data: [UInt8]) -> Failure? { readAll(data, format: .csv) }

    private static func readAll(_ data: [UInt8], format: InputFormat) -> Failure? {
        guard let first = data.first else { return nil }
        let chunk = Int(first % 64) + 1
        let reader = PostingReader(bytes: Array(data.dropFirst()), spec: InputSpec(path: "fuzz", format: format),
                                   heads: ["role", "seniority"], chunkSize: chunk)
        var calls = 0
        while calls <= data.count + 2 {
            calls += 1
            do {
                let batch = try reader.next(maxCount: 3)
                if batch.isEmpty { return nil }
                for record in batch {
                    switch record {
                    case .success(let p) where p.labels.count != 2 || p.line < 1:
                        return "posting with \(p.labels.count) labels at line \(p.line)"
                    case .failure(let error):
                        // A bad record has its line; an input that is not UTF-8 text is one failure at line 0.
                        guard case .badRecord(let problem, _, let line) = error else { return "record failure that is not a bad record: \(error)" }
                        if case .notText = problem { if line != 0 { return "not-text failure at line \(line)" } }
                        else if line < 1 { return "bad record at line \(line)" }
                    default: break
                    }
                }
            } catch is JobLabelError {
                return nil  // a whole-input error ends the input
            } catch {
                return "untyped error \(error)"
            }
        }
        return "reader did not finish after \(calls) calls"
    }

    /// Builds the shared inputs of the targets (the bundles they edit) ahead of the first run.
    public static func prepare() {
        _ = validBundle
        _ = calibratedBundle
        _ = calibratedDocument
    }

    /// A small valid bundle (manifest, weights) the model target damages.
    nonisolated(unsafe) public static var validBundle: (manifest: [UInt8], weights: [UInt8])? = {
        let rows: [(String, String, String)] = [
            ("sales quota deals customers", "sales", "entry"), ("python code systems go", "it", "senior"),
            ("campaign brand social media", "marketing", "entry"), ("pipeline quota closing", "sales", "senior"),
            ("backend services python", "it", "entry"), ("brand strategy campaigns", "marketing", "senior"),
        ]
        let postings = rows.enumerated().map { k, r in
            Posting(id: "f\(k)", text: Array(r.0.utf8), labels: [r.1, r.2], file: "fuzz", line: k + 1)
        }
        var config = TrainingConfig.sklearn
        config.heads = ["role", "seniority"]
        guard let model = try? JobLabelModel.train(config, postings: postings, files: ["fuzz"]) else { return nil }
        return try? ModelBundle.encode(model)
    }()

    /// A small calibrated bundle (joblabel's default settings: title namespace, cues, temperatures and
    /// thresholds) that the manifest target edits.
    nonisolated(unsafe) public static var calibratedBundle: (manifest: [UInt8], weights: [UInt8])? = {
        let words = [["sales", "quota", "deals", "customers", "pipeline", "closing"],
                     ["python", "code", "systems", "backend", "services", "go"],
                     ["campaign", "brand", "social", "media", "strategy", "content"]]
        let roles = ["sales", "it", "marketing"], levels = ["entry", "senior"]
        let postings = (0..<240).map { i -> Posting in
            let r = i % 3, l = (i / 3) % 2
            let text = (0..<6).map { words[r][($0 * 7 + i) % 6] }.joined(separator: " ") + (l == 0 ? " graduates welcome" : " 5+ years leading teams")
            return Posting(id: "c\(i)", title: Array("\(l == 0 ? "Junior" : "Senior") \(roles[r])".utf8), text: Array(text.utf8),
                           labels: [roles[r], i % 17 == 0 ? levels[1 - l] : levels[l]], file: "fuzz", line: i + 1)
        }
        guard let model = try? JobLabelModel.train(TrainingConfig.product, postings: postings, files: ["fuzz"]) else { return nil }
        return try? ModelBundle.encode(model)
    }()

    /// Model loader: byte 0 picks the mode, the rest is either a whole file (modes 0-2) or edits to the
    /// valid bundle (modes 3-5: triples of big-endian offset and an XOR mask; mask 0 truncates there).
    /// 0/3: weights.bin; 1/4: manifest.json; 2/5: manifest.json with its checksum re-stamped, so the
    /// JSON decoding behind the checksum is reached too. A damaged bundle must be refused: loading it
    /// successfully is only allowed when the bytes equal the valid ones or the checksum was re-stamped.
    public static func model(_ data: [UInt8]) -> Failure? {
        guard let (manifest, weights) = validBundle else { return "could not build the valid bundle" }
        guard let first = data.first else { return nil }
        let mode = Int(first % 6)
        let rest = Array(data.dropFirst())
        var m = manifest, w = weights
        if mode < 3 {
            if mode == 0 { w = rest } else { m = rest }
        } else {
            var target = mode == 3 ? weights : manifest
            var k = 0
            while k + 3 <= rest.count {
                let offset = (Int(rest[k]) << 8 | Int(rest[k + 1])) % max(1, target.count)
                if rest[k + 2] == 0 {
                    target.removeSubrange(offset...)
                } else if offset < target.count {
                    target[offset] ^= rest[k + 2]
                }
                k += 3
            }
            if mode == 3 { w = target } else { m = target }
        }
        let restamped = mode == 2 || mode == 5
        if restamped, let at = manifestChecksumOffsets(m).first, at + 8 <= m.count {
            m.replaceSubrange(at..<(at + 8), with: Array("00000000".utf8))
            m.replaceSubrange(at..<(at + 8), with: Array(String(hexCRC: CRC32.checksum(m)).utf8))
        }
        do {
            let parsed = try ModelBundle.decodeManifest(m, path: "fuzz/manifest.json")
            let model = try ModelBundle.decode(manifest: parsed, weights: w, weightsPath: "fuzz/weights.bin")
            if !restamped && (m != manifest || w != weights) { return "a damaged bundle loaded" }
            // Whatever loaded must predict without trapping.
            _ = model.classify(text: "sales python brand")
            return nil
        } catch is JobLabelError {
            return nil
        } catch {
            return "untyped error \(error)"
        }
    }

    // MARK: Structural manifest fuzzing

    /// Manifest structure: the valid bundle's manifest parsed as JSON and edited by `data`, read as triples:
    /// two bytes pick a value anywhere in the document (pre-order, recomputed after each edit), one byte an
    /// edit (`ManifestEdit`: types, extremes, NaN and infinity as strings, huge numbers, removed, repeated
    /// and added keys and elements, long arrays). The result is written back as JSON and its checksum
    /// re-stamped, so only the loader's validation stands between it and a model. It must be refused with a
    /// `JobLabelError`, or load into a model that labels every posting with probabilities in [0, 1] summing
    /// to 1 under every algorithm and stored thresholds, and whose model card prints.
    public static func manifest(_ data: [UInt8]) -> Failure? {
        guard let (manifest, weights) = calibratedBundle else { return "could not build the calibrated bundle" }
        guard var document = calibratedDocument else { return "valid manifest unreadable" }
        var k = 0
        var edits = 0
        while k + 3 <= data.count && edits < 16 {
            let nodes = document.paths()
            let path = nodes[(Int(data[k]) << 8 | Int(data[k + 1])) % nodes.count]
            let edit = ManifestEdit.allCases[Int(data[k + 2]) % ManifestEdit.allCases.count]
            document.apply(edit, at: path)
            k += 3
            edits += 1
        }
        let m = restamped(Array((document.json(indent: 0) + "\n").utf8))
        return loadAndUse(manifest: m, weights: weights, changed: m != manifest)
    }

    /// The calibrated bundle's manifest as a JSON value (parsed once).
    nonisolated(unsafe) static var calibratedDocument: JSONValue? = {
        calibratedBundle.flatMap { JSONValue.parse($0.manifest) }
    }()

    /// The manifest target's input that applies `edit` (a `ManifestEdit` case name) to the value at `path`
    /// (keys and array indices, e.g. `["heads", "0", "name"]`) of the unedited calibrated manifest; nil when
    /// either is unknown. For regression seeds that name what they do.
    package static func manifestProgram(path: [String], edit: String) -> [UInt8]? {
        guard let document = calibratedDocument,
              let e = ManifestEdit.allCases.firstIndex(where: { "\($0)" == edit }) else { return nil }
        let steps = path.map { Int($0).map(JSONValue.Step.index) ?? .key($0) }
        guard let node = document.paths().firstIndex(of: steps), node <= 0xFFFF else { return nil }
        return [UInt8(node >> 8), UInt8(node & 0xFF), UInt8(e)]
    }

    /// `bytes` with the manifest checksum recomputed (unchanged when the field is not found exactly once).
    package static func restamped(_ bytes: [UInt8]) -> [UInt8] {
        var m = bytes
        let offsets = manifestChecksumOffsets(m)
        guard offsets.count == 1, let at = offsets.first, at + 8 <= m.count else { return m }
        m.replaceSubrange(at..<(at + 8), with: Array("00000000".utf8))
        m.replaceSubrange(at..<(at + 8), with: Array(String(hexCRC: CRC32.checksum(m)).utf8))
        return m
    }

    /// Loads manifest and weights bytes; a model that loads must label sanely and print its card.
    package static func loadAndUse(manifest m: [UInt8], weights w: [UInt8], changed: Bool) -> Failure? {
        do {
            let parsed = try ModelBundle.decodeManifest(m, path: "fuzz/manifest.json")
            let model = try ModelBundle.decode(manifest: parsed, weights: w, weightsPath: "fuzz/weights.bin")
            let texts = [(title: "Senior sales manager", text: "sales python brand quota 5 years"), (title: "", text: ""),
                         (title: "x", text: String(repeating: "code ", count: 50))]
            for algorithm in Algorithm.allCases {
                var options: [LabelingOptions] = [LabelingOptions(algorithm: algorithm, top: 50, explain: 3)]
                if model.heads.contains(where: { $0.calibration != nil }) {
                    options.append(LabelingOptions(algorithm: algorithm, top: 2, thresholds: .manifest))
                }
                for option in options {
                    let predictor = try Predictor(model, options: option, threads: 1)
                    let postings = texts.enumerated().map { i, t in Posting(id: "\(i)", title: Array(t.title.utf8), text: Array(t.text.utf8)) }
                    for labels in predictor.labels(postings).labels {
                        for d in labels.heads {
                            // Probabilities in [0, 1]; when every label is listed, they sum to 1.
                            let total = d.top.reduce(0) { $0 + $1.probability }
                            let complete = d.top.count == model.heads.first(where: { $0.name == d.head })?.classes.count
                            guard (0...1).contains(d.probability), d.top.allSatisfy({ (0...1).contains($0.probability) }),
                                  !complete || abs(total - 1) < 1e-3 else {
                                return "loaded model gives probability \(d.probability) (top sum \(total)) for head \(d.head) with \(algorithm)"
                            }
                        }
                    }
                }
            }
            let card = ModelCard(manifest: parsed, model: model, termCount: 3)
            _ = card.text(directory: "fuzz")
            _ = card.json(manifestBytes: m)
            return nil
        } catch is JobLabelError {
            return nil
        } catch {
            return "untyped error \(error)"
        }
    }
}

/// One edit of a JSON value by the manifest target.
enum ManifestEdit: CaseIterable {
    case null, yes, zero, minusOne, one, two, three, intMax, intMin, twoTo32, huge, minusHuge, tiny, half, minusZero,
         floatOverflow, large, nanString, infinityString, emptyString, longString, slashString, emptyArray, emptyObject,
         numberAsString, remove, repeatValue, manyCopies, plusOne, minusOneMore, negate, timesThousand, uppercase, swapWithSibling
}

/// A JSON document as the manifest target edits it: object keys in file order, numbers as their text. A
/// struct with arrays rather than an indirect enum, whose payload pointers (tagged with the case in their
/// spare bits) the leak checker would not recognise.
struct JSONValue: Equatable {
    enum Kind: Equatable { case null, bool, number, string, array, object }
    var kind: Kind
    /// A number's text, a string's value, "true" or "false".
    var text = ""
    /// An array's elements, or an object's values.
    var elements: [JSONValue] = []
    /// An object's keys (one per value).
    var keys: [String] = []

    static let null = JSONValue(kind: .null)
    static func bool(_ b: Bool) -> JSONValue { JSONValue(kind: .bool, text: b ? "true" : "false") }
    static func number(_ text: String) -> JSONValue { JSONValue(kind: .number, text: text) }
    static func string(_ s: String) -> JSONValue { JSONValue(kind: .string, text: s) }
    static func array(_ a: [JSONValue]) -> JSONValue { JSONValue(kind: .array, elements: a) }
    static func object(_ members: [(String, JSONValue)]) -> JSONValue {
        JSONValue(kind: .object, elements: members.map(\.1), keys: members.map(\.0))
    }

    enum Step: Equatable { case key(String), index(Int) }

    /// Parses well-formed JSON (the manifest `joblabel train` writes); nil otherwise.
    static func parse(_ bytes: [UInt8]) -> JSONValue? {
        var i = 0
        let space: [UInt8] = [0x20, 0x0A, 0x0D, 0x09]
        func skipSpace() { while i < bytes.count, space.contains(bytes[i]) { i += 1 } }
        func string() -> String? {
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
            i += 1
            var out = ""
            var raw: [UInt8] = []
            func flush() { out += String(decoding: raw, as: UTF8.self); raw.removeAll() }
            while i < bytes.count {
                let b = bytes[i]
                i += 1
                if b == UInt8(ascii: "\"") { flush(); return out }
                guard b == UInt8(ascii: "\\") else { raw.append(b); continue }
                guard i < bytes.count else { return nil }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "n"): raw.append(0x0A)
                case UInt8(ascii: "t"): raw.append(0x09)
                case UInt8(ascii: "r"): raw.append(0x0D)
                case UInt8(ascii: "b"): raw.append(0x08)
                case UInt8(ascii: "f"): raw.append(0x0C)
                case UInt8(ascii: "u"):
                    guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else { return nil }
                    i += 4
                    flush()
                    out.unicodeScalars.append(Unicode.Scalar(v) ?? "\u{FFFD}")
                default: raw.append(e)
                }
            }
            return nil
        }
        func value(_ depth: Int) -> JSONValue? {
            skipSpace()
            guard i < bytes.count, depth < 64 else { return nil }
            switch bytes[i] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let isObject = bytes[i] == UInt8(ascii: "{")
                let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                i += 1
                var result = JSONValue(kind: isObject ? .object : .array)
                skipSpace()
                if i < bytes.count, bytes[i] == close { i += 1; return result }
                while true {
                    skipSpace()
                    if isObject {
                        guard let key = string() else { return nil }
                        skipSpace()
                        guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
                        i += 1
                        result.keys.append(key)
                    }
                    guard let v = value(depth + 1) else { return nil }
                    result.elements.append(v)
                    skipSpace()
                    guard i < bytes.count else { return nil }
                    i += 1
                    if bytes[i - 1] == close { return result }
                    guard bytes[i - 1] == UInt8(ascii: ",") else { return nil }
                }
            case UInt8(ascii: "\""):
                return string().map { .string($0) }
            default:
                let start = i
                let ends = space + Array(",]}".utf8)
                while i < bytes.count, !ends.contains(bytes[i]) { i += 1 }
                let word = String(decoding: bytes[start..<i], as: UTF8.self)
                switch word {
                case "null": return .null
                case "true": return .bool(true)
                case "false": return .bool(false)
                default: return Double(word) == nil ? nil : .number(word)
                }
            }
        }
        guard let v = value(0) else { return nil }
        skipSpace()
        return i == bytes.count ? v : nil
    }

    /// Every value's path, pre-order (the root first).
    func paths(_ prefix: [Step] = []) -> [[Step]] {
        var out = [prefix]
        for (i, v) in elements.enumerated() {
            out += v.paths(prefix + [kind == .object ? .key(keys[i]) : .index(i)])
        }
        return out
    }

    /// The position in `elements` of a step.
    private func position(_ step: Step) -> Int? {
        switch step {
        case .index(let i): return kind == .array && i < elements.count ? i : nil
        case .key(let k): return kind == .object ? keys.firstIndex(of: k) : nil
        }
    }

    /// Applies `edit` to the value at `path` (edits of the parent: remove, repeat, swap, many copies).
    mutating func apply(_ edit: ManifestEdit, at path: [Step]) {
        guard let last = path.last else {
            if let replaced = JSONValue.replacement(edit, for: self) { self = replaced }
            return
        }
        switch edit {
        case .remove, .repeatValue, .swapWithSibling, .manyCopies:
            update(Array(path.dropLast())) { p in
                guard let i = p.position(last) else { return }
                switch edit {
                case .remove:
                    p.elements.remove(at: i)
                    if p.kind == .object { p.keys.remove(at: i) }
                case .repeatValue:
                    p.elements.insert(p.elements[i], at: i)
                    if p.kind == .object { p.keys.insert("extra_" + p.keys[i], at: i) }
                case .swapWithSibling:
                    p.elements[i] = p.elements[(i + 1) % p.elements.count]
                default:
                    if p.kind == .array {
                        p.elements += [JSONValue](repeating: p.elements[i], count: 1000)
                    } else {
                        p.elements[i] = .array([JSONValue](repeating: p.elements[i], count: 1000))
                    }
                }
            }
        default:
            update(path) { v in if let replaced = JSONValue.replacement(edit, for: v) { v = replaced } }
        }
    }

    private mutating func update(_ path: [Step], _ body: (inout JSONValue) -> Void) {
        guard let first = path.first else { return body(&self) }
        guard let i = position(first) else { return }
        elements[i].update(Array(path.dropFirst()), body)
    }

    static func replacement(_ edit: ManifestEdit, for v: JSONValue) -> JSONValue? {
        func number(_ f: (Double) -> Double) -> JSONValue? {
            guard v.kind == .number else { return nil }
            if let i = Int(v.text) {
                let r = f(Double(i))
                return .number(r.magnitude < 9e18 ? String(Int(r)) : "\(r)")
            }
            return Double(v.text).map { .number("\(f($0))") }
        }
        switch edit {
        case .null: return .null
        case .yes: return .bool(true)
        case .zero: return .number("0")
        case .minusOne: return .number("-1")
        case .one: return .number("1")
        case .two: return .number("2")
        case .three: return .number("3")
        case .intMax: return .number("9223372036854775807")
        case .intMin: return .number("-9223372036854775808")
        case .twoTo32: return .number("4294967296")
        case .huge: return .number("1e308")
        case .minusHuge: return .number("-1e308")
        case .tiny: return .number("5e-324")
        case .half: return .number("0.5")
        case .minusZero: return .number("-0.0")
        case .floatOverflow: return .number("1e39")
        case .large: return .number("1e20")
        case .nanString: return .string("NaN")
        case .infinityString: return .string("Infinity")
        case .emptyString: return .string("")
        case .longString: return .string(String(repeating: "a", count: 70_000))
        case .slashString: return .string("../../../../dev/zero")
        case .emptyArray: return .array([])
        case .emptyObject: return .object([])
        case .numberAsString:
            if v.kind == .number { return .string(v.text) }
            if v.kind == .string { return .number(v.text.isEmpty ? "0" : String(v.text.utf8.count)) }
            return nil
        case .plusOne: return number { $0 + 1 }
        case .minusOneMore: return number { $0 - 1 }
        case .negate: return number { -$0 }
        case .timesThousand: return number { $0 * 1000 }
        case .uppercase: return v.kind == .string ? .string(v.text.uppercased()) : nil
        case .remove, .repeatValue, .swapWithSibling, .manyCopies: return nil
        }
    }

    /// The document as JSON, keys in order, written as `JSONEncoder`'s pretty printing writes them (the
    /// manifest checksum is found by its `"manifest_crc32" : "` form).
    func json(indent: Int) -> String {
        let pad = String(repeating: "  ", count: indent + 1), end = String(repeating: "  ", count: indent)
        switch kind {
        case .null: return "null"
        case .bool, .number: return text
        case .string: return JSONText.quoted(text)
        case .array:
            return elements.isEmpty ? "[]" : "[\n" + elements.map { pad + $0.json(indent: indent + 1) }.joined(separator: ",\n") + "\n" + end + "]"
        case .object:
            return elements.isEmpty ? "{}" : "{\n" + zip(keys, elements).map { pad + JSONText.quoted($0) + " : " + $1.json(indent: indent + 1) }.joined(separator: ",\n") + "\n" + end + "}"
        }
    }
}
