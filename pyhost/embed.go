package pyhost

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// pySources is the project's own Python package (the host trampoline and the
// engine adapters). "all:" keeps files that start with "_" (__init__.py).
//
//go:embed all:py
var pySources embed.FS

// PackageName is the import name of the embedded Python package.
const PackageName = "enginebench_host"

// sourcesDigest is a hash over the embedded files' names and contents, so a
// changed package is extracted to a new directory and a running process never
// sees its files change under it.
func sourcesDigest() (string, error) {
	var names []string
	err := fs.WalkDir(pySources, "py", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "__pycache__" {
			return fs.SkipDir
		}
		if !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := pySources.ReadFile(n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// CacheDir returns the directory enginebench caches files in:
// $ENGINEBENCH_CACHE_DIR, else the user cache directory + "/enginebench".
func CacheDir() (string, error) {
	if d := os.Getenv("ENGINEBENCH_CACHE_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding a cache directory (set ENGINEBENCH_CACHE_DIR): %w", err)
	}
	return filepath.Join(d, "enginebench"), nil
}

// ExtractSources writes the embedded Python package under cacheDir and returns
// the directory to put on sys.path. The files are real files, so tracebacks
// show source lines and multiprocessing children can import from them. A
// directory that already holds this version is reused; a new one is written
// to a temporary name and renamed into place, so concurrent workers never see
// a half-written package.
func ExtractSources(cacheDir string) (string, error) {
	digest, err := sourcesDigest()
	if err != nil {
		return "", fmt.Errorf("hashing the embedded python package: %w", err)
	}
	final := filepath.Join(cacheDir, "py", digest)
	if _, err := os.Stat(filepath.Join(final, PackageName, "__init__.py")); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", fmt.Errorf("creating the python cache directory: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), digest+".tmp-")
	if err != nil {
		return "", fmt.Errorf("creating the python cache directory: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	err = fs.WalkDir(pySources, "py", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, "py"), "/")
		dst := filepath.Join(tmp, filepath.FromSlash(rel))
		if d.IsDir() {
			if d.Name() == "__pycache__" {
				return fs.SkipDir
			}
			return os.MkdirAll(dst, 0o755)
		}
		b, err := pySources.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("extracting the python package: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another process extracted the same version first: use theirs.
		if _, statErr := os.Stat(filepath.Join(final, PackageName, "__init__.py")); statErr == nil {
			return final, nil
		}
		return "", fmt.Errorf("installing the python package in %s: %w", final, err)
	}
	return final, nil
}
