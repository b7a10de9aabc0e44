package hostmon

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"unsafe"
)

// ErrNoProcess is matched (errors.Is) when the root process does not exist
// (or has exited and its PID was reused).
var ErrNoProcess = errors.New("process not found")

// procStat is what one /proc/<pid>/stat line gives us.
type procStat struct {
	pid   int
	ppid  int
	ticks uint64 // utime + stime + cutime + cstime, in clock ticks
	rss   uint64 // resident pages
	start uint64 // start time after boot, in clock ticks (PID-reuse check)
}

// scanner reads /proc with one reused buffer and raw syscalls, so a scan
// allocates almost nothing per process.
type scanner struct {
	proc     string
	buf      []byte
	pageSize uint64
	clkTck   uint64
}

func newScanner(proc string) *scanner {
	return &scanner{proc: proc, buf: make([]byte, 4096), pageSize: uint64(os.Getpagesize()), clkTck: clockTicks(proc)}
}

// clockTicks returns the kernel's USER_HZ (sysconf(_SC_CLK_TCK)), read from
// the AT_CLKTCK auxiliary vector entry, which is what libc's sysconf does;
// 100 (the value on every mainstream Linux architecture) if unreadable.
func clockTicks(proc string) uint64 {
	const atClkTck = 17
	b, err := os.ReadFile(filepath.Join(proc, "self", "auxv"))
	if err != nil {
		return 100
	}
	word := int(unsafe.Sizeof(uintptr(0)))
	for i := 0; i+2*word <= len(b); i += 2 * word {
		var key, val uint64
		if word == 8 {
			key, val = binary.NativeEndian.Uint64(b[i:]), binary.NativeEndian.Uint64(b[i+8:])
		} else {
			key, val = uint64(binary.NativeEndian.Uint32(b[i:])), uint64(binary.NativeEndian.Uint32(b[i+4:]))
		}
		if key == atClkTck && val > 0 {
			return val
		}
	}
	return 100
}

// readStat reads and parses /proc/<pid>/stat.
func (sc *scanner) readStat(pid int) (procStat, error) {
	path := sc.proc + "/" + strconv.Itoa(pid) + "/stat"
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return procStat{}, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	n := 0
	for {
		m, err := syscall.Read(fd, sc.buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return procStat{}, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			break
		}
		n += m
		if n == len(sc.buf) { // a very long comm is impossible (16 bytes), but be safe
			sc.buf = append(sc.buf, make([]byte, len(sc.buf))...)
		}
	}
	st, err := parseStat(sc.buf[:n])
	if err != nil {
		return procStat{}, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// parseStat parses a /proc/<pid>/stat line (proc(5)). The command name is
// in parentheses and may itself contain spaces and parentheses, so fields
// are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	var st procStat
	open := -1
	for i, c := range b {
		if c == '(' {
			open = i
			break
		}
	}
	closing := -1
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' {
			closing = i
			break
		}
	}
	if open <= 0 || closing < open {
		return st, fmt.Errorf("malformed stat line")
	}
	pid, ok := atou(trimSpace(b[:open]))
	if !ok {
		return st, fmt.Errorf("malformed pid")
	}
	st.pid = int(pid)
	// Fields after ')': index 0 is field 3 (state).
	const (
		fPPID   = 4 - 3
		fUtime  = 14 - 3
		fStime  = 15 - 3
		fCutime = 16 - 3
		fCstime = 17 - 3
		fStart  = 22 - 3
		fRSS    = 24 - 3
	)
	field, i := 0, closing+1
	for i < len(b) && field <= fRSS {
		for i < len(b) && (b[i] == ' ' || b[i] == '\n') {
			i++
		}
		j := i
		for j < len(b) && b[j] != ' ' && b[j] != '\n' {
			j++
		}
		if j == i {
			break
		}
		tok := b[i:j]
		switch field {
		case fPPID, fUtime, fStime, fCutime, fCstime, fStart, fRSS:
			// cutime, cstime and rss are signed in the kernel; a negative
			// value never occurs for them in practice and is treated as 0.
			v, ok := atou(tok)
			if !ok && !(len(tok) > 1 && tok[0] == '-') {
				return st, fmt.Errorf("malformed field %d %q", field+3, tok)
			}
			switch field {
			case fPPID:
				st.ppid = int(v)
			case fUtime, fStime, fCutime, fCstime:
				st.ticks += v
			case fStart:
				st.start = v
			case fRSS:
				st.rss = v
			}
		}
		field++
		i = j
	}
	if field <= fRSS {
		return st, fmt.Errorf("stat line has only %d fields", field+2)
	}
	return st, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

func atou(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// listPIDs returns the numeric entries of /proc: every thread-group leader
// (threads are not listed there, so each process appears once).
func (sc *scanner) listPIDs() ([]int, error) {
	f, err := os.Open(sc.proc)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", sc.proc, err)
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if v, ok := atou([]byte(n)); ok {
			pids = append(pids, int(v))
		}
	}
	return pids, nil
}

// treeStats scans all of /proc once and returns the stats of root and all
// its descendants, root first, the rest by PID. Processes that vanish during
// the scan are skipped.
func (sc *scanner) treeStats(root int) ([]procStat, error) {
	rootStat, err := sc.readStat(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			return nil, fmt.Errorf("pid %d: %w", root, ErrNoProcess)
		}
		return nil, err
	}
	pids, err := sc.listPIDs()
	if err != nil {
		return nil, err
	}
	all := make([]procStat, 0, len(pids))
	for _, pid := range pids {
		if pid == root {
			continue
		}
		st, err := sc.readStat(pid)
		if err != nil {
			continue // exited since the directory was listed
		}
		all = append(all, st)
	}
	children := make(map[int][]int, len(all))
	byPID := make(map[int]int, len(all))
	for i, st := range all {
		children[st.ppid] = append(children[st.ppid], st.pid)
		byPID[st.pid] = i
	}
	out := []procStat{rootStat}
	queue := []int{root}
	seen := map[int]bool{root: true}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			if seen[c] { // guards against a PID reused mid-scan forming a loop
				continue
			}
			seen[c] = true
			out = append(out, all[byPID[c]])
			queue = append(queue, c)
		}
	}
	sort.Slice(out[1:], func(i, j int) bool { return out[1+i].pid < out[1+j].pid })
	return out, nil
}
