package host

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/dnode-p2p/dnode/internal/atomicfile"
)

func TestIdentityCreatedOnceAndReused(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "ds")
	k1, created, err := LoadOrCreateIdentity(dir)
	if err != nil || !created {
		t.Fatalf("first load: created=%v err=%v", created, err)
	}
	st, err := os.Stat(filepath.Join(dir, IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	k2, created, err := LoadOrCreateIdentity(dir)
	if err != nil || created {
		t.Fatalf("second load: created=%v err=%v", created, err)
	}
	if !k1.Equals(k2) {
		t.Error("identity changed between runs")
	}
}

func TestBadIdentityIsNotOverwritten(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, IdentityFile)
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateIdentity(dir); !errors.Is(err, ErrBadIdentity) {
		t.Fatalf("err = %v, want ErrBadIdentity", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "not a key" {
		t.Error("bad identity file was modified")
	}
}

// errKilled stands for the process being killed at a step of the write.
var errKilled = errors.New("killed")

// A kill at any step of the first start's key write leaves a datastore
// from which the next start succeeds, with a whole key.
func TestIdentitySurvivesKillAtEveryStep(t *testing.T) {
	t.Parallel()
	for _, at := range atomicfile.Steps {
		t.Run(string(at), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ds")
			_, _, err := loadOrCreateIdentity(dir, nil, atomicfile.Options{Before: func(s atomicfile.Step) error {
				if s == at {
					return errKilled
				}
				return nil
			}})
			if !errors.Is(err, errKilled) {
				t.Fatalf("first start: err = %v, want the simulated kill", err)
			}
			k1, _, err := LoadOrCreateIdentity(dir)
			if err != nil {
				t.Fatalf("start after a kill at %s: %v", at, err)
			}
			k2, created, err := LoadOrCreateIdentity(dir)
			if err != nil || created || !k1.Equals(k2) {
				t.Fatalf("third start: created=%v err=%v same=%v", created, err, err == nil && k1.Equals(k2))
			}
		})
	}
}

// The state an older dnode left when killed between creating identity.key
// and writing it: an empty file. The node starts with a new key.
func TestEmptyIdentityFromOldCrashIsReplaced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, IdentityFile)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	k, created, err := LoadOrCreateIdentity(dir)
	if err != nil || !created || k == nil {
		t.Fatalf("created=%v err=%v", created, err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		t.Fatalf("key file after start: %v, %v", st, err)
	}
}

// A truncated (non-empty) key may be the remains of a real identity: it is
// refused with the file and the fix named, and left alone.
func TestTruncatedIdentityIsRefusedAndKept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k, _, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := crypto.MarshalPrivateKey(k)
	path := filepath.Join(dir, IdentityFile)
	if err := os.WriteFile(path, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = LoadOrCreateIdentity(dir)
	if !errors.Is(err, ErrBadIdentity) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "backup") {
		t.Fatalf("err = %v, want ErrBadIdentity naming %s and the fix", err, path)
	}
	if b, _ := os.ReadFile(path); len(b) != len(data)/2 {
		t.Error("truncated key file was modified")
	}
}

func TestIdentityTightensOpenPermissions(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if _, _, err := LoadOrCreateIdentityLog(dir, log); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, IdentityFile)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	if _, _, err := LoadOrCreateIdentityLog(dir, log); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", p, st.Mode().Perm(), want)
		}
		if !strings.Contains(logs.String(), p) {
			t.Errorf("no warning naming %s in %q", p, logs.String())
		}
	}
}

// Two creators at once end with one key, never replacing each other's.
func TestIdentityConcurrentCreatorsAgree(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "ds")
	keys := make([]crypto.PrivKey, 8)
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() { keys[i], _, errs[i] = LoadOrCreateIdentity(dir) })
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !keys[i].Equals(keys[0]) {
			t.Fatal("creators ended with different keys")
		}
	}
}
