package dev.synapsebackup.packaging;

import static org.assertj.core.api.Assertions.assertThat;

import dev.synapsebackup.testing.Launcher;
import dev.synapsebackup.testing.Procs;
import dev.synapsebackup.testing.S3ProxyServer;
import dev.synapsebackup.testing.Trees;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/package} builds the .deb, which is unpacked into a throwaway root ({@code dpkg -x}),
 * and the installed files run a backup of the sample with the bundled Java runtime: a
 * {@code java} on PATH that fails proves the system's JDK is not used.
 */
@Tag("slow")
class PackageTest {
    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.inMemory();

    @TempDir
    static Path work;

    private static Path deb;
    private static Path root;
    /** A PATH whose first "java" fails. */
    private static Map<String, String> env;

    @BeforeAll
    static void buildAndUnpack() throws Exception {
        Launcher.ensureBuilt();
        Procs.Result built = Procs.run(List.of(Launcher.PROJECT.resolve("bin/package").toString(), "--no-build"),
                (byte[]) null, Map.of(), Launcher.PROJECT);
        assertThat(built.exitCode()).as(built.stderr()).isZero();
        deb = Launcher.PROJECT.resolve(built.stdout().strip());
        assertThat(deb.getFileName().toString()).matches("synapse-backup_[0-9][^_]*_amd64\\.deb");
        root = Files.createDirectory(work.resolve("root"));
        Procs.Result x = Procs.run(List.of("dpkg", "-x", deb.toString(), root.toString()), (byte[]) null, Map.of(), null);
        assertThat(x.exitCode()).as(x.stderr()).isZero();
        Path fakeBin = Files.createDirectory(work.resolve("fake-bin"));
        Path fakeJava = fakeBin.resolve("java");
        Files.writeString(fakeJava, "#!/bin/sh\necho 'the system java was used' >&2\nexit 99\n");
        Files.setPosixFilePermissions(fakeJava, PosixFilePermissions.fromString("rwxr-xr-x"));
        env = Map.of("PATH", fakeBin + ":/usr/sbin:/usr/bin:/sbin:/bin", "JAVA_HOME", "/nonexistent",
                "SYNAPSE_BACKUP_CDS", "1");
    }

    private static Procs.Result tool(String... args) {
        List<String> cmd = new ArrayList<>(List.of(root.resolve("usr/bin/synapse-backup").toString()));
        cmd.addAll(List.of(args));
        return Procs.run(cmd, (byte[]) null, env, work);
    }

    @Test
    void metadataAndContents() {
        Procs.Result info = Procs.run(List.of("dpkg-deb", "--info", deb.toString()), (byte[]) null, Map.of(), null);
        assertThat(info.exitCode()).isZero();
        assertThat(info.stdout()).contains("Package: synapse-backup").contains("Architecture: amd64")
                .containsPattern("Version: [0-9]").contains("Depends: libc6, libgcc-s1, libstdc++6, zlib1g").contains("postinst").contains("conffiles");
        Procs.Result contents = Procs.run(List.of("dpkg-deb", "--contents", deb.toString()), (byte[]) null, Map.of(), null);
        assertThat(contents.exitCode()).isZero();
        assertThat(contents.stdout()).contains("./usr/bin/synapse-backup -> ../lib/synapse-backup/bin/synapse-backup")
                .contains("./usr/lib/synapse-backup/runtime/bin/java").contains("./usr/lib/synapse-backup/synapse-backup.jar")
                .contains("./usr/lib/synapse-backup/compiler-directives.json")
                .contains("./lib/systemd/system/synapse-backup.service").contains("./lib/systemd/system/synapse-backup.timer")
                .contains("./lib/systemd/system/synapse-backup-prune.service")
                .contains("./lib/systemd/system/synapse-backup-prune.timer")
                .contains("./etc/synapse-backup/config.yaml.example")
                .contains("./usr/share/bash-completion/completions/synapse-backup")
                .contains("./usr/share/man/man1/synapse-backup.1.gz")
                .contains("root/root")
                .doesNotContain("libawt").doesNotContain("/jmods/");
    }

    @Test
    void versionFromTheBundledRuntime() {
        Procs.Result r = tool("--version");
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(r.stdout()).startsWith("synapse-backup ").doesNotContain("dev");
        assertThat(r.stderr()).doesNotContain("system java");
        // Every library the jar names is in the package.
        Procs.Result help = tool("create", "--help");
        assertThat(help.exitCode()).as(help.stderr()).isZero();
    }

