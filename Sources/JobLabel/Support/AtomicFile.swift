import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a whole file atomically: a temporary file beside `path` is written and fsynced, then renamed over
/// `path`, so readers see the old file or the new one, never a part. Errors are `JobLabelError.io` naming `path`.
package func writeFileAtomically(_ path: String, _ bytes: [UInt8]) throws {
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
    let fd = open(temp, O_RDONLY | O_CLOEXEC)
    if fd >= 0 {
        copyPermissions(of: url.path, to: fd)
        close(fd)
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
package func checkWritableFileTarget(_ path: String) throws {
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
package func checkCreatableParent(_ path: String) throws {
    let fm = FileManager.default
    var dir = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent()
    var isDir: ObjCBool = false
    for _ in 0..<4096 {
        if fm.fileExists(atPath: dir.path, isDirectory: &isDir) {
            guard isDir.boolValue else {
                throw JobLabelError.io(path: path, message: "cannot create its directory: \(dir.path) is not a directory")
            }
            if let reason = cannotCreateDirectory(in: dir.path) {
                throw JobLabelError.io(path: path, message: "cannot create its directory in \(dir.path): \(reason)")
            }
            return
        }
        let parent = dir.deletingLastPathComponent()
        if parent.path == dir.path { return }
        dir = parent
    }
}

/// Creates the missing directories above `path` (as `mkdir -p` on its parent); `.io` when one cannot be.
package func createParentDirectories(of path: String) throws {
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
package final class AtomicFileWriter {
    /// The file to replace.
    package let path: String
    private let temp: String
    private var fd: Int32
    private var done = false

    /// Creates the temporary file (the parent directory must exist; `path` must not be a directory).
    package init(path: String) throws {
        try checkWritableFileTarget(path)
        let url = URL(fileURLWithPath: path).standardizedFileURL
        self.path = path
        temp = url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw JobLabelError.io(path: path, message: "cannot create a temporary file beside it: \(String(cString: strerror(errno)))")
        }
        copyPermissions(of: url.path, to: fd)
    }

    deinit { discard() }

    /// Appends bytes.
    package func write(_ bytes: [UInt8]) throws {
        guard !done else { return }
        if let err = writeAll(fd, bytes) {
            throw JobLabelError.io(path: path, message: "write failed: \(String(cString: strerror(err)))")
        }
    }

    /// Puts the file in place.
    package func commit() throws {
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
    package func discard() {
        guard !done else { return }
        done = true
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temp)
    }
}

/// True when `a` and `b` name the same existing file (same device and inode).
package func isSameFile(_ a: String, _ b: String) -> Bool {
    var sa = stat(), sb = stat()
    guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
}

// MARK: What an output must not touch

/// A file's identity: device and inode (the same file however its path is spelled: links, "..", bind mounts).
struct FileIdentity: Hashable {
    var device: UInt64
    var inode: UInt64

    /// The identity of the file `path` names (following symbolic links), or nil when there is none.
    init?(_ path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }
}

/// The parent of a path as written ("a/b" -> "a", "a" -> ".", "/a" -> "/"), ignoring trailing slashes.
func parentPath(_ path: String) -> String {
    var s = Substring(path)
    while s.count > 1 && s.hasSuffix("/") { s = s.dropLast() }
    guard let slash = s.lastIndex(of: "/") else { return "." }
    if slash == s.startIndex { return "/" }
    return String(s[..<slash])
}

/// The identities of the directories that hold `path` (and of `path` itself when it exists), nearest
/// first: the nearest existing one as the kernel resolves it, then each parent of its real path.
func containingIdentities(_ path: String) -> [FileIdentity] {
    var p = path
    for _ in 0..<4096 where FileIdentity(p) == nil {
        let parent = parentPath(p)
        if parent == p { break }
        p = parent
    }
    guard let resolved = realpath(p, nil) else { return [] }
    var real = String(cString: resolved)
    free(resolved)
    var ids: [FileIdentity] = []
    for _ in 0..<4096 {
        if let id = FileIdentity(real) { ids.append(id) }
        let parent = parentPath(real)
        if parent == real { break }
        real = parent
    }
    return ids
}

/// Throws `.outputRefused` when writing `output` could destroy or disturb what the command reads: when it
/// is one of `inputs` (the same file, however spelled), lies inside one of them that is a directory (an
/// input directory would read it next time), or lies inside `model`, the model being read. With
/// `directory` (a model bundle, which replaces a whole directory), also when one of them lies inside it.
/// "-" (standard input) is skipped.
package func checkOutputSpares(_ output: String, inputs: [String], model: String? = nil, directory: Bool = false) throws {
    let outputID = FileIdentity(output)
    let around = containingIdentities(output)
    if let model, let modelID = FileIdentity(model), around.contains(modelID) {
        throw JobLabelError.outputRefused(path: output, reason: .insideTheModel(model))
    }
    for input in inputs where input != "-" {
        guard let inputID = FileIdentity(input) else { continue }
        if inputID == outputID {
            throw JobLabelError.outputRefused(path: output, reason: .isAnInput)
        }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: input, isDirectory: &isDir), isDir.boolValue, around.contains(inputID) {
            throw JobLabelError.outputRefused(path: output, reason: .insideAnInput(input))
        }
        if directory, let outputID, containingIdentities(input).contains(outputID) {
            throw JobLabelError.outputRefused(path: output, reason: .holdsAnInput(input))
        }
    }
}

/// What kind of file a non-regular `st_mode` is, in words.
func fileKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFDIR: return "directory"
    case S_IFIFO: return "FIFO (named pipe)"
    case S_IFSOCK: return "socket"
    case S_IFCHR: return "character device"
    case S_IFBLK: return "block device"
    case S_IFLNK: return "symbolic link"
    default: return "special file"
    }
}

