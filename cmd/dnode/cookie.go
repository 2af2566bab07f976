package main

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/dnode-p2p/dnode/rpc"
)

// devnetCookieDir is where `dnode devnet` puts a copy of each node's RPC
// cookie, named by its RPC address, so that a client given only --rpc
// finds it: $XDG_RUNTIME_DIR/dnode/devnet when XDG_RUNTIME_DIR is an
// absolute path, else <user cache dir>/dnode/devnet.
func devnetCookieDir() (string, error) {
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "dnode", "devnet"), nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "dnode", "devnet"), nil
}

// devnetCookiePath returns the devnet cookie of the node whose RPC is at
// endpoint (http://host:port or host:port): <dir>/<host>_<port>.cookie.
func devnetCookiePath(dir, endpoint string) (string, error) {
	hostport := strings.TrimPrefix(strings.TrimPrefix(endpoint, "http://"), "ws://")
	hostport = strings.TrimSuffix(strings.TrimSuffix(hostport, "/ws"), "/")
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", err
	}
	if host == "" || port == "" || strings.ContainsAny(host+port, `/\`) {
		return "", errors.New("no host or port")
	}
	return filepath.Join(dir, strings.ReplaceAll(host, ":", "-")+"_"+port+".cookie"), nil
}

// nodeCookie is the RPC token of a running node and where it was written.
type nodeCookie struct {
	token string
	paths []string // cookie files written; removed at stop
}

// writeNodeCookie writes token to each path (see rpc.WriteCookie).
func writeNodeCookie(token string, paths ...string) (*nodeCookie, error) {
	c := &nodeCookie{token: token}
	for _, p := range paths {
		if err := rpc.WriteCookie(p, token); err != nil {
			c.remove()
			return nil, err
		}
		c.paths = append(c.paths, p)
	}
	return c, nil
}

// remove removes the cookie files that still hold the token.
func (c *nodeCookie) remove() {
	if c == nil {
		return
	}
	for _, p := range c.paths {
		if err := rpc.RemoveCookie(p, c.token); err != nil {
			logger.Warnw("RPC cookie not removed", "path", p, "err", err)
		}
	}
}
