package host

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestIdentityCreatedOnceAndReused(t *testing.T) {
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
