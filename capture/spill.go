package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture/pgoutput"
)

// A transaction's changes wait for its commit in memory until they weigh
// more than the spill threshold; from then on they wait in a file under
// the spill directory, written in pgoutput's binary form of a change, and
// are read back a page at a time once the transaction commits. So the
// size of a transaction does not set the process's memory, only its disk
// use. A spill file lives as long as its transaction is open or being
// delivered; one a crash left behind is worthless, since the server sends
// every unconfirmed transaction again, and the directory is emptied when
// the stream starts.

// spillMagic starts every spill file, followed by the version of the
// change encoding (pgoutput.ChangeCodecVersion).
const spillMagic = "PJSPILL"

// Pages of a spilled transaction are small, in changes and in encoded
// bytes (a page of wide rows), because up to capture.Options.Buffer of
// them wait for the engine besides what the feed's budget holds. The
// engine groups the pages it finds waiting, so its groups stay of the
// usual size.
const (
	spillPageChanges = 500
	spillPageBytes   = 256 << 10
)

// spiller makes the buffers of one stream's transactions, and accounts
// for the bytes they hold.
type spiller struct {
	dir       string
	threshold int64
	// open is the bytes the stream's open transactions hold, in memory
	// and spilled, mirrored by openBytes; spilled counts every byte
	// written to a spill file.
	open      atomic.Int64
	openBytes prometheus.Gauge
	spilled   prometheus.Counter
	seq       atomic.Uint64
}

// newSpiller prepares dir, removing the spill files a previous run left
// there, for
// buffers that spill past threshold bytes. m may be nil.
func newSpiller(dir string, threshold int64, m *Metrics, source string) (*spiller, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the spill directory %s: %w", dir, err)
	}
	// Only spill files go: the directory may be one a user named.
	left, err := filepath.Glob(filepath.Join(dir, "*.spill"))
	if err != nil {
		return nil, fmt.Errorf("list the spill directory %s: %w", dir, err)
	}
	for _, f := range left {
		if err := os.Remove(f); err != nil {
			return nil, fmt.Errorf("remove the spill file %s a previous run left: %w", f, err)
		}
	}
	sp := &spiller{dir: dir, threshold: threshold}
	if m != nil {
		sp.openBytes = m.transactionBytes.WithLabelValues(source)
		sp.spilled = m.spilledBytes.WithLabelValues(source)
	}
	return sp, nil
}

// buffer makes the buffer of the transaction xid.
func (sp *spiller) buffer(xid uint32) pgoutput.Buffer {
	return &spillBuffer{sp: sp, xid: xid}
}

// grew accounts for n more (or, negative, fewer) bytes of open
// transactions.
func (sp *spiller) grew(n int64) {
	sp.open.Add(n)
	if sp.openBytes != nil {
		sp.openBytes.Add(float64(n))
	}
}

// spillBuffer keeps a transaction's changes in memory up to the spiller's
// threshold, and in a file past it.
type spillBuffer struct {
	sp  *spiller
	xid uint32
	mem pgoutput.MemoryBuffer
	// size is what the changes weigh in memory while they are there, then
	// what the file holds.
	size int64
	// file is the spill file once there is one; w writes it, r reads it
	// back after the commit.
	file    *os.File
	w       *bufio.Writer
	r       *bufio.Reader
	records int
	dropped map[uint32]bool
	codec   pgoutput.ChangeCodec[Numeric]
	rec     []byte
	closed  bool
}

// Add appends c, spilling every change held so far once they weigh more
// than the threshold.
func (b *spillBuffer) Add(xid uint32, c pgoutput.Change) error {
	if b.file != nil {
		return b.write(xid, &c)
	}
	if err := b.mem.Add(xid, c); err != nil {
		return err
	}
	n := pgoutput.ChangeSize(&c)
	b.size += n
	b.sp.grew(n)
	if b.size <= b.sp.threshold {
		return nil
	}
	return b.spill()
}

// spill moves the changes in memory to a new spill file.
func (b *spillBuffer) spill() error {
	name := filepath.Join(b.sp.dir, strconv.FormatUint(uint64(b.xid), 10)+"-"+strconv.FormatUint(b.sp.seq.Add(1), 10)+".spill")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create spill file for transaction %d: %w", b.xid, err)
	}
	b.file, b.w = f, bufio.NewWriterSize(f, 256<<10)
	if _, err := b.w.WriteString(spillMagic); err != nil {
		return b.failed(err)
	}
	if err := b.w.WriteByte(pgoutput.ChangeCodecVersion); err != nil {
		return b.failed(err)
	}
	// The file holds what memory held: the xids of the changes are kept
	// in the records, so a subtransaction aborted later is dropped there.
	b.sp.grew(-b.size)
	b.size = 0
	xids := b.mem.XIDs()
	changes, _ := b.mem.Next(0)
	for i := range changes {
		if err := b.write(xids[i], &changes[i]); err != nil {
			return err
		}
	}
	return b.mem.Close()
}

