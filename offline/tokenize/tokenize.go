// Package tokenize turns a dataset's texts into token IDs once, with the
// model's own tokenizer, in a short-lived process: the parent never embeds
// Python, so Run re-executes the enginebench binary as the hidden
// `enginebench tokenize REQUEST` command, whose Serve starts the embedded
// interpreter of an engine's python and calls the Python side
// (enginebench_host.texts). The token IDs go into the workload file; no
// engine re-tokenizes.
//
// A --program run's once-per-run step takes the same way: Arguments has the
// child call the program file's arguments(n, seed) (enginebench_host.frontend),
// so every engine runs the very same argument dicts.
package tokenize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/enginebench/enginebench/offline/workload"
	"github.com/enginebench/enginebench/pyhost"
)

// Request is what the child process is asked to do; Run writes it as JSON
// and names the file on the child's command line.
type Request struct {
	// Python is the python executable whose transformers loads the
	// tokenizer; Env and Paths are as for an engine worker.
	Python string            `json:"python"`
	Env    map[string]string `json:"env"`
	Paths  []string          `json:"paths"`
	// Model is the model directory (or hub id) whose tokenizer is used.
	Model string `json:"model"`
	// In holds the texts, Out receives the token IDs, Info the tokenizer's
	// description (all JSON files).
	In   string `json:"in"`
	Out  string `json:"out"`
	Info string `json:"info"`
	// Program, N and Seed ask for a program file's arguments instead
	// (Arguments): N argument dicts from arguments(N, Seed), written to Out.
	Program string `json:"program,omitempty"`
	N       int    `json:"n,omitempty"`
	Seed    int64  `json:"seed,omitempty"`
}

// Result is the tokenized texts.
type Result struct {
	// Prompts are the prompts' token IDs, special tokens (BOS) included.
	Prompts [][]int32
	// ReplyTokens is each reply's length in tokens; -1 where the text had
	// no reply.
	ReplyTokens []int
	// Tokenizer describes the tokenizer that did it.
	Tokenizer workload.Tokenizer
}

// Command starts the enginebench binary as `enginebench tokenize
// requestPath`.
type Command func(requestPath string) *exec.Cmd

// Self re-executes the running binary.
func Self() (Command, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the enginebench binary to tokenize with: %w", err)
	}
	return func(req string) *exec.Cmd { return exec.Command(exe, "tokenize", req) }, nil
}

// Run tokenizes prompts and replies (nil: no reply) with model's tokenizer,
// loaded by python's transformers in a child process started by cmd.
func Run(ctx context.Context, cmd Command, python string, env map[string]string, paths []string, model string, prompts []string, replies []*string) (*Result, error) {
	dir, err := os.MkdirTemp("", "enginebench-tokenize-")
	if err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	defer os.RemoveAll(dir)
	req := Request{Python: python, Env: env, Paths: paths, Model: model,
		In: filepath.Join(dir, "texts.json"), Out: filepath.Join(dir, "ids.json"), Info: filepath.Join(dir, "info.json")}
	texts, err := json.Marshal(map[string]any{"prompts": prompts, "replies": replies})
	if err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	reqJSON, _ := json.Marshal(req)
	reqPath := filepath.Join(dir, "request.json")
	if err := os.WriteFile(req.In, texts, 0o600); err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	if err := os.WriteFile(reqPath, reqJSON, 0o600); err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}

	c := cmd(reqPath)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := runCtx(ctx, c); err != nil {
		return nil, fmt.Errorf("tokenizing with %s's tokenizer in %s: %w\n%s", model, python, err, indent(lastLines(out.String(), 15)))
	}
	var ids struct {
		Prompts     [][]int32 `json:"prompts"`
		ReplyTokens []int     `json:"reply_tokens"`
	}
	if err := readJSON(req.Out, &ids); err != nil {
		return nil, err
	}
	if len(ids.Prompts) != len(prompts) || len(ids.ReplyTokens) != len(replies) {
		return nil, fmt.Errorf("tokenize: %d prompts and %d replies in, %d and %d out", len(prompts), len(replies), len(ids.Prompts), len(ids.ReplyTokens))
	}
	res := &Result{Prompts: ids.Prompts, ReplyTokens: ids.ReplyTokens}
	if err := readJSON(req.Info, &res.Tokenizer); err != nil {
		return nil, err
	}
	return res, nil
}

// runCtx runs c, killing it when ctx ends.
func runCtx(ctx context.Context, c *exec.Cmd) error {
	if err := c.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		c.Process.Kill()
		<-done
		return ctx.Err()
	}
}

// Serve does a Request in this process: it starts the embedded interpreter
// and calls the Python tokenizer. It is the body of `enginebench tokenize`.
func Serve(ctx context.Context, requestPath string) error {
	var req Request
	if err := readJSON(requestPath, &req); err != nil {
		return err
	}
	h, err := pyhost.Start(ctx, pyhost.Config{Python: req.Python, Env: req.Env, Paths: req.Paths, Argv: []string{"enginebench-tokenize"}})
	if err != nil {
		return fmt.Errorf("tokenize: %w", err)
	}
	defer h.Close(context.Background())
	if req.Program != "" {
		err := h.CallJSON(ctx, pyhost.PackageName+".frontend", "write_arguments", map[string]any{"program": req.Program, "n": req.N, "seed": req.Seed, "out": req.Out}, nil)
		if err != nil {
			var pe *pyhost.PyError
			if errors.As(err, &pe) && pe.Type == pyhost.PackageName+".engines.base.ConfigError" {
				return errors.New(pe.Message)
			}
			return fmt.Errorf("making the program's arguments: %w", err)
		}
		return nil
	}
	var info json.RawMessage
	err = h.CallJSON(ctx, pyhost.PackageName+".texts", "tokenize", map[string]string{"model": req.Model, "in": req.In, "out": req.Out}, &info)
	if err != nil {
		var pe *pyhost.PyError
		if errors.As(err, &pe) && strings.Contains(pe.Type, "ModuleNotFoundError") {
			return fmt.Errorf("%s has no transformers to load the tokenizer with (%s): give an engine's python, whose venv has it: %w", req.Python, pe.Message, err)
		}
		return fmt.Errorf("tokenize: %w", err)
	}
	if err := os.WriteFile(req.Info, info, 0o600); err != nil {
		return fmt.Errorf("tokenize: %w", err)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("tokenize: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("tokenize: %s: %w", path, err)
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
