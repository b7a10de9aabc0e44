// Package sampling is what the GPU and host samplers share: the time-ordered
// ring their readings are kept in (Ring), and their lifecycle (Loop): one
// goroutine that takes a reading at once and then every interval (or when
// nudged), from Start until its context ends, Stop is called, or the
// reading says there is nothing left to watch.
package sampling

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Errors of Start.
var (
	ErrStarted = errors.New("sampling: already started")
	ErrStopped = errors.New("sampling: stopped")
)

// Loop runs one sampler's readings. The zero value is ready to use; a Loop
// starts once and stops once.
type Loop struct {
	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// Start calls read now and then every interval, and whenever nudge
// receives (nil: never), until ctx is done, Stop is called, or read returns
// false. It fails after a Start or a Stop.
func (l *Loop) Start(ctx context.Context, interval time.Duration, nudge <-chan struct{}, read func() bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return ErrStopped
	}
	if l.started {
		return ErrStarted
	}
	ctx, cancel := context.WithCancel(ctx)
	l.started, l.cancel, l.done = true, cancel, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for read() {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-nudge:
			}
		}
	}(l.done)
	return nil
}

// Stop ends the readings and waits for the goroutine; a later Start fails
// (a racing one cannot leak a goroutine). It is idempotent.
func (l *Loop) Stop() {
	l.mu.Lock()
	l.stopped = true
	cancel, done := l.cancel, l.done
	l.cancel = nil
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Stopped reports whether Stop was called.
func (l *Loop) Stopped() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopped
}
