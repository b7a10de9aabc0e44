package hostmon

import "fmt"

// tree returns pid and all its descendants (children, grandchildren, ...),
// pid first and the rest in increasing order. It scans /proc once.
func tree(pid int) ([]int, error) {
	sts, err := newScanner("/proc").treeStats(pid)
	if err != nil {
		return nil, fmt.Errorf("hostmon: process tree of %d: %w", pid, err)
	}
	pids := make([]int, len(sts))
	for i, st := range sts {
		pids[i] = st.pid
	}
	return pids, nil
}
