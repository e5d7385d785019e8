package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * QMP against real QEMU: the same conversation (greeting, negotiation, every supported command, the errors
 * clients provoke, stop/cont/system_reset/quit) runs against {@code qemu-system-x86_64 -M microvm -accel kvm -S}
 * and against this VMM; each reply's shape (keys, JSON types, error class and text) and the events (names,
 * data shape, timestamp shape) must be the same. Also: malformed JSON, oversized messages and vanishing
 * clients leave the server answering.
 */
@Tag("kvm")
class QmpShapeTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static final List<String> CONVERSATION = List.of(
            "{\"execute\":\"query-status\"}",
            "{\"execute\":\"qmp_capabilities\"}",
            "{\"execute\":\"qmp_capabilities\"}",
            "{\"execute\":\"query-version\"}",
            "{\"execute\":\"query-status\"}",
            "{\"execute\":\"query-name\"}",
            "{\"execute\":\"query-kvm\"}",
            "{\"execute\":\"query-cpus-fast\"}",
            "{\"execute\":\"query-pci\"}",
            "{\"execute\":\"nonexistent\"}",
            "{\"execute\":\"query-status\",\"arguments\":{\"x\":1}}",
            "{\"execute\":\"query-status\",\"id\":\"abc\"}",
            "{\"execute\":\"query-kvm\",\"id\":42}",
            "{\"execute\": }",
            "[1,2]",
            "{\"foo\":1}",
            "{\"execute\":1}",
            "{\"arguments\":{}}",
            "{\"execute\":\"query-status\",\"arguments\":[]}",
            "{\"execute\":\"cont\"}",
            "{\"execute\":\"query-status\"}",
            "{\"execute\":\"stop\"}",
            "{\"execute\":\"query-status\"}",
            "{\"execute\":\"cont\"}",
            "{\"execute\":\"system_reset\"}",
            "{\"execute\":\"quit\"}");

    record Transcript(JsonNode greeting, List<JsonNode> replies, List<JsonNode> events, int status) {}

    static Transcript converse(List<String> command, Path socket) throws Exception {
        Files.deleteIfExists(socket);
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            SocketChannel ch = null;
            // A JVM takes seconds to start in the lab's emulated CPU: wait up to a minute for the socket.
            for (int i = 0; i < 3000 && ch == null; i++) {
                try {
                    ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                    ch.connect(UnixDomainSocketAddress.of(socket));
                } catch (IOException e) {
                    ch = null;
                    Thread.sleep(20);
                }
            }
            assertTrue(ch != null, "QMP socket never appeared: " + command);
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch),
                    StandardCharsets.UTF_8));
            OutputStream out = Channels.newOutputStream(ch);
            JsonNode greeting = JSON.readTree(in.readLine());
            List<JsonNode> replies = new ArrayList<>();
            List<JsonNode> events = new ArrayList<>();
            for (String c : CONVERSATION) {
                out.write((c + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
                while (true) {
                    String line;
                    try {
                        line = in.readLine();
                    } catch (java.net.SocketException e) {
                        line = null; // QEMU exiting on quit (see below)
                    }
                    if (line == null) {
                        break;
                    }
                    JsonNode n = JSON.readTree(line);
                    if (n.has("event")) {
                        events.add(n);
                        continue;
                    }
                    replies.add(n);
                    break;
                }
            }
            String line;
            try {
                while ((line = in.readLine()) != null) {
                    JsonNode n = JSON.readTree(line);
                    (n.has("event") ? events : replies).add(n);
                }
            } catch (java.net.SocketException e) {
                // After quit, QEMU may exit with our trailing newline unread, which resets the connection.
            }
            assertTrue(p.waitFor(10, TimeUnit.SECONDS));
            return new Transcript(greeting, replies, events, p.exitValue());
        } finally {
            p.destroyForcibly();
        }
    }

    /** The shape of a JSON value: object keys with their shapes, array element shape, scalar type. */
    static String shape(JsonNode n) {
        if (n.isObject()) {
            StringBuilder sb = new StringBuilder("{");
            List<String> keys = new ArrayList<>();
            n.fieldNames().forEachRemaining(keys::add);
            keys.sort(null);
            for (String k : keys) {
                JsonNode v = n.get(k);
                // Error classes and texts must match exactly, not only in type.
                sb.append(k).append(':').append(k.equals("class") || k.equals("desc") || k.equals("status")
                        || k.equals("reason") || k.equals("event") ? v.toString() : shape(v)).append(',');
            }
            return sb.append('}').toString();
        }
        if (n.isArray()) {
            return n.isEmpty() ? "[]" : "[" + shape(n.get(0)) + "]";
        }
        return n.getNodeType().toString();
    }

    @Test
    void repliesAndEventsHaveQemusShapes() throws Exception {
        Path guest = TestGuests.guest("idle.elf");
        Path qs = TestGuests.scratch().resolve("qemu-qmp.sock"), is = TestGuests.scratch().resolve("isthmus-qmp.sock");
        List<String> common = List.of("-S", "-name", "qmpvm", "-serial", "null", "-kernel", guest.toString());
        List<String> q = new ArrayList<>(TestGuests.qemuCommand(common));
        q.addAll(List.of("-qmp", "unix:" + qs + ",server=on,wait=off"));
        List<String> iArgs = new ArrayList<>(List.of("-M", "microvm", "-accel", "kvm", "-display", "none"));
        iArgs.addAll(common);
        iArgs.addAll(List.of("-qmp", "unix:" + is + ",server=on,wait=off"));
        Transcript qt = converse(q, qs);
        Transcript it = converse(TestGuests.javaCommand(iArgs), is);

        assertEquals(shape(qt.greeting()), shape(it.greeting()));
        assertEquals(qt.replies().size(), it.replies().size(), "replies: " + it.replies());
        for (int i = 0; i < qt.replies().size(); i++) {
            String what = i < CONVERSATION.size() ? CONVERSATION.get(i) : "(after the conversation)";
            assertEquals(shape(qt.replies().get(i)), shape(it.replies().get(i)), "reply to " + what
                    + "\nQEMU:    " + qt.replies().get(i) + "\nisthmus: " + it.replies().get(i));
        }
        List<String> qe = new ArrayList<>(), ie = new ArrayList<>();
        qt.events().forEach(e -> qe.add(shape(e)));
        it.events().forEach(e -> ie.add(shape(e)));
        assertEquals(List.of("RESUME", "STOP", "RESUME", "RESET", "SHUTDOWN"),
                qt.events().stream().map(e -> e.get("event").asText()).toList(), "QEMU's events");
        assertEquals(qe, ie, "events\nQEMU:    " + qt.events() + "\nisthmus: " + it.events());
        assertEquals(qt.status(), it.status());
    }

    @Test
    void survivesMalformedOversizedAndVanishingClients() throws Exception {
        Path guest = TestGuests.guest("idle.elf");
        Path sock = TestGuests.scratch().resolve("isthmus-qmp-robust.sock");
        Files.deleteIfExists(sock);
        List<String> args = List.of("-M", "microvm", "-accel", "kvm", "-display", "none", "-serial", "null",
                "-kernel", guest.toString(), "-qmp", "unix:" + sock + ",server=on,wait=off");
        Process p = new ProcessBuilder(TestGuests.javaCommand(args)).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            for (int round = 0; round < 3; round++) {
                SocketChannel ch = connect(sock);
                // Vanish mid-message, then mid-command.
                Channels.newOutputStream(ch).write("{\"execute\":\"qmp_capabilities\"}\n{\"exec".getBytes());
                ch.close();
            }
            SocketChannel ch = connect(sock);
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch)));
            OutputStream out = Channels.newOutputStream(ch);
            in.readLine();
            out.write("{\"execute\":\"qmp_capabilities\"}\n".getBytes());
            assertEquals("{\"return\":{}}", JSON.readTree(in.readLine()).toString());
            out.write("}}}{{{\"\n".getBytes());
            out.write(("{\"execute\":\"" + "x".repeat(2 << 20) + "\"}\n").getBytes());
            out.write("\u0000\u00ff garbage\n".getBytes(StandardCharsets.ISO_8859_1));
            out.write("{\"execute\":\"query-status\",\"id\":7}\n".getBytes());
            out.flush();
            JsonNode reply;
            int errors = 0;
            while (!(reply = JSON.readTree(in.readLine())).has("return")) {
                assertEquals("GenericError", reply.get("error").get("class").asText(), reply.toString());
                errors++;
            }
            assertTrue(errors >= 2, "malformed and oversized input got errors");
            assertEquals(7, reply.get("id").asInt());
            assertEquals("running", reply.get("return").get("status").asText());
            out.write("{\"execute\":\"quit\"}\n".getBytes());
            out.flush();
            assertTrue(p.waitFor(10, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue());
        } finally {
            p.destroyForcibly();
        }
    }

    private static SocketChannel connect(Path sock) throws Exception {
        for (int i = 0; i < 3000; i++) {
            try {
                SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                ch.connect(UnixDomainSocketAddress.of(sock));
                return ch;
            } catch (IOException e) {
                Thread.sleep(20);
            }
        }
        throw new AssertionError("no QMP socket at " + sock);
    }

}
