package io.condense.server.report;

import java.util.List;
import java.util.Locale;

/**
 * Inline SVG charts for the report page: scatter, line and bar charts with axes, written by hand because the page must
 * open without network or scripts and no Java chart library writes plain inline SVG this small.
 */
final class Svg {
    static final int WIDTH = 560;
    static final int HEIGHT = 300;
    private static final int LEFT = 70;
    private static final int RIGHT = 20;
    private static final int TOP = 20;
    private static final int BOTTOM = 45;
    static final String[] COLORS = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf"};

    /** A point of a scatter or line chart; {@code style} is a CSS class ({@code front}, {@code best}, {@code other}). */
    record Point(double x, double y, String style, String title) {
    }

    /** A named line through points. */
    record Series(String name, List<Point> points) {
    }

    private Svg() {
    }

    static String scatter(String id, String xLabel, String yLabel, List<Point> points, List<Series> lines, Double yReference) {
        double[] xs = points.stream().mapToDouble(Point::x).toArray();
        double[] ys = points.stream().mapToDouble(Point::y).toArray();
        if (yReference != null) {
            // far-off failures would flatten what matters: the axis starts a little under the constraint, and points
            // below it are drawn on the bottom edge (their tooltips keep the real value)
            double top = java.util.Arrays.stream(ys).filter(Double::isFinite).max().orElse(yReference);
            double floor = yReference - Math.max(3 * (top - yReference), 0.01);
            ys = java.util.stream.DoubleStream.concat(java.util.Arrays.stream(ys).map(v -> Math.max(v, floor)),
                    java.util.stream.DoubleStream.of(yReference)).toArray();
            points = points.stream().map(p -> new Point(p.x(), Math.max(p.y(), floor), p.style(), p.title())).toList();
            lines = lines.stream().map(line -> new Series(line.name(), line.points().stream()
                    .map(p -> new Point(p.x(), Math.max(p.y(), floor), p.style(), p.title())).toList())).toList();
        }
        Scale x = Scale.of(xs);
        Scale y = Scale.of(ys);
        StringBuilder svg = open(id, xLabel, yLabel, x, y);
        if (yReference != null) {
            svg.append(String.format(Locale.ROOT, "<line class=\"limit\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>", LEFT,
                    WIDTH - RIGHT, py(y, yReference), py(y, yReference)));
        }
        for (Series line : lines) {
            svg.append("<polyline class=\"front\" fill=\"none\" points=\"");
            for (Point p : line.points()) {
                svg.append(String.format(Locale.ROOT, "%.1f,%.1f ", px(x, p.x()), py(y, p.y())));
            }
            svg.append("\"/>");
        }
        for (Point p : points) {
            svg.append(String.format(Locale.ROOT, "<circle class=\"point %s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%d\"><title>%s</title></circle>",
                    p.style(), px(x, p.x()), py(y, p.y()), p.style().equals("best") ? 7 : 4, Html.escape(p.title())));
        }
        return svg.append("</svg>").toString();
    }

    static String lines(String id, String xLabel, String yLabel, List<Series> series) {
        Scale x = Scale.of(series.stream().flatMap(s -> s.points().stream()).mapToDouble(Point::x).toArray());
        Scale y = Scale.of(series.stream().flatMap(s -> s.points().stream()).mapToDouble(Point::y).toArray());
        StringBuilder svg = open(id, xLabel, yLabel, x, y);
        int index = 0;
        for (Series line : series) {
            String color = COLORS[index % COLORS.length];
            svg.append("<polyline fill=\"none\" stroke-width=\"2\" stroke=\"").append(color).append("\" points=\"");
            for (Point p : line.points()) {
                svg.append(String.format(Locale.ROOT, "%.1f,%.1f ", px(x, p.x()), py(y, p.y())));
            }
            svg.append("\"><title>").append(Html.escape(line.name())).append("</title></polyline>");
            svg.append(String.format(Locale.ROOT, "<text class=\"legend\" x=\"%d\" y=\"%d\" fill=\"%s\">%s</text>", LEFT + 10,
                    HEIGHT - BOTTOM - 10 - 14 * (series.size() - 1 - index), color, Html.escape(line.name())));
            index++;
        }
        return svg.append("</svg>").toString();
    }

