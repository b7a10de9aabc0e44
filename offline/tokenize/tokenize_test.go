package tokenize

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// helperEnv makes the test binary play the child: it answers a request
// without Python, one token per character, so Run's plumbing is tested
// apart from the tokenizer (which the command tests and the CPU tier run).
const helperEnv = "ENGINEBENCH_TOKENIZE_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "fail":
		fmt.Fprintln(os.Stderr, "Traceback: OSError: no tokenizer files in the model directory")
		os.Exit(1)
	default:
		if err := fakeServe(os.Args[len(os.Args)-1]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

func fakeServe(path string) error {
	var req Request
	if err := readJSON(path, &req); err != nil {
		return err
	}
	var in struct {
		Prompts []string  `json:"prompts"`
		Replies []*string `json:"replies"`
	}
	if err := readJSON(req.In, &in); err != nil {
		return err
	}
	out := map[string]any{"prompts": [][]int{}, "reply_tokens": []int{}}
	var prompts [][]int
	var replies []int
	for i, p := range in.Prompts {
		ids := []int{1}
		for _, r := range p {
			ids = append(ids, int(r))
		}
		prompts = append(prompts, ids)
		n := -1
		if in.Replies[i] != nil {
			n = len(*in.Replies[i])
		}
		replies = append(replies, n)
	}
	out["prompts"], out["reply_tokens"] = prompts, replies
	b, _ := json.Marshal(out)
	if err := os.WriteFile(req.Out, b, 0o600); err != nil {
		return err
	}
	return os.WriteFile(req.Info, []byte(`{"class":"CharTokenizer","transformers":"test","vocab_size":256}`), 0o600)
}

func helper(mode string) Command {
	return func(req string) *exec.Cmd {
		c := exec.Command(os.Args[0], "-test.run=^$", req)
		c.Env = append(os.Environ(), helperEnv+"="+mode)
		return c
	}
}

func TestRun(t *testing.T) {
	reply := "ok!"
	res, err := Run(context.Background(), helper("ok"), "python3", nil, nil, "model", []string{"hi", "abc"}, []*string{&reply, nil})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int32{{1, 'h', 'i'}, {1, 'a', 'b', 'c'}}
	if !slices.EqualFunc(res.Prompts, want, slices.Equal) || !slices.Equal(res.ReplyTokens, []int{3, -1}) {
		t.Errorf("got %v %v, want %v [3 -1]", res.Prompts, res.ReplyTokens, want)
	}
	if res.Tokenizer.Class != "CharTokenizer" || res.Tokenizer.VocabSize != 256 {
		t.Errorf("tokenizer %+v", res.Tokenizer)
	}
}

func TestRunReportsTheChildsError(t *testing.T) {
	_, err := Run(context.Background(), helper("fail"), "/venv/bin/python", nil, nil, "/models/m", []string{"hi"}, []*string{nil})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"/models/m", "/venv/bin/python", "no tokenizer files in the model directory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
