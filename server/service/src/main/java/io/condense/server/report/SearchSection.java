package io.condense.server.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The search parts of the report page: the Pareto front, the sensitivity curves, the table of candidates. */
final class SearchSection {
    private SearchSection() {
    }

    static void pareto(StringBuilder html, Map<String, Object> search) {
        String objective = String.valueOf(search.get("objective"));
        String unit = switch (objective) {
            case "macs" -> "MACs";
            case "latency" -> "latency / original latency";
            default -> "size (bytes)";
        };
        String key = switch (objective) {
            case "macs" -> "macs";
            case "latency" -> "latency_ratio";
            default -> "bytes";
        };
        Map<String, Object> best = ReportPage.map(search.get("best"));
        List<Svg.Point> points = new ArrayList<>();
        List<Svg.Point> front = new ArrayList<>();
        for (Object candidate : ReportPage.list(search.get("pareto"))) {
            Map<String, Object> row = ReportPage.map(candidate);
            front.add(new Svg.Point(ReportPage.number(row.get(key)), ReportPage.number(row.get("quality")), "front", ""));
        }
        for (Object candidate : ReportPage.list(search.get("candidates"))) {
            Map<String, Object> row = ReportPage.map(candidate);
            if (!"completed".equals(row.get("state"))) {
                continue;
            }
            String style = row.get("job_id").equals(best.get("job_id")) ? "best"
                    : front.stream().anyMatch(p -> p.x() == ReportPage.number(row.get(key))
                            && p.y() == ReportPage.number(row.get("quality"))) ? "front" : "other";
            points.add(new Svg.Point(ReportPage.number(row.get(key)), ReportPage.number(row.get("quality")), style,
                    row.get("pipeline") + String.format(Locale.ROOT, " (%s %s, quality %.4f)", Svg.number(ReportPage.number(row.get(key))),
                            unit, ReportPage.number(row.get("quality")))));
        }
        if (points.isEmpty()) {
            return;
        }
        Double limit = best.isEmpty() || !best.containsKey("quality") ? null
                : ReportPage.number(best.get("quality")) + ReportPage.number(best.get("drop")) - maxDrop(search);
        html.append("<h2>Pareto front</h2><p class=\"note\">Each point is a candidate job (hover for its pipeline); blue: the "
                + "Pareto front; gold: the chosen one; dashed: the quality of a measured drop of exactly max_drop (a candidate meets the constraint only "
                + "when the upper confidence bound of its drop is within max_drop, so the accepted ones lie above the line by a margin).</p><div class=\"charts\">")
                .append(Svg.scatter("pareto", unit, "quality (accuracy, else top-1 agreement)", points,
                        List.of(new Svg.Series("front", front)), limit != null && Double.isFinite(limit) ? limit : null))
                .append("</div>");
    }

    /** max_drop from the spec text, for the constraint line. */
    private static double maxDrop(Map<String, Object> search) {
        for (String pair : String.valueOf(search.get("spec")).split(",")) {
            String[] parts = pair.strip().split("=");
            if (parts.length == 2 && parts[0].equals("max_drop")) {
                return Double.parseDouble(parts[1]);
            }
        }
        return Double.NaN;
    }

    static void sensitivity(StringBuilder html, Map<String, Object> sensitivity) {
        String metric = String.valueOf(sensitivity.get("metric"));
        List<Svg.Series> curves = new ArrayList<>();
        double baseline = ReportPage.number(sensitivity.get("baseline"));
        for (Object layer : ReportPage.list(sensitivity.get("layers"))) {
            Map<String, Object> row = ReportPage.map(layer);
            List<Svg.Point> points = new ArrayList<>();
            if (Double.isFinite(baseline)) {
                points.add(new Svg.Point(0, baseline, "", ""));
            }
            ReportPage.map(row.get(metric)).forEach((sparsity, value) ->
                    points.add(new Svg.Point(Double.parseDouble(sparsity), ReportPage.number(value), "", "")));
            curves.add(new Svg.Series(String.valueOf(row.get("name")), points));
        }
        if (curves.isEmpty()) {
            return;
        }
        html.append("<h2>Per-layer sensitivity</h2><p class=\"note\">Each layer pruned alone to each sparsity, the rest dense, "
                + "measured on the evaluation data (").append(Html.escape(metric)).append(").</p><div class=\"charts\">")
                .append(Svg.lines("sensitivity", "sparsity of the layer", metric, curves)).append("</div>");
    }

    static void candidates(StringBuilder html, Map<String, Object> search) {
        String bestJob = String.valueOf(ReportPage.map(search.get("best")).get("job_id"));
        html.append("<h2>Candidates</h2><table id=\"candidates\"><tr><th class=\"text\">pipeline</th><th class=\"text\">state</th>"
                + "<th>size (bytes)</th><th>MACs</th><th>latency (ms)</th><th>quality</th><th>drop</th><th>drop bound</th><th>SQNR (dB)</th>"
                + "<th>time (s)</th><th class=\"text\">why not</th></tr>");
        for (Object candidate : ReportPage.list(search.get("candidates"))) {
            Map<String, Object> row = ReportPage.map(candidate);
            boolean meets = Boolean.TRUE.equals(row.get("meets"));
            String css = (String.valueOf(row.get("job_id")).equals(bestJob) ? "best " : "") + (meets ? "meets" : "misses");
            html.append("<tr class=\"").append(css).append("\"><td class=\"text\"><code>").append(Html.escape(row.get("pipeline")))
                    .append("</code></td><td class=\"text state\">").append(meets ? "meets" : "completed".equals(row.get("state")) ? "misses" : Html.escape(row.get("state")))
                    .append("</td>");
            for (String key : List.of("bytes", "macs", "latency_ms", "quality", "drop", "drop_bound", "sqnr_db", "seconds")) {
                html.append("<td>").append(Svg.number(ReportPage.number(row.get(key)))).append("</td>");
            }
            html.append("<td class=\"text\">").append(Html.escape(String.join("; ",
                    ReportPage.list(row.get("failures")).stream().map(String::valueOf).toList()))).append("</td></tr>");
        }
        html.append("</table>");
    }
}
