package dev.synapsebackup.cli;

import dev.synapsebackup.ConfigException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.backup.RepositoryFactory;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.repository.Repository;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;

@Command(name = "check", mixinStandardHelpOptions = true,
        description = {
            "Validate the configuration and check that the bucket (or directory) can be used.",
            "Prints \"active\" on success. On failure prints one status line on stderr:",
            "  Backup: S3 configuration is invalid (<reason>)                       exit 2",
            "  Backup: S3 bucket does not exist or cannot be accessed (<reason>)    exit 3"})
final class CheckCommand extends BaseCommand {
    static final String INVALID = "Backup: S3 configuration is invalid";
    static final String INACCESSIBLE = "Backup: S3 bucket does not exist or cannot be accessed";

    @Override
    public Integer call() {
        Output out = output();
        ToolConfig config;
        try {
            config = loadConfig();
        } catch (ConfigException e) {
            return fail(out, INVALID, e);
        }
        try (Repository repo = RepositoryFactory.open(config)) {
            repo.checkAccess();
            if (out.json) {
                Map<String, Object> doc = new LinkedHashMap<>();
                doc.put("status", "active");
                doc.put("repository", repo.location());
                out.json(doc);
            } else {
                out.result("active");
            }
            return 0;
        } catch (ConfigException e) {
            return fail(out, INVALID, e);
        } catch (SynapseBackupException e) {
            if (e.exitCode() == SynapseBackupException.INTERRUPTED) {
                throw e; // a signal, not an answer about the bucket
            }
            return fail(out, INACCESSIBLE, e);
        }
    }

    private static int fail(Output out, String status, SynapseBackupException e) {
        String line = status + " (" + e.getMessage() + ")";
        out.error(line);
        int code = status.equals(INVALID) ? SynapseBackupException.USAGE : SynapseBackupException.ACCESS;
        if (out.json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("status", status);
            doc.put("reason", e.getMessage());
            doc.put("exit-code", code);
            out.json(doc);
        }
        return code;
    }
}