    /** Horizontal bars, one per label. */
    static String bars(String id, String valueLabel, List<String> labels, List<Double> values) {
        int rowHeight = 22;
        int height = TOP + BOTTOM + rowHeight * labels.size();
        double max = values.stream().mapToDouble(Double::doubleValue).filter(v -> !Double.isNaN(v)).max().orElse(1);
        max = max <= 0 ? 1 : max;
        int labelWidth = 170;
        int barWidth = WIDTH - labelWidth - RIGHT - 60;
        StringBuilder svg = new StringBuilder(String.format(Locale.ROOT,
                "<svg id=\"%s\" class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">",
                id, WIDTH, height, WIDTH, height));
        for (int i = 0; i < labels.size(); i++) {
            double value = values.get(i);
            int y = TOP + i * rowHeight;
            double width = Double.isNaN(value) ? 0 : barWidth * value / max;
            svg.append(String.format(Locale.ROOT, "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>", labelWidth - 6,
                    y + 15, Html.escape(shorten(labels.get(i)))));
            svg.append(String.format(Locale.ROOT, "<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\"><title>%s: %s</title></rect>",
                    labelWidth, y + 3, width, rowHeight - 6, Html.escape(labels.get(i)), number(value)));
            svg.append(String.format(Locale.ROOT, "<text class=\"tick\" x=\"%.1f\" y=\"%d\">%s</text>", labelWidth + width + 4, y + 15,
                    number(value)));
        }
        svg.append(String.format(Locale.ROOT, "<text class=\"axis-label\" x=\"%d\" y=\"%d\">%s</text>", labelWidth, height - 12,
                Html.escape(valueLabel)));
        return svg.append("</svg>").toString();
    }

    private static StringBuilder open(String id, String xLabel, String yLabel, Scale x, Scale y) {
        StringBuilder svg = new StringBuilder(String.format(Locale.ROOT,
                "<svg id=\"%s\" class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">",
                id, WIDTH, HEIGHT, WIDTH, HEIGHT));
        svg.append(String.format(Locale.ROOT, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", LEFT, HEIGHT - BOTTOM,
                WIDTH - RIGHT, HEIGHT - BOTTOM));
        svg.append(String.format(Locale.ROOT, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", LEFT, TOP, LEFT,
                HEIGHT - BOTTOM));
        for (int i = 0; i <= 4; i++) {
            double xv = x.min() + (x.max() - x.min()) * i / 4;
            double yv = y.min() + (y.max() - y.min()) * i / 4;
            svg.append(String.format(Locale.ROOT, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>", px(x, xv),
                    HEIGHT - BOTTOM + 16, number(xv)));
            svg.append(String.format(Locale.ROOT, "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>", LEFT - 6,
                    py(y, yv) + 4, number(yv)));
        }
        svg.append(String.format(Locale.ROOT, "<text class=\"axis-label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>",
                (LEFT + WIDTH - RIGHT) / 2, HEIGHT - 8, Html.escape(xLabel)));
        svg.append(String.format(Locale.ROOT,
                "<text class=\"axis-label\" x=\"14\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 14 %d)\">%s</text>",
                (TOP + HEIGHT - BOTTOM) / 2, (TOP + HEIGHT - BOTTOM) / 2, Html.escape(yLabel)));
        return svg;
    }

    private static double px(Scale x, double value) {
        return LEFT + (WIDTH - LEFT - RIGHT) * x.fraction(value);
    }

    private static double py(Scale y, double value) {
        return HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * y.fraction(value);
    }

    static String number(double value) {
        if (Double.isNaN(value)) {
            return "-";
        }
        double magnitude = Math.abs(value);
        if (magnitude >= 1e6) {
            return String.format(Locale.ROOT, "%.2fM", value / 1e6);
        }
        if (magnitude >= 1e4) {
            return String.format(Locale.ROOT, "%.1fk", value / 1e3);
        }
        if (magnitude >= 100 || value == Math.rint(value)) {
            return String.format(Locale.ROOT, "%.0f", value);
        }
        return String.format(Locale.ROOT, "%.3f", value);
    }

    private static String shorten(String label) {
        return label.length() <= 26 ? label : label.substring(0, 12) + "..." + label.substring(label.length() - 11);
    }

    /** A linear axis over the finite values, padded by 5% so that points are not drawn on the frame. */
    private record Scale(double min, double max) {
        static Scale of(double[] values) {
            double min = java.util.Arrays.stream(values).filter(Double::isFinite).min().orElse(0);
            double max = java.util.Arrays.stream(values).filter(Double::isFinite).max().orElse(1);
            if (max - min < 1e-12) {
                min -= 0.5;
                max += 0.5;
            }
            double pad = (max - min) * 0.05;
            return new Scale(min - pad, max + pad);
        }

        double fraction(double value) {
            return Double.isFinite(value) ? (value - min) / (max - min) : 0;
        }
    }
}
