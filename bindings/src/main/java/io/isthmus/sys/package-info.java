/**
 * The hand-written native layer: errno-capturing downcalls ({@link io.isthmus.sys.Libc}), file descriptors
 * that close exactly once ({@link io.isthmus.sys.Fd}), memory mappings whose lifetime follows an
 * {@link java.lang.foreign.Arena} ({@link io.isthmus.sys.Mmap}), and kernel failures as
 * {@link io.isthmus.sys.NativeException}s naming the operation, errno's symbol and its text.
 *
 * <p>ioctl request numbers are function-like C macros that jextract cannot translate; they live in the
 * hand-kept tables {@link io.isthmus.sys.KvmIoctl} and {@link io.isthmus.sys.VfioIoctl}, which the layout
 * conformance test checks against the C headers.
 */
package io.isthmus.sys;
