package dev.synapsebackup.cli;

import java.io.BufferedReader;
import java.io.Console;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;

/**
 * What a command run sees of its process: environment, streams and terminal. Injected so that
 * tests run the real {@link Main} in-process with their own environment and captured output.
 *
 * @param env               environment variables
 * @param out               standard output
 * @param err               standard error
 * @param console           the terminal for passphrase prompts, or null when stdin is not one
 * @param stdin             standard input, for answers when no terminal is attached (may be null)
 * @param defaultConfigFile the tool config read when {@code --config} is not given
 */
public record Context(Map<String, String> env, PrintStream out, PrintStream err, Console console,
                      BufferedReader stdin, Path defaultConfigFile) {
}
