// swift-tools-version:6.0
import PackageDescription
#if os(Linux)
import Foundation
#endif

/// Code generation for the build machine's CPU, like `-march=native`: on x86-64 Linux machines with
/// AVX2 and FMA the numeric kernels use 256-bit vectors (Swift's default target is SSE2 only). Set
/// JOBLABEL_PORTABLE=1 to build a binary that runs on any x86-64 CPU.
let hostCPUSettings: [SwiftSetting] = {
    #if os(Linux) && arch(x86_64)
    let env = ProcessInfo.processInfo.environment
    if env["JOBLABEL_PORTABLE"] == "1" { return [] }
    guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
    let flags = Set(flagsLine.split(separator: " ").map(String.init))
    guard ["avx", "avx2", "fma", "bmi1", "bmi2", "movbe", "f16c"].allSatisfy(flags.contains) else { return [] }
    // JOBLABEL_SSE42: the CRC-32C of model files uses the crc32 instruction (Support/CRC32C.swift).
    return [.unsafeFlags(["-target-cpu", "haswell"]), .define("JOBLABEL_SSE42")]
    #else
    return []
    #endif
}()

/// Release builds skip the run-time exclusivity checks (`swift_beginAccess`), which cost 5-7 % of the
/// tokenizer and vectorizer loops; debug builds, and so the tests, keep them.
let releaseSettings: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "joblabel",
    products: [
        .library(name: "JobLabel", targets: ["JobLabel"]),
        .executable(name: "joblabel", targets: ["joblabel"]),
    ],
    targets: [
        .target(name: "JobLabel", swiftSettings: hostCPUSettings + releaseSettings),
        // The command line: option tables, output formats, progress display; the executable only calls it.
        .target(name: "JobLabelCLI", dependencies: ["JobLabel"], swiftSettings: hostCPUSettings + releaseSettings),
        .executableTarget(name: "joblabel", dependencies: ["JobLabelCLI"], swiftSettings: hostCPUSettings + releaseSettings),
        .executableTarget(name: "joblabel-bench", dependencies: ["JobLabel"], swiftSettings: hostCPUSettings + releaseSettings),
        // The fuzz targets' entry points; scripts/fuzz links them with Fuzz/FuzzMain.swift into a libFuzzer binary.
        .target(name: "JobLabelFuzz", dependencies: ["JobLabel"], path: "Fuzz", exclude: ["corpus", "FuzzMain.swift"]),
        .testTarget(name: "JobLabelTests", dependencies: ["JobLabel", "JobLabelCLI", "JobLabelFuzz"]),
        // Uses only the public API (plain `import JobLabel`), as a program depending on the library would.
        .testTarget(name: "LibraryUseTests", dependencies: ["JobLabel"]),
    ],
    swiftLanguageModes: [.v5]
)