/// The path an output at `path` is written to: `path` itself, or the file a symbolic link there points to
/// (so the link stays and its target is replaced). A link to nothing is refused.
func resolvedOutputPath(_ path: String) throws -> String {
    var st = stat()
    guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK else { return path }
    guard let resolved = realpath(path, nil) else {
        // A link to something without a path (/dev/stdout on a pipe), or to nothing.
        var target = stat()
        if stat(path, &target) == 0 { throw JobLabelError.outputRefused(path: path, reason: .notARegularFile(fileKind(target.st_mode))) }
        throw JobLabelError.outputRefused(path: path, reason: .danglingLink)
    }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// A fresh name for a temporary file or directory beside `name` in `directory`: ".NAME.tmp-PID-RANDOM".
func temporaryName(in directory: String, for name: String) -> String {
    directory + "/." + name + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
}

/// nil when a file can be created in the existing directory `directory` (one is created and removed, the
/// only sure test: permissions, read-only and special file systems, quotas on inodes), else the reason.
func cannotCreateFile(in directory: String) -> String? {
    let probe = temporaryName(in: directory, for: "joblabel-probe")
    let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return String(cString: strerror(errno)) }
    close(fd)
    unlink(probe)
    return nil
}

/// nil when a directory can be created in the existing directory `directory` (one is made and removed).
func cannotCreateDirectory(in directory: String) -> String? {
    let probe = temporaryName(in: directory, for: "joblabel-probe")
    guard mkdir(probe, 0o700) == 0 else { return String(cString: strerror(errno)) }
    rmdir(probe)
    return nil
}

/// Checks an output file (`--output`, `--html`) before the work, and returns the path to write (a symbolic
/// link's target). Refused: one of `inputs`, inside an input directory or the `model` read
/// (`checkOutputSpares`), a directory, a FIFO, device or socket (it would be replaced by a regular file),
/// a link to nothing; an error when the file cannot be created where it goes (tried, not guessed).
package func checkOutputFile(_ path: String, inputs: [String], model: String? = nil) throws -> String {
    let target = try resolvedOutputPath(path)
    var st = stat()
    if stat(target, &st) == 0 {
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw JobLabelError.outputRefused(path: path, reason: .isADirectory)
        default: throw JobLabelError.outputRefused(path: path, reason: .notARegularFile(fileKind(st.st_mode)))
        }
    }
    try checkOutputSpares(target, inputs: inputs, model: model)
    let parent = parentPath(target)
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: parent, isDirectory: &isDir) {
        guard isDir.boolValue else {
            throw JobLabelError.io(path: path, message: "cannot create it: \(parent) is not a directory")
        }
        if let reason = cannotCreateFile(in: parent) {
            throw JobLabelError.io(path: path, message: "cannot create files in \(parent): \(reason)")
        }
    } else {
        try checkCreatableParent(target)
    }
    return target
}

