// Package pyhost runs an embedded CPython interpreter for enginebench.
//
// One goroutine, locked to its OS thread for the life of the process, owns the
// interpreter: it initializes it (that thread is Python's main thread, where
// engines may install signal handlers), then serves every call from any
// goroutine, releasing the GIL between calls so Python background threads run.
// Calls carry JSON strings in and out (CallJSON); a Python exception comes
// back as a *PyError with its traceback. Cancelling a call's context
// interrupts it with an asynchronous KeyboardInterrupt on the main thread.
//
// The interpreter is initialized as the user's python (program name = that
// executable), so sys.prefix, site-packages and sys.executable are the
// venv's, and multiprocessing's spawn children run the same interpreter.
// Python's own signal handlers are not installed: Go keeps SIGINT and SIGPIPE.
//
// CPython can be initialized once per process, so a process has at most one
// Host; enginebench runs each engine in a worker process of its own.
package pyhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	// encoding/json's API and behaviour on the implementation that is to
	// become encoding/json (v2): it decodes in one pass where encoding/json
	// validates first and decodes in a second, 4x faster on a 1 KiB payload,
	// which is most of a call's cost in Go (BenchmarkCallJSON, README).
	fastjson "github.com/go-json-experiment/json/v1"

	"github.com/enginebench/enginebench/bindings/python"
)

// Config says which interpreter to start and how.
type Config struct {
	// Python is a python executable or a virtualenv directory; empty means
	// $ENGINEBENCH_PYTHON, then python3 on PATH.
	Python string
	// Env is set in the process environment before the interpreter starts:
	// Python snapshots os.environ at initialization and never sees a later
	// os.Setenv from Go.
	Env map[string]string
	// Argv becomes sys.argv; empty means ["enginebench"]. Some engines read
	// sys.argv[0] at import time.
	Argv []string
	// Paths are put on sys.path right after the embedded package, ahead of
	// site-packages.
	Paths []string
	// CacheDir is where the embedded package is extracted; empty means
	// CacheDir().
	CacheDir string
	// InterruptGrace is how long an interrupted call may take to stop before
	// it is reported stuck in native code; zero means 2 s.
	InterruptGrace time.Duration
}

// Host is the process's embedded interpreter.
type Host struct {
	interp    *Interpreter
	pyDir     string
	grace     time.Duration
	jobs      chan *job
	lib       *python.Lib
	mainIdent uint64

	// Set during bootstrap on the owner thread, used only there afterwards.
	callFn, keyboardInterrupt, formatException, emptyStr python.Object
	names                                                map[string]python.Object // see name
	args                                                 [3]python.Object         // the trampoline's arguments, in the heap

	mu      sync.Mutex
	current *job // the call running now; guarded by mu and, for writes, by the GIL
	closed  bool
}

type job struct {
	ctx              context.Context
	module, function string
	payload          []byte
	result           []byte
	err              error
	done             chan struct{}
	finished         atomic.Bool // set just before done is closed
	interrupted      bool        // an async KeyboardInterrupt was sent; guarded by mu and the GIL
	span             Span        // set on the interpreter's thread before done is closed
}

// How long each side of a call polls before it parks: the interpreter's
// thread for the next call (ownerSpin), the caller for the reply
// (callerSpin). Parking a goroutine (above all one locked to its thread) and
// waking it again costs futex calls and OS thread switches: 55 us a wake-up
// on the project's virtual machine, so a call that parks on both sides takes
// 115 us more (BenchmarkCallJSON, README). The polls are bounded, so an idle
// host costs nothing and a long engine call pays them once. The caller
// yields while it polls; the interpreter's thread does not (a locked
// goroutine that yields is handed between threads, the very cost the poll
// avoids), so its poll is the one that costs a core.
const (
	ownerSpin  = 1 * time.Millisecond
	callerSpin = 200 * time.Microsecond
)

var (
	startMu sync.Mutex
	started bool
)

