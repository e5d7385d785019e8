package io.isthmus.vmm.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code -drive} and the virtio {@code -device}s: what the configuration holds, and QEMU 7.2's messages for the
 * mistakes (those QEMU gives only after opening KVM are checked against QEMU by CommandLineDifferentialTest's
 * KVM cases; the rest here and in its host cases).
 */
class VirtioCommandLineTest {
    @TempDir
    Path dir;
    private String img;

    @BeforeEach
    void image() throws IOException {
        Path p = dir.resolve("disk.img");
        Files.write(p, new byte[4096]);
        img = p.toString();
    }

    private VmConfig parse(String line) {
        CommandLine.Parsed p = CommandLine.parse(line.replace("@img", img).split(" "));
        return ((CommandLine.Run) p).config();
    }

    private String error(String line) {
        OptionException e = assertThrows(OptionException.class,
                () -> CommandLine.parse(line.replace("@img", img).split(" ")));
        return e.format("isthmus-vmm");
    }

    @Test
    void blockAndRngDevicesInOrder() {
        VmConfig c = parse("-drive file=@img,format=raw,if=none,id=d0 -device virtio-rng-device"
                + " -drive file=@img,format=raw,if=none,id=d1,readonly=on -device virtio-blk-device,drive=d1,serial=S1"
                + " -device virtio-blk-device,drive=d0,id=disk0");
        assertEquals(List.of(new VmConfig.VirtioRngSpec(), new VmConfig.VirtioBlkSpec("d1", img, true, "S1"),
                new VmConfig.VirtioBlkSpec("d0", img, false, null)), c.virtioDevices());
    }

    @Test
    void deviceBeforeItsDriveAndQemuDefaults() {
        // QEMU makes drives before devices, whatever the order; no if= on microvm means none; read-only=on too.
        VmConfig c = parse("-device virtio-blk-device,drive=d0 -drive file=@img,format=raw,id=d0,read-only=on"
                + ",cache=writeback,aio=threads,media=disk");
        assertEquals(List.of(new VmConfig.VirtioBlkSpec("d0", img, true, null)), c.virtioDevices());
    }

    @Test
    void drivesWithoutDevicesAndEmptyDrives() {
        assertEquals(List.of(), parse("-drive file=@img,format=raw,if=none -drive if=none,id=e0").virtioDevices());
        assertEquals(List.of(), parse("-m 64").virtioDevices());
    }

    @Test
    void driveMistakes() {
        String d = "-drive file=@img,format=raw,if=none,id=d0";
        assertEquals("isthmus-vmm: " + d.replace("@img", img) + ",format=qcow2: format 'qcow2' is not supported"
                + " by isthmus vmm (only raw)", error(d + ",format=qcow2"));
        assertEquals("isthmus-vmm: -drive file=" + img + ",if=none,id=d0: no format given for '" + img
                + "': isthmus vmm does not probe image formats (add format=raw)",
                error("-drive file=@img,if=none,id=d0"));
        assertEquals("isthmus-vmm: " + d.replace("@img", img) + ",cache=none: cache mode 'none' is not supported"
                + " by isthmus vmm (only writeback)", error(d + ",cache=none"));
        assertEquals("isthmus-vmm: " + d.replace("@img", img) + ",snapshot=on: -drive option 'snapshot' is not"
                + " supported by isthmus vmm", error(d + ",snapshot=on"));
        assertEquals("isthmus-vmm: " + d.replace("@img", img) + ",media=cdrom: media=cdrom is not supported by"
                + " isthmus vmm", error(d + ",media=cdrom"));
        assertEquals("isthmus-vmm: -drive file=@img,format=raw,if=ide,id=d0: machine type does not support"
                .replace("@img", img) + " if=ide,bus=0,unit=0", error("-drive file=@img,format=raw,if=ide,id=d0"));
        assertEquals("isthmus-vmm: -drive file=" + img + ",format=raw,if=virtio: No 'PCI' bus found for device"
                + " 'virtio-blk-pci'", error("-drive file=@img,format=raw,if=virtio"));
    }

