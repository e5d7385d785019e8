package io.isthmus.vmm.demo;

import java.io.PrintWriter;

import io.isthmus.kvm.Kvm;
import io.isthmus.sched.ConfigurationException;
import io.isthmus.sched.engine.EngineUnavailableException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code isthmus demo}: the whole picture in one command, KVM guests sharing one GPU engine through their vGPUs.
 * Bad input ends with a one-line error (what, where, how to fix) and exit status 2; a machine or engine that cannot
 * run here, with one line and status 1; a stack trace only with {@code --verbose}.
 */
@Command(name = "isthmus demo", mixinStandardHelpOptions = true, version = "isthmus demo 0.1",
        description = {"Demonstrations with real KVM guests: several VMs, each with an isthmus-vgpu, sharing one GPU"
                + " engine by weight (gpu-share); one VM's throughput through the vGPU path against the same kernels"
                + " run straight on the engine, and where a request's time goes (vgpu-path)."},
        subcommands = {GpuShareCommand.class, VgpuPathCommand.class, CommandLine.HelpCommand.class})
public final class DemoMain implements Runnable {
    /** The program's name in messages. */
    static final String PROGRAM = "isthmus demo";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Entry point; exits with the command's status. */
    public static void main(String[] args) {
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command line with the given streams; @return the exit status */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new DemoMain());
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler((ex, args2) -> {
            CommandLine cmd = ex.getCommandLine();
            cmd.getErr().println(PROGRAM + ": " + ex.getMessage().strip().replace('\n', ' ') + " (see '"
                    + cmd.getCommandSpec().qualifiedName() + " --help')");
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            boolean verbose = parsed.hasMatchedOption("--verbose");
            int status;
            if (ex instanceof ConfigurationException) {
                cmd.getErr().println(PROGRAM + ": " + ex.getMessage());
                status = 2;
            } else if (ex instanceof EngineUnavailableException || ex instanceof Kvm.KvmUnavailableException
                    || ex instanceof DemoException) {
                cmd.getErr().println(PROGRAM + ": " + ex.getMessage());
                status = 1;
            } else {
                cmd.getErr().println(PROGRAM + ": " + ex);
                if (!verbose) {
                    cmd.getErr().println(PROGRAM + ": run again with --verbose for the stack trace");
                }
                status = 1;
            }
            if (verbose) {
                ex.printStackTrace(cmd.getErr());
            }
            return status;
        });
        return cl.execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** A demo that cannot go on (a machine failed to start or ended early), with what happened. */
    static final class DemoException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        DemoException(String message) {
            super(message);
        }
    }
}
