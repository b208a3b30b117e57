package pgoutput

import (
	"fmt"
)

// Protocol is a pgoutput protocol version and the plugin options a stream
// is started with: proto_version, streaming and messages.
type Protocol struct {
	Version   int
	Streaming bool // large in-progress transactions arrive in segments (v2+)
	// Parallel asks for streaming 'parallel' (v4, 16+), under which a
	// Stream Abort also carries the abort's LSN and time.
	Parallel bool
	Messages bool // logical decoding messages are sent (14+)
}

// MinServerVersion is the oldest server_version_num projector streams from.
const MinServerVersion = 130000

// Versions lists the pgoutput protocol versions a server offers, by its
// server_version_num: 1 always, 2 from PostgreSQL 14 (streaming), 3 from
// 15 (two-phase commit), 4 from 16 (streaming 'parallel').
func Versions(serverVersion int) []int {
	var vs []int
	for v, since := range []int{1: MinServerVersion, 2: 140000, 3: 150000, 4: 160000} {
		if v > 0 && serverVersion >= since {
			vs = append(vs, v)
		}
	}
	return vs
}

// ForServer picks the highest protocol the server speaks that this
// package decodes:
//
//   - 13: version 1. Large transactions are spilled to disk by the server
//     and sent at commit.
//   - 14 and 15: version 2 with streaming, so the server sends large
//     transactions while they run instead of spilling them first. Version
//     3 (15+) adds only two-phase commit, which is not requested: a
//     prepared transaction is of no use to a view until it commits.
//   - 16 and later: version 4 with streaming 'parallel'. The messages are
//     those of version 2, except that a Stream Abort carries the abort's
//     LSN and time, which the Decoder reads when Parallel is set. Streamed
//     transactions are applied at their commit, so the subscriber-side
//     parallel apply the option is named for changes nothing else.
func ForServer(serverVersion int) (Protocol, error) {
	switch {
	case serverVersion < MinServerVersion:
		return Protocol{}, unsupported(serverVersion)
	case serverVersion < 140000:
		return ForVersion(serverVersion, 1)
	case serverVersion < 160000:
		return ForVersion(serverVersion, 2)
	default:
		return ForVersion(serverVersion, 4)
	}
}

// ForVersion returns the options of protocol version on a server of
// server_version_num serverVersion: streaming from version 2 on, 'parallel'
// under version 4, logical decoding messages wherever the server has the
// option (14+). Two-phase commit is never requested, so version 3 streams
// as version 2 does.
func ForVersion(serverVersion, version int) (Protocol, error) {
	if serverVersion < MinServerVersion {
		return Protocol{}, unsupported(serverVersion)
	}
	offered := Versions(serverVersion)
	if version < 1 || version > offered[len(offered)-1] {
		return Protocol{}, fmt.Errorf("pgoutput protocol version %d is not offered by PostgreSQL %d, which offers 1 to %d",
			version, serverVersion/10000, offered[len(offered)-1])
	}
	return Protocol{
		Version:   version,
		Streaming: version >= 2,
		Parallel:  version >= 4,
		Messages:  serverVersion >= 140000,
	}, nil
}

func unsupported(serverVersion int) error {
	return fmt.Errorf("PostgreSQL %d.%d is not supported: projector needs 13 or later", serverVersion/10000, serverVersion%10000/100)
}
