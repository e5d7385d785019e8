/** What a scheduler achieved: shares, busy and idle time, wait latency, context switches, fairness. */
package io.isthmus.sched.metrics;
