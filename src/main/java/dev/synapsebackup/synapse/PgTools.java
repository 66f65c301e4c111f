package dev.synapsebackup.synapse;

import dev.synapsebackup.SynapseBackupException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds PostgreSQL's client programs ({@code pg_dump}, {@code pg_restore}, {@code psql}).
 *
 * <p>Search order: Debian's versioned directories {@code /usr/lib/postgresql/<major>/bin}, newest
 * major first, then {@code PATH}. The versioned directories come first because a newer
 * {@code pg_dump} can dump an older server but not the other way round, and Debian's
 * {@code /usr/bin/pg_dump} wrapper may choose an older installed version.
 */
public final class PgTools {
    /** Debian's root of versioned PostgreSQL installations. */
    public static final Path DEBIAN_ROOT = Path.of("/usr/lib/postgresql");

    private static final Pattern VERSION = Pattern.compile("\\(PostgreSQL\\)\\s+(\\d+)(?:\\.(\\d+))?");

    private final List<Path> searchDirs;
    private final Map<String, Path> found = new LinkedHashMap<>();

    /** Searches Debian's versioned directories (newest first), then {@code PATH}. */
    public static PgTools system() {
        List<Path> dirs = new ArrayList<>(debianBinDirs(DEBIAN_ROOT));
        String path = System.getenv("PATH");
        if (path != null) {
            for (String d : path.split(":")) {
                if (!d.isEmpty()) {
                    dirs.add(Path.of(d));
                }
            }
        }
        return new PgTools(dirs);
    }

    /** Searches exactly {@code searchDirs}, in order. */
    public PgTools(List<Path> searchDirs) {
        this.searchDirs = List.copyOf(searchDirs);
    }

    /** {@code <root>/<major>/bin} for every numeric {@code <major>}, newest first. */
    static List<Path> debianBinDirs(Path root) {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(root)) {
            return out;
        }
        List<Path> versions = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
            for (Path p : ds) {
                if (p.getFileName().toString().matches("\\d+(\\.\\d+)?")) {
                    versions.add(p);
                }
            }
        } catch (IOException e) {
            return out;
        }
        versions.sort(Comparator.comparingDouble((Path p) -> Double.parseDouble(p.getFileName().toString())).reversed());
        for (Path v : versions) {
            out.add(v.resolve("bin"));
        }
        return out;
    }

    /**
     * The path of {@code program} (e.g. {@code "pg_dump"}).
     *
     * @throws SynapseBackupException it is not installed (exit 1), naming where it was looked for
     */
    public synchronized Path find(String program) {
        Path p = found.get(program);
        if (p != null) {
            return p;
        }
        for (Path dir : searchDirs) {
            Path candidate = dir.resolve(program);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                found.put(program, candidate);
                return candidate;
            }
        }
        throw new SynapseBackupException(program + " not found (looked in " + DEBIAN_ROOT
                + "/*/bin and PATH): install the PostgreSQL client programs (Debian: apt install postgresql-client)");
    }

    /**
     * The major version of {@code program}, from its {@code --version} output
     * ({@code "pg_dump (PostgreSQL) 15.18 (Debian …)"}), and that output's first line.
     */
    public Version version(String program) {
        Path exe = find(program);
        ProcessBuilder pb = new ProcessBuilder(exe.toString(), "--version").redirectErrorStream(true);
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        dev.synapsebackup.config.ChildEnvironment.scrubForLibpq(pb.environment());
        String out;
        try {
            Process p = pb.start();
            try (InputStream in = p.getInputStream()) {
                out = new String(in.readNBytes(4096), StandardCharsets.UTF_8).trim();
            }
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new SynapseBackupException(exe + " --version did not finish within 30 s");
            }
        } catch (IOException e) {
            throw new SynapseBackupException("cannot run " + exe + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SynapseBackupException("interrupted while running " + exe + " --version");
        }
        String first = out.lines().findFirst().orElse("");
        Optional<Integer> major = parseMajor(first);
        if (major.isEmpty()) {
            throw new SynapseBackupException("cannot tell the version of " + exe + " from \"" + first + "\"");
        }
        return new Version(major.get(), first, exe);
    }

    static Optional<Integer> parseMajor(String versionLine) {
        Matcher m = VERSION.matcher(versionLine);
        return m.find() ? Optional.of(Integer.parseInt(m.group(1))) : Optional.empty();
    }

    /**
     * A client program's version.
     *
     * @param major major version (15 for 15.18)
     * @param text  first line of {@code --version}, e.g. {@code "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"}
     * @param path  the program that was asked
     */
    public record Version(int major, String text, Path path) {
    }
}
