// Unsafe: `transposed` scatters entries through raw pointers into disjoint column ranges per part (bounds from
// prefix sums of the column counts); `appendRow(count:fill:)` hands its caller pointers to the new row's slots.
/// A sparse matrix in compressed sparse row form: 64-bit row offsets, 32-bit column ids, Float values.
///
/// Invariants, checked when a matrix is made from arrays and kept by every operation (the numeric kernels
/// read the arrays without bounds checks and rely on them): `rowOffsets` starts at 0, never decreases and
/// ends at the number of entries; `columns` and `values` have one element per entry; every column lies in
/// `0..<columnCount`. The arrays can be read, not written.
public struct CSRMatrix: Sendable, Equatable {
    /// `rowOffsets[i]..<rowOffsets[i+1]` indexes row `i`'s entries; `rowOffsets.count == rowCount + 1`.
    public private(set) var rowOffsets: [Int64]
    /// Column of each stored entry.
    public private(set) var columns: [Int32]
    /// Value of each stored entry.
    public private(set) var values: [Float]
    /// Number of columns.
    public let columnCount: Int

    /// What is wrong with the arrays given to `CSRMatrix.init(rowOffsets:columns:values:columnCount:)`.
    public struct StructureError: Error, Equatable, CustomStringConvertible {
        /// The broken invariant.
        public var description: String
    }

    /// A matrix with no rows.
    public init(columnCount: Int) {
        self.init(unchecked: [0], [], [], columnCount: max(0, columnCount))
    }

    /// A matrix from its arrays, after checking the invariants (see the type).
    public init(rowOffsets: [Int64], columns: [Int32], values: [Float], columnCount: Int) throws {
        func fail(_ what: String) -> StructureError { StructureError(description: what) }
        guard columnCount >= 0, columnCount <= Int(Int32.max) else { throw fail("column count \(columnCount) is out of range") }
        guard rowOffsets.first == 0 else { throw fail("row offsets must start at 0") }
        guard columns.count == values.count else { throw fail("\(columns.count) columns but \(values.count) values") }
        guard rowOffsets.last == Int64(columns.count) else { throw fail("row offsets end at \(rowOffsets.last ?? 0), not at the \(columns.count) entries") }
        for i in 1..<rowOffsets.count where rowOffsets[i] < rowOffsets[i - 1] { throw fail("row offsets decrease at row \(i - 1)") }
        if let bad = columns.first(where: { $0 < 0 || Int($0) >= columnCount }) { throw fail("column \(bad) is outside 0..<\(columnCount)") }
        self.init(unchecked: rowOffsets, columns, values, columnCount: columnCount)
    }

    /// A matrix from arrays its maker guarantees to be well formed (checked in debug builds only).
    init(unchecked rowOffsets: [Int64], _ columns: [Int32], _ values: [Float], columnCount: Int) {
        assert(rowOffsets.first == 0 && rowOffsets.last == Int64(columns.count) && columns.count == values.count
               && columns.allSatisfy { $0 >= 0 && Int($0) < columnCount }, "malformed CSR matrix")
        self.rowOffsets = rowOffsets
        self.columns = columns
        self.values = values
        self.columnCount = columnCount
    }

    /// Appends a row of (column, value) entries; throws, leaving the matrix unchanged, for a column outside
    /// `0..<columnCount`.
    public mutating func appendRow<S: Sequence>(_ entries: S) throws where S.Element == (column: Int, value: Float) {
        let list = Array(entries)
        if let bad = list.first(where: { $0.column < 0 || $0.column >= columnCount }) {
            throw StructureError(description: "column \(bad.column) is outside 0..<\(columnCount)")
        }
        columns.append(contentsOf: list.map { Int32($0.column) })
        values.append(contentsOf: list.map(\.value))
        rowOffsets.append(Int64(columns.count))
    }

    /// Appends a row of `count` entries written by `fill` (columns, then values); the caller guarantees the
    /// columns are in range.
    mutating func appendRow(count: Int, fill: (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Float>) -> Void) {
        let start = columns.count
        columns.append(contentsOf: repeatElement(0, count: count))
        values.append(contentsOf: repeatElement(0, count: count))
        withUnsafeMutablePointers(&columns, &values) { c, v in fill(c + start, v + start) }
        rowOffsets.append(Int64(columns.count))
        assert(columns[start...].allSatisfy { $0 >= 0 && Int($0) < columnCount }, "column out of range")
    }

    /// Makes room for `rows` more rows.
    mutating func reserveRows(_ rows: Int) { rowOffsets.reserveCapacity(rowOffsets.count + rows) }

