package dev.synapsebackup.restore;

import dev.synapsebackup.config.S3Parameters;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.repository.LocalRepository;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The stock-tools procedure that opens a backup without this tool ({@code aws s3 cp … - | gpg
 * --decrypt … | tar -x -C …}), and the {@code AWS_*} environment it needs, as the charm's
 * {@code get_environment} builds it. Secrets appear only as placeholders.
 */
public final class StockPipeline {
    private StockPipeline() {
    }

    /**
     * The {@code AWS_*} variables for the aws CLI: key id as configured, secret as a placeholder,
     * endpoint and region when set.
     */
    public static Map<String, String> environment(S3Parameters s3) {
        Map<String, String> env = new LinkedHashMap<>();
        if (s3.accessKey().isPresent()) {
            env.put("AWS_ACCESS_KEY_ID", s3.accessKey().get());
            env.put("AWS_SECRET_ACCESS_KEY", "<secret-key>");
        }
        if (s3.sessionToken().isPresent()) {
            env.put("AWS_SESSION_TOKEN", "<session-token>");
        }
        s3.endpoint().ifPresent(e -> env.put("AWS_ENDPOINT_URL", e));
        s3.region().ifPresent(r -> env.put("AWS_DEFAULT_REGION", r));
        return env;
    }

    /** The shell lines of the procedure for one data object, extracting into {@code target}. */
    public static List<String> restoreCommand(ToolConfig config, String id, Path target) {
        return restoreCommand(config, List.of(id), List.of(), target);
    }

    /**
     * The procedure for a backup whose files live in several data objects (an incremental chain):
     * extract each object, oldest first, so that newer copies of a file replace older ones; then
     * remove the files the backup does not contain (deleted or superseded since), and the
     * directories that only older objects hold once they are empty (media deleted since).
     *
     * <p>The script fails loudly: {@code set -euo pipefail} stops it at the first failing step,
     * gpg's status included. gpg reports a tampered object only at its end, after tar has written
     * what it decrypted, so everything is extracted into {@code <target>.partial}, which is
     * renamed to {@code target} only once every step has succeeded and removed on any failure.
     * Path-style addressing comes from a throwaway {@code AWS_CONFIG_FILE}: the user's
     * {@code ~/.aws/config} is never changed.
     *
     * @param objects  the data objects, oldest first (the backup itself last)
     * @param toRemove entry names to delete after extracting, relative to {@code target}
     */
    public static List<String> restoreCommand(ToolConfig config, List<String> objects, List<String> toRemove, Path target) {
        return restoreCommand(config, objects, toRemove, target, List.of());
    }

    /** The gpg command that decrypts an object of this repository from stdin, or the file it is given. */
    static String decryptCommand(ToolConfig config) {
        String passFile = config.passphrase().flatMap(p -> p.file()).map(Path::toString).orElse("<passphrase-file>");
        // Public keys: gpg finds the secret key in its keyring; no passphrase file (gpg asks for the key's own).
        return config.publicKeyEncryption() ? "gpg --batch --decrypt"
                : "gpg --batch --decrypt --passphrase-file " + quote(passFile);
    }

