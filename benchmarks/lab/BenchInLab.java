// Runs JMH benchmarks inside the lab guest (QEMU TCG, intel-iommu, edu bound to vfio-pci), which the VFIO
// benchmarks need. Not compiled by Maven (it needs the lab module); run it as a single-file program:
//   gcc -O2 -static -o SHARE/vfio_baseline benchmarks/src/main/resources/vfio/vfio_baseline.c
//   cp benchmarks/target/benchmarks.jar SHARE/
//   java -cp <lab jar and its classpath> -Disthmus.lab.jdkModules=java.base,java.logging,java.xml,java.sql,jdk.unsupported,java.management \
//        benchmarks/lab/BenchInLab.java REGEX "JMH OPTIONS" SHARE
// Results land in SHARE/out/result.txt and SHARE/out/jmh.log. The guest has no network, so lo is brought up
// for JMH's fork link; java.management is needed by JMH's forking and -prof gc.

import io.isthmus.lab.LabConfig;
import io.isthmus.lab.LabRun;
import io.isthmus.lab.QemuLab;
import java.nio.file.Path;

public class BenchInLab {
    public static void main(String[] args) throws Exception {
        String script = String.join("\n",
                "cd /mnt/lab", "ifconfig lo 127.0.0.1 up 2>/dev/null || ip link set lo up",
                "java -Djmh.ignoreLock=true -jar /mnt/lab/benchmarks.jar '" + args[0] + "' " + args[1]
                        + " -jvmArgsAppend -Disthmus.bench.vfio.baseline=/mnt/lab/vfio_baseline"
                        + " -rf text -rff /mnt/lab/out/result.txt > /mnt/lab/out/jmh.log 2>&1",
                "echo jmh-exit=$? >> /mnt/lab/out/jmh.log", "");
        try (QemuLab lab = QemuLab.create(LabConfig.fromSystemProperties())) {
            LabRun run = lab.run(Path.of(args[2]), script);
            System.out.println("exit " + run.exitStatus() + " wall " + run.wall());
        }
    }
}
