package dev.synapsebackup.create;

/** The tool's version, from the jar manifest ({@code dev} when run from class files). */
public final class ToolVersion {
    private ToolVersion() {
    }

    /** The version string. */
    public static String get() {
        String v = ToolVersion.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
