import XCTest
@testable import JobLabel

final class TfidfTests: XCTestCase {
    private func posting(_ text: String, title: String = "") -> Posting {
        Posting(id: text, title: Array(title.utf8), text: Array(text.utf8))
    }

    /// Hand-computed: n = 3, smooth idf = ln((1+n)/(1+df)) + 1.
    func testValuesMatchHandComputation() throws {
        let docs = [posting("sales manager sales"), posting("data engineer"), posting("sales engineer")]
        let (v, x) = try TfidfVectorizer.fitTransform(.sklearn, docs)
        XCTAssertEqual((0..<v.featureCount).map { v.vocabulary.string($0) }, ["data", "engineer", "manager", "sales"])
        let idf = { (df: Double) in log(4 / (1 + df)) + 1 }
        XCTAssertEqual(Double(v.idf[0]), idf(1), accuracy: 1e-6)
        XCTAssertEqual(Double(v.idf[1]), idf(2), accuracy: 1e-6)
        XCTAssertEqual(Double(v.idf[3]), idf(2), accuracy: 1e-6)
        // Row 0: manager tf 1, sales tf 2, then L2-normalised.
        let m = idf(1), s = 2 * idf(2)
        let norm = (m * m + s * s).squareRoot()
        // Entries keep the order in which terms first occur in the posting: sales, then manager.
        XCTAssertEqual(Array(x.columns[x.row(0)]), [3, 2])
        XCTAssertEqual(Double(x.values[x.row(0)].first!), s / norm, accuracy: 1e-6)
        XCTAssertEqual(Double(x.values[x.row(0)].last!), m / norm, accuracy: 1e-6)
        XCTAssertEqual(x.rowOffsets, [0, 2, 4, 6])
    }

    func testSublinearTF() throws {
        var config = VectorizerConfig.sklearn
        config.sublinearTF = true
        let (v, x) = try TfidfVectorizer.fitTransform(config, [posting("aa aa aa bb"), posting("bb")])
        let a = (1 + log(3.0)) * Double(v.idf[0]), b = 1 * Double(v.idf[1])
        XCTAssertEqual(Double(x.values[0]), a / (a * a + b * b).squareRoot(), accuracy: 1e-6)
    }

    func testDocumentFrequencyBoundsAndMaxFeatures() throws {
        let docs = [posting("aa bb cc"), posting("aa bb"), posting("aa dd")]
        var config = VectorizerConfig.sklearn
        config.minDF = .count(2)
        XCTAssertEqual(try TfidfVectorizer.fitTransform(config, docs).0.featureCount, 2)  // aa, bb
        config.maxDF = .fraction(0.9)
        XCTAssertEqual(try TfidfVectorizer.fitTransform(config, docs).0.vocabulary.string(0), "bb")
        var top = VectorizerConfig.sklearn
        top.maxFeatures = 1
        XCTAssertEqual(try TfidfVectorizer.fitTransform(top, docs).0.vocabulary.string(0), "aa")
        var none = VectorizerConfig.sklearn
        none.minDF = .count(5)
        XCTAssertThrowsError(try TfidfVectorizer.fitTransform(none, docs))
        XCTAssertThrowsError(try TfidfVectorizer.fitTransform(.sklearn, [posting("!! ??"), posting("a")]))
    }

    func testBigramsAndTitleModes() throws {
        var config = VectorizerConfig.sklearn
        config.ngrams = 2
        let (v, _) = try TfidfVectorizer.fitTransform(config, [posting("data engineer", title: "senior role")])
        // Concatenated title: bigrams run across the title/text boundary, as in scikit-learn.
        XCTAssertEqual((0..<v.featureCount).map { v.vocabulary.string($0) },
                       ["data", "data engineer", "engineer", "role", "role data", "senior", "senior role"])
        config.ngrams = 1
        config.titleMode = .namespace
        config.titleWeight = 3
        let (v2, x2) = try TfidfVectorizer.fitTransform(config, [posting("engineer", title: "engineer")])
        XCTAssertEqual((0..<v2.featureCount).map { v2.vocabulary.string($0) }, ["engineer", "title:engineer"])
        // Same idf, title tf 3 vs body tf 1.
        XCTAssertEqual(Double(x2.values[1] / x2.values[0]), 3, accuracy: 1e-5)
        // With sublinear tf the weight multiplies 1 + ln(tf), so a small weight never turns it negative.
        config.sublinearTF = true
        config.titleWeight = 0.1
        let (_, x3) = try TfidfVectorizer.fitTransform(config, [posting("engineer", title: "engineer engineer")])
        XCTAssertEqual(Double(x3.values[1] / x3.values[0]), 0.1 * (1 + log(2.0)), accuracy: 1e-5)
    }

