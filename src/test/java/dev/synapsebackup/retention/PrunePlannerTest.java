package dev.synapsebackup.retention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.ConfigException;
import dev.synapsebackup.retention.PruneCandidate.Kind;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Keep/remove decisions for fixed dates, checked against lists worked out by hand from restic's rules. */
class PrunePlannerTest {
    private static final Instant NOW = Instant.parse("2024-06-01T00:00:00Z");

    private static PruneCandidate full(String time) {
        return new PruneCandidate(id(time), Instant.parse(time), Kind.FULL, Set.of());
    }

    private static PruneCandidate of(String time, Kind kind, String... deps) {
        return new PruneCandidate(id(time), Instant.parse(time), kind,
                Set.of(java.util.Arrays.stream(deps).map(PrunePlannerTest::id).toArray(String[]::new)));
    }

    /** A readable id: b-<time>. */
    private static String id(String time) {
        return "b-" + time;
    }

    private static List<String> ids(String... times) {
        List<String> r = new ArrayList<>();
        for (String t : times) {
            r.add(id(t));
        }
        return r;
    }

    private static KeepPolicy policy(int last, int hourly, int daily, int weekly, int monthly, int yearly, String within) {
        return new KeepPolicy(last, hourly, daily, weekly, monthly, yearly,
                within == null ? KeepPolicy.Within.NONE : KeepPolicy.Within.parse(within));
    }

    private static String reasons(PrunePlan plan, String time) {
        return String.join("; ", plan.decision(id(time)).orElseThrow().reasons());
    }

    /**
     * A retained backup is kept whatever the rules say, and so is the chain it needs; an ended
     * retention keeps nothing; a retained unfinished backup stays past its day.
     */
    @Test
    void retainedBackupsAreKeptWithWhatTheyNeed() {
        Instant until = NOW.plusSeconds(3600);
        PruneCandidate parent = full("2024-05-01T00:00:00Z");
        PruneCandidate child = of("2024-05-02T00:00:00Z", Kind.INCREMENTAL, "2024-05-01T00:00:00Z").retained(until);
        PruneCandidate expired = full("2024-05-03T00:00:00Z").retained(NOW);
        PruneCandidate unfinished = of("2024-05-04T00:00:00Z", Kind.UNFINISHED).retained(until);
        PruneCandidate newest = full("2024-05-05T00:00:00Z");
        PrunePlan plan = PrunePlanner.plan(List.of(parent, child, expired, unfinished, newest),
                policy(1, 0, 0, 0, 0, 0, null), NOW);
        assertThat(plan.kept()).containsExactlyElementsOf(ids("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z",
                "2024-05-04T00:00:00Z", "2024-05-05T00:00:00Z"));
        assertThat(plan.removed()).containsExactlyElementsOf(ids("2024-05-03T00:00:00Z"));
        assertThat(reasons(plan, "2024-05-02T00:00:00Z")).isEqualTo(PrunePlanner.RETAINED + until + " (S3 Object Lock)");
        assertThat(reasons(plan, "2024-05-01T00:00:00Z")).isEqualTo("needed by " + id("2024-05-02T00:00:00Z") + " (kept)");
        assertThat(plan.retained().keySet()).containsExactlyElementsOf(ids("2024-05-02T00:00:00Z", "2024-05-04T00:00:00Z"));
    }

    @Test
    void dailyKeepsTheNewestOfEachOfTheNewestDays() {
        PrunePlan plan = PrunePlanner.plan(List.of(
                full("2024-05-01T10:00:00Z"), full("2024-05-01T22:00:00Z"), full("2024-05-02T03:00:00Z"),
                full("2024-05-03T12:00:00Z"), full("2024-05-03T13:00:00Z")), policy(0, 0, 2, 0, 0, 0, null), NOW);
        assertThat(plan.kept()).containsExactly(id("2024-05-02T03:00:00Z"), id("2024-05-03T13:00:00Z"));
        assertThat(plan.removed()).containsExactlyElementsOf(ids("2024-05-01T10:00:00Z", "2024-05-01T22:00:00Z", "2024-05-03T12:00:00Z"));
        assertThat(reasons(plan, "2024-05-03T13:00:00Z")).isEqualTo("daily backup 2024-05-03 (1 of 2)");
        assertThat(reasons(plan, "2024-05-02T03:00:00Z")).isEqualTo("daily backup 2024-05-02 (2 of 2)");
        assertThat(reasons(plan, "2024-05-01T10:00:00Z")).isEqualTo("no keep rule matched");
        // oldest first, as printed
        assertThat(plan.decisions().get(0).id()).isEqualTo(id("2024-05-01T10:00:00Z"));
    }

