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
        String passFile = config.passphrase().flatMap(p -> p.file()).map(Path::toString).orElse("<passphrase-file>");
        List<String> lines = new ArrayList<>();
        lines.add("# Restore " + id + " with stock tools: aws CLI (for S3), gpg (GnuPG 2.2+), GNU tar.");
        lines.add("# The passphrase is the first line of the passphrase file. gpg exits non-zero if the data was");
        lines.add("# tampered with, but only at the end: extract into an empty directory, check, then move into place.");
        String source;
        if (config.s3().isPresent()) {
            S3Parameters s3 = config.s3().get();
            environment(s3).forEach((k, v) -> lines.add("export " + k + "=" + quote(v)));
            if (s3.addressingStyle() == S3Parameters.AddressingStyle.PATH) {
                lines.add("aws configure set default.s3.addressing_style path   # the bucket uses path-style URLs");
            }
            String key = s3.prefix().isEmpty() ? id : s3.prefix() + "/" + id;
            source = "aws s3 cp " + quote("s3://" + s3.bucket() + "/" + key) + " -"
                    + s3.endpoint().map(e -> " --endpoint-url " + quote(e)).orElse("");
        } else {
            Path root = new LocalRepository(config.repositoryDir().orElseThrow()).root();
            source = "cat " + quote(root.resolve(id).toString());
        }
        lines.add("set -o pipefail");
        lines.add("mkdir -p " + quote(target.toString()));
        lines.add(source + " | gpg --batch --decrypt --passphrase-file " + quote(passFile)
                + " | tar -x -C " + quote(target.toString()) + " --exclude=.synapse-backup");
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
