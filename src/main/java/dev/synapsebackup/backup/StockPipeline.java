package dev.synapsebackup.backup;

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
     * remove the files the backup does not contain (deleted or superseded since).
     *
     * @param objects  the data objects, oldest first (the backup itself last)
     * @param toRemove entry names to delete after extracting, relative to {@code target}
     */
    public static List<String> restoreCommand(ToolConfig config, List<String> objects, List<String> toRemove, Path target) {
        String passFile = config.passphrase().flatMap(p -> p.file()).map(Path::toString).orElse("<passphrase-file>");
        String id = objects.get(objects.size() - 1);
        List<String> lines = new ArrayList<>();
        lines.add("# Restore " + id + " with stock tools: aws CLI (for S3), gpg (GnuPG 2.2+), GNU tar.");
        lines.add("# The passphrase is the first line of the passphrase file. gpg exits non-zero if the data was");
        lines.add("# tampered with, but only at the end: extract into an empty directory, check, then move into place.");
        if (objects.size() > 1) {
            lines.add("# " + id + " is incremental: its files live in " + objects.size() + " data objects. Extract them"
                    + " oldest first, then remove the files listed at the end.");
        }
        List<String> sources = new ArrayList<>();
        if (config.s3().isPresent()) {
            S3Parameters s3 = config.s3().get();
            environment(s3).forEach((k, v) -> lines.add("export " + k + "=" + quote(v)));
            if (s3.addressingStyle() == S3Parameters.AddressingStyle.PATH) {
                lines.add("aws configure set default.s3.addressing_style path   # the bucket uses path-style URLs");
            }
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
        lines.add("set -o pipefail");
        lines.add("mkdir -p " + quote(target.toString()));
        for (String source : sources) {
            lines.add(source + " | gpg --batch --decrypt --passphrase-file " + quote(passFile)
                    + " | tar -x -C " + quote(target.toString()) + " --exclude=.synapse-backup");
        }
        if (!toRemove.isEmpty()) {
            lines.add("# files in older objects that " + id + " does not contain:");
            for (String name : toRemove) {
                lines.add("rm -f -- " + quote(target.resolve(name).toString()));
            }
        }
        return lines;
    }

    /** Single-quotes a word for a POSIX shell. */
    static String quote(String s) {
        if (s.matches("[A-Za-z0-9_./:=@%+,-]+")) {
            return s;
        }
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
