package dev.synapsebackup.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.AnnotatedElementContext;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.io.TempDirFactory;

/**
 * {@code @TempDir(factory = TmpfsTempDirs.class)}: a temporary directory on tmpfs ({@code /dev/shm})
 * where the machine has one, else in the default temporary directory. For trees of many thousand
 * files, whose creation and removal on a disk with online discard can take minutes on a loaded machine.
 */
public final class TmpfsTempDirs implements TempDirFactory {
    private static final Path SHM = Path.of("/dev/shm");

    @Override
    public Path createTempDirectory(AnnotatedElementContext element, ExtensionContext extension) throws Exception {
        if (Files.isDirectory(SHM) && Files.isWritable(SHM)) {
            return Files.createTempDirectory(SHM, "junit-");
        }
        return Files.createTempDirectory("junit-");
    }
}
