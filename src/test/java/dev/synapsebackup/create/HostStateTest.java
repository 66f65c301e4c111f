package dev.synapsebackup.create;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The host state's files: what a killed run leaves is removed, and a state directory others can enter is reported. */
class HostStateTest {
    @TempDir
    Path tmp;

    private static final String ID = "backup-20260101000000000000";

    private static Path manifest(Path dir) throws IOException {
        return Files.writeString(dir.resolve("manifest.json"), "{\"backup-id\": \"" + ID + "\"}\n");
    }

    @Test
    void saveRemovesTheTemporaryFilesAKilledRunOfThisRepositoryLeft() throws IOException {
        Path dir = tmp.resolve("state");
        HostState state = new HostState(dir, "/srv/repo");
        HostState other = new HostState(dir, "s3://bucket/other");
        state.save(ID, manifest(tmp), new BackupCommit.Stored(10, "00"));
        String prefix = state.recordFile().getFileName().toString().replace(".json", "");
        String otherPrefix = other.recordFile().getFileName().toString().replace(".json", "");
        Path leftover = Files.writeString(dir.resolve(".tmp-" + prefix + "-123.json"), "a plaintext manifest");
        // another repository's run may be writing this one right now
        Path others = Files.writeString(dir.resolve(".tmp-" + otherPrefix + "-456.json"), "being written");

        state.save(ID, manifest(tmp), new BackupCommit.Stored(10, "00"));
        assertThat(leftover).doesNotExist();
        assertThat(others).exists();
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder(prefix + ".json", prefix + "." + ID + ".manifest.json", others.getFileName().toString());
        }
    }

    @Test
    void aStateDirectoryOthersCanEnterIsReported() throws IOException {
        Path dir = tmp.resolve("state");
        HostState state = new HostState(dir, "/srv/repo");
        assertThat(state.accessWarning()).isEmpty(); // not there yet: made 0700
        state.save(ID, manifest(tmp), new BackupCommit.Stored(10, "00"));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir))).isEqualTo("rwx------");
        assertThat(state.accessWarning()).isEmpty();
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-x--x"));
        assertThat(state.accessWarning()).hasValue(dir + " holds the plaintext manifest of the newest backup and is"
                + " accessible by its group and others (mode rwxr-x--x): make it accessible by its owner only (chmod 700 "
                + dir + ")");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x---"));
        assertThat(state.accessWarning()).get().asString().contains("accessible by its group (mode rwx--x---)");
    }
}
