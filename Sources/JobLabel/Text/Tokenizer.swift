// Unsafe: reads the text and writes tokens through raw pointers, 8 and 32 bytes at a time; the writes stay inside the room `tokenize` reserves in the token list before each segment of its loop.

/// Tokenizer settings: which characters form words and how short a word may be.
public struct TokenizerConfig: Sendable, Equatable, Codable {
    /// Lowercase text before matching words (Unicode full lowercase mapping, as Python's `str.lower`).
    public var lowercase: Bool
    /// Shortest token kept, in Unicode scalars. 2 reproduces scikit-learn's `(?u)\b\w\w+\b`.
    public var minTokenLength: Int

    /// scikit-learn's default: `token_pattern=r"(?u)\b\w\w+\b"`, `lowercase=True`.
    public static let sklearn = TokenizerConfig(lowercase: true, minTokenLength: 2)

    /// Creates a tokenizer configuration.
    public init(lowercase: Bool = true, minTokenLength: Int = 2) {
        self.lowercase = lowercase
        self.minTokenLength = minTokenLength
    }
}

/// Tokens of one text: their lowercased UTF-8 bytes in one buffer, and where each token starts and ends.
/// The buffers grow with the tokens actually written (never zero-filled in advance), so their memory is
/// what the tokens need.
public struct TokenList {
    /// Token bytes (tokens are `starts[i]..<ends[i]`; bytes between tokens are unspecified, and so are the
    /// bytes after `byteCount`).
    public internal(set) var bytes: [UInt8] = []
    /// Start offset of each token in `bytes`; only the first `count` entries are meaningful.
    public internal(set) var starts: [Int] = []
    /// End offset of each token in `bytes`; only the first `count` entries are meaningful.
    public internal(set) var ends: [Int] = []
    /// Number of tokens.
    public private(set) var count = 0
    /// Bytes of `bytes` in use.
    private(set) var byteCount = 0

    /// Creates an empty list.
    public init() {}

    /// Byte range of token `i`.
    @inline(__always) public func range(_ i: Int) -> Range<Int> { starts[i]..<ends[i] }

    /// Token `i` as a String (for tests and messages).
    public func string(_ i: Int) -> String {
        String(decoding: bytes[range(i)], as: UTF8.self)
    }

    /// Removes all tokens, keeping capacity.
    public mutating func removeAll() {
        count = 0
        byteCount = 0
    }

    /// Makes room for `moreBytes` bytes after the first `byteCount` and `moreTokens` tokens after the first
    /// `tokenCount` (the tokenizer's positions, which may be ahead of the committed ones).
    @inline(__always)
    mutating func reserve(moreBytes: Int, moreTokens: Int, byteCount: Int, tokenCount: Int) {
        if bytes.count < byteCount + moreBytes { growUninitialized(&bytes, to: byteCount + moreBytes, keep: byteCount) }
        if ends.count < tokenCount + moreTokens {
            growUninitialized(&starts, to: tokenCount + moreTokens, keep: tokenCount)
            growUninitialized(&ends, to: tokenCount + moreTokens, keep: tokenCount)
        }
    }

    /// Makes room for `moreBytes` bytes and `moreTokens` tokens after the current ones.
    mutating func reserve(moreBytes: Int, moreTokens: Int) {
        reserve(moreBytes: moreBytes, moreTokens: moreTokens, byteCount: byteCount, tokenCount: count)
    }

    /// Appends one term: `prefix` then `body`, with 8 spare bytes after it (so it can be read 8 bytes at a time).
    mutating func appendTerm<C: Collection>(prefix: [UInt8], _ body: C) where C.Element == UInt8 {
        let n = prefix.count + body.count
        reserve(moreBytes: n + 8, moreTokens: 1)
        var w = byteCount
        for b in prefix { bytes[w] = b; w += 1 }
        for b in body { bytes[w] = b; w += 1 }
        for k in 0..<8 { bytes[w + k] = 0 }
        starts[count] = byteCount
        ends[count] = w
        commit(tokens: count + 1, bytes: w)
    }

    /// Sets the counts after writing the buffers directly.
    mutating func commit(tokens: Int, bytes: Int) {
        count = tokens
        byteCount = bytes
    }

    /// Moves the bytes `from..<byteCount` to the front (the tokens are gone: called after they were consumed).
    mutating func moveToFront(from: Int, to end: Int) {
        bytes.withUnsafeMutableBufferPointer { b in
            guard let base = b.baseAddress, end > from else { return }
            (base).update(from: base + from, count: end - from)
        }
    }
}

