/**
 * The lab: a QEMU guest with a real (emulated) IOMMU, the edu PCI device bound to vfio-pci and working KVM, in
 * which integration tests and commands run on any machine, CI included. No {@code /dev/vfio}, {@code /dev/kvm} or
 * GPU on the host is needed, and nothing is mocked: the guest's kernel is Debian's, its KVM, vfio-pci and IOMMU
 * drivers are the real ones.
 *
 * <p>Two kinds of tests run there: those tagged {@code lab} ({@link io.isthmus.lab.GuestJUnit#TAG}: VFIO's, which no
 * host here can run) always; those tagged {@code kvm} ({@link io.isthmus.lab.GuestJUnit#KVM_TAG}: they make VMs)
 * where the host has no {@code /dev/kvm} (the root pom's {@code kvm-in-lab} profile moves them: surefire excludes them
 * in their own module, and {@code LabSuiteTest} includes them in its one boot). And {@link io.isthmus.lab.LabCommand}
 * runs a command there for a person ({@code bin/isthmus vmm} and {@code bin/isthmus bench} on a host without KVM),
 * attached to the terminal, with the host's files at their own paths.
 *
 * <h2>What the guest is</h2>
 * <ul>
 *   <li>{@code qemu-system-x86_64 -accel tcg -machine q35 -cpu max -smp 1 -m 1G -device intel-iommu,caching-mode=on
 *       -device edu,addr=01.0 -device pcie-pci-bridge,id=lab-pbr,addr=0a.0 -device edu,bus=lab-pbr,addr=01.0
 *       -device e1000,bus=lab-pbr,addr=02.0}, kernel command line {@code intel_iommu=on} (DMA translation, not
 *       pass-through) and {@code isthmus.edu=0000:00:01.0}.</li>
 *   <li>Debian's amd64 kernel ({@code linux-image-*-amd64}, fetched once with {@code apt-get download} into the
 *       cache and unpacked with {@code dpkg -x}; it is never installed on the host) with the modules vfio,
 *       vfio_iommu_type1, vfio-pci, kvm, kvm_amd, virtio_pci, 9p and e1000 (and their dependencies) loaded.</li>
 *   <li>An initramfs ({@link io.isthmus.lab.LabImage}) with busybox-static, a jlink'd JDK 25 at {@code /jdk}
 *       ({@link io.isthmus.lab.LabConfig#DEFAULT_JDK_MODULES}; {@code java} is on the PATH), the host's
 *       {@code qemu-system-x86_64} with its firmware, bash, GNU time and setpriv (at their host paths), and the
 *       libraries they link. It is cached under {@code ~/.cache/isthmus-lab/images/<key>}, the key hashing every
 *       input, and rebuilt only when an input changes. Memory overcommit is on ({@code vm.overcommit_memory=1}), so
 *       QEMU can run guests larger than the lab's RAM, as on a host with more.</li>
 *   <li>When a test runs: both edus (1234:11e8) are bound to vfio-pci through {@code driver_override}, so
 *       {@code /dev/vfio/vfio} and {@code /dev/vfio/<edu's group>} exist. The main edu, at {@code 0000:00:01.0}
 *       alone in its group, is the one tests use: its address is in the environment variable
 *       {@code ISTHMUS_LAB_EDU}. The second edu shares a group with the PCI bridge and the e1000, which keeps its
 *       kernel driver, so that group is not viable (VFIO_GROUP_FLAGS_VIABLE clear); its number is in
 *       {@code ISTHMUS_LAB_NONVIABLE_GROUP}. Find devices through these variables, never by taking the first
 *       edu in sysfs; {@code /dev/kvm} exists and runs guest
 *       code (kvm_amd on QEMU's emulated SVM with nested paging). The host directory of the run is mounted
 *       read-write at {@code /mnt/lab} (9p); results go to {@code /mnt/lab/out}. The guest powers off when the
 *       command ends; a guest that does not is killed after {@code isthmus.lab.timeoutSeconds} and the failure
 *       shows the tail of its serial console.</li>
 * </ul>
 *
 * <h2>Writing a test that runs inside the lab</h2>
 * <ol>
 *   <li>Put the JUnit 5 test class in {@code lab/src/test/java}, in a package for its area:
 *       {@code io.isthmus.lab.guest} holds the lab's own smoke tests; VFIO's go in {@code io.isthmus.lab.vfio},
 *       KVM's in {@code io.isthmus.lab.kvm}, and so on.</li>
 *   <li>Tag the class {@code @Tag("lab")} ({@link io.isthmus.lab.GuestJUnit#TAG}). The tag is the whole
 *       convention: on the host, surefire excludes it (the root pom's {@code isthmus.host.excludedGroups}), so these
 *       classes never run outside the guest; in the guest, the console launcher runs exactly the tagged classes
 *       found in {@code lab/target/test-classes} and the test jars. A test that only needs KVM is tagged
 *       {@code kvm} instead, stays in its own module, and runs in the guest only where the host has no KVM.</li>
 *   <li>Add the module under test to lab's pom with {@code <scope>test</scope>} (e.g. {@code isthmus-vfio});
 *       the guest classpath is lab's test classpath, made by {@code dependency:build-classpath} into
 *       {@code target/lab/classpath.txt}, JUnit excluded (the launcher jar carries it).</li>
 *   <li>Guest tests run on the class path with {@code --enable-native-access=ALL-UNNAMED} as root, so they may
 *       open {@code /dev/vfio/*} and {@code /dev/kvm} and call {@code io.isthmus.sys} directly. The system
 *       property {@code isthmus.lab.guest} is {@code true} there. Files they need travel as class-path resources
 *       (built by Maven, never by gcc at test time: the guest has none), not as paths relative to a module. Keep
 *       them quick: the guest CPU is emulated (roughly 20-50 times slower than the host; a JVM takes ~7 s to
 *       start), so make many VMs in one JVM rather than one JVM each.</li>
 * </ol>
 * Nothing else is needed: {@code LabSuiteTest} (lab's one host-side test class) boots the lab once per test run,
 * runs every tagged class inside with the JUnit Platform console launcher, parses its XML report from the share
 * and turns each guest test into a host {@link org.junit.jupiter.api.DynamicTest}, grouped by class as
 * {@code [lab] ClassName}: a failing guest test fails the build with the guest's message and stack trace, a
 * skipped one is reported as skipped.
 *
 * <p>A module may instead keep its lab tests in its own test sources, as {@code vfio} does
 * ({@code io.isthmus.vfio.lab}): it builds a test jar ({@code maven-jar-plugin}'s {@code test-jar} goal) and
 * excludes the tag from its own surefire run, and lab's pom depends on that test jar with {@code test} scope.
 * {@link io.isthmus.lab.GuestJUnit#ofMavenBuild} scans every test jar on lab's classpath as well as lab's own
 * {@code test-classes}, so those tests run in the same single boot.
 *
 * <h2>Running</h2>
 * <pre>{@code
 * bin/test                                   # everything, the lab included (one boot)
 * bin/test -pl lab -am -Dtest=LabSuiteTest -Dsurefire.failIfNoSpecifiedTests=false     # only the lab suite
 * bin/test -pl lab -am -Dtest=LabSuiteTest -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Disthmus.lab.select=--select-class=io.isthmus.lab.guest.KvmLabTest             # one guest class
 * }</pre>
 * After a run, {@code lab/target/lab-run/share-console.log} holds the guest's serial console (kernel messages,
 * the launcher's test tree, the lab's {@code ISTHMUS-LAB} markers) and {@code lab/target/lab-run/share/out/reports}
 * the launcher's XML reports; {@code lab/target/lab-run/timing.txt} the boot-to-power-off time.
 *
 * <h2>Settings (system properties; {@code -D} on the Maven command line reaches the tests)</h2>
 * <ul>
 *   <li>{@code isthmus.lab.cache}: cache directory (default {@code $ISTHMUS_LAB_CACHE} or
 *       {@code ~/.cache/isthmus-lab}); {@code isthmus.lab.kernelDeb}: use this kernel {@code .deb} instead of
 *       the newest cached or downloaded one; {@code isthmus.lab.busybox}: a static busybox (default
 *       {@code /bin/busybox} from busybox-static).</li>
 *   <li>{@code isthmus.lab.jdk}: the JDK 25 to jlink from (default: the running one);
 *       {@code isthmus.lab.jdkModules}: comma-separated module list.</li>
 *   <li>{@code isthmus.lab.memory} (MiB, 1024), {@code isthmus.lab.cpus} (1: with TCG on a shared 2-core host,
 *       2 vCPUs measured twice as slow), {@code isthmus.lab.timeoutSeconds} (2400: one boot runs the KVM and VMM
 *       suites where the host has no KVM), {@code isthmus.lab.bootTimeoutSeconds} (300: until the guest is ready,
 *       normally a few seconds), {@code isthmus.lab.select} (console-launcher selectors replacing the tag scan),
 *       {@code isthmus.lab.jvmOptions} (the guest test JVM's options; default {@code -XX:+UseSerialGC}, the full
 *       JIT), {@code isthmus.lab.tags} (the tags run; the build sets it).</li>
 *   <li>Environment, for {@code bin/isthmus}: {@code ISTHMUS_KVM=auto|host|lab}; {@code ISTHMUS_LAB_KEEP=1} keeps
 *       an attached run's console and logs.</li>
 * </ul>
 *
 * <h2>Requirements</h2>
 * Debian packages qemu-system-x86, busybox-static, cpio, time and util-linux ({@code bin/test} and
 * {@code bin/isthmus} install them as root), a full JDK 25 (for jlink), and once, network access for
 * {@code apt-get download} of the kernel package (about 70 MB); after that the lab works offline. A missing piece
 * fails the lab tests with a message naming the package to install: these are not skipped, since TCG needs neither
 * {@code /dev/kvm} nor special hardware.
 */
package io.isthmus.lab;
