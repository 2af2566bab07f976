package rpc

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dnode-p2p/dnode/internal/atomicfile"
)

// CookieFile is the name of the cookie file in the node's datastore.
const CookieFile = "rpc.cookie"

// maxCookie bounds what ReadCookie reads.
const maxCookie = 4096

// ErrNoCookie is wrapped by ReadCookie's error when the file is missing.
var ErrNoCookie = errors.New("no RPC cookie")

// NewToken returns a random token: 32 bytes, hex.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// WriteCookie writes token to path atomically (a temporary file in the
// same directory, fsynced, renamed over path, the directory fsynced),
// mode 0600, as bitcoind writes its .cookie: a client that can read the
// file may drive the node.
func WriteCookie(path, token string) error {
	if err := atomicfile.Write(path, []byte(token+"\n"), atomicfile.Options{Perm: 0o600}); err != nil {
		return fmt.Errorf("write RPC cookie %s: %w", path, err)
	}
	return nil
}

// ReadCookie returns the token in the cookie at path. A missing file is an
// error wrapping ErrNoCookie; an empty one is an error too. Both name the
// file.
func ReadCookie(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %s does not exist", ErrNoCookie, path)
	}
	if err != nil {
		return "", fmt.Errorf("read RPC cookie: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCookie))
	if err != nil {
		return "", fmt.Errorf("read RPC cookie %s: %w", path, err)
	}
	token := string(bytes.TrimSpace(data))
	if token == "" {
		return "", fmt.Errorf("RPC cookie %s is empty", path)
	}
	return token, nil
}

// RemoveCookie removes the cookie at path if it still holds token (a
// cookie another node wrote meanwhile is left alone); token "" removes
// any. A missing file is not an error.
func RemoveCookie(path, token string) error {
	if token != "" {
		if got, err := ReadCookie(path); err != nil || got != token {
			return nil
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove RPC cookie: %w", err)
	}
	return nil
}

// CookiePath returns the cookie of a node whose datastore is datastore.
func CookiePath(datastore string) string { return filepath.Join(datastore, CookieFile) }
