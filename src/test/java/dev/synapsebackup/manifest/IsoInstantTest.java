package dev.synapsebackup.manifest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Random;
import org.junit.jupiter.api.Test;

class IsoInstantTest {
    @Test
    void formatsAndParsesExactlyAsTheJdk() {
        Random r = new Random(7);
        for (int i = 0; i < 200_000; i++) {
            long seconds = r.nextLong() % 253_402_300_800L; // within years 0000-9999 (and before 1970)
            int nano = switch (i % 4) {
                case 0 -> 0;
                case 1 -> r.nextInt(1000) * 1_000_000;
                case 2 -> r.nextInt(1_000_000) * 1000;
                default -> r.nextInt(1_000_000_000);
            };
            Instant t = Instant.ofEpochSecond(seconds, nano);
            String s = t.toString();
            assertThat(IsoInstant.format(t)).isEqualTo(s);
            assertThat(IsoInstant.parse(s)).isEqualTo(t);
        }
    }

    @Test
    void otherFractionsYearsAndMalformedInputFollowTheJdk() {
        assertThat(IsoInstant.parse("2026-11-26T10:24:25.3Z")).isEqualTo(Instant.parse("2026-11-26T10:24:25.3Z"));
        assertThat(IsoInstant.parse("2026-11-26T10:24:25.32302Z")).isEqualTo(Instant.parse("2026-11-26T10:24:25.32302Z"));
        Instant far = Instant.parse("+12026-01-01T00:00:00Z");
        assertThat(IsoInstant.format(far)).isEqualTo(far.toString());
        assertThat(IsoInstant.parse(far.toString())).isEqualTo(far);
        assertThatThrownBy(() -> IsoInstant.parse("2026-13-26T10:24:25Z")).isInstanceOf(java.time.DateTimeException.class);
        assertThatThrownBy(() -> IsoInstant.parse("2026-11-26T1x:24:25Z")).isInstanceOf(DateTimeParseException.class);
        assertThat(IsoInstant.parse("2026-11-26T10:24:25.Z")).isEqualTo(Instant.parse("2026-11-26T10:24:25.Z"));
    }
}
