/**
 * Generated FFM bindings for the Linux KVM and VFIO ABIs, libc and CUDA, and the one small hand-written
 * native layer over them ({@code io.isthmus.sys}).
 *
 * <p>This is the only module that makes restricted FFM calls ({@code downcallHandle}, {@code reinterpret}),
 * so it is the only one run with {@code --enable-native-access}.
 */
module io.isthmus.bindings {
    exports io.isthmus.sys;
    exports io.isthmus.bindings.kvm;
}
