// The fuzz targets' entry points (target JobLabelFuzz): shared by the libFuzzer binary that scripts/fuzz builds
// (with Fuzz/FuzzMain.swift) and the regression test that replays Fuzz/corpus. They reach the library's
// `package` declarations, not its internals.
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
                        guard case .badRecord(_, _, let line) = error, line >= 1 else { return "record failure that is not a bad record: \(error)" }
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
}
