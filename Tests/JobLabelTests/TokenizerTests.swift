import XCTest
@testable import JobLabel

final class TokenizerTests: XCTestCase {
    // Expected lists were produced by Python: re.findall(r"(?u)\b\w\w+\b", s.lower()).
    func testMatchesScikitLearnDefaultPattern() {
        var t = Tokenizer(.sklearn)
        XCTAssertEqual(t.tokens("Senior Data-Scientist (m/f/d), 5+ yrs C++ & R; e-mail: HR_team@acme.io!"),
                       ["senior", "data", "scientist", "yrs", "mail", "hr_team", "acme", "io"])
        XCTAssertEqual(t.tokens("a b c ab 1 12 _ __ a_b"), ["ab", "12", "__", "a_b"])
        XCTAssertEqual(t.tokens("tab\tsep\r\nnew\u{a0}nbsp\u{2003}emsp"), ["tab", "sep", "new", "nbsp", "emsp"])
    }

    func testUnicodeLettersNumbersAndLowercasing() {
        var t = Tokenizer(.sklearn)
        XCTAssertEqual(t.tokens("Über Straße İstanbul naïve café ΣΟΦΙΑ x2 ² ½ 二十 日本語テキスト"),
                       ["über", "straße", "stanbul", "naïve", "café", "σοφια", "x2", "二十", "日本語テキスト"])
        // Combining marks are not word characters in Python's re, so they split words.
        XCTAssertEqual(t.tokens("combining: cafe\u{301} and e\u{308}x"), ["combining", "cafe", "and"])
    }

    func testGreekFinalSigmaAsPythonLower() {
        // Python: [w for w in re.findall(r"(?u)\b\w\w+\b", s.lower())]
        var t = Tokenizer(.sklearn)
        XCTAssertEqual(t.tokens("ΟΔΟΣ ΣΟΦΙΑ ΟΔΟΣ. ΑΣΑ Σ ΟΔΟΣ1 Α'Σ"), ["οδος", "σοφια", "οδος", "ασα", "οδος1"])
        XCTAssertEqual(t.tokens("ΑΣ'Β"), ["ασ"])  // a cased letter after the apostrophe: not final
    }

    func testMinimumLengthOneKeepsSingleCharacters() {
        var t = Tokenizer(TokenizerConfig(lowercase: true, minTokenLength: 1))
        XCTAssertEqual(t.tokens("C and R, 5 yrs"), ["c", "and", "r", "5", "yrs"])
    }

    func testNoLowercasing() {
        var t = Tokenizer(TokenizerConfig(lowercase: false, minTokenLength: 2))
        XCTAssertEqual(t.tokens("Senior ENGINEER"), ["Senior", "ENGINEER"])
    }

    func testInvalidUTF8IsASeparatorNotACrash() {
        var t = Tokenizer(.sklearn)
        var list = TokenList()
        t.tokenize([0x61, 0x62, 0xFF, 0x63, 0x64, 0xE2, 0x82, 0x20, 0x65, 0x66, 0xF0, 0x9F], into: &list)
        XCTAssertEqual((0..<list.count).map { list.string($0) }, ["ab", "cd", "ef"])
    }

    func testEmptyInput() {
        var t = Tokenizer(.sklearn)
        XCTAssertEqual(t.tokens(""), [])
        XCTAssertEqual(t.tokens("  ,.;  "), [])
    }

    func testStreamedTokensEqualWholeTextTokens() {
        // Tokens cross the segment boundaries (ASCII and non-ASCII words of every length), one token is
        // longer than a segment, and the text ends inside a token: streamed, the same tokens come in the
        // same order, and the list never holds much more than one segment's tokens.
        var words: [String] = []
        for i in 0..<9000 { words.append(i % 13 == 0 ? "Ünïcödé\(i)" : String(repeating: "ab", count: 1 + i % 9) + "\(i)") }
        words.insert(String(repeating: "x", count: 3 * Tokenizer.segmentBytes), at: 4000)
        let text = Array((words.joined(separator: " ") + " ΟΔΟΣ end").utf8)
        var t = Tokenizer(.sklearn)
        var whole = TokenList()
        t.tokenize(text, into: &whole)
        let expected = (0..<whole.count).map { whole.string($0) }
        XCTAssertGreaterThan(text.count, 8 * Tokenizer.segmentBytes)
        var streamed: [String] = []
        var flushes = 0
        var largest = 0
        var list = TokenList()
        text.withUnsafeBufferPointer { buffer in
            t.tokenize(buffer, into: &list, stream: true) { part in
                flushes += 1
                largest = max(largest, part.count)
                streamed += (0..<part.count).map { part.string($0) }
            }
        }
        streamed += (0..<list.count).map { list.string($0) }
        XCTAssertGreaterThan(flushes, 4)
        XCTAssertLessThanOrEqual(largest, Tokenizer.segmentBytes / 4 + 16)  // words of 3 bytes or more, and a space
        XCTAssertTrue(streamed == expected, "streamed tokens differ: \(streamed.count) vs \(expected.count)")
    }
}
