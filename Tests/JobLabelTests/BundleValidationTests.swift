import Foundation
import XCTest
@testable import JobLabel
@testable import JobLabelCLI

/// A calibrated two-head bundle (joblabel's default settings) and ways to edit it as an attacker would:
/// change the manifest's text or the weights' blocks, then recompute every checksum so that only the
/// loader's validation stands in the way.
enum BundleFixture {
    /// 240 postings of 3 roles and 2 seniorities: enough held-out rows to calibrate both heads.
    static func corpus() -> [Posting] {
        let words = [["sales", "quota", "deals", "customers", "pipeline", "closing"],
                     ["python", "code", "systems", "backend", "services", "go"],
                     ["campaign", "brand", "social", "media", "strategy", "content"]]
        let roles = ["sales", "it", "marketing"], levels = ["entry", "senior"]
        return (0..<240).map { i in
            let r = i % 3, l = (i / 3) % 2
            let text = (0..<6).map { words[r][($0 * 7 + i) % 6] }.joined(separator: " ") + (l == 0 ? " graduates welcome" : " 5+ years leading teams")
            return Posting(id: "c\(i)", title: Array("\(l == 0 ? "Junior" : "Senior") \(roles[r])".utf8), text: Array(text.utf8),
                           labels: [roles[r], i % 17 == 0 ? levels[1 - l] : levels[l]], file: "fixture", line: i + 1)
        }
    }

    static let bundle: (manifest: String, weights: [UInt8]) = {
        let model = try! JobLabelModel.train(TrainingConfig.product, postings: corpus(), files: ["fixture"])
        let (m, w) = try! ModelBundle.encode(model)
        return (String(decoding: m, as: UTF8.self), w)
    }()

    /// Manifest bytes with the checksum recomputed.
    static func restamp(_ text: String) -> [UInt8] {
        var m = Array(text.utf8)
        let offsets = manifestChecksumOffsets(m)
        guard offsets.count == 1, let at = offsets.first else { return m }
        m.replaceSubrange(at..<(at + 8), with: Array("00000000".utf8))
        m.replaceSubrange(at..<(at + 8), with: Array(String(format: "%08x", CRC32.checksum(m)).utf8))
        return m
    }

    /// The valid manifest with each `(old, new)` replaced (every `old` must occur), re-stamped.
    static func editedManifest(_ edits: [(String, String)], file: StaticString = #filePath, line: UInt = #line) -> [UInt8] {
        var text = bundle.manifest
        for (old, new) in edits {
            XCTAssertTrue(text.contains(old), "'\(old)' is not in the manifest", file: file, line: line)
            text = text.replacingOccurrences(of: old, with: new)
        }
        return restamp(text)
    }

    /// The weights' blocks in file order.
    static func blocks() -> [WeightsFile.Block] {
        let decoded = try! WeightsFile.decode(bundle.weights, path: "w").blocks
        var names = ["vocabulary", "vocabulary/slots", "idf"]
        for head in ["role", "seniority"] { for a in ["nb", "lr"] { names += ["\(head)/\(a)/weights", "\(head)/\(a)/bias"] } }
        return names.map { decoded[$0]! }
    }

    /// A bundle whose weights are `blocks` (same training id), with the manifest's size and CRC of them, re-stamped.
    static func reweighed(_ blocks: [WeightsFile.Block], manifestEdits: [(String, String)] = []) -> (manifest: [UInt8], weights: [UInt8]) {
        let id = try! WeightsFile.decode(bundle.weights, path: "w").trainingID
        let weights = WeightsFile.encode(trainingID: id, blocks: blocks)
        var text = bundle.manifest
        text = text.replacingOccurrences(of: "\"bytes\" : \(bundle.weights.count)", with: "\"bytes\" : \(weights.count)")
        let oldCRC = String(format: "%08x", WeightsFile.storedChecksum(bundle.weights)!)
        text = text.replacingOccurrences(of: "\"crc32c\" : \"\(oldCRC)\"", with: "\"crc32c\" : \"\(String(format: "%08x", WeightsFile.storedChecksum(weights)!))\"")
        for (old, new) in manifestEdits { text = text.replacingOccurrences(of: old, with: new) }
        return (restamp(text), weights)
    }

    /// Blocks with float `index` of block `name` set to `value`.
    static func blocks(setting name: String, index: Int, to value: Float) -> [WeightsFile.Block] {
        blocks().map { block in
            guard case .floats(let n, let shape, var values) = block, n == name else { return block }
            values[index] = value
            return .floats(name: n, shape: shape, values: values)
        }
    }

    /// Loads bundle bytes as `ModelBundle.load` does once they are read.
    static func load(_ manifest: [UInt8], _ weights: [UInt8] = bundle.weights) throws -> JobLabelModel {
        let parsed = try ModelBundle.decodeManifest(manifest, path: "b/manifest.json")
        return try ModelBundle.decode(manifest: parsed, weights: weights, weightsPath: "b/weights.bin")
    }