    func testTransformIgnoresUnknownTermsAndIsThreadIndependent() throws {
        // Terms longer and shorter than 8 bytes, so both lookup paths of transform are compared with fit.
        let docs = (0..<700).map { posting("word\($0 % 37) common administrator\($0 % 3) text\($0 % 5) extra word\($0 % 37) internationalisation") }
        let (v, x) = try TfidfVectorizer.fitTransform(.sklearn, docs)
        let one = v.transform(docs, parallel: Parallel(threads: 1))
        let four = v.transform(docs, parallel: Parallel(threads: 4))
        XCTAssertEqual(one, four)
        XCTAssertEqual(one.columns, x.columns)
        for (a, b) in zip(one.values, x.values) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        let unknown = v.transform([posting("zzz unknown common")])
        XCTAssertEqual(unknown.nonZeroCount, 1)
        XCTAssertEqual(unknown.values[0], 1, accuracy: 1e-6)
    }

    func testTransformOfLongPostingsMatchesFit() throws {
        // Thousands of distinct short terms in one posting (the per-posting counts grow and are filled in
        // chunks), repeats far apart, long terms in between; bigrams and a title in namespace mode.
        let long = (0..<3000).map { "w\($0 % 1500)" + ($0 % 7 == 0 ? " internationalisation\($0 % 11)" : "") }.joined(separator: " ")
        let docs = [posting(long, title: "w1 senior"), posting("w2 w3 w2 internationalisation3"), posting(long + " tail")]
        var config = VectorizerConfig.sklearn
        config.titleMode = .namespace
        for ngrams in [1, 2] {
            config.ngrams = ngrams
            let (v, x) = try TfidfVectorizer.fitTransform(config, docs)
            let again = v.transform(docs)
            // Booleans, not the arrays: thousands of columns would flood a failure message.
            XCTAssertTrue(again.rowOffsets == x.rowOffsets, "row lengths differ from fit's, ngrams \(ngrams)")
            XCTAssertTrue(again.columns == x.columns, "columns differ from fit's, ngrams \(ngrams)")
            XCTAssertTrue(zip(again.values, x.values).allSatisfy { abs($0 - $1) <= 1e-6 }, "values differ, ngrams \(ngrams)")
            // The first posting holds 1500 distinct w-terms, each twice, plus the title's two terms.
            XCTAssertGreaterThanOrEqual(x.row(0).count, ngrams == 1 ? 1500 + 11 + 2 : 3000)
        }
    }

    func testHotTermsGiveTheVocabularyColumns() {
        // Terms of 1 to 40 bytes (slot-only and with tails), half of them in the hot table; the table gives
        // each kept term its column and -1 for every other term.
        var vocabulary = TermTable()
        let terms = (0..<3000).map { i in String(repeating: "k", count: i % 40) + "\(i)" }
        for term in terms { _ = vocabulary.intern(term) }
        let kept = Array(stride(from: 0, to: terms.count, by: 2))
        let hot = HotTerms(vocabulary, ids: kept)
        XCTAssertEqual(hot.count, kept.count)
        for (id, term) in terms.enumerated() {
            var bytes = Array(term.utf8)
            let n = bytes.count
            bytes += [UInt8](repeating: 0, count: 8)  // the padding lookups may read
            let column = bytes.withUnsafeBufferPointer { b -> Int32 in
                let (h, prefix) = TermTable.hashAndPrefixPadded(b.baseAddress!, n)
                return hot.column(b.baseAddress!, n, hash: h, prefix: prefix)
            }
            XCTAssertEqual(column, id % 2 == 0 ? Int32(id) : -1, term)
            XCTAssertEqual(vocabulary.lookup(term), Int32(id))
        }
        let absent = Array("notthere".utf8) + [UInt8](repeating: 0, count: 8)
        absent.withUnsafeBufferPointer { b in
            let (h, prefix) = TermTable.hashAndPrefixPadded(b.baseAddress!, 8)
            XCTAssertEqual(hot.column(b.baseAddress!, 8, hash: h, prefix: prefix), -1)
            XCTAssertEqual(TermTable.hashShort(prefix, 8), h)
        }
    }

