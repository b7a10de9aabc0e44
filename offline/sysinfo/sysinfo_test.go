package sysinfo

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestHost(t *testing.T) {
	h := Host()
	if h.CPUs != runtime.NumCPU() || h.OS != runtime.GOOS || h.Arch != runtime.GOARCH {
		t.Errorf("Host() = %+v", h)
	}
	if runtime.GOOS == "linux" && (h.MemoryBytes == 0 || h.Kernel == "") {
		t.Errorf("on Linux, memory and kernel are readable: %+v", h)
	}
}

func TestProcField(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meminfo")
	os.WriteFile(p, []byte("MemFree:  10 kB\nMemTotal:       24576 kB\nMemTotal: 1 kB\n"), 0o644)
	tests := []struct{ key, want string }{
		{"MemTotal", "24576 kB"},
		{"MemFree", "10 kB"},
		{"Missing", ""},
	}
	for _, tt := range tests {
		if got := procField(p, tt.key); got != tt.want {
			t.Errorf("procField(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
	if got := procField(filepath.Join(t.TempDir(), "absent"), "x"); got != "" {
		t.Errorf("absent file gave %q", got)
	}
}
