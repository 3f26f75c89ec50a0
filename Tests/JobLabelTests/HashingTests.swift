import XCTest
@testable import JobLabel

final class HashingTests: XCTestCase {
    /// Deterministic pseudo-random bytes (64-bit LCG, top byte); expected digests below come from Python's hashlib/zlib.
    private func lcgBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var x = seed
        var out = [UInt8]()
        out.reserveCapacity(count)
        for _ in 0..<count {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            out.append(UInt8(truncatingIfNeeded: x >> 56))
        }
        return out
    }

    // MARK: SHA-256

    func testSHA256KnownVectors() {
        XCTAssertEqual(SHA256.hex([UInt8]()),
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex("abc".utf8),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testSHA256FinalizeBytes() {
        var h = SHA256()
        h.update(Array("abc".utf8))
        let digest = h.finalize()
        XCTAssertEqual(digest.count, 32)
        XCTAssertEqual(Array(digest.prefix(4)), [0xba, 0x78, 0x16, 0xbf])
        XCTAssertEqual(Array(digest.suffix(4)), [0xf2, 0x00, 0x15, 0xad])
    }

    func testSHA256MillionAInUnevenChunks() {
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        XCTAssertEqual(SHA256.hex(million), expected)

        var h = SHA256()
        let sizes = [1, 2, 3, 5, 7, 13, 31, 63, 64, 65, 127, 128, 129, 1000, 4093]
        var offset = 0, i = 0
        while offset < million.count {
            let n = min(sizes[i % sizes.count], million.count - offset)
            h.update(million[offset..<offset + n])
            offset += n
            i += 1
        }
        XCTAssertEqual(h.finalizeHex(), expected)
    }

    func testSHA256IncrementalMatchesOneShotAcrossBoundaries() {
        let data = lcgBytes(300, seed: 42)
        for size in 0...130 {
            let message = Array(data[0..<size])
            let oneShot = SHA256.hex(message)
            XCTAssertEqual(oneShot.count, 64)
            for split in [0, 1, size / 3, size / 2, max(0, size - 1), size] where split <= size {
                var h = SHA256()
                h.update(message[0..<split])
                h.update(message[split..<size])
                XCTAssertEqual(h.finalizeHex(), oneShot, "size \(size) split \(split)")
            }
            var byteAtATime = SHA256()
            for b in message { byteAtATime.update(CollectionOfOne(b)) }
            XCTAssertEqual(byteAtATime.finalizeHex(), oneShot, "size \(size) byte-at-a-time")
        }
    }

    func testSHA256AgainstPythonHashlib() {
        let cases: [(Int, UInt64, String)] = [
            (1, 1, "acac86c0e609ca906f632b0e2dacccb2b77d22b0621f20ebece1a4835b93f6f0"),
            (63, 2, "61a15e959bffbcbb30303db521e82e556f307f56efd8fb00d7f092190f35765c"),
            (64, 3, "512d2d9771f9363da386c4514997d1318af6e009107f574e7b9d997d21a2fab9"),
            (65, 4, "ed3def299f24e6c32b107afe9e4739e40e066ab79a489c02c94f8425eb11bb74"),
            (1000, 5, "16ce46d41fc4e3709f8ababfe34df054c6aad0a0960ace4b1d39fc024512f85e"),
            (4097, 6, "f898a5feed8513405ac7ecc2f524549e39702bf7d7a88e5d1a2b7b211f30fa07"),
            (100_003, 7, "4000e74c18e6ca0be078d575be307510e3f60d14122358078514218516a44a9a"),
        ]
        for (count, seed, expected) in cases {
            XCTAssertEqual(SHA256.hex(lcgBytes(count, seed: seed)), expected, "count \(count)")
        }
    }

    func testSHA256InputKindsAgree() {
        let bytes = lcgBytes(777, seed: 9)
        let expected = SHA256.hex(bytes)
        // Raw buffer overload.
        var raw = SHA256()
        bytes.withUnsafeBytes { raw.update($0) }
        XCTAssertEqual(raw.finalizeHex(), expected)
        // Non-contiguous collection (falls back to chunked copying).
        XCTAssertEqual(SHA256.hex(bytes.lazy.map { $0 }), expected)
        // ArraySlice with a non-zero start index.
        let padded = [0xff, 0xfe] + bytes
        XCTAssertEqual(SHA256.hex(padded[2...]), expected)
        // Empty raw buffer is a no-op.
        var empty = SHA256()
        empty.update(UnsafeRawBufferPointer(start: nil, count: 0))
        XCTAssertEqual(empty.finalizeHex(), SHA256.hex([UInt8]()))
    }

    func testSHA256FinalizeResetsAndCopiesAreIndependent() {
        var h = SHA256()
        h.update("ab".utf8)
        var copy = h
        h.update("c".utf8)
        copy.update("x".utf8)
        XCTAssertEqual(h.finalizeHex(), SHA256.hex("abc".utf8))
        XCTAssertEqual(copy.finalizeHex(), SHA256.hex("abx".utf8))
        // After finalize the hasher starts over.
        h.update("abc".utf8)
        XCTAssertEqual(h.finalizeHex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    // MARK: CRC-32

    func testCRC32KnownVectors() {
        XCTAssertEqual(CRC32.checksum([UInt8]()), 0)
        XCTAssertEqual(CRC32().value, 0)
        XCTAssertEqual(CRC32.checksum("123456789".utf8), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum("The quick brown fox jumps over the lazy dog".utf8), 0x414F_A339)
    }

    func testCRC32AgainstPythonZlib() {
        let cases: [(Int, UInt64, UInt32)] = [
            (1, 1, 0x9606_c2fe), (63, 2, 0x7414_c374), (64, 3, 0xfd76_ee30), (65, 4, 0x4ea4_0bd0),
            (1000, 5, 0x734f_fa04), (4097, 6, 0xa677_ef65), (100_003, 7, 0xa2b9_57e9),
        ]
        for (count, seed, expected) in cases {
            let bytes = lcgBytes(count, seed: seed)
            XCTAssertEqual(CRC32.checksum(bytes), expected, "count \(count)")
            XCTAssertEqual(CRC32.checksum(bytes.lazy.map { $0 }), expected, "count \(count) non-contiguous")
            let raw = bytes.withUnsafeBytes { CRC32.checksum($0) }
            XCTAssertEqual(raw, expected, "count \(count) raw")
        }
    }

    // MARK: CRC-32C

    func testCRC32CKnownVectors() {
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)), 0x2262_0404)
        XCTAssertEqual(CRC32C.checksumBySoftware(Array("123456789".utf8)), 0xE306_9283)
    }

    /// The instruction path (in builds for the host's CPU) agrees with the table, alone and three at a time.
    func testCRC32CPathsAgree() {
        for count in [1, 7, 8, 9, 63, 64, 65, 1000, 4097, 65_536 + 3] {
            let bytes = lcgBytes(count, seed: UInt64(count))
            let expected = CRC32C.checksumBySoftware(bytes)
            XCTAssertEqual(CRC32C.checksum(bytes), expected, "count \(count)")
            let other = lcgBytes(count, seed: 99), third = lcgBytes(count, seed: 98)
            bytes.withUnsafeBytes { a in other.withUnsafeBytes { b in third.withUnsafeBytes { c in
                let (x, y, z) = CRC32C.update3(0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, a.baseAddress!, b.baseAddress!, c.baseAddress!, count: count)
                XCTAssertEqual(x ^ 0xFFFF_FFFF, expected, "count \(count)")
                XCTAssertEqual(y ^ 0xFFFF_FFFF, CRC32C.checksumBySoftware(other), "count \(count)")
                XCTAssertEqual(z ^ 0xFFFF_FFFF, CRC32C.checksumBySoftware(third), "count \(count)")
            } } }
        }
    }

    func testCRC32IncrementalMatchesOneShot() {
        let data = lcgBytes(300, seed: 11)
        for size in 0...130 {
            let message = Array(data[0..<size])
            let oneShot = CRC32.checksum(message)
            for split in [0, 1, 7, 8, 9, size / 2, size] where split <= size {
                var c = CRC32()
                c.update(message[0..<split])
                XCTAssertEqual(c.value, CRC32.checksum(message[0..<split]))
                c.update(message[split..<size])
                XCTAssertEqual(c.value, oneShot, "size \(size) split \(split)")
            }
            var byteAtATime = CRC32()
            for b in message { byteAtATime.update([b]) }
            XCTAssertEqual(byteAtATime.value, oneShot, "size \(size) byte-at-a-time")
        }
        var raw = CRC32()
        "123456789".utf8.withContiguousStorageIfAvailable { raw.update(UnsafeRawBufferPointer($0)) }
        XCTAssertEqual(raw.value, 0xCBF4_3926)
    }
}
