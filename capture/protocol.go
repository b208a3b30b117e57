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
	messages  bool // logical decoding messages are sent (14+)
}

// protocolFor picks the highest pgoutput protocol the server speaks that
// projector decodes: version 1 on PostgreSQL 13, version 2 with streaming
// of large transactions on 14 and later, so the server need not spill them
// to disk before sending.
func protocolFor(ctx context.Context, conn *pgx.Conn) (protocol, error) {
	var num int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&num); err != nil {
		return protocol{}, fmt.Errorf("read server version: %w", err)
	}
	switch {
	case num < 130000:
		return protocol{}, permanent(fmt.Errorf("PostgreSQL %d.%d is not supported: projector needs 13 or later", num/10000, num%10000/100))
	case num < 140000:
		return protocol{version: 1}, nil
	default:
		return protocol{version: 2, streaming: true, messages: true}, nil
	}
}

func (p protocol) pluginArgs(publication string) []string {
	args := []string{
		fmt.Sprintf("proto_version '%d'", p.version),
		"publication_names " + quoteLiteral(publication),
	}
	if p.streaming {
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
