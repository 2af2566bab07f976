package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Step names a point of Write's sequence, for Options.Before.
type Step string

// The steps of Write, in order.
const (
	StepCreate  Step = "create"   // create the temporary file
	StepWrite   Step = "write"    // write the data
	StepSync    Step = "sync"     // fsync the temporary file
	StepClose   Step = "close"    // close it
	StepRename  Step = "rename"   // rename (or link) it to the target
	StepSyncDir Step = "sync-dir" // fsync the directory
)

// Steps lists Write's steps in order.
var Steps = []Step{StepCreate, StepWrite, StepSync, StepClose, StepRename, StepSyncDir}

// Options tune Write. The zero value replaces the target.
type Options struct {
	// NoReplace makes Write fail with an error wrapping fs.ErrExist
	// when the target exists, instead of replacing it: the temporary
	// file is hard-linked to the target, which fails if the target
	// appeared meanwhile. Where hard links are not supported, Write
	// falls back to checking and renaming.
	NoReplace bool
	// Before, when set, is called before each step; an error it returns
	// stops Write at once, leaving everything as a process killed at
	// that point would (no clean-up). Tests use it to simulate crashes.
	Before func(Step) error
	// Perm is the mode of the file (default 0600).
	Perm fs.FileMode
}

// Write writes data to path atomically (see the package doc), creating
// missing parent directories with mode 0700. On an ordinary error the
// temporary file is removed.
func Write(path string, data []byte, o Options) (err error) {
	if o.Perm == 0 {
		o.Perm = 0o600
	}
	step := func(s Step) error {
		if o.Before == nil {
			return nil
		}
		return o.Before(s)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := step(StepCreate); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	crashed := false
	defer func() {
		if err != nil && !crashed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	stop := func(s Step) error {
		if err := step(s); err != nil {
			crashed = true
			return err
		}
		return nil
	}
	if err := f.Chmod(o.Perm); err != nil && runtime.GOOS != "windows" {
		return err
	}
	if err := stop(StepWrite); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := stop(StepSync); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := stop(StepClose); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := stop(StepRename); err != nil {
		return err
	}
	if o.NoReplace {
		err = link(tmp, path)
	} else {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return err
	}
	if err := stop(StepSyncDir); err != nil {
		return err
	}
	return SyncDir(dir)
}

// link makes tmp's content appear at path unless path exists, then
// removes tmp.
func link(tmp, path string) error {
	err := os.Link(tmp, path)
	switch {
	case err == nil:
		return os.Remove(tmp)
	case errors.Is(err, fs.ErrExist):
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", path, fs.ErrExist)
	}
	// No hard links here (some network and FAT file systems): check and
	// rename, which leaves a small window for another creator.
	if _, serr := os.Lstat(path); serr == nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", path, fs.ErrExist)
	}
	return os.Rename(tmp, path)
}

// SyncDir makes a rename in dir durable. Windows cannot sync directories.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
