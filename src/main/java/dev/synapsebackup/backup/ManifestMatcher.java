package dev.synapsebackup.backup;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Checks a data object's tar entries against its manifest in one pass. Both are in the same
 * order (the manifest is written as the tar is), so only the current record is in memory. An
 * entry repeated right after itself supersedes the earlier copy (a file re-read because it
 * changed while being archived), as GNU tar's extraction does.
 */
final class ManifestMatcher {
    private static final int MAX_REPORTED = 20;

    private final Iterator<ManifestFile> expected;
    private final Set<String> skipped;
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
    ManifestMatcher(Iterator<ManifestFile> expected, Set<String> skipped) {
        this.expected = expected;
        this.skipped = skipped;
        this.next = expected.hasNext() ? expected.next() : null;
    }

    /** Whether {@code name} is a file entry the manifest expects (now or as a repeat). */
    boolean isExpected(String name) {
        return (pending != null && pending.path().equals(name)) || (next != null && next.path().equals(name));
    }

    /** The record an entry named {@code name} would be checked against, or null. */
    ManifestFile recordFor(String name) {
        if (pending != null && pending.path().equals(name)) {
            return pending;
        }
        if (next != null && next.path().equals(name)) {
            return next;
        }
        return null;
    }

    /** Reports one regular-file entry of the archive, with what was read of it. */
    void entry(String name, long size, String sha256) {
        if (pending != null && pending.path().equals(name)) {
            check(pending, size, sha256);
            return;
        }
        settlePending();
        if (skipped.contains(name)) {
            return;
        }
        if (next != null && next.path().equals(name)) {
            pending = next;
            next = expected.hasNext() ? expected.next() : null;
            check(pending, size, sha256);
            return;
        }
        problem("unexpected archive entry " + name + (next == null ? "" : " (the manifest expects " + next.path() + " next)"));
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
