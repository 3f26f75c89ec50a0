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
    /// `ManifestValidation`) and a problem estimated to need more memory than this process may use
    /// (`limits()`, or `limit` bytes of memory for tests). Nothing large is allocated. When even a bound on
    /// the features (every token a feature) fits, the postings are not sampled (20 Newsgroups' two heads:
    /// under 10 ms).
    package static func preflight(_ config: TrainingConfig, postings: [Posting], limit: UInt64? = nil) throws {
        try ManifestValidation.validate(config)
        guard !postings.isEmpty else { return }
        let limits = limit.map { Limits(memory: $0, addressSpace: nil) } ?? self.limits()
        let shape = Shape(config, postings: postings)
        if limits.admit(memory(config, shape, features: shape.featureBound, perRow: shape.tokensPerRow).bytes) == nil { return }
        let e = estimate(config, shape: shape, postings: postings)
        guard let (needed, available) = limits.admit(e.bytes) else { return }
        let largest = e.heads.max { $0.classes < $1.classes } ?? (name: "", classes: 0, labeledRows: 0)
        throw JobLabelError.trainingTooLarge(neededBytes: needed, availableBytes: available, rows: e.rows, features: e.features,
                                             head: largest.name, classes: largest.classes, labeledRows: largest.labeledRows)
    }

    /// The memory this process may use, and the address space when it is limited (`ulimit -v`, `-d`).
    package struct Limits: Sendable, Equatable {
        /// Physical memory, or the cgroup's limit when lower.
        package var memory: UInt64
        /// The address-space or data-segment limit, when one is set.
        package var addressSpace: UInt64?

        /// Nil when `bytes` (an `estimate`) fits; otherwise what is needed and what there is, in the terms of
        /// the limit it exceeds. Address space is reserved, not only used: the allocator's thread arenas take
        /// 64 MB each, and freed blocks are not all returned, so a quarter more and two arenas are counted
        /// (measured: 2,000 classes over 10,000 postings, estimated 1.04 GB and 1.0 GB resident, aborted
        /// under `ulimit -v` 1.3 GB and trained under 2 GB; the address space asked for is 1.43 GB).
        package func admit(_ bytes: UInt64) -> (needed: UInt64, available: UInt64)? {
            if bytes > memory { return (bytes, memory) }
            guard let addressSpace else { return nil }
            let (scaled, overflow) = (bytes / 4 * 5).addingReportingOverflow(128 << 20)
            return overflow || scaled > addressSpace ? (overflow ? .max : scaled, addressSpace) : nil
        }
    }

    /// What the estimate needs of the postings besides their terms: rows, bytes, classes per head, and a
    /// bound on the features (every token a distinct feature).
    struct Shape {
        var rows: Int
        var postingBytes: UInt64 = 0
        var heads: [(name: String, classes: Int, labeledRows: Int)] = []
        /// At most this many features: tokens are separated, so a field of b bytes has at most (b + 1) / 2,
        /// each of them n-grams; a term must be in `min_df` documents; cue features are few.
        var featureBound: Int
        /// At most this many features per posting (every token distinct).
        var tokensPerRow: Double

        init(_ config: TrainingConfig, postings: [Posting]) {
            rows = postings.count
            var tokens = 0
            for p in postings {
                postingBytes &+= UInt64(p.text.count + p.title.count + p.id.utf8.count + 96)
                tokens &+= (p.text.count + 1) / 2 + (p.title.count + 1) / 2
            }
            for (h, name) in config.heads.enumerated() {
                var labels = Set<String>()
                var labeled = 0
                for p in postings where h < p.labels.count {
                    if let l = p.labels[h] { labels.insert(l); labeled += 1 }
                }
                heads.append((name, labels.count, labeled))
            }
            let grams = max(1, config.vectorizer.ngrams)
            let minDocs = max(1, Int(config.vectorizer.minDF.documents(of: rows).rounded(.up)))
            var bound = tokens / minDocs * grams + 64
            if let limit = config.vectorizer.maxFeatures { bound = min(bound, limit) }
            featureBound = bound
            tokensPerRow = Double(tokens * grams + 64 * rows) / Double(max(1, rows))
        }
    }

    /// The peak memory fitting allocates when training `config` on `postings`. Features as `sampleFeatures`
    /// estimates them (20 Newsgroups' 11,314 postings: 61,291 for 58,248), with as many per posting as in
    /// the sample. Per head, with `P = features × classes` parameters: Naive Bayes' counts (doubles) and
    /// weights, 12 P bytes; logistic regression's trust-region Newton vectors (parameters, gradient, trial
    /// point and its gradient, step, residual, preconditioner: 7 P floats), the weights it returns
    /// and the Naive Bayes model kept meanwhile (4 P each; with calibration also the held-out NB and LR),
    /// plus the padded effective weights and per-row scores; the training-set scoring of all three
    /// algorithms (Float, 12 bytes per labeled row and class) beside the head's two models. Earlier heads'
    /// models (8 P each) stay in memory. Measured on 20 Newsgroups (11,314 postings, 58,248 features):
    /// with 566 classes estimated 3.26 GB, peak 2.5 GB resident; with 5,657 classes 28.2 GB and 11.4 GB;
    /// with a class per posting 56.2 GB and 14.2 GB (357 s). These figures were measured with the
    /// earlier L-BFGS solver (its history made the estimate larger; a class per posting now estimates 28.4 GB); 8,000 postings with a class
    /// each: 2.31 GB estimated, 1.29 GB resident, aborting under `ulimit -v` 1.4 GB.
    package static func estimate(_ config: TrainingConfig, postings: [Posting]) -> Estimate {
        estimate(config, shape: Shape(config, postings: postings), postings: postings)
    }

    static func estimate(_ config: TrainingConfig, shape: Shape, postings: [Posting]) -> Estimate {
        let (features, perRow) = sampleFeatures(config.vectorizer, postings: postings)
        return memory(config, shape, features: features, perRow: perRow)
    }

    /// The peak memory for `features` features, `perRow` of them in each posting (see `estimate`).
    static func memory(_ config: TrainingConfig, _ shape: Shape, features: Int, perRow: Double) -> Estimate {
        let n = shape.rows, heads = shape.heads
        let tooMuch = Estimate(bytes: .max, rows: n, features: features, heads: heads)
        let v = UInt64(max(0, features)), rows = UInt64(n)
        let nnz = perRow * Double(n)
        guard nnz < 1e15, v < 1 << 40 else { return tooMuch }
        let matrix = UInt64(nnz.rounded(.up)) * 8 + (rows + 1) * 8   // CSR: column and value per entry, row offsets
        // The process, the postings, x and its transpose (or x's column tiles); vocabulary, idf and column weights.
        let base = processBytes + shape.postingBytes + 2 * matrix + v * 16
        let calibrating = config.calibration.method == .temperature
        var kept: UInt64 = 0
        var peak = base
        for head in heads {
            let k = UInt64(head.classes), kp = max(8, (k + 7) / 8 * 8)
            let (p, overflow) = v.multipliedReportingOverflow(by: k)
            let (scores, overflow2) = UInt64(head.labeledRows).multipliedReportingOverflow(by: k)
            guard !overflow, !overflow2, p < UInt64.max / 8192, scores < UInt64.max / 64, rows < UInt64.max / 8 / kp else { return tooMuch }
            let naiveBayes = 12 * p
            let calibrated = calibrating && Double(head.labeledRows) * config.calibration.heldOutFraction >= Double(TemperatureScaling.minimumHeldOutRows)
                && Double(head.classes) < Double(head.labeledRows) * config.calibration.heldOutFraction
            let vectors: UInt64 = 7 + 2 + (calibrated ? 2 : 0)
            let logistic = 4 * p * vectors + 4 * v * kp + 4 * rows * kp
            let scoring = 8 * p + 12 * scores
            let (total, o1) = base.addingReportingOverflow(kept)
            let (withHead, o2) = total.addingReportingOverflow(max(naiveBayes, logistic, scoring))
            if o1 || o2 { return tooMuch }
            peak = max(peak, withHead)
            kept &+= 8 * p
        }
        return Estimate(bytes: peak, rows: n, features: features, heads: heads)
    }

    /// The features `postings` will have, estimated from up to `sampleSize` postings spread evenly over them:
    /// the terms the document-frequency bounds keep within the sample, and within about half of it; the growth between the two (Heaps' law, `V ∝ n^β`) extrapolated to all postings (exact when
    /// every posting is sampled), capped by `max_features`. Also the mean number of kept features per
    /// sampled posting.
    static func sampleFeatures(_ config: VectorizerConfig, postings: [Posting]) -> (features: Int, perRow: Double) {
        let n = postings.count
        let s = min(n, sampleSize)
        guard s > 0 else { return (0, 0) }
        var walker = TermWalker(config)
        var table = TermTable(capacity: 4096)
        var df: [Int32] = [], halfDF: [Int32] = []
        var lastDocument: [Int32] = []
        var halfCount = 0
        var documentTerms: [[Int32]] = []
        documentTerms.reserveCapacity(s)
        for j in 0..<s {
            let i = s == n ? j : min(n - 1, Int((Double(j) + 0.5) * Double(n) / Double(s)))
            // About half of the sample, picked by a hash of the position (not every other posting, which
            // can follow a pattern in the data).
            let inHalf = (UInt64(j) &* 0x9E37_79B9_7F4A_7C15) >> 63 == 1
            if inHalf { halfCount += 1 }
            var terms: [Int32] = []
            walker.forEachTermRun(postings[i]) { base, starts, ends, count in
                for t in 0..<count {
                    let id = Int(table.intern(base + starts[t], ends[t] - starts[t]))
                    if id >= df.count {
                        df.append(0)
                        halfDF.append(0)
                        lastDocument.append(-1)
                    }
                    if lastDocument[id] != Int32(j) {
                        lastDocument[id] = Int32(j)
                        df[id] += 1
                        if inHalf { halfDF[id] += 1 }
                        terms.append(Int32(id))
                    }
                }
            }
            documentTerms.append(terms)
        }
        func kept(_ df: [Int32], documents: Int) -> [Bool] {
            let minDocs = config.minDF.documents(of: documents), maxDocs = config.maxDF.documents(of: documents)
            return df.map { $0 > 0 && Double($0) >= minDocs && Double($0) <= maxDocs }
        }
        let keep = kept(df, documents: s)
        let inSample = keep.filter { $0 }.count
        var features = Double(inSample)
        if s < n && halfCount > 0 && halfCount < s {
            let inHalf = kept(halfDF, documents: halfCount).filter { $0 }.count
            let beta = inHalf > 0 && inSample > inHalf ? min(1, log(Double(inSample) / Double(inHalf)) / log(Double(s) / Double(halfCount))) : 0
            features *= pow(Double(n) / Double(s), beta)
        }
        if let limit = config.maxFeatures { features = min(features, Double(limit)) }
        let entries = documentTerms.reduce(0) { sum, terms in sum + terms.filter { keep[Int($0)] }.count }
        return (Int(features.rounded()), Double(entries) / Double(s))
    }

    /// The memory this process may use: the least of physical memory, the address-space and data-segment
    /// limits (`ulimit -v`, `ulimit -d`), and the memory limit of its cgroup (v2 `memory.max`, v1
    /// `memory.limit_in_bytes`).
    package static func available() -> UInt64 {
        let l = limits()
        return min(l.memory, l.addressSpace ?? .max)
    }

    /// Physical memory (or the cgroup's limit) and the address-space limit.
    package static func limits() -> Limits {
        var memory = ProcessInfo.processInfo.physicalMemory
        var addressSpace: UInt64?
        #if os(Linux)
        for resource in [RLIMIT_AS, RLIMIT_DATA] {
            var r = rlimit()
            if getrlimit(__rlimit_resource_t(resource.rawValue), &r) == 0 && r.rlim_cur != rlim_t.max {
                addressSpace = min(addressSpace ?? .max, UInt64(r.rlim_cur))
            }
        }
        for path in cgroupLimitFiles() {
            if let text = readSmallFile(path), let value = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                memory = min(memory, value)
            }
        }
        #else
        var r = rlimit()
        if getrlimit(RLIMIT_AS, &r) == 0 && r.rlim_cur != rlim_t.max { addressSpace = UInt64(r.rlim_cur) }
        #endif
        return Limits(memory: memory, addressSpace: addressSpace)
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
