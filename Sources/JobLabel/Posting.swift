/// One posting read from an input: text, optional title, id and one optional label per head.
public struct Posting: Sendable, Equatable {
    /// The id as given (string or number literal), or a synthesized one when absent.
    public var id: String
    /// True when `id` came from a JSON number and should be written back unquoted.
    public var idIsNumber: Bool
    /// UTF-8 bytes of the title; empty when absent or null.
    public var title: [UInt8]
    /// UTF-8 bytes of the body text.
    public var text: [UInt8]
    /// One entry per requested head, in the order of the heads; nil when missing or null.
    public var labels: [String?]
    /// The file the record came from (as given on the command line; "-" for stdin).
    public var file: String
    /// 1-based line where the record starts.
    public var line: Int
    /// The values of the fields to keep (`FieldMapping.keepFields`), in their order; empty when none are kept.
    public var kept: [KeptValue]

    /// Creates a posting.
    public init(id: String, idIsNumber: Bool = false, title: [UInt8] = [], text: [UInt8],
                labels: [String?] = [], file: String = "", line: Int = 0, kept: [KeptValue] = []) {
        self.id = id
        self.idIsNumber = idIsNumber
        self.title = title
        self.text = text
        self.labels = labels
        self.file = file
        self.line = line
        self.kept = kept
    }
}
