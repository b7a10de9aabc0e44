package worker_test

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enginebench/enginebench/offline/protocol"
	"github.com/enginebench/enginebench/offline/worker"
	"github.com/enginebench/enginebench/offline/worker/workertest"
	"github.com/enginebench/enginebench/offline/workload"
)

// pipeWorker serves one worker over in-memory pipes with a Go fake adapter
// and returns the parent's end of the conversation.
func pipeWorker(t *testing.T, b workertest.Behaviour) (*protocol.Conn, *workertest.FakeAdapter, <-chan error) {
	t.Helper()
	reqR, reqW := io.Pipe()
	evR, evW := io.Pipe()
	fake := &workertest.FakeAdapter{B: b}
	done := make(chan error, 1)
	go func() {
		err := worker.Serve(context.Background(), protocol.NewConn(reqR, evW), worker.Options{
			NewAdapter: func(context.Context, *protocol.LoadRequest) (worker.Adapter, func(context.Context) error, error) {
				return fake, nil, nil
			},
		})
		evW.Close()
		done <- err
	}()
	t.Cleanup(func() { reqW.Close() })
	return protocol.NewConn(evR, reqW), fake, done
}

func loadRequest(t *testing.T) *protocol.LoadRequest {
	t.Helper()
	spec := workload.Spec{Seed: 1, InputLen: 4, OutputLen: 3, VocabSize: 500, BatchSizes: []int{2}, Reps: 1, Warmup: 1}
	wl, err := workload.Generate(spec)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "workload.json")
	if err := wl.Write(path); err != nil {
		t.Fatal(err)
	}
	return &protocol.LoadRequest{Engine: "fake", Model: "m", InputLen: 4, OutputLen: 3, MaxBatchSize: 2, WorkloadPath: path, WorkloadSHA256: wl.SHA256}
}

func roundTrip(t *testing.T, c *protocol.Conn, req protocol.Request) protocol.Event {
	t.Helper()
	if err := c.Send(req); err != nil {
		t.Fatal(err)
	}
	var ev protocol.Event
	if err := c.Recv(&ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// The worker's request loop: load, batches, close; each batch reports the
// adapter's answers (the parent builds the row) and keeps token IDs only in
// the first measured repetition.
func TestServe(t *testing.T) {
	c, fake, done := pipeWorker(t, workertest.Behaviour{})
	ev := roundTrip(t, c, protocol.Request{Type: protocol.TypeLoad, Load: loadRequest(t)})
	if ev.Type != protocol.TypeLoaded || ev.Loaded == nil || ev.Loaded.Info.Versions["fake"] != "1.0" {
		t.Fatalf("load answered %+v", ev)
	}
	for _, cell := range []protocol.Cell{{BatchSize: 2, Warmup: true, First: 0}, {BatchSize: 2, First: 2}} {
		ev = roundTrip(t, c, protocol.Request{Type: protocol.TypeBatch, Batch: &protocol.BatchRequest{Cell: cell}})
		r := ev.Result
		if ev.Type != protocol.TypeResult || r == nil || r.Error != "" || len(r.Requests) != 2 || r.EngineS == nil || r.WallS < 0 {
			t.Fatalf("batch %+v answered %+v", cell, ev)
		}
		if r.Requests[0].Index != cell.First || (len(r.Requests[0].OutputIDs) > 0) != !cell.Warmup {
			t.Errorf("batch %+v: requests %+v", cell, r.Requests)
		}
	}
	if ev = roundTrip(t, c, protocol.Request{Type: protocol.TypeClose}); ev.Type != protocol.TypeClosed {
		t.Errorf("close answered %+v", ev)
	}
	if err := <-done; err != nil || !fake.Closed {
		t.Errorf("Serve: %v, engine closed %v", err, fake.Closed)
	}
}

// A failed load is reported with its kind; a raising batch is a result with
// the error, and the worker goes on.
func TestServeFailures(t *testing.T) {
	c, _, done := pipeWorker(t, workertest.Behaviour{FailLoad: "bad setting"})
	ev := roundTrip(t, c, protocol.Request{Type: protocol.TypeLoad, Load: loadRequest(t)})
	if ev.Type != protocol.TypeFailed || ev.Failed.Kind != protocol.FailConfig || ev.Failed.Message != "bad setting" {
		t.Errorf("failed load answered %+v", ev)
	}
	if err := <-done; err == nil {
		t.Error("Serve returned no error after a failed load")
	}
	c, _, _ = pipeWorker(t, workertest.Behaviour{RaiseOn: 1})
	roundTrip(t, c, protocol.Request{Type: protocol.TypeLoad, Load: loadRequest(t)})
	ev = roundTrip(t, c, protocol.Request{Type: protocol.TypeBatch, Batch: &protocol.BatchRequest{Cell: protocol.Cell{BatchSize: 2}}})
	if ev.Result == nil || !strings.Contains(ev.Result.Error, "fake engine failure") || ev.Result.EngineS != nil {
		t.Errorf("raising batch answered %+v", ev.Result)
	}
	ev = roundTrip(t, c, protocol.Request{Type: protocol.TypeBatch, Batch: &protocol.BatchRequest{Cell: protocol.Cell{BatchSize: 2, First: 2}}})
	if ev.Result == nil || ev.Result.Error != "" {
		t.Errorf("the batch after a raise: %+v", ev.Result)
	}
}

// A workload whose hash differs from the parent's is refused before the
// engine loads.
func TestServeWorkloadMismatch(t *testing.T) {
	c, _, _ := pipeWorker(t, workertest.Behaviour{})
	load := loadRequest(t)
	load.WorkloadSHA256 = strings.Repeat("0", 64)
	ev := roundTrip(t, c, protocol.Request{Type: protocol.TypeLoad, Load: load})
	if ev.Type != protocol.TypeFailed || !strings.Contains(ev.Failed.Message, "the parent wrote") {
		t.Errorf("mismatched workload answered %+v", ev)
	}
}
