package dev.synapsebackup.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A key pair made by the real gpg in a throwaway GnuPG home: its public key exported as
 * {@code gpg --export --armor} writes it, its secret key as {@code gpg --export-secret-keys}
 * writes it, and gpg itself for decrypting and encrypting. Kill the agent with {@link #close()}.
 */
public final class GpgKeys implements AutoCloseable {
    /** Key kinds gpg 2.2 makes. */
    public enum Kind {
        /** rsa3072 primary [SC] and an rsa3072 subkey [E]. */
        RSA,
        /** ed25519 primary [SC] and a cv25519 (ECDH) subkey [E]. */
        CV25519,
        /** rsa3072 primary [SC] only: no key can encrypt. */
        SIGN_ONLY
    }

    public final Path home;
    /** The key's passphrase ("" for none), as a file for gpg's loopback pinentry. */
    public final Path passFile;
    public final String fingerprint;
    public final Path publicKey;
    public final Path secretKeyArmored;
    public final Path secretKeyBinary;

    /**
     * Makes a key in {@code dir}/{@code name}.
     *
     * @param passphrase protects the secret key; "" for an unprotected key
     */
    public GpgKeys(Path dir, String name, Kind kind, String passphrase) throws IOException {
        Path base = Files.createDirectories(dir.resolve(name));
        home = Files.createDirectory(base.resolve("gnupg"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        passFile = base.resolve("key-passphrase");
        Files.writeString(passFile, passphrase + "\n");
        String uid = name + " <" + name + "@example.org>";
        String primary = kind == Kind.CV25519 ? "ed25519" : "rsa3072";
        ok(gpg("--quick-gen-key", uid, primary, "sign,cert", "never"));
        Procs.Result list = gpg("--list-keys", "--with-colons", uid);
        ok(list);
        String fpr = null;
        for (String line : list.stdout().split("\n")) {
            if (line.startsWith("fpr:")) {
                fpr = line.split(":")[9];
                break;
            }
        }
        fingerprint = fpr;
        if (kind != Kind.SIGN_ONLY) {
            ok(gpg("--quick-add-key", fingerprint, kind == Kind.CV25519 ? "cv25519" : "rsa3072", "encr", "never"));
        }
        publicKey = base.resolve("public.asc");
        Procs.Result pub = gpg("--export", "--armor", fingerprint);
        ok(pub);
        Files.writeString(publicKey, pub.stdout());
        secretKeyArmored = base.resolve("secret.asc");
        ok(gpg("--output", secretKeyArmored.toString(), "--export-secret-keys", "--armor", fingerprint));
        secretKeyBinary = base.resolve("secret.gpg");
        ok(gpg("--output", secretKeyBinary.toString(), "--export-secret-keys", fingerprint));
    }

    public Map<String, String> env() {
        return Map.of("GNUPGHOME", home.toString());
    }

    /** gpg --batch with loopback pinentry and the key's passphrase file. */
    public List<String> cmd(String... args) {
        List<String> cmd = new ArrayList<>(List.of("gpg", "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback",
                "--passphrase-file", passFile.toString()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    public Procs.Result gpg(String... args) {
        return Procs.run(cmd(args), (byte[]) null, env(), null);
    }

    /** gpg with {@code stdin} fed in. */
    public Procs.Result gpg(byte[] stdin, String... args) {
        return Procs.run(cmd(args), stdin, env(), null);
    }

    private static void ok(Procs.Result r) {
        assertThat(r.exitCode()).as(r.toString()).isZero();
    }

    @Override
    public void close() {
        Procs.run(List.of("gpgconf", "--kill", "gpg-agent"), (byte[]) null, env(), null);
    }
}
