// Unsafe: counts term runs through raw pointers, and parallel jobs write disjoint ranges of shared output arrays at offsets from prefix sums (row offsets, term offsets), so no two jobs write the same element.

import Foundation

/// The stages of `TfidfVectorizer.fitTransform`, in the manner of scikit-learn's `CountVectorizer`
/// (`_count_vocab`, `_limit_features`, `_sort_features`) followed by `TfidfTransformer`, but sharded so that
/// every stage except the column assignment runs in parallel over fixed blocks (the result never depends on
/// the thread count):
///
/// 1. `countBlocks`: each block of postings is tokenized and counted against a term table of its own;
/// 2. `mergeShards`: the blocks' terms are merged into hash shards, which sum document frequencies;
/// 3. `selectVocabulary`: terms are kept by document frequency and `maxFeatures`, sorted by bytes and
///    given their columns and idf;
/// 4. `weightRows`: each block's counts are mapped to those columns, weighted and L2-normalised.
enum VectorizerFit {
    // MARK: 1. count blocks

    /// Stage 1. Tokenizes `postings` in fixed blocks of `TfidfVectorizer.fitBlockSize` postings (in
    /// parallel) and counts each block's terms against a table of its own. Returns the blocks in order.
    static func countBlocks(_ config: VectorizerConfig, _ postings: [Posting], parallel: Parallel) -> [BlockCounts] {
        parallel.mapRanges(count: postings.count, blockSize: TfidfVectorizer.fitBlockSize) { range in
            BlockCounts(counting: postings, range, config)
        }
    }

    // MARK: 2. merge shards

    /// Stage 2. Merges the blocks' terms into `TfidfVectorizer.shardCount` shards by the top bits of their
    /// hashes (one parallel job per shard, reading the blocks in order, so a shard's ids follow the terms'
    /// first occurrences). Takes the blocks of stage 1; returns the shards with each term's document
    /// frequency and total count, and where every block-local term went.
    static func mergeShards(_ blocks: [BlockCounts], parallel: Parallel) -> MergedTerms {
        var blockStart = [0]
        for block in blocks { blockStart.append(blockStart[blockStart.count - 1] + block.table.count) }
        var codes = [Int32](repeating: 0, count: blockStart[blocks.count])
        let shards: [Shard] = codes.withUnsafeMutableBufferPointer { codeBuffer in
            let codesOut = codeBuffer
            return parallel.mapRanges(count: TfidfVectorizer.shardCount, blockSize: 1) { range in
                mergeShard(range.lowerBound, blocks, blockStart: blockStart, codes: codesOut)
            }
        }
        return MergedTerms(shards: shards, codes: codes, blockStart: blockStart)
    }

    /// Shard `s` of `mergeShards`: interns the shard's terms of every block, in block order, summing their
    /// document frequencies and counts; writes each term's code to `codes[blockStart[b] + local]`.
    private static func mergeShard(_ s: Int, _ blocks: [BlockCounts], blockStart: [Int],
                                   codes: UnsafeMutableBufferPointer<Int32>) -> Shard {
        let expected = blocks.reduce(0) { $0 + $1.byShard[s].count } / max(1, blocks.count / 4)
        var shard = Shard()
        shard.table = TermTable(capacity: max(1024, expected))
        for (b, block) in blocks.enumerated() {
            let base = blockStart[b]
            block.table.withTermBytes { term in
                for local32 in block.byShard[s] {
                    let local = Int(local32)
                    let (p, len, h) = term(local)
                    let id = shard.table.intern(p, len, hash: h, prefix: TermTable.prefix(p, len))
                    if Int(id) == shard.df.count { shard.df.append(0); shard.total.append(0) }
                    shard.df[Int(id)] += Int(block.df[local])
                    shard.total[Int(id)] += Double(block.total[local])
                    codes[base + local] = MergedTerms.code(shard: s, id: id)
                }
            }
        }
        return shard
    }

    // MARK: 3. select vocabulary

