package io.isthmus.vmm.vgpu;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import io.isthmus.sched.Policy;
import io.isthmus.sched.SchedulerConfig;
import io.isthmus.sched.cuda.CudaEngine;
import io.isthmus.sched.engine.DeviceEngine;
import io.isthmus.sched.engine.HostEngine;
import io.isthmus.sched.engine.SimulatedEngine;
import io.isthmus.sched.metrics.SchedMetrics;
import io.isthmus.sched.vgpu.VgpuHost;

/**
 * The process's GPU engines, one {@link VgpuHost} (a weighted scheduler on its own thread) per engine name, shared by
 * every vGPU of every machine in this process that names it: four machines in one JVM with a vGPU each divide one
 * engine's time by their weights. A host starts with its first lease and closes, engine included, with its last.
 *
 * <p>Thread-safety: {@link #acquire} and {@link Lease#close()} from any thread.
 */
public final class VgpuHosts {
    /** The most vGPUs one engine schedules. */
    public static final int MAX_VGPUS = 64;
    /** The engines a vGPU can name. */
    public static final List<String> ENGINES = List.of("sim", "host", "cuda");
    /** The paced simulated engine's context-switch cost, ns (as {@code isthmus sched}'s default). */
    public static final long SIM_SWITCH_NANOS = 25_000;

    private static final Map<String, Shared> HOSTS = new HashMap<>();

    private VgpuHosts() {
    }

    /**
     * A lease on the host for {@code engine} ({@code sim}, {@code host} or {@code cuda}), made and started if none is
     * open. {@code sim} is the simulated engine paced by the wall clock ({@link SimulatedEngine#realTime}): guests
     * feed it in real time, so on its virtual clock none would ever be backlogged.
     *
     * @throws io.isthmus.sched.engine.EngineUnavailableException when the engine cannot run here (cuda without a
     *     driver), with the reason
     */
    public static synchronized Lease acquire(String engine) {
        Shared s = HOSTS.get(engine);
        if (s == null) {
            DeviceEngine e = switch (engine) {
                case "sim" -> SimulatedEngine.realTime(SIM_SWITCH_NANOS);
                case "host" -> new HostEngine();
                case "cuda" -> CudaEngine.create(0);
                default -> throw new IllegalArgumentException("no vGPU engine '" + engine + "'; use sim, host or cuda");
            };
            VgpuHost h = new VgpuHost(SchedulerConfig.of(Policy.WEIGHTED, MAX_VGPUS), e);
            // Totals only: windows start at the end of time, so nothing accumulates per window however long it runs.
            SchedMetrics m = new SchedMetrics(MAX_VGPUS, 1_000_000_000L, Long.MAX_VALUE / 4);
            h.addListener(m);
            h.start();
            s = new Shared(engine, h, m);
            HOSTS.put(engine, s);
        }
        s.leases++;
        return new Lease(s);
    }

    /**
     * What each open vGPU on {@code engine}'s host has received so far: for measuring shares over an interval (take
     * two snapshots). Empty when no host for that engine is open.
     */
    public static List<Usage> usage(String engine) {
        Shared s;
        synchronized (VgpuHosts.class) {
            s = HOSTS.get(engine);
        }
        List<Usage> out = new ArrayList<>();
        if (s != null) {
            s.host.runOnSchedulerThread(() -> {
                for (int v = 0; v < MAX_VGPUS; v++) {
                    if (s.metrics.config(v) != null && s.metrics.leftAt(v) == Long.MAX_VALUE) {
                        Device d = s.devices.get(v);
                        var g = s.host.scheduler().vgpu(v);
                        out.add(new Usage(v, s.metrics.config(v).weight(), s.metrics.serviceNanos(v),
                                s.metrics.chargedNanos(v), s.metrics.items(v), g == null ? 0 : g.pending(),
                                d == null ? "vgpu" + v : d.label, d == null ? null : d.stats));
                    }
                }
            });
        }
        return out;
    }

    /**
     * One vGPU's totals on its engine.
     *
     * @param vgpu         its id on the scheduler
     * @param weight       its weight
     * @param serviceNanos the engine's wall-clock time in its slices
     * @param chargedNanos the engine time the scheduler charged it (what its share is reckoned in: on the host
     *                     engine the whole of each request on the engine's thread, on the simulated one the modelled
     *                     time)
     * @param requests     how many of its requests ran
     * @param pending      how many of its requests were queued at the scheduler, not yet run, at the snapshot (0: its
     *                     guest had let it run dry)
     * @param label        its device's {@code id=}, or {@code vgpuN} without one
     * @param stats        its device's completion statistics, or null when no device registered them
     */
    public record Usage(int vgpu, int weight, long serviceNanos, long chargedNanos, long requests, int pending,
                        String label, VgpuStats stats) {}

    private record Device(String label, VgpuStats stats) {}

    private static synchronized void release(Shared s) {
        if (--s.leases == 0) {
            HOSTS.remove(s.name);
            s.host.close();
            s.host.engine().close();
        }
    }

    private static final class Shared {
        final String name;
        final VgpuHost host;
        final SchedMetrics metrics;
        final Map<Integer, Device> devices = new ConcurrentHashMap<>();
        int leases;

        Shared(String name, VgpuHost host, SchedMetrics metrics) {
            this.name = name;
            this.host = host;
            this.metrics = metrics;
        }
    }

    /**
     * One user's hold on a shared host. Lifetime: until {@link #close()}, which closes once; the host stays open while
     * any other lease does. Thread-safety: {@link #host()} from any thread.
     */
    public static final class Lease implements AutoCloseable {
        private final Shared shared;
        private boolean closed;

        private Lease(Shared shared) {
            this.shared = shared;
        }

        /** @return the shared host (its scheduler runs on its own thread) */
        public VgpuHost host() {
            return shared.host;
        }

        /** Names vGPU {@code vgpu} (a context this lease's holder opened) and its statistics in {@link #usage}. */
        public void register(int vgpu, String label, VgpuStats stats) {
            shared.devices.put(vgpu, new Device(label, stats));
        }

        /** Forgets what {@link #register} said of {@code vgpu} (its context closed). */
        public void unregister(int vgpu) {
            shared.devices.remove(vgpu);
        }

        @Override
        public void close() {
            synchronized (VgpuHosts.class) {
                if (closed) {
                    return;
                }
                closed = true;
            }
            release(shared);
        }
    }
}
