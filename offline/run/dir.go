package run

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/enginebench/enginebench/offline/results"
)

// Dir is an output directory held by one run: locked against a second run,
// its results file repaired before anything is appended to it.
type Dir struct {
	Path string
	lock *os.File
	// Notes say what opening the directory did: a lock taken over from a
	// process that is gone, torn lines set aside.
	Notes []string
}

// OpenDir creates and locks the output directory. An existing results file
// is appended to only with resume; then any line of it that is not a whole
// JSON row (a write cut short by a full disk or a power loss) is set aside
// in TornFile first, so the next row never lands on a torn one and the
// cells it held are measured again.
func OpenDir(path string, resume bool) (*Dir, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, &InputError{fmt.Errorf("--out %s: %w", path, err)}
	}
	d := &Dir{Path: path}
	if err := d.takeLock(); err != nil {
		return nil, err
	}
	_, err := os.Stat(d.File(ResultsFile))
	switch {
	case err == nil && !resume:
		d.Close()
		return nil, &InputError{fmt.Errorf("--out %s already holds results: pass --resume to continue that run, or choose another --out", path)}
	case err == nil:
		if err := d.repair(); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

// File is the path of a file in the directory.
func (d *Dir) File(name string) string { return filepath.Join(d.Path, name) }

// lockInfo is what the lock file says of its holder.
type lockInfo struct {
	PID         int       `json:"pid"`
	StartedAt   time.Time `json:"started_at"`
	CommandLine []string  `json:"command_line"`
}

// takeLock holds an exclusive flock on the directory's lock file for as
// long as the run lives. The kernel drops the lock when its process dies,
// so a lock whose process is gone is simply taken over.
func (d *Dir) takeLock() error {
	f, err := os.OpenFile(d.File(lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("locking %s: %w", d.Path, err)
	}
	prev, _ := readLock(f)
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := "another enginebench run"
			if prev.PID > 0 {
				who = fmt.Sprintf("enginebench pid %d (started %s: %s)", prev.PID, prev.StartedAt.Local().Format(time.DateTime), strings.Join(prev.CommandLine, " "))
			}
			return &InputError{fmt.Errorf("--out %s is in use by %s: wait for it to end, or choose another --out", d.Path, who)}
		}
		return fmt.Errorf("locking %s: %w", d.Path, err)
	}
	if prev.PID > 0 && prev.PID != os.Getpid() {
		d.Notes = append(d.Notes, fmt.Sprintf("took over the lock of enginebench pid %d, which is gone", prev.PID))
	}
	b, _ := json.Marshal(lockInfo{PID: os.Getpid(), StartedAt: time.Now().UTC(), CommandLine: os.Args})
	if err := f.Truncate(0); err == nil {
		f.WriteAt(append(b, '\n'), 0)
	}
	d.lock = f
	return nil
}

func readLock(f *os.File) (lockInfo, error) {
	var li lockInfo
	b, err := os.ReadFile(f.Name())
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return li, err
	}
	return li, json.Unmarshal(b, &li)
}

// Close releases the lock. The lock file stays (emptied): removing it
// could let two later runs lock two different files of the same name.
func (d *Dir) Close() error {
	if d.lock == nil {
		return nil
	}
	f := d.lock
	d.lock = nil
	f.Truncate(0)
	return f.Close()
}

// repair sets aside every line of the results file that is not a whole
// JSON row and rewrites the file without them, atomically.
func (d *Dir) repair() error {
	path := d.File(ResultsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	var good, torn bytes.Buffer
	lines := 0
	for len(data) > 0 {
		line := data
		next := len(data)
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, next = data[:i+1], i+1
		}
		data = data[next:]
		body := bytes.TrimSpace(line)
		if len(body) == 0 {
			continue
		}
		var row results.Row
		if line[len(line)-1] == '\n' && json.Unmarshal(body, &row) == nil {
			good.Write(line)
			continue
		}
		lines++
		torn.Write(bytes.TrimRight(line, "\n"))
		torn.WriteByte('\n')
	}
	if lines == 0 {
		return nil
	}
	tf, err := os.OpenFile(d.File(TornFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("setting torn results aside: %w", err)
	}
	_, werr := tf.Write(torn.Bytes())
	if err := errors.Join(werr, tf.Sync(), tf.Close()); err != nil {
		return fmt.Errorf("setting torn results aside: %w", err)
	}
	if err := writeAtomic(path, good.Bytes()); err != nil {
		return err
	}
	d.Notes = append(d.Notes, fmt.Sprintf("%s: set aside %d torn line%s (%d bytes) in %s; the cells they held are measured again",
		ResultsFile, lines, plural(lines), torn.Len(), TornFile))
	return nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("rewriting %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(data)
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("rewriting %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rewriting %s: %w", path, err)
	}
	return nil
}

// ReadManifest reads the directory's manifest; nil, nil when there is none.
func (d *Dir) ReadManifest() (*results.Manifest, error) {
	m, err := results.ReadManifest(d.File(ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return m, err
}

// Rows reads the directory's result rows; none when there is no file yet.
func (d *Dir) Rows() ([]results.Row, error) {
	rows, _, err := results.Read(d.File(ResultsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return rows, err
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// itoa is strconv.Itoa, short for messages.
func itoa(n int) string { return strconv.Itoa(n) }
