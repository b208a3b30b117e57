package config

import (
	"slices"
	"strings"
)

// suggestKey returns the accepted key an unknown key was most likely meant
// to be, or "" when none is close. It tries, in order: a name other tools
// use for the same thing (slot_name for slot, url for dsn or urls), the
// same key with another case or "-" for "_", a key the unknown one extends
// with a word (slot_name, sink_urls), and a small edit distance (a typo,
// url for urls).
func suggestKey(key string, valid []string) string {
	for _, alias := range keyAliases(key) {
		if slices.Contains(valid, alias) {
			return alias
		}
	}
	norm := strings.ReplaceAll(strings.ToLower(key), "-", "_")
	if slices.Contains(valid, norm) {
		return norm
	}
	for _, v := range valid {
		if strings.HasPrefix(norm, v+"_") || strings.HasSuffix(norm, "_"+v) {
			return v
		}
	}
	best, bestDist := "", max(1, len(norm)/3)+1
	for _, v := range valid {
		if d := editDistance(norm, v); d < bestDist {
			best, bestDist = v, d
		}
	}
	return best
}

// keyAliases lists, for a key projector does not know, the keys other
// tools (Debezium, Logstash, the search engines' clients, libpq) use for
// the same setting, most likely first; the first one accepted where the key
// was written is suggested.
func keyAliases(key string) []string {
	switch strings.ReplaceAll(strings.ToLower(key), "-", "_") {
	case "url", "uri":
		return []string{"urls", "dsn"}
	case "hosts", "host", "nodes", "addresses", "endpoints", "servers":
		return []string{"urls"}
	case "connection", "connection_string", "conn_string", "conninfo", "database_url", "dsn_url":
		return []string{"dsn"}
	case "slot_name", "replication_slot", "replication_slot_name":
		return []string{"slot"}
	case "publication_name", "pub":
		return []string{"publication"}
	case "user", "login":
		return []string{"username"}
	case "pass", "passwd", "pwd":
		return []string{"password"}
	case "apikey", "token":
		return []string{"api_key"}
	case "ca", "cacert", "ca_cert", "ca_file", "ca_certificate", "tls_ca":
		return []string{"ca_cert_file"}
	case "insecure", "tls_skip_verify", "skip_verify":
		return []string{"insecure_skip_verify"}
	case "batch_size", "bulk_size", "max_actions":
		return []string{"bulk_actions"}
	case "batch_bytes", "max_bytes":
		return []string{"bulk_bytes"}
	case "workers", "parallelism", "max_inflight":
		return []string{"concurrency"}
	case "compress", "compression":
		return []string{"gzip"}
	case "prefix", "index":
		return []string{"index_prefix", "name"}
	case "alias", "index_name", "view":
		return []string{"name"}
	case "columns", "column", "select":
		return []string{"fields"}
	case "join", "join_on", "foreign_key", "keys":
		return []string{"on"}
	case "kind", "relation", "cardinality":
		return []string{"type"}
	case "joins", "children", "nested", "includes":
		return []string{"relations"}
	case "table_name", "from":
		return []string{"table"}
	case "schema_name":
		return []string{"schema"}
	case "database", "db":
		return []string{"source", "sources"}
	case "source_name":
		return []string{"source"}
	case "databases", "dbs":
		return []string{"sources"}
	case "address", "addr", "bind", "listen_address":
		return []string{"listen"}
	case "directory", "path", "data_dir", "state_dir":
		return []string{"dir"}
	}
	return nil
}

// editDistance is the number of single-character insertions, deletions,
// substitutions and swaps of neighbours that turn a into b (the optimal
// string alignment distance), for short ASCII keys.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
