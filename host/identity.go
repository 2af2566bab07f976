package host

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// IdentityFile is the name of the key file inside the datastore.
const IdentityFile = "identity.key"

// ErrBadIdentity is returned when the identity file exists but cannot be
// used. The file is never overwritten.
var ErrBadIdentity = errors.New("unusable identity key")

// LoadOrCreateIdentity returns the Ed25519 key stored in dir/identity.key,
// creating dir (mode 0700) and the key (mode 0600) on first use. The
// boolean reports whether the key was created. An existing file that does
// not hold an Ed25519 key is an error wrapping ErrBadIdentity.
func LoadOrCreateIdentity(dir string) (crypto.PrivKey, bool, error) {
	path := filepath.Join(dir, IdentityFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, err := crypto.UnmarshalPrivateKey(data)
		if err != nil {
			return nil, false, fmt.Errorf("%w: %s: %v", ErrBadIdentity, path, err)
		}
		if key.Type() != crypto.Ed25519 {
			return nil, false, fmt.Errorf("%w: %s: key type %s, want Ed25519", ErrBadIdentity, path, key.Type())
		}
		return key, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, false, fmt.Errorf("read identity: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("create datastore: %w", err)
	}
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("generate identity: %w", err)
	}
	data, err = crypto.MarshalPrivateKey(key)
	if err != nil {
		return nil, false, fmt.Errorf("encode identity: %w", err)
	}
	// O_EXCL: never replace a key another process created meanwhile.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("create identity: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return nil, false, fmt.Errorf("write identity: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, false, fmt.Errorf("write identity: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("write identity: %w", err)
	}
	return key, true, nil
}