    /// Writes a bundle directory.
    static func write(_ manifest: [UInt8], _ weights: [UInt8] = bundle.weights, to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(manifest).write(to: URL(fileURLWithPath: dir + "/manifest.json"))
        try Data(weights).write(to: URL(fileURLWithPath: dir + "/weights.bin"))
    }
}

/// One test per validation rule: each edit below loads on a loader that trusts a re-stamped checksum.
final class ManifestValidationTests: XCTestCase {
    /// The error of loading, which must be `modelDamaged` of `file` naming `field`.
    private func assertRefused(_ manifest: [UInt8], _ weights: [UInt8] = BundleFixture.bundle.weights, file: String = "b/manifest.json",
                               field: String?, mentions: String? = nil, _ what: String, line: UInt = #line) {
        do {
            let model = try BundleFixture.load(manifest, weights)
            XCTFail("\(what): loaded (\(model.classify(text: "sales quota").heads.map(\.label)))", line: line)
        } catch let e as JobLabelError {
            guard case .modelDamaged(let f, let fd, let problem) = e else { return XCTFail("\(what): \(e)", line: line) }
            XCTAssertEqual(f, file, "\(what): \(e)", line: line)
            XCTAssertTrue(matches(field, fd), "\(what): expected field \(field ?? "none"): \(e)", line: line)
            if let mentions { XCTAssertTrue(problem.contains(mentions), "\(what): \(e)", line: line) }
            XCTAssertEqual(e.description.split(separator: "\n").count, 1, line: line)
            XCTAssertEqual(exitCode(of: e), 65, line: line)
        } catch {
            XCTFail("\(what): untyped \(error)", line: line)
        }
    }

    /// `pattern` with `*` standing for any text (an edit may hit the same value in several heads).
    private func matches(_ pattern: String?, _ field: String?) -> Bool {
        guard let pattern, let field else { return pattern == field }
        let parts = pattern.components(separatedBy: "*")
        guard parts.count > 1 else { return pattern == field }
        var rest = Substring(field)
        guard rest.hasPrefix(parts[0]) else { return false }
        rest = rest.dropFirst(parts[0].count)
        for part in parts.dropFirst() {
            guard let r = rest.range(of: part) else { return false }
            rest = rest[r.upperBound...]
        }
        return parts.last!.isEmpty || field.hasSuffix(parts.last!)
    }

    func testTheFixtureLoadsAndIsCalibrated() throws {
        let model = try BundleFixture.load(Array(BundleFixture.bundle.manifest.utf8))
        XCTAssertEqual(model.heads.map(\.name), ["role", "seniority"])
        XCTAssertTrue(model.heads.allSatisfy { $0.calibration != nil })
        XCTAssertEqual(try BundleFixture.load(BundleFixture.editedManifest([])).heads.count, 2, "re-stamping alone changes nothing")
    }

    func testFormatVersion1IsRefusedNotUnverified() {
        assertRefused(BundleFixture.editedManifest([("\"format_version\" : 3", "\"format_version\" : 1")]),
                      field: "format_version", mentions: "no manifest checksum", "version 1")
        // Without a checksum any edit would load: the loader refuses version 1 whatever its checksum field says.
        assertRefused(BundleFixture.editedManifest([("\"format_version\" : 3", "\"format_version\" : 1"), ("\"ngrams\" : 1", "\"ngrams\" : 2")]),
                      field: "format_version", "version 1 edited")
        assertRefused(BundleFixture.editedManifest([("\"format_version\" : 3", "\"format_version\" : 0")]), field: "format_version", "version 0")
        assertRefused(BundleFixture.editedManifest([("\"format_version\" : 3", "\"format_version\" : -7")]), field: "format_version", "version -7")
    }

    func testFormatVersion2IsRefusedWithAMessageToRetrain() {
        assertRefused(BundleFixture.editedManifest([("\"format_version\" : 3", "\"format_version\" : 2")]),
                      field: "format_version", mentions: "retrain the model", "version 2")
    }

