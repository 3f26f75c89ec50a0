/// A sparse matrix in compressed sparse row form: 64-bit row offsets, 32-bit column ids, Float values.
public struct CSRMatrix: Sendable, Equatable {
    /// `rowOffsets[i]..<rowOffsets[i+1]` indexes row `i`'s entries; `rowOffsets.count == rowCount + 1`.
    public var rowOffsets: [Int64]
    /// Column of each stored entry.
    public var columns: [Int32]
    /// Value of each stored entry.
    public var values: [Float]
    /// Number of columns.
    public var columnCount: Int

    /// Creates a matrix from its arrays.
    public init(rowOffsets: [Int64] = [0], columns: [Int32] = [], values: [Float] = [], columnCount: Int) {
        self.rowOffsets = rowOffsets
        self.columns = columns
        self.values = values
        self.columnCount = columnCount
    }

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
        self.init(rowOffsets: offsets, columns: columns, values: values, columnCount: columnCount)
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
    public func transposed() -> CSRMatrix {
        var counts = [Int64](repeating: 0, count: columnCount + 1)
        for c in columns { counts[Int(c) + 1] += 1 }
        for j in 0..<columnCount { counts[j + 1] += counts[j] }
        var cols = [Int32](repeating: 0, count: columns.count)
        var vals = [Float](repeating: 0, count: values.count)
        // The output rows (input columns) in parts of about equal entries, one per thread: each part scans the
        // input in row order and places only its own entries, so the result is the same for any number of parts.
        let parts = max(1, min(Parallel.threads, 8, columnCount))
        var bounds = [0]
        var j = 0
        for part in 1..<max(1, parts) {
            let target = Int64(columns.count * part / parts)
            while j < columnCount && counts[j] < target { j += 1 }
            bounds.append(max(j, bounds[bounds.count - 1]))
        }
        bounds.append(columnCount)
        let rows = rowCount
        cols.withUnsafeMutableBufferPointer { cb in
            vals.withUnsafeMutableBufferPointer { vb in
                columns.withUnsafeBufferPointer { ic in
                    values.withUnsafeBufferPointer { iv in
                        rowOffsets.withUnsafeBufferPointer { ro in
                            let colsOut = cb, valsOut = vb
                            Parallel.forEachBlock(bounds.count - 1) { part in
                                let lo = Int32(bounds[part]), hi = Int32(bounds[part + 1])
                                var next = Array(counts[bounds[part]..<bounds[part + 1]])
                                next.withUnsafeMutableBufferPointer { nb in
                                    for i in 0..<rows {
                                        for t in Int(ro[i])..<Int(ro[i + 1]) {
                                            let c = ic[t]
                                            if c >= lo && c < hi {
                                                let at = Int(nb[Int(c - lo)])
                                                colsOut[at] = Int32(i)
                                                valsOut[at] = iv[t]
                                                nb[Int(c - lo)] += 1
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return CSRMatrix(rowOffsets: counts, columns: cols, values: vals, columnCount: rowCount)
    }
}