    /// Stage 3. Keeps the terms of `shards` whose document frequency lies within the configured bounds (of
    /// `documents` postings), then the `maxFeatures` most frequent of them (ties by bytes), sorted by bytes
    /// as scikit-learn's vocabulary; gives each its column, smooth idf `ln((1 + n) / (1 + df)) + 1` and
    /// column weight. Throws `EmptyVocabularyError` when the bounds contradict each other or keep nothing.
    static func selectVocabulary(_ config: VectorizerConfig, _ shards: [Shard], documents n: Int, parallel: Parallel) throws -> SelectedVocabulary {
        let maxDocs = config.maxDF.documents(of: n)
        let minDocs = config.minDF.documents(of: n)
        if maxDocs < minDocs {
            throw EmptyVocabularyError(kind: .conflictingBounds, description: "--max-df \(config.maxDF) keeps fewer documents than --min-df \(config.minDF); raise --max-df or lower --min-df")
        }
        let kept = keptTerms(shards, minDocs: minDocs, maxDocs: maxDocs, maxFeatures: config.maxFeatures, parallel: parallel)
        if kept.isEmpty {
            let provisional = shards.reduce(0) { $0 + $1.table.count }
            if provisional == 0 {
                throw EmptyVocabularyError(kind: .noTokens, description: "no tokens in the training texts: every document is empty after tokenization")
            }
            throw EmptyVocabularyError(kind: .prunedEverything, description: "--min-df/--max-df pruned away all \(provisional) terms; lower --min-df or raise --max-df", terms: provisional)
        }
        var vocabulary = assignColumns(kept, shards: shards, documents: n)
        copyTermBytesAndWeights(config, shards, into: &vocabulary, parallel: parallel)
        return vocabulary
    }

    /// The kept terms of stage 3, sorted by bytes: those within `minDocs...maxDocs` documents, cut to the
    /// `maxFeatures` with the largest total count (ties by bytes). Each shard's terms are sorted in
    /// parallel; the final sort then merges sorted runs.
    private static func keptTerms(_ shards: [Shard], minDocs: Double, maxDocs: Double, maxFeatures: Int?, parallel: Parallel) -> [SortKey] {
        func bytesLess(_ a: SortKey, _ b: SortKey) -> Bool {
            if a.prefix != b.prefix { return a.prefix < b.prefix }
            return shards[a.shard].table.bytes(a.id).lexicographicallyPrecedes(shards[b.shard].table.bytes(b.id))
        }
        var kept: [SortKey] = parallel.mapRanges(count: shards.count, blockSize: 1) { range -> [SortKey] in
            let s = range.lowerBound, shard = shards[s]
            var keys: [SortKey] = []
            shard.table.withTermBytes { term in
                for id in 0..<shard.table.count where Double(shard.df[id]) >= minDocs && Double(shard.df[id]) <= maxDocs {
                    let (p, len, h) = term(id)
                    keys.append(SortKey(prefix: SortKey.bigEndianPrefix(p, len), hash: h, shard: Int32(s), id: Int32(id),
                                        length: Int32(len), df: Int32(shard.df[id])))
                }
            }
            keys.sort(by: bytesLess)
            return keys
        }.flatMap { $0 }
        if let limit = maxFeatures, kept.count > limit {
            kept.sort { a, b in
                let ta = shards[a.shard].total[a.id], tb = shards[b.shard].total[b.id]
                return ta != tb ? ta > tb : bytesLess(a, b)
            }
            kept.removeSubrange(limit...)
        }
        kept.sort(by: bytesLess)
        return kept
    }

    /// Columns in the order of `kept`: each term's column (by shard and shard id), idf, byte offsets and
    /// hash. Everything per column is in its key, so this serial loop does no lookups in the shards.
    private static func assignColumns(_ kept: [SortKey], shards: [Shard], documents n: Int) -> SelectedVocabulary {
        var columnOf = shards.map { [Int32](repeating: -1, count: $0.table.count) }
        var idf = [Float](repeating: 0, count: kept.count)
        var offsets = [Int](repeating: 0, count: kept.count + 1)
        var hashes = [UInt64](repeating: 0, count: kept.count)
        for (column, key) in kept.enumerated() {
            columnOf[key.shard][key.id] = Int32(column)
            idf[column] = Float(log(Double(1 + n) / Double(1 + Int(key.df))) + 1)
            offsets[column + 1] = offsets[column] + Int(key.length)
            hashes[column] = key.hash
        }
        return SelectedVocabulary(columnOf: columnOf, idf: idf, offsets: offsets, hashes: hashes)
    }

