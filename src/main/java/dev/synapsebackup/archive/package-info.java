/**
 * POSIX/PAX tar writing and reading compatible with GNU tar, and extraction that never leaves
 * its destination root (no links, devices, "..", or writes through symlinks).
 */
package dev.synapsebackup.archive;
