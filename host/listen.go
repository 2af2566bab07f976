package host

import (
	"fmt"
	"net"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// checkListen binds and releases each TCP and UDP listen address, so that
// a port in use is reported before libp2p builds a host (which leaks some
// of its goroutines when its listeners fail). Other addresses are left to
// libp2p.
func checkListen(addrs []ma.Multiaddr) error {
	for _, a := range addrs {
		tpt, host, err := manet.DialArgs(a)
		if err != nil {
			continue
		}
		isQUIC := false
		ma.ForEach(a, func(c ma.Component) bool {
			if c.Code() == ma.P_QUIC_V1 || c.Code() == ma.P_WEBTRANSPORT {
				isQUIC = true
			}
			return true
		})
		switch {
		case tpt == "tcp" || tpt == "tcp4" || tpt == "tcp6":
			l, err := net.Listen(tpt, host)
			if err != nil {
				return fmt.Errorf("%w: %s: %w", ErrListen, a, err)
			}
			l.Close()
		case isQUIC:
			c, err := net.ListenPacket(tpt, host)
			if err != nil {
				return fmt.Errorf("%w: %s: %w", ErrListen, a, err)
			}
			c.Close()
		}
	}
	return nil
}
