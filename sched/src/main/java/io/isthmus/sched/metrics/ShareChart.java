package io.isthmus.sched.metrics;

import java.io.IOException;
import java.nio.file.Path;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Draws each vGPU's share of the engine over time as a PNG line chart (XChart, headless): {@code isthmus sched}'s
 * runs and simulations and the VMM's {@code demo gpu-share}. Stateless; thread-safe.
 */
public final class ShareChart {
    /** The most series one chart draws (the rest are named in its title). */
    public static final int MAX_SERIES = 16;

    private ShareChart() {
    }

    /** Charts {@code vgpus}' share of each of {@code m}'s windows, named by {@code labels}. */
    public static void write(Path png, SchedMetrics m, int[] vgpus, String[] labels, String title) throws IOException {
        int windows = m.windowCount();
        double w = m.windowNanos() / 1e9;
        double[] x = new double[windows];
        for (int i = 0; i < windows; i++) {
            x[i] = (i + 1) * w;
        }
        double[][] y = new double[vgpus.length][windows];
        for (int s = 0; s < vgpus.length; s++) {
            for (int i = 0; i < windows; i++) {
                y[s][i] = 100.0 * m.windowService(i, vgpus[s]) / m.windowNanos();
            }
        }
        write(png, x, y, labels, title);
    }

    /**
     * Charts series {@code percent[s]} (a share in percent at each time {@code seconds[i]}), named by
     * {@code labels[s]}; a {@code .png} is added to {@code png}'s name when it has none.
     */
    public static void write(Path png, double[] seconds, double[][] percent, String[] labels, String title)
            throws IOException {
        System.setProperty("java.awt.headless", "true");
        int shown = Math.min(percent.length, MAX_SERIES);
        XYChart chart = new XYChartBuilder().width(1100).height(620)
                .title(title + (shown < percent.length ? " (first " + shown + " of " + percent.length + " vGPUs)" : ""))
                .xAxisTitle("time (s)").yAxisTitle("share of the engine (%)").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setChartBackgroundColor(java.awt.Color.WHITE);
        chart.getStyler().setYAxisMin(0.0);
        chart.getStyler().setMarkerSize(0);
        for (int s = 0; s < shown; s++) {
            chart.addSeries(labels[s], seconds.length == 0 ? new double[] {0} : seconds,
                    seconds.length == 0 ? new double[] {0} : percent[s]).setMarker(SeriesMarkers.NONE);
        }
        String name = png.toString();
        if (name.endsWith(".png")) {
            name = name.substring(0, name.length() - 4);
        }
        BitmapEncoder.saveBitmap(chart, name, BitmapEncoder.BitmapFormat.PNG);
    }
}
