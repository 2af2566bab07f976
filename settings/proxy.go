package settings

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"

	ma "github.com/multiformats/go-multiaddr"
)

// ProxyURL parses net.proxy. It returns nil and no error when no proxy is
// set. The URL is socks5://[user[:password]@]host:port with nothing after
// the port.
func (n *Net) ProxyURL() (*url.URL, error) {
	if n.Proxy == "" {
		return nil, nil
	}
	u, err := url.Parse(n.Proxy)
	if err != nil {
		return nil, errors.New("not a URL; want socks5://host:port")
	}
	switch {
	case u.Scheme != "socks5":
		return nil, fmt.Errorf("scheme %s is not supported; want socks5://host:port", quote(u.Scheme))
	case u.Opaque != "" || u.Host == "":
		return nil, errors.New("no host; want socks5://host:port")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("want socks5://host:port with no path, query or fragment")
	}
	if u.Port() == "" {
		return nil, errors.New("no port; want socks5://host:port (Tor's is 9050)")
	}
	if p, err := strconv.ParseUint(u.Port(), 10, 16); err != nil || p == 0 {
		return nil, fmt.Errorf("port %s is not a number in 1..65535", quote(u.Port()))
	}
	if u.Hostname() == "" {
		return nil, errors.New("no host; want socks5://host:port")
	}
	if pw, _ := u.User.Password(); len(u.User.Username()) > 255 || len(pw) > 255 {
		return nil, errors.New("user name and password are at most 255 bytes each (RFC 1929)")
	}
	return u, nil
}

// validateProxy checks net.proxy, net.tor_control and the listener an
// onion service needs.
func (n *Net) validateProxy() error {
	if _, err := n.ProxyURL(); err != nil {
		return errf("net.proxy", "%s: %s", quote(n.Proxy), err)
	}
	if n.TorControl == "" {
		return nil // tor_control_password alone is unused, not wrong
	}
	host, port, err := net.SplitHostPort(n.TorControl)
	if err != nil || host == "" {
		return errf("net.tor_control", "%s: want host:port, e.g. \"127.0.0.1:9051\"", quote(n.TorControl))
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return errf("net.tor_control", "%s: port %s is not a number in 1..65535", quote(n.TorControl), quote(port))
	}
	if OnionTarget(n.Inbound) == nil {
		return errf("net.tor_control", "an onion service needs a plain TCP listener in net.inbound (e.g. /ip4/127.0.0.1/tcp/26661)")
	}
	return nil
}

// OnionTarget returns the first plain TCP listen address of inbound (an
// /ip4 or /ip6 host and a /tcp port, nothing after), the listener an onion
// service forwards to, or nil if there is none.
func OnionTarget(inbound []ma.Multiaddr) ma.Multiaddr {
	for _, a := range inbound {
		if len(a) == 2 && (a[0].Code() == ma.P_IP4 || a[0].Code() == ma.P_IP6) && a[1].Code() == ma.P_TCP {
			return a
		}
	}
	return nil
}
