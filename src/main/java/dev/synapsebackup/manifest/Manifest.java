package dev.synapsebackup.manifest;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.io.LookAheadIterator;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The backup manifest (docs/FORMAT.md): a JSON document whose header fields come first, then the
 * {@code files} array in archive order, then {@code skipped} and the totals. It is written and
 * read as a stream so that its size never has to fit in memory.
 */
public final class Manifest {
    /** Current manifest format version (also the data object's {@code synapse-backup-format}). */
    public static final int FORMAT = 1;
    /** The manifest's entry inside the tar. */
    public static final String TAR_ENTRY = ".synapse-backup/manifest.json";
    /** The reserved directory inside the tar that a restore never writes into the live filesystem. */
    public static final String RESERVED_DIR = ".synapse-backup/";

    private static final JsonFactory FACTORY = new JsonFactory();
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private Manifest() {
    }

    /** Writes a manifest: header, then files one by one, then the trailer. */
    public static final class Writer implements Closeable {
        private final JsonGenerator gen;
        private long files;
        private long bytes;
        private long mediaObjects = -1;
        private long mediaBytes;
        private boolean finished;

        /** Starts the document with every header field of {@code h} (its trailer fields are ignored). */
        public Writer(OutputStream out, ManifestSummary h) throws IOException {
            gen = FACTORY.createGenerator(out);
            gen.setCodec(MAPPER);
            gen.writeStartObject();
            gen.writeNumberField("format", h.format());
            gen.writeStringField("backup-id", h.backupId());
            gen.writeStringField("created", h.created().toString());
            gen.writeStringField("tool-version", h.toolVersion());
            gen.writeStringField("server-name", h.serverName());
            gen.writeStringField("kind", h.kind());
            gen.writeStringField("parent", h.parent());
            gen.writeStringField("full-backup", h.fullBackup());
            gen.writeObjectField("roots", h.roots().toManifest());
            // Added within format 1: older readers ignore a field they do not know.
            gen.writeArrayFieldStart("directories");
            for (ManifestDirectory d : h.directories()) {
                gen.writeStartObject();
                gen.writeStringField("path", d.path());
                gen.writeStringField("mode", octal4(d.mode()));
                gen.writeNumberField("uid", d.uid());
                gen.writeNumberField("gid", d.gid());
                gen.writeStringField("owner", d.owner());
                gen.writeStringField("group", d.group());
                gen.writeStringField("mtime", IsoInstant.format(d.mtime()));
                gen.writeEndObject();
            }
            gen.writeEndArray();
            if (!h.media().isEmpty()) {
                // Added within format 1, like "directories".
                gen.writeArrayFieldStart("media-stores");
                for (MediaStore m : h.media().stores()) {
                    gen.writeObject(m.toManifest());
                }
                gen.writeEndArray();
            }
            gen.writeArrayFieldStart("files");
        }

        /**
         * Closes the files array and opens {@code media-objects}, the records of the S3-held
         * media, which follow in {@link MediaObject#name()} order ({@link MediaObject#KEY_ORDER}).
         */
        public void beginMedia() throws IOException {
            if (mediaObjects >= 0) {
                throw new IllegalStateException("media records already begun");
            }
            gen.writeEndArray();
            gen.writeArrayFieldStart("media-objects");
            mediaObjects = 0;
        }

        /** Appends one media object record (after {@link #beginMedia()}). */
        public void mediaObject(MediaObject m) throws IOException {
            if (mediaObjects < 0) {
                throw new IllegalStateException("beginMedia() first");
            }
            gen.writeStartObject();
            gen.writeNumberField("store", m.store());
            gen.writeStringField("key", m.key());
            gen.writeNumberField("size", m.size());
            gen.writeStringField("etag", m.eTag());
            if (m.storedETag() != null) {
                gen.writeStringField("stored-etag", m.storedETag());
            }
            if (m.sha256() != null) {
                gen.writeStringField("sha256", m.sha256());
            }
            gen.writeStringField("backup", m.backup());
            if (m.encrypted()) {
                gen.writeBooleanField("encrypted", true);
                gen.writeNumberField("stored-size", m.storedSize());
            }
            gen.writeEndObject();
            gen.writeRaw('\n');
            mediaObjects++;
            mediaBytes += m.size();
        }

