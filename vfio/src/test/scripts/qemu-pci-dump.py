#!/usr/bin/env python3
"""Dumps the PCI config space of QEMU's emulated devices, without a guest, through the qtest protocol.

Boots `qemu-system-x86_64 -machine q35 -accel qtest` with edu, e1000e, nvme, virtio-net and xhci (the
PCIe ones behind pcie-root-ports), enables q35's ECAM window (MCH PCIEXBAR) and the root ports' bus numbers
the way firmware would, then reads all 4096 bytes of each function and writes them in `lspci -xxxx` form
(the format `lspci -F` reads) to OUTDIR/qemu-<name>.lspci. Used once to make the test fixtures:

    python3 vfio/src/test/scripts/qemu-pci-dump.py vfio/src/test/resources/pci
"""
import subprocess, sys, os

ECAM = 0xb0000000
DEVICES = [
    # (fixture name, bus, dev, fn)
    ("edu", 0, 2, 0),
    ("pcie-root-port", 0, 3, 0),
    ("e1000e", 1, 0, 0),
    ("nvme", 2, 0, 0),
    ("virtio-net", 3, 0, 0),
    ("qemu-xhci", 4, 0, 0),
    ("ich9-ahci", 0, 0x1f, 2),
    ("q35-host-bridge", 0, 0, 0),
]
ARGS = ["qemu-system-x86_64", "-machine", "q35", "-qtest", "stdio", "-display", "none",
        "-nodefaults", "-m", "64M", "-qtest-log", "/dev/null",
        "-device", "edu,addr=02.0",
        "-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1,addr=03.0",
        "-device", "pcie-root-port,id=rp2,bus=pcie.0,chassis=2,slot=2,addr=04.0",
        "-device", "pcie-root-port,id=rp3,bus=pcie.0,chassis=3,slot=3,addr=05.0",
        "-device", "pcie-root-port,id=rp4,bus=pcie.0,chassis=4,slot=4,addr=06.0",
        "-device", "e1000e,bus=rp1", "-device", "nvme,serial=isthmus,bus=rp2",
        "-device", "virtio-net-pci,bus=rp3", "-device", "qemu-xhci,bus=rp4"]


class QTest:
    def __init__(self):
        self.p = subprocess.Popen(ARGS, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        while True:
            reply = self.p.stdout.readline().strip()
            if not reply and self.p.poll() is not None:
                raise RuntimeError("qemu exited")
            if reply.startswith("OK") or reply.startswith("FAIL") or reply.startswith("ERR"):
                break
        if not reply.startswith("OK"):
            raise RuntimeError(line + " -> " + reply)
        parts = reply.split()
        return int(parts[1], 16) if len(parts) > 1 else None

    def cfg_write32(self, bus, dev, fn, off, val):
        self.cmd("outl 0xcf8 0x%x" % (0x80000000 | bus << 16 | dev << 11 | fn << 8 | off))
        self.cmd("outl 0xcfc 0x%x" % val)

    def ecam_read32(self, bus, dev, fn, off):
        return self.cmd("readl 0x%x" % (ECAM + (bus << 20 | dev << 15 | fn << 12 | off)))


def main(outdir):
    q = QTest()
    q.cfg_write32(0, 0, 0, 0x64, 0)
    q.cfg_write32(0, 0, 0, 0x60, ECAM | 1)  # PCIEXBAR: 256 MiB window, enabled
    for i, dev in enumerate((3, 4, 5, 6)):
        bus = i + 1  # primary 0, secondary = subordinate = bus
        q.cfg_write32(0, dev, 0, 0x18, bus << 16 | bus << 8)
    for name, bus, dev, fn in DEVICES:
        data = b"".join(q.ecam_read32(bus, dev, fn, off).to_bytes(4, "little") for off in range(0, 4096, 4))
        if data[0:2] == b"\xff\xff":
            raise RuntimeError("no function at %02x:%02x.%x (ECAM read all-ones); run again" % (bus, dev, fn))
        path = os.path.join(outdir, "qemu-%s.lspci" % name)
        with open(path, "w") as f:
            f.write("%02x:%02x.%x QEMU %s (config space read through qtest)\n" % (bus, dev, fn, name))
            # Conventional PCI functions have 256 bytes; the ECAM window reads all-ones past them.
            size = 256 if data[0x100:0x104] == b"\xff\xff\xff\xff" else 4096
            for off in range(0, size, 16):
                f.write("%03x: %s\n" % (off, " ".join("%02x" % b for b in data[off:off + 16])))
            f.write("\n")
        print(path, "vendor %04x" % int.from_bytes(data[0:2], "little"))
    q.p.stdin.close()
    q.p.kill()
    q.p.wait()


if __name__ == "__main__":
    main(sys.argv[1])
