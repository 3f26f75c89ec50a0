import Foundation

/// Minimal JSON text building for hot output paths (Foundation's encoder is slow on Linux).
public enum JSONText {
    /// Appends `s` as a JSON string literal (quotes included).
    public static func appendString(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { appendString(bytes: $0, to: &out) }  // native strings: no copy
    }

    /// Appends UTF-8 `bytes` as a JSON string literal, escaping quotes, backslashes and control characters.
    public static func appendString(bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        // Most strings (labels, ids, feature names) need no escape: one scan, then one copy.
        if !bytes.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            out.append(0x22)
            out.append(contentsOf: bytes)
            out.append(0x22)
            return
        }
        appendEscaped(bytes, to: &out)
    }

    /// Appends UTF-8 `bytes` as a JSON string literal, escaping quotes, backslashes and control characters.
    public static func appendString<C: Collection>(bytes: C, to out: inout [UInt8]) where C.Element == UInt8 {
        if let done: Void = bytes.withContiguousStorageIfAvailable({ appendString(bytes: $0, to: &out) }) { return done }
        appendEscaped(bytes, to: &out)
    }

    private static func appendEscaped<C: Collection>(_ bytes: C, to out: inout [UInt8]) where C.Element == UInt8 {
        out.append(0x22)
        for b in bytes {
            switch b {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x09: out.append(0x5C); out.append(0x74)
            case 0..<0x20:
                let hexDigits = Array("0123456789abcdef".utf8)
                out += [0x5C, 0x75, 0x30, 0x30, hexDigits[Int(b >> 4)], hexDigits[Int(b & 15)]]
            default: out.append(b)
            }
        }
        out.append(0x22)
    }

    /// Appends a probability in [0, 1] with four decimals ("0.9132", "1.0000").
    public static func appendProbability(_ p: Float, to out: inout [UInt8]) {
        let clamped = p.isNaN ? 0 : min(max(p, 0), 1)
        let scaled = Int((Double(clamped) * 10000).rounded())
        out.append(UInt8(ascii: "0") + UInt8(scaled / 10000))
        out.append(UInt8(ascii: "."))
        let frac = scaled % 10000
        out.append(UInt8(ascii: "0") + UInt8(frac / 1000))
        out.append(UInt8(ascii: "0") + UInt8(frac / 100 % 10))
        out.append(UInt8(ascii: "0") + UInt8(frac / 10 % 10))
        out.append(UInt8(ascii: "0") + UInt8(frac % 10))
    }

    /// A Double as JSON (non-finite values become null).
    public static func number(_ x: Double, digits: Int = 6) -> String {
        guard x.isFinite else { return "null" }
        var s = String(format: "%.\(digits)f", x)
        while s.contains(".") && s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    /// `s` as a JSON string literal.
    public static func quoted(_ s: String) -> String {
        var out: [UInt8] = []
        appendString(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
