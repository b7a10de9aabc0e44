package sampling

import "testing"

type stamp int64

func (s stamp) StampNanos() int64 { return int64(s) }

func TestRing(t *testing.T) {
	r := NewRing[stamp](3)
	for _, v := range []stamp{10, 30, 20} { // 20 arrives late: moved into place
		r.Push(v)
	}
	if r.Len() != 3 || *r.Get(0) != 10 || *r.Get(1) != 20 || *r.Get(2) != 30 {
		t.Fatalf("ring %v %v %v", *r.Get(0), *r.Get(1), *r.Get(2))
	}
	if r.EvictedSince(0) {
		t.Error("nothing evicted yet")
	}
	r.Push(40) // evicts 10
	if r.Len() != 3 || *r.Get(0) != 20 || !r.EvictedSince(10) || r.EvictedSince(11) {
		t.Errorf("after eviction: first %v, evicted since 10 %v, since 11 %v", *r.Get(0), r.EvictedSince(10), r.EvictedSince(11))
	}
	tests := []struct {
		t     int64
		after bool
		want  int
	}{{20, false, 0}, {20, true, 1}, {25, false, 1}, {40, true, 3}, {0, false, 0}}
	for _, tt := range tests {
		if got := r.Search(tt.t, tt.after); got != tt.want {
			t.Errorf("Search(%d, %v) = %d, want %d", tt.t, tt.after, got, tt.want)
		}
	}
}
