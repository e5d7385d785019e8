/** Divides one GPU engine's time among vGPUs by policy. */
package io.isthmus.sched;
