package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/enginebench/enginebench/offline/engine"
	"github.com/enginebench/enginebench/offline/protocol"
)

// WorkerCommand returns the command that runs `enginebench worker`: the
// parent's own binary, re-executed.
type WorkerCommand func() *exec.Cmd

// SelfWorker re-executes the running binary as `enginebench worker`.
func SelfWorker() (WorkerCommand, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the enginebench binary to start workers: %w", err)
	}
	return func() *exec.Cmd { return exec.Command(exe, "worker") }, nil
}

// proc is one running worker process.
type proc struct {
	engine  string
	cmd     *exec.Cmd
	conn    *protocol.Conn
	reqW    *os.File
	logPath string
	events  chan eventOrErr
	exited  chan struct{}
	waitErr error
	// killed is set once the parent kills the worker's group, so a SIGKILL
	// it sent is never taken for the engine's own.
	killed atomic.Bool
}

type eventOrErr struct {
	ev  protocol.Event
	err error
}

// ErrHung is returned when a worker sends nothing within its timeout.
var ErrHung = errors.New("worker hung")

// WorkerError is a worker that failed: it died, hung, or reported a failure.
type WorkerError struct {
	Engine string
	// What happened, e.g. "killed by signal 9 (killed)" or "hung: no answer
	// within 30s; killed".
	What string
	// Failed is the worker's own report, when it sent one.
	Failed *protocol.FailedEvent
	// LogTail is the end of the worker's log, or, when LogWhy is set, the
	// log lines that say why the engine ended the worker.
	LogTail string
	LogWhy  bool
	LogPath string
}

func (e *WorkerError) Error() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "engine %s: %s", e.Engine, e.What)
	if e.IsConfig() {
		// The message says what to fix; a traceback would bury it.
		return b.String()
	}
	if e.Failed != nil && e.Failed.Traceback != "" {
		fmt.Fprintf(&b, "\n%s", indent(lastLines(e.Failed.Traceback, 15)))
	}
	switch {
	case e.LogTail != "" && e.LogWhy:
		fmt.Fprintf(&b, "\nwhy, in %s:\n%s", e.LogPath, indent(e.LogTail))
	case e.LogTail != "":
		fmt.Fprintf(&b, "\nlast lines of %s:\n%s", e.LogPath, indent(e.LogTail))
	}
	return b.String()
}

// IsConfig reports whether the worker rejected its configuration.
func (e *WorkerError) IsConfig() bool {
	return e.Failed != nil && e.Failed.Kind == protocol.FailConfig
}

func startProc(newCmd WorkerCommand, engine, logPath string) (*proc, error) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating the worker pipes: %w", err)
	}
	evR, evW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, fmt.Errorf("creating the worker pipes: %w", err)
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the worker log: %w", err)
	}
	cmd := newCmd()
	// fd 3 and 4 in the worker (protocol.RequestFD, protocol.EventFD).
	cmd.ExtraFiles = []*os.File{reqR, evW}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group: engines start children (vLLM's EngineCore,
		// SGLang's scheduler), and ending a worker must end them all. It also
		// keeps a terminal's Ctrl-C for the parent, which forwards it.
		Setpgid: true,
		// A worker never outlives the parent.
		Pdeathsig: syscall.SIGKILL,
	}
	err = cmd.Start()
	reqR.Close()
	evW.Close()
	logf.Close()
	if err != nil {
		reqW.Close()
		evR.Close()
		return nil, fmt.Errorf("starting the %s worker: %w", engine, err)
	}
	p := &proc{
		engine: engine, cmd: cmd, conn: protocol.NewConn(evR, reqW), reqW: reqW, logPath: logPath,
		events: make(chan eventOrErr, 4), exited: make(chan struct{}),
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	go func() {
		defer evR.Close()
		for {
			var ev protocol.Event
			err := p.conn.Recv(&ev)
			p.events <- eventOrErr{ev, err}
			if err != nil {
				close(p.events)
				return
			}
		}
	}()
	return p, nil
}

func (p *proc) send(req protocol.Request) error {
	if err := p.conn.Send(req); err != nil {
		return p.died()
	}
	return nil
}

// await waits for the next event. It returns a *WorkerError when the worker
// dies or sends nothing within timeout (the worker is then killed), and
// ctx.Err() when ctx ends first.
func (p *proc) await(ctx context.Context, timeout time.Duration) (protocol.Event, error) {
	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	select {
	case e, ok := <-p.events:
		if !ok || e.err != nil {
			return protocol.Event{}, p.died()
		}
		if e.ev.Type == protocol.TypeFailed && e.ev.Failed != nil {
			we := p.died()
			we.Failed = e.ev.Failed
			we.What = e.ev.Failed.Message
			return e.ev, we
		}
		return e.ev, nil
	case <-timer:
		p.kill()
		we := p.died()
		we.What = fmt.Sprintf("hung: no answer within %s; killed it and its children (%s)", timeout, we.What)
		return protocol.Event{}, we
	case <-ctx.Done():
		return protocol.Event{}, ctx.Err()
	}
}

// died waits briefly for the worker to exit and describes how it ended.
func (p *proc) died() *WorkerError {
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		p.kill()
		<-p.exited
	}
	we := &WorkerError{Engine: p.engine, What: exitStatus(p.waitErr), LogTail: tailFile(p.logPath, 20), LogPath: p.logPath}
	if sig, ok := signalOf(p.waitErr); ok && !p.killed.Load() {
		// An engine that kills itself leaves its reason in the log, often
		// above pages of warnings: show those lines, not the last ones.
		if e, err := engine.Lookup(p.engine); err == nil {
			if says, lines := e.ExplainExit(sig, tailFile(p.logPath, 2000)); says != "" {
				we.What = says + "; " + we.What
				if len(lines) > 0 {
					we.LogTail, we.LogWhy = strings.Join(lines, "\n"), true
				}
			}
		}
	}
	return we
}

// signalOf returns the signal that ended a worker, if one did.
func signalOf(err error) (int, bool) {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return int(ws.Signal()), true
		}
	}
	return 0, false
}

// interrupt asks the worker to stop what it is doing (SIGINT: its Go
// handler interrupts the Python call).
func (p *proc) interrupt() {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
}

// kill ends the worker's whole process group.
func (p *proc) kill() {
	p.killed.Store(true)
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// shutdown closes the conversation and waits for the worker to exit, killing
// it after grace.
func (p *proc) shutdown(grace time.Duration) {
	p.reqW.Close()
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.kill()
		<-p.exited
	}
	// Engine children that outlived a clean exit die with the group.
	p.kill()
}

func exitStatus(err error) string {
	if err == nil {
		return "exited with status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("killed by signal %d (%s)", int(ws.Signal()), ws.Signal())
		}
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	}
	return err.Error()
}

// tailFile returns the last n lines of a file.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const max = 64 << 10
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := fi.Size() - max
	if off < 0 {
		off = 0
	}
	b, err := io.ReadAll(io.NewSectionReader(f, off, max))
	if err != nil {
		return ""
	}
	return lastLines(string(b), n)
}

func lastLines(s string, n int) string {
	lines := bytes.Split(bytes.TrimRight([]byte(s), "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func indent(s string) string {
	if s == "" {
		return s
	}
	return "    " + string(bytes.ReplaceAll([]byte(s), []byte("\n"), []byte("\n    ")))
}
