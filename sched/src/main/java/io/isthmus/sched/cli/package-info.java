/** {@code isthmus sched}: the command line (picocli). */
package io.isthmus.sched.cli;
