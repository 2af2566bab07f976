package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"runtime"
)

// MakePrivate removes every permission of group and others from path (a
// file or a directory) and returns its previous mode and whether it
// changed it. A missing path is left alone. An error names path and the
// chmod that would fix it. Windows modes do not carry this information:
// there it does nothing.
func MakePrivate(path string) (old fs.FileMode, changed bool, err error) {
	if runtime.GOOS == "windows" {
		return 0, false, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return 0, false, nil
		}
		return 0, false, err
	}
	old = st.Mode().Perm()
	if old&0o077 == 0 {
		return old, false, nil
	}
	fix := old &^ 0o077
	if err := os.Chmod(path, fix); err != nil {
		return old, false, fmt.Errorf("%s has mode %04o, open to group or others, and cannot be tightened (%w): run 'chmod %04o %s'",
			path, old, err, fix, path)
	}
	return old, true, nil
}
