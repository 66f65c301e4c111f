package dev.synapsebackup.manifest;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.synapse.SynapseSources;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The manifest's {@code roots} (docs/FORMAT.md): the absolute source paths of a backup by role.
 *
 * @param config      the configuration files
 * @param signingKeys the signing keys
 * @param database    the SQLite database (empty for PostgreSQL, which has no path)
 * @param media       the media store's roots
 */
public record Roots(List<String> config, List<String> signingKeys, List<String> database, List<String> media) {
    /** No roots (a manifest without the field). */
    public static final Roots NONE = new Roots(List.of(), List.of(), List.of(), List.of());

    public Roots {
        config = List.copyOf(config);
        signingKeys = List.copyOf(signingKeys);
        database = List.copyOf(database);
        media = List.copyOf(media);
    }

    /** The roots of what {@code sources} backs up. */
    public static Roots of(SynapseSources sources) {
        Map<String, List<String>> roles = sources.roles();
        return fromManifest(new LinkedHashMap<>(roles));
    }

    /** Every root, in role order. */
    public List<Path> all() {
        List<Path> all = new ArrayList<>();
        for (List<String> paths : List.of(config, signingKeys, database, media)) {
            paths.forEach(p -> all.add(Path.of(p)));
        }
        return all;
    }

    /** The manifest form, by role name in the documented order; {@code database} only when there is one. */
    public Map<String, List<String>> toManifest() {
        Map<String, List<String>> m = new LinkedHashMap<>();
        m.put(SynapseSources.ROLE_CONFIG, config);
        m.put(SynapseSources.ROLE_SIGNING_KEY, signingKeys);
        if (!database.isEmpty()) {
            m.put(SynapseSources.ROLE_DATABASE, database);
        }
        m.put(SynapseSources.ROLE_MEDIA, media);
        return m;
    }

    /** Parses the manifest form; a role this version does not know is ignored. */
    static Roots fromManifest(Map<String, ?> m) {
        if (m == null) {
            return NONE;
        }
        return new Roots(paths(m, SynapseSources.ROLE_CONFIG), paths(m, SynapseSources.ROLE_SIGNING_KEY),
                paths(m, SynapseSources.ROLE_DATABASE), paths(m, SynapseSources.ROLE_MEDIA));
    }

    private static List<String> paths(Map<String, ?> m, String role) {
        Object v = m.get(role);
        if (v == null) {
            return List.of();
        }
        if (!(v instanceof List<?> list) || !list.stream().allMatch(String.class::isInstance)) {
            throw new IntegrityException("the manifest's roots." + role + " is not a list of paths");
        }
        return list.stream().map(String.class::cast).toList();
    }
}
