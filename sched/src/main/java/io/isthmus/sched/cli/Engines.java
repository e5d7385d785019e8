package io.isthmus.sched.cli;

import io.isthmus.sched.ConfigurationException;
import io.isthmus.sched.cuda.CudaEngine;
import io.isthmus.sched.engine.DeviceEngine;
import io.isthmus.sched.engine.HostEngine;
import io.isthmus.sched.engine.SimulatedEngine;
import java.util.Locale;

/** Makes the engine {@code --engine} names. Stateless. */
final class Engines {
    private Engines() {
    }

    /**
     * @throws ConfigurationException for an unknown name
     * @throws io.isthmus.sched.engine.EngineUnavailableException when the engine cannot run here (cuda without a driver)
     */
    static DeviceEngine create(String name, long simSwitchCost) {
        return switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "sim" -> new SimulatedEngine(simSwitchCost);
            case "host" -> new HostEngine();
            case "cuda" -> CudaEngine.create(0);
            default -> throw new ConfigurationException("--engine '" + name + "' is not an engine; use sim, host or cuda");
        };
    }
}