    @Test
    void deviceMistakes() {
        String d = "-drive file=@img,format=raw,if=none,id=d0 ";
        assertEquals("isthmus-vmm: -device virtio-blk-device: drive property not set",
                error("-device virtio-blk-device"));
        assertEquals("isthmus-vmm: -device virtio-blk-device,drive=: drive property not set",
                error("-device virtio-blk-device,drive="));
        assertEquals("isthmus-vmm: -device virtio-blk-device,drive=nope: Property 'virtio-blk-device.drive' can't"
                + " find value 'nope'", error("-device virtio-blk-device,drive=nope"));
        assertEquals("isthmus-vmm: -device virtio-blk-device,drive=d0: Drive 'd0' is already in use by another"
                + " device", error(d + "-device virtio-blk-device,drive=d0 -device virtio-blk-device,drive=d0"));
        assertEquals("isthmus-vmm: -device virtio-blk-device,drive=d0,foo=1: Property 'virtio-blk-device.foo' not"
                + " found", error(d + "-device virtio-blk-device,drive=d0,foo=1"));
        assertEquals("isthmus-vmm: -device virtio-blk-device,drive=d0,queue-size=128: property 'queue-size' of"
                + " virtio-blk-device is not supported by isthmus vmm",
                error(d + "-device virtio-blk-device,drive=d0,queue-size=128"));
        assertEquals("isthmus-vmm: -device virtio-blk-device,drive=e0: Device needs media, but drive is empty",
                error("-drive if=none,id=e0 -device virtio-blk-device,drive=e0"));
        assertEquals("isthmus-vmm: -device virtio-rng-device,foo=1: Property 'virtio-rng-device.foo' not found",
                error("-device virtio-rng-device,foo=1"));
        assertEquals("isthmus-vmm: -device virtio-rng-device,drive=d0: Property 'virtio-rng-device.drive' not"
                + " found", error(d + "-device virtio-rng-device,drive=d0"));
        assertEquals("isthmus-vmm: -device virtio-rng-device,id=0x: Parameter 'id' expects an identifier\n"
                + "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.",
                error("-device virtio-rng-device,id=0x"));
        assertEquals("isthmus-vmm: -device virtio-net-device: device 'virtio-net-device' is not supported by"
                + " isthmus vmm (only isa-debug-exit, virtio-blk-device, virtio-rng-device, isthmus-testdev and vfio-pci)",
                error("-device virtio-net-device"));
    }

    /** QEMU microvm has 24 virtio-mmio transports; the 25th device finds no bus. */
    @Test
    void atMost24Devices() {
        List<String> args = new ArrayList<>(Collections.nCopies(24, "-device virtio-rng-device"));
        assertEquals(24, parse(String.join(" ", args)).virtioDevices().size());
        args.add("-device virtio-rng-device,id=r24");
        assertEquals("isthmus-vmm: -device virtio-rng-device,id=r24: No 'virtio-bus' bus found for device"
                + " 'virtio-rng-device'", error(String.join(" ", args)));
    }

    /** Drive errors come before device errors and before the serial port's, as QEMU creates them in that order. */
    @Test
    void errorsInQemusOrder() {
        assertEquals("isthmus-vmm: -drive file=/nonexistent,format=raw,if=none,id=d0: Could not open"
                + " '/nonexistent': No such file or directory",
                error("-device virtio-blk-device -serial bogus -drive file=/nonexistent,format=raw,if=none,id=d0"));
        assertEquals("isthmus-vmm: -serial bogus: 'bogus' is not a valid char driver\n"
                + "isthmus-vmm: -serial bogus: could not connect serial device to character backend 'bogus'",
                error("-device virtio-blk-device -serial bogus"));
    }
}