    /// The stored vocabulary table is checked, not trusted: each damage below (weights re-encoded, checksums
    /// recomputed) is refused with a message naming the block.
    func testTheStoredVocabularyTableIsChecked() throws {
        guard case .words(_, let shape, let slots)? = BundleFixture.blocks().first(where: { $0.name == "vocabulary/slots" }) else {
            return XCTFail("no slots block")
        }
        func withSlots(_ edit: (inout [UInt64]) -> Void) -> (manifest: [UInt8], weights: [UInt8]) {
            var s = slots
            edit(&s)
            return BundleFixture.reweighed(BundleFixture.blocks().map { block in
                guard case .words("vocabulary/slots", let shape, _) = block else { return block }
                return .words(name: "vocabulary/slots", shape: shape, values: s)
            })
        }
        let filled = (0..<(slots.count / 2)).filter { slots[2 * $0] != 0 }
        let empty = (0..<(slots.count / 2)).filter { slots[2 * $0] == 0 }
        let cases: [(String, (inout [UInt64]) -> Void)] = [
            ("two far slots swapped", { s in
                let far = filled[filled.count / 2]
                s.swapAt(2 * filled[0], 2 * far); s.swapAt(2 * filled[0] + 1, 2 * far + 1) }),
            ("a term moved to an empty slot", { s in
                s[2 * empty[0]] = s[2 * filled[0]]; s[2 * empty[0] + 1] = s[2 * filled[0] + 1]; s[2 * filled[0]] = 0; s[2 * filled[0] + 1] = 0 }),
            ("a term's prefix changed", { s in s[2 * filled[2] + 1] ^= 1 }),
            ("a term number out of range", { s in s[2 * filled[3]] = s[2 * filled[3]] & ~0xFFFF_FFFF | 0xFFFF_FFF0 }),
            ("a term twice", { s in s[2 * empty[0]] = s[2 * filled[0]]; s[2 * empty[0] + 1] = s[2 * filled[0] + 1] }),
            ("every slot filled", { s in for i in empty { s[2 * i] = s[2 * filled[0]]; s[2 * i + 1] = s[2 * filled[0] + 1] } }),
        ]
        for (what, edit) in cases {
            let (m, w) = withSlots(edit)
            assertRefused(m, w, file: "b/weights.bin", field: nil, mentions: "vocabulary/slots", what)
        }
        // A table of another size.
        let (m, w) = BundleFixture.reweighed(BundleFixture.blocks().map { block in
            guard case .words("vocabulary/slots", _, let s) = block else { return block }
            return .words(name: "vocabulary/slots", shape: [shape[0] * 2, 2], values: s + s)
        })
        assertRefused(m, w, file: "b/weights.bin", field: nil, mentions: "vocabulary/slots", "a table of twice the size")
    }

    /// Terms are stored sorted, so distinct: two terms swapped (with the table rebuilt for them) are refused.
    func testAnUnsortedVocabularyIsRefused() throws {
        let blocks = BundleFixture.blocks()
        guard case .bytes(_, let bytes)? = blocks.first(where: { $0.name == "vocabulary" }) else { return XCTFail("no vocabulary") }
        var terms = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        terms.swapAt(3, 4)
        let swapped = Array(terms.joined(separator: [0x0A]))
        let slots = TermTable.fromNewlineSeparated(swapped).storedSlots
        let (m, w) = BundleFixture.reweighed(blocks.map { block in
            switch block {
            case .bytes("vocabulary", _): return .bytes(name: "vocabulary", values: swapped)
            case .words("vocabulary/slots", let shape, _): return .words(name: "vocabulary/slots", shape: shape, values: slots)
            default: return block
            }
        })
        assertRefused(m, w, file: "b/weights.bin", field: nil, mentions: "byte order", "terms 3 and 4 swapped")
    }

    /// Every chunk's checksum is checked: a changed byte anywhere in a float block, a checksum table that
    /// does not match the manifest's value.
    func testChunkChecksumsAreChecked() {
        var w = BundleFixture.bundle.weights
        w[w.count / 2] ^= 0x01
        assertRefused(Array(BundleFixture.bundle.manifest.utf8), w, file: "b/weights.bin", field: nil, mentions: "checksum mismatch in bytes", "a flipped bit")
        var t = BundleFixture.bundle.weights
        t[t.count - 12] ^= 0x01  // the last chunk's checksum
        assertRefused(Array(BundleFixture.bundle.manifest.utf8), t, file: "b/weights.bin", field: nil, mentions: "checksum", "a damaged table")
    }