    func testCuesOfALongPostingAreThoseOfItsWholeText() throws {
        // A text of several tokenizer segments, each cue phrase cut by a segment boundary (16384 bytes in):
        // the cue features come out as the cue rules give them on the whole text's tokens, whether cues read
        // the main tokens (namespace mode, length 1) or tokens of their own (concatenated, scikit-learn's).
        func phraseAcross(_ boundary: Int, _ phrase: String, from text: inout String) {
            text += String(repeating: "ab ", count: (boundary - 12 - text.utf8.count) / 3)
            text += phrase + " "
        }
        var text = ""
        phraseAcross(Tokenizer.segmentBytes, "minimum 5 years of experience", from: &text)
        phraseAcross(2 * Tokenizer.segmentBytes, "senior level role", from: &text)
        phraseAcross(3 * Tokenizer.segmentBytes, "bachelor degree required", from: &text)
        phraseAcross(4 * Tokenizer.segmentBytes, "reporting to the ceo", from: &text)
        text += String(repeating: "cd ", count: 3000) + "phd"  // and one in the last segment
        let docs = [posting(text, title: "Senior Analyst"), posting("ab cd other words", title: "Junior Analyst")]
        let one = TokenizerConfig(lowercase: true, minTokenLength: 1)
        for (tokenizer, mode) in [(one, TitleMode.namespace), (TokenizerConfig.sklearn, TitleMode.concatenate)] {
            var config = VectorizerConfig.sklearn
            config.tokenizer = tokenizer
            config.titleMode = mode
            config.cues = [.years, .titleLevel, .textLevel, .degree]
            let (v, x) = try TfidfVectorizer.fitTransform(config, docs)
            var t = Tokenizer(one)
            var title = TokenList(), body = TokenList()
            t.tokenize(Array("Senior Analyst".utf8), into: &title)
            t.tokenize(Array(text.utf8), into: &body)
            let expected = CueExtractor(config.cues).cues(title: title, text: body)
            XCTAssertTrue(expected.contains("cue:years>=5") && expected.contains("cue:text=senior-level")
                          && expected.contains("cue:degree=bachelor") && expected.contains("cue:text=reports-to-executive")
                          && expected.contains("cue:degree=doctorate"), "\(expected)")
            for row in [x, v.transform(docs)] {
                let cues = row.columns[row.row(0)].map { v.vocabulary.string(Int($0)) }.filter { $0.hasPrefix("cue:") }
                XCTAssertEqual(Set(cues), Set(expected), "\(mode)")
            }
        }
    }

    func testNgramsOfALongTextStreamAsTheWholeText() {
        // A text of several tokenizer segments: the walker hands over its n-grams a segment at a time, with the
        // last tokens carried over; the terms, in order, are those built from the whole text's tokens.
        let words = (0..<12000).map { "w\($0 % 97)" + ($0 % 5 == 0 ? "x" : "") }
        let text = words.joined(separator: " ")
        XCTAssertGreaterThan(text.utf8.count, 3 * Tokenizer.segmentBytes)
        for ngrams in [2, 3] {
            var config = VectorizerConfig.sklearn
            config.ngrams = ngrams
            var walker = TermWalker(config)
            var terms: [String] = []
            var runs = 0
            walker.forEachTermRun(posting(text, title: "Lead Engineer")) { base, starts, ends, count in
                runs += 1
                for t in 0..<count { terms.append(String(decoding: UnsafeBufferPointer(start: base + starts[t], count: ends[t] - starts[t]), as: UTF8.self)) }
            }
            let tokens = ["lead", "engineer"] + words
            var expected: [String] = []
            for i in tokens.indices {
                for g in 1...ngrams where i + g <= tokens.count { expected.append(tokens[i..<(i + g)].joined(separator: " ")) }
            }
            XCTAssertGreaterThan(runs, 3, "streamed in runs")
            XCTAssertTrue(terms == expected, "n-grams differ, ngrams \(ngrams): \(terms.count) vs \(expected.count)")
        }
    }
}
