package dev.synapsebackup.testing;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A realistic slice of Synapse's PostgreSQL schema with rows, and per-table checksums to compare databases. */
public final class SynapseSchema {
    private SynapseSchema() {
    }

    public static final List<String> TABLES = List.of("users", "rooms", "events", "e2e_one_time_keys_json", "schema_version");
    /** A stable order for each table's checksum. */
    public static final Map<String, String> ORDER = Map.of("users", "name", "rooms", "room_id", "events", "stream_ordering",
            "e2e_one_time_keys_json", "user_id, device_id, key_id", "schema_version", "version");

    public static final String SCHEMA = """
            CREATE TABLE schema_version (lock CHAR(1) NOT NULL DEFAULT 'X' UNIQUE, version INTEGER NOT NULL,
                upgraded BOOL NOT NULL, CHECK (lock = 'X'));
            CREATE TABLE users (name TEXT PRIMARY KEY, password_hash TEXT, creation_ts BIGINT, admin SMALLINT
                DEFAULT 0 NOT NULL, displayname TEXT, avatar BYTEA);
            CREATE TABLE rooms (room_id TEXT PRIMARY KEY, is_public BOOL, creator TEXT REFERENCES users(name),
                room_version TEXT);
            CREATE SEQUENCE events_stream_seq;
            CREATE TABLE events (stream_ordering BIGINT PRIMARY KEY DEFAULT nextval('events_stream_seq'),
                event_id TEXT NOT NULL UNIQUE, room_id TEXT NOT NULL REFERENCES rooms(room_id), type TEXT NOT NULL,
                sender TEXT NOT NULL, origin_server_ts BIGINT, json JSONB NOT NULL);
            CREATE INDEX events_room_idx ON events (room_id, stream_ordering);
            CREATE TABLE e2e_one_time_keys_json (user_id TEXT NOT NULL, device_id TEXT NOT NULL,
                algorithm TEXT NOT NULL, key_id TEXT NOT NULL, ts_added_ms BIGINT NOT NULL, key_json TEXT NOT NULL,
                UNIQUE (user_id, device_id, algorithm, key_id));
            """;

    public static final String DATA = """
            INSERT INTO schema_version VALUES ('X', 83, true);
            INSERT INTO users SELECT '@user' || i || ':example.org', md5(i::text), 1700000000000 + i, (i % 50 = 0)::int,
                'Ünïcødé ' || i || ' 🐈', decode(md5(i::text), 'hex') FROM generate_series(1, 2000) i;
            INSERT INTO rooms SELECT '!room' || i || ':example.org', i % 3 = 0, '@user' || (i % 2000 + 1) || ':example.org', '10'
                FROM generate_series(1, 200) i;
            INSERT INTO events (event_id, room_id, type, sender, origin_server_ts, json)
                SELECT '$ev' || i || md5(i::text), '!room' || (i % 200 + 1) || ':example.org', 'm.room.message',
                    '@user' || (i % 2000 + 1) || ':example.org', 1700000000000 + i,
                    jsonb_build_object('body', md5(i::text) || md5((i * 7)::text) || md5((i * 13)::text), 'n', i)
                FROM generate_series(1, 60000) i;
            INSERT INTO e2e_one_time_keys_json SELECT '@user' || (i % 100 + 1) || ':example.org', 'DEV' || (i % 7),
                'signed_curve25519', 'AAAA' || i, 1700000000000, '{"key":"' || md5(i::text) || '"}'
                FROM generate_series(1, 3000) i;
            """;

    /** Per table: "count|md5 of all rows in a stable order". */
    public static Map<String, String> snapshot(PostgresServer pg, String db) throws Exception {
        Map<String, String> out = new LinkedHashMap<>();
        for (String t : TABLES) {
            out.put(t, pg.superSql(db, "SELECT count(*) || '|' || coalesce(md5(string_agg(t::text, ',' ORDER BY "
                    + ORDER.get(t) + ")), '-') FROM " + t + " t"));
        }
        return out;
    }
}
