package dev.synapsebackup.packaging;

import static org.assertj.core.api.Assertions.assertThat;

import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.Launcher;
import dev.synapsebackup.testing.Procs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The systemd units in packaging/systemd: {@code systemd-analyze verify} finds no problem (it
 * needs no running systemd; ExecStart points at a stub, as the launcher is not installed here),
 * they are sandboxed, and their ExecStart command lines are valid for the tool.
 */
class SystemdUnitsTest {
    private static final Path UNITS = Launcher.PROJECT.resolve("packaging/systemd");
    private static final List<String> NAMES = List.of("synapse-backup.service", "synapse-backup.timer",
            "synapse-backup-prune.service", "synapse-backup-prune.timer");

    @TempDir
    Path dir;

    @Test
    void verifyCleanly() throws IOException {
        Path stub = dir.resolve("synapse-backup");
        Files.writeString(stub, "#!/bin/sh\nexit 0\n");
        Files.setPosixFilePermissions(stub, PosixFilePermissions.fromString("rwxr-xr-x"));
        List<String> args = new ArrayList<>(List.of("systemd-analyze", "verify", "--man=no"));
        for (String name : NAMES) {
            Path copy = dir.resolve(name);
            Files.writeString(copy, Files.readString(UNITS.resolve(name)).replace("/usr/bin/synapse-backup", stub.toString()));
            args.add(copy.toString());
        }
        Procs.Result r = Procs.run(args, (byte[]) null, Map.of(), dir);
        // Unknown keys and bad values are only warnings (exit 0): the output must be empty too.
        assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
        assertThat(r.stdout() + r.stderr()).isEmpty();
    }

    @Test
    void aTypoIsCaught() throws IOException {
        Path stub = dir.resolve("synapse-backup");
        Files.writeString(stub, "#!/bin/sh\nexit 0\n");
        Files.setPosixFilePermissions(stub, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path copy = dir.resolve("synapse-backup.service");
        Files.writeString(copy, Files.readString(UNITS.resolve("synapse-backup.service"))
                .replace("/usr/bin/synapse-backup", stub.toString()).replace("ProtectSystem=", "ProtectSytem="));
        Procs.Result r = Procs.run(List.of("systemd-analyze", "verify", "--man=no", copy.toString()), (byte[]) null, Map.of(), dir);
        assertThat(r.stdout() + r.stderr()).contains("ProtectSytem");
    }

    @Test
    void servicesAreSandboxedAndRunBelowSynapse() throws IOException {
        for (String name : List.of("synapse-backup.service", "synapse-backup-prune.service")) {
            List<String> lines = Files.readAllLines(UNITS.resolve(name));
            assertThat(lines).as(name).contains("Type=oneshot", "ProtectSystem=strict", "PrivateTmp=yes", "NoNewPrivileges=yes",
                    "IOSchedulingClass=idle", "Nice=10", "ProtectHome=read-only");
            assertThat(lines).as(name).anyMatch(l -> l.startsWith("ReadWritePaths=") && l.contains("/var/backups/synapse"));
            assertThat(lines).as(name).noneMatch(l -> l.startsWith("MemoryDenyWriteExecute")); // the JIT needs it
        }
        assertThat(Files.readAllLines(UNITS.resolve("synapse-backup.service")))
                .anyMatch(l -> l.startsWith("ReadWritePaths=") && l.contains("/var/lib/matrix-synapse"));
        for (String name : List.of("synapse-backup.timer", "synapse-backup-prune.timer")) {
            assertThat(Files.readAllLines(UNITS.resolve(name))).as(name).contains("Persistent=true", "WantedBy=timers.target");
        }
    }

    @Test
    void execStartLinesAreValidCommandLines() throws IOException {
        Path repo = Files.createDirectory(dir.resolve("repo"));
        for (String name : List.of("synapse-backup.service", "synapse-backup-prune.service")) {
            String exec = Files.readAllLines(UNITS.resolve(name)).stream().filter(l -> l.startsWith("ExecStart=/"))
                    .findFirst().orElseThrow();
            List<String> argv = new ArrayList<>(Arrays.asList(exec.substring("ExecStart=".length()).split(" ")));
            assertThat(argv.remove(0)).isEqualTo("/usr/bin/synapse-backup");
            if (argv.get(0).equals("prune")) {
                argv.addAll(List.of("--dry-run", "--repo", repo.toString()));
            } else {
                argv.add("--help");
            }
            Cli.Result r = new Cli().run(argv.toArray(String[]::new));
            assertThat(r.exitCode()).as(name + ": " + r).isZero();
        }
    }
}