    /// Fills the vocabulary's term bytes (`arena`) and column weights (idf times the title or cue weight),
    /// in parallel per shard.
    private static func copyTermBytesAndWeights(_ config: VectorizerConfig, _ shards: [Shard], into vocabulary: inout SelectedVocabulary,
                                                parallel: Parallel) {
        let offsets = vocabulary.offsets, idf = vocabulary.idf, columnOf = vocabulary.columnOf
        var arena = [UInt8](repeating: 0, count: offsets[idf.count])
        var columnWeight = [Float](repeating: 0, count: idf.count)
        var normGroup = [UInt8](repeating: 0, count: config.separateTitleNorm ? idf.count : 0)
        let grouped = config.separateTitleNorm
        withUnsafeMutablePointers(&arena, &columnWeight, &normGroup) { arena, columnWeight, normGroup in
            parallel.forEachBlock(shards.count) { s in
                shards[s].table.withTermBytes { term in
                    for (id, column) in columnOf[s].enumerated() where column >= 0 {
                        let (p, len, _) = term(id)
                        let c = Int(column)
                        (arena + offsets[c]).update(from: p, count: len)
                        columnWeight[c] = TfidfVectorizer.scale(config, p, len) * idf[c]
                        if grouped { normGroup[c] = TfidfVectorizer.isTitleTerm(p, len) ? 1 : 0 }
                    }
                }
            }
        }
        vocabulary.arena = arena
        vocabulary.columnWeight = columnWeight
        vocabulary.normGroup = grouped ? normGroup : nil
    }

    // MARK: 4. weight rows

    /// Stage 4. Maps each block's local terms to their columns (dropping terms not kept), then writes every
    /// posting's row — tf (or `1 + ln tf`) times the column weight, L2-normalised — straight into the final
    /// arrays (blocks write disjoint ranges). One parallel job builds the vectorizer (its hash tables)
    /// meanwhile. Takes the stages' results; returns the fitted vectorizer and the `documents × columns` matrix.
    static func weightRows(_ config: VectorizerConfig, _ blocks: [BlockCounts], _ merged: MergedTerms,
                           _ vocabulary: SelectedVocabulary, documents n: Int, parallel: Parallel) -> (TfidfVectorizer, CSRMatrix) {
        let mapped = parallel.mapRanges(count: blocks.count, blockSize: 1) { range in
            BlockColumns(blocks[range.lowerBound], block: range.lowerBound, merged, vocabulary)
        }
        var rowOffsets = [Int64](repeating: 0, count: n + 1)
        var row = 0
        for part in mapped {
            for c in part.rowCounts {
                rowOffsets[row + 1] = rowOffsets[row] + Int64(c)
                row += 1
            }
        }
        let entries = Int(rowOffsets[n])
        var columns = [Int32](repeating: 0, count: entries)
        var values = [Float](repeating: 0, count: entries)
        var built: TfidfVectorizer?
        withUnsafeMutablePointers(&columns, &values) { columns, values in
            // Job 0 builds the vocabulary's hash table and the vectorizer while the others weight the blocks.
            parallel.forEachBlock(blocks.count + 1) { job in
                if job == 0 {
                    built = vocabulary.makeVectorizer(config)
                } else {
                    weightBlock(config, blocks[job - 1], mapped[job - 1], vocabulary.columnWeight, vocabulary.normGroup,
                                firstRow: (job - 1) * TfidfVectorizer.fitBlockSize, rowOffsets: rowOffsets,
                                columns: columns, values: values)
                }
            }
        }
        let vectorizer = built ?? vocabulary.makeVectorizer(config)  // job 0 always runs; this keeps the code free of a force unwrap
        return (vectorizer, CSRMatrix(unchecked: rowOffsets, columns, values, columnCount: vocabulary.count))
    }

