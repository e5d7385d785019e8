package io.isthmus.vmm.qmp;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.isthmus.vmm.config.VmConfig;
import io.isthmus.vmm.machine.MachineListener;
import io.isthmus.vmm.machine.MicroVm;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;

/**
 * The QEMU Machine Protocol on a UNIX socket: QEMU's greeting, capabilities negotiation, the commands this VMM
 * supports with QEMU's reply shapes and error classes, and asynchronous events with QEMU's timestamps.
 *
 * <p>One client at a time, each served on its own daemon thread, as QEMU's monitor serves one; a client that
 * sends malformed JSON gets an error and stays connected, an oversized message is dropped with an error, and a
 * client that vanishes mid-command only ends its own session. JSON goes through Jackson, which this class is the
 * only user of, so Jackson is loaded only when {@code -qmp} is given.
 *
 * <p>Lifetime: from {@link #start} to {@link #close()}, which stops listening, ends the current session and removes
 * the socket file, as QEMU does at exit. Thread-safe: replies and events to the current client are written under
 * one lock.
 */
public final class QmpServer implements MachineListener, AutoCloseable {
    /** The commands, in the order query-commands lists them. */
    static final List<String> COMMANDS = List.of("qmp_capabilities", "query-version", "query-status", "query-name",
            "query-kvm", "query-cpus-fast", "query-pci", "query-commands", "stop", "cont", "system_reset", "quit");

    /**
     * QEMU's JSON parser takes single-quoted strings too (its own tests send them). Shared: a mapper is thread-safe
     * once built, and building one costs more than a QMP message.
     */
    private static final ObjectMapper JSON = JsonMapper.builder().enable(JsonReadFeature.ALLOW_SINGLE_QUOTES).build();
    private final ObjectMapper json = JSON;
    private final QmpMachine vm;
    private final PrintStream err;
    private final ServerSocketChannel server;
    private final Path path;
    private final Object writeLock = new Object();
    private volatile SocketChannel session;
    private volatile OutputStream client;
    private volatile boolean clientNegotiated;

    private QmpServer(ServerSocketChannel server, Path path, QmpMachine vm, PrintStream err) {
        this.server = server;
        this.path = path;
        this.vm = vm;
        this.err = err;
    }

    /**
     * Listens on {@code socket.path()}; with {@code wait=on} blocks until the first client connects (as QEMU
     * does before starting the guest).
     */
    public static QmpServer start(VmConfig.QmpSocket socket, MicroVm vm, PrintStream err) {
        return start(socket, QmpMachine.of(vm), err);
    }

    /** As {@link #start(VmConfig.QmpSocket, MicroVm, PrintStream)}, for any {@link QmpMachine}. */
    public static QmpServer start(VmConfig.QmpSocket socket, QmpMachine vm, PrintStream err) {
        ServerSocketChannel s;
        Path path = Path.of(socket.path());
        try {
            Files.deleteIfExists(path);
            s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            s.bind(UnixDomainSocketAddress.of(path));
        } catch (IOException e) {
            throw new IllegalStateException("-qmp unix:" + socket.path() + ": Failed to bind socket: "
                    + e.getMessage(), e);
        }
        QmpServer q = new QmpServer(s, path, vm, err);
        vm.addListener(q);
        SocketChannel first = null;
        if (socket.waitForClient()) {
            try {
                first = s.accept();
            } catch (IOException e) {
                q.close();
                throw new IllegalStateException("-qmp: accept failed: " + e.getMessage(), e);
            }
        }
        SocketChannel pending = first;
        Thread t = new Thread(() -> q.serve(pending), "qmp");
        t.setDaemon(true);
        t.start();
        return q;
    }

    private void serve(SocketChannel first) {
        SocketChannel next = first;
        while (true) {
            try {
                SocketChannel ch = next != null ? next : server.accept();
                next = null;
                session(ch);
            } catch (IOException e) {
                return; // the listening socket is gone
            }
        }
    }