    /// Every rule of the manifest's sections, as (edit, field named).
    func testEveryFieldIsCheckedAndNamed() {
        let m = BundleFixture.bundle.manifest
        let documents = "\"documents\" : 240"
        XCTAssertTrue(m.contains(documents))
        let cases: [([(String, String)], String)] = [
            // Header.
            ([("\"joblabel_version\" : \"0.1.0\"", "\"joblabel_version\" : \"\"")], "joblabel_version"),
            ([("\"joblabel_version\" : \"0.1.0\"", "\"joblabel_version\" : \"\\u001b[2J\"")], "joblabel_version"),
            // Weights file.
            ([("\"file\" : \"weights.bin\"", "\"file\" : \"../other/weights.bin\"")], "weights.file"),
            ([("\"file\" : \"weights.bin\"", "\"file\" : \"..\"")], "weights.file"),
            // Vectorizer.
            ([("\"ngrams\" : 1", "\"ngrams\" : 1000000000")], "vectorizer.ngrams"),
            ([("\"ngrams\" : 1", "\"ngrams\" : 0")], "vectorizer.ngrams"),
            ([("\"ngrams\" : 1", "\"ngrams\" : \"two\"")], "vectorizer.ngrams"),
            ([("\"min_token_length\" : 1", "\"min_token_length\" : 0")], "vectorizer.tokenizer.min_token_length"),
            ([("\"min_token_length\" : 1", "\"min_token_length\" : 100000")], "vectorizer.tokenizer.min_token_length"),
            ([("\"title_weight\" : 3", "\"title_weight\" : 1e30")], "vectorizer.title_weight"),
            ([("\"title_weight\" : 3", "\"title_weight\" : -3")], "vectorizer.title_weight"),
            ([("\"cue_weight\" : 2", "\"cue_weight\" : -1")], "vectorizer.cue_weight"),
            ([("\"years\",", "\"years\", \"years\",")], "vectorizer.cues"),
            ([("\"min_df\" : \"2\"", "\"min_df\" : \"1000\"")], "vectorizer.max_df"),
            ([("\"min_df\" : \"2\"", "\"max_features\" : 3, \"min_df\" : \"2\"")], "vocabulary_size"),
            ([("\"min_df\" : \"2\"", "\"max_features\" : 0, \"min_df\" : \"2\"")], "vectorizer.max_features"),
            // Classifier settings.
            ([("\"alpha\" : 0.01", "\"alpha\" : -1")], "naive_bayes.alpha"),
            ([("\"c\" : 10", "\"c\" : 0")], "logistic_regression.c"),
            ([("\"tolerance\" : 0.0001", "\"tolerance\" : -1")], "logistic_regression.tolerance"),
            ([("\"max_iterations\" : 200", "\"max_iterations\" : -5")], "logistic_regression.max_iterations"),
            ([("\"held_out_fraction\" : 0.15", "\"held_out_fraction\" : 1.5")], "calibration.held_out_fraction"),
            ([("\"held_out_fraction\" : 0.15,\n    \"method\" : \"temperature\",\n    \"target_precision\" : 0.8",
               "\"held_out_fraction\" : 0.15,\n    \"method\" : \"temperature\",\n    \"target_precision\" : 7")], "calibration.target_precision"),
            ([("\"method\" : \"temperature\"", "\"method\" : \"none\"")], "heads[0].calibration"),
            // Training facts.
            ([(documents, "\"documents\" : 0")], "training.documents"),
            ([(documents, "\"documents\" : 9223372036854775807")], "training.documents"),
            ([("\"n\" : 240", "\"n\" : 7")], "training.metrics.role.*.n"),
            ([("\"sha256\" : \"", "\"sha256\" : \"XYZ")], "training.sha256"),
            // Heads.
            ([("\"name\" : \"seniority\"", "\"name\" : \"role\"")], "heads[1].name"),
            ([("\"it\",\n", "\"marketing\",\n")], "heads[0].labels[1]"),
            ([("\"it\",\n", "\"\",\n")], "heads[0].labels[0]"),
        ]
        for (edits, field) in cases {
            assertRefused(BundleFixture.editedManifest(edits), field: field, "\(edits)")
        }
    }

    func testLabelCountsAreNonNegativeAndSumWithinTheDocuments() throws {
        let head = try ModelBundle.decodeManifest(Array(BundleFixture.bundle.manifest.utf8), path: "m").heads[0]
        let counts = head.labelCounts.map(String.init)
        XCTAssertEqual(counts.count, 3)
        let block = "\"label_counts\" : [\n        \(counts.joined(separator: ",\n        "))\n      ]"
        XCTAssertTrue(BundleFixture.bundle.manifest.contains(block))
        func with(_ values: [String]) -> [UInt8] {
            BundleFixture.editedManifest([(block, "\"label_counts\" : [\(values.joined(separator: ", "))]")])
        }
        // Summing these overflowed (inspect trapped); now the count that makes the sum too large is named.
        assertRefused(with([counts[0], "9223372036854775807", "9223372036854775807"]), field: "heads[0].label_counts[1]", "overflow")
        assertRefused(with(["-5", counts[1], counts[2]]), field: "heads[0].label_counts[0]", "negative")
        assertRefused(with([counts[0], counts[1], "1000"]), field: "heads[0].label_counts[2]", "more than the documents")
        assertRefused(with([counts[0], counts[1]]), field: "heads[0].label_counts", "one count short")
    }

