package io.condense.server.search;

import java.util.Locale;

/** One line per finished candidate, for the command's progress output. */
final class SearchLog {
    private SearchLog() {
    }

    static String line(CandidateResult result, SearchSpec spec) {
        if (!result.completed()) {
            return String.format(Locale.ROOT, "  %-9s %s: %s", result.state(), result.candidate().pipeline(),
                    String.join("; ", result.failures()));
        }
        return String.format(Locale.ROOT, "  %-9s %9d B  %11d MACs  %7.3f ms (%.2fx)  quality %.4f (drop %+.4f, bound %+.4f, %.1f dB)  %5.1f s  %s",
                result.meets() ? "meets" : "misses", result.bytes(), result.macs(), result.latencyMs(), result.latencyRatio(), result.quality(),
                result.drop(), result.dropBound(), result.sqnrDb(), result.seconds(), result.candidate().pipeline());
    }
}