/// Splits UTF-8 text into word tokens: maximal runs of word characters, where a word character is
/// what Python's `re` calls `\w` in Unicode mode (letters Lu/Ll/Lt/Lm/Lo, characters with a numeric
/// value, and `_`). Text is lowercased first, exactly as scikit-learn does (`str.lower()` then the
/// regex), except that Greek final sigma is not context-sensitive. Invalid UTF-8 counts as a separator.
/// Not thread-safe: use one instance per thread (it caches non-ASCII character data).
public struct Tokenizer {
    /// The configuration in use.
    public let config: TokenizerConfig
    private var cache: [UInt32: ScalarInfo] = [:]

    /// Creates a tokenizer.
    public init(_ config: TokenizerConfig) {
        self.config = config
    }

    /// Lowercased forms of one input scalar: each output scalar's UTF-8 bytes and word-ness.
    private struct ScalarInfo {
        var pieces: [(bytes: [UInt8], isWord: Bool)]
    }

    /// ASCII classes: bit 0 = word character.
    private static let asciiWord: [Bool] = (0..<128).map { b in
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F
    }
    /// `asciiWord` at a fixed address, for the tokenizer loop.
    private static let asciiWordTable = PinnedBuffer(asciiWord)

    /// Python's `\w` for one scalar (Unicode mode): `str.isalnum()` or underscore.
    static func isWordScalar(_ s: Unicode.Scalar) -> Bool {
        if s.value < 128 { return asciiWord[Int(s.value)] }
        let p = s.properties
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return true
        default:
            return p.numericType != nil
        }
    }

    private mutating func info(_ value: UInt32) -> ScalarInfo {
        if let hit = cache[value] { return hit }
        var pieces: [(bytes: [UInt8], isWord: Bool)] = []
        if let scalar = Unicode.Scalar(value) {
            let mapped: [Unicode.Scalar] = config.lowercase
                ? Array(scalar.properties.lowercaseMapping.unicodeScalars) : [scalar]
            for m in mapped {
                pieces.append((Array(String(m).utf8), Tokenizer.isWordScalar(m)))
            }
        } else {
            pieces.append(([0xEF, 0xBF, 0xBD], false))
        }
        let result = ScalarInfo(pieces: pieces)
        cache[value] = result
        return result
    }

    /// Appends the tokens of `text` to `out`.
    public mutating func tokenize(_ text: [UInt8], into out: inout TokenList) {
        text.withUnsafeBufferPointer { tokenize($0, into: &out) }
    }

    /// Input bytes tokenized between two reservations of room in the token list (and, when streaming,
    /// between two hand-overs of the tokens found).
    static let segmentBytes = 16 << 10

    /// Appends the tokens of `text` to `out`.
    public mutating func tokenize(_ text: UnsafeBufferPointer<UInt8>, into out: inout TokenList) {
        tokenize(text, into: &out, stream: false) { _ in }
    }

    /// Appends the tokens of `text` to `out`, a segment of `segmentBytes` input bytes at a time, reserving
    /// room for each segment as it comes (so the list needs the memory its tokens take, not a worst case).
    ///
    /// With `stream`, the tokens are streamed: after each segment but the last, `flush` gets the list with
    /// the tokens completed so far (the ones it already had, then those of `text`), and they are then
    /// removed; a token still open at the segment's end is kept (its bytes moved to the front of the list
    /// when short), so the list holds about one segment's tokens at any time. The tokens left at the end
    /// stay in `out`, as without `stream`.
    ///
    /// ASCII text goes 32 bytes at a time: one vector compare finds the word bytes, the chunk is copied
    /// lowercased, and token boundaries come from the bit mask. Chunks with other bytes go scalar by scalar
    /// (decoding UTF-8, Unicode lowercase mapping and `\w`, Greek final sigma).
    mutating func tokenize(_ text: UnsafeBufferPointer<UInt8>, into out: inout TokenList, stream: Bool, flush: (TokenList) -> Void) {
        let n = text.count
        guard n > 0, let src = text.baseAddress else { return }
        let minLen = config.minTokenLength
        let lower = config.lowercase
        var w = out.byteCount      // write position in out.bytes
        var t = out.count          // tokens so far
        var open = -1              // start (in out.bytes) of the token being built, -1 when none
        var openScalars = 0
        let isWord = Tokenizer.asciiWordTable.base
        var i = 0
        while i < n {
            let stop = min(n, i + Tokenizer.segmentBytes)
            // The segment's loop may run on to 32 bytes past `stop` (a 32-byte step begun before it) plus one
            // scalar (4 bytes); lowercasing grows a scalar's UTF-8 by at most 1.5x (U+0130); the ASCII path
            // writes 32 bytes at a time; tokens are separated, so there is at most one per 2 input bytes; and
            // every token has 8 readable bytes after it.
            let most = stop - i + 36
            out.reserve(moreBytes: most + most / 2 + 72, moreTokens: most / 2 + 2, byteCount: w, tokenCount: t)
            // Three nested scopes rather than `withUnsafeMutablePointers`: through the helper the optimizer
            // leaves this loop in a closure of its own, with its state in memory instead of registers.
            out.bytes.withUnsafeMutableBufferPointer { bytesBuffer in
            out.starts.withUnsafeMutableBufferPointer { startsBuffer in
            out.ends.withUnsafeMutableBufferPointer { endsBuffer in
                let dst = bytesBuffer.baseAddress!, starts = startsBuffer.baseAddress!, ends = endsBuffer.baseAddress!
                /// Closes the open token at `end` if it has `scalars` scalars, enough for `minLen`.
                @inline(__always) func close(_ start: Int, _ end: Int, _ scalars: Int) {
                    if scalars >= minLen {
                        starts[t] = start
                        ends[t] = end
                        t += 1
                    }
                }
                @inline(__always) func closeOpen() {
                    if open >= 0 { close(open, w, openScalars) }
                    open = -1
                    openScalars = 0
                }
                while i < stop {
                    if i + 32 <= n {
                        let raw = UnsafeRawPointer(src + i)
                        let a = raw.loadUnaligned(as: UInt64.self), b = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                        let c = raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self), d = raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
                        if (a | b | c | d) & 0x8080_8080_8080_8080 == 0 {
                            let (wa, ua) = Tokenizer.classifyASCII(a), (wb, ub) = Tokenizer.classifyASCII(b)
                            let (wc, uc) = Tokenizer.classifyASCII(c), (wd, ud) = Tokenizer.classifyASCII(d)
                            let out = UnsafeMutableRawPointer(dst + w)
                            // Setting bit 5 of an upper-case ASCII letter lowercases it.
                            out.storeBytes(of: lower ? a | (ua >> 2) : a, as: UInt64.self)
                            out.storeBytes(of: lower ? b | (ub >> 2) : b, toByteOffset: 8, as: UInt64.self)
                            out.storeBytes(of: lower ? c | (uc >> 2) : c, toByteOffset: 16, as: UInt64.self)
                            out.storeBytes(of: lower ? d | (ud >> 2) : d, toByteOffset: 24, as: UInt64.self)
                            var m = Tokenizer.packHighBits(wa) | Tokenizer.packHighBits(wb) << 8
                                | Tokenizer.packHighBits(wc) << 16 | Tokenizer.packHighBits(wd) << 24
                            if open >= 0 {
                                let lead = (~m).trailingZeroBitCount
                                if lead == 32 {
                                    openScalars += 32
                                    w += 32
                                    i += 32
                                    continue
                                }
                                close(open, w + lead, openScalars + lead)
                                open = -1
                                openScalars = 0
                                m &= ~((UInt32(1) &<< UInt32(truncatingIfNeeded: lead)) &- 1)
                            }
                            while m != 0 {
                                let s = m.trailingZeroBitCount
                                let run = (~(m &>> UInt32(truncatingIfNeeded: s))).trailingZeroBitCount
                                if s + run == 32 {
                                    open = w + s
                                    openScalars = run
                                    break
                                }
                                close(w + s, w + s + run, run)
                                m &= m &+ (m & (0 &- m))  // clear the lowest run of ones
                            }
                            w += 32
                            i += 32
                            continue
                        }
                    }
                    // Scalar path: up to the next 32 bytes (whole scalars).
                    let chunkEnd = min(n, i + 32)
                    while i < chunkEnd {
                        let b = src[i]
                        if b < 0x80 {
                            if isWord[Int(b)] {
                                if open < 0 { open = w }
                                dst[w] = lower && b &- 0x41 < 26 ? b | 0x20 : b
                                w += 1
                                openScalars += 1
                            } else {
                                closeOpen()
                            }
                            i += 1
                            continue
                        }
                        // Decode one multi-byte scalar; invalid sequences decode as U+FFFD and advance one byte.
                        var value: UInt32 = 0xFFFD
                        var len = 1
                        if b >= 0xC2 && b <= 0xDF, i + 1 < n, src[i + 1] & 0xC0 == 0x80 {
                            value = UInt32(b & 0x1F) << 6 | UInt32(src[i + 1] & 0x3F); len = 2
                        } else if b >= 0xE0 && b <= 0xEF, i + 2 < n, src[i + 1] & 0xC0 == 0x80, src[i + 2] & 0xC0 == 0x80 {
                            let v = UInt32(b & 0x0F) << 12 | UInt32(src[i + 1] & 0x3F) << 6 | UInt32(src[i + 2] & 0x3F)
                            if v >= 0x800 && !(v >= 0xD800 && v <= 0xDFFF) { value = v; len = 3 }
                        } else if b >= 0xF0 && b <= 0xF4, i + 3 < n, src[i + 1] & 0xC0 == 0x80,
                                  src[i + 2] & 0xC0 == 0x80, src[i + 3] & 0xC0 == 0x80 {
                            let v = UInt32(b & 0x07) << 18 | UInt32(src[i + 1] & 0x3F) << 12
                                | UInt32(src[i + 2] & 0x3F) << 6 | UInt32(src[i + 3] & 0x3F)
                            if v >= 0x10000 && v <= 0x10FFFF { value = v; len = 4 }
                        }
                        if value == 0x3A3 && lower {
                            // Greek capital sigma lowercases to final ς at the end of a word (Python's Final_Sigma rule).
                            let final = Tokenizer.isFinalSigma(text, start: i, end: i + len)
                            i += len
                            if open < 0 { open = w }
                            dst[w] = 0xCF
                            dst[w + 1] = final ? 0x82 : 0x83
                            w += 2
                            openScalars += 1
                            continue
                        }
                        i += len
                        let scalarInfo = info(value)
                        for piece in scalarInfo.pieces {
                            if piece.isWord {
                                if open < 0 { open = w }
                                for byte in piece.bytes { dst[w] = byte; w += 1 }
                                openScalars += 1
                            } else {
                                closeOpen()
                            }
                        }
                    }
                }
                if i >= n { closeOpen() }
            }
            }
            }
            if stream && i < n {
                out.commit(tokens: t, bytes: w)
                flush(out)
                t = 0
                if open < 0 {
                    w = 0
                } else if w - open <= Tokenizer.segmentBytes {
                    out.moveToFront(from: open, to: w)
                    w -= open
                    open = 0
                }
                // (A longer open token stays where it is, rather than being moved again after every segment.)
            }
        }
        out.commit(tokens: t, bytes: w)
    }

    /// For 8 ASCII bytes (SWAR): the high bit of each byte that is a word character (`[0-9A-Za-z_]`), and
    /// the high bit of each upper-case letter.
    @inline(__always)
    static func classifyASCII(_ x: UInt64) -> (word: UInt64, upper: UInt64) {
        @inline(__always) func inRange(_ x: UInt64, _ lo: UInt64, _ hi: UInt64) -> UInt64 {
            // Byte-wise lo <= b <= hi for bytes below 0x80 (no carries cross bytes).
            let ones: UInt64 = 0x0101_0101_0101_0101
            return (x &+ ones &* (0x80 &- lo)) & ~(x &+ ones &* (0x7F &- hi)) & 0x8080_8080_8080_8080
        }
        let digit = inRange(x, 0x30, 0x39)
        let alpha = inRange(x | 0x2020_2020_2020_2020, 0x61, 0x7A)
        let t = x ^ 0x5F5F_5F5F_5F5F_5F5F
        let underscore = ~((t &+ 0x7F7F_7F7F_7F7F_7F7F) | t) & 0x8080_8080_8080_8080
        return (digit | alpha | underscore, inRange(x, 0x41, 0x5A))
    }

    /// The high bits of the 8 bytes of `x`, packed into 8 bits (byte i -> bit i).
    @inline(__always)
    static func packHighBits(_ x: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: ((x >> 7) &* 0x0102_0408_1020_4080) >> 56)
    }

    /// Unicode's Final_Sigma context for the Σ at `start..<end`: a cased letter before it and none after
    /// it, skipping case-ignorable characters on both sides (as Python's `str.lower`).
    static func isFinalSigma(_ text: UnsafeBufferPointer<UInt8>, start: Int, end: Int) -> Bool {
        // Backwards: the nearest scalar that is not case-ignorable must be cased.
        var j = start
        var before = false
        while j > 0 {
            var k = j - 1
            while k > 0 && text[k] & 0xC0 == 0x80 && j - k < 4 { k -= 1 }
            let s = decodeScalar(text, k).scalar
            j = k
            if s.properties.isCaseIgnorable { continue }
            before = s.properties.isCased
            break
        }
        guard before else { return false }
        // Forwards: the nearest scalar that is not case-ignorable must not be cased.
        var f = end
        while f < text.count {
            let (s, len) = decodeScalar(text, f)
            f += len
            if s.properties.isCaseIgnorable { continue }
            return !s.properties.isCased
        }
        return true
    }

    /// Decodes the scalar at `i` (U+FFFD and length 1 for an invalid sequence).
    static func decodeScalar(_ text: UnsafeBufferPointer<UInt8>, _ i: Int) -> (scalar: Unicode.Scalar, length: Int) {
        var iterator = text[i..<min(text.count, i + 4)].makeIterator()
        var decoder = UTF8()
        if case .scalarValue(let s) = decoder.decode(&iterator) {
            return (s, String(s).utf8.count)
        }
        return ("\u{FFFD}", 1)
    }

    /// Convenience for tests: the tokens of a string.
    public mutating func tokens(_ text: String) -> [String] {
        var list = TokenList()
        tokenize(Array(text.utf8), into: &list)
        return (0..<list.count).map { list.string($0) }
    }
}