    func testCalibrationFiguresAreInRange() throws {
        let manifest = try ModelBundle.decodeManifest(Array(BundleFixture.bundle.manifest.utf8), path: "m")
        guard let c = manifest.heads[0].calibration, let t = c.lr.temperature else { return XCTFail("not calibrated") }
        assertRefused(BundleFixture.editedManifest([("\"temperature\" : \(t)", "\"temperature\" : 1e-300")]),
                      field: "heads[*].calibration.*.temperature", "tiny temperature")
        assertRefused(BundleFixture.editedManifest([("\"ece_before\" : \(c.nb.eceBefore)", "\"ece_before\" : 5")]),
                      field: "heads[*].calibration.*.ece_before", "ece")
        assertRefused(BundleFixture.editedManifest([("\"held_out_rows\" : \(c.heldOutRows)", "\"held_out_rows\" : 0")]),
                      field: "heads[*].calibration.held_out_rows", "held-out rows")
        assertRefused(BundleFixture.editedManifest([("\"ensemble\" : {", "\"ensemble\" : {\n          \"temperature\" : 2,")]),
                      field: "heads[*].calibration.ensemble.temperature", "ensemble temperature")
        let note = "\"lr_optimization\""
        assertRefused(BundleFixture.editedManifest([(note, "\"calibration_note\" : \"x\",\n      \(note)")]),
                      field: "heads[0].calibration_note", "note beside a calibration")
    }

    func testOptimisationReportAndTrainingFiguresAreInRange() throws {
        let manifest = try ModelBundle.decodeManifest(Array(BundleFixture.bundle.manifest.utf8), path: "m")
        guard let o = manifest.heads[1].lrOptimization, let lr = manifest.training.metrics["seniority"]?["lr"] else { return XCTFail("no report") }
        assertRefused(BundleFixture.editedManifest([("\"iterations\" : \(o.iterations)", "\"iterations\" : 5000")]),
                      field: "heads[*].lr_optimization.iterations", "iterations beyond max_iterations")
        assertRefused(BundleFixture.editedManifest([("\"final_loss\" : \(o.finalLoss)", "\"final_loss\" : -1")]),
                      field: "heads[*].lr_optimization.final_loss", "negative loss")
        assertRefused(BundleFixture.editedManifest([("\"weighted_f1\" : \(lr.weightedF1)", "\"weighted_f1\" : 2")]),
                      field: "training.metrics.*.weighted_f1", "weighted F1 above 1")
    }

    /// Settings edited to values some training writes, but not the training that made this vocabulary: the
    /// features they would leave unused (or never produce) make the bundle refused.
    func testSettingsMustMatchTheVocabulary() throws {
        let m = BundleFixture.bundle.manifest
        let cues = try XCTUnwrap(m.range(of: "\"cues\" : [")).lowerBound
        let cuesEnd = try XCTUnwrap(m[cues...].range(of: "]")).upperBound
        let cases: [([(String, String)], String)] = [
            ([("\"title_mode\" : \"namespace\"", "\"title_mode\" : \"concatenate\"")], "vectorizer.title_mode"),
            ([(String(m[cues..<cuesEnd]), "\"cues\" : []")], "vectorizer.cues"),
            ([("\"min_token_length\" : 1", "\"min_token_length\" : 3")], "vectorizer.tokenizer.min_token_length"),
        ]
        for (edits, field) in cases {
            assertRefused(BundleFixture.editedManifest(edits), field: field, mentions: "manifest.json and weights.bin disagree", "\(edits)")
        }
        // A vocabulary with a capital, a two-word term and an empty term (the weights re-encoded, checksums recomputed).
        for (term, field) in [("Sales", "vectorizer.tokenizer.lowercase"), ("sales quota", "vectorizer.ngrams"), ("", "vocabulary_size")] {
            let blocks = BundleFixture.blocks().map { block -> WeightsFile.Block in
                guard case .bytes("vocabulary", let bytes) = block else { return block }
                var terms = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
                terms[terms.count - 1] = Array(term.utf8)
                return .bytes(name: "vocabulary", values: Array(terms.joined(separator: [0x0A])))
            }
            let (m2, w2) = BundleFixture.reweighed(blocks)
            assertRefused(m2, w2, field: field, "vocabulary term '\(term)'")
        }
        // ngrams 2 over a unigram vocabulary is what training with bigrams could write (none kept): it loads.
        XCTAssertNoThrow(try BundleFixture.load(BundleFixture.editedManifest([("\"ngrams\" : 1", "\"ngrams\" : 2")])))
    }

