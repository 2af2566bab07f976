package testnet

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// DeadAddr returns a loopback TCP address with a fresh peer ID on which
// every dial is refused at once, for as long as the test runs: its port
// is held by a socket that is bound but never listens, so no other test
// or process can take the port meanwhile (unlike a port of a listener
// closed again, which another test may be given).
func DeadAddr(t testing.TB) ma.Multiaddr {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", DeadPort(t), id))
}

// DeadPort returns a TCP port of 127.0.0.1 held by a bound socket that does
// not listen, until the test's cleanup: connections to it are refused
// and nothing else can bind it.
func DeadPort(t testing.TB) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	in, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		t.Fatalf("socket name %T", sa)
	}
	return in.Port
}
