// Package inspect answers questions about a backup in storage and makes the
// repairs an operator asks for, without consuming from Kafka: Verify checks
// every segment against its index, Describe and ShowIndex summarise a topic
// and its index, ListSnapshots lists a topic's snapshot versions,
// RebuildIndex rebuilds an index from the segments alone, and CreateSnapshot
// cuts a new snapshot version (through a running backup when one holds the
// topic). Backing up is package backup; restoring is package restore.
package inspect
