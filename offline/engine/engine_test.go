package engine

import (
	"os"
	"strings"
	"testing"
)

func TestExplainExit(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	sglang, _ := Lookup("sglang")
	vllm, _ := Lookup("vllm")
	// The logs are SGLang 0.5.23's own, from two real self-kills: a KV pool
	// too small to start (max_total_tokens=1), and the scheduler killed
	// during a batch.
	tests := []struct {
		name      string
		engine    Kind
		signal    int
		log       string
		wantSays  bool
		wantLines []string
		notLines  []string
	}{
		{"scheduler failed at load", sglang, 9, read("sglang-selfkill-load.log"), true,
			[]string{"Scheduler hit an exception: Traceback", `assert self.model_runner.max_running_requests > 0`, "AssertionError: max_running_request is zero", "Received sigquit from a child process"},
			[]string{"UserWarning", "Multi-thread loading"}},
		{"scheduler killed", sglang, 9, read("sglang-selfkill-child-killed.log"), true,
			[]string{"Subprocess scheduler_0 (pid=6455) crashed with exit code -9", "SIGQUIT received"},
			[]string{"UserWarning", "No live scheduler"}},
		{"another signal", sglang, 15, read("sglang-selfkill-load.log"), false, nil, nil},
		{"SIGKILL without SGLang's lines", sglang, 9, "loading\nKilled\n", false, nil, nil},
		{"an engine that does not kill itself", vllm, 9, read("sglang-selfkill-load.log"), false, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			says, lines := tt.engine.ExplainExit(tt.signal, tt.log)
			if (says != "") != tt.wantSays {
				t.Fatalf("says %q, want a sentence: %v", says, tt.wantSays)
			}
			got := strings.Join(lines, "\n")
			for _, w := range tt.wantLines {
				if !strings.Contains(got, w) {
					t.Errorf("lines lack %q:\n%s", w, got)
				}
			}
			for _, w := range tt.notLines {
				if strings.Contains(got, w) {
					t.Errorf("lines hold %q:\n%s", w, got)
				}
			}
		})
	}
}