// Start locates the interpreter, initializes it on a dedicated OS thread and
// imports the embedded package. It can succeed once per process.
func Start(ctx context.Context, cfg Config) (*Host, error) {
	startMu.Lock()
	defer startMu.Unlock()
	if started {
		return nil, errors.New("python host: an interpreter was already started in this process (CPython can be initialized once per process)")
	}
	interp, err := Locate(ctx, cfg.Python)
	if err != nil {
		return nil, err
	}
	cacheDir := cfg.CacheDir
	if cacheDir == "" {
		if cacheDir, err = CacheDir(); err != nil {
			return nil, err
		}
	}
	pyDir, err := ExtractSources(cacheDir)
	if err != nil {
		return nil, err
	}
	for k, v := range cfg.Env {
		if err := os.Setenv(k, v); err != nil {
			return nil, fmt.Errorf("setting %s for python: %w", k, err)
		}
	}
	argv := cfg.Argv
	if len(argv) == 0 {
		argv = []string{"enginebench"}
	}
	grace := cfg.InterruptGrace
	if grace == 0 {
		grace = 2 * time.Second
	}
	h := &Host{interp: interp, pyDir: pyDir, grace: grace, jobs: make(chan *job, 1), names: map[string]python.Object{}}
	ready := make(chan error, 1)
	started = true
	go h.own(ready, append([]string{pyDir}, cfg.Paths...), argv)
	if err := <-ready; err != nil {
		return nil, err
	}
	return h, nil
}

// Interpreter describes the running interpreter.
func (h *Host) Interpreter() *Interpreter { return h.interp }

// PackageDir is the directory the embedded Python package was extracted to.
func (h *Host) PackageDir() string { return h.pyDir }

// own is the interpreter's owner goroutine. It never returns: the thread that
// initialized Python stays Python's main thread, and engines' child processes
// ask to be killed when the thread that started them exits
// (PR_SET_PDEATHSIG), so this thread must outlive every engine.
func (h *Host) own(ready chan<- error, paths, argv []string) {
	runtime.LockOSThread() // deliberately never unlocked
	if err := h.initialize(paths, argv); err != nil {
		ready <- err
		select {}
	}
	ts := h.lib.Fast.SaveThread()
	ready <- nil
	for {
		j := h.nextJob()
		h.lib.Fast.RestoreThread(ts)
		h.run(j)
		ts = h.lib.Fast.SaveThread()
	}
}

// nextJob polls for a job for up to ownerSpin, then parks.
func (h *Host) nextJob() *job {
	deadline := time.Now().Add(ownerSpin)
	for time.Now().Before(deadline) {
		select {
		case j := <-h.jobs:
			return j
		default:
		}
	}
	return <-h.jobs
}

func (h *Host) initialize(paths, argv []string) error {
	lib, err := python.Open(h.interp.LibPython)
	if err != nil {
		return err
	}
	h.lib = lib
	if lib.PySetProgramName == nil {
		return fmt.Errorf("%s has no Py_SetProgramName: Python %s is not supported (use CPython 3.%d to 3.%d)", lib.Path, h.interp.Version, MinMinor, MaxMinor)
	}
	// The program name must be the user's python so that CPython computes the
	// venv's prefix and site-packages and sets sys.executable to it. The
	// wide string is kept by CPython and never freed.
	wname := lib.PyDecodeLocale(h.interp.Executable, 0)
	if wname == 0 {
		return fmt.Errorf("python cannot decode the path %q in the current locale", h.interp.Executable)
	}
	lib.PySetProgramName(wname)
	lib.PyInitializeEx(0) // 0: no Python signal handlers; Go keeps SIGINT and SIGPIPE
	if lib.PyIsInitialized() == 0 {
		return fmt.Errorf("python %s failed to initialize", h.interp.Executable)
	}
	return h.bootstrap(paths, argv)
}

