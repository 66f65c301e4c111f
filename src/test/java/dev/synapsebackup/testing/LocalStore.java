package dev.synapsebackup.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** A local directory repository: each space is a directory, the repository a path below it. */
public final class LocalStore implements TestStore {
    private Path root;

    @Override
    public String name() {
        return "local directory";
    }

    @Override
    public void start() {
        try {
            root = Files.createTempDirectory("conformance-local-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        ProcessStore.deleteTree(root);
    }

    @Override
    public VirtualHosts virtualHosts() {
        return VirtualHosts.NOT_APPLICABLE;
    }

    @Override
    public Space newSpace(String name) {
        try {
            Path dir = Files.createDirectories(root.resolve(name));
            return new LocalSpace(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private record LocalSpace(Path dir) implements Space {
        @Override
        public List<String> repoArgs(String path) {
            return List.of("--repo", dir.resolve(path).toString());
        }

        @Override
        public List<String> virtualHostArgs(String path) {
            // No addressing style at all: asking for one is a configuration error.
            return List.of("--repo", dir.resolve(path).toString(), "--s3-uri-style", "host");
        }

        @Override
        public Path hostsFile() {
            throw new UnsupportedOperationException("a local directory has no host name");
        }

        @Override
        public Map<String, String> env() {
            return Map.of();
        }

        @Override
        public String secretKey() {
            return null;
        }

        @Override
        public void put(String key, byte[] content) {
            try {
                Path p = dir.resolve(key);
                Files.createDirectories(p.getParent());
                Files.write(p, content);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public void putAll(Collection<String> keys, byte[] content) {
            keys.forEach(k -> put(k, content));
        }

        @Override
        public List<String> keys() {
            try (Stream<Path> s = Files.walk(dir)) {
                return s.filter(Files::isRegularFile).map(p -> dir.relativize(p).toString()).sorted().toList();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
