import XCTest
@testable import JobLabel

final class FeatureStorageTests: XCTestCase {
    func testTermTableInternsLooksUpAndGrows() {
        var t = TermTable(capacity: 4)
        let words = (0..<5000).map { "term\($0)" } + ["", "é", "a b", "title:x"]
        for (i, w) in words.enumerated() { XCTAssertEqual(t.intern(w), Int32(i)) }
        for (i, w) in words.enumerated() { XCTAssertEqual(t.lookup(w), Int32(i)); XCTAssertEqual(t.intern(w), Int32(i)) }
        XCTAssertEqual(t.count, words.count)
        XCTAssertEqual(t.lookup("absent"), -1)
        XCTAssertEqual(t.string(5001), "é")
        let sub = t.subset([3, 1])
        XCTAssertEqual([sub.string(0), sub.string(1)], ["term3", "term1"])
    }

    func testTermTableNewlineRoundTrip() {
        var t = TermTable()
        for w in ["alpha", "beta gamma", "title:delta"] { _ = t.intern(w) }
        let back = TermTable.fromNewlineSeparated(t.newlineSeparated())
        XCTAssertEqual((0..<back.count).map { back.string($0) }, ["alpha", "beta gamma", "title:delta"])
        XCTAssertEqual(TermTable.fromNewlineSeparated([]).count, 0)
        // A large vocabulary (bulk insertion by home slot) finds every term at its line number.
        let words = (0..<20000).map { "w\($0 * 7919 % 20000)x" }
        let big = TermTable.fromNewlineSeparated(Array(words.joined(separator: "\n").utf8))
        XCTAssertEqual(big.count, words.count)
        for (i, w) in words.enumerated() where i % 97 == 0 { XCTAssertEqual(big.lookup(w), Int32(i)) }
        XCTAssertEqual(big.lookup("w20000x"), -1)
        // A repeated line keeps the first id; the table then has fewer terms than lines.
        let dup = TermTable.fromNewlineSeparated(Array("a\nlonger than eight bytes\na\nb".utf8))
        XCTAssertEqual(dup.count, 3)
        XCTAssertEqual([dup.lookup("a"), dup.lookup("longer than eight bytes"), dup.lookup("b")], [0, 1, 2])
    }

    func testCSRTransposeRowsAndAppend() throws {
        // [[1, 0, 2], [0, 0, 0], [0, 3, 4]]
        let m = try CSRMatrix(rowOffsets: [0, 2, 2, 4], columns: [0, 2, 1, 2], values: [1, 2, 3, 4], columnCount: 3)
        let t = m.transposed()
        XCTAssertEqual(t.rowOffsets, [0, 1, 2, 4])
        XCTAssertEqual(t.columns, [0, 2, 0, 2])
        XCTAssertEqual(t.values, [1, 3, 2, 4])
        XCTAssertEqual(t.transposed(), m)
        let picked = m.rows([2, 0])
        XCTAssertEqual(picked.rowOffsets, [0, 2, 4])
        XCTAssertEqual(picked.values, [3, 4, 1, 2])
        var joined = m
        joined.append(picked)
        XCTAssertEqual(joined.rowCount, 5)
        XCTAssertEqual(Array(joined.values[joined.row(3)]), [3, 4])
        let (titleOnly, kept) = m.selectingColumns { $0 != 1 }
        XCTAssertEqual(kept, [0, 2])
        XCTAssertEqual(titleOnly, try CSRMatrix(rowOffsets: [0, 2, 2, 3], columns: [0, 1, 1], values: [1, 2, 4], columnCount: 2))
    }

    /// A matrix made from arrays is checked: the kernels read its arrays without bounds checks.
    func testCSRInvariantsAreCheckedAtConstruction() throws {
        let bad: [([Int64], [Int32], [Float], Int, String)] = [
            ([1, 2], [0, 1], [1, 1], 3, "start at 0"),
            ([0, 2], [0], [1, 1], 3, "1 columns but 2 values"),
            ([0, 3], [0, 1], [1, 1], 3, "not at the 2 entries"),
            ([0, 2, 1, 2], [0, 1], [1, 1], 3, "decrease"),
            ([0, 2], [0, 3], [1, 1], 3, "column 3 is outside 0..<3"),
            ([0, 1], [-1], [1], 3, "column -1"),
        ]
        for (offsets, columns, values, count, message) in bad {
            XCTAssertThrowsError(try CSRMatrix(rowOffsets: offsets, columns: columns, values: values, columnCount: count)) {
                XCTAssertTrue("\($0)".contains(message), "\($0)")
            }
        }
        var m = CSRMatrix(columnCount: 2)
        XCTAssertThrowsError(try m.appendRow([(column: 2, value: 1)]))
        XCTAssertEqual(m, CSRMatrix(columnCount: 2), "a refused row leaves the matrix unchanged")
        try m.appendRow([(column: 1, value: 0.5)])
        XCTAssertEqual(m.rowOffsets, [0, 1])
    }

    func testScoresOfEmptyMatricesAreEmpty() throws {
        let model = LinearModel(classes: ["a", "b"], featureCount: 3, weights: [Float](repeating: 1, count: 6), bias: [0.5, -0.5])
        XCTAssertEqual(predictor(model).logits(CSRMatrix(columnCount: 3)), [])
        // Rows without entries score the bias alone (the padding columns of the combined matrix are zero).
        let empty = try CSRMatrix(rowOffsets: [0, 0], columns: [], values: [], columnCount: 3)
        XCTAssertEqual(Array(predictor(model).logits(empty).prefix(2)), [0.5, -0.5])
    }
}
