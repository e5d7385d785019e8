package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The PCI bus from a guest (src/test/guests/pci.c): under {@code -M microvm,pcie=on} the guest enumerates ECAM,
 * dumps the host bridge's configuration space and probes it with writes and odd accesses, under QEMU and under this
 * VMM, and the two outputs must be identical; with {@code pcie=off} both have no bus. With an isthmus-testdev
 * (this VMM only) the guest drives it as a driver would: BAR sizing and placement (BAR2, 128 GiB, at the base of the
 * 64-bit window), register reads, BAR relocation, an MSI-X interrupt, masking and the PBA.
 */
@Tag("kvm")
class PciGuestTest {
    static List<String> args(String... extra) {
        List<String> a = new ArrayList<>(List.of("-serial", "stdio"));
        a.addAll(TestGuests.EXIT_DEVICE);
        a.addAll(List.of("-kernel", TestGuests.guest("pci.elf").toString()));
        a.addAll(List.of(extra));
        return a;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"microvm,pcie=on", "microvm,pcie=off"})
    void theGuestSeesTheBusQemuShowsIt(String machine) {
        List<String> args = args("-M", machine);
        TestGuests.Result q = TestGuests.qemu(args);
        TestGuests.Result i = TestGuests.isthmus(args);
        assertEquals(q.out(), i.out(), "serial output differs from QEMU's\nQEMU stderr: " + q.stderr()
                + "\nisthmus stderr: " + i.stderr());
        assertEquals(q.status(), i.status(), i.stderr());
        assertEquals(67, q.status(), q.stderr());
        assertTrue(q.out().contains(machine.endsWith("on") ? "00:00.0 id=0x81b36 class=0x6000000" : "no PCI host"),
                q.out());
    }

    @Test
    void aDriverOnTheTestFunction() {
        TestGuests.Result r = TestGuests.isthmus(args("-M", "microvm,pcie=on", "-device", "isthmus-testdev"));
        String out = r.out();
        assertEquals(67, r.status(), out + r.stderr());
        Matcher m = Pattern.compile("physbits=0x([0-9a-f]+)").matcher(out);
        assertTrue(m.find(), out);
        long mmio64 = 3L << (Integer.parseInt(m.group(1), 16) - 2);
        for (String line : List.of(
                "00:01.0 id=0x7e571234 class=0xff000000 header=0x0",
                "testdev 00:01.0",
                "bar0 mask=0xffffc000 type=0x0",
                "bar2 size=0x2000000000 type=0xc",
                "caps: 0x11@0x40 0x5@0x4c",
                "before decoding: id=0x0",
                "id=0x7e570001 membar=0x2000000000 vectors=0x8",
                "scratch=0x12345678",
                "bar2 at 0x" + Long.toHexString(mmio64) + ": first page=0x0 last page=0x1ffffff past the end=0x0",
                "bar0 moved: old=0x0 new=0x7e570001",
                "msix control=0x8007",
                "fired: interrupts=1",
                "masked: interrupts=0 pba=0x1",
                "unmasked: interrupts=1 pba=0x0",
                "fired count=0x2", // two FIRE writes: the unmask delivers the pending one, it does not fire again
                "decoding off: id=0x0",
                "bye")) {
            assertTrue(out.contains(line + "\r\n"), "no \"" + line + "\" in:\n" + out + r.stderr());
        }
    }
}