// bootstrap runs with the GIL held on the owner thread.
func (h *Host) bootstrap(paths, argv []string) error {
	l := h.lib
	h.emptyStr = h.lib.Fast.Str(nil)
	if tb := l.PyImportImportModule("traceback"); tb != 0 {
		h.formatException = l.PyObjectGetAttrString(tb, "format_exception")
		l.PyDecRef(tb)
	}
	if builtins := l.PyImportImportModule("builtins"); builtins != 0 {
		h.keyboardInterrupt = l.PyObjectGetAttrString(builtins, "KeyboardInterrupt")
		l.PyDecRef(builtins)
	}
	if h.formatException == 0 || h.keyboardInterrupt == 0 {
		return fmt.Errorf("python bootstrap: %w", h.fetchError())
	}
	sys := l.PyImportImportModule("sys")
	if sys == 0 {
		return fmt.Errorf("python bootstrap: importing sys: %w", h.fetchError())
	}
	path := l.PyObjectGetAttrString(sys, "path")
	l.PyDecRef(sys)
	if path == 0 {
		return fmt.Errorf("python bootstrap: sys.path: %w", h.fetchError())
	}
	for i := len(paths) - 1; i >= 0; i-- {
		s := h.lib.Fast.Str([]byte(paths[i]))
		rc := l.PyListInsert(path, 0, s)
		l.PyDecRef(s)
		if rc != 0 {
			l.PyDecRef(path)
			return fmt.Errorf("python bootstrap: sys.path.insert: %w", h.fetchError())
		}
	}
	l.PyDecRef(path)
	mod := l.PyImportImportModule(PackageName)
	if mod == 0 {
		return fmt.Errorf("python bootstrap: importing %s from %s: %w", PackageName, h.pyDir, h.fetchError())
	}
	h.callFn = l.PyObjectGetAttrString(mod, "_call")
	l.PyDecRef(mod)
	if h.callFn == 0 {
		return fmt.Errorf("python bootstrap: %w", h.fetchError())
	}
	payload, err := json.Marshal(map[string]any{"argv": argv, "executable": h.interp.Executable})
	if err != nil {
		return err
	}
	out, err := h.invoke(PackageName, "_bootstrap", payload)
	if err != nil {
		return fmt.Errorf("python bootstrap: %w", err)
	}
	var boot struct {
		ThreadIdent uint64 `json:"thread_ident"`
	}
	if err := json.Unmarshal(out, &boot); err != nil {
		return fmt.Errorf("python bootstrap: decoding %s: %w", out, err)
	}
	h.mainIdent = boot.ThreadIdent
	return nil
}

// CallJSON calls module.function(arg) in the interpreter, where arg is in
// encoded as JSON and decoded by Python (a json.RawMessage or []byte is sent
// as is), and decodes the function's JSON-able return value into out (which
// may be nil, or a *json.RawMessage to keep it raw).
//
// A Python exception comes back as a *PyError. Cancelling ctx interrupts the
// call: the error then matches ErrInterrupted, or is a *StuckError when the
// call runs native code that did not answer within the grace period.
func (h *Host) CallJSON(ctx context.Context, module, function string, in, out any) error {
	_, err := h.CallTimed(ctx, module, function, in, out)
	return err
}

// Span is when a call ran on the interpreter's thread: Go monotonic clock
// readings taken on that thread right before the Python function was called
// and right after it returned.
type Span struct {
	Start, End time.Time
}

// Duration is End - Start.
func (s Span) Duration() time.Duration { return s.End.Sub(s.Start) }

// CallTimed is CallJSON that also says when the call ran. The span leaves out
// the hand-offs between the caller's goroutine and the interpreter's thread,
// which on a virtual machine with idle cores can take hundreds of
// microseconds to wake a thread: they are the tool's latency, not the
// called code's. It is zero when the call never ran.
func (h *Host) CallTimed(ctx context.Context, module, function string, in, out any) (Span, error) {
	payload, err := encodeArg(in)
	if err != nil {
		return Span{}, fmt.Errorf("encoding the argument of %s.%s: %w", module, function, err)
	}
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return Span{}, ErrClosed
	}
	j := &job{ctx: ctx, module: module, function: function, payload: payload, done: make(chan struct{})}
	select {
	case h.jobs <- j:
	case <-ctx.Done():
		return Span{}, fmt.Errorf("python call %s.%s not started: %w", module, function, ctx.Err())
	}
	for deadline := time.Now().Add(callerSpin); !j.finished.Load() && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		h.interrupt(j)
		t := time.NewTimer(h.grace)
		defer t.Stop()
		select {
		case <-j.done:
		case <-t.C:
			return Span{}, &StuckError{Module: module, Function: function, Waited: h.grace, Cause: ctx.Err()}
		}
	}
	if j.err != nil {
		if errors.Is(j.err, ErrInterrupted) && ctx.Err() != nil {
			return j.span, fmt.Errorf("python call %s.%s: %w: %w", module, function, ctx.Err(), j.err)
		}
		return j.span, fmt.Errorf("python call %s.%s: %w", module, function, j.err)
	}
	if out == nil {
		return j.span, nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = j.result
		return j.span, nil
	}
	if err := fastjson.Unmarshal(j.result, out); err != nil {
		return j.span, fmt.Errorf("decoding the result of %s.%s: %w", module, function, err)
	}
	return j.span, nil
}