        /** Appends one file record. */
        public void file(ManifestFile f) throws IOException {
            gen.writeStartObject();
            gen.writeStringField("path", f.path());
            gen.writeNumberField("size", f.size());
            gen.writeStringField("mtime", IsoInstant.format(f.mtime()));
            gen.writeStringField("mode", octal4(f.mode()));
            gen.writeNumberField("uid", f.uid());
            gen.writeNumberField("gid", f.gid());
            gen.writeStringField("sha256", f.sha256());
            gen.writeStringField("backup", f.backup());
            gen.writeEndObject();
            gen.writeRaw('\n');
            files++;
            bytes += f.size();
        }

        /**
         * Closes the files array and writes the trailer: how the database was captured (known only
         * once a PostgreSQL dump has streamed through), what was skipped, and the totals.
         */
        public void finish(DatabaseRecord database, List<ManifestSummary.Skipped> skipped) throws IOException {
            gen.writeEndArray(); // files, or media-objects
            gen.writeObjectField("database", database.fields());
            gen.writeArrayFieldStart("skipped");
            for (ManifestSummary.Skipped s : skipped) {
                gen.writeStartObject();
                gen.writeStringField("path", s.path());
                gen.writeStringField("reason", s.reason());
                gen.writeEndObject();
            }
            gen.writeEndArray();
            gen.writeNumberField("file-count", files);
            gen.writeNumberField("total-bytes", bytes);
            if (mediaObjects >= 0) {
                gen.writeNumberField("media-object-count", mediaObjects);
                gen.writeNumberField("media-bytes", mediaBytes);
            }
            gen.writeEndObject();
            gen.flush();
            finished = true;
        }

        /** Number of files written so far. */
        public long fileCount() {
            return files;
        }

        @Override
        public void close() throws IOException {
            if (!finished) {
                gen.close();
            } else {
                gen.flush();
            }
        }
    }

    /** Permission bits as 4 octal digits, like {@code "%04o"} (String.format is slow per file). */
    public static String octal4(int mode) {
        String o = Integer.toOctalString(mode);
        return o.length() >= 4 ? o : "0000".substring(o.length()) + o;
    }

