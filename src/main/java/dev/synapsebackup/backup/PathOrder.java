package dev.synapsebackup.backup;

/**
 * The order of the media walk and of a manifest's media records: path components compared one by
 * one as strings, so that a directory's whole subtree sorts right after it and before its next
 * sibling. Comparing whole strings would not do: {@code a/b} must come before {@code a-b/c}
 * although {@code '/' > '-'}.
 */
final class PathOrder {
    private PathOrder() {
    }

    static int compare(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ie = a.indexOf('/', i);
            int je = b.indexOf('/', j);
            String ca = ie < 0 ? a.substring(i) : a.substring(i, ie);
            String cb = je < 0 ? b.substring(j) : b.substring(j, je);
            int c = ca.compareTo(cb);
            if (c != 0) {
                return c;
            }
            if (ie < 0 || je < 0) {
                return ie < 0 ? (je < 0 ? 0 : -1) : 1;
            }
            i = ie + 1;
            j = je + 1;
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }
}
