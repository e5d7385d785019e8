package io.isthmus.vmm.acpi;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * An encoder for the few ACPI Machine Language (AML) terms a microvm's DSDT uses, producing the bytes QEMU's
 * {@code aml-build.c} produces for the same terms: scopes, devices, named objects, integers in their shortest
 * encoding, strings, EISA ids, resource-template buffers, an operation region with one field, and the GED's
 * {@code _EVT} method (store, if, equal, and, notify).
 *
 * <p>Each method returns the encoded bytes of one term; containers take their children's bytes and add the
 * package length. Hand-written, not a library: AML encoders exist in C (QEMU, ACPICA's compiler) and Rust
 * (cloud-hypervisor's {@code acpi_tables}), none in Java. Stateless; thread-safe.
 */
public final class Aml {
    private static final byte ZERO = 0x00, ONE = 0x01, BYTE = 0x0a, WORD = 0x0b, DWORD = 0x0c, QWORD = 0x0e;
    private static final byte STRING = 0x0d, SCOPE = 0x10, BUFFER = 0x11, PACKAGE = 0x12, METHOD = 0x14;
    private static final byte NAME = 0x08, EXT = 0x5b, DEVICE = (byte) 0x82, OP_REGION = (byte) 0x80, FIELD = (byte) 0x81;
    private static final byte STORE = 0x70, IF = (byte) 0xa0, LEQUAL = (byte) 0x93, AND = 0x7b, NOTIFY = (byte) 0x86, LOCAL0 = 0x60;

    /** Address spaces of an operation region. */
    public static final int SYSTEM_MEMORY = 0;

    private Aml() {}

    /** Concatenates terms. */
    public static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** {@code Scope(path) { body }}; {@code path} "\" is the root. */
    public static byte[] scope(String path, byte[]... body) {
        return pkg(SCOPE, nameString(path), concat(body));
    }

    /** {@code Device(name) { body }}. */
    public static byte[] device(String name, byte[]... body) {
        return extPkg(DEVICE, nameSeg(name), concat(body));
    }

    /** {@code Name(name, value)}. */
    public static byte[] name(String name, byte[] value) {
        return concat(new byte[] {NAME}, nameSeg(name), value);
    }

    /** An integer in its shortest encoding (Zero, One, Byte, Word, DWord or QWord constant). */
    public static byte[] integer(long v) {
        if (v == 0) {
            return new byte[] {ZERO};
        }
        if (v == 1) {
            return new byte[] {ONE};
        }
        if ((v & ~0xffL) == 0) {
            return new byte[] {BYTE, (byte) v};
        }
        if ((v & ~0xffffL) == 0) {
            return le(WORD, v, 2);
        }
        if ((v & ~0xffffffffL) == 0) {
            return le(DWORD, v, 4);
        }
        return le(QWORD, v, 8);
    }

    /** A DWord constant whatever the value (QEMU's {@code aml_int} narrows, but {@code EISAID} does not). */
    public static byte[] dword(long v) {
        return le(DWORD, v, 4);
    }

    /** A string constant. */
    public static byte[] string(String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[b.length + 2];
        out[0] = STRING;
        System.arraycopy(b, 0, out, 1, b.length);
        return out;
    }

    /** {@code EISAID("PNP0501")}: the compressed 32-bit id, as a DWord constant. */
    public static byte[] eisaId(String id) {
        int v = ((id.charAt(0) - 0x40) & 0x1f) << 26 | ((id.charAt(1) - 0x40) & 0x1f) << 21
                | ((id.charAt(2) - 0x40) & 0x1f) << 16 | Integer.parseInt(id.substring(3), 16);
        // Stored big-endian within the little-endian DWord, as the ACPI spec's EISAID() macro does.
        return dword(Integer.reverseBytes(v) & 0xffffffffL);
    }

    /** {@code Buffer() { resource descriptors..., EndTag }}: a {@code ResourceTemplate}. */
    public static byte[] resourceTemplate(byte[]... descriptors) {
        byte[] data = concat(concat(descriptors), new byte[] {0x79, 0x00});
        return pkg(BUFFER, integer(data.length), data);
    }

    /** Resource: {@code IO(Decode16, min, max, align, length)}. */
    public static byte[] io(int min, int max, int align, int length) {
        return new byte[] {0x47, 0x01, (byte) min, (byte) (min >> 8), (byte) max, (byte) (max >> 8), (byte) align,
                (byte) length};
    }

    /** Resource: {@code IRQNoFlags() {irq}}. */
    public static byte[] irqNoFlags(int irq) {
        int mask = 1 << irq;
        return new byte[] {0x22, (byte) mask, (byte) (mask >> 8)};
    }

    /** Resource: {@code Memory32Fixed(ReadWrite, base, length)}. */
    public static byte[] memory32Fixed(long base, long length) {
        byte[] b = new byte[12];
        b[0] = (byte) 0x86;
        b[1] = 9;
        b[3] = 1; // read-write
        putLe(b, 4, base, 4);
        putLe(b, 8, length, 4);
        return b;
    }

    /**
     * Resource: {@code Interrupt(ResourceConsumer, Level or Edge, ActiveHigh, Exclusive) {gsi}}, as QEMU builds the
     * GED's (edge) and each virtio-mmio transport's (level).
     */
    public static byte[] interrupt(boolean edge, int gsi) {
        byte[] b = new byte[9];
        b[0] = (byte) 0x89;
        b[1] = 6;
        b[3] = (byte) (0x01 | (edge ? 0x02 : 0));
        b[4] = 1;
        putLe(b, 5, gsi, 4);
        return b;
    }

    /** {@code OperationRegion(name, space, offset, length)}. */
    public static byte[] operationRegion(String name, int space, long offset, long length) {
        return concat(new byte[] {EXT, OP_REGION}, nameSeg(name), new byte[] {(byte) space}, integer(offset),
                integer(length));
    }

    /**
     * {@code Field(region, access, NoLock, update) { field, bits }} with one named field; {@code flags} is the
     * field flags byte (access type in bits 0-3, lock bit 4, update rule bits 5-6).
     */
    public static byte[] field(String region, int flags, String field, int bits) {
        byte[] body = concat(nameSeg(region), new byte[] {(byte) flags}, nameSeg(field), pkgLength(bits, 0));
        return extPkgRaw(FIELD, body);
    }

    /** Method flags: serialized (bit 3), as QEMU declares the GED's {@code _EVT}. */
    public static final int SERIALIZED = 0x08;

    /** {@code Method(name, args, flags) { body }}; {@code flags} is {@link #SERIALIZED} or 0. */
    public static byte[] method(String name, int args, int flags, byte[]... body) {
        return pkg(METHOD, concat(nameSeg(name), new byte[] {(byte) (args | flags)}), concat(body));
    }

    /** {@code Store(source, Local0)} with a named source. */
    public static byte[] storeToLocal0(String source) {
        return concat(new byte[] {STORE}, nameSeg(source), new byte[] {LOCAL0});
    }

    /** {@code If (LEqual(And(Local0, mask, Zero), value)) { body }}. */
    public static byte[] ifLocal0MaskEquals(long mask, long value, byte[]... body) {
        byte[] predicate = concat(new byte[] {LEQUAL, AND, LOCAL0}, integer(mask), new byte[] {ZERO},
                integer(value));
        return pkg(IF, predicate, concat(body));
    }

    /** {@code Notify(object, value)}. */
    public static byte[] notify(String object, long value) {
        return concat(new byte[] {NOTIFY}, nameSeg(object), integer(value));
    }

    /** {@code Package(n) { integers }}. */
    public static byte[] packageOf(long... values) {
        byte[][] items = new byte[values.length][];
        for (int i = 0; i < values.length; i++) {
            items[i] = integer(values[i]);
        }
        return pkg(PACKAGE, new byte[] {(byte) values.length}, concat(items));
    }

    // ---- the terms of a PCI Express host bridge (QEMU's acpi_dsdt_add_gpex) ----

    private static final byte VAR_PACKAGE = 0x13, RETURN = (byte) 0xa4, ELSE = (byte) 0xa1, LNOT = (byte) 0x92;
    private static final byte OR = 0x7d, CREATE_DWORD_FIELD = (byte) 0x8a, ARG0 = 0x68;

    /** A reference to a named object (a four-character name segment), e.g. a link device in a {@code _PRT}. */
    public static byte[] nameRef(String name) {
        return nameSeg(name);
    }

    /** {@code Package(n) { terms }} with each element already encoded. */
    public static byte[] packageOfTerms(byte[]... elements) {
        return pkg(PACKAGE, new byte[] {(byte) elements.length}, concat(elements));
    }

    /**
     * {@code VarPackage(n) { terms }}: a package whose element count is an integer term, as QEMU's
     * {@code aml_varpackage} writes the 128-entry {@code _PRT}.
     */
    public static byte[] varPackage(byte[]... elements) {
        return pkg(VAR_PACKAGE, integer(elements.length), concat(elements));
    }

    /** {@code Unicode("text")}: a buffer of the UTF-16LE text and a terminating zero character. */
    public static byte[] unicode(String s) {
        byte[] utf16 = s.getBytes(StandardCharsets.UTF_16LE);
        return buffer(java.util.Arrays.copyOf(utf16, utf16.length + 2));
    }

    /** {@code Buffer(n) { bytes }}. */
    public static byte[] buffer(byte... data) {
        return pkg(BUFFER, integer(data.length), data);
    }

    /** {@code ToUUID("...")}: the 16-byte buffer, the first three fields little-endian as ACPI's macro stores them. */
    public static byte[] toUuid(String uuid) {
        String h = uuid.replace("-", "");
        if (h.length() != 32) {
            throw new IllegalArgumentException("not a UUID: " + uuid);
        }
        byte[] b = new byte[16];
        int[] order = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
        for (int i = 0; i < 16; i++) {
            b[i] = (byte) Integer.parseInt(h.substring(2 * order[i], 2 * order[i] + 2), 16);
        }
        return buffer(b);
    }

    /** {@code ArgN}, a method's argument {@code n} (0-6). */
    public static byte[] arg(int n) {
        return new byte[] {(byte) (ARG0 + n)};
    }

    /** {@code Return(value)}. */
    public static byte[] returnOf(byte[] value) {
        return concat(new byte[] {RETURN}, value);
    }

    /** {@code If (predicate) { body }}. */
    public static byte[] ifThen(byte[] predicate, byte[]... body) {
        return pkg(IF, predicate, concat(body));
    }

    /** {@code Else { body }}, following an {@link #ifThen}. */
    public static byte[] elseDo(byte[]... body) {
        return pkg(ELSE, new byte[0], concat(body));
    }

    /** {@code LEqual(a, b)}. */
    public static byte[] lEqual(byte[] a, byte[] b) {
        return concat(new byte[] {LEQUAL}, a, b);
    }

    /** {@code LNot(a)}. */
    public static byte[] lNot(byte[] a) {
        return concat(new byte[] {LNOT}, a);
    }

    /** {@code Store(source, target)}. */
    public static byte[] store(byte[] source, byte[] target) {
        return concat(new byte[] {STORE}, source, target);
    }

    /** {@code And(a, b, target)}. */
    public static byte[] and(byte[] a, byte[] b, byte[] target) {
        return concat(new byte[] {AND}, a, b, target);
    }

    /** {@code Or(a, b, target)}. */
    public static byte[] or(byte[] a, byte[] b, byte[] target) {
        return concat(new byte[] {OR}, a, b, target);
    }

    /** {@code CreateDWordField(source, byteIndex, name)}. */
    public static byte[] createDWordField(byte[] source, byte[] byteIndex, String name) {
        return concat(new byte[] {CREATE_DWORD_FIELD}, source, byteIndex, nameSeg(name));
    }

    /**
     * Resource: {@code WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, length)}.
     */
    public static byte[] wordBusNumber(int min, int max, int length) {
        byte[] b = new byte[16];
        b[0] = (byte) 0x88;
        b[1] = 13;
        b[3] = 2;    // bus number range
        b[4] = 0x0c; // MinFixed | MaxFixed, PosDecode, producer
        putLe(b, 8, min, 2);
        putLe(b, 10, max, 2);
        putLe(b, 14, length, 2);
        return b;
    }

    /**
     * Resource: {@code DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0,
     * base, base + length - 1, 0, length)}.
     */
    public static byte[] dwordMemory(long base, long length) {
        byte[] b = new byte[26];
        b[0] = (byte) 0x87;
        b[1] = 23;
        b[4] = 0x0c;
        b[5] = 0x01; // read-write, non-cacheable
        putLe(b, 10, base, 4);
        putLe(b, 14, base + length - 1, 4);
        putLe(b, 22, length, 4);
        return b;
    }

    /** Resource: {@code QWordMemory(...)} with the fields of {@link #dwordMemory}, 64-bit. */
    public static byte[] qwordMemory(long base, long length) {
        byte[] b = new byte[46];
        b[0] = (byte) 0x8a;
        b[1] = 43;
        b[4] = 0x0c;
        b[5] = 0x01;
        putLe(b, 14, base, 8);
        putLe(b, 22, base + length - 1, 8);
        putLe(b, 38, length, 8);
        return b;
    }

    // ---- encoding ----

    /** A four-character name segment ("_SB" padded with underscores to "_SB_"). */
    static byte[] nameSeg(String name) {
        if (name.length() > 4 || name.isEmpty()) {
            throw new IllegalArgumentException("AML name segments are 1 to 4 characters: " + name);
        }
        String padded = (name + "____").substring(0, 4);
        return padded.getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] nameString(String path) {
        if (path.equals("\\")) {
            return new byte[] {0x5c, 0x00};
        }
        return nameSeg(path);
    }

    private static byte[] pkg(int op, byte[] head, byte[] body) {
        byte[] content = concat(head, body);
        return concat(new byte[] {(byte) op}, pkgLength(content.length, 1), content);
    }

    private static byte[] extPkg(int op, byte[] head, byte[] body) {
        return extPkgRaw(op, concat(head, body));
    }

    private static byte[] extPkgRaw(int op, byte[] content) {
        return concat(new byte[] {EXT, (byte) op}, pkgLength(content.length, 1), content);
    }

    /**
     * The PkgLength encoding of {@code length} content bytes, counting the encoding itself when {@code self} is 1
     * (package lengths include their own bytes; a field's bit width does not).
     */
    static byte[] pkgLength(int length, int self) {
        if (length + self < 0x40) {
            return new byte[] {(byte) (length + self)};
        }
        for (int n = 2; n <= 4; n++) {
            int total = length + (self == 1 ? n : 0);
            if (total < 1 << (4 + 8 * (n - 1))) {
                byte[] b = new byte[n];
                b[0] = (byte) ((n - 1) << 6 | (total & 0x0f));
                for (int i = 1; i < n; i++) {
                    b[i] = (byte) (total >> (4 + 8 * (i - 1)));
                }
                return b;
            }
        }
        throw new IllegalArgumentException("AML package too long: " + length);
    }

    private static byte[] le(int op, long v, int n) {
        byte[] b = new byte[n + 1];
        b[0] = (byte) op;
        putLe(b, 1, v, n);
        return b;
    }

    static void putLe(byte[] b, int at, long v, int n) {
        for (int i = 0; i < n; i++) {
            b[at + i] = (byte) (v >> (8 * i));
        }
    }
}
