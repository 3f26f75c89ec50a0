import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The memory a training run needs, estimated before anything is fitted, and the memory this process may
/// use; `train` refuses a problem that cannot fit instead of allocating until the system kills it. The
/// usual cause of an absurd problem is an id passed as a label: a class per posting makes every weight
/// matrix `features × postings`.
package enum TrainingMemory {
    /// What training a problem is estimated to need.
    package struct Estimate: Sendable, Equatable {
        /// Peak bytes (postings, feature matrices, and the models of the head being fitted plus those before it).
        package var bytes: UInt64
        /// Postings.
        package var rows: Int
        /// Features, estimated from a sample of the postings.
        package var features: Int
        /// Per head: name, classes and labeled rows.
        package var heads: [(name: String, classes: Int, labeledRows: Int)]

        package static func == (a: Estimate, b: Estimate) -> Bool {
            a.bytes == b.bytes && a.rows == b.rows && a.features == b.features
                && a.heads.elementsEqual(b.heads) { $0.name == $1.name && $0.classes == $1.classes && $0.labeledRows == $1.labeledRows }
        }
    }

    /// Postings whose terms are counted to estimate the feature count.
    package static let sampleSize = 2048
    /// What the process takes besides the data: runtime and libraries, thread stacks and the allocator's
    /// per-thread arenas (address space, which `ulimit -v` counts; a Swift process needs about 100 MB of it).
    package static let processBytes: UInt64 = 128 << 20

    /// True when a head's labels look like ids: about as many classes as labeled rows.
    package static func looksLikeAnID(classes: Int, labeledRows: Int) -> Bool {
        classes >= 20 && Double(classes) >= 0.5 * Double(labeledRows)
    }

    /// Run at the start of training: refuses settings no bundle may hold (the loader's rules,
    /// `ManifestValidation`) and a problem estimated to need more memory than `limit` bytes (nil: what this
    /// process may use, `available()`). Nothing large is allocated.
    package static func preflight(_ config: TrainingConfig, postings: [Posting], limit: UInt64? = nil) throws {
        try ManifestValidation.validate(config)
        guard !postings.isEmpty else { return }
        let e = estimate(config, postings: postings)
        let available = limit ?? available()
        guard e.bytes > available else { return }
        let largest = e.heads.max { $0.classes < $1.classes } ?? (name: "", classes: 0, labeledRows: 0)
        throw JobLabelError.trainingTooLarge(neededBytes: e.bytes, availableBytes: available, rows: e.rows, features: e.features,
                                             head: largest.name, classes: largest.classes, labeledRows: largest.labeledRows)
    }

    /// The peak memory of training `config` on `postings`, counting only what fitting cannot do without, so
    /// that a refusal means the problem does not fit (8,000 postings with a class each: estimated 1.4 GB; the
    /// run peaked at 1.29 GB resident, and aborted under an address-space limit of 1.4 GB). Features are estimated from up to `sampleSize`
    /// postings spread over the input: the terms kept by the document-frequency bounds within the sample (a
    /// lower bound for a larger corpus, which has more terms), capped by `max_features`, with as many
    /// features per posting as in the sample. Per head, with `P = features × classes` parameters: Naive
    /// Bayes' counts (doubles) and weights, 12 P bytes; logistic regression's parameters, the 5 L-BFGS
    /// vectors, two history slots (bfloat16 pairs, allocated as iterations go), the weights it returns and
    /// the Naive Bayes model kept meanwhile (4 P each), plus the padded effective weights and per-row
    /// scores; the training-set scoring of all three algorithms (Float, 12 bytes per labeled row and class)
    /// beside the head's two models. Earlier heads' models (8 P each) stay in memory.
    package static func estimate(_ config: TrainingConfig, postings: [Posting]) -> Estimate {
        let n = postings.count
        // Classes and labeled rows per head.
        var heads: [(name: String, classes: Int, labeledRows: Int)] = []
        for (h, name) in config.heads.enumerated() {
            var labels = Set<String>()
            var labeled = 0
            for p in postings where h < p.labels.count {
                if let l = p.labels[h] { labels.insert(l); labeled += 1 }
            }
            heads.append((name, labels.count, labeled))
        }
        let (features, nnzPerRow) = sampleFeatures(config.vectorizer, postings: postings)
        var postingBytes: UInt64 = 0
        for p in postings { postingBytes &+= UInt64(p.text.count + p.title.count + p.id.utf8.count + 96) }
        let v = UInt64(features), rows = UInt64(n)
        let nnz = UInt64((nnzPerRow * Double(n)).rounded(.up))
        let matrix = nnz * 8 + (rows + 1) * 8           // CSR: column and value per entry, row offsets
        // The process, the postings, x and its transpose (or x's column tiles); vocabulary, idf and column weights.
        let base = processBytes + postingBytes + 2 * matrix + v * 16
        var kept: UInt64 = 0
        var peak = base
        for head in heads {
            let k = UInt64(head.classes), kp = (k + 7) / 8 * 8
            let (p, overflow) = v.multipliedReportingOverflow(by: k)
            let (scores, overflow2) = UInt64(head.labeledRows).multipliedReportingOverflow(by: k)
            guard !overflow, !overflow2, p < UInt64.max / 64, scores < UInt64.max / 64 else {
                return Estimate(bytes: .max, rows: n, features: features, heads: heads)
            }
            let naiveBayes = 12 * p
            let logistic = 4 * p * 10 + 4 * v * kp + 4 * rows * kp
            let scoring = 8 * p + 12 * scores
            let (total, o1) = base.addingReportingOverflow(kept)
            let (withHead, o2) = total.addingReportingOverflow(max(naiveBayes, logistic, scoring))
            if o1 || o2 { return Estimate(bytes: .max, rows: n, features: features, heads: heads) }
            peak = max(peak, withHead)
            kept &+= 8 * p
        }
        return Estimate(bytes: peak, rows: n, features: features, heads: heads)
    }

    /// Features kept by the document-frequency bounds among up to `sampleSize` postings spread evenly over
    /// `postings` (capped by `max_features`), and the mean number of kept features per sampled posting.
    static func sampleFeatures(_ config: VectorizerConfig, postings: [Posting]) -> (features: Int, perRow: Double) {
        let n = postings.count
        let s = min(n, sampleSize)
        guard s > 0 else { return (0, 0) }
        var walker = TermWalker(config)
        var table = TermTable(capacity: 4096)
        var df: [Int32] = []
        var lastDocument: [Int32] = []
        var documentTerms: [[Int32]] = []
        documentTerms.reserveCapacity(s)
        for j in 0..<s {
            let i = s == n ? j : Int((Double(j) + 0.5) * Double(n) / Double(s))
            var terms: [Int32] = []
            walker.forEachTermRun(postings[min(i, n - 1)]) { base, starts, ends, count in
                for t in 0..<count {
                    let id = table.intern(base + starts[t], ends[t] - starts[t])
                    if Int(id) >= df.count {
                        df.append(0)
                        lastDocument.append(-1)
                    }
                    if lastDocument[Int(id)] != Int32(j) {
                        lastDocument[Int(id)] = Int32(j)
                        df[Int(id)] += 1
                        terms.append(id)
                    }
                }
            }
            documentTerms.append(terms)
        }
        let minDocs = config.minDF.documents(of: s), maxDocs = config.maxDF.documents(of: s)
        let keep = df.map { Double($0) >= minDocs && Double($0) <= maxDocs }
        var features = keep.filter { $0 }.count
        if let limit = config.maxFeatures { features = min(features, limit) }
        let entries = documentTerms.reduce(0) { sum, terms in sum + terms.filter { keep[Int($0)] }.count }
        return (features, Double(entries) / Double(s))
    }

    /// The memory this process may use: the least of physical memory, the address-space and data-segment
    /// limits (`ulimit -v`, `ulimit -d`), and the memory limit of its cgroup (v2 `memory.max`, v1
    /// `memory.limit_in_bytes`).
    package static func available() -> UInt64 {
        var limit = ProcessInfo.processInfo.physicalMemory
        #if os(Linux)
        for resource in [RLIMIT_AS, RLIMIT_DATA] {
            var r = rlimit()
            if getrlimit(__rlimit_resource_t(resource.rawValue), &r) == 0 && r.rlim_cur != rlim_t.max {
                limit = min(limit, UInt64(r.rlim_cur))
            }
        }
        for path in cgroupLimitFiles() {
            if let text = readSmallFile(path), let value = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                limit = min(limit, value)
            }
        }
        #else
        var r = rlimit()
        if getrlimit(RLIMIT_AS, &r) == 0 && r.rlim_cur != rlim_t.max { limit = min(limit, UInt64(r.rlim_cur)) }
        #endif
        return limit
    }

    /// The files that may hold this process's cgroup memory limit.
    private static func cgroupLimitFiles() -> [String] {
        var files = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
        for line in (readSmallFile("/proc/self/cgroup") ?? "").split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, parts[2].hasPrefix("/"), parts[2] != "/", !parts[2].contains("..") else { continue }
            if parts[0] == "0" && parts[1].isEmpty { files.append("/sys/fs/cgroup\(parts[2])/memory.max") }
            if parts[1].split(separator: ",").contains("memory") { files.append("/sys/fs/cgroup/memory\(parts[2])/memory.limit_in_bytes") }
        }
        return files
    }

    /// The first 4 KB of a small system file (its reported size is often 0), or nil.
    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var done = 0
        while done < buffer.count {
            let r = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { break }
            done += r
        }
        return String(decoding: buffer[..<done], as: UTF8.self)
    }
}
