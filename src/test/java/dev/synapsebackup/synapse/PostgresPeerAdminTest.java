package dev.synapsebackup.synapse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.config.PostgresAdmin;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.testing.PostgresServer;
import dev.synapsebackup.testing.SynapseSchema;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin connection as Synapse's docs use it: the client programs run as the OS user
 * {@code postgres} over the Unix socket with peer authentication ({@code postgres:
 * {admin-os-user: postgres}}), against a real server where Synapse connects to that socket with
 * its documented role and password.
 */
class PostgresPeerAdminTest {
    @RegisterExtension
    static final PostgresServer PG = new PostgresServer().withPeerSocket();

    @TempDir
    Path tmp;

    /** Synapse's config: the socket directory as host, as homeserver.yaml may have it. */
    DatabaseConfig.Postgres synapse(String db) {
        return new DatabaseConfig.Postgres(PG.socketDir().toString(), PG.port(), PostgresServer.DOC_USER,
                Secret.of(PostgresServer.DOC_PASSWORD), db, Map.of());
    }

    @Test
    void peerAdminCreatesTheMissingDatabaseOwnedBySynapsesRole() throws Exception {
        PG.createSynapseDatabase("src", PostgresServer.DOC_USER);
        PG.docSql("src", SynapseSchema.SCHEMA);
        PG.docSql("src", SynapseSchema.DATA);
        PgTools tools = new PgTools(List.of(PG.binDir()));
        ByteArrayOutputStream dump = new ByteArrayOutputStream();
        new PostgresDump(tools, 1 << 20, tmp).dump(synapse("src"), (name, data, size) -> data.transferTo(dump));

        // Without the admin connection: refused, nothing created.
        assertThatThrownBy(() -> new PostgresRestore(tools, tmp).preflight(synapse("dst"),
                PostgresRestore.Options.refuseExisting())).hasMessageContaining("sudo -u postgres createdb -h "
                        + PG.socketDir() + " -p " + PG.port());
        // An OS user that does not exist is named.
        assertThatThrownBy(() -> new PostgresRestore(tools, tmp, new PostgresAdmin("sbtest15b-none", null, null))
                .preflight(synapse("dst"), PostgresRestore.Options.refuseExisting()))
                .hasMessageContaining("client run as OS user \"sbtest15b-none\"");

        PostgresRestore restore = new PostgresRestore(tools, tmp, new PostgresAdmin("postgres", null, null));
        restore.preflight(synapse("dst"), PostgresRestore.Options.refuseExisting());
        PostgresRestore.Result r = restore.restore(synapse("dst"), new ByteArrayInputStream(dump.toByteArray()),
                PostgresRestore.Options.refuseExisting());
        assertThat(r.createdBy()).isEqualTo("admin");
        assertThat(PG.superSql("postgres", "SELECT pg_encoding_to_char(encoding), datcollate, datctype,"
                + " pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'dst'"))
                .isEqualTo("UTF8|C|C|" + PostgresServer.DOC_USER);
        Map<String, String> expected = new TreeMap<>(SynapseSchema.snapshot(PG, "src"));
        Map<String, String> got = new TreeMap<>(SynapseSchema.snapshot(PG, "dst"));
        assertThat(got.remove("e2e_one_time_keys_json")).isEqualTo("0|-");
        expected.remove("e2e_one_time_keys_json");
        assertThat(got).isEqualTo(expected);
    }
}
