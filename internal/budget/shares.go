package budget

// Shares is the pipeline's memory budget divided between its stages, in
// bytes; the package documentation says what each share holds.
type Shares struct {
	Snapshot int64
	Feed     int64
	Sink     int64
}

// Default is the division projector runs with: 32 MiB in all.
func Default() Shares { return Shares{Snapshot: 8 << 20, Feed: 8 << 20, Sink: 16 << 20} }

// Total is the sum of the shares: what the pipeline may buffer at most,
// beyond items admitted alone because they are larger than their share.
func (s Shares) Total() int64 { return s.Snapshot + s.Feed + s.Sink }
