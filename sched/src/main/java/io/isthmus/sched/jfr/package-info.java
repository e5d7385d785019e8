/** JFR events the scheduler emits: one per decision and one per slice (enable them with -XX:StartFlightRecording). */
package io.isthmus.sched.jfr;
