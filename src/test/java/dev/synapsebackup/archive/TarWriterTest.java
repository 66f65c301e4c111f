package dev.synapsebackup.archive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.io.Sha256;
import dev.synapsebackup.testing.Procs;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TarWriterTest {
    @TempDir
    Path tmp;

    @Test
    void gnuTarExtractsEveryFileExactlyAndWithoutWarnings() throws IOException {
        Path src = Files.createDirectory(tmp.resolve("src"));
        TarTestTrees.build(src);
        Path archive = tmp.resolve("out.tar");
        List<FileRecord> records;
        try (OutputStream out = Files.newOutputStream(archive); TarWriter w = new TarWriter(out)) {
            records = TarTestTrees.addTree(w, src, "srv/synapse/");
        }
        Path dest = Files.createDirectory(tmp.resolve("dest"));
        Procs.Result x = Procs.run(List.of("tar", "-xpf", archive.toString(), "-C", dest.toString()),
                (byte[]) null, Map.of(), null);
        assertThat(x.exitCode()).as(x.stderr()).isZero();
        assertThat(x.stderr()).isEmpty();
        assertThat(TarTestTrees.describe(dest.resolve("srv/synapse")))
                .isEqualTo(TarTestTrees.describe(src));
        assertThat(Files.exists(dest.resolve("srv/synapse/" + TarTestTrees.LONG_FILE))).isTrue();
        assertThat(("srv/synapse/" + TarTestTrees.LONG_FILE).length()).isGreaterThan(200);

        // the records describe what was archived
        FileRecord signing = records.stream()
                .filter(r -> r.path().equals("srv/synapse/example.org.signing.key")).findFirst().orElseThrow();
        assertThat(signing.mode()).isEqualTo(0600);
        assertThat(signing.size()).isEqualTo(22);
        assertThat(signing.sha256()).isEqualTo(Sha256.hexOf(Files.readAllBytes(src.resolve("example.org.signing.key"))));
        assertThat(signing.mtime()).isEqualTo(Instant.ofEpochSecond(1_600_000_100L));

        // GNU tar's listing: owner names, modes, no complaints
        Procs.Result tv = Procs.run(List.of("tar", "-tvf", archive.toString()), (byte[]) null, Map.of(), null);
        assertThat(tv.stderr()).isEmpty();
        String user = System.getProperty("user.name");
        assertThat(tv.stdout()).contains("-rw------- " + user + "/", "dr-xr-xr-x " + user + "/",
                "srv/synapse/" + TarTestTrees.UNICODE_FILE);

        // and our own reader agrees with the writer's records
        try (TarReader r = new TarReader(Files.newInputStream(archive))) {
            int i = 0;
            for (TarReader.Entry e = r.next(); e != null; e = r.next(), i++) {
                FileRecord expected = records.get(i);
                assertThat(e.name()).isEqualTo(expected.path());
                assertThat(e.mode()).isEqualTo(expected.mode());
                assertThat(e.mtime()).isEqualTo(expected.mtime());
                assertThat(e.size()).isEqualTo(expected.size());
                if (e.type() == TarReader.Type.FILE) {
                    try (InputStream in = e.content()) {
                        assertThat(Sha256.hexOf(in.readAllBytes())).isEqualTo(expected.sha256());
                    }
                }
            }
            assertThat(i).isEqualTo(records.size());
        }
    }

    @Test
    void noPaxRecordsThatGnuTarWouldWarnAbout() throws IOException {
        Path f = tmp.resolve("f");
        Files.writeString(f, "x");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (TarWriter w = new TarWriter(buf)) {
            w.addFile(f, "a/" + "n".repeat(150));
        }
        String raw = buf.toString(StandardCharsets.ISO_8859_1);
        assertThat(raw).contains(" path=a/").doesNotContain("atime=", "ctime=", "LIBARCHIVE", "SCHILY");
    }

    @Test
    void closeFinishesButLeavesTheTargetOpen() throws IOException {
        boolean[] closed = {false};
        ByteArrayOutputStream buf = new ByteArrayOutputStream() {
            @Override
            public void close() {
                closed[0] = true;
            }
        };
        TarWriter w = new TarWriter(buf);
        FileRecord rec = w.addBytes(".synapse-backup/manifest.json", "{}".getBytes(StandardCharsets.UTF_8),
                0600, Instant.ofEpochSecond(1_700_000_000L));
        w.close();
        w.close();
        assertThat(closed[0]).isFalse();
        assertThat(buf.size() % 512).isZero();
        assertThat(w.bytesWritten()).isEqualTo(buf.size());
        assertThat(rec.sha256()).isEqualTo(Sha256.hexOf("{}".getBytes(StandardCharsets.UTF_8)));
        assertThatThrownBy(() -> w.addBytes("x", new byte[1], 0600, Instant.now()))
                .isInstanceOf(IOException.class);

        Procs.Result x = Procs.run(List.of("tar", "-xOf", "-", ".synapse-backup/manifest.json"),
                buf.toByteArray(), Map.of(), null);
        assertThat(x.stderr()).isEmpty();
        assertThat(x.stdout()).isEqualTo("{}");
    }

    @Test
    void addStreamWritesExactlySizeBytesOrFails() throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (TarWriter w = new TarWriter(buf)) {
            assertThatThrownBy(() -> w.addStream("db.dump", new ByteArrayInputStream(new byte[10]), 20,
                    0600, Instant.now()))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("db.dump").hasMessageContaining("10 of 20");
        }
        ByteArrayOutputStream ok = new ByteArrayOutputStream();
        try (TarWriter w = new TarWriter(ok)) {
            // a longer stream is cut at the declared size
            w.addStream("db.dump", new ByteArrayInputStream(new byte[30]), 20, 0600, Instant.ofEpochSecond(5));
        }
        try (TarReader r = new TarReader(new ByteArrayInputStream(ok.toByteArray()))) {
            TarReader.Entry e = r.next();
            assertThat(e.size()).isEqualTo(20);
            assertThat(e.content().readAllBytes()).hasSize(20);
            assertThat(r.next()).isNull();
        }
    }

    @Test
    void refusesWhatIsNotARegularFileAndReportsVanishedOnes() throws IOException {
        Path target = tmp.resolve("target");
        Files.writeString(target, "t");
        Path link = Files.createSymbolicLink(tmp.resolve("link"), target);
        Path fifo = tmp.resolve("fifo");
        assertThat(Procs.run(List.of("mkfifo", fifo.toString()), (byte[]) null, Map.of(), null).exitCode()).isZero();
        try (TarWriter w = new TarWriter(OutputStream.nullOutputStream())) {
            assertThatThrownBy(() -> w.addFile(link, "link")).isInstanceOf(IOException.class)
                    .hasMessageContaining(link.toString());
            assertThatThrownBy(() -> w.addFile(fifo, "fifo")).isInstanceOf(IOException.class)
                    .hasMessageContaining(fifo.toString());
            assertThatThrownBy(() -> w.addFile(tmp.resolve("gone"), "gone"))
                    .isInstanceOf(NoSuchFileException.class);
            assertThatThrownBy(() -> w.addDirectory(target, "target"))
                    .isInstanceOf(IOException.class);
        }
    }

    @Test
    void fileThatChangesWhileBeingReadIsFlaggedAndPaddedToTheDeclaredSize() throws IOException {
        Path f = tmp.resolve("growing");
        Files.write(f, new byte[2 << 20]);
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        // a sink that truncates the file after the header went out (the file "shrinks" mid-read)
        OutputStream sabotage = new OutputStream() {
            boolean done;

            @Override
            public void write(int b) {
                buf.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                buf.write(b, off, len);
                if (!done && buf.size() > 0) {
                    done = true;
                    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                        raf.setLength(1000);
                    }
                }
            }
        };
        TarWriter.AddResult res;
        try (TarWriter w = new TarWriter(sabotage)) {
            res = w.addFile(f, "growing");
            w.addBytes("after", "after".getBytes(StandardCharsets.UTF_8), 0644, Instant.ofEpochSecond(1));
        }
        assertThat(res.changedWhileReading()).isTrue();
        assertThat(res.record().size()).isEqualTo(2 << 20);
        // the archive is still well-formed: GNU tar reads the next entry
        Procs.Result x = Procs.run(List.of("tar", "-xOf", "-", "after"), buf.toByteArray(), Map.of(), null);
        assertThat(x.stderr()).isEmpty();
        assertThat(x.stdout()).isEqualTo("after");
    }

    @Test
    void fileOver8GiBGetsAPaxSizeThatGnuTarAndTarReaderRead() throws IOException {
        long size = (8L << 30) + 12345;
        Path big = tmp.resolve("big.sparse");
        try (RandomAccessFile raf = new RandomAccessFile(big.toFile(), "rw")) {
            raf.setLength(size);
            raf.seek(0);
            raf.write("start".getBytes(StandardCharsets.US_ASCII));
            raf.seek(size - 5);
            raf.write("hello".getBytes(StandardCharsets.US_ASCII));
        }
        // keep only the first 8 KiB (headers) of the output, count the rest
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        long[] total = {0};
        OutputStream sink = new OutputStream() {
            @Override
            public void write(int b) {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                int keep = (int) Math.max(0, Math.min(len, 8192 - total[0]));
                head.write(b, off, keep);
                total[0] += len;
            }
        };
        TarWriter.AddResult res;
        try (TarWriter w = new TarWriter(sink)) {
            res = w.addFile(big, "var/lib/big.bin");
        }
        assertThat(res.record().size()).isEqualTo(size);
        // sha256 of "start" + zeros + "hello", computed once with sha256sum
        assertThat(res.record().sha256())
                .isEqualTo("8fbb3c835f13fe145ceef5a6bcac26dd1903d47c6295307cda6bd2a13251ad95");
        long contentBlocks = (size + 511) / 512 * 512;
        assertThat(total[0]).isGreaterThanOrEqualTo(1024 + contentBlocks + 1024);
        assertThat(total[0] % 512).isZero();

        try (TarReader r = new TarReader(new ByteArrayInputStream(head.toByteArray()))) {
            TarReader.Entry e = r.next();
            assertThat(e.name()).isEqualTo("var/lib/big.bin");
            assertThat(e.size()).isEqualTo(size);
        }
        // rebuild the archive as a sparse file (content is zeros except at both ends) so GNU
        // tar can list it by seeking
        Path sparseTar = tmp.resolve("big.tar");
        byte[] h = head.toByteArray();
        int dataStart = findDataStart(h);
        try (RandomAccessFile raf = new RandomAccessFile(sparseTar.toFile(), "rw")) {
            raf.setLength(total[0]);
            raf.write(h);
            raf.seek(dataStart + size - 5);
            raf.write("hello".getBytes(StandardCharsets.US_ASCII));
        }
        Procs.Result tv = Procs.run(List.of("tar", "-tvf", sparseTar.toString()), (byte[]) null, Map.of(), null);
        assertThat(tv.stderr()).isEmpty();
        assertThat(tv.stdout()).contains(" " + size + " ").contains("var/lib/big.bin");
        Files.delete(sparseTar);
        Files.delete(big);
    }

    /** Offset of the content: after the PAX header block(s) and the ustar header. */
    private static int findDataStart(byte[] h) {
        int off = 0;
        Map<Character, Integer> seen = new HashMap<>();
        while (true) {
            char type = (char) h[off + 156];
            long sz = Long.parseLong(new String(h, off + 124, 11, StandardCharsets.US_ASCII).trim(), 8);
            seen.merge(type, 1, Integer::sum);
            off += 512;
            if (type == 'x') {
                off += (int) ((sz + 511) / 512 * 512);
            } else {
                return off;
            }
        }
    }
}