    /// The 8-bytes-at-a-time check of unigram vocabularies agrees with the byte-by-byte one.
    func testQuickVocabularyCheckAgreesWithTheByteCheck() {
        var rng = SplitMix64(seed: 7)
        let pieces = ["a", "b", "zz", "é", "日本", "A", " ", "\n", "\n", "\n", "cue:", "years", "title=x", "degree=", "title:", "x1", "_"]
        var disagreements = 0, passes = 0
        for trial in 0..<4000 {
            var text = ""
            for _ in 0..<Int(rng.next() % 12) { text += pieces[Int(rng.next() % UInt64(pieces.count))] }
            if trial % 3 == 0 { text = "alpha\nbeta\ntitle:gamma\ncue:years>=3\ncue:title=senior\n" + text }
            var v = TrainingConfig.product.vectorizer
            v.tokenizer.minTokenLength = 1 + Int(rng.next() % 3)
            v.tokenizer.lowercase = rng.next() % 4 != 0
            v.titleMode = rng.next() % 3 == 0 ? .concatenate : .namespace
            v.cues = rng.next() % 3 == 0 ? [.years] : CueGroup.allCases
            let quick = ManifestValidation.quickVocabularyCheck(Array(text.utf8), v)
            let slow = (try? ManifestValidation.vocabularyByBytes(Array(text.utf8), v)) != nil
            if quick != slow { disagreements += 1; XCTFail("\(text.debugDescription) \(v.tokenizer) \(v.titleMode) \(v.cues): quick \(quick), bytes \(slow)") }
            if slow { passes += 1 }
            if disagreements > 5 { break }
        }
        XCTAssertGreaterThan(passes, 200, "the cases include sound vocabularies")
        // A trained vocabulary takes the quick path.
        guard case .bytes("vocabulary", let vocabulary) = BundleFixture.blocks()[0] else { return XCTFail("no vocabulary") }
        XCTAssertTrue(ManifestValidation.quickVocabularyCheck(vocabulary, TrainingConfig.product.vectorizer))
    }

    func testChecksumFieldsAreExactlyAsWritten() throws {
        let crc = String(format: "%08x", WeightsFile.storedChecksum(BundleFixture.bundle.weights)!)
        // The weights' CRC in upper case was accepted (compared case-insensitively).
        assertRefused(BundleFixture.editedManifest([("\"crc32c\" : \"\(crc)\"", "\"crc32c\" : \"\(crc.uppercased())\"")]),
                      field: "weights.crc32c", "upper-case CRC")
    }

    func testSizesAreBoundedByTheWeightsFile() throws {
        let v = "\"vocabulary_size\" : \(try ModelBundle.decodeManifest(Array(BundleFixture.bundle.manifest.utf8), path: "m").vocabularySize)"
        // A vocabulary size no weights file of this size can hold is refused before anything is read.
        assertRefused(BundleFixture.editedManifest([(v, "\"vocabulary_size\" : 9000000000000")]),
                      field: "vocabulary_size", mentions: "need a weights file of at least", "huge vocabulary")
        assertRefused(BundleFixture.editedManifest([(v, "\"vocabulary_size\" : 4611686018427387904")]),
                      field: "vocabulary_size", mentions: "overflow", "overflowing vocabulary")
        // A number beyond any integer: refused while decoding.
        assertRefused(BundleFixture.editedManifest([(v, "\"vocabulary_size\" : 92233720368547758070")]), field: nil,
                      mentions: "number too large", "beyond Int")
    }

    func testDecodingErrorsNameTheFieldByItsJSONPath() {
        assertRefused(BundleFixture.editedManifest([("\"ngrams\" : 1,", "")]), field: "vectorizer.ngrams", mentions: "is missing", "missing")
        assertRefused(BundleFixture.editedManifest([("\"fit_prior\" : true", "\"fit_prior\" : 1")]), field: "naive_bayes.fit_prior", "type")
        assertRefused(BundleFixture.editedManifest([("\"name\" : \"seniority\"", "\"name\" : null")]), field: "heads[1].name", mentions: "got null", "null")
        XCTAssertEqual(jsonPath([AnyKey("heads"), AnyKey(2), AnyKey("labelCounts"), AnyKey(3)]), "heads[2].label_counts[3]")
    }

    // MARK: Weights blocks

    func testNonFiniteAndHugeWeightsAreRefused() {
        for value in [Float.nan, .infinity, -.infinity, 1e35, -2e30] {
            let (m, w) = BundleFixture.reweighed(BundleFixture.blocks(setting: "role/lr/weights", index: 5, to: value))
            assertRefused(m, w, file: "b/weights.bin", field: nil, mentions: "block 'role/lr/weights' holds", "\(value)")
        }
        let (m, w) = BundleFixture.reweighed(BundleFixture.blocks(setting: "seniority/nb/bias", index: 1, to: .nan))
        assertRefused(m, w, file: "b/weights.bin", field: nil, mentions: "seniority/nb/bias", "NaN bias")
        // The largest magnitude allowed loads.
        let (m2, w2) = BundleFixture.reweighed(BundleFixture.blocks(setting: "role/lr/weights", index: 5, to: 1e29))
        XCTAssertNoThrow(try BundleFixture.load(m2, w2))
    }

    func testIDFOutsideWhatTrainingGivesIsRefused() {
        for value: Float in [0.5, 0, 100] {
            let (m, w) = BundleFixture.reweighed(BundleFixture.blocks(setting: "idf", index: 0, to: value))
            assertRefused(m, w, file: "b/weights.bin", field: nil, mentions: "idf[0]", "idf \(value)")
        }
    }

