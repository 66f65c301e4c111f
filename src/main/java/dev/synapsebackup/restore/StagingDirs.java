package dev.synapsebackup.restore;

import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.archive.SafeExtractor;
import dev.synapsebackup.io.WorkDir;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** The directories a restore extracts into, one extractor each; staging directories are made new and removed again. */
final class StagingDirs {
    private final boolean staging;
    private final Map<Path, SafeExtractor> extractors = new LinkedHashMap<>();
    private final Set<Path> made = new HashSet<>();

    /** @param staging whether the directories are staging directories (else the --target directory) */
    StagingDirs(boolean staging) {
        this.staging = staging;
    }

    /** The extractor into {@code root}; a staging directory is created, and must not exist yet. */
    SafeExtractor extractor(Path root) throws IOException {
        SafeExtractor x = extractors.get(root);
        if (x == null) {
            if (staging) {
                if (Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
                    throw new SynapseBackupException("staging directory " + root + " already exists (an interrupted"
                            + " restore?): remove it and try again");
                }
                Files.createDirectories(root.getParent());
                made.add(root);
            }
            x = new SafeExtractor(root);
            extractors.put(root, x);
        }
        return x;
    }

    /** Applies the directories' recorded modes and times, once everything is extracted. */
    void finish() throws IOException {
        for (SafeExtractor x : extractors.values()) {
            x.finish();
        }
    }

    /** Removes the staging directories made. */
    void remove() {
        for (Path s : made) {
            makeWritable(s);
            WorkDir.deleteTemporary(s);
        }
        made.clear();
    }

    private static void makeWritable(Path root) {
        // finish() may have applied read-only directory modes; root can delete anyway, others cannot.
        try (var walk = Files.walk(root)) {
            walk.filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)).forEach(p -> {
                try {
                    Files.setAttribute(p, "unix:mode", 0700, LinkOption.NOFOLLOW_LINKS);
                } catch (IOException | UnsupportedOperationException ignored) {
                    // best effort
                }
            });
        } catch (IOException ignored) {
            // nothing to do
        }
    }
}
