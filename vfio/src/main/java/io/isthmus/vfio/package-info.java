/** Safe types over the VFIO ioctls and the sysfs PCI tree. */
package io.isthmus.vfio;
