/** The reference VMM behind {@code bin/isthmus vmm}. */
package io.isthmus.vmm;