    /// The rows of one block of stage 4, written at their places in the matrix's `columns` and `values`
    /// (row `firstRow + r` starts at `rowOffsets[firstRow + r]`).
    private static func weightBlock(_ config: VectorizerConfig, _ block: BlockCounts, _ mapped: BlockColumns, _ columnWeight: [Float],
                                    _ normGroup: [UInt8]?,
                                    firstRow: Int, rowOffsets: [Int64],
                                    columns: UnsafeMutablePointer<Int32>, values: UnsafeMutablePointer<Float>) {
        let localColumn = mapped.localColumn
        var entry: [UInt64] = []
        for r in 0..<(block.rowOffsets.count - 1) {
            entry.removeAll(keepingCapacity: true)
            for t in block.rowOffsets[r]..<block.rowOffsets[r + 1] {
                let column = localColumn[Int(block.ids[t])]
                if column >= 0 { entry.append(UInt64(column) << 32 | UInt64(UInt32(block.counts[t]))) }
            }
            let at = Int(rowOffsets[firstRow + r])
            TfidfVectorizer.weightRow(entry, sublinear: config.sublinearTF, weights: columnWeight, groups: normGroup,
                                      columns: columns + at, values: values + at)
        }
    }
}

/// One block of postings counted against a block-local term table (stage 1 of the fit).
struct BlockCounts {
    var table = TermTable(capacity: 4096)
    /// Per posting, its (local id, count) entries: `rowOffsets[r]..<rowOffsets[r+1]`.
    var rowOffsets: [Int] = [0]
    var ids: [Int32] = []
    var counts: [Int32] = []
    /// Per local term: postings containing it and its total count.
    var df: [Int32] = []
    var total: [Int32] = []
    /// Local ids of each merge shard's terms (shard = top 4 bits of the term's hash), ascending.
    var byShard: [[Int32]] = []

    /// Counts the terms of `postings[range]`. A posting's entries list its terms of up to 8 bytes first,
    /// then the longer ones, each in first-occurrence order (as `TfidfVectorizer.transform` does).
    init(counting postings: [Posting], _ range: Range<Int>, _ config: VectorizerConfig) {
        let textBytes = range.reduce(0) { $0 + postings[$1].text.count + postings[$1].title.count }
        // Starts small and grows: every block's table is kept until the merge, so tables sized for many
        // distinct terms per byte of text would hold far more memory than the vocabulary needs.
        var table = TermTable(capacity: max(1024, textBytes / 64))
        var walker = TermWalker(config)
        var counter = DocumentCounter()
        var ids: [Int32] = [], counts: [Int32] = [], longEntries: [Int32] = []
        ids.reserveCapacity(textBytes / 8)
        counts.reserveCapacity(textBytes / 8)
        var rowOffsets = [0]
        rowOffsets.reserveCapacity(range.count + 1)
        for i in range {
            walker.forEachTermRun(postings[i]) { base, starts, ends, count in
                counter.reserve(ids: table.count + count, more: count)
                counter.withAdder { add in
                    for t in 0..<count {
                        let p = base + starts[t], len = ends[t] - starts[t]
                        let (h, prefix) = TermTable.hashAndPrefixPadded(p, len)
                        add(table.intern(p, len, hash: h, prefix: prefix), len <= 8)
                    }
                }
            }
            longEntries.removeAll(keepingCapacity: true)
            counter.drain { id, count, isShort in
                if isShort {
                    ids.append(id)
                    counts.append(count)
                } else {
                    longEntries.append(id)
                    longEntries.append(count)
                }
            }
            for k in stride(from: 0, to: longEntries.count, by: 2) {
                ids.append(longEntries[k])
                counts.append(longEntries[k + 1])
            }
            rowOffsets.append(ids.count)
        }
        df = [Int32](repeating: 0, count: table.count)
        total = [Int32](repeating: 0, count: table.count)
        for (t, id) in ids.enumerated() {
            df[Int(id)] += 1
            total[Int(id)] += counts[t]
        }
        byShard = [[Int32]](repeating: [], count: TfidfVectorizer.shardCount)
        for (local, h) in table.hashes.enumerated() {
            byShard[Int(h >> 60)].append(Int32(local))
        }
        self.table = table
        self.ids = ids
        self.counts = counts
        self.rowOffsets = rowOffsets
    }
}