// write appends one change to the spill file.
func (b *spillBuffer) write(xid uint32, c *pgoutput.Change) error {
	rec, err := pgoutput.AppendChange[Numeric](b.rec[:0], xid, c)
	if err != nil {
		return fmt.Errorf("spill a change of %s in transaction %d: %w", c.Table, b.xid, err)
	}
	b.rec = rec
	var head [binary.MaxVarintLen64]byte
	h := binary.PutUvarint(head[:], uint64(len(rec)))
	if _, err := b.w.Write(head[:h]); err != nil {
		return b.failed(err)
	}
	if _, err := b.w.Write(rec); err != nil {
		return b.failed(err)
	}
	n := int64(h + len(rec))
	b.size += n
	b.records++
	b.sp.grew(n)
	if b.sp.spilled != nil {
		b.sp.spilled.Add(float64(n))
	}
	return nil
}

func (b *spillBuffer) failed(err error) error {
	return fmt.Errorf("write spill file %s of transaction %d (is the state directory's disk full?): %w", b.file.Name(), b.xid, err)
}

// DropXID drops the changes of an aborted subtransaction: at once from
// memory, and from a file as it is read back.
func (b *spillBuffer) DropXID(xid uint32) error {
	if b.file == nil {
		before := b.mem.Size()
		if err := b.mem.DropXID(xid); err != nil {
			return err
		}
		dropped := before - b.mem.Size()
		b.size -= dropped
		b.sp.grew(-dropped)
		return nil
	}
	if b.dropped == nil {
		b.dropped = map[uint32]bool{}
	}
	b.dropped[xid] = true
	return nil
}

// Len is the number of changes held, aborted subtransactions' included
// while they are in the file.
func (b *spillBuffer) Len() int {
	if b.file == nil {
		return b.mem.Len()
	}
	return b.records
}

// Size is the bytes the changes hold in memory or in the file.
func (b *spillBuffer) Size() int64 { return b.size }

// Next returns up to n changes (a page bounded in bytes too, when they
// come from the file), none at the end.
func (b *spillBuffer) Next(n int) ([]pgoutput.Change, error) {
	if b.file == nil {
		return b.mem.Next(n)
	}
	if b.r == nil {
		if err := b.rewind(); err != nil {
			return nil, err
		}
	}
	var page []pgoutput.Change
	read := 0
	// A page is never empty before the end: the changes of an aborted
	// subtransaction can fill whole pages' worth of records.
	for b.records > 0 && (len(page) == 0 || (n < 1 || len(page) < n) && read < spillPageBytes) {
		size, err := binary.ReadUvarint(b.r)
		if err != nil {
			return nil, b.readFailed(err)
		}
		if size > 1<<31 {
			return nil, b.readFailed(fmt.Errorf("a record of %d bytes", size))
		}
		if cap(b.rec) < int(size) {
			b.rec = make([]byte, size)
		}
		rec := b.rec[:size]
		if _, err := io.ReadFull(b.r, rec); err != nil {
			return nil, b.readFailed(err)
		}
		b.records--
		read += int(size)
		xid, c, err := b.codec.Read(rec)
		if err != nil {
			return nil, b.readFailed(err)
		}
		if !b.dropped[xid] {
			page = append(page, c)
		}
	}
	return page, nil
}

// rewind ends writing and starts reading the file from its first change.
func (b *spillBuffer) rewind() error {
	if err := b.w.Flush(); err != nil {
		return b.failed(err)
	}
	if _, err := b.file.Seek(0, io.SeekStart); err != nil {
		return b.readFailed(err)
	}
	b.r = bufio.NewReaderSize(b.file, 256<<10)
	head := make([]byte, len(spillMagic)+1)
	if _, err := io.ReadFull(b.r, head); err != nil {
		return b.readFailed(err)
	}
	if string(head[:len(spillMagic)]) != spillMagic || head[len(spillMagic)] != pgoutput.ChangeCodecVersion {
		return b.readFailed(errors.New("not a spill file of this projector version"))
	}
	return nil
}

func (b *spillBuffer) readFailed(err error) error {
	return fmt.Errorf("read back spill file %s of transaction %d: %w", b.file.Name(), b.xid, err)
}

// Close removes the spill file and forgets the changes.
func (b *spillBuffer) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.sp.grew(-b.size)
	b.size = 0
	if err := b.mem.Close(); err != nil {
		return err
	}
	if b.file == nil {
		return nil
	}
	name := b.file.Name()
	errClose := b.file.Close()
	b.file, b.w, b.r = nil, nil, nil
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("remove spill file %s: %w", name, err)
	}
	if errClose != nil {
		return fmt.Errorf("close spill file %s: %w", name, errClose)
	}
	return nil
}

// openSpill prepares the spill directory of a stream about to run and
// returns what removes a temporary one once it stops.
func (s *Stream) openSpill() (closeSpill func(), err error) {
	dir, temp := s.opts.SpillDir, false
	if dir == "" {
		if dir, err = os.MkdirTemp("", "projector-spill-"); err != nil {
			return nil, fmt.Errorf("source %q: create a temporary spill directory: %w", s.src.Name, err)
		}
		temp = true
	}
	sp, err := newSpiller(dir, s.opts.SpillThreshold, s.metrics, s.src.Name)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", s.src.Name, err)
	}
	s.spill = sp
	return func() {
		if !temp {
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			s.log.Warn("temporary spill directory not removed", "dir", dir, "error", err)
		}
	}, nil
}
