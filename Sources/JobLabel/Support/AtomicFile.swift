import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a whole file atomically: a temporary file beside `path` is written and fsynced, then renamed over
/// `path`, so readers see the old file or the new one, never a part. Errors are `JobLabelError.io` naming `path`.
public func writeFileAtomically(_ path: String, _ bytes: [UInt8]) throws {
    let url = URL(fileURLWithPath: path).standardizedFileURL
    let parent = url.deletingLastPathComponent().path
    try checkWritableFileTarget(path)
    let temp = parent + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    do {
        try writeFile(temp, bytes)
    } catch let JobLabelError.io(_, message) {
        unlink(temp)
        throw JobLabelError.io(path: path, message: "cannot write (\(message))")
    }
    guard rename(temp, url.path) == 0 else {
        let err = errno
        unlink(temp)
        throw JobLabelError.io(path: path, message: "cannot move the new file into place: \(String(cString: strerror(err)))")
    }
    try? syncPath(parent)
}

/// Throws unless a file may be written at `path`: its directory exists and `path` is not a directory.
/// Commands call it before doing their work, so a bad output path fails at once.
public func checkWritableFileTarget(_ path: String) throws {
    let url = URL(fileURLWithPath: path).standardizedFileURL
    let parent = url.deletingLastPathComponent().path
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDir), isDir.boolValue else {
        throw JobLabelError.outputParentMissing(path: path, parent: parent)
    }
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue {
        throw JobLabelError.outputRefused(path: path, reason: .isADirectory)
    }
}
