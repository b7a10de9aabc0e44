package nvmlsampler

import (
	"fmt"
	"strconv"
	"strings"
)

// selection is the outcome of resolving device entries.
type selection struct {
	indexes  []int
	warnings []string
	usedIdx  bool // some entry was a bare index (CUDA ordering matters)
}

// selectDevices resolves entries against the UUIDs of all devices (uuids[i]
// is the UUID of NVML index i). In strict mode any bad entry is an error;
// otherwise it follows CUDA_VISIBLE_DEVICES semantics: the first bad entry
// ends the list and is reported as a warning. MIG entries are always an
// error. what names the source in messages.
func selectDevices(entries []string, uuids []string, strict bool, what string) (selection, error) {
	var sel selection
	seen := map[int]bool{}
	for _, raw := range entries {
		e := strings.TrimSpace(raw)
		idx, err := resolveEntry(e, uuids)
		if err == nil && seen[idx] {
			err = fmt.Errorf("GPU %d is listed twice", idx)
		}
		if err != nil {
			if strings.HasPrefix(strings.ToUpper(e), "MIG-") {
				return selection{}, fmt.Errorf("%s entry %q: %w", what, e, err)
			}
			if strict {
				return selection{}, fmt.Errorf("%s entry %q: %w", what, e, err)
			}
			sel.warnings = append(sel.warnings, fmt.Sprintf(
				"%s entry %q ignored (%v); as CUDA does, the entries after it are ignored too", what, e, err))
			break
		}
		if _, convErr := strconv.Atoi(e); convErr == nil {
			sel.usedIdx = true
		}
		seen[idx] = true
		sel.indexes = append(sel.indexes, idx)
	}
	return sel, nil
}

// resolveEntry maps one entry to an NVML index.
func resolveEntry(e string, uuids []string) (int, error) {
	switch up := strings.ToUpper(e); {
	case e == "":
		return 0, fmt.Errorf("empty entry")
	case strings.HasPrefix(up, "MIG-"):
		return 0, fmt.Errorf("MIG instances are not supported: device-wide memory, power and energy cannot be attributed to one slice")
	case strings.HasPrefix(up, "GPU-"):
		match := -1
		for i, u := range uuids {
			if strings.HasPrefix(strings.ToUpper(u), up) {
				if match >= 0 {
					return 0, fmt.Errorf("UUID prefix matches more than one GPU (%s, %s)", uuids[match], u)
				}
				match = i
			}
		}
		if match < 0 {
			return 0, fmt.Errorf("no GPU has this UUID")
		}
		return match, nil
	}
	n, err := strconv.Atoi(e)
	if err != nil {
		return 0, fmt.Errorf("neither a device index nor a GPU-UUID: %w", err)
	}
	if n < 0 || n >= len(uuids) {
		return 0, fmt.Errorf("index %d out of range: %d GPU(s)", n, len(uuids))
	}
	return n, nil
}

// splitVisible splits a CUDA_VISIBLE_DEVICES value. An empty (or blank)
// value selects no device.
func splitVisible(v string) []string {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// cudaVersion formats NVML's CUDA driver version (e.g. 12040) as "12.4".
func cudaVersion(v int) string {
	return fmt.Sprintf("%d.%d", v/1000, (v%1000)/10)
}
