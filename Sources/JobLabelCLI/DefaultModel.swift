import Foundation
import JobLabel

/// Finds the shipped corpus: $JOBLABEL_CORPUS, else `corpus` two levels above the default model's directory
/// (the repository's `corpus/` beside `Models/default`, or `share/joblabel/corpus` when installed).
func defaultCorpusPath() throws -> String {
    if let env = ProcessInfo.processInfo.environment["JOBLABEL_CORPUS"], !env.isEmpty { return env }
    let model = URL(fileURLWithPath: try defaultModelPath()).standardizedFileURL
    let corpus = model.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("corpus").path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: corpus, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw CommandFailure("\(corpus): the shipped corpus is not here (looked beside the default model \(model.path)); set JOBLABEL_CORPUS to its directory", exitCode: 66)
    }
    return corpus
}

/// Finds the shipped default model: $JOBLABEL_MODEL, then Models/default (or share/joblabel/Models/default)
/// in the nearest ancestor of the executable's directory, then ./Models/default.
func defaultModelPath() throws -> String {
    if let env = ProcessInfo.processInfo.environment["JOBLABEL_MODEL"], !env.isEmpty { return env }
    let fm = FileManager.default
    var exe = (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    if !exe.hasPrefix("/") { exe = fm.currentDirectoryPath + "/" + exe }
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent().standardizedFileURL
    for _ in 0..<8 {
        for candidate in ["Models/default", "share/joblabel/Models/default"] {
            let path = dir.appendingPathComponent(candidate).path
            if fm.fileExists(atPath: path + "/manifest.json") { return path }
        }
        let parent = dir.deletingLastPathComponent()
        if parent.path == dir.path { break }
        dir = parent
    }
    let local = fm.currentDirectoryPath + "/Models/default"
    if fm.fileExists(atPath: local + "/manifest.json") { return local }
    throw CommandFailure("Models/default: no default model found; pass --model DIR or set JOBLABEL_MODEL (searched beside the executable and in ./Models/default)", exitCode: 66)
}