    func testBlocksMustBeExactlyTheDescribedOnesWithTheirShapes() {
        // An extra block, a repeated block, a weight matrix stored transposed.
        var extra = BundleFixture.blocks()
        extra.append(.floats(name: "role/lr/extra", shape: [2], values: [1, 2]))
        var (m, w) = BundleFixture.reweighed(extra)
        assertRefused(m, w, file: "b/weights.bin", field: nil, mentions: "role/lr/extra", "extra block")
        var repeated = BundleFixture.blocks()
        repeated.append(repeated[3])
        (m, w) = BundleFixture.reweighed(repeated)
        assertRefused(m, w, file: "b/weights.bin", field: nil, mentions: "appears twice", "repeated block")
        let transposed = BundleFixture.blocks().map { block -> WeightsFile.Block in
            guard case .floats(let n, let shape, let values) = block, n == "role/nb/weights" else { return block }
            return .floats(name: n, shape: shape.reversed(), values: values)
        }
        (m, w) = BundleFixture.reweighed(transposed)
        assertRefused(m, w, file: "b/weights.bin", field: nil, mentions: "shape", "transposed")
    }

    func testWeightsSizeIsComparedBeforeParsing() {
        var w = BundleFixture.bundle.weights
        w.append(contentsOf: [0, 0, 0, 0])
        assertRefused(Array(BundleFixture.bundle.manifest.utf8), w, file: "b/weights.bin", field: nil, mentions: "size", "longer file")
    }

    // MARK: Settings before training

    func testTrainRefusesSettingsNoBundleMayHold() throws {
        var cases: [(TrainingConfig, String)] = []
        var c = tinyConfig()
        c.vectorizer.ngrams = 3
        cases.append((c, "vectorizer.ngrams"))
        c = tinyConfig()
        c.vectorizer.titleWeight = .nan
        cases.append((c, "vectorizer.title_weight"))
        c = tinyConfig()
        c.heads = ["role", "role"]
        cases.append((c, "heads[1].name"))
        c = tinyConfig()
        c.heads = [String(repeating: "h", count: 2000)]
        cases.append((c, "heads[0].name"))
        c = tinyConfig()
        c.calibration.targetPrecision = 2
        cases.append((c, "calibration.target_precision"))
        for (config, field) in cases {
            XCTAssertThrowsError(try JobLabelModel.train(config, postings: tinyCorpus(), files: ["tiny"]), field) { error in
                guard case .invalidSetting(let f, _)? = error as? JobLabelError else { return XCTFail("\(field): \(error)") }
                XCTAssertEqual(f, field)
                XCTAssertEqual(exitCode(of: error), 64)
            }
        }
        // Every preset trains a bundle that loads.
        for preset in [TrainingConfig.product, .sklearn] {
            XCTAssertNoThrow(try ManifestValidation.validate(preset))
        }
    }
}

/// A coding key for `jsonPath` tests.
private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ s: String) { stringValue = s }
    init(_ i: Int) { stringValue = "Index \(i)"; intValue = i }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { self.init(intValue) }
}

/// The memory estimate made before training, with a small artificial limit (nothing large is allocated).
final class TrainingMemoryTests: XCTestCase {
    /// `n` postings whose label is a value per posting (an id), words from a shared vocabulary.
    private func idLabeled(_ n: Int) -> [Posting] {
        (0..<n).map { i in
            let text = (0..<12).map { "w\(($0 * 31 + i * 7) % 400)" }.joined(separator: " ")
            return Posting(id: "r\(i)", text: Array(text.utf8), labels: ["id-\(i)", i % 2 == 0 ? "a" : "b"], file: "ids.jsonl", line: i + 1)
        }
    }

    func testFeaturesAreExactWhenEveryPostingIsSampled() throws {
        let model = try JobLabelModel.train(tinyConfig(), postings: tinyCorpus(), files: ["tiny"])
        let e = TrainingMemory.estimate(tinyConfig(), postings: tinyCorpus())
        XCTAssertEqual(e.features, model.vectorizer.featureCount)
        XCTAssertEqual(e.rows, 9)
        XCTAssertEqual(e.heads.map(\.classes), [3, 3])
        XCTAssertEqual(e.heads.map(\.labeledRows), [9, 8])
        XCTAssertLessThan(e.bytes - TrainingMemory.processBytes, 10_000_000)
        let product = TrainingMemory.estimate(.product, postings: BundleFixture.corpus())
        XCTAssertEqual(product.features, try JobLabelModel.train(.product, postings: BundleFixture.corpus(), files: ["f"]).vectorizer.featureCount)
    }

