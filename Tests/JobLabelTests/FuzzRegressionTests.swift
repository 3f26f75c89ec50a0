import Foundation
import XCTest
@testable import JobLabel
import JobLabelFuzz

/// Replays the fuzz seeds and every crasher kept in Fuzz/corpus/<target>/ through the same entry points
/// the libFuzzer targets use (scripts/fuzz): each input must be handled without a failure.
final class FuzzRegressionTests: XCTestCase {
    private func replay(_ target: String, _ entry: ([UInt8]) -> FuzzEntry.Failure?) throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/\(target)").path
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 2, "seeds missing in \(dir)")
        for name in names {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)))
            XCTAssertNil(entry(bytes), "\(target)/\(name)")
        }
    }

    func testJSONLCorpus() throws { try replay("jsonl", FuzzEntry.jsonl) }
    func testCSVCorpus() throws { try replay("csv", FuzzEntry.csv) }
    func testModelCorpus() throws { try replay("model", FuzzEntry.model) }
    func testManifestCorpus() throws { try replay("manifest", FuzzEntry.manifest) }

    func testManifestTargetLoadsTheUneditedBundleAndRefusesEdits() throws {
        // No edit: the calibrated bundle loads and labels.
        XCTAssertNil(FuzzEntry.manifest([]))
        guard let (manifest, weights) = FuzzEntry.calibratedBundle else { return XCTFail("no calibrated bundle") }
        XCTAssertNil(FuzzEntry.loadAndUse(manifest: FuzzEntry.restamped(manifest), weights: weights, changed: false))
        // Edits that trapped or loaded before the manifest was validated (found by the adversarial sweep and
        // the issue): each is refused or loads into a sane model, never traps.
        let named: [([String], String)] = [
            (["training", "documents"], "intMax"), (["vocabulary_size"], "intMax"), (["vectorizer", "ngrams"], "intMax"),
            (["format_version"], "one"), (["heads", "0", "label_counts", "1"], "intMax"), (["weights", "file"], "slashString"),
            (["heads", "1", "calibration", "lr", "temperature"], "tiny"), (["heads", "0", "labels"], "manyCopies"),
        ]
        for (path, edit) in named {
            let program = try XCTUnwrap(FuzzEntry.manifestProgram(path: path, edit: edit), "\(path) \(edit)")
            XCTAssertNil(FuzzEntry.manifest(program), "\(path) \(edit)")
        }
        // Every kind of edit of values spread over the document: refused or loaded into a sane model.
        for node in stride(from: 0, to: 600, by: 37) {
            for edit in 0..<34 {
                XCTAssertNil(FuzzEntry.manifest([UInt8(node >> 8), UInt8(node & 0xFF), UInt8(edit)]), "node \(node), edit \(edit)")
            }
        }
    }

    func testHarnessAcceptsTheValidBundleAndRefusesFlippedWeights() throws {
        // The model target refuses to accept a damaged bundle that loads: an unchanged bundle is fine...
        XCTAssertNil(FuzzEntry.model([3]))
        // ...and every single-byte flip of the weights is refused by the loader (so no failure either).
        guard let (_, weights) = FuzzEntry.validBundle else { return XCTFail("no valid bundle") }
        for offset in stride(from: 0, to: weights.count, by: 7) {
            XCTAssertNil(FuzzEntry.model([3, UInt8(offset >> 8), UInt8(offset & 0xFF), 0x10]), "offset \(offset)")
        }
        XCTAssertNil(FuzzEntry.jsonl([]))
        XCTAssertNil(FuzzEntry.csv([0] + Array("text\n\"a".utf8)))
    }
}