    /// The rows of `parts`, one after the other (all with `columnCount` columns).
    public init(concatenating parts: [CSRMatrix], columnCount: Int) {
        let entries = parts.reduce(0) { $0 + $1.columns.count }
        var offsets = [Int64](repeating: 0, count: parts.reduce(1) { $0 + $1.rowCount })
        var columns = [Int32](), values = [Float]()
        columns.reserveCapacity(entries)
        values.reserveCapacity(entries)
        var row = 1
        for part in parts {
            let base = Int64(columns.count)
            for i in 1..<part.rowOffsets.count { offsets[row] = base + part.rowOffsets[i]; row += 1 }
            columns.append(contentsOf: part.columns)
            values.append(contentsOf: part.values)
        }
        self.init(unchecked: offsets, columns, values, columnCount: columnCount)
    }

    /// Number of rows.
    public var rowCount: Int { rowOffsets.count - 1 }
    /// Number of stored entries.
    public var nonZeroCount: Int { columns.count }

    /// The entries of row `i`.
    public func row(_ i: Int) -> Range<Int> { Int(rowOffsets[i])..<Int(rowOffsets[i + 1]) }

    /// Row `i`'s stored (column, value) pairs, in storage order.
    public func entries(ofRow i: Int) -> [(column: Int, value: Float)] {
        row(i).map { (Int(columns[$0]), values[$0]) }
    }

    /// Number of rows without any stored entry.
    public var emptyRowCount: Int {
        var n = 0
        for i in 0..<rowCount where rowOffsets[i] == rowOffsets[i + 1] { n += 1 }
        return n
    }

    /// Appends all rows of `other` (same column count).
    public mutating func append(_ other: CSRMatrix) {
        precondition(other.columnCount == columnCount, "appending a matrix with \(other.columnCount) columns to one with \(columnCount)")
        let base = rowOffsets[rowOffsets.count - 1]
        rowOffsets.append(contentsOf: other.rowOffsets.dropFirst().map { $0 + base })
        columns.append(contentsOf: other.columns)
        values.append(contentsOf: other.values)
    }

    /// The rows `indices`, in that order.
    public func rows(_ indices: [Int]) -> CSRMatrix {
        var out = CSRMatrix(columnCount: columnCount)
        out.rowOffsets.reserveCapacity(indices.count + 1)
        for i in indices {
            let r = row(i)
            out.columns.append(contentsOf: columns[r])
            out.values.append(contentsOf: values[r])
            out.rowOffsets.append(Int64(out.columns.count))
        }
        return out
    }

    /// The transpose (compressed sparse column view of this matrix), rows sorted within each column.
    public func transposed(parallel: Parallel = Parallel()) -> CSRMatrix {
        var counts = [Int64](repeating: 0, count: columnCount + 1)
        for c in columns { counts[Int(c) + 1] += 1 }
        for j in 0..<columnCount { counts[j + 1] += counts[j] }
        var cols = [Int32](repeating: 0, count: columns.count)
        var vals = [Float](repeating: 0, count: values.count)
        // The output rows (input columns) in parts of about equal entries, one per thread: each part scans the
        // input in row order and places only its own entries, so the result is the same for any number of parts.
        let parts = max(1, min(parallel.threads, 8, columnCount))
        var bounds = [0]
        var j = 0
        for part in 1..<max(1, parts) {
            let target = Int64(columns.count * part / parts)
            while j < columnCount && counts[j] < target { j += 1 }
            bounds.append(max(j, bounds[bounds.count - 1]))
        }
        bounds.append(columnCount)
        let rows = rowCount
        withUnsafeMutablePointers(&cols, &vals) { colsOut, valsOut in
            withUnsafePointers(columns, values, rowOffsets) { ic, iv, ro in
                parallel.forEachBlock(bounds.count - 1) { part in
                    let lo = Int32(bounds[part]), hi = Int32(bounds[part + 1])
                    var next = Array(counts[bounds[part]..<bounds[part + 1]])
                    for i in 0..<rows {
                        for t in Int(ro[i])..<Int(ro[i + 1]) {
                            let c = ic[t]
                            if c >= lo && c < hi {
                                let at = Int(next[Int(c - lo)])
                                colsOut[at] = Int32(i)
                                valsOut[at] = iv[t]
                                next[Int(c - lo)] += 1
                            }
                        }
                    }
                }
            }
        }
        return CSRMatrix(unchecked: counts, cols, vals, columnCount: rowCount)
    }

    /// The columns where `keep(column)` is true, renumbered in order, and the original column of each:
    /// every row keeps only its entries in those columns.
    func selectingColumns(_ keep: (Int) -> Bool) -> (matrix: CSRMatrix, columns: [Int]) {
        var map = [Int32](repeating: -1, count: columnCount)
        var kept: [Int] = []
        for j in 0..<columnCount where keep(j) {
            map[j] = Int32(kept.count)
            kept.append(j)
        }
        var offsets = [Int64](repeating: 0, count: rowCount + 1)
        var cols: [Int32] = [], vals: [Float] = []
        for i in 0..<rowCount {
            for t in row(i) where map[Int(columns[t])] >= 0 {
                cols.append(map[Int(columns[t])])
                vals.append(values[t])
            }
            offsets[i + 1] = Int64(cols.count)
        }
        return (CSRMatrix(unchecked: offsets, cols, vals, columnCount: kept.count), kept)
    }
}
