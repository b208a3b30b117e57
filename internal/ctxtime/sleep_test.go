package ctxtime

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	for _, tc := range []struct {
		name    string
		d       time.Duration
		cancel  bool
		timeout time.Duration
		want    error
	}{
		{name: "elapses", d: 10 * time.Millisecond},
		{name: "zero", d: 0},
		{name: "negative", d: -time.Second},
		{name: "cancelled before", d: time.Hour, cancel: true, want: context.Canceled},
		{name: "deadline first", d: time.Hour, timeout: 20 * time.Millisecond, want: context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.timeout > 0 {
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			if tc.cancel {
				cancel()
			}
			start := time.Now()
			err := Sleep(ctx, tc.d)
			if !errors.Is(err, tc.want) {
				t.Errorf("Sleep = %v, want %v", err, tc.want)
			}
			if took := time.Since(start); took > time.Minute {
				t.Errorf("Sleep took %s", took)
			}
			if tc.want == nil && time.Since(start) < tc.d {
				t.Errorf("Sleep returned before %s", tc.d)
			}
		})
	}
}