    /**
     * As {@link #restoreCommand(ToolConfig, List, List, Path)}, with {@code mediaLines} (see
     * {@link MediaRestore#scriptLines}) run after the archives are extracted, before the rename.
     */
    public static List<String> restoreCommand(ToolConfig config, List<String> objects, List<String> toRemove, Path target,
                                              List<String> mediaLines) {
        boolean publicKey = config.publicKeyEncryption();
        String decrypt = decryptCommand(config);
        String id = objects.get(objects.size() - 1);
        boolean chain = objects.size() > 1;
        List<String> lines = new ArrayList<>();
        lines.add("#!/bin/bash");
        lines.add("# Restore " + commentSafe(id) + " with stock tools: aws CLI (for S3), gpg (GnuPG 2.2+), GNU tar. Run it as root so");
        if (publicKey) {
            lines.add("# that owners are restored. The objects are encrypted to public keys: import the secret key of one of");
            lines.add("# them into gpg first (gpg --import secret-key.asc); gpg asks for its passphrase, if it has one.");
        } else {
            lines.add("# that owners are restored. The passphrase is the first line of the passphrase file.");
        }
        lines.add("# Everything is extracted into TARGET.partial, which becomes TARGET only when every step succeeded:");
        lines.add("# gpg reports tampering only at the end of an object, after tar has written what it decrypted. On any");
        lines.add("# failure the partial tree is removed and the script exits non-zero.");
        if (chain) {
            lines.add("# " + commentSafe(id) + " is incremental: its files live in " + objects.size() + " data objects. They are extracted"
                    + " oldest first; then the files and directories that " + commentSafe(id) + " no longer has are removed.");
        }
        lines.add("set -euo pipefail");
        List<String> sources = new ArrayList<>();
        boolean pathStyle = false;
        if (config.s3().isPresent()) {
            S3Parameters s3 = config.s3().get();
            environment(s3).forEach((k, v) -> lines.add("export " + k + "=" + quote(v)));
            pathStyle = s3.addressingStyle() == S3Parameters.AddressingStyle.PATH;
            for (String o : objects) {
                String key = s3.prefix().isEmpty() ? o : s3.prefix() + "/" + o;
                sources.add("aws s3 cp " + quote("s3://" + s3.bucket() + "/" + key) + " -"
                        + s3.endpoint().map(e -> " --endpoint-url " + quote(e)).orElse(""));
            }
        } else {
            Path root = new LocalRepository(config.repositoryDir().orElseThrow()).root();
            for (String o : objects) {
                sources.add("cat " + quote(root.resolve(o).toString()));
            }
        }
        lines.add("target=" + quote(target.toString()));
        lines.add("partial=\"$target.partial\"");
        lines.add("work=\"\"");
        lines.add("made=\"\"");
        lines.add("if [ -e \"$target\" ] && [ -n \"$(ls -A -- \"$target\")\" ]; then echo \"$target is not empty: restore into"
                + " an empty or new directory\" >&2; exit 1; fi");
        lines.add("if [ -e \"$partial\" ]; then echo \"$partial exists (left by an earlier attempt?): remove it first\" >&2;"
                + " exit 1; fi");
        lines.add("cleanup() {");
        lines.add("  rc=$?");
        lines.add("  [ -z \"$work\" ] || rm -rf -- \"$work\"");
        lines.add("  if [ \"$rc\" -ne 0 ]; then [ -z \"$made\" ] || rm -rf -- \"$partial\"; echo \"FAILED (exit $rc): nothing was"
                + " restored into $target\" >&2; fi");
        lines.add("}");
        lines.add("trap cleanup EXIT");
        lines.add("work=$(mktemp -d)");
        if (pathStyle) {
            lines.add("# The bucket uses path-style URLs: a throwaway aws config for this script only (~/.aws/config is not"
                    + " changed).");
            lines.add("printf '[default]\\ns3 =\\n    addressing_style = path\\n' > \"$work/aws-config\"");
            lines.add("export AWS_CONFIG_FILE=\"$work/aws-config\"");
        }
        lines.add("mkdir -p -- \"$(dirname -- \"$target\")\"");
        lines.add("mkdir -- \"$partial\"");
        lines.add("made=1");
        for (int i = 0; i < sources.size(); i++) {
            // With a chain, each object's entries are listed, to find the directories only older objects have.
            String list = chain ? " -v --quoting-style=literal --index-file=\"$work/entries." + (i == sources.size() - 1
                    ? "last" : String.format(java.util.Locale.ROOT, "%04d", i)) + "\"" : "";
            lines.add(sources.get(i) + " | " + decrypt
                    + " | tar -x -C \"$partial\" --no-overwrite-dir --keep-directory-symlink --exclude=.synapse-backup" + list);
        }
        if (!toRemove.isEmpty()) {
            lines.add("# files in older objects that " + commentSafe(id) + " does not contain:");
            for (String name : toRemove) {
                lines.add("rm -f -- \"$partial\"/" + quote(name));
            }
        }
        if (chain) {
            lines.add("# directories only older objects hold (their media was deleted since): removed when empty, deepest"
                    + " first");
            lines.add("cat \"$work\"/entries.0* | awk 'NR == FNR { own[$0] = 1; next } /\\/$/ && !($0 in own)' \"$work/entries.last\" -"
                    + " | sort -ru | while IFS= read -r d; do rmdir -- \"$partial/$d\" 2>/dev/null || true; done");
        }
        lines.addAll(mediaLines);
        lines.add("if [ -e \"$target\" ]; then rmdir -- \"$target\"; fi");
        lines.add("mv -- \"$partial\" \"$target\"");
        lines.add("echo " + quote("restored " + id + " into ") + "\"$target\"");
        return lines;
    }

    /** Single-quotes a word for a POSIX shell. */
    /** {@code s} with anything but plain name characters replaced, for a line of comment. */
    static String commentSafe(String s) {
        return s.replaceAll("[^A-Za-z0-9._-]", "?");
    }

    static String quote(String s) {
        if (s.matches("[A-Za-z0-9_./:=@%+,-]+")) {
            return s;
        }
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
