package dev.synapsebackup.manifest;

/**
 * The order of the media walk and of a manifest's media records: path components compared one by
 * one as strings, so that a directory's whole subtree sorts right after it and before its next
 * sibling. Comparing whole strings would not do: {@code a/b} must come before {@code a-b/c}
 * although {@code '/' > '-'}.
 */
public final class PathOrder {
    private PathOrder() {
    }

    public static int compare(String a, String b) {
        // Component-wise order is character order with '/' below every other character (a
        // component that is a prefix of another ends where the other goes on): no substrings.
        int n = Math.min(a.length(), b.length());
        for (int i = 0; i < n; i++) {
            char ca = a.charAt(i);
            char cb = b.charAt(i);
            if (ca != cb) {
                return (ca == '/' ? -1 : ca) - (cb == '/' ? -1 : cb);
            }
        }
        return Integer.compare(a.length(), b.length());
    }
}
