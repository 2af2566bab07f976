package testnet

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrNoPort is returned by FindPort when no listening port of the
// process passes the probe (yet).
var ErrNoPort = errors.New("no listening port of the process answers")

// ListenPorts returns the TCP ports process pid listens on, read from
// Linux's /proc: the way to learn the ports of a child process whose
// listeners were given port 0. It reads at most a few MiB.
func ListenPorts(pid int) ([]int, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		return nil, fmt.Errorf("listen ports of %d: %w", pid, err)
	}
	inodes := make(map[string]bool)
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var ports []int
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(filepath.Join(dir, "net", table))
		if err != nil {
			continue // no IPv6
		}
		ps, err := listening(io.LimitReader(f, 4<<20), inodes)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("listen ports of %d: %s: %w", pid, table, err)
		}
		ports = append(ports, ps...)
	}
	return ports, nil
}

// listening parses a /proc/net/tcp table: the local ports of the sockets
// in state LISTEN (0A) whose inode is in inodes.
func listening(r io.Reader, inodes map[string]bool) ([]int, error) {
	var ports []int
	sc := bufio.NewScanner(r)
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
			continue
		}
		i := strings.LastIndexByte(f[1], ':')
		if i < 0 {
			return nil, fmt.Errorf("bad local address %q", f[1])
		}
		p, err := strconv.ParseUint(f[1][i+1:], 16, 16)
		if err != nil {
			return nil, fmt.Errorf("bad local address %q: %w", f[1], err)
		}
		ports = append(ports, int(p))
	}
	return ports, sc.Err()
}

// FindPort returns the first TCP port process pid listens on for which
// probe returns nil (for example: the port answers the node's RPC), or an
// error wrapping ErrNoPort with the last probe's error.
func FindPort(pid int, probe func(port int) error) (int, error) {
	ports, err := ListenPorts(pid)
	if err != nil {
		return 0, err
	}
	last := errors.New("no listening socket")
	for _, p := range ports {
		if err := probe(p); err != nil {
			last = err
			continue
		}
		return p, nil
	}
	return 0, fmt.Errorf("%w: %w", ErrNoPort, last)
}
