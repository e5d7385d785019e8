package io.isthmus.vmm.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.isthmus.vmm.config.VmConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The QMP server against hostile clients, with no KVM: a stand-in machine behind the real server on a real UNIX
 * socket. QEMU's own protocol test ({@code tests/qtest/qmp-test.c}: {@code test_qmp_protocol} and
 * {@code test_malformed}, the same raw bytes) runs against this server and, where {@code qemu-system-x86_64} is
 * installed, against QEMU itself ({@code -machine none}, which needs no KVM) to show the expectations are QEMU's.
 * Then: oversized and deeply nested messages, clients that vanish mid-message, and 100 clients connecting at once.
 * Every case ends in a GenericError or a clean close, and {@code no-such-cmd} then answers CommandNotFound: the
 * parser recovered.
 */
class QmpHardeningTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** A client: raw bytes out, one JSON reply per line in (events skipped). */
    static final class Client implements AutoCloseable {
        final SocketChannel ch;
        final InputStream in;
        final OutputStream out;

        Client(Path socket) throws Exception {
            SocketChannel c = null;
            for (int i = 0; i < 500 && c == null; i++) {
                try {
                    c = SocketChannel.open(StandardProtocolFamily.UNIX);
                    c.connect(UnixDomainSocketAddress.of(socket));
                } catch (IOException e) {
                    c = null;
                    Thread.sleep(20);
                }
            }
            if (c == null) {
                throw new AssertionError("no QMP socket at " + socket);
            }
            ch = c;
            in = Channels.newInputStream(ch);
            out = Channels.newOutputStream(ch);
        }

        void sendRaw(String s) throws IOException {
            out.write(s.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        }

        JsonNode receive() throws IOException {
            while (true) {
                ByteArrayOutputStream line = new ByteArrayOutputStream();
                int b;
                while ((b = in.read()) != '\n') {
                    if (b < 0) {
                        throw new IOException("connection closed");
                    }
                    line.write(b);
                }
                JsonNode n = JSON.readTree(line.toByteArray());
                if (!n.has("event")) {
                    return n;
                }
            }
        }

        /** {@code qtest_qmp}: QEMU's test formats its single-quoted text as JSON before sending it. */
        JsonNode qmp(String singleQuoted) throws IOException {
            sendRaw(singleQuoted.replace('\'', '"') + "\n");
            return receive();
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }

    static void expectError(JsonNode reply, String cls) {
        assertEquals(cls, reply.path("error").path("class").asText(), reply.toString());
        assertTrue(reply.path("error").path("desc").isTextual(), reply.toString());
    }

    static void assertRecovered(Client c) throws IOException {
        expectError(c.qmp("{ 'execute': 'no-such-cmd' }"), "CommandNotFound");
    }

    /** qmp-test.c's test_malformed, byte for byte. */
    static void malformed(Client c) throws IOException {
        c.sendRaw("{]\n"); // syntax error
        expectError(c.receive(), "GenericError");
        assertRecovered(c);
        c.sendRaw("{\u00ff"); // lexical error: impossible byte outside string
        expectError(c.receive(), "GenericError");
        assertRecovered(c);
        c.sendRaw("{\u0001"); // lexical error: funny control character outside string
        expectError(c.receive(), "GenericError");
        assertRecovered(c);
        c.sendRaw("{'bad \u00ff"); // lexical error: impossible byte in string
        expectError(c.receive(), "GenericError");
        assertRecovered(c);
        c.sendRaw("{'execute': 'nonexistent', 'id':'\n"); // lexical error: control character in string
        expectError(c.receive(), "GenericError");
        assertRecovered(c);
        c.sendRaw("%p"); // lexical error: interpolation
        expectError(c.receive(), "GenericError");
        assertRecovered(c);
        expectError(c.qmp("null"), "GenericError"); // not even a dictionary
        expectError(c.qmp("{}"), "GenericError"); // no "execute" key
        expectError(c.qmp("{ 'execute': true }"), "GenericError"); // "execute" isn't a string
        expectError(c.qmp("{ 'execute': 'no-such-cmd', 'arguments': [] }"), "GenericError"); // "arguments" isn't a dict
        expectError(c.qmp("{ 'execute': 'no-such-cmd', 'extra': true }"), "GenericError"); // extra key
    }

    /** qmp-test.c's test_qmp_protocol (without human-monitor-command, which this VMM does not have). */
    static void protocol(Path socket) throws Exception {
        try (Client c = new Client(socket)) {
            JsonNode greeting = c.receive();
            assertTrue(greeting.path("QMP").path("version").path("qemu").has("major"), greeting.toString());
            assertTrue(greeting.path("QMP").path("capabilities").isArray(), greeting.toString());
            expectError(c.qmp("{ 'execute': 'query-version' }"), "CommandNotFound"); // before the handshake
            malformed(c);
            assertEquals("{}", c.qmp("{ 'execute': 'qmp_capabilities' }").path("return").toString());
            expectError(c.qmp("{ 'execute': 'qmp_capabilities' }"), "CommandNotFound"); // repeated handshake
            assertTrue(c.qmp("{ 'execute': 'query-version' }").path("return").path("qemu").has("major"));
            malformed(c);
            JsonNode r = c.qmp("{ 'execute': 'query-name', 'id': 'cookie#1' }");
            assertTrue(r.has("return"), r.toString());
            assertEquals("cookie#1", r.path("id").asText());
            // Single quotes on the wire (QEMU's JSON extension), not only in the test's format strings.
            c.sendRaw("{'execute': 'query-status', 'id': 'sq'}\n");
            r = c.receive();
            assertEquals("sq", r.path("id").asText(), r.toString());
            assertTrue(r.has("return"), r.toString());
        }
    }

    /** The stand-in machine behind a server on {@code dir/name}. */
    private QmpServer server(String name) {
        return QmpServer.start(new VmConfig.QmpSocket(dir.resolve(name).toString(), false),
                new QmpFuzzTest.NullMachine(), new PrintStream(OutputStream.nullOutputStream()));
    }

    @Test
    void qemusProtocolTestPassesHere() throws Exception {
        try (QmpServer s = server("qmp.sock")) {
            protocol(dir.resolve("qmp.sock"));
        }
    }

    @Test
    void qemusProtocolTestPassesOnQemuToo() throws Exception {
        Path qemu = Path.of("/usr/bin/qemu-system-x86_64");
        Assumptions.assumeTrue(Files.isExecutable(qemu), "no qemu-system-x86_64 here");
        Path sock = dir.resolve("qemu.sock");
        Process p = new ProcessBuilder(qemu.toString(), "-nodefaults", "-machine", "none", "-display", "none",
                "-qmp", "unix:" + sock + ",server=on,wait=off").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            protocol(sock);
        } finally {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void oversizedAndDeeplyNestedMessagesAreErrorsAndTheStreamRecovers() throws Exception {
        try (QmpServer s = server("big.sock"); Client c = new Client(dir.resolve("big.sock"))) {
            c.receive();
            c.qmp("{ 'execute': 'qmp_capabilities' }");
            c.sendRaw("{\"execute\":\"" + "x".repeat(QmpFramer.MAX_MESSAGE + 10) + "\"}\n");
            expectError(c.receive(), "GenericError");
            assertRecovered(c);
            c.sendRaw("[".repeat(100_000) + "]".repeat(100_000) + "\n");
            expectError(c.receive(), "GenericError");
            assertRecovered(c);
            c.sendRaw("{\"execute\":\"query-status\",\"id\":" + "9".repeat(100_000) + "}\n");
            expectError(c.receive(), "GenericError");
            assertRecovered(c);
            c.sendRaw("\"" + "\\u0000".repeat(50_000) + "\"\n");
            expectError(c.receive(), "GenericError");
            assertRecovered(c);
        }
    }

    @Test
    void clientsThatVanishMidMessageLeaveTheServerAnswering() throws Exception {
        try (QmpServer s = server("vanish.sock")) {
            for (String partial : List.of("", "{\"exec", "{\"execute\":\"qmp_capabilities\"}\n{\"exec",
                    "{\"execute\":\"" + "y".repeat(100_000), "\u00ff\u00fe", "{'a': '")) {
                try (Client c = new Client(dir.resolve("vanish.sock"))) {
                    c.sendRaw(partial);
                }
            }
            try (Client c = new Client(dir.resolve("vanish.sock"))) {
                c.receive();
                assertRecovered(c);
                assertTrue(c.qmp("{ 'execute': 'qmp_capabilities' }").has("return"));
                assertTrue(c.qmp("{ 'execute': 'query-status' }").has("return"));
            }
        }
    }

    @Test
    void aHundredClientsConnectingAtOnceAreEachServed() throws Exception {
        int clients = 100;
        try (QmpServer s = server("many.sock")) {
            ExecutorService pool = Executors.newFixedThreadPool(clients);
            try {
                List<Future<String>> results = new ArrayList<>();
                for (int i = 0; i < clients; i++) {
                    int id = i;
                    results.add(pool.submit(() -> {
                        try (Client c = new Client(dir.resolve("many.sock"))) {
                            c.receive();
                            if (id % 3 == 0) {
                                c.sendRaw("{\"exe"); // and vanish
                                return "vanished";
                            }
                            assertRecovered(c);
                            c.qmp("{ 'execute': 'qmp_capabilities' }");
                            JsonNode r = c.qmp("{ 'execute': 'query-status', 'id': " + id + " }");
                            assertEquals(id, r.path("id").asInt(), r.toString());
                            return "served";
                        }
                    }));
                }
                int served = 0;
                for (Future<String> f : results) {
                    if (f.get(60, TimeUnit.SECONDS).equals("served")) {
                        served++;
                    }
                }
                assertEquals(clients - (clients + 2) / 3, served);
            } finally {
                pool.shutdownNow();
            }
            try (Client c = new Client(dir.resolve("many.sock"))) {
                c.receive();
                assertRecovered(c);
            }
        }
    }
}
