/**
 * Small composable stream decorators, each doing one thing (counting, hashing, shielding the
 * delegate from close, telling source failures from parser failures).
 */
package dev.synapsebackup.io;