    /** Reads everything but the files list. */
    public static ManifestSummary readSummary(Path file) {
        try (InputStream in = Files.newInputStream(file); JsonParser p = FACTORY.createParser(in)) {
            p.setCodec(MAPPER);
            expect(p, JsonToken.START_OBJECT);
            Map<String, Object> fields = new LinkedHashMap<>();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                p.nextToken();
                if (name.equals("files") || name.equals("media-objects")) {
                    p.skipChildren();
                } else {
                    fields.put(name, p.readValueAs(Object.class));
                }
            }
            return summary(fields);
        } catch (IOException | RuntimeException e) {
            throw new IntegrityException("the manifest is not valid: " + oneLine(e), e);
        }
    }

    @SuppressWarnings("unchecked")
    private static ManifestSummary summary(Map<String, Object> f) {
        List<ManifestSummary.Skipped> skipped = new ArrayList<>();
        Object s = f.get("skipped");
        if (s instanceof List<?> list) {
            for (Object o : list) {
                Map<String, Object> m = (Map<String, Object>) o;
                skipped.add(new ManifestSummary.Skipped(String.valueOf(m.get("path")), String.valueOf(m.get("reason"))));
            }
        }
        Number n = checkFormat(f.get("format"));
        return new ManifestSummary(
                n.intValue(),
                (String) f.get("backup-id"),
                Instant.parse((String) f.get("created")),
                (String) f.get("tool-version"),
                (String) f.get("server-name"),
                (String) f.get("kind"),
                (String) f.get("parent"),
                f.get("full-backup") == null ? (String) f.get("backup-id") : (String) f.get("full-backup"),
                Roots.fromManifest((Map<String, ?>) f.get("roots")),
                DatabaseRecord.fromManifest((Map<String, Object>) f.get("database")),
                skipped,
                ((Number) f.getOrDefault("file-count", 0)).longValue(),
                ((Number) f.getOrDefault("total-bytes", 0)).longValue(),
                directories(f.get("directories")),
                media(f));
    }

    @SuppressWarnings("unchecked")
    private static MediaSummary media(Map<String, Object> f) {
        if (!(f.get("media-stores") instanceof List<?> list)) {
            return MediaSummary.NONE;
        }
        List<MediaStore> stores = new ArrayList<>();
        for (Object o : list) {
            stores.add(MediaStore.fromManifest((Map<String, Object>) o));
        }
        return new MediaSummary(stores, ((Number) f.getOrDefault("media-object-count", 0)).longValue(),
                ((Number) f.getOrDefault("media-bytes", 0)).longValue());
    }

    @SuppressWarnings("unchecked")
    private static List<ManifestDirectory> directories(Object value) {
        List<ManifestDirectory> dirs = new ArrayList<>();
        if (value instanceof List<?> list) {
            for (Object o : list) {
                Map<String, Object> m = (Map<String, Object>) o;
                dirs.add(new ManifestDirectory((String) m.get("path"), Integer.parseInt((String) m.get("mode"), 8),
                        ((Number) m.get("uid")).intValue(), ((Number) m.get("gid")).intValue(),
                        (String) m.get("owner"), (String) m.get("group"), IsoInstant.parse((String) m.get("mtime"))));
            }
        }
        return dirs;
    }

    private static Number checkFormat(Object format) {
        if (!(format instanceof Number n) || n.intValue() < 1) {
            throw new IllegalArgumentException("missing or invalid \"format\"");
        }
        if (n.intValue() > FORMAT) {
            throw new IllegalArgumentException("manifest format " + n + " is newer than this tool understands (" + FORMAT + ")");
        }
        return n;
    }

    /**
     * The backup id a manifest names, its format checked: reads only the header (the first few
     * hundred bytes), where {@link #readSummary} reads the whole file.
     */
    public static String headerBackupId(Path file) {
        try (FileIterator it = files(file)) {
            checkFormat(it.fields.get("format"));
            if (!(it.fields.get("backup-id") instanceof String id)) {
                throw new IllegalArgumentException("missing \"backup-id\"");
            }
            return id;
        } catch (IOException | IllegalArgumentException e) {
            throw new IntegrityException("the manifest is not valid: " + oneLine(e), e);
        }
    }

    /** Streams the files list of a manifest file, in archive order. */
    public static FileIterator files(Path file) {
        try {
            return new FileIterator(Files.newInputStream(file));
        } catch (IOException e) {
            throw new IntegrityException("cannot read the manifest: " + e.getMessage(), e);
        }
    }

    private static void expect(JsonParser p, JsonToken t) throws IOException {
        if (p.nextToken() != t) {
            throw new IOException("expected " + t + " at " + p.currentLocation());
        }
    }

    /** An iterator over the manifest's file records; close it when done. */
    public static final class FileIterator extends LookAheadIterator<ManifestFile> implements Closeable {
        private final JsonParser p;
        /** The header fields read so far (those before {@code files}). */
        private final Map<String, Object> fields = new LinkedHashMap<>();

        FileIterator(InputStream in) {
            try {
                p = FACTORY.createParser(in);
                p.setCodec(MAPPER);
                expect(p, JsonToken.START_OBJECT);
                while (true) {
                    JsonToken t = p.nextToken();
                    if (t != JsonToken.FIELD_NAME) {
                        throw new IOException("no \"files\" array");
                    }
                    String name = p.currentName();
                    p.nextToken();
                    if (name.equals("files")) {
                        if (p.currentToken() != JsonToken.START_ARRAY) {
                            throw new IOException("\"files\" is not an array");
                        }
                        break;
                    }
                    fields.put(name, p.readValueAs(Object.class)); // header fields are small
                }
            } catch (IOException e) {
                throw new IntegrityException("the manifest is not valid: " + oneLine(e), e);
            }
        }

        /**
         * Everything but the files list, as {@link Manifest#readSummary} gives it: for one pass
         * over a manifest that needs both. Reads the trailer, so call it after the last record.
         *
         * @throws IllegalStateException records remain
         */
        public ManifestSummary summary() {
            if (hasNext()) {
                throw new IllegalStateException("file records remain");
            }
            if (media != null && media.hasNext()) {
                throw new IllegalStateException("media records remain");
            }
            try {
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    p.nextToken();
                    if (name.equals("media-objects")) {
                        p.skipChildren();
                    } else {
                        fields.put(name, p.readValueAs(Object.class));
                    }
                }
                return Manifest.summary(fields);
            } catch (IOException | RuntimeException e) {
                throw new IntegrityException("the manifest is not valid: " + oneLine(e), e);
            }
        }

        private MediaIterator media;

        /**
         * The {@code media-objects} records, in order; none in a manifest without S3-held media.
         * Call it after the last file record; then {@link #summary()} after the last media record.
         *
         * @throws IllegalStateException file records remain
         */
        public Iterator<MediaObject> media() {
            if (media != null) {
                return media;
            }
            if (hasNext()) {
                throw new IllegalStateException("file records remain");
            }
            Map<Integer, String> buckets = new HashMap<>();
            if (fields.get("media-stores") instanceof List<?> stores) {
                for (Object o : stores) {
                    if (o instanceof Map<?, ?> m && m.get("index") instanceof Number n && m.get("bucket") instanceof String b) {
                        buckets.put(n.intValue(), b);
                    }
                }
            }
            media = new MediaIterator(buckets, !fields.containsKey("media-stores"));
            return media;
        }

        /** Streams {@code media-objects} from where the files list ended. */
        private final class MediaIterator extends LookAheadIterator<MediaObject> {
            private final Map<Integer, String> buckets;
            private final boolean none;
            private boolean inArray;

            MediaIterator(Map<Integer, String> buckets, boolean none) {
                this.buckets = buckets;
                this.none = none;
            }

            @Override
            protected MediaObject advance() {
                if (none) {
                    return null;
                }
                try {
                    if (!inArray) {
                        // Fields between the files and the media records (none today) are kept for summary().
                        while (true) {
                            JsonToken t = p.nextToken();
                            if (t != JsonToken.FIELD_NAME) {
                                throw new IOException("the manifest has no \"media-objects\" after its files"
                                        + " although it names media stores");
                            }
                            String name = p.currentName();
                            p.nextToken();
                            if (name.equals("media-objects")) {
                                break;
                            }
                            fields.put(name, p.readValueAs(Object.class));
                        }
                        inArray = true;
                    }
                    JsonToken t = p.nextToken();
                    if (t == JsonToken.END_ARRAY) {
                        return null;
                    }
                    if (t != JsonToken.START_OBJECT) {
                        throw new IOException("media record expected at " + p.currentLocation());
                    }
                    int store = -1;
                    String key = null;
                    long size = -1;
                    String eTag = null;
                    String stored = null;
                    String sha = null;
                    String backup = null;
                    boolean encrypted = false;
                    long storedSize = -1;
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String name = p.currentName();
                        p.nextToken();
                        switch (name) {
                            case "store" -> store = p.getIntValue();
                            case "key" -> key = p.getText();
                            case "size" -> size = p.getLongValue();
                            case "etag" -> eTag = p.getText();
                            case "stored-etag" -> stored = p.getText();
                            case "sha256" -> sha = p.getText();
                            case "backup" -> backup = p.getText();
                            case "encrypted" -> encrypted = p.getValueAsBoolean();
                            case "stored-size" -> storedSize = p.getLongValue();
                            default -> p.skipChildren();
                        }
                    }
                    String bucket = buckets.get(store);
                    if (key == null || size < 0 || backup == null || bucket == null || (encrypted && storedSize < 0)) {
                        throw new IOException("incomplete media record" + (key == null ? "" : " for " + key));
                    }
                    return new MediaObject(store, bucket, key, size, eTag, stored, sha, backup, encrypted, storedSize);
                } catch (IOException | RuntimeException e) {
                    throw new IntegrityException("the manifest is not valid: " + oneLine(e), e);
                }
            }
        }

        @Override
        protected ManifestFile advance() {
            try {
                JsonToken t = p.nextToken();
                if (t == JsonToken.END_ARRAY) {
                    return null;
                }
                if (t != JsonToken.START_OBJECT) {
                    throw new IOException("file record expected at " + p.currentLocation());
                }
                String path = null;
                String sha = null;
                String backup = null;
                String mtime = null;
                String mode = null;
                long size = -1;
                int uid = 0;
                int gid = 0;
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    p.nextToken();
                    switch (name) {
                        case "path" -> path = p.getText();
                        case "size" -> size = p.getLongValue();
                        case "mtime" -> mtime = p.getText();
                        case "mode" -> mode = p.getText();
                        case "uid" -> uid = p.getIntValue();
                        case "gid" -> gid = p.getIntValue();
                        case "sha256" -> sha = p.getText();
                        case "backup" -> backup = p.getText();
                        default -> p.skipChildren();
                    }
                }
                if (path == null || sha == null || size < 0 || mtime == null || mode == null) {
                    throw new IOException("incomplete file record" + (path == null ? "" : " for " + path));
                }
                return new ManifestFile(path, size, IsoInstant.parse(mtime), Integer.parseInt(mode, 8), uid, gid, sha, backup);
            } catch (IOException | RuntimeException e) {
                throw new IntegrityException("the manifest is not valid: " + oneLine(e), e);
            }
        }

        @Override
        public void close() throws IOException {
            p.close();
        }
    }

    /** Jackson appends the source location on further lines; an error message is one line. */
    private static String oneLine(Exception e) {
        String m = e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
        if (m == null) {
            return e.toString();
        }
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    /** The tar entry name of a file: its absolute path without the leading {@code /}, as GNU tar writes it. */
    public static String entryName(Path absolute) {
        String s = absolute.toString();
        while (s.startsWith("/")) {
            s = s.substring(1);
        }
        return s;
    }
}
