package sampling

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoop(t *testing.T) {
	var l Loop
	var n atomic.Int32
	nudge := make(chan struct{})
	if err := l.Start(context.Background(), time.Hour, nudge, func() bool { n.Add(1); return true }); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(context.Background(), time.Hour, nil, func() bool { return true }); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start: %v", err)
	}
	nudge <- struct{}{} // received only once the first reading is done
	nudge <- struct{}{}
	l.Stop()
	l.Stop()
	if got := n.Load(); got < 2 || got > 3 {
		t.Errorf("%d readings, want the first and one per nudge", got)
	}
	if !l.Stopped() {
		t.Error("Stopped after Stop is false")
	}
	if err := l.Start(context.Background(), time.Millisecond, nil, func() bool { return true }); !errors.Is(err, ErrStopped) {
		t.Errorf("Start after Stop: %v", err)
	}
}

// A reading that returns false ends the loop; Stop then returns at once.
func TestLoopEndsWhenReadSaysSo(t *testing.T) {
	var l Loop
	var n atomic.Int32
	l.Start(context.Background(), time.Millisecond, nil, func() bool { return n.Add(1) < 3 })
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	l.Stop()
	if got := n.Load(); got != 3 {
		t.Errorf("%d readings, want 3", got)
	}
}