/// True when the output paths `a` and `b` name the same file, existing or not: the same file, or the same
/// name in the same directory however spelled.
package func isSameOutput(_ a: String, _ b: String) -> Bool {
    if a == b || isSameFile(a, b) { return true }
    guard inputBasename(a) == inputBasename(b), let pa = FileIdentity(parentPath(a)) else { return false }
    return pa == FileIdentity(parentPath(b))
}

/// Gives the file open at `fd` the permission bits (and, where allowed, the owner) of the existing file
/// `path`, so replacing a file keeps its mode (a 0600 file stays 0600). Nothing when `path` does not exist.
func copyPermissions(of path: String, to fd: Int32) {
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return }
    _ = fchown(fd, st.st_uid, st.st_gid)
    _ = fchmod(fd, st.st_mode & 0o7777)
}

// MARK: Model bundle outputs

/// How a model bundle directory is written.
package enum BundleWriteMode: Sendable, Equatable {
    /// A complete new directory beside it is renamed into its place (readers see the old bundle or the new).
    case replaceDirectory
    /// The directory cannot be replaced (a mount point, or its parent is not writable): its files are
    /// replaced one by one, each by renaming (weights first, then the manifest, which names the weights'
    /// training; a reader between the two renames gets a clear mismatch error, never a mixed model).
    case replaceFiles
}

/// What `checkModelOutput` found: where the bundle goes, how, and whether a bundle is there now.
package struct ModelOutputPlan: Sendable, Equatable {
    /// The directory written (a symbolic link's target).
    package var path: String
    /// How it is written.
    package var mode: BundleWriteMode
    /// True when the directory holds a bundle now (which a failed write keeps).
    package var replacesModel: Bool
}

/// The names of a bundle directory's files.
let bundleFileNames: Set<String> = ["manifest.json", "weights.bin", "README.md"]

/// True for a temporary file of an in-place bundle write (".manifest.json.tmp-PID-N") whose process is gone.
func isStaleBundleTemporary(_ name: String) -> Bool {
    for file in ["manifest.json", "weights.bin"] {
        let prefix = "." + file + ".tmp-"
        guard name.hasPrefix(prefix), let pid = Int32(name.dropFirst(prefix.count).prefix { $0 != "-" }) else { continue }
        return pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH
    }
    return false
}

/// Checks `--out` before training and says how the bundle will be written. Refused: one of `inputs`, inside
/// an input directory, or holding an input (`checkOutputSpares`); a link to nothing; an existing path that
/// is not a directory, or a directory that is neither empty nor a joblabel bundle. A bundle is recognised
/// only when `manifest.json` and `weights.bin` are both regular files (not links) of their formats (the
/// manifest reads, the weights start with their magic number), beside at most a regular `README.md`:
/// nothing else is ever deleted. An error, before any work, when nothing can be written there (tried).
package func checkModelOutput(_ directory: String, inputs: [String]) throws -> ModelOutputPlan {
    var target = try resolvedOutputPath(directory)
    // An existing directory by its real path ("." and ".." cannot be renamed, nor replaced by name).
    if let real = realpath(target, nil) {
        target = String(cString: real)
        free(real)
    }
    try checkOutputSpares(target, inputs: inputs, directory: true)
    let fm = FileManager.default
    let parent = parentPath(target)
    var st = stat()
    guard stat(target, &st) == 0 else {
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: parent, isDirectory: &isDir), isDir.boolValue {
            if let reason = cannotCreateDirectory(in: parent) {
                throw JobLabelError.io(path: directory, message: "cannot create it in \(parent): \(reason)")
            }
        } else {
            try checkCreatableParent(target)
        }
        return ModelOutputPlan(path: target, mode: .replaceDirectory, replacesModel: false)
    }
    guard (st.st_mode & S_IFMT) == S_IFDIR else {
        throw JobLabelError.outputRefused(path: directory, reason: .notADirectory)
    }
    let names = try directoryEntryNames(target).map { String(validating: $0, as: UTF8.self) ?? printableFileName($0) }
    let present = names.filter { !isStaleBundleTemporary($0) }
    if !present.isEmpty {
        func isRegularFile(_ name: String) -> Bool {
            var link = stat()
            return lstat(target + "/" + name, &link) == 0 && (link.st_mode & S_IFMT) == S_IFREG
        }
        let files = Set(present).intersection(bundleFileNames)
        guard files.contains("manifest.json"), files.contains("weights.bin"), files.allSatisfy(isRegularFile),
              ModelBundle.isBundleManifest(target + "/manifest.json"), hasWeightsMagic(target + "/weights.bin") else {
            throw JobLabelError.outputRefused(path: directory, reason: .notAModel)
        }
        let others = present.filter { !bundleFileNames.contains($0) }.sorted()
        if !others.isEmpty {
            throw JobLabelError.outputRefused(path: directory, reason: .holdsOtherFiles(others))
        }
    }
    let replacesModel = !present.isEmpty
    // A mount point (another device than its parent) cannot be renamed; nor can a directory whose parent
    // cannot be written, nor (sensibly) the working directory. Then its files are replaced.
    if let parentID = FileIdentity(parent), parentID.device != UInt64(st.st_dev) || FileIdentity(".") == FileIdentity(target) {
        if let reason = cannotCreateFile(in: target) {
            throw JobLabelError.io(path: directory, message: "cannot create files in it: \(reason)")
        }
        return ModelOutputPlan(path: target, mode: .replaceFiles, replacesModel: replacesModel)
    }
    guard let parentReason = cannotCreateDirectory(in: parent) else {
        return ModelOutputPlan(path: target, mode: .replaceDirectory, replacesModel: replacesModel)
    }
    if let reason = cannotCreateFile(in: target) {
        throw JobLabelError.io(path: directory, message: "cannot write in it (\(reason)) nor in \(parent) (\(parentReason))")
    }
    return ModelOutputPlan(path: target, mode: .replaceFiles, replacesModel: replacesModel)
}

