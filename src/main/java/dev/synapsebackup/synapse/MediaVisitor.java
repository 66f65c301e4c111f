package dev.synapsebackup.synapse;

import java.io.IOException;

/** Receives the entries of {@link SynapseSources#walkMedia(MediaVisitor)}, in walk order. */
@FunctionalInterface
public interface MediaVisitor {
    /** Called once per directory (before its contents) and once per regular file. */
    void visit(MediaEntry entry) throws IOException;
}
