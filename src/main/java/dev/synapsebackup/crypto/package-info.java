/**
 * Passphrase-based OpenPGP encryption of backup objects, interoperable with stock GnuPG 2.2+
 * (see {@link dev.synapsebackup.crypto.OpenPgp}).
 */
package dev.synapsebackup.crypto;
