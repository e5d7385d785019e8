/**
 * JMH benchmarks, one class per concern, each with the baseline it is compared with in the same run. They run
 * from the class path ({@code java -jar benchmarks/target/benchmarks.jar}), so this module has no
 * {@code module-info}: JMH's generated harness and the shaded uber-jar are class-path code.
 */
package io.isthmus.benchmarks;
