package io.isthmus.sched.cli;

import io.isthmus.sched.ConfigurationException;
import io.isthmus.sched.engine.EngineUnavailableException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code isthmus sched}: simulate the GPU time-slice scheduler, or run tenants through it on a real engine. Bad input, an option value picocli's converters refuse
 * included, ends with a one-line error (what, where, how to fix) and exit status 2; a stack trace only with
 * {@code -d/--verbose}.
 */
@Command(name = "isthmus sched", mixinStandardHelpOptions = true, version = "isthmus sched 0.1",
        description = {"Share one GPU engine's time among vGPUs by policy: simulate it, or run host tenants through the",
            "vGPU path on a simulated, host or CUDA engine."},
        subcommands = {SimulateCommand.class, RunCommand.class, CommandLine.HelpCommand.class})
public final class SchedMain implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Entry point; exits with the command's status. */
    public static void main(String[] args) {
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command line with the given streams; @return the exit status */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new SchedMain());
        cl.setOut(out);
        cl.setErr(err);
        // picocli's default prints the whole usage after a bad option value; one line naming it is enough.
        cl.setParameterExceptionHandler((ex, args2) -> {
            CommandLine cmd = ex.getCommandLine();
            cmd.getErr().println("isthmus sched: " + ex.getMessage().strip().replace('\n', ' ') + " (see '"
                    + cmd.getCommandSpec().qualifiedName() + " --help')");
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            boolean verbose = parsed.hasMatchedOption("--verbose");
            if (ex instanceof EngineUnavailableException) {
                cmd.getErr().println("isthmus sched: " + ex.getMessage());
                if (verbose) {
                    ex.printStackTrace(cmd.getErr());
                }
                return 1;
            }
            if (ex instanceof ConfigurationException) {
                cmd.getErr().println("isthmus sched: " + ex.getMessage());
                if (verbose) {
                    ex.printStackTrace(cmd.getErr());
                }
                return 2;
            }
            cmd.getErr().println("isthmus sched: " + ex);
            if (verbose) {
                ex.printStackTrace(cmd.getErr());
            } else {
                cmd.getErr().println("isthmus sched: run again with --verbose for the stack trace");
            }
            return 1;
        });
        return cl.execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