func encodeArg(in any) ([]byte, error) {
	switch v := in.(type) {
	case json.RawMessage:
		return v, nil
	case []byte:
		return v, nil
	default:
		return fastjson.Marshal(in)
	}
}

// run executes one job on the owner thread with the GIL held.
func (h *Host) run(j *job) {
	defer func() {
		j.finished.Store(true)
		close(j.done)
	}()
	if err := j.ctx.Err(); err != nil {
		j.err = err
		return
	}
	h.mu.Lock()
	h.current = j
	h.mu.Unlock()
	j.span.Start = time.Now()
	j.result, j.err = h.invoke(j.module, j.function, j.payload)
	j.span.End = time.Now()
	h.mu.Lock()
	h.current = nil
	interrupted := j.interrupted
	h.mu.Unlock()
	// An interrupt that arrived after the Python code finished would fire in
	// the next call; drop it. The GIL orders this against interrupt().
	if interrupted {
		h.lib.PyThreadStateSetAsyncExc(h.mainIdent, 0)
	}
}

// interrupt raises KeyboardInterrupt asynchronously in the main thread if j
// is still running. It runs in a goroutine of its own because taking the GIL
// blocks for as long as native code holds it.
func (h *Host) interrupt(j *job) {
	go func() {
		runtime.LockOSThread() // a GIL thread state belongs to one OS thread
		defer runtime.UnlockOSThread()
		g := h.lib.PyGILStateEnsure()
		h.mu.Lock()
		if h.current == j {
			j.interrupted = true
			h.lib.PyThreadStateSetAsyncExc(h.mainIdent, h.keyboardInterrupt)
		}
		h.mu.Unlock()
		h.lib.PyGILStateRelease(g)
	}()
}

// Interrupt interrupts the call running now, if any, as a cancelled context
// would.
func (h *Host) Interrupt() {
	h.mu.Lock()
	j := h.current
	h.mu.Unlock()
	if j != nil {
		h.interrupt(j)
	}
}

// Close runs Python's atexit handlers (engines register their shutdown there)
// and refuses further calls. It does not finalize the interpreter: after
// native libraries such as CUDA are loaded that is unsafe, and the process is
// about to exit anyway.
func (h *Host) Close(ctx context.Context) error {
	err := h.CallJSON(ctx, PackageName, "_run_exit_functions", nil, nil)
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	return err
}

// invoke calls the trampoline with the GIL held.
func (h *Host) invoke(module, function string, payload []byte) ([]byte, error) {
	f := &h.lib.Fast
	mod, fn := h.name(module), h.name(function)
	if mod == 0 || fn == 0 {
		return nil, h.fetchError()
	}
	arg := f.Str(payload)
	if arg == 0 {
		return nil, fmt.Errorf("the argument is not valid UTF-8: %w", h.fetchError())
	}
	h.args = [3]python.Object{mod, fn, arg}
	res := f.Call(h.callFn, h.args[:])
	f.DecRef(arg)
	if res == 0 {
		// The trampoline catches everything, so this is an exception raised
		// outside its try block, e.g. an interrupt that landed late.
		return nil, h.fetchError()
	}
	b, err := h.goBytes(res)
	f.DecRef(res)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, errors.New("python trampoline returned nothing")
	}
	switch b[0] {
	case 'R':
		return b[1:], nil
	case 'E':
		pe := &PyError{}
		if err := json.Unmarshal(b[1:], pe); err != nil {
			return nil, fmt.Errorf("decoding a python exception %q: %w", b[1:], err)
		}
		return nil, pe
	}
	return nil, fmt.Errorf("python trampoline returned %q", b)
}

