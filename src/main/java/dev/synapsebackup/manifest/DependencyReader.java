package dev.synapsebackup.manifest;

import java.util.Set;

/** Tells which other backups a backup needs bytes from (its manifest's {@code backup} fields). */
@FunctionalInterface
public interface DependencyReader {
    /**
     * The ids, other than {@code id} itself, of the backups whose data objects hold some of the
     * files of backup {@code id}. Only called for complete backups (those with a manifest).
     */
    Set<String> dependsOn(String id);
}
