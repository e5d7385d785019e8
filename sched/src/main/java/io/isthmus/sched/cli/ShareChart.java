package io.isthmus.sched.cli;

import io.isthmus.sched.metrics.SchedMetrics;
import java.io.IOException;
import java.nio.file.Path;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** Draws each vGPU's share of the engine per window as a PNG line chart (XChart, headless). Stateless. */
final class ShareChart {
    static final int MAX_SERIES = 16;

    private ShareChart() {
    }

    static void write(Path png, SchedMetrics m, int[] vgpus, String[] labels, String title) throws IOException {
        System.setProperty("java.awt.headless", "true");
        int windows = m.windowCount();
        int shown = Math.min(vgpus.length, MAX_SERIES);
        XYChart chart = new XYChartBuilder().width(1100).height(620)
                .title(title + (shown < vgpus.length ? " (first " + shown + " of " + vgpus.length + " vGPUs)" : ""))
                .xAxisTitle("time (s)").yAxisTitle("share of the engine (%)").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setChartBackgroundColor(java.awt.Color.WHITE);
        chart.getStyler().setYAxisMin(0.0);
        chart.getStyler().setMarkerSize(0);
        double w = m.windowNanos() / 1e9;
        double[] x = new double[windows];
        for (int i = 0; i < windows; i++) {
            x[i] = (i + 1) * w;
        }
        for (int s = 0; s < shown; s++) {
            double[] y = new double[windows];
            for (int i = 0; i < windows; i++) {
                y[i] = 100.0 * m.windowService(i, vgpus[s]) / m.windowNanos();
            }
            chart.addSeries(labels[s], x, y).setMarker(SeriesMarkers.NONE);
        }
        String name = png.toString();
        if (name.endsWith(".png")) {
            name = name.substring(0, name.length() - 4);
        }
        BitmapEncoder.saveBitmap(chart, name, BitmapEncoder.BitmapFormat.PNG);
    }
}
