package host

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/dnode-p2p/dnode/internal/atomicfile"
)

// IdentityFile is the name of the key file inside the datastore.
const IdentityFile = "identity.key"

// ErrBadIdentity is returned when the identity file exists but cannot be
// used. The file is never overwritten.
var ErrBadIdentity = errors.New("unusable identity key")

// LoadOrCreateIdentity returns the Ed25519 key stored in dir/identity.key,
// creating dir (mode 0700) and the key (mode 0600) on first use. The
// boolean reports whether the key was created.
//
// The key is written to a temporary file in dir, fsynced, and linked into
// place (never replacing a key another process created meanwhile), and
// the directory is fsynced, so a crash at any moment leaves either no key
// or a whole one. An empty key file, which only a crash of an older dnode
// between creating and writing the file leaves, holds no identity: it is
// replaced by a new key, with a warning on log (may be nil). Any other
// file that does not hold an Ed25519 key is an error wrapping
// ErrBadIdentity that names the file and is never overwritten.
//
// A datastore or key file that group or others may access is tightened
// (mode 0700 for the datastore, 0600 for the key: group and others lose
// every permission) with a warning on log naming the file and its old
// mode; when it cannot be changed, the error names the file and the chmod
// that fixes it.
func LoadOrCreateIdentity(dir string) (crypto.PrivKey, bool, error) {
	return loadOrCreateIdentity(dir, nil, atomicfile.Options{})
}

// LoadOrCreateIdentityLog is LoadOrCreateIdentity logging to log.
func LoadOrCreateIdentityLog(dir string, log *slog.Logger) (crypto.PrivKey, bool, error) {
	return loadOrCreateIdentity(dir, log, atomicfile.Options{})
}

func loadOrCreateIdentity(dir string, log *slog.Logger, wo atomicfile.Options) (crypto.PrivKey, bool, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path := filepath.Join(dir, IdentityFile)
	if err := makePrivate(dir, "datastore", log); err != nil {
		return nil, false, err
	}
	for range 2 { // a second round when another process created it first
		key, err := readIdentity(path, log)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return key, false, err
		}
		key, err = createIdentity(dir, path, wo)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		return key, true, nil
	}
	return nil, false, fmt.Errorf("create identity %s: created and removed by another process meanwhile", path)
}

// readIdentity reads the key at path. It returns an error wrapping
// fs.ErrNotExist when there is none, an empty file included (removed).
func readIdentity(path string, log *slog.Logger) (crypto.PrivKey, error) {
	if err := makePrivate(path, "identity key", log); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("read identity: %w", err)
	}
	if len(data) == 0 {
		log.Warn("identity key file is empty (left by a crash while it was first created); creating a new identity", "path", path)
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove empty identity %s: %w", path, err)
		}
		return nil, fs.ErrNotExist
	}
	key, err := crypto.UnmarshalPrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w (restore it from a backup, or move it away to start with a new peer ID)",
			ErrBadIdentity, path, err)
	}
	if key.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("%w: %s: key type %s, want Ed25519", ErrBadIdentity, path, key.Type())
	}
	return key, nil
}

// createIdentity generates a key and writes it to path unless path exists
// (then the error wraps fs.ErrExist).
func createIdentity(dir, path string, wo atomicfile.Options) (crypto.PrivKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create datastore: %w", err)
	}
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate identity: %w", err)
	}
	data, err := crypto.MarshalPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode identity: %w", err)
	}
	wo.NoReplace = true
	wo.Perm = 0o600
	if err := atomicfile.Write(path, data, wo); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		return nil, fmt.Errorf("write identity %s: %w", path, err)
	}
	return key, nil
}

// makePrivate tightens path (see LoadOrCreateIdentity), warning on log.
func makePrivate(path, what string, log *slog.Logger) error {
	old, changed, err := atomicfile.MakePrivate(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if changed {
		log.Warn(what+" was open to group or others; permissions tightened (a key others could read may be known to them: "+
			"consider a new identity)", "path", path, "old_mode", fmt.Sprintf("%04o", old), "new_mode", fmt.Sprintf("%04o", old&^0o077))
	}
	return nil
}