/// True when the file starts with the weights file's magic number.
func hasWeightsMagic(_ path: String) -> Bool {
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var magic = [UInt8](repeating: 0, count: WeightsFile.magic.count)
    let n = magic.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    return n == magic.count && magic == WeightsFile.magic
}

/// The one write of a bundle (`ModelBundle.save`): `checkModelOutput` is checked again first, with
/// `inputs`; by default a complete new directory beside it replaces it by rename, so readers see the old
/// bundle or the new one; where the directory cannot be replaced (a mount point such as a tmpfs or a
/// container volume, a parent that cannot be written) its files are replaced inside it. A model card
/// `README.md` in the directory stays. `progress` is told each step.
func writeModelBundle(_ model: JobLabelModel, to directory: String, inputs: [String],
                      progress: ((ModelBundle.SaveStep) -> Void)?) throws {
    let plan = try checkModelOutput(directory, inputs: inputs)
    let (manifest, weights): ([UInt8], [UInt8])
    do {
        (manifest, weights) = try ModelBundle.encode(model)
    } catch {
        throw JobLabelError.nonFiniteWeights(head: "\(error)")
    }
    func failed(_ message: String, kept: Bool) -> JobLabelError {
        .modelWriteFailed(directory: directory, message: message, previousKept: kept)
    }
    if plan.mode == .replaceDirectory {
        switch try replaceBundleDirectory(plan.path, manifest: manifest, weights: weights, progress: progress) {
        case nil: return
        case let code? where [EBUSY, EXDEV, EPERM, EACCES, EROFS].contains(code) && FileManager.default.fileExists(atPath: plan.path):
            break  // it turned out not to be replaceable (a bind mount): its files are replaced inside it
        case let code?:
            throw failed("cannot move the new model into place: \(String(cString: strerror(code)))", kept: plan.replacesModel)
        }
    }
    try replaceBundleFiles(manifest: manifest, weights: weights, in: plan.path, reportedAs: directory,
                           replacesModel: plan.replacesModel, progress: progress)
}

/// Writes `model`'s files into the existing directory `directory`, each beside its old self and then renamed
/// over it (`BundleWriteMode.replaceFiles`, for directories that cannot be replaced).
func replaceBundleFiles(_ model: JobLabelModel, in directory: String) throws {
    let (manifest, weights) = try ModelBundle.encode(model)
    try replaceBundleFiles(manifest: manifest, weights: weights, in: directory, reportedAs: directory, replacesModel: true, progress: nil)
}

