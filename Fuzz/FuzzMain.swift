// libFuzzer entry point for the JobLabel fuzz targets; compiled together with Sources/JobLabel by
// scripts/fuzz (never part of `swift build`). JOBLABEL_FUZZ_TARGET picks the target: jsonl, csv, model, manifest.
#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) private var target: (([UInt8]) -> FuzzEntry.Failure?)?

/// Picks the target and builds what it shares across runs (the bundles to edit) before fuzzing starts, so
/// that memory is not counted against the first run by the leak checker.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    let name = getenv("JOBLABEL_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    switch name {
    case "jsonl": target = FuzzEntry.jsonl
    case "csv": target = FuzzEntry.csv
    case "model": target = FuzzEntry.model
    case "manifest": target = FuzzEntry.manifest
    default:
        fputs("set JOBLABEL_FUZZ_TARGET to jsonl, csv, model or manifest\n", stderr)
        exit(2)
    }
    FuzzEntry.prepare()
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = count > 0 && start != nil ? Array(UnsafeBufferPointer(start: start, count: count)) : []
    if let failure = target?(bytes) {
        fputs("fuzz failure: \(failure)\n", stderr)
        abort()
    }
    return 0
}
