package dev.synapsebackup.archive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.UnsafeEntryException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeExtractorTest {
    @TempDir
    Path tmp;
    Path root;
    Path outside;

    @BeforeEach
    void dirs() throws IOException {
        root = Files.createDirectory(tmp.resolve("root"));
        outside = Files.createDirectory(tmp.resolve("outside"));
    }

    /** A malicious archive built directly with Commons Compress (no name sanitising). */
    private static final class Evil {
        final ByteArrayOutputStream buf = new ByteArrayOutputStream();
        final TarArchiveOutputStream tar = new TarArchiveOutputStream(buf, "UTF-8");

        Evil() {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        }

        Evil file(String name, String content) throws IOException {
            return file(name, content, 0644);
        }

        Evil file(String name, String content, int mode) throws IOException {
            byte[] data = content.getBytes(StandardCharsets.UTF_8);
            TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_NORMAL, true);
            e.setSize(data.length);
            e.setMode(0100000 | mode);
            e.setModTime(java.nio.file.attribute.FileTime.from(java.time.Instant.parse("2024-02-03T04:05:06Z").plusSeconds(mode)));
            tar.putArchiveEntry(e);
            tar.write(data);
            tar.closeArchiveEntry();
            return this;
        }

        Evil special(String name, byte type, String link) throws IOException {
            TarArchiveEntry e = new TarArchiveEntry(name, type, true);
            if (link != null) {
                e.setLinkName(link);
            }
            tar.putArchiveEntry(e);
            tar.closeArchiveEntry();
            return this;
        }

        Evil dir(String name, int mode) throws IOException {
            TarArchiveEntry e = new TarArchiveEntry(name.endsWith("/") ? name : name + "/", TarConstants.LF_DIR, true);
            e.setMode(040000 | mode);
            tar.putArchiveEntry(e);
            tar.closeArchiveEntry();
            return this;
        }

        byte[] bytes() throws IOException {
            tar.close();
            return buf.toByteArray();
        }
    }

    /** Extracts every entry, collecting refusals instead of stopping at the first. */
    private List<String> extractAll(byte[] tar, SafeExtractor x) throws IOException {
        List<String> refusals = new ArrayList<>();
        try (TarReader r = new TarReader(new ByteArrayInputStream(tar))) {
            while (true) {
                TarReader.Entry e;
                try {
                    e = r.next();
                } catch (UnsafeEntryException ex) {
                    refusals.add(ex.getMessage());
                    continue;
                }
                if (e == null) {
                    break;
                }
                try {
                    x.extract(e);
                } catch (UnsafeEntryException ex) {
                    assertThat(ex.exitCode()).isEqualTo(5);
                    refusals.add(ex.getMessage());
                }
            }
        }
        x.finish();
        return refusals;
    }

    private List<Path> everythingUnder(Path p) throws IOException {
        try (Stream<Path> s = Files.walk(p)) {
            return s.filter(q -> !q.equals(p)).toList();
        }
    }

    @Test
    void refusesDotDotNamesAndWritesNothingOutside() throws IOException {
        byte[] tar = new Evil().file("../x", "a").file("a/../../y", "b").file("ok/../../../z", "c")
                .file("fine", "d").bytes();
        List<String> refusals = extractAll(tar, new SafeExtractor(root));
        assertThat(refusals).hasSize(3);
        assertThat(refusals.get(0)).contains("\"../x\"").contains("..");
        assertThat(refusals.get(1)).contains("\"a/../../y\"");
        assertThat(tmp.resolve("x")).doesNotExist();
        assertThat(tmp.resolve("y")).doesNotExist();
        assertThat(everythingUnder(root)).containsExactly(root.resolve("fine"));
        assertThat(everythingUnder(outside)).isEmpty();
    }

    @Test
    void absoluteNamesLandInsideTheRootAsWithGnuTar() throws IOException {
        byte[] tar = new Evil().file("/etc/passwd", "root:x:0:0").file("//double//slash", "d")
                .file("./dot/./name", "n").bytes();
        assertThat(extractAll(tar, new SafeExtractor(root))).isEmpty();
        assertThat(root.resolve("etc/passwd")).hasContent("root:x:0:0");
        assertThat(root.resolve("double/slash")).hasContent("d");
        assertThat(root.resolve("dot/name")).hasContent("n");
    }

    @Test
    void refusesLinksDevicesAndFifos() throws IOException {
        byte[] tar = new Evil()
                .special("link", TarConstants.LF_SYMLINK, outside.toString())
                .special("hard", TarConstants.LF_LINK, "/etc/shadow")
                .special("tty", TarConstants.LF_CHR, null)
                .special("disk", TarConstants.LF_BLK, null)
                .special("pipe", TarConstants.LF_FIFO, null)
                .bytes();
        List<String> refusals = extractAll(tar, new SafeExtractor(root));
        assertThat(refusals).hasSize(5);
        assertThat(refusals.get(0)).contains("\"link\"", "symbolic link");
        assertThat(refusals.get(1)).contains("\"hard\"", "hard link");
        assertThat(refusals.get(2)).contains("\"tty\"", "device");
        assertThat(refusals.get(3)).contains("\"disk\"", "device");
        assertThat(refusals.get(4)).contains("\"pipe\"", "FIFO");
        assertThat(everythingUnder(root)).isEmpty();
    }

    @Test
    void symlinkEntryFollowedByAFileThroughItStaysInside() throws IOException {
        byte[] tar = new Evil().special("evil", TarConstants.LF_SYMLINK, outside.toString())
                .file("evil/owned", "pwned").bytes();
        List<String> refusals = extractAll(tar, new SafeExtractor(root));
        assertThat(refusals).hasSize(1);
        assertThat(everythingUnder(outside)).isEmpty();
        assertThat(Files.isSymbolicLink(root.resolve("evil"))).isFalse();
        assertThat(root.resolve("evil/owned")).hasContent("pwned");
    }

    @Test
    void refusesAParentThatIsASymlinkInTheDestination() throws IOException {
        Files.createSymbolicLink(root.resolve("evil"), outside);
        Files.createDirectories(root.resolve("a"));
        Files.createSymbolicLink(root.resolve("a/b"), outside);
        byte[] tar = new Evil().file("evil/owned", "pwned").file("a/b/c/owned", "pwned")
                .dir("evil/sub", 0755).bytes();
        List<String> refusals = extractAll(tar, new SafeExtractor(root));
        assertThat(refusals).hasSize(3);
        assertThat(refusals.get(0)).contains("\"evil/owned\"", "symbolic link");
        assertThat(refusals.get(1)).contains("\"a/b/c/owned\"", "symbolic link");
        assertThat(everythingUnder(outside)).isEmpty();
    }

    @Test
    void replacesAnExistingSymlinkAtTheTargetInsteadOfWritingThroughIt() throws IOException {
        Path victim = Files.writeString(outside.resolve("victim"), "original");
        Files.createSymbolicLink(root.resolve("leaf"), victim);
        byte[] tar = new Evil().file("leaf", "new content").bytes();
        assertThat(extractAll(tar, new SafeExtractor(root))).isEmpty();
        assertThat(victim).hasContent("original");
        assertThat(Files.isSymbolicLink(root.resolve("leaf"))).isFalse();
        assertThat(root.resolve("leaf")).hasContent("new content");
    }

    /** Exact bits whether or not the umask would keep them (no chmod when it does), and the mtime. */
    @Test
    void filesGetTheirExactModeAndMtime() throws IOException {
        int[] modes = {0644, 0600, 0444, 0000, 0666, 0777, 0750, 04755, 02750, 01644};
        Evil tar = new Evil();
        for (int m : modes) {
            tar.file("m" + Integer.toOctalString(m), "mode " + m, m);
        }
        assertThat(extractAll(tar.bytes(), new SafeExtractor(root))).isEmpty();
        for (int m : modes) {
            Path p = root.resolve("m" + Integer.toOctalString(m));
            assertThat((Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777)
                    .as(Integer.toOctalString(m)).isEqualTo(m);
            assertThat(Files.getLastModifiedTime(p).toInstant())
                    .isEqualTo(java.time.Instant.parse("2024-02-03T04:05:06Z").plusSeconds(m));
            assertThat(Files.readAllBytes(p)).isEqualTo(("mode " + m).getBytes(StandardCharsets.UTF_8));
        }
    }

    /**
     * A default ACL on the destination masks the mode a file is created with, whatever the umask:
     * the extractor must still end with the archive's exact bits.
     */
    @Test
    void exactModesUnderADefaultAcl() throws Exception {
        Process p = new ProcessBuilder("setfacl", "-d", "-m", "u::rwx,g::---,o::---", root.toString())
                .redirectErrorStream(true).start();
        org.junit.jupiter.api.Assumptions.assumeTrue(p.waitFor() == 0, "setfacl (package acl) with ACL support");
        byte[] tar = new Evil().file("shared", "x", 0644).file("private", "y", 0600).bytes();
        assertThat(extractAll(tar, new SafeExtractor(root))).isEmpty();
        assertThat((Integer) Files.getAttribute(root.resolve("shared"), "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777)
                .isEqualTo(0644);
        assertThat((Integer) Files.getAttribute(root.resolve("private"), "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777)
                .isEqualTo(0600);
    }

    @Test
    void aFileOverAnExistingDirectoryIsRefusedAndTheDirectoryKept() throws IOException {
        Files.createDirectories(root.resolve("d"));
        Files.writeString(root.resolve("d/inner"), "kept");
        Files.createDirectories(root.resolve("empty"));
        byte[] tar = new Evil().file("d", "x").file("empty", "y").file("old", "replaced").bytes();
        Files.writeString(root.resolve("old"), "before");
        List<String> refusals = extractAll(tar, new SafeExtractor(root));
        assertThat(refusals).hasSize(2).allSatisfy(r -> assertThat(r).contains("a directory of that name exists"));
        assertThat(root.resolve("d/inner")).hasContent("kept");
        assertThat(root.resolve("empty")).isDirectory();
        assertThat(root.resolve("old")).hasContent("replaced");
    }

    @Test
    void refusesDirectoryEntryOverASymlink() throws IOException {
        Files.createSymbolicLink(root.resolve("d"), outside);
        byte[] tar = new Evil().dir("d", 0777).bytes();
        List<String> refusals = extractAll(tar, new SafeExtractor(root));
        assertThat(refusals).singleElement().asString().contains("\"d/\"");
        // the mode of the link target was not touched
        assertThat((Integer) Files.getAttribute(outside, "unix:mode") & 0777).isNotEqualTo(0777);
    }

    @Test
    void allowedPathPredicateRefusesEverythingElse() throws IOException {
        byte[] tar = new Evil().file("etc/matrix-synapse/homeserver.yaml", "ok")
                .file("etc/shadow", "no").file(".synapse-backup/manifest.json", "{}").bytes();
        SafeExtractor x = new SafeExtractor(root, p -> p.startsWith("etc/matrix-synapse/"));
        List<String> refusals = extractAll(tar, x);
        assertThat(refusals).hasSize(2);
        assertThat(refusals.get(0)).contains("\"etc/shadow\"", "outside the paths");
        assertThat(refusals.get(1)).contains(".synapse-backup/manifest.json");
        assertThat(root.resolve("etc/matrix-synapse/homeserver.yaml")).hasContent("ok");
        assertThat(root.resolve("etc/shadow")).doesNotExist();
    }

    @Test
    void readOnlyDirectoriesGetTheirModeAfterTheirContents() throws IOException {
        byte[] tar = new Evil().dir("ro", 0555).file("ro/inside", "x").dir("ro/sub", 0500)
                .file("ro/sub/deeper", "y").bytes();
        assertThat(extractAll(tar, new SafeExtractor(root))).isEmpty();
        assertThat(root.resolve("ro/sub/deeper")).hasContent("y");
        assertThat((Integer) Files.getAttribute(root.resolve("ro"), "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777)
                .isEqualTo(0555);
        assertThat((Integer) Files.getAttribute(root.resolve("ro/sub"), "unix:mode") & 07777).isEqualTo(0500);
    }

    @Test
    void unsafeNamesAreRefusedByTheReaderItself() {
        assertThatThrownBy(() -> TarReader.normalise("a\0b")).isInstanceOf(UnsafeEntryException.class)
                .hasMessageContaining("NUL");
        assertThatThrownBy(() -> TarReader.normalise("x/..")).isInstanceOf(UnsafeEntryException.class);
        assertThat(TarReader.normalise("/./a//b/")).isEqualTo("a/b");
    }

    @Test
    void fileNamedDotIsAnEmptyNameAndRefused() throws IOException {
        byte[] tar = new Evil().file(".", "x").bytes();
        List<String> refusals = extractAll(tar, new SafeExtractor(root));
        assertThat(refusals).singleElement().asString().contains("empty name");
        assertThat(everythingUnder(root)).isEmpty();
    }

    @Test
    void truncatedContentIsAnIntegrityFailureAndLeavesNoPartialFile() throws IOException {
        byte[] full = new Evil().file("big", "x".repeat(100_000)).bytes();
        byte[] cut = Arrays.copyOf(full, 50_000);
        SafeExtractor x = new SafeExtractor(root);
        try (TarReader r = new TarReader(new ByteArrayInputStream(cut))) {
            TarReader.Entry e = r.next();
            assertThatThrownBy(() -> x.extract(e)).isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("\"big\"").hasMessageContaining("truncated");
        }
        assertThat(root.resolve("big")).doesNotExist();
    }
}
