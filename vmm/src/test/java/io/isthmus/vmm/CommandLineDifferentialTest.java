package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Bad command lines get QEMU's error message (after the program name) and QEMU's exit status 1: each case runs
 * under real {@code qemu-system-x86_64 -M microvm -accel kvm -display none} and under this VMM.
 */
class CommandLineDifferentialTest {

    /** Drops each line's program prefix ("qemu-system-x86_64: ", "qemu: ", "isthmus-vmm: ") and QEMU's CPUID warnings. */
    static String normalize(String stderr) {
        List<String> out = new ArrayList<>();
        for (String line : stderr.split("\n")) {
            if (line.contains("host doesn't support requested feature")) {
                continue;
            }
            out.add(line.replaceFirst("^(qemu-system-x86_64|qemu|isthmus-vmm): ", ""));
        }
        return String.join("\n", out);
    }

    /** Lines QEMU rejects before it opens KVM, so the comparison needs no KVM. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
            "-foo", "--bogus-option", "-m", "-m abc", "-m size=abc", "-m 64,foo=1", "-m 12Q",
            "-smp abc", "-smp 300", "-smp 2,foo=1", "-M pc2", "-machine microvm,foo=bar", "-M microvm,rtc=maybe",
            "-qmp bogus", "-qmp unix:/tmp/isthmus-x.sock,server=on,wait=maybe", "-name", "-name foo,bar=1",
            "-initrd x", "-append x", "-display gtk2", "-display none,foo", "-D", "-monitor foo",
            "-M microvm,accel=kvm -accel kvm", "-kernel", "-M microvm,pcie=maybe",
    })
    void sameErrorAsQemu(String line) {
        compare(line);
    }

    /**
     * -drive mistakes, which QEMU reports while it creates its block backends, before it opens KVM. {@code @img} is
     * a 1 MiB file, {@code @dir} a directory.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
            "-drive file=@img,format=qcow3,if=none,id=d0", "-drive file=@img,format=raw,if=bogus,id=d0",
            "-drive file=/nonexistent/disk.img,format=raw,if=none,id=d0", "-drive format=raw,if=none,id=d0",
            "-drive file=,format=raw,if=none,id=d0", "-drive file=@img,format=raw,if=none,id=d0,readonly=maybe",
            "-drive file=@img,format=raw,if=none,id=d0 -drive file=@img,format=raw,if=none,id=d0",
            "-drive file=@dir,format=raw,if=none,id=d0", "-drive file=@img,format=raw,if=none,id=0bad",
            "-drive file=@img,format=raw,if=none,id=d0,cache=bogus", "-drive file=@img,format=raw,if=none,aio=bogus",
            "-drive file=@img,format=raw,if=none,id=d0,media=bogus",
            "-drive file=@img,format=raw,if=none,id=d0,readonly=on,read-only=on",
            "-drive file=@img,format=raw,if=none,id=d0,foo=1", "-drive file=@img,format=raw,if=none,serial=x",
            "-drive if=none,id=d0,foo=1", "-drive file=@img,format=raw,if=none,driver=raw",
            "-drive file=/nonexistent,format=raw,if=none,id=d0 -device virtio-blk-device,drive=nope",
    })
    void sameDriveErrorAsQemu(String line) {
        compare(line);
    }

    /**
     * Lines QEMU rejects only after it has opened KVM (devices, character backends and the kernel come after the
     * accelerator), so both VMMs need a working KVM to reach the error.
     */
    @Tag("kvm")
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
            "-serial bogus", "-serial file:/nonexistent/dir/x", "-device foo", "-device isa-debug-exit,iobase=zz",
            "-device isa-debug-exit,bogus=1", "-device isa-debug-exit,iobase=-1", "-nographic -serial stdio",
            "-kernel /nonexistent/kernel", "-kernel @elf -initrd /nonexistent/module",
            "-device virtio-blk-device", "-device virtio-blk-device,drive=nope", "-device virtio-rng-device,foo=1",
            "-drive file=@img,format=raw,if=none,id=d0 -device virtio-blk-device,drive=d0"
                    + " -device virtio-blk-device,drive=d0",
            "-drive file=@img,format=raw,if=none,id=d0 -device virtio-blk-device,drive=d0,foo=1",
            "-drive if=none,id=d0 -device virtio-blk-device,drive=d0", "-drive file=@img,format=raw,if=virtio",
            "-drive file=@img,format=raw,if=ide,id=d0",
    })
    void sameErrorAsQemuOnKvm(String line) {
        compare(line);
    }

    private static void compare(String line) {
        String elf = TestGuests.guest("multiboot.elf").toString();
        String img = image().toString(), dir = TestGuests.scratch().toString();
        List<String> args = Arrays.stream(line.split(" "))
                .map(a -> a.replace("@elf", elf).replace("@img", img).replace("@dir", dir)).toList();
        TestGuests.Result q = TestGuests.qemu(args);
        TestGuests.Result i = TestGuests.isthmus(args);
        assertEquals(1, q.status(), "QEMU rejects it: " + q.stderr());
        assertEquals(normalize(q.stderr()), normalize(i.stderr()));
        assertEquals(1, i.status());
    }

    /** A 1 MiB raw image in the scratch directory. */
    private static synchronized Path image() {
        Path p = TestGuests.scratch().resolve("disk.img");
        try {
            if (!Files.exists(p)) {
                Files.write(p, new byte[1 << 20]);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"-d bogus", "-kernel /etc/hostname", "-cpu host", "-hda disk.img", "-monitor stdio",
            "-accel tcg", "-serial pty", "-device virtio-net-device"})
    void rejectedWithStatus1(String line) {
        TestGuests.Result i = TestGuests.isthmus(Arrays.asList(line.split(" ")));
        assertEquals(1, i.status(), i.stderr());
        assertTrue(i.stderr().isEmpty() == line.startsWith("-d "), "one clear message: " + i.stderr());
        assertTrue(!i.stderr().contains("Exception") && !i.stderr().contains("\tat "), "no stack trace: " + i.stderr());
    }
}
