package io.isthmus.sys;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Map;

/**
 * Names of ioctl requests for error messages, read from the hand-kept tables.
 *
 * <p>Some requests share a number across descriptors (e.g. {@code VFIO_IOMMU_GET_INFO} and
 * {@code VFIO_DEVICE_GET_PCI_HOT_RESET_INFO}); their names are joined with {@code /}. Built once, lazily;
 * thread-safe.
 */
final class IoctlNames {
    private IoctlNames() {}

    private static final class Table {
        static final Map<Long, String> NAMES = build();

        private static Map<Long, String> build() {
            Map<Long, String> names = new HashMap<>();
            for (Class<?> table : new Class<?>[] {KvmIoctl.class, VfioIoctl.class}) {
                for (Field f : table.getFields()) {
                    if (Modifier.isStatic(f.getModifiers()) && f.getType() == long.class) {
                        try {
                            names.merge(f.getLong(null), f.getName(), (a, b) -> a + "/" + b);
                        } catch (IllegalAccessException e) {
                            throw new IllegalStateException(e);
                        }
                    }
                }
            }
            return Map.copyOf(names);
        }
    }

    static String of(long request) {
        String name = Table.NAMES.get(request);
        return name != null ? name : "0x" + Long.toHexString(request);
    }
}
