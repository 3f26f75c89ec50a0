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

/// Throws unless the directories missing above `path` can be created: the nearest existing ancestor of its
/// parent is a directory this process may write in. Commands call it before their work when they will
/// create the parents (`createParentDirectories`) only when they write.
public func checkCreatableParent(_ path: String) throws {
    let fm = FileManager.default
    var dir = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent()
    var isDir: ObjCBool = false
    for _ in 0..<4096 {
        if fm.fileExists(atPath: dir.path, isDirectory: &isDir) {
            guard isDir.boolValue else {
                throw JobLabelError.io(path: path, message: "cannot create its directory: \(dir.path) is not a directory")
            }
            if access(dir.path, W_OK) != 0 {
                throw JobLabelError.io(path: path, message: "cannot create its directory in \(dir.path): \(String(cString: strerror(errno)))")
            }
            return
        }
        let parent = dir.deletingLastPathComponent()
        if parent.path == dir.path { return }
        dir = parent
    }
}

/// Creates the missing directories above `path` (as `mkdir -p` on its parent); `.io` when one cannot be.
public func createParentDirectories(of path: String) throws {
    let parent = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent().path
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: parent, isDirectory: &isDir), isDir.boolValue { return }
    do {
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
    } catch {
        throw JobLabelError.io(path: path, message: "cannot create directory \(parent): \((error as NSError).localizedDescription)")
    }
}

/// A file written in pieces and put in place atomically: bytes go to a temporary file beside `path`;
/// `commit()` fsyncs it and renames it over `path`, so readers see the old file or the whole new one;
/// `discard()` (or deinit without a commit) removes it. Errors are `JobLabelError.io` naming `path`.
public final class AtomicFileWriter {
    /// The file to replace.
    public let path: String
    private let temp: String
    private var fd: Int32
    private var done = false

    /// Creates the temporary file (the parent directory must exist; `path` must not be a directory).
    public init(path: String) throws {
        try checkWritableFileTarget(path)
        let url = URL(fileURLWithPath: path).standardizedFileURL
        self.path = path
        temp = url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw JobLabelError.io(path: path, message: "cannot create a temporary file beside it: \(String(cString: strerror(errno)))")
        }
    }

    deinit { discard() }

    /// Appends bytes.
    public func write(_ bytes: [UInt8]) throws {
        guard !done else { return }
        if let err = writeAll(fd, bytes) {
            throw JobLabelError.io(path: path, message: "write failed: \(String(cString: strerror(err)))")
        }
    }

    /// Puts the file in place.
    public func commit() throws {
        guard !done else { return }
        done = true
        defer { if fd >= 0 { close(fd); fd = -1 } }
        guard fsync(fd) == 0 else {
            let err = errno
            unlink(temp)
            throw JobLabelError.io(path: path, message: "fsync failed: \(String(cString: strerror(err)))")
        }
        let target = URL(fileURLWithPath: path).standardizedFileURL
        guard rename(temp, target.path) == 0 else {
            let err = errno
            unlink(temp)
            throw JobLabelError.io(path: path, message: "cannot move the new file into place: \(String(cString: strerror(err)))")
        }
        try? syncPath(target.deletingLastPathComponent().path)
    }

    /// Removes the temporary file; `path` is left as it was.
    public func discard() {
        guard !done else { return }
        done = true
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temp)
    }
}

/// True when `a` and `b` name the same existing file (same device and inode).
public func isSameFile(_ a: String, _ b: String) -> Bool {
    var sa = stat(), sb = stat()
    guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
}
