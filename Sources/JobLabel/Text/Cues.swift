/// A group of seniority cue features read from a posting (see `CueExtractor`).
public enum CueGroup: String, Sendable, Codable, CaseIterable, Comparable {
    /// Years of experience asked for: `cue:years`, `cue:years>=1` ... `cue:years>=10` (cumulative, from
    /// the largest lower bound stated, "3-5 yrs" -> 3), `cue:years=0` for "no experience required".
    case years
    /// Level words and numerals in the title: `cue:title=intern|junior|associate|senior|manager|director|chief`,
    /// `cue:title=level-1|level-2|level-3+` ("II", "Tier 1"), `cue:title=plain` when the title has none.
    case titleLevel = "title-level"
    /// Level phrases in the text: `cue:text=entry-level|mid-level|senior-level|executive-level|student|graduate|
    /// manages-team|reports-to-executive|p-and-l`.
    case textLevel = "text-level"
    /// Degree asked for: `cue:degree=secondary|bachelor|master|doctorate`.
    case degree

    /// Declaration order.
    public static func < (a: CueGroup, b: CueGroup) -> Bool { a.rank < b.rank }

    private var rank: Int {
        switch self {
        case .years: return 0
        case .titleLevel: return 1
        case .textLevel: return 2
        case .degree: return 3
        }
    }

    /// Parses "all", "none" or a comma-separated list of group names.
    public static func parseList(_ s: String) -> [CueGroup]? {
        if s == "all" { return allCases }
        if s == "none" || s.isEmpty { return [] }
        var out = Set<CueGroup>()
        for part in s.split(separator: ",") {
            guard let g = CueGroup(rawValue: part.trimmingCharacters(in: .whitespaces)) else { return nil }
            out.insert(g)
        }
        return out.sorted()
    }
}

/// Finds seniority cues in tokenized (lowercased) titles and texts and names them as features.
///
/// Cue feature names start with `cue:`, which no token can contain, so they never collide with words.
/// Matching works on token bytes (no `String`s): tokens of up to 16 bytes are looked up in a table of
/// known words; everything else is "other".
public struct CueExtractor: Sendable {
    /// The groups extracted.
    public let groups: [CueGroup]
    private let years: Bool, titleLevel: Bool, textLevel: Bool, degree: Bool

    /// Creates an extractor for `groups`.
    public init(_ groups: [CueGroup]) {
        self.groups = groups
        years = groups.contains(.years)
        titleLevel = groups.contains(.titleLevel)
        textLevel = groups.contains(.textLevel)
        degree = groups.contains(.degree)
    }

    /// Cue feature names (ASCII, without duplicates) for a posting with these title and text tokens.
    public func cues(title: TokenList, text: TokenList) -> [String] {
        cues(title: title, textWords: CueWords(text))
    }

    /// Cue feature names for a posting with these title tokens and text words (see `CueWords`).
    func cues(title: TokenList, textWords t: CueWords) -> [String] {
        var out = [String]()
        if years { yearCues(t, &out) }
        if titleLevel, title.count > 0 { titleCues(CueWords(title), &out) }
        if textLevel { textCues(t, &out) }
        if degree { degreeCues(t, &out) }
        return out
    }

    // MARK: years of experience

    private func yearCues(_ w: CueWords, _ out: inout [String]) {
        var best = -1
        var none = false
        for i in 0..<w.count {
            let k = w[i]
            if k.isYearWord {
                // Numbers just before: "5 years", "3 5 years" (3-5), "3 to 5 years", "5 plus years".
                var low: Int? = nil
                var j = i - 1
                while j >= 0, j >= i - 4 {
                    if let n = w.number(j) { low = min(low ?? n, n) } else if !w[j].isRangeJoiner { break }
                    j -= 1
                }
                guard let n = low, n <= 30 else { continue }
                // Experience context: an experience word near, or "minimum"/"at least" before the number.
                var context = false
                for m in max(0, j - 2)...j + 1 where m >= 0 && m < i && w[m].isMinimum { context = true }
                if !context {
                    for m in max(0, i - 8)..<min(w.count, i + 9) where w[m] == .experience || w[m] == .experienced {
                        context = true
                        break
                    }
                }
                if context { best = max(best, n) }
            } else if k == .experience {
                // "no experience", "no prior experience", "experience not required/necessary".
                if (i >= 1 && w[i - 1] == .no) || (i >= 2 && w[i - 2] == .no && w[i - 1].isPriorWord) { none = true }
                if i + 2 < w.count, w[i + 1] == .not, w[i + 2].isRequiredWord { none = true }
            }
        }
        if best > 0 {
            out.append("cue:years")
            for t in [1, 2, 3, 5, 8, 10] where best >= t { out.append("cue:years>=\(t)") }
        } else if best == 0 || none {
            out.append("cue:years=0")
        }
    }