/// One merge shard (stage 2 of the fit): its terms, their document frequencies and total counts.
struct Shard {
    var table = TermTable(capacity: 1024)
    var df: [Int] = []
    var total: [Double] = []
}

/// The result of stage 2: the shards, and where each block-local term went as a code
/// `shard << idBits | shard-local id` (block `b`'s local term `l` at `codes[blockStart[b] + l]`).
struct MergedTerms {
    let shards: [Shard]
    let codes: [Int32]
    let blockStart: [Int]
    static let idBits = 27

    /// The code of shard-local term `id` of shard `shard`.
    static func code(shard: Int, id: Int32) -> Int32 { Int32(shard << idBits) | id }

    /// The shard and shard-local id of local term `local` of block `b`.
    func location(block b: Int, local: Int) -> (shard: Int, id: Int) {
        let code = codes[blockStart[b] + local]
        return (Int(code >> Int32(MergedTerms.idBits)), Int(code & Int32((1 << MergedTerms.idBits) - 1)))
    }
}

/// The result of stage 3: the vocabulary's terms (bytes in column order), idf and column weights, and
/// each shard term's column.
struct SelectedVocabulary {
    /// Per shard, per shard-local id: the term's column, or -1 when it was not kept.
    let columnOf: [[Int32]]
    let idf: [Float]
    /// `offsets[c]..<offsets[c+1]` holds column `c`'s term in `arena`.
    let offsets: [Int]
    let hashes: [UInt64]
    var arena: [UInt8] = []
    var columnWeight: [Float] = []
    var normGroup: [UInt8]?

    /// Number of columns.
    var count: Int { idf.count }

    /// The fitted vectorizer (builds the vocabulary's hash table).
    func makeVectorizer(_ config: VectorizerConfig) -> TfidfVectorizer {
        TfidfVectorizer(config: config, vocabulary: TermTable(arena: arena, offsets: offsets, hashes: hashes),
                        idf: idf, columnWeight: columnWeight, normGroup: normGroup)
    }
}

/// A block's local terms mapped to columns (stage 4 of the fit), and the number of kept entries per row.
struct BlockColumns {
    /// Column of each local term, or -1.
    let localColumn: [Int32]
    let rowCounts: [Int]

    init(_ block: BlockCounts, block b: Int, _ merged: MergedTerms, _ vocabulary: SelectedVocabulary) {
        let localColumn: [Int32] = (0..<block.table.count).map { local in
            let (shard, id) = merged.location(block: b, local: local)
            return vocabulary.columnOf[shard][id]
        }
        self.localColumn = localColumn
        self.rowCounts = (0..<(block.rowOffsets.count - 1)).map { r in
            (block.rowOffsets[r]..<block.rowOffsets[r + 1]).reduce(0) { $0 + (localColumn[Int(block.ids[$1])] >= 0 ? 1 : 0) }
        }
    }
}

/// A kept term of a shard with what the vocabulary needs of it: its first 8 bytes as a big-endian number
/// (for sorting terms by bytes), hash, length and document frequency.
struct SortKey {
    let prefix: UInt64
    let hash: UInt64
    let shardIndex: Int32
    let idInShard: Int32
    let length: Int32
    let df: Int32

    init(prefix: UInt64, hash: UInt64, shard: Int32, id: Int32, length: Int32, df: Int32) {
        self.prefix = prefix
        self.hash = hash
        self.shardIndex = shard
        self.idInShard = id
        self.length = length
        self.df = df
    }

    var shard: Int { Int(shardIndex) }
    var id: Int { Int(idInShard) }

    /// The first 8 bytes (zero-padded) as a big-endian number: comparing numbers compares the bytes.
    static func bigEndianPrefix(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        UInt64(bigEndian: TermTable.prefix(p, n))
    }
}
