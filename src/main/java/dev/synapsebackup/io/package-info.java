/**
 * Small composable stream decorators, each doing one thing (counting, metering, shielding the
 * delegate from close, telling source failures from parser failures, running a stage on its own
 * thread), and the run's work directory.
 */
package dev.synapsebackup.io;