    // MARK: title level words

    private func titleCues(_ w: CueWords, _ out: inout [String]) {
        var found = Set<String>()
        for i in 0..<w.count {
            let k = w[i]
            let next = w.at(i + 1)
            let prev = w.at(i - 1)
            switch k {
            case .intern, .interns, .internship, .internships, .coop, .placement, .student: found.insert("intern")
            case .co where next == .op: found.insert("intern")
            case .junior, .jr, .graduate, .grad, .trainee, .apprentice, .entry: found.insert("junior")
            case .associate where next != .director && next != .professor: found.insert("associate")
            case .senior, .sr, .snr, .lead, .principal, .expert: found.insert("senior")
            case .staff where prev != .of: found.insert("senior")
            case .manager, .supervisor, .mgr: found.insert("manager")
            case .director, .vp, .svp, .evp, .avp: found.insert("director")
            case .head where next == .of || next == .other: found.insert("director")
            case .vice where next == .president: found.insert("director")
            case .chief, .ceo, .cfo, .cto, .coo, .cio, .cmo, .cpo, .cro, .ciso, .founder, .cofounder:
                found.insert("chief")
            case .president where prev != .vice: found.insert("chief")
            case .managing where next == .director || next == .partner: found.insert("chief")
            case .romanI: found.insert("level-1")
            case .romanII: found.insert("level-2")
            case .romanIII, .romanIV: found.insert("level-3+")
            default:
                // Digits count as levels only after level/tier/grade/band or at the end of the title.
                if let n = w.number(i), n >= 1, n <= 5, prev.isLevelNoun || i == w.count - 1 {
                    found.insert(n == 1 ? "level-1" : n == 2 ? "level-2" : "level-3+")
                }
            }
        }
        if found.isEmpty { found.insert("plain") }
        for f in found.sorted() { out.append("cue:title=" + f) }
    }

    // MARK: level phrases in the text

    private func textCues(_ w: CueWords, _ out: inout [String]) {
        var found = Set<String>()
        for i in 0..<w.count {
            let k = w[i]
            let next = w.at(i + 1)
            let next2 = w.at(i + 2)
            switch k {
            case .entry where next == .level: found.insert("entry-level")
            case .junior where next == .level: found.insert("entry-level")
            case .mid where next == .level || next == .senior || next == .career: found.insert("mid-level")
            case .intermediate where next == .level: found.insert("mid-level")
            case .senior where next == .level || next == .leadership || next == .management: found.insert("senior-level")
            case .executive where next == .level || next == .team || next == .leadership: found.insert("executive-level")
            case .c where next == .suite || next == .level: found.insert("executive-level")
            case .currently where next == .enrolled || next == .pursuing: found.insert("student")
            case .enrolled where next == .inWord: found.insert("student")
            case .undergraduate, .students: found.insert("student")
            case .recent, .new, .fresh:
                if next == .graduates || next == .graduate || next == .grads || next == .grad { found.insert("graduate") }
            case .graduates where next == .welcome: found.insert("graduate")
            case .direct where next == .reports: found.insert("manages-team")
            case .manage, .managing, .lead, .leading, .supervise, .supervising:
                // "manage a team", "lead the team", "managing a team of".
                if next == .team || ((next == .a || next == .the || next == .our) && next2 == .team) {
                    found.insert("manages-team")
                }
            case .people, .line:
                if next == .management { found.insert("manages-team") }
            case .reporting, .report, .reports:
                guard next == .to || next == .directly else { break }
                var j = i + 1
                while j < min(w.count, i + 5) {
                    let x = w[j]
                    if x == .ceo || x == .cfo || x == .cto || x == .coo || x == .president || x == .board
                        || x == .founder || x == .founders || x == .owner || x == .chief || (x == .managing && j + 1 < w.count && w[j + 1] == .director) {
                        found.insert("reports-to-executive")
                        break
                    }
                    j += 1
                }
            case .p where next == .l: found.insert("p-and-l")
            case .pnl: found.insert("p-and-l")
            default: break
            }
        }
        for f in found.sorted() { out.append("cue:text=" + f) }
    }

