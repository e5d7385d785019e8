package io.isthmus.lab;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.stream.Stream;

/**
 * The lab's content-keyed cache directory discipline: build into a private temporary sibling, then publish
 * with one atomic rename, so several processes (several developers share one home here) never see a half-built
 * entry and the loser of a race simply discards its copy.
 */
final class Cache {
    private Cache() {}

    /** A fresh empty directory next to {@code target}, for building it. */
    static Path tempSibling(Path target) throws IOException {
        Files.createDirectories(target.getParent());
        return Files.createTempDirectory(target.getParent(), "." + target.getFileName() + ".tmp-");
    }

    /** Renames {@code built} to {@code target}; if another process published first, keeps theirs. */
    static void publish(Path built, Path target) throws IOException {
        try {
            Files.move(built, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException | DirectoryNotEmptyException | AtomicMoveNotSupportedException e) {
            if (!Files.isDirectory(target)) {
                throw e;
            }
            deleteTree(built);
        }
    }

    /** Deletes {@code dir} and everything under it, if it exists. */
    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A SHA-256 accumulator for cache keys. */
    static final class Key {
        private final MessageDigest digest;

        Key() {
            try {
                digest = MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new AssertionError(e);
            }
        }

        Key add(String s) {
            digest.update(s.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            digest.update((byte) 0);
            return this;
        }

        Key add(byte[] bytes) {
            digest.update(bytes);
            digest.update((byte) 0);
            return this;
        }

        Key addFile(Path file) {
            try {
                return add(Files.readAllBytes(file));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** The first 16 hex digits: short enough for a directory name, plenty against collisions here. */
        String hex() {
            return HexFormat.of().formatHex(digest.digest()).substring(0, 16);
        }
    }
}
