package io.isthmus.kvm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * What this process holds, from /proc/self: open descriptors, memory mappings (all, and those of KVM and memfds),
 * threads and resident memory. Tests take one before and one after an operation and compare.
 *
 * @param kvmMappings mappings of KVM objects ({@code anon_inode:kvm-vcpu}) and memfds ({@code /memfd:})
 */
public record ProcessResources(long fds, long mappings, long kvmMappings, long threads, long rssKiB) {

    /** Now. */
    public static ProcessResources now() {
        try {
            long fds;
            try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
                fds = s.count();
            }
            List<String> maps = Files.readAllLines(Path.of("/proc/self/maps"));
            long kvm = maps.stream().filter(l -> l.contains("kvm") || l.contains("/memfd:")).count();
            long threads;
            try (Stream<Path> s = Files.list(Path.of("/proc/self/task"))) {
                threads = s.count();
            }
            long rss = Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("VmRSS:")).mapToLong(l -> Long.parseLong(l.replaceAll("\\D", "")))
                    .findFirst().orElse(-1);
            return new ProcessResources(fds, maps.size(), kvm, threads, rss);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public String toString() {
        return fds + " fds, " + mappings + " mappings (" + kvmMappings + " KVM/memfd), " + threads + " threads, RSS "
                + rssKiB + " KiB";
    }
}
