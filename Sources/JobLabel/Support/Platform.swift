import Foundation

/// Reads an environment variable.
func getenvString(_ name: String) -> String? {
    ProcessInfo.processInfo.environment[name]
}

/// Processor count without exposing Foundation in signatures.
enum ProcessInfoShim {
    static var activeProcessorCount: Int { ProcessInfo.processInfo.activeProcessorCount }
}

/// Asks Linux to back a large, not yet touched buffer with transparent huge pages (the kernel's "madvise"
/// mode): writing it first then takes one page fault per 2 MiB instead of one per 4 KiB. Only whole 2 MiB
/// pages inside the buffer are affected; buffers under 2 MiB and other systems are left alone.
func adviseHugePages(_ base: UnsafeMutableRawPointer?, bytes: Int) {
    #if os(Linux)
    guard let base, bytes >= 2 << 20 else { return }
    let huge = 2 << 20
    let start = (Int(bitPattern: base) + huge - 1) & ~(huge - 1)
    let end = (Int(bitPattern: base) + bytes) & ~(huge - 1)
    if end > start, let p = UnsafeMutableRawPointer(bitPattern: start) {
        _ = madvise(p, end - start, 14)  // MADV_HUGEPAGE
    }
    #endif
}
