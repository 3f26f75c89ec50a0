// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "joblabel",
    products: [
        .library(name: "JobLabel", targets: ["JobLabel"]),
        .executable(name: "joblabel", targets: ["joblabel"]),
    ],
    targets: [
        .target(name: "JobLabel"),
        .executableTarget(name: "joblabel", dependencies: ["JobLabel"]),
        .executableTarget(name: "joblabel-bench", dependencies: ["JobLabel"]),
        .testTarget(name: "JobLabelTests", dependencies: ["JobLabel"]),
        // Uses only the public API (plain `import JobLabel`), as a program depending on the library would.
        .testTarget(name: "LibraryUseTests", dependencies: ["JobLabel"]),
    ],
    swiftLanguageModes: [.v5]
)
