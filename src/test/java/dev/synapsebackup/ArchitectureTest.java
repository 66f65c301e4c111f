package dev.synapsebackup;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The layering docs/ARCHITECTURE.md describes: a package uses only those before it, plus io and the root. */
class ArchitectureTest {
    /** In data-flow order, as in the table of docs/ARCHITECTURE.md. */
    private static final List<String> ORDER = List.of("config", "synapse", "archive", "crypto", "repository",
            "manifest", "create", "restore", "retention", "backup", "monitoring", "cli");
    private static final Pattern USE = Pattern.compile("dev\\.synapsebackup\\.([a-z]+)\\.[A-Z]");
    private static final Path MAIN = Path.of("src/main/java/dev/synapsebackup");

    @Test
    void eachPackageUsesOnlyThoseBeforeIt() throws IOException {
        List<String> violations = new ArrayList<>();
        try (Stream<Path> files = Files.walk(MAIN)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                Path dir = MAIN.relativize(f.getParent());
                String pkg = dir.toString();
                if (pkg.isEmpty() || pkg.equals("io")) {
                    // The root package and io are used by all: they use none of the others.
                    checkUsesNone(f, pkg, violations);
                    continue;
                }
                assertThat(ORDER).as("package %s is in the documented order", pkg).contains(pkg);
                Matcher m = USE.matcher(Files.readString(f));
                while (m.find()) {
                    String used = m.group(1);
                    if (!used.equals(pkg) && !used.equals("io") && ORDER.indexOf(used) > ORDER.indexOf(pkg)) {
                        violations.add(MAIN.relativize(f) + " uses " + used);
                    }
                }
            }
        }
        assertThat(violations).isEmpty();
    }

    private static void checkUsesNone(Path f, String pkg, List<String> violations) throws IOException {
        Matcher m = USE.matcher(Files.readString(f));
        while (m.find()) {
            if (!m.group(1).equals(pkg)) {
                violations.add(MAIN.relativize(f) + " uses " + m.group(1));
            }
        }
    }
}
