// The `joblabel` executable: everything is in JobLabelCLI.
import Foundation
import JobLabelCLI

CommandLineTool.configureProcess()
exit(CommandLineTool.run(Array(CommandLine.arguments.dropFirst())))
