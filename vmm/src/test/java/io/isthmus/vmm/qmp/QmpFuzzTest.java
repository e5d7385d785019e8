package io.isthmus.vmm.qmp;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.isthmus.vmm.FuzzCoverage;
import java.util.Set;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The QMP framer and dispatcher on hostile bytes. The framer must never hold more than {@link QmpFramer#MAX_MESSAGE}
 * bytes and must hand on every text it frames; the dispatcher must answer every text with a {@code return} or an
 * {@code error} of QEMU's classes (GenericError, CommandNotFound), never throw. {@code session} chains both, as a
 * connection does, fed in arbitrary chunks, and then checks that the stream recovered: a trailing
 * {@code no-such-cmd} after a newline and a control character (QEMU's documented resynchronisation) must come back
 * as CommandNotFound. Corpus: {@code src/test/resources/io/isthmus/vmm/qmp/QmpFuzzTestInputs/<method>/}.
 */
@ExtendWith(FuzzCoverage.class)
class QmpFuzzTest {
    static final Set<String> CLASSES = Set.of("GenericError", "CommandNotFound");
    static final byte[] RECOVER = "\n\u0001{\"execute\":\"no-such-cmd\",\"id\":\"recovered\"}\n".getBytes();

    /** {@code quit}, {@code stop}, ... without a machine behind them. */
    static final class NullMachine implements QmpMachine {
        io.isthmus.vmm.machine.MicroVm.RunState state = io.isthmus.vmm.machine.MicroVm.RunState.RUNNING;

        @Override
        public io.isthmus.vmm.machine.MicroVm.RunState state() {
            return state;
        }

        @Override
        public boolean running() {
            return state == io.isthmus.vmm.machine.MicroVm.RunState.RUNNING;
        }

        @Override
        public String name() {
            return "fuzz";
        }

        @Override
        public int[] vcpuThreadIds() {
            return new int[] {1, 2};
        }

        @Override
        public void stop() {
            state = io.isthmus.vmm.machine.MicroVm.RunState.PAUSED;
        }

        @Override
        public void cont() {
            state = io.isthmus.vmm.machine.MicroVm.RunState.RUNNING;
        }

        @Override
        public void systemReset() { }

        @Override
        public void quit() { }

        @Override
        public void addListener(io.isthmus.vmm.machine.MachineListener l) { }
    }

    static void checkReply(ObjectNode reply, byte[] text) {
        if (reply == null) {
            return; // quit: its reply went out itself
        }
        JsonNode error = reply.get("error");
        if (reply.has("return") == (error != null)) {
            throw new AssertionError("neither return nor error (or both): " + reply + " for " + show(text));
        }
        if (error != null && (!CLASSES.contains(error.path("class").asText()) || !error.path("desc").isTextual())) {
            throw new AssertionError("error class or desc not QEMU's: " + reply + " for " + show(text));
        }
    }

    static String show(byte[] text) {
        return new String(text, 0, Math.min(text.length, 200), java.nio.charset.StandardCharsets.ISO_8859_1);
    }

    @FuzzTest
    void framer(FuzzedDataProvider data) {
        int[] messages = {0};
        QmpFramer framer = new QmpFramer(new QmpFramer.Sink() {
            @Override
            public void message(byte[] text) {
                if (text.length == 0 || text.length > QmpFramer.MAX_MESSAGE + 1) {
                    throw new AssertionError("framed a text of " + text.length + " bytes");
                }
                messages[0]++;
            }

            @Override
            public void tooLarge() { }
        });
        feedInChunks(data, framer);
    }

    @FuzzTest
    void dispatcher(byte[] text) {
        QmpServer server = QmpServer.detached(new NullMachine());
        checkReply(server.handle(text), text);
        // The same text after negotiation: the commands themselves, not only the negotiation errors.
        server.handle("{\"execute\":\"qmp_capabilities\"}".getBytes());
        checkReply(server.handle(text), text);
    }

    @FuzzTest
    void session(FuzzedDataProvider data) {
        QmpServer server = QmpServer.detached(new NullMachine());
        server.handle("{\"execute\":\"qmp_capabilities\"}".getBytes());
        JsonNode[] last = {null};
        QmpFramer framer = new QmpFramer(new QmpFramer.Sink() {
            @Override
            public void message(byte[] text) {
                ObjectNode reply = server.handle(text);
                checkReply(reply, text);
                last[0] = reply;
            }

            @Override
            public void tooLarge() {
                last[0] = null;
            }
        });
        feedInChunks(data, framer);
        framer.feed(RECOVER, RECOVER.length);
        if (last[0] == null || !"recovered".equals(last[0].path("id").asText())
                || !"CommandNotFound".equals(last[0].path("error").path("class").asText())) {
            throw new AssertionError("the stream did not recover: last reply " + last[0]);
        }
    }

    private static void feedInChunks(FuzzedDataProvider data, QmpFramer framer) {
        while (data.remainingBytes() > 0) {
            byte[] chunk = data.consumeBytes(data.consumeInt(1, 64));
            framer.feed(chunk, chunk.length);
        }
    }
}