    @Test
    void backupOfTheSampleLocallyAndInS3() throws Exception {
        Path hs = work.resolve("hs");
        Procs.Result sample = tool("generate-sample", hs.toString());
        assertThat(sample.exitCode()).as(sample.stderr()).isZero();
        Path yaml = Path.of(sample.stdout().strip());
        Path pass = work.resolve("passphrase");
        Files.writeString(pass, "package test passphrase\n");
        Path metrics = work.resolve("synapse_backup.prom");

        Procs.Result create = tool("create", "--repo", work.resolve("repo").toString(), "--synapse-config", yaml.toString(),
                "--passphrase-file", pass.toString(), "--metrics-file", metrics.toString(), "--quiet");
        assertThat(create.exitCode()).as(create.stderr()).isZero();
        String id = create.stdout().strip();
        assertThat(id).startsWith("backup-");
        assertThat(Files.readString(metrics)).contains("synapse_backup_last_exit_code{command=\"create\"} 0")
                .contains("synapse_backup_backups 1");

        Path target = work.resolve("restored");
        Procs.Result restore = tool("restore", id, "--target", target.toString(), "--repo", work.resolve("repo").toString(),
                "--passphrase-file", pass.toString(), "--quiet");
        assertThat(restore.exitCode()).as(restore.stderr()).isZero();
        Path media = yaml.getParent().getParent().resolve("data/media_store");
        for (String dir : List.of("local_content", "local_thumbnails")) {
            assertThat(Trees.fingerprint(target.resolve(media.toString().substring(1)).resolve(dir)))
                    .isEqualTo(Trees.fingerprint(media.resolve(dir))).isNotEmpty();
        }

        // S3 through the AWS SDK in the jlinked runtime (XML, HTTP client, crypto modules).
        S3.createBucket("package");
        Map<String, String> s3Env = new java.util.HashMap<>(env);
        s3Env.put("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY);
        s3Env.put("AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY);
        List<String> s3 = List.of("--bucket", "package", "--endpoint", S3.endpoint().toString(), "--s3-uri-style", "path",
                "--synapse-config", yaml.toString(), "--passphrase-file", pass.toString());
        List<String> cmd = new ArrayList<>(List.of(root.resolve("usr/bin/synapse-backup").toString(), "create", "--quiet"));
        cmd.addAll(s3);
        Procs.Result s3Create = Procs.run(cmd, (byte[]) null, s3Env, work);
        assertThat(s3Create.exitCode()).as(s3Create.stderr()).isZero();
        String s3Id = s3Create.stdout().strip();
        cmd = new ArrayList<>(List.of(root.resolve("usr/bin/synapse-backup").toString(), "verify", s3Id));
        cmd.addAll(s3);
        Procs.Result s3Verify = Procs.run(cmd, (byte[]) null, s3Env, work);
        assertThat(s3Verify.exitCode()).as(s3Verify.stderr()).isZero();
        assertThat(s3Verify.stdout()).startsWith("ok: " + s3Id);
    }

    @Test
    void manPageAndCompletion() throws Exception {
        String man;
        try (GZIPInputStream in = new GZIPInputStream(Files.newInputStream(root.resolve("usr/share/man/man1/synapse-backup.1.gz")))) {
            man = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertThat(man).startsWith(".TH SYNAPSE\\-BACKUP 1").contains(".SH COMMANDS").contains(".SS create")
                .contains(".SS prune").contains("\\fB\\-\\-metrics\\-file\\fR").doesNotContain(".SS generate");
        Path completion = root.resolve("usr/share/bash-completion/completions/synapse-backup");
        Procs.Result r = Procs.bash("source " + Procs.q(completion) + " && complete -p synapse-backup"
                + " && COMP_WORDS=(synapse-backup pru) COMP_CWORD=1 COMP_LINE='synapse-backup pru' COMP_POINT=18"
                + " && _picocli_synapse-backup && echo \"${COMPREPLY[@]}\"", Map.of(), work);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(r.stdout()).contains("-F _complete_synapse-backup").contains("prune");
    }

    @Test
    void installedUnitsVerify() throws IOException {
        // The installed units, with ExecStart pointing at the unpacked launcher.
        Path units = Files.createDirectory(work.resolve("units"));
        List<String> args = new ArrayList<>(List.of("systemd-analyze", "verify", "--man=no"));
        try (var s = Files.list(root.resolve("lib/systemd/system"))) {
            for (Path u : s.toList()) {
                Path copy = units.resolve(u.getFileName());
                Files.writeString(copy, Files.readString(u).replace("/usr/bin/synapse-backup",
                        root.resolve("usr/bin/synapse-backup").toString()));
                args.add(copy.toString());
            }
        }
        assertThat(args).hasSize(7);
        Procs.Result r = Procs.run(args, (byte[]) null, Map.of(), units);
        assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
        assertThat(r.stdout() + r.stderr()).isEmpty();
    }
}