    // MARK: degrees

    private func degreeCues(_ w: CueWords, _ out: inout [String]) {
        var found = Set<String>()
        for i in 0..<w.count {
            let k = w[i]
            let next = w.at(i + 1)
            switch k {
            case .high where next == .school: found.insert("secondary")
            case .ged, .gcse, .gcses: found.insert("secondary")
            case .bachelor, .bachelors, .bsc, .ba, .bs, .beng, .btech: found.insert("bachelor")
            case .undergraduate where next == .degree: found.insert("bachelor")
            case .b where next == .s || next == .sc || next == .a || next == .tech || next == .e:
                found.insert("bachelor")
            case .university, .college:
                if next == .degree { found.insert("bachelor") }
            case .degree where next == .inWord || next == .required: found.insert("bachelor")
            case .master, .masters, .msc, .mba, .meng: found.insert("master")
            case .phd, .doctorate, .doctoral, .pharmd, .dnp: found.insert("doctorate")
            case .ph where next == .d: found.insert("doctorate")
            default: break
            }
        }
        for f in found.sorted() { out.append("cue:degree=" + f) }
    }
}

/// The known words of a text's tokens, classified once (allocation-free lookup of up to 16-byte tokens): 3
/// bytes per token, so a long text's words can be gathered while its tokens stream past (`append`).
struct CueWords {
    private var kinds: [CueWord] = []
    private var numbers: [Int16] = []

    /// No words.
    init() {}

    /// The words of `tokens`.
    init(_ tokens: TokenList) {
        append(tokens)
    }

    /// Removes every word, keeping capacity.
    mutating func removeAll() {
        kinds.removeAll(keepingCapacity: true)
        numbers.removeAll(keepingCapacity: true)
    }

    /// Appends the words of `tokens` after the ones already here.
    mutating func append(_ tokens: TokenList) {
        let base = kinds.count
        kinds.append(contentsOf: repeatElement(.other, count: tokens.count))
        numbers.append(contentsOf: repeatElement(-1, count: tokens.count))
        tokens.bytes.withUnsafeBufferPointer { b in
            for j in 0..<tokens.count {
                let r = tokens.range(j), i = base + j
                if r.count > 16 { continue }
                // Digits: a number up to 99.
                var value = 0, allDigits = true
                for t in r {
                    let c = b[t]
                    if c >= 0x30 && c <= 0x39 { value = value * 10 + Int(c - 0x30) } else { allDigits = false; break }
                }
                if allDigits, r.count <= 2 { numbers[i] = Int16(value); continue }
                // Most tokens are no cue word: a bit per (length, first byte) rules them out cheaply.
                let first = b[r.lowerBound]
                guard CueWord.mayStart[r.count * 4 + Int(first >> 6)] & (1 << UInt64(first & 63)) != 0 else { continue }
                var key = WordKey()
                for (n, t) in r.enumerated() { key.set(n, b[t]) }
                key.length = UInt8(r.count)
                if let k = CueWord.table[key] {
                    kinds[i] = k
                    if let n = k.numberValue { numbers[i] = Int16(n) }
                }
            }
        }
    }

    var count: Int { kinds.count }
    subscript(i: Int) -> CueWord { kinds[i] }
    /// The word at `i`, or `.other` outside the list.
    func at(_ i: Int) -> CueWord { i >= 0 && i < kinds.count ? kinds[i] : .other }
    /// The number a token spells ("3", "three"), if any.
    func number(_ i: Int) -> Int? { numbers[i] >= 0 ? Int(numbers[i]) : nil }
}

