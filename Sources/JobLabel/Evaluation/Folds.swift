/// Cross-validation folds that keep reposts of one ad together.
///
/// Job boards repost an ad with small changes; a fold split that puts one copy in training and another in
/// the held-out fold scores the model on postings it has seen. Postings with the same normalised title
/// and the same first 300 characters of normalised text (lowercased, runs of white space as one space,
/// trimmed) form a group, and a group always falls in one fold.
public enum Folds {
    /// Characters of normalised text a group key keeps.
    static let textPrefix = 300

    /// The near-duplicate group of a posting: normalised title, a separator, the first 300 characters of the
    /// normalised text.
    public static func groupKey(_ posting: Posting) -> String {
        normalise(posting.title, limit: nil) + "\u{0}" + normalise(posting.text, limit: textPrefix)
    }

    /// Lowercased, white space collapsed and trimmed; at most `limit` characters.
    static func normalise(_ bytes: [UInt8], limit: Int?) -> String {
        var out = ""
        var pendingSpace = false
        var count = 0
        for ch in String(decoding: bytes, as: UTF8.self).lowercased() {
            if let limit, count >= limit { break }
            if ch.isWhitespace {
                pendingSpace = !out.isEmpty
                continue
            }
            if pendingSpace {
                out.append(" ")
                count += 1
                pendingSpace = false
                if let limit, count >= limit { break }
            }
            out.append(ch)
            count += 1
        }
        return out
    }

    /// Fold (0..<k) per row: rows of a group together; groups stratified by the stratum of their first row
    /// (the first head's label), shuffled with `seed` within each stratum and dealt round-robin, strata in
    /// label order. When every group is a single row this is plain stratified K-fold.
    public static func grouped(strata: [String?], groups: [String], k: Int, seed: UInt64) -> [Int] {
        precondition(strata.count == groups.count)
        // Groups in order of first occurrence, each with its rows.
        var groupIndex: [String: Int] = [:]
        var members: [[Int]] = []
        for (i, key) in groups.enumerated() {
            if let g = groupIndex[key] {
                members[g].append(i)
            } else {
                groupIndex[key] = members.count
                members.append([i])
            }
        }
        var byStratum: [String: [Int]] = [:]
        for (g, rows) in members.enumerated() { byStratum[strata[rows[0]] ?? "\u{0}none", default: []].append(g) }
        var rng = SplitMix64(seed: seed)
        var fold = [Int](repeating: 0, count: strata.count)
        var next = 0
        for key in byStratum.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            var list = byStratum[key] ?? []
            for i in stride(from: list.count - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                list.swapAt(i, j)
            }
            for g in list {
                for r in members[g] { fold[r] = next % k }
                next += 1
            }
        }
        return fold
    }

    /// Grouped, stratified folds of `postings` by the label of head `head` (see `grouped`).
    public static func of(_ postings: [Posting], head: Int, k: Int, seed: UInt64) -> [Int] {
        grouped(strata: postings.map { head < $0.labels.count ? $0.labels[head] : nil }, groups: postings.map(groupKey), k: k, seed: seed)
    }
}