    func testEstimateGrowsWithClassesTimesFeatures() {
        var config = tinyConfig()
        config.heads = ["id", "half"]
        let small = TrainingMemory.estimate(config, postings: idLabeled(200))
        let large = TrainingMemory.estimate(config, postings: idLabeled(400))
        XCTAssertEqual(small.heads[0].classes, 200)
        XCTAssertEqual(large.heads[0].classes, 400)
        // Twice the classes over about the same features: about twice the memory.
        let process = TrainingMemory.processBytes
        XCTAssertGreaterThan(Double(large.bytes - process) / Double(small.bytes - process), 1.8)
    }

    func testAProblemBeyondTheLimitIsRefusedBeforeFittingAndTheIDNamed() throws {
        var config = tinyConfig()
        config.heads = ["id", "half"]
        let postings = idLabeled(300)
        let e = TrainingMemory.estimate(config, postings: postings)
        XCTAssertNoThrow(try TrainingMemory.preflight(config, postings: postings, limit: e.bytes))
        XCTAssertThrowsError(try TrainingMemory.preflight(config, postings: postings, limit: e.bytes - 1)) { error in
            guard case .trainingTooLarge(let needed, let available, let rows, let features, let head, let classes, let labeled)? = error as? JobLabelError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(needed, e.bytes)
            XCTAssertEqual(available, e.bytes - 1)
            XCTAssertEqual([rows, features, classes, labeled], [300, e.features, 300, 300])
            XCTAssertEqual(head, "id")
            let (message, code) = Messages.describe(error)
            XCTAssertEqual(code, 65)
            XCTAssertTrue(message.contains("head 'id' has 300 labels for 300 labeled rows: its field looks like an id"), message)
            XCTAssertTrue(message.hasSuffix("; choose the label fields with --labels"), message)
        }
        // Labels that are not ids: the figure and other advice, no mention of ids.
        config.heads = ["half"]
        let halves = postings.map { Posting(id: $0.id, text: $0.text, labels: [$0.labels[1]], file: $0.file, line: $0.line) }
        XCTAssertThrowsError(try TrainingMemory.preflight(config, postings: halves, limit: 1000)) { error in
            let message = Messages.describe(error).message
            XCTAssertTrue(message.hasPrefix("training would need about "), message)
            XCTAssertFalse(message.contains("looks like an id"), message)
            XCTAssertTrue(message.contains("--max-features"), message)
        }
        XCTAssertTrue(TrainingMemory.looksLikeAnID(classes: 990, labeledRows: 1000))
        XCTAssertFalse(TrainingMemory.looksLikeAnID(classes: 26, labeledRows: 1679))
        XCTAssertFalse(TrainingMemory.looksLikeAnID(classes: 3, labeledRows: 4), "a handful of rows is not an id")
    }

    func testHeadsWithoutLabelsAndEmptyTextsAreEstimatedWithoutTrapping() throws {
        var config = tinyConfig()
        config.heads = ["role", "missing"]
        let roleOnly = tinyCorpus().map { Posting(id: $0.id, title: $0.title, text: $0.text, labels: [$0.labels[0]]) }
        let e = TrainingMemory.estimate(config, postings: roleOnly)
        XCTAssertEqual(e.heads.map(\.classes), [3, 0])
        XCTAssertNoThrow(try TrainingMemory.preflight(config, postings: roleOnly, limit: e.bytes))
        let empty = (0..<5).map { Posting(id: "\($0)", text: [], labels: ["a"]) }
        XCTAssertEqual(TrainingMemory.estimate(config, postings: empty).features, 0)
        XCTAssertNoThrow(try TrainingMemory.preflight(tinyConfig(), postings: [], limit: 0), "no postings: train reports that")
    }

    func testAnAddressSpaceLimitLeavesRoomForTheAllocator() {
        let gb: UInt64 = 1_000_000_000
        let memoryOnly = TrainingMemory.Limits(memory: 2 * gb, addressSpace: nil)
        XCTAssertNil(memoryOnly.admit(2 * gb))
        XCTAssertEqual(memoryOnly.admit(2 * gb + 1)?.available, 2 * gb)
        // Under ulimit -v, a quarter more and two 64 MB arenas: 1.04 GB needs 1.43 GB of address space.
        let limited = TrainingMemory.Limits(memory: 24 * gb, addressSpace: 1_330_000_000)
        XCTAssertEqual(limited.admit(1_040_000_000)?.needed, 1_040_000_000 / 4 * 5 + (128 << 20))
        XCTAssertNil(TrainingMemory.Limits(memory: 24 * gb, addressSpace: 2 * gb).admit(1_040_000_000))
        XCTAssertNotNil(limited.admit(.max))
    }

    func testAvailableMemoryIsAtMostPhysicalMemory() {
        let available = TrainingMemory.available()
        XCTAssertGreaterThan(available, 0)
        XCTAssertLessThanOrEqual(available, ProcessInfo.processInfo.physicalMemory)
    }
}
