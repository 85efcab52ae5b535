package mirror

import (
	"sort"
	"sync"
	"time"
)

// maxSyncs bounds the syncs kept per partition; a group committed before
// the oldest one kept gets no checkpoint, as with MM2's own sparse store.
const maxSyncs = 256

// offsetSync is one point of MM2's upstream → downstream offset mapping.
type offsetSync struct {
	up, down int64
	at       time.Time
}

type syncKey struct {
	source, target string
	topic          string
	partition      int32
}

// syncStore holds the offset syncs the source tasks emit, which MM2 keeps
// in its offset-syncs topic and the checkpoint task reads back; the double
// shares them in memory.
type syncStore struct {
	mu sync.Mutex
	m  map[syncKey][]offsetSync
}

func newSyncStore() *syncStore { return &syncStore{m: map[syncKey][]offsetSync{}} }

func (s *syncStore) add(k syncKey, o offsetSync) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.m[k]
	if n := len(l); n > 0 && l[n-1].up >= o.up {
		// A restarted task re-copies from its committed offset: the newer
		// mapping replaces what it overlaps.
		i := sort.Search(n, func(i int) bool { return l[i].up >= o.up })
		l = l[:i]
	}
	l = append(l, o)
	if len(l) > maxSyncs {
		l = l[len(l)-maxSyncs:]
	}
	s.m[k] = l
}

// translate maps a group's upstream offset to the target as MM2's
// OffsetSyncStore does: from the latest sync at or below it, exactly when
// the sync is for that offset, else one past the synced record, so a
// consumer never skips a record it has not seen. ok is false when no sync
// lies at or below the offset.
func (s *syncStore) translate(k syncKey, upstream int64) (down int64, at time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.m[k]
	i := sort.Search(len(l), func(i int) bool { return l[i].up > upstream }) - 1
	if i < 0 {
		return 0, time.Time{}, false
	}
	o := l[i]
	if o.up == upstream {
		return o.down, o.at, true
	}
	return o.down + 1, o.at, true
}
