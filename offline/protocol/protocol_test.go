package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/enginebench/enginebench/offline/results"
)

// Every message survives a trip through the pipe's encoding.
func TestRoundTrip(t *testing.T) {
	engineS := 0.25
	cached := 0
	msgs := []any{
		&Request{Type: TypeLoad, Load: &LoadRequest{Engine: "vllm", Model: "/m", MaxBatchSize: 8, Sampling: Sampling{Temperature: 0.5, TopP: 0.9, Seed: 3},
			Env: map[string]string{"K": "V"}, UserArgs: json.RawMessage(`{"a":1}`), SampleInterval: 50 * time.Millisecond, GPUs: []string{"0"}}},
		&Request{Type: TypeBatch, Batch: &BatchRequest{Cell: Cell{BatchSize: 4, Rep: 1, First: 12}}},
		&Event{Type: TypeResult, Result: &BatchResult{Cell: Cell{BatchSize: 1}, StartedAt: time.Date(2026, 12, 4, 1, 2, 3, 4, time.UTC), WallS: 0.3, EngineS: &engineS,
			Requests: []results.Request{{Index: 7, PromptTokens: 4, OutputTokens: 2, CachedTokens: &cached, OutputIDs: []int{1, 2}}}}},
		&Event{Type: TypeFailed, Failed: &FailedEvent{Kind: FailConfig, Message: "bad", Traceback: "tb"}},
	}
	var buf bytes.Buffer
	c := NewConn(&buf, &buf)
	for _, m := range msgs {
		if err := c.Send(m); err != nil {
			t.Fatal(err)
		}
		got := reflect.New(reflect.TypeOf(m).Elem()).Interface()
		if err := c.Recv(got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, m)
		}
	}
}

func TestRecvErrors(t *testing.T) {
	var ev Event
	if err := NewConn(strings.NewReader(""), io.Discard).Recv(&ev); !errors.Is(err, io.EOF) {
		t.Errorf("closed pipe: %v, want io.EOF", err)
	}
	if err := NewConn(strings.NewReader("{not json\n"), io.Discard).Recv(&ev); err == nil || !strings.Contains(err.Error(), "decoding") {
		t.Errorf("bad line: %v", err)
	}
	if err := NewConn(strings.NewReader(`{"type":"loaded"`), io.Discard).Recv(&ev); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("a message cut short must not read as a clean close: %v", err)
	}
}
