package capture

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// protocol is the pgoutput protocol version and options the server allows.
type protocol struct {
	version   int
	streaming bool // large in-progress transactions arrive in chunks (v2+)
	// parallel asks for streaming 'parallel' (v4, 16+), under which a
	// Stream Abort also carries the abort's LSN and time.
	parallel bool
	messages bool // logical decoding messages are sent (14+)
}

// protocolFor picks the highest pgoutput protocol the server speaks that
// projector decodes:
//
//   - 13: version 1. Large transactions are spilled to disk by the server
//     and sent at commit.
//   - 14 and 15: version 2 with streaming, so the server sends large
//     transactions while they run instead of spilling them first. Version
//     3 (15+) adds only two-phase commit, which projector does not request:
//     a prepared transaction is of no use to a view until it commits.
//   - 16 and later: version 4 with streaming 'parallel'. The messages are
//     those of version 2, except that a Stream Abort carries the abort's
//     LSN and time, which the decoder must read (newDecoder tells it to).
//     projector applies streamed transactions at their commit, so the
//     subscriber-side parallel apply the option is named for changes
//     nothing else here.
func protocolFor(ctx context.Context, conn *pgx.Conn) (protocol, error) {
	var num int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&num); err != nil {
		return protocol{}, fmt.Errorf("read server version: %w", err)
	}
	return protocolForVersion(num)
}

// protocolForVersion is protocolFor for server_version_num num.
func protocolForVersion(num int) (protocol, error) {
	switch {
	case num < 130000:
		return protocol{}, permanent(fmt.Errorf("PostgreSQL %d.%d is not supported: projector needs 13 or later", num/10000, num%10000/100))
	case num < 140000:
		return protocol{version: 1}, nil
	case num < 160000:
		return protocol{version: 2, streaming: true, messages: true}, nil
	default:
		return protocol{version: 4, streaming: true, parallel: true, messages: true}, nil
	}
}

// newDecoder returns a Decoder for a stream started with p's plugin
// arguments.
func (p protocol) newDecoder(source string, types TypeResolver) *Decoder {
	d := NewDecoder(source, types)
	d.abortInfo = p.parallel
	return d
}

// pluginArgs are the pgoutput options that start a stream of publication
// with protocol p.
func (p protocol) pluginArgs(publication string) []string {
	args := []string{
		fmt.Sprintf("proto_version '%d'", p.version),
		"publication_names " + quoteLiteral(publication),
	}
	switch {
	case p.parallel:
		args = append(args, "streaming 'parallel'")
	case p.streaming:
		args = append(args, "streaming 'on'")
	}
	if p.messages {
		args = append(args, "messages 'true'")
	}
	return args
}

func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
