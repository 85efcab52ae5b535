// Package retry owns the arithmetic and the waiting of the sidecar's
// retries: an exponential backoff with a cap and jitter, whose n-th delay
// is computed from n alone, and a sleep that ends with its context. It does
// not decide what is retried, how often, or what a failure is counted as:
// each caller keeps its own limits, errors and metrics.
package retry

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// Jitter says how a delay is spread at random, so that sidecars that failed
// together do not retry together.
type Jitter int

const (
	// NoJitter waits exactly the computed delay d.
	NoJitter Jitter = iota
	// EqualJitter waits d/2 plus a random part in [0, d/2]: at least half
	// the delay, at most all of it.
	EqualJitter
	// FullJitter waits a random time in [0, d).
	FullJitter
)

// Backoff is an exponential backoff: the delay before retry n (from 1) is
// Initial × Multiplier^(n-1), at most Max, then spread by Jitter. The zero
// value of a field takes the default its comment gives. A Backoff holds no
// state, so one value may serve any number of concurrent retry loops.
type Backoff struct {
	// Initial is the delay before the first retry, before jitter; zero or
	// less means no delay at all.
	Initial time.Duration
	// Max caps the delay before jitter; zero or less means no cap other
	// than the largest time.Duration.
	Max time.Duration
	// Multiplier is the growth from one delay to the next; below 1 (zero
	// included) means 2.
	Multiplier float64
	// Jitter spreads each delay; the zero value is NoJitter.
	Jitter Jitter
	// Rand returns a uniform random number in [0, n) for n > 0; nil means
	// math/rand/v2's Int64N. Tests set it to make the jitter deterministic.
	Rand func(n int64) int64
}

// Delay returns the wait before retry n, counted from 1; n below 1 counts
// as 1. It never overflows: a delay that would grow past Max (or past the
// largest time.Duration) is Max.
func (b Backoff) Delay(n int) time.Duration {
	d := b.ceiling(n)
	switch {
	case d <= 0:
		return 0
	case b.Jitter == EqualJitter:
		return d/2 + time.Duration(b.random(int64(d/2)+1))
	case b.Jitter == FullJitter:
		return time.Duration(b.random(int64(d)))
	default:
		return d
	}
}

// ceiling is the delay before retry n before jitter.
func (b Backoff) ceiling(n int) time.Duration {
	if b.Initial <= 0 {
		return 0
	}
	limit := b.Max
	if limit <= 0 {
		limit = math.MaxInt64
	}
	m := b.Multiplier
	if m < 1 {
		m = 2
	}
	// In float64 the product cannot wrap around; for a power-of-two
	// multiplier it is also exact.
	f := float64(b.Initial) * math.Pow(m, float64(max(n, 1)-1))
	if f >= math.MaxInt64 {
		return limit
	}
	return min(time.Duration(f), limit)
}

func (b Backoff) random(n int64) int64 {
	if b.Rand != nil {
		return b.Rand(n)
	}
	return rand.Int64N(n)
}

// Wait sleeps for d or until ctx ends, whichever comes first, and returns
// ctx.Err() in the second case. A context that has already ended returns
// at once, whatever d is; a d of zero or less with a live context returns
// nil at once.
func Wait(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