/// Up to 16 token bytes packed into two integers, plus the length.
private struct WordKey: Hashable {
    var lo: UInt64 = 0, hi: UInt64 = 0, length: UInt8 = 0

    mutating func set(_ n: Int, _ byte: UInt8) {
        if n < 8 { lo |= UInt64(byte) << (8 * UInt64(n)) } else { hi |= UInt64(byte) << (8 * UInt64(n - 8)) }
    }

    init() {}

    init(_ s: String) {
        for (n, b) in s.utf8.enumerated() { set(n, b) }
        length = UInt8(s.utf8.count)
    }
}

/// Words the cue rules look at; the raw value is the token (tokens are lowercased).
enum CueWord: String, CaseIterable {
    case other = "\u{0}"
    // numbers spelled out
    case zero, one, two, three, four, five, six, seven, eight, nine, ten, eleven, twelve, fifteen, twenty
    // years of experience
    case years, year, yrs, yr, experience, experienced, minimum, min, least, no, not, prior, previous
    case required, necessary, needed, to, or, plus, and
    // title level words
    case intern, interns, internship, internships, coop, co, op, placement, student, students, working, summer
    case junior, jr, graduate, graduates, grad, grads, trainee, apprentice, entry, level
    case associate, director, professor, senior, sr, snr, lead, principal, staff, expert
    case manager, supervisor, mgr, head, of, vice, president, vp, svp, evp, avp
    case chief, ceo, cfo, cto, coo, cio, cmo, cpo, cro, ciso, founder, cofounder, founders, owner
    case managing, partner, tier, grade, band
    case romanI = "i", romanII = "ii", romanIII = "iii", romanIV = "iv"
    // text level phrases
    case mid, career, intermediate, leadership, management, executive, team, c, suite
    case currently, enrolled, pursuing, inWord = "in", undergraduate, recent, new, fresh, welcome
    case direct, reports, manage, leading, supervise, supervising, a, the, our, people, line
    case reporting, report, directly, board, p, l, pnl
    // degrees
    case high, school, ged, gcse, gcses, bachelor, bachelors, bsc, ba, bs, beng, btech, b, s, sc, tech, e
    case university, college, degree, master, masters, msc, mba, meng, phd, ph, d, doctorate, doctoral, pharmd, dnp

    /// Bit (first byte) of word (length × 4 + first byte / 64) is set when some cue word has that length
    /// and first byte (lengths up to 16).
    static let mayStart: [UInt64] = {
        var bits = [UInt64](repeating: 0, count: 17 * 4)
        for key in table.keys {
            let first = UInt8(truncatingIfNeeded: key.lo)
            bits[Int(key.length) * 4 + Int(first >> 6)] |= 1 << UInt64(first & 63)
        }
        return bits
    }()

    fileprivate static let table: [WordKey: CueWord] = {
        var t = [WordKey: CueWord]()
        for w in allCases where w != .other { t[WordKey(w.rawValue)] = w }
        t[WordKey("co-op")] = .coop
        return t
    }()

    var numberValue: Int? {
        switch self {
        case .zero: return 0
        case .one: return 1
        case .two: return 2
        case .three: return 3
        case .four: return 4
        case .five: return 5
        case .six: return 6
        case .seven: return 7
        case .eight: return 8
        case .nine: return 9
        case .ten: return 10
        case .eleven: return 11
        case .twelve: return 12
        case .fifteen: return 15
        case .twenty: return 20
        default: return nil
        }
    }

    var isYearWord: Bool { self == .years || self == .year || self == .yrs || self == .yr }
    var isRangeJoiner: Bool { self == .to || self == .or || self == .plus || self == .and }
    var isMinimum: Bool { self == .minimum || self == .min || self == .least }
    var isPriorWord: Bool { self == .prior || self == .previous }
    var isRequiredWord: Bool { self == .required || self == .necessary || self == .needed }
    var isLevelNoun: Bool { self == .level || self == .tier || self == .grade || self == .band }
}
