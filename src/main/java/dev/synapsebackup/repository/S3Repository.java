package dev.synapsebackup.repository;
// TEMPORARY STUB - replaced by helper-a's implementation on merge
public abstract class S3Repository extends AbstractRepository {
    public static Builder builder(dev.synapsebackup.config.S3Parameters p) { return new Builder(); }
    public static final class Builder { public S3Repository build() { throw new UnsupportedOperationException(); } }
}
