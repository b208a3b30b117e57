package capture

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// fenceClass is the first key of projector's advisory locks ("proj"), so
// that they do not collide with an application's own advisory locks.
const fenceClass = 0x70726f6a

// ErrFenced means another process holds a source's fence: it is the
// writer of the source's views, and this one must not touch its slot or
// its indices.
var ErrFenced = errors.New("another projector is running with this configuration")

// Fence is a session-level advisory lock on a source's database, keyed by
// its slot name, held for as long as its connection lives. Holding every
// source's fence makes a projector the one writer of its views: a second
// instance with the same configuration finds them taken and neither ends
// the first one's walsenders, nor drops its slots, nor moves its aliases.
type Fence struct {
	src     Source
	conn    *pgx.Conn
	session FenceSession
}

// FenceSession identifies the server session that holds a fence: a
// backend pid alone may be reused, with its start time it may not.
type FenceSession struct {
	PID   int
	Start time.Time
}

// Holder describes the process holding a fence.
type Holder struct {
	PID         int
	Client      string // client address, "local" for a Unix socket
	Application string
	Since       string // when its connection started
	start       time.Time
}

func (h Holder) String() string {
	return fmt.Sprintf("pid %d from %s (application %q, connected since %s)", h.PID, h.Client, h.Application, h.Since)
}

// TryFence connects to src and takes its fence. It returns ErrFenced,
// wrapped with who holds the fence, when another session has it.
func TryFence(ctx context.Context, src Source) (*Fence, error) {
	return RetakeFence(ctx, src, FenceSession{})
}

// RetakeFence takes src's fence again after its connection was lost. The
// server may not have noticed yet that the old session is gone (a
// network that dropped packets rather than closing the connection): when
// the holder is exactly previous, the session this process held it with,
// it is ended (pg_terminate_backend), which is safe because it is provably
// this process's own, and the fence taken. Any other holder is ErrFenced.
func RetakeFence(ctx context.Context, src Source, previous FenceSession) (*Fence, error) {
	cfg, err := pgx.ParseConfig(src.DSN)
	if err != nil {
		return nil, permanent(fmt.Errorf("source %q: the DSN cannot be parsed; check its syntax", src.Name))
	}
	cfg.RuntimeParams["application_name"] = "projector"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to source %q to take its lock: %w", src.Name, err)
	}
	f, err := takeFence(ctx, conn, src, previous)
	if err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return f, nil
}

func takeFence(ctx context.Context, conn *pgx.Conn, src Source, previous FenceSession) (*Fence, error) {
	for attempt := 0; ; attempt++ {
		var got bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, hashtext($2))`, fenceClass, src.SlotName()).Scan(&got); err != nil {
			return nil, fmt.Errorf("take the lock of source %q: %w", src.Name, err)
		}
		if got {
			f := &Fence{src: src, conn: conn}
			err := conn.QueryRow(ctx, `SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()`).
				Scan(&f.session.PID, &f.session.Start)
			if err != nil {
				return nil, fmt.Errorf("read the session of the lock of source %q: %w", src.Name, err)
			}
			return f, nil
		}
		h, err := fenceHolder(ctx, conn, src)
		if err != nil {
			return nil, err
		}
		if attempt >= 40 {
			return nil, fmt.Errorf("%w: source %q (slot %q) is locked by %s; stop that projector first, or start this one with --standby to take over when it stops",
				ErrFenced, src.Name, src.SlotName(), h)
		}
		switch {
		case h.PID == 0:
			// Released between the attempt and the look-up: try again.
		case previous.PID != 0 && h.PID == previous.PID && h.start.Equal(previous.Start):
			if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend($1)`, h.PID); err != nil {
				return nil, fmt.Errorf("end this projector's own stale lock session (pid %d) of source %q: %w", h.PID, src.Name, err)
			}
		default:
			return nil, fmt.Errorf("%w: source %q (slot %q) is locked by %s; stop that projector first, or start this one with --standby to take over when it stops",
				ErrFenced, src.Name, src.SlotName(), h)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func fenceHolder(ctx context.Context, conn *pgx.Conn, src Source) (Holder, error) {
	var h Holder
	var start *time.Time
	err := conn.QueryRow(ctx, `SELECT l.pid, coalesce(host(a.client_addr), 'local'), coalesce(a.application_name, ''),
			coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), ''), a.backend_start
		FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int::oid AND l.objid = hashtext($2)::oid
			AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		LIMIT 1`, fenceClass, src.SlotName()).Scan(&h.PID, &h.Client, &h.Application, &h.Since, &start)
	if start != nil {
		h.start = *start
	}
	if errors.Is(err, pgx.ErrNoRows) {
		// Released between the attempt and the look-up.
		return Holder{Client: "a session that has just ended", Since: "unknown"}, nil
	}
	if err != nil {
		return h, fmt.Errorf("look up who holds the lock of source %q: %w", src.Name, err)
	}
	return h, nil
}

// Check fails when the fence's connection is gone, and with it the lock.
func (f *Fence) Check(ctx context.Context) error {
	if err := f.conn.Ping(ctx); err != nil {
		return fmt.Errorf("the lock connection of source %q: %w", f.src.Name, err)
	}
	return nil
}

// Session is the server session holding the fence.
func (f *Fence) Session() FenceSession { return f.session }

// Source is the source the fence guards.
func (f *Fence) Source() Source { return f.src }

// Close releases the fence.
func (f *Fence) Close() {
	// Release the lock before closing: the server drops a closed
	// session's locks only once its backend has exited, a moment later,
	// and a projector started right after this one stopped would find the
	// fence still held. A failure here changes nothing: the close that
	// follows releases it all the same. The bound is generous: an unlock
	// cut short by a busy server leaves the lock to the exiting backend,
	// the very case this avoids, and a connection known to be lost (the one
	// case where the unlock cannot succeed) fails at once without waiting.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = f.conn.Exec(ctx, `SELECT pg_advisory_unlock($1, hashtext($2))`, fenceClass, f.src.SlotName())
	f.conn.Close(context.Background())
}