    private void session(SocketChannel ch) {
        try (ch; InputStream in = Channels.newInputStream(ch); OutputStream out = Channels.newOutputStream(ch)) {
            session = ch;
            if (!server.isOpen()) {
                return; // closed while this client was being accepted
            }
            clientNegotiated = false;
            client = out;
            send(greeting());
            QmpFramer framer = new QmpFramer(new QmpFramer.Sink() {
                @Override
                public void message(byte[] text) {
                    ObjectNode reply = handle(text);
                    if (reply != null) {
                        send(reply);
                    }
                }

                @Override
                public void tooLarge() {
                    send(error("GenericError", "JSON parse error, message exceeds " + QmpFramer.MAX_MESSAGE
                            + " bytes", null));
                }
            });
            byte[] buf = new byte[8192];
            int n;
            while ((n = in.read(buf)) > 0) {
                framer.feed(buf, n);
            }
        } catch (IOException | RuntimeException e) {
            // The client vanished or wrote garbage we could not even frame: end this session only.
        } finally {
            client = null;
            session = null;
        }
    }

    /**
     * A server with no socket, whose {@link #handle} answers messages for {@code vm} (for tests and fuzzing of the
     * dispatcher); replies that {@code quit} sends itself go nowhere.
     */
    static QmpServer detached(QmpMachine vm) {
        return new QmpServer(null, null, vm, new PrintStream(OutputStream.nullOutputStream()));
    }

    /** Stops listening, ends the current session and removes the socket file; idempotent. */
    @Override
    public void close() {
        if (server == null) {
            return;
        }
        try {
            server.close();
            SocketChannel ch = session;
            if (ch != null) {
                ch.close();
            }
            Files.deleteIfExists(path);
        } catch (IOException e) {
            // Nothing to do about a socket that would not close at the end of the machine.
        }
    }

    private ObjectNode greeting() {
        ObjectNode g = json.createObjectNode();
        ObjectNode qmp = g.putObject("QMP");
        qmp.set("version", version());
        qmp.putArray("capabilities").add("oob");
        return g;
    }

    private ObjectNode version() {
        ObjectNode v = json.createObjectNode();
        ObjectNode q = v.putObject("qemu");
        q.put("micro", 0).put("minor", 2).put("major", 7);
        v.put("package", "isthmus-vmm 0.1.0");
        return v;
    }