    @Test
    void theOldestBackupIsKeptAdditionallyWhenFewerPeriodsExistThanRequested() {
        // restic >= 0.17: "If there are not enough snapshots to keep one for each duration related
        // --keep-{within-,}* option, the oldest snapshot in the group is kept additionally."
        PrunePlan plan = PrunePlanner.plan(List.of(
                full("2024-05-01T01:00:00Z"), full("2024-05-01T02:00:00Z"),
                full("2024-05-02T01:00:00Z"), full("2024-05-02T02:00:00Z"),
                full("2024-05-03T01:00:00Z"), full("2024-05-03T02:00:00Z")), policy(0, 0, 7, 0, 0, 0, null), NOW);
        assertThat(plan.kept()).containsExactlyElementsOf(ids("2024-05-01T01:00:00Z", "2024-05-01T02:00:00Z",
                "2024-05-02T02:00:00Z", "2024-05-03T02:00:00Z"));
        assertThat(reasons(plan, "2024-05-01T01:00:00Z")).startsWith("oldest backup, kept for daily because fewer than 7");
    }

    @Test
    void isoWeeksAcrossTheYearBoundaryAndSeveralReasons() {
        // 2023-12-31 is a Sunday of 2023-W52; 2024-01-01 (Mon) .. 2024-01-07 (Sun) is 2024-W01.
        PrunePlan plan = PrunePlanner.plan(List.of(
                full("2023-12-31T12:00:00Z"), full("2024-01-01T12:00:00Z"), full("2024-01-07T23:59:59Z"),
                full("2024-01-08T00:00:00Z")), policy(1, 0, 0, 2, 0, 0, null), NOW);
        assertThat(plan.kept()).containsExactlyElementsOf(ids("2024-01-07T23:59:59Z", "2024-01-08T00:00:00Z"));
        assertThat(reasons(plan, "2024-01-08T00:00:00Z")).isEqualTo("last backup (1 of 1); weekly backup 2024-W02 (1 of 2)");
        assertThat(reasons(plan, "2024-01-07T23:59:59Z")).isEqualTo("weekly backup 2024-W01 (2 of 2)");
    }

    @Test
    void resticStyleDailyWeeklyMonthlySchedule() {
        // One backup a day at 03:00 from 2024-01-01 to 2024-05-31, policy 7 daily / 4 weekly / 6 monthly.
        List<PruneCandidate> all = new ArrayList<>();
        for (Instant t = Instant.parse("2024-01-01T03:00:00Z"); t.isBefore(Instant.parse("2024-06-01T00:00:00Z"));
             t = t.plus(java.time.Duration.ofDays(1))) {
            all.add(full(t.toString()));
        }
        PrunePlan plan = PrunePlanner.plan(all, policy(0, 0, 7, 4, 6, 0, null), NOW);
        assertThat(plan.kept()).containsExactlyElementsOf(ids(
                "2024-01-01T03:00:00Z",                       // oldest: monthly still had count left
                "2024-01-31T03:00:00Z", "2024-02-29T03:00:00Z", "2024-03-31T03:00:00Z", "2024-04-30T03:00:00Z",  // monthly
                "2024-05-12T03:00:00Z", "2024-05-19T03:00:00Z",  // weekly (Sundays of W19, W20)
                "2024-05-25T03:00:00Z",                          // daily 7 and the Sunday of W21 (weekly 3)... see below
                "2024-05-26T03:00:00Z", "2024-05-27T03:00:00Z", "2024-05-28T03:00:00Z", "2024-05-29T03:00:00Z",
                "2024-05-30T03:00:00Z", "2024-05-31T03:00:00Z"));
        assertThat(reasons(plan, "2024-05-31T03:00:00Z"))
                .isEqualTo("daily backup 2024-05-31 (1 of 7); weekly backup 2024-W22 (1 of 4); monthly backup 2024-05 (1 of 6)");
        assertThat(reasons(plan, "2024-05-26T03:00:00Z")).isEqualTo("daily backup 2024-05-26 (6 of 7); weekly backup 2024-W21 (2 of 4)");
        assertThat(reasons(plan, "2024-05-25T03:00:00Z")).isEqualTo("daily backup 2024-05-25 (7 of 7)");
        assertThat(reasons(plan, "2024-05-19T03:00:00Z")).isEqualTo("weekly backup 2024-W20 (3 of 4)");
        assertThat(reasons(plan, "2024-05-12T03:00:00Z")).isEqualTo("weekly backup 2024-W19 (4 of 4)");
        assertThat(reasons(plan, "2024-01-31T03:00:00Z")).isEqualTo("monthly backup 2024-01 (5 of 6)");
        assertThat(reasons(plan, "2024-01-01T03:00:00Z")).startsWith("oldest backup, kept for monthly");
    }

