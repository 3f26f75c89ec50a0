/// Errors raised by the library; the executable maps each kind to a sysexits-style exit code.
public enum JobLabelError: Error, Equatable, CustomStringConvertible {
    /// The command line is wrong (exit 64).
    case usage(String)
    /// A record or file has bad content (exit 65). `line` is 1-based; 0 when not line-specific.
    case badData(file: String, line: Int, field: String?, message: String)
    /// An input path does not exist or holds nothing usable (exit 66).
    case missingInput(path: String, message: String)
    /// Reading or writing failed at the operating-system level (exit 74).
    case io(path: String, message: String)
    /// A head named in labeling options that the model does not have (exit 64).
    case unknownHead(String, known: [String])
    /// Stored thresholds were asked for, but the model has none (`calibrationAsked`: it was trained with
    /// calibration, yet no head had enough rows) (exit 64).
    case noStoredThresholds(calibrationAsked: Bool)

    /// The sysexits(3) code for this error.
    public var exitCode: Int32 {
        switch self {
        case .usage, .unknownHead, .noStoredThresholds: return 64
        case .badData: return 65
        case .missingInput: return 66
        case .io: return 74
        }
    }

    /// One line for stderr, naming the file, line and field where known.
    public var description: String {
        switch self {
        case .usage(let message):
            return "usage error: \(message)"
        case .badData(let file, let line, let field, let message):
            var location = file == "-" ? "stdin" : file
            if line > 0 { location += ":\(line)" }
            if let field { location += ": field '\(field)'" }
            return "\(location): \(message)"
        case .missingInput(let path, let message):
            return "\(path): \(message)"
        case .io(let path, let message):
            return "\(path): \(message)"
        case .unknownHead(let head, let known):
            return "the model has no head '\(head)' (its heads: \(known.joined(separator: ", ")))"
        case .noStoredThresholds:
            return "this model stores no thresholds"
        }
    }
}
