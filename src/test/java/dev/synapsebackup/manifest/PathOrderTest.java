package dev.synapsebackup.manifest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

class PathOrderTest {
    /** The definition: path components compared one by one as strings. */
    private static int byComponents(String a, String b) {
        String[] x = a.split("/", -1);
        String[] y = b.split("/", -1);
        for (int i = 0; i < Math.min(x.length, y.length); i++) {
            int c = x[i].compareTo(y[i]);
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(x.length, y.length);
    }

    @Test
    void aSubtreeSortsRightAfterItsDirectory() {
        assertThat(PathOrder.compare("a/b", "a-b/c")).isNegative();
        assertThat(PathOrder.compare("a", "a/b")).isNegative();
        assertThat(PathOrder.compare("a/b", "a")).isPositive();
        assertThat(PathOrder.compare("ab", "a/b")).isPositive();
        assertThat(PathOrder.compare("x/y", "x/y")).isZero();
    }

    @Test
    void agreesWithComponentOrderOnRandomPaths() {
        Random r = new Random(3);
        String alphabet = "ab-._/Z0";
        for (int i = 0; i < 200_000; i++) {
            String a = randomPath(r, alphabet);
            String b = r.nextInt(4) == 0 ? a + "/" + randomPath(r, alphabet) : randomPath(r, alphabet);
            assertThat(Integer.signum(PathOrder.compare(a, b))).as(a + " vs " + b)
                    .isEqualTo(Integer.signum(byComponents(a, b)));
        }
    }

    private static String randomPath(Random r, String alphabet) {
        StringBuilder b = new StringBuilder();
        int components = 1 + r.nextInt(4);
        for (int c = 0; c < components; c++) {
            if (c > 0) {
                b.append('/');
            }
            int len = 1 + r.nextInt(3);
            for (int i = 0; i < len; i++) {
                char ch = alphabet.charAt(r.nextInt(alphabet.length() - 1)); // no '/' inside a component
                b.append(ch);
            }
        }
        return b.toString();
    }
}
