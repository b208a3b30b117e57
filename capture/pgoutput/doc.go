// Package pgoutput decodes PostgreSQL's pgoutput logical replication
// messages into committed transactions of typed row values. It is pure: it
// opens no connection and starts no goroutine. The caller feeds it the
// WALData of each XLogData message, in order, and gets back each
// transaction once it commits.
//
// Messages are read here, every field checked against the bytes left, so
// that a garbled message is an error and never a panic; column values are
// decoded with github.com/jackc/pgx/v5/pgtype's codecs, which need no
// connection. Types that differ from one database to the next (enums,
// domains, extension types) are described by a TypeResolver the caller
// supplies, which may query the catalog.
//
// Protocol lists the pgoutput protocol versions and the plugin options a
// stream is started with; the package's tests build messages byte by byte,
// as the server lays them out, and fuzz the decoder with them.
package pgoutput
