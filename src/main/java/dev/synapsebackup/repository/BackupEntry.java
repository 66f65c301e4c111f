package dev.synapsebackup.repository;

import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * One backup as the repository listing sees it, before anything is decrypted.
 *
 * @param id           the backup id (the data object's key)
 * @param lastModified when the data object was stored
 * @param size         size of the data object in bytes
 * @param status       whether it is complete, unfinished, or made by another tool
 * @param kind         {@code full} or {@code incremental} as the data object's metadata says, or null
 * @param parent       an incremental backup's parent, or null
 */
public record BackupEntry(String id, Instant lastModified, long size, Status status, String kind, String parent) {
    /** What the repository can tell about a data object without decrypting it. */
    public enum Status {
        /** Our backup with its manifest: the commit marker arrived. */
        COMPLETE,
        /** Our format marker but no manifest: a run died between the two writes. */
        UNFINISHED,
        /** No manifest and no marker: made by another tool, such as the Synapse charm. */
        FOREIGN
    }

    public BackupEntry {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(lastModified, "lastModified");
        Objects.requireNonNull(status, "status");
    }

    /** An entry whose kind and parent are not known. */
    public BackupEntry(String id, Instant lastModified, long size, Status status) {
        this(id, lastModified, size, status, null, null);
    }

    /** Whether {@code <id>.manifest} exists. */
    public boolean hasManifest() {
        return status == Status.COMPLETE;
    }

    /**
     * What a backup whose manifest cannot be read may need: the chain its data objects' metadata
     * names (each incremental's parent, up to a full backup). An incremental backup's files all
     * lie in its ancestors, so that chain holds everything its manifest could refer to. Where the
     * metadata does not tell (an object written without it), every older complete backup is
     * assumed needed: keeping too much is safe, deleting a needed object is not. Prune and delete
     * rely on this where they cannot decrypt manifests, so create (with public keys) makes an
     * incremental only on a parent whose objects all lie in this chain.
     */
    public static Set<String> metadataChain(String id, List<BackupEntry> entries) {
        Map<String, BackupEntry> byId = new HashMap<>();
        entries.forEach(e -> byId.put(e.id(), e));
        Set<String> deps = new TreeSet<>();
        BackupEntry e = byId.get(id);
        while (e != null) {
            if ("full".equals(e.kind())) {
                return deps;
            }
            if ("incremental".equals(e.kind()) && e.parent() != null) {
                if (!deps.add(e.parent())) {
                    return deps; // a loop in damaged metadata
                }
                e = byId.get(e.parent()); // a missing parent is kept as a dependency: the planner warns
                continue;
            }
            String before = e.id();
            for (BackupEntry o : entries) {
                if (o.status() == BackupEntry.Status.COMPLETE && o.id().compareTo(before) < 0) {
                    deps.add(o.id());
                }
            }
            return deps;
        }
        return deps;
    }
}
