// libFuzzer entry point for the JobLabel fuzz targets; compiled together with Sources/JobLabel by
// scripts/fuzz (never part of `swift build`). JOBLABEL_FUZZ_TARGET picks the target: jsonl, csv, model.
#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) private var target: (([UInt8]) -> FuzzEntry.Failure?)?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    if target == nil {
        let name = getenv("JOBLABEL_FUZZ_TARGET").map { String(cString: $0) } ?? ""
        switch name {
        case "jsonl": target = FuzzEntry.jsonl
        case "csv": target = FuzzEntry.csv
        case "model": target = FuzzEntry.model
        default:
            fputs("set JOBLABEL_FUZZ_TARGET to jsonl, csv or model\n", stderr)
            exit(2)
        }
    }
    let bytes = count > 0 && start != nil ? Array(UnsafeBufferPointer(start: start, count: count)) : []
    if let failure = target?(bytes) {
        fputs("fuzz failure: \(failure)\n", stderr)
        abort()
    }
    return 0
}
