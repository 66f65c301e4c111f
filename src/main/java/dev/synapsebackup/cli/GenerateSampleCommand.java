package dev.synapsebackup.cli;

import dev.synapsebackup.synapse.SampleHomeserver;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** Hidden helper for the demo and the benchmark: lays out a Synapse-like homeserver. */
@Command(name = "generate-sample", hidden = true, mixinStandardHelpOptions = true,
        description = "Generate a sample Synapse homeserver (config, signing key, SQLite database, media) in DIR.")
final class GenerateSampleCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Parameters(index = "0", paramLabel = "DIR", description = "Directory to generate into.")
    Path dir;

    @Option(names = "--media-files", description = "Local media files (default: ${DEFAULT-VALUE}).")
    int mediaFiles = SampleHomeserver.Options.defaults().localMediaFiles();

    @Option(names = "--media-mb", description = "Total local media size in MB (10^6 bytes; default: a few hundred KB).")
    Long mediaMb;

    @Option(names = "--remote-files", description = "Remote media files, which backups skip (default: ${DEFAULT-VALUE}).")
    int remoteFiles = SampleHomeserver.Options.defaults().remoteMediaFiles();

    @Option(names = "--db-mb", description = "Approximate database size in MiB (default: ${DEFAULT-VALUE}).")
    int dbMb = SampleHomeserver.Options.defaults().dbSizeMb();

    @Option(names = "--seed", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed = SampleHomeserver.Options.defaults().seed();

    @Override
    public Integer call() {
        SampleHomeserver.Options d = SampleHomeserver.Options.defaults();
        long bytes = mediaMb == null ? d.totalMediaBytes() : mediaMb * 1_000_000L;
        Path yaml = SampleHomeserver.generate(dir, new SampleHomeserver.Options(mediaFiles, bytes, remoteFiles, dbMb, seed));
        main.context().out().println(yaml);
        return 0;
    }
}