// name returns a Python str for a module or function name, made once and
// kept: the names are few and every call passes two (0 with a Python
// exception set if it cannot be made).
func (h *Host) name(s string) python.Object {
	if o, ok := h.names[s]; ok {
		return o
	}
	o := h.lib.Fast.Str([]byte(s))
	if o != 0 {
		h.names[s] = o
	}
	return o
}

// goBytes copies a Python str's UTF-8 bytes into Go memory.
func (h *Host) goBytes(o python.Object) ([]byte, error) {
	b, ok := h.lib.Fast.UTF8(o)
	if !ok {
		return nil, h.fetchError()
	}
	return append([]byte(nil), b...), nil
}

// fetchError turns the pending Python exception into a *PyError, with the
// traceback formatted by Python's traceback module. GIL held.
func (h *Host) fetchError() error {
	l := h.lib
	if l.PyErrOccurred() == 0 {
		return errors.New("python reported a failure without an exception")
	}
	var exc python.Object
	if l.PyErrGetRaisedException != nil {
		exc = l.PyErrGetRaisedException()
	} else {
		var typ, val, tb python.Object
		l.PyErrFetch(&typ, &val, &tb)
		l.PyErrNormalizeException(&typ, &val, &tb)
		if tb != 0 && val != 0 {
			l.PyExceptionSetTraceback(val, tb)
		}
		exc = val
		l.PyDecRef(typ)
		l.PyDecRef(tb)
	}
	if exc == 0 {
		return errors.New("python raised an exception that could not be fetched")
	}
	defer l.PyDecRef(exc)
	pe := &PyError{Type: h.typeName(exc), Message: h.strOf(exc)}
	pe.Traceback = h.formatTraceback(exc)
	l.PyErrClear()
	return pe
}

func (h *Host) typeName(exc python.Object) string {
	l := h.lib
	cls := l.PyObjectGetAttrString(exc, "__class__")
	if cls == 0 {
		l.PyErrClear()
		return "Exception"
	}
	defer l.PyDecRef(cls)
	name := h.attrString(cls, "__qualname__")
	if mod := h.attrString(cls, "__module__"); mod != "" && mod != "builtins" {
		name = mod + "." + name
	}
	return name
}

func (h *Host) attrString(o python.Object, attr string) string {
	a := h.lib.PyObjectGetAttrString(o, attr)
	if a == 0 {
		h.lib.PyErrClear()
		return ""
	}
	defer h.lib.PyDecRef(a)
	return h.strOf(a)
}

func (h *Host) strOf(o python.Object) string {
	s := h.lib.PyObjectStr(o)
	if s == 0 {
		h.lib.PyErrClear()
		return ""
	}
	defer h.lib.PyDecRef(s)
	var n int
	p := h.lib.PyUnicodeAsUTF8AndSize(s, &n)
	if p == nil {
		h.lib.PyErrClear()
		return ""
	}
	return string(unsafe.Slice(p, n))
}

// formatTraceback returns "".join(traceback.format_exception(exc)).
func (h *Host) formatTraceback(exc python.Object) string {
	l := h.lib
	if h.formatException == 0 {
		return ""
	}
	args := l.PyTupleNew(1)
	l.PyIncRef(exc)
	l.PyTupleSetItem(args, 0, exc)
	lines := l.PyObjectCallObject(h.formatException, args)
	l.PyDecRef(args)
	if lines == 0 {
		l.PyErrClear()
		return ""
	}
	join := l.PyObjectGetAttrString(h.emptyStr, "join")
	if join == 0 {
		l.PyDecRef(lines)
		l.PyErrClear()
		return ""
	}
	args = l.PyTupleNew(1)
	l.PyTupleSetItem(args, 0, lines) // steals lines
	joined := l.PyObjectCallObject(join, args)
	l.PyDecRef(args)
	l.PyDecRef(join)
	if joined == 0 {
		l.PyErrClear()
		return ""
	}
	defer l.PyDecRef(joined)
	b, err := h.goBytes(joined)
	if err != nil {
		l.PyErrClear()
		return ""
	}
	return string(b)
}