/// The in-place write: weights first, then the manifest (which names the weights' training, so a reader
/// between the two renames gets a clear mismatch error, never a mixed model). Errors name `reportedAs`.
private func replaceBundleFiles(manifest: [UInt8], weights: [UInt8], in path: String, reportedAs directory: String,
                                replacesModel: Bool, progress: ((ModelBundle.SaveStep) -> Void)?) throws {
    func failed(_ message: String, kept: Bool) -> JobLabelError {
        .modelWriteFailed(directory: directory, message: message, previousKept: kept)
    }
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] where isStaleBundleTemporary(entry) {
        unlink(path + "/" + entry)
    }
    let weightsTemp = temporaryName(in: path, for: "weights.bin")
    let manifestTemp = temporaryName(in: path, for: "manifest.json")
    do {
        progress?(.writing)
        try writeFile(weightsTemp, weights)
        try writeFile(manifestTemp, manifest)
        progress?(.written)
    } catch let JobLabelError.io(_, message) {
        unlink(weightsTemp)
        unlink(manifestTemp)
        throw failed(message, kept: replacesModel)
    }
    guard rename(weightsTemp, path + "/weights.bin") == 0 else {
        let err = errno
        unlink(weightsTemp)
        unlink(manifestTemp)
        throw failed("cannot move the new weights into place: \(String(cString: strerror(err)))", kept: replacesModel)
    }
    guard rename(manifestTemp, path + "/manifest.json") == 0 else {
        let err = errno
        unlink(manifestTemp)
        throw failed("cannot move the new manifest into place (the weights are new; train again): \(String(cString: strerror(err)))", kept: false)
    }
    try? syncPath(path)
    progress?(.replaced)
}

/// Writes the bundle into a temporary directory beside `target` and puts it in place (carrying over a
/// model card); nil when done, else the errno of the rename that failed (the temporary is removed, `target`
/// is as it was). Other failures (a full disk) are thrown as `.modelWriteFailed`.
private func replaceBundleDirectory(_ target: String, manifest: [UInt8], weights: [UInt8],
                                    progress: ((ModelBundle.SaveStep) -> Void)?) throws -> Int32? {
    let fm = FileManager.default
    let parent = parentPath(target)
    let name = inputBasename(target)
    let existed = fm.fileExists(atPath: target)
    ModelBundle.removeStaleTemporaries(parent: parent, name: name)
    let temp = temporaryName(in: parent, for: name)
    guard mkdir(temp, 0o755) == 0 else {
        let err = errno
        throw JobLabelError.modelWriteFailed(directory: target, message: "cannot create a temporary directory in \(parent): \(String(cString: strerror(err)))",
                                             previousKept: existed)
    }
    do {
        progress?(.writing)
        try writeFile(temp + "/weights.bin", weights)
        try writeFile(temp + "/manifest.json", manifest)
        var card = stat()
        if lstat(target + "/README.md", &card) == 0, (card.st_mode & S_IFMT) == S_IFREG, let bytes = try? readFile(target + "/README.md") {
            try writeFile(temp + "/README.md", bytes)
        }
        try syncPath(temp)
        progress?(.written)
    } catch let JobLabelError.io(_, message) {
        try? fm.removeItem(atPath: temp)
        throw JobLabelError.modelWriteFailed(directory: target, message: message, previousKept: existed)
    }
    if !existed {
        guard rename(temp, target) == 0 else {
            let err = errno
            try? fm.removeItem(atPath: temp)
            return err
        }
        try? syncPath(parent)
        progress?(.replaced)
        return nil
    }
    #if os(Linux)
    if exchangeDirectories(temp, target) {
        try? fm.removeItem(atPath: temp)  // now holds the previous bundle
        try? syncPath(parent)
        progress?(.replaced)
        return nil
    }
    #endif
    // Not named like a temporary bundle, so the stale-temporary cleanup never deletes it.
    let aside = parent + "/." + name + ".previous-\(getpid())"
    guard rename(target, aside) == 0 else {
        let err = errno
        try? fm.removeItem(atPath: temp)
        return err
    }
    guard rename(temp, target) == 0 else {
        let err = errno
        _ = rename(aside, target)
        try? fm.removeItem(atPath: temp)
        return err
    }
    try? fm.removeItem(atPath: aside)
    try? syncPath(parent)
    progress?(.replaced)
    return nil
}
