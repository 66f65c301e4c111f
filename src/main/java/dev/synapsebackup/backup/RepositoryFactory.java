package dev.synapsebackup.backup;

import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.repository.LocalRepository;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.repository.S3Repository;

/** Opens the repository a {@link ToolConfig} names. */
public final class RepositoryFactory {
    private RepositoryFactory() {
    }

    /** The S3 or local repository of {@code config}; the caller closes it. */
    public static Repository open(ToolConfig config) {
        if (config.s3().isPresent()) {
            return S3Repository.builder(config.s3().get()).build();
        }
        return new LocalRepository(config.repositoryDir().orElseThrow());
    }
}
