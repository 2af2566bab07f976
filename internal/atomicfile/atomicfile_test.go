package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// leftovers lists the temporary files Write left in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// Write replaces the target, creates missing parents, sets the mode and
// leaves no temporary file.
func TestWriteReplaces(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "f")
	if err := Write(path, []byte("old"), Options{}); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new"), Options{Perm: 0o640}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); got != "new" {
		t.Fatalf("content %q, want new", got)
	}
	if runtime.GOOS != "windows" {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o640 {
			t.Errorf("mode %04o, want 0640", st.Mode().Perm())
		}
	}
	if l := leftovers(t, filepath.Dir(path)); len(l) != 0 {
		t.Errorf("temporary files left: %v", l)
	}
}

// With NoReplace an existing target is kept and the error wraps
// fs.ErrExist; a missing one is created.
func TestWriteNoReplace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	if err := Write(path, []byte("first"), Options{NoReplace: true}); err != nil {
		t.Fatal(err)
	}
	err := Write(path, []byte("second"), Options{NoReplace: true})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second create-only write: %v, want fs.ErrExist", err)
	}
	if got := read(t, path); got != "first" {
		t.Fatalf("content %q, want first (not replaced)", got)
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files left: %v", l)
	}
}

// A crash (Before failing) at any step leaves the old content or the new
// one, never anything else; before the rename it is the old one.
func TestWriteCrashAtEachStep(t *testing.T) {
	t.Parallel()
	crash := errors.New("crash")
	for i, s := range Steps {
		t.Run(string(s), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "f")
			if err := Write(path, []byte("old"), Options{}); err != nil {
				t.Fatal(err)
			}
			err := Write(path, []byte("new"), Options{Before: func(at Step) error {
				if at == s {
					return crash
				}
				return nil
			}})
			if !errors.Is(err, crash) {
				t.Fatalf("Write: %v, want the crash", err)
			}
			want := "old"
			if i > slices.Index(Steps, StepRename) {
				want = "new"
			}
			if got := read(t, path); got != want {
				t.Fatalf("after a crash before %s: content %q, want %q", s, got, want)
			}
		})
	}
}

// An ordinary failure removes the temporary file.
func TestWriteFailureCleansUp(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("renaming over a directory behaves differently on Windows")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "d")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(target, []byte("data"), Options{}); err == nil {
		t.Fatal("renaming over a non-empty directory succeeded")
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files left after a failed rename: %v", l)
	}
}

func TestMakePrivate(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no group or others bits on Windows")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o664); err != nil {
		t.Fatal(err)
	}
	old, changed, err := MakePrivate(path)
	if err != nil || !changed || old != 0o664 {
		t.Fatalf("MakePrivate = %04o, %v, %v; want 0664, true, nil", old, changed, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %04o after MakePrivate, want 0600", st.Mode().Perm())
	}
	if _, changed, err := MakePrivate(path); err != nil || changed {
		t.Fatalf("second MakePrivate: changed %v, err %v; want nothing to do", changed, err)
	}
	if _, changed, err := MakePrivate(filepath.Join(dir, "missing")); err != nil || changed {
		t.Fatalf("missing path: changed %v, err %v; want left alone", changed, err)
	}
}
