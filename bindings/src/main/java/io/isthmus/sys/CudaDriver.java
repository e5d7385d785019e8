package io.isthmus.sys;

import io.isthmus.bindings.cuda.cuda_h;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The CUDA driver API's entry point: loads {@code libcuda.so.1} on first use, initialises it once, and turns
 * {@code CUresult}s into {@link CudaException}s. The functions themselves are the jextract bindings in
 * {@code io.isthmus.bindings.cuda.cuda_h}: call them only after {@link #load()} has succeeded.
 *
 * <p>Why the two-step load: the generated bindings look symbols up in the libraries this module's class loader has
 * loaded (jextract is run without {@code --library}, so a machine without the driver can still load the classes).
 * The dynamic linker finds {@code libcuda.so.1} by its usual search ({@code LD_LIBRARY_PATH}, {@code ld.so.cache}),
 * which {@code System.load} does not do; so the library is opened by name first, its path read back from
 * {@code /proc/self/maps}, and that path handed to {@code System.load}. A machine without the driver gets one
 * {@link CudaException} saying so, never a crash: no CUDA function is linked before the library is there.
 *
 * <p>Stateless apart from the once-only load, which is thread-safe; the result (driver or reason) is kept.
 */
public final class CudaDriver {
    /** What a machine without the driver is told; tests that need a GPU skip with it. */
    public static final String NO_DRIVER = "no libcuda.so.1: needs an NVIDIA GPU and driver";

    private static final Object LOCK = new Object();
    private static volatile CudaException failure;
    private static volatile boolean loaded;

    private CudaDriver() {
    }

    /**
     * Loads and initialises the driver ({@code cuInit(0)}) the first time; later calls return at once.
     *
     * @throws CudaException when libcuda.so.1 is absent or {@code cuInit} fails (the same exception each time)
     */
    public static void load() {
        if (loaded) {
            return;
        }
        synchronized (LOCK) {
            if (loaded) {
                return;
            }
            if (failure != null) {
                throw failure;
            }
            try {
                String path = locate();
                System.load(path);
                int r = cuda_h.cuInit(0);
                if (r != cuda_h.CUDA_SUCCESS()) {
                    throw new CudaException("cuInit: CUresult " + r + " (" + errorName(r)
                            + "); the driver is installed but no usable GPU was found (check nvidia-smi)");
                }
                loaded = true;
            } catch (CudaException e) {
                failure = e;
                throw e;
            } catch (UnsatisfiedLinkError | IllegalArgumentException | IllegalStateException e) {
                failure = new CudaException(NO_DRIVER + " (" + e.getMessage() + ")");
                throw failure;
            }
        }
    }

    /** @return whether the driver loads and initialises; never throws */
    public static boolean available() {
        try {
            load();
            return true;
        } catch (CudaException e) {
            return false;
        }
    }

    /** @return why the driver cannot be used, or null when it can */
    public static String unavailableReason() {
        return available() ? null : failure.getMessage();
    }

    /** @throws CudaException naming {@code operation} when {@code result} is not {@code CUDA_SUCCESS} */
    public static void check(int result, String operation) {
        if (result != 0) {
            throw new CudaException(operation, result);
        }
    }

    /** @return the result's name, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}, or {@code CUresult N} without a driver */
    public static String errorName(int result) {
        return describe(result, true);
    }

    /** @return the driver's description of the result, or {@code unknown} without a driver */
    public static String errorString(int result) {
        return describe(result, false);
    }

    private static String describe(int result, boolean name) {
        if (!loaded || result < 0) {
            return name ? "CUresult " + result : "unknown";
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            int r = name ? cuda_h.cuGetErrorName(result, out) : cuda_h.cuGetErrorString(result, out);
            MemorySegment s = out.get(ValueLayout.ADDRESS, 0);
            if (r != 0 || s.equals(MemorySegment.NULL)) {
                return name ? "CUresult " + result : "unknown";
            }
            return s.reinterpret(256).getString(0);
        }
    }

    // Opens libcuda.so.1 by the dynamic linker's search and returns the path it was mapped from.
    private static String locate() {
        String override = System.getenv("ISTHMUS_LIBCUDA");
        if (override != null && !override.isBlank()) {
            if (!Files.isReadable(Path.of(override))) {
                throw new CudaException(NO_DRIVER + " (ISTHMUS_LIBCUDA=" + override + " is not a readable file)");
            }
            return override;
        }
        try {
            SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
        } catch (IllegalArgumentException e) {
            throw new CudaException(NO_DRIVER + " (the dynamic linker found none: install the NVIDIA driver, or set"
                    + " LD_LIBRARY_PATH or ISTHMUS_LIBCUDA to where libcuda.so.1 is)");
        }
        List<String> maps;
        try {
            maps = Files.readAllLines(Path.of("/proc/self/maps"));
        } catch (IOException e) {
            throw new CudaException(NO_DRIVER + " (libcuda.so.1 opened, but /proc/self/maps is unreadable to find"
                    + " its path: " + e.getMessage() + "; set ISTHMUS_LIBCUDA)");
        }
        for (String line : maps) {
            int slash = line.indexOf('/');
            if (slash > 0 && line.contains("libcuda.so")) {
                return line.substring(slash).strip();
            }
        }
        throw new CudaException(NO_DRIVER + " (libcuda.so.1 opened, but not found in /proc/self/maps; set"
                + " ISTHMUS_LIBCUDA)");
    }
}
