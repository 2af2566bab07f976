package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/libp2p/go-libp2p/core/host"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dnode-p2p/dnode/internal/atomicfile"
)

// OnionKeyFile is the file in the datastore that keeps the onion
// service's key ("ED25519-V3:<base64>", as Tor gives it), so that the
// /onion3 address survives restarts.
const OnionKeyFile = "onion_v3.key"

// onionKeyMax caps the key file read (Tor's key is 88 base64 characters).
const onionKeyMax = 512

// Onion is the configuration of an onion service (Config.Onion).
type Onion struct {
	Control  string       // Tor's control port, host:port
	Password string       // control-port password; "" for cookie or none
	KeyPath  string       // where the service key is kept; "" keeps none (a new address each start)
	Listen   ma.Multiaddr // the configured TCP listen address to publish (/ip4|/ip6/<ip>/tcp/<port>)
}

// publishOnion publishes the host's TCP listener on listen (the
// configured address, maybe with port 0) as an onion service through
// Tor's control port, with the virtual port equal to the listener's
// port. It returns the /onion3 address and the control connection, whose
// closing removes the service.
func publishOnion(ctx context.Context, o Onion, h host.Host, listen ma.Multiaddr) (ma.Multiaddr, *torControl, error) {
	target, port, err := onionTarget(h, listen)
	if err != nil {
		return nil, nil, err
	}
	key, err := readOnionKey(o.KeyPath)
	if err != nil {
		return nil, nil, err
	}
	ctl, err := dialTorControl(ctx, o.Control, o.Password)
	if err != nil {
		return nil, nil, err
	}
	id, newKey, err := ctl.addOnion(ctx, key, port, target)
	if err != nil {
		ctl.Close()
		return nil, nil, err
	}
	if key == "" && newKey != "" && o.KeyPath != "" {
		if err := atomicfile.Write(o.KeyPath, []byte(newKey+"\n"), atomicfile.Options{}); err != nil {
			ctl.Close()
			return nil, nil, fmt.Errorf("onion key: %w", err)
		}
	}
	addr, err := ma.NewMultiaddr("/onion3/" + id + ":" + strconv.Itoa(port))
	if err != nil {
		ctl.Close()
		return nil, nil, fmt.Errorf("%w: service ID %s: %w", ErrTorControl, id, err)
	}
	return addr, ctl, nil
}

// onionTarget finds the bound address of the TCP listener configured as
// listen and returns where Tor should forward to (loopback for an
// unspecified IP) and its port.
func onionTarget(h host.Host, listen ma.Multiaddr) (string, int, error) {
	want, err := listen.ValueForProtocol(ma.P_TCP)
	if err != nil {
		return "", 0, fmt.Errorf("onion service: %s has no TCP port", listen)
	}
	family := listen[0].Code()
	for _, a := range h.Network().ListenAddresses() {
		if len(a) != 2 || a[0].Code() != family || a[1].Code() != ma.P_TCP {
			continue
		}
		if want != "0" && a[1].Value() != want {
			continue
		}
		if want == "0" && a[0].Value() != listen[0].Value() {
			continue
		}
		port, _ := strconv.Atoi(a[1].Value())
		ip := net.ParseIP(a[0].Value())
		switch {
		case ip == nil:
			continue
		case ip.IsUnspecified() && family == ma.P_IP4:
			ip = net.IPv4(127, 0, 0, 1)
		case ip.IsUnspecified():
			ip = net.IPv6loopback
		}
		return net.JoinHostPort(ip.String(), strconv.Itoa(port)), port, nil
	}
	return "", 0, fmt.Errorf("onion service: no bound listener for %s", listen)
}

// readOnionKey returns the kept key, or "" if there is none yet.
func readOnionKey(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("onion key: %w", err)
	}
	defer f.Close()
	buf := make([]byte, onionKeyMax+1)
	n, _ := f.Read(buf)
	key := strings.TrimSpace(string(buf[:n]))
	if n > onionKeyMax || !strings.HasPrefix(key, "ED25519-V3:") || strings.ContainsAny(key, " \t\r\n") {
		return "", fmt.Errorf("onion key %s is not an ED25519-V3 key as Tor writes it; move it aside for a new address", path)
	}
	return key, nil
}