    @Test
    void keepWithinIsRelativeToTheNewestBackupNotToNow() {
        PrunePlan plan = PrunePlanner.plan(List.of(
                full("2024-05-08T11:00:00Z"), full("2024-05-08T12:00:00Z"), full("2024-05-09T13:00:00Z"),
                full("2024-05-10T12:00:00Z")), policy(0, 0, 0, 0, 0, 0, "2d"), NOW);
        // cutoff = 2024-05-10T12:00 - 2d = 2024-05-08T12:00, strictly after (as restic)
        assertThat(plan.kept()).containsExactlyElementsOf(ids("2024-05-09T13:00:00Z", "2024-05-10T12:00:00Z"));
        assertThat(reasons(plan, "2024-05-09T13:00:00Z")).isEqualTo("within 2d of the newest backup (2024-05-10T12:00:00Z)");
    }

    @Test
    void keepWithinIgnoresBackupsInTheFutureForItsReferenceTime() {
        PrunePlan plan = PrunePlanner.plan(List.of(
                full("2024-05-20T00:00:00Z"), full("2024-05-30T00:00:00Z"), full("2024-07-01T00:00:00Z")),
                policy(0, 0, 0, 0, 0, 0, "3d"), NOW);
        assertThat(plan.kept()).containsExactlyElementsOf(ids("2024-05-30T00:00:00Z", "2024-07-01T00:00:00Z"));
    }

    @Test
    void withinSubtractsMonthsLikeGo() {
        // Go's AddDate normalises 2024-02-31 to 2024-03-02 (restic relies on it).
        assertThat(KeepPolicy.Within.parse("1m").subtractFrom(Instant.parse("2024-03-31T05:00:00Z")))
                .isEqualTo(Instant.parse("2024-03-02T05:00:00Z"));
        assertThat(KeepPolicy.Within.parse("1y2m3d4h").subtractFrom(Instant.parse("2024-06-10T12:00:00Z")))
                .isEqualTo(Instant.parse("2023-04-07T08:00:00Z"));
        assertThat(KeepPolicy.Within.parse("36h").toString()).isEqualTo("36h");
        assertThatThrownBy(() -> KeepPolicy.Within.parse("7 days")).isInstanceOf(ConfigException.class)
                .hasMessageContaining("--keep-within");
        assertThatThrownBy(() -> KeepPolicy.Within.parse("")).isInstanceOf(ConfigException.class);
    }

    @Test
    void anIncrementalKeepsTheBackupsItNeeds() {
        PrunePlan plan = PrunePlanner.plan(List.of(
                full("2024-05-01T00:00:00Z"),
                full("2024-05-02T00:00:00Z"),
                of("2024-05-03T00:00:00Z", Kind.INCREMENTAL, "2024-05-02T00:00:00Z"),
                of("2024-05-04T00:00:00Z", Kind.INCREMENTAL, "2024-05-02T00:00:00Z", "2024-05-03T00:00:00Z")),
                KeepPolicy.keepLast(1), NOW);
        assertThat(plan.kept()).containsExactlyElementsOf(ids("2024-05-02T00:00:00Z", "2024-05-03T00:00:00Z", "2024-05-04T00:00:00Z"));
        assertThat(plan.removed()).containsExactly(id("2024-05-01T00:00:00Z"));
        assertThat(reasons(plan, "2024-05-03T00:00:00Z")).isEqualTo("needed by b-2024-05-04T00:00:00Z (kept)");
        assertThat(reasons(plan, "2024-05-02T00:00:00Z"))
                .contains("needed by b-2024-05-04T00:00:00Z (kept)").contains("needed by b-2024-05-03T00:00:00Z (kept)");
    }

