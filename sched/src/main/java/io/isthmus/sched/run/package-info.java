/** Host tenants run through the vGPU path ({@link io.isthmus.sched.run.TenantRun}) and the direct baseline. */
package io.isthmus.sched.run;
