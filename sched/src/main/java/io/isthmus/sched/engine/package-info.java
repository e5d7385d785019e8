/** GPU engines the scheduler drives: the interface, and a deterministic simulated engine on a virtual clock. */
package io.isthmus.sched.engine;
