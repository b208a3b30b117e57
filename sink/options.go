package sink

import (
	"fmt"
	"time"

	"github.com/projector-dev/projector/internal/budget"
)

// WriterOptions tune batching, concurrency, buffering and retries. Zero
// fields take the defaults below.
type WriterOptions struct {
	// BulkActions, BulkBytes and FlushInterval end a batch: whichever is
	// reached first sends it. Defaults: 1000 documents, 5 MiB, 50 ms. A
	// lane that sent nothing for a FlushInterval sends what arrives at once.
	BulkActions   int
	BulkBytes     int
	FlushInterval time.Duration
	// Concurrency is how many bulk requests may be in flight (default 4).
	// Documents are spread over that many lanes by index and id; each lane
	// sends one request at a time, which keeps the writes to one document
	// in order.
	Concurrency int
	// MaxBufferedBytes bounds the documents accepted but not yet durable
	// (default: the sink's share of budget.Default, 16 MiB, ten times what
	// four requests of 1,000 documents carry). Submit blocks while it is
	// reached, which slows the replication stream down instead of growing
	// memory.
	MaxBufferedBytes int64
	// RetryInitial and RetryMax bound the exponential backoff between
	// retries (defaults 100 ms and 10 s). Retries go on until the context
	// is cancelled: a search engine that is down delays documents, it does
	// not lose them.
	RetryInitial time.Duration
	RetryMax     time.Duration
	// DrainTimeout bounds how long Run keeps writing what it holds after
	// its context is cancelled (default 10 s).
	DrainTimeout time.Duration
	// NoDrain makes Run return as soon as its context is cancelled,
	// cancelling the bulk requests in flight, instead of draining. It suits
	// a caller that waits for the acknowledgements it needs before it
	// cancels Run, and cancels it earlier only when it must stop at once,
	// such as at the end of a shutdown grace period.
	NoDrain bool
	// Metrics, when set, are the metrics the writer counts in, created
	// once per process by NewMetrics; otherwise NewWriter creates its own.
	Metrics *Metrics
}

// withDefaults fills zero fields and rejects negative ones.
func (o WriterOptions) withDefaults() (WriterOptions, error) {
	if o.BulkActions < 0 || o.BulkBytes < 0 || o.FlushInterval < 0 || o.Concurrency < 0 ||
		o.MaxBufferedBytes < 0 || o.RetryInitial < 0 || o.RetryMax < 0 || o.DrainTimeout < 0 {
		return o, fmt.Errorf("sink writer options: negative values are not allowed: %+v", o)
	}
	setDefault(&o.BulkActions, 1000)
	setDefault(&o.BulkBytes, 5<<20)
	setDefault(&o.FlushInterval, 50*time.Millisecond)
	setDefault(&o.Concurrency, 4)
	setDefault(&o.MaxBufferedBytes, budget.Default().Sink)
	setDefault(&o.RetryInitial, 100*time.Millisecond)
	setDefault(&o.RetryMax, 10*time.Second)
	setDefault(&o.DrainTimeout, 10*time.Second)
	if o.RetryMax < o.RetryInitial {
		return o, fmt.Errorf("sink writer options: RetryMax %s is below RetryInitial %s", o.RetryMax, o.RetryInitial)
	}
	return o, nil
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}
