package dev.synapsebackup.restore;

import dev.synapsebackup.manifest.ManifestFile;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Checks a data object's tar entries against the manifest records assigned to it, in one pass.
 * The records are a subsequence of the entries, in the same order (a manifest is written as its
 * tar is), so only the current record is in memory. An entry repeated right after itself
 * supersedes the earlier copy (a file re-read because it changed while being archived), as GNU
 * tar's extraction does.
 *
 * <p>In strict mode (the backup's own data object) an entry the manifest does not expect is a
 * problem; otherwise (an older object of an incremental chain) such entries are simply not
 * wanted: they hold files that a later backup superseded or that were deleted.
 */
final class ManifestMatcher {
    private static final int MAX_REPORTED = 20;

    private final Iterator<ManifestFile> expected;
    private final Set<String> skipped;
    private final boolean strict;
    private ManifestFile next;
    private ManifestFile pending;
    private boolean pendingOk;
    private String pendingProblem;
    private final List<String> problems = new ArrayList<>();
    private long problemCount;
    private long matched;
    private long matchedBytes;

    /**
     * @param expected the manifest's records for this data object, in archive order
     * @param skipped  entry names of files the manifest lists as skipped (their entries are ignored)
     */
    ManifestMatcher(Iterator<ManifestFile> expected, Set<String> skipped, boolean strict) {
        this.expected = expected;
        this.skipped = skipped;
        this.strict = strict;
        this.next = expected.hasNext() ? expected.next() : null;
    }

    /**
     * Whether the file entry {@code name} is wanted: the next expected record, or a repeat of the
     * last one. An unwanted entry is reported in strict mode (unless the manifest lists it as
     * skipped) and must not be extracted.
     */
    boolean wants(String name) {
        if ((pending != null && pending.path().equals(name)) || (next != null && next.path().equals(name))) {
            return true;
        }
        if (strict && !skipped.contains(name)) {
            settlePending();
            problem("unexpected archive entry " + name + (next == null ? "" : " (the manifest expects " + next.path() + " next)"));
        }
        return false;
    }

    /** Reports one wanted regular-file entry of the archive, with what was read of it. */
    void entry(String name, long size, String sha256) {
        if (pending != null && pending.path().equals(name)) {
            check(pending, size, sha256);
            return;
        }
        settlePending();
        if (next != null && next.path().equals(name)) {
            pending = next;
            next = expected.hasNext() ? expected.next() : null;
            check(pending, size, sha256);
            return;
        }
        throw new IllegalStateException("entry " + name + " reported without wants()");
    }

    private void check(ManifestFile rec, long size, String sha256) {
        if (rec.size() != size) {
            pendingOk = false;
            pendingProblem = rec.path() + ": size " + size + " differs from the manifest's " + rec.size();
        } else if (!rec.sha256().equalsIgnoreCase(sha256)) {
            pendingOk = false;
            pendingProblem = rec.path() + ": SHA-256 differs from the manifest";
        } else {
            pendingOk = true;
            pendingProblem = null;
        }
    }

    private void settlePending() {
        if (pending == null) {
            return;
        }
        if (pendingOk) {
            matched++;
            matchedBytes += pending.size();
        } else {
            problem(pendingProblem);
        }
        pending = null;
    }

    /** The archive ended: every record not seen yet is missing. */
    void end() {
        settlePending();
        while (next != null) {
            problem("missing from the archive: " + next.path());
            next = expected.hasNext() ? expected.next() : null;
        }
    }

    void problem(String p) {
        problemCount++;
        if (problems.size() < MAX_REPORTED) {
            problems.add(p);
        }
    }

    List<String> problems() {
        return problems;
    }

    long problemCount() {
        return problemCount;
    }

    long matched() {
        return matched;
    }

    long matchedBytes() {
        return matchedBytes;
    }
}
