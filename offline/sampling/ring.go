package sampling

import "sort"

// Stamped is a reading with a time: nanoseconds since its sampler's epoch,
// from the monotonic clock.
type Stamped interface{ StampNanos() int64 }

// Ring is a bounded, time-ordered buffer of readings: the one both samplers
// keep. When full, the oldest reading is evicted and the eviction
// remembered, so a window that reaches back past it says it is truncated.
// It is not safe for concurrent use; each sampler guards its own.
type Ring[T Stamped] struct {
	buf         []T
	start, n    int
	dropped     bool
	droppedUpTo int64 // newest evicted time
}

// NewRing returns a ring of at most capacity readings (at least 1).
func NewRing[T Stamped](capacity int) *Ring[T] {
	return &Ring[T]{buf: make([]T, max(1, capacity))}
}

// Len is the number of readings held.
func (r *Ring[T]) Len() int { return r.n }

// Get returns the i-th reading in time order, 0 the oldest.
func (r *Ring[T]) Get(i int) *T { return &r.buf[(r.start+i)%len(r.buf)] }

// Push adds v, keeping time order. Readings normally arrive in order; an
// on-demand reading taken concurrently with a periodic one can arrive a
// little late, so it is moved back into place.
func (r *Ring[T]) Push(v T) {
	if r.n == len(r.buf) {
		r.dropped, r.droppedUpTo = true, max(r.droppedUpTo, r.buf[r.start].StampNanos())
		r.start = (r.start + 1) % len(r.buf)
		r.n--
	}
	i := r.n
	r.n++
	*r.Get(i) = v
	for i > 0 && (*r.Get(i - 1)).StampNanos() > v.StampNanos() {
		*r.Get(i), *r.Get(i - 1) = *r.Get(i - 1), *r.Get(i)
		i--
	}
}

// Search returns the index of the first reading at or after t (after
// false), or after t (after true).
func (r *Ring[T]) Search(t int64, after bool) int {
	return sort.Search(r.n, func(i int) bool {
		if after {
			return (*r.Get(i)).StampNanos() > t
		}
		return (*r.Get(i)).StampNanos() >= t
	})
}

// EvictedSince reports whether a reading at or after t was evicted: a
// window starting at t is then truncated.
func (r *Ring[T]) EvictedSince(t int64) bool { return r.dropped && r.droppedUpTo >= t }
