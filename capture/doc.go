// Package capture turns PostgreSQL service databases into ordered streams of
// committed transactions: a consistent snapshot first, then the pgoutput
// logical replication stream, confirming WAL to the server only once
// everything derived from it is durable downstream.
package capture
