/** Deterministic simulations: workloads of backlogged, open-arrival, idle, joining and leaving vGPUs on a simulated engine. */
package io.isthmus.sched.sim;