    /** Handles one message; returns the reply, or null when it was already sent (quit). */
    ObjectNode handle(byte[] text) {
        JsonNode msg;
        try {
            msg = json.readTree(text);
        } catch (JsonProcessingException e) {
            return error("GenericError", "JSON parse error, " + shortReason(e), null);
        } catch (IOException e) {
            return error("GenericError", "JSON parse error", null);
        }
        if (msg == null || !msg.isObject()) {
            return error("GenericError", "QMP input must be a JSON object", null);
        }
        JsonNode id = msg.get("id");
        for (Iterator<String> it = msg.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!f.equals("execute") && !f.equals("arguments") && !f.equals("id") && !f.equals("control")) {
                return error("GenericError", "QMP input member '" + f + "' is unexpected", id);
            }
        }
        JsonNode exec = msg.get("execute");
        if (exec == null) {
            return error("GenericError", "QMP input lacks member 'execute'", id);
        }
        if (!exec.isTextual()) {
            return error("GenericError", "QMP input member 'execute' must be a string", id);
        }
        JsonNode args = msg.get("arguments");
        if (args != null && !args.isObject()) {
            return error("GenericError", "QMP input member 'arguments' must be an object", id);
        }
        String cmd = exec.asText();
        if (!clientNegotiated) {
            if (!cmd.equals("qmp_capabilities")) {
                return error("CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'", id);
            }
        } else if (cmd.equals("qmp_capabilities")) {
            return error("CommandNotFound", "Capabilities negotiation is already complete, command ignored", id);
        }
        if (!COMMANDS.contains(cmd)) {
            return error("CommandNotFound", "The command " + cmd + " has not been found", id);
        }
        if (args != null) {
            for (Iterator<String> it = args.fieldNames(); it.hasNext(); ) {
                String a = it.next();
                if (!(cmd.equals("qmp_capabilities") && a.equals("enable"))) {
                    return error("GenericError", "Parameter '" + a + "' is unexpected", id);
                }
            }
        }
        return switch (cmd) {
            case "qmp_capabilities" -> {
                clientNegotiated = true;
                yield ok(json.createObjectNode(), id);
            }
            case "query-version" -> ok(version(), id);
            case "query-status" -> {
                ObjectNode s = json.createObjectNode();
                s.put("status", switch (vm.state()) {
                    case PRELAUNCH -> "prelaunch";
                    case RUNNING -> "running";
                    case PAUSED -> "paused";
                    case SHUTDOWN -> "shutdown";
                });
                s.put("singlestep", false);
                s.put("running", vm.running());
                yield ok(s, id);
            }
            case "query-name" -> {
                ObjectNode n = json.createObjectNode();
                if (vm.name() != null) {
                    n.put("name", vm.name());
                }
                yield ok(n, id);
            }
            case "query-kvm" -> {
                ObjectNode k = json.createObjectNode();
                k.put("enabled", true).put("present", true);
                yield ok(k, id);
            }
            case "query-cpus-fast" -> {
                ArrayNode a = json.createArrayNode();
                int[] tids = vm.vcpuThreadIds();
                for (int i = 0; i < tids.length; i++) {
                    ObjectNode c = a.addObject();
                    c.put("thread-id", tids[i] != 0 ? tids[i] : ProcessHandle.current().pid());
                    ObjectNode props = c.putObject("props");
                    props.put("core-id", 0).put("thread-id", 0).put("socket-id", i);
                    c.put("qom-path", "/machine/unattached/device[" + i + "]");
                    c.put("cpu-index", i);
                    c.put("target", "x86_64");
                }
                yield ok(a, id);
            }
            case "query-pci" -> ok(PciQuery.of(vm.pciBus()), id);
            case "query-commands" -> {
                ArrayNode a = json.createArrayNode();
                for (String c : COMMANDS) {
                    a.addObject().put("name", c);
                }
                yield ok(a, id);
            }
            case "stop" -> {
                vm.stop();
                yield ok(json.createObjectNode(), id);
            }
            case "cont" -> {
                vm.cont();
                yield ok(json.createObjectNode(), id);
            }
            case "system_reset" -> {
                vm.systemReset();
                yield ok(json.createObjectNode(), id);
            }
            case "quit" -> {
                // Reply first, then SHUTDOWN, then exit: the order QEMU's clients see.
                send(ok(json.createObjectNode(), id));
                vm.quit();
                yield null;
            }
            default -> error("CommandNotFound", "The command " + cmd + " has not been found", id);
        };
    }

    /** QEMU's parser says "expecting value" for the malformed input clients send; Jackson's detail stays out. */
    private static String shortReason(JsonProcessingException e) {
        return "expecting value";
    }

    private ObjectNode ok(JsonNode value, JsonNode id) {
        ObjectNode r = json.createObjectNode();
        r.set("return", value);
        if (id != null) {
            r.set("id", id);
        }
        return r;
    }

    private ObjectNode error(String cls, String desc, JsonNode id) {
        ObjectNode r = json.createObjectNode();
        ObjectNode e = r.putObject("error");
        e.put("class", cls).put("desc", desc);
        if (id != null) {
            r.set("id", id);
        }
        return r;
    }

    private void send(ObjectNode node) {
        OutputStream out = client;
        if (out == null) {
            return;
        }
        try {
            byte[] b = (json.writeValueAsString(node) + "\r\n").getBytes(StandardCharsets.UTF_8);
            synchronized (writeLock) {
                out.write(b);
                out.flush();
            }
        } catch (IOException e) {
            client = null; // vanished; the session thread notices on its next read
        }
    }

    @Override
    public void onEvent(String event, boolean guest, String reason) {
        if (!clientNegotiated) {
            return;
        }
        long micros = System.currentTimeMillis() * 1000 + (System.nanoTime() / 1000) % 1000;
        ObjectNode e = json.createObjectNode();
        ObjectNode ts = e.putObject("timestamp");
        ts.put("seconds", micros / 1_000_000).put("microseconds", micros % 1_000_000);
        e.put("event", event);
        if (reason != null) {
            ObjectNode d = e.putObject("data");
            d.put("guest", guest).put("reason", reason);
        }
        send(e);
    }
}