    @Test
    void dependenciesAreTransitiveAndMissingOnesAreReported() {
        PrunePlan plan = PrunePlanner.plan(List.of(
                full("2024-05-01T00:00:00Z"),
                of("2024-05-02T00:00:00Z", Kind.INCREMENTAL, "2024-05-01T00:00:00Z"),
                of("2024-05-03T00:00:00Z", Kind.INCREMENTAL, "2024-05-02T00:00:00Z", "2024-04-01T00:00:00Z")),
                KeepPolicy.keepLast(1), NOW);
        assertThat(plan.removed()).isEmpty();
        assertThat(reasons(plan, "2024-05-01T00:00:00Z")).isEqualTo("needed by b-2024-05-02T00:00:00Z (kept)");
        assertThat(plan.warnings()).singleElement().asString().contains("b-2024-04-01T00:00:00Z").contains("does not exist");
    }

    @Test
    void charmBackupsWithoutManifestArePrunedByDateLikeFullOnes() {
        PrunePlan plan = PrunePlanner.plan(List.of(
                of("2024-05-01T10:00:00Z", Kind.FOREIGN), of("2024-05-01T20:00:00Z", Kind.FULL),
                of("2024-05-02T10:00:00Z", Kind.FULL), of("2024-05-02T20:00:00Z", Kind.FOREIGN)),
                policy(0, 0, 2, 0, 0, 0, null), NOW);
        assertThat(plan.kept()).containsExactlyElementsOf(ids("2024-05-01T20:00:00Z", "2024-05-02T20:00:00Z"));
        assertThat(plan.decision(id("2024-05-02T20:00:00Z")).orElseThrow().kind()).isEqualTo(Kind.FOREIGN);
    }

    @Test
    void unfinishedBackupsAreRemovedAfterADayAndNeverCount() {
        PrunePlan plan = PrunePlanner.plan(List.of(
                of("2024-05-29T00:00:00Z", Kind.UNFINISHED),      // 3 days old
                full("2024-05-30T00:00:00Z"),
                full("2024-05-31T00:00:00Z"),
                of("2024-05-31T12:00:00Z", Kind.UNFINISHED)),     // 12 hours old
                KeepPolicy.keepLast(1), NOW);
        assertThat(plan.kept()).containsExactlyElementsOf(ids("2024-05-31T00:00:00Z", "2024-05-31T12:00:00Z"));
        assertThat(reasons(plan, "2024-05-29T00:00:00Z")).isEqualTo("unfinished backup older than 1 day");
        assertThat(reasons(plan, "2024-05-31T12:00:00Z")).isEqualTo("unfinished but younger than 1 day");
        assertThat(reasons(plan, "2024-05-31T00:00:00Z")).isEqualTo("last backup (1 of 1)");
    }

    @Test
    void unlimitedKeepsEveryPeriod() {
        PrunePlan plan = PrunePlanner.plan(List.of(
                full("2022-03-01T00:00:00Z"), full("2023-03-01T00:00:00Z"), full("2023-07-01T00:00:00Z"),
                full("2024-01-01T00:00:00Z")), policy(0, 0, 0, 0, 0, KeepPolicy.UNLIMITED, null), NOW);
        assertThat(plan.kept()).containsExactlyElementsOf(ids("2022-03-01T00:00:00Z", "2023-07-01T00:00:00Z", "2024-01-01T00:00:00Z"));
        assertThat(reasons(plan, "2023-07-01T00:00:00Z")).isEqualTo("yearly backup 2023 (2 of unlimited)");
    }

    @Test
    void hourlyUsesUtcHours() {
        PrunePlan plan = PrunePlanner.plan(List.of(
                full("2024-05-01T10:05:00Z"), full("2024-05-01T10:55:00Z"), full("2024-05-01T11:01:00Z")),
                policy(0, 2, 0, 0, 0, 0, null), NOW);
        assertThat(plan.kept()).containsExactlyElementsOf(ids("2024-05-01T10:55:00Z", "2024-05-01T11:01:00Z"));
        assertThat(reasons(plan, "2024-05-01T11:01:00Z")).isEqualTo("hourly backup 2024-05-01 11:00Z (1 of 2)");
    }

    @Test
    void anEmptyPolicyIsRefusedNamingTheFlags() {
        assertThatThrownBy(() -> PrunePlanner.plan(List.of(full("2024-05-01T00:00:00Z")), policy(0, 0, 0, 0, 0, 0, null), NOW))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("--keep-last").hasMessageContaining("--keep-daily").hasMessageContaining("--keep-within");
        assertThatThrownBy(() -> policy(-2, 0, 0, 0, 0, 0, null)).isInstanceOf(ConfigException.class).hasMessageContaining("--keep-last");
    }
}
