package retry

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"
)

func TestDelaySequence(t *testing.T) {
	capped := Backoff{Initial: 200 * time.Millisecond, Max: 5 * time.Second}
	uncapped := Backoff{Initial: time.Second}
	tests := []struct {
		name string
		b    Backoff
		n    int
		want time.Duration
	}{
		{"first", capped, 1, 200 * time.Millisecond},
		{"doubles", capped, 2, 400 * time.Millisecond},
		{"doubles again", capped, 5, 3200 * time.Millisecond},
		{"reaches the cap", capped, 6, 5 * time.Second},
		{"stays at the cap", capped, 7, 5 * time.Second},
		{"zero counts as one", capped, 0, 200 * time.Millisecond},
		{"negative counts as one", capped, -3, 200 * time.Millisecond},
		{"past 2^63 ns is the cap", capped, 64, 5 * time.Second},
		{"far past 2^63 ns is the cap", capped, 1000, 5 * time.Second},
		{"largest n is the cap", capped, math.MaxInt, 5 * time.Second},
		{"initial above the cap is the cap", Backoff{Initial: time.Minute, Max: 10 * time.Second}, 1, 10 * time.Second},
		{"no cap, last before overflow", uncapped, 34, time.Second << 33},
		{"no cap, overflow is the largest duration", uncapped, 35, math.MaxInt64},
		{"no cap, largest n", uncapped, math.MaxInt, math.MaxInt64},
		{"no cap, 2^62 ns", Backoff{Initial: 1}, 63, 1 << 62},
		{"no cap, exactly 2^63 ns is the largest duration", Backoff{Initial: 1}, 64, math.MaxInt64},
		{"multiplier 1.5", Backoff{Initial: 100 * time.Millisecond, Multiplier: 1.5}, 4, 337500 * time.Microsecond},
		{"multiplier 1 is constant", Backoff{Initial: time.Second, Multiplier: 1}, 50, time.Second},
		{"multiplier 0 means 2", Backoff{Initial: time.Second, Multiplier: 0}, 4, 8 * time.Second},
		{"multiplier below 1 means 2", Backoff{Initial: time.Second, Multiplier: 0.5}, 4, 8 * time.Second},
		{"no initial, no delay", Backoff{Max: time.Second}, 5, 0},
		{"negative initial, no delay", Backoff{Initial: -time.Second, Jitter: EqualJitter}, 5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.b.Delay(tt.n); got != tt.want {
				t.Errorf("Delay(%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

// TestJitterBounds fixes the random source at each end of its range: the
// delay must then be at each end of the jitter's interval.
func TestJitterBounds(t *testing.T) {
	lowest := func(int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }
	b := Backoff{Initial: 200 * time.Millisecond, Max: 5 * time.Second}
	with := func(b Backoff, j Jitter, r func(int64) int64) Backoff {
		b.Jitter, b.Rand = j, r
		return b
	}
	odd := Backoff{Initial: 3}
	uncapped := Backoff{Initial: time.Second}
	tests := []struct {
		name    string
		b       Backoff
		n       int
		want    time.Duration
		wantArg int64 // the n Rand is asked for; 0: Rand must not be called
	}{
		{"none, low", with(b, NoJitter, lowest), 3, 800 * time.Millisecond, 0},
		{"none, high", with(b, NoJitter, highest), 3, 800 * time.Millisecond, 0},
		{"equal, low is half", with(b, EqualJitter, lowest), 3, 400 * time.Millisecond, int64(400*time.Millisecond) + 1},
		{"equal, high is whole", with(b, EqualJitter, highest), 3, 800 * time.Millisecond, int64(400*time.Millisecond) + 1},
		{"equal, odd nanoseconds, low", with(odd, EqualJitter, lowest), 1, 1, 2},
		{"equal, odd nanoseconds, high", with(odd, EqualJitter, highest), 1, 2, 2},
		{"equal at the cap, low", with(b, EqualJitter, lowest), 1000, 2500 * time.Millisecond, int64(2500*time.Millisecond) + 1},
		{"equal at the cap, high", with(b, EqualJitter, highest), 1000, 5 * time.Second, int64(2500*time.Millisecond) + 1},
		{"equal past overflow, low", with(uncapped, EqualJitter, lowest), 1000, math.MaxInt64 / 2, math.MaxInt64/2 + 1},
		{"equal past overflow, high", with(uncapped, EqualJitter, highest), 1000, math.MaxInt64 - 1, math.MaxInt64/2 + 1},
		{"full, low is zero", with(b, FullJitter, lowest), 3, 0, int64(800 * time.Millisecond)},
		{"full, high is just under", with(b, FullJitter, highest), 3, 800*time.Millisecond - 1, int64(800 * time.Millisecond)},
		{"full past overflow, high", with(uncapped, FullJitter, highest), 1000, math.MaxInt64 - 1, math.MaxInt64},
		{"no delay asks nothing", with(Backoff{}, FullJitter, highest), 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked int64
			r := tt.b.Rand
			tt.b.Rand = func(n int64) int64 { asked = n; return r(n) }
			if got := tt.b.Delay(tt.n); got != tt.want {
				t.Errorf("Delay(%d) = %v, want %v", tt.n, got, tt.want)
			}
			if asked != tt.wantArg {
				t.Errorf("Rand asked for [0, %d), want [0, %d)", asked, tt.wantArg)
			}
		})
	}
}

// TestDefaultRandomSpreads draws from the default source: every delay stays
// in the jitter's interval, and the draws reach both quarters of its ends.
func TestDefaultRandomSpreads(t *testing.T) {
	d := 800 * time.Millisecond
	tests := []struct {
		jitter Jitter
		lo, hi time.Duration
	}{
		{EqualJitter, d / 2, d},
		{FullJitter, 0, d - 1},
	}
	for _, tt := range tests {
		b := Backoff{Initial: d, Jitter: tt.jitter}
		least, most := time.Duration(math.MaxInt64), time.Duration(0)
		for range 2000 {
			got := b.Delay(1)
			if got < tt.lo || got > tt.hi {
				t.Fatalf("jitter %d: delay %v outside [%v, %v]", tt.jitter, got, tt.lo, tt.hi)
			}
			least, most = min(least, got), max(most, got)
		}
		quarter := (tt.hi - tt.lo) / 4
		if least > tt.lo+quarter || most < tt.hi-quarter {
			t.Errorf("jitter %d: 2000 draws spread over [%v, %v] only, want both ends of [%v, %v]", tt.jitter, least, most, tt.lo, tt.hi)
		}
	}
}

func TestWait(t *testing.T) {
	tests := []struct {
		name        string
		d           time.Duration
		cancelAfter time.Duration // 0: never; negative: before Wait
		timeout     time.Duration // 0: none
		want        error
		elapsed     time.Duration
	}{
		{"elapses", 3 * time.Second, 0, 0, nil, 3 * time.Second},
		{"cancelled while waiting", time.Hour, 2 * time.Second, 0, context.Canceled, 2 * time.Second},
		{"deadline while waiting", time.Hour, 0, 5 * time.Second, context.DeadlineExceeded, 5 * time.Second},
		{"deadline after the delay", time.Second, 0, 5 * time.Second, nil, time.Second},
		{"cancelled before", time.Hour, -1, 0, context.Canceled, 0},
		{"cancelled before, no delay", 0, -1, 0, context.Canceled, 0},
		{"no delay", 0, 0, 0, nil, 0},
		{"negative delay", -time.Second, 0, 0, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				if tt.timeout > 0 {
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				switch {
				case tt.cancelAfter < 0:
					cancel()
				case tt.cancelAfter > 0:
					time.AfterFunc(tt.cancelAfter, cancel)
				}
				start := time.Now()
				err := Wait(ctx, tt.d)
				if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
					t.Errorf("Wait = %v, want %v", err, tt.want)
				}
				if got := time.Since(start); got != tt.elapsed {
					t.Errorf("Wait returned after %v, want %v", got, tt.elapsed)
				}
			})
		})
	}
}
