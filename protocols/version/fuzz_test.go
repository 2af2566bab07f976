package version

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"golang.org/x/mod/semver"

	"github.com/dnode-p2p/dnode/channel"
	"github.com/dnode-p2p/dnode/protocols/pb"
)

// handshakeStream is the handshake stream of a fuzzed peer: what we
// read is the peer's bytes, what we write is kept.
type handshakeStream struct {
	network.Stream // nil: any other method panics
	in             io.Reader
	out            bytes.Buffer
}

func (s *handshakeStream) Read(p []byte) (int, error)      { return s.in.Read(p) }
func (s *handshakeStream) Write(p []byte) (int, error)     { return s.out.Write(p) }
func (s *handshakeStream) SetDeadline(time.Time) error     { return nil }
func (s *handshakeStream) Reset() error                    { return nil }
func (s *handshakeStream) Close() error                    { return nil }
func (s *handshakeStream) CloseWrite() error               { return nil }
func (s *handshakeStream) SetReadDeadline(time.Time) error { return nil }

var fuzzLocal = Local{AppName: "dnode", AppVersion: "0.3.1", Protocols: []string{"/dnode/fuzz/ping/1.0.0"}}

// FuzzHandshake runs Exchange against a peer whose bytes (its Version
// frame, then its Verack frame, and whatever follows) are the input. On
// any input it must not panic and must end with one of: the peer's
// Version, only when the peer's lists are within their caps, its Verack
// names the same app and version, and Compatible accepts it; or an error
// wrapping channel.ErrViolation (bad frames, long lists, a contradicting
// verack), ErrIncompatible, or io.EOF (the peer hung up between frames).
// Our own Version and Verack are always written first, whole.
func FuzzHandshake(f *testing.F) {
	frames := func(v *pb.Version, a *pb.Verack) []byte {
		var b bytes.Buffer
		_ = channel.WriteFrame(&b, v, MaxVersionBytes)
		_ = channel.WriteFrame(&b, a, MaxVerackBytes)
		return b.Bytes()
	}
	ok := &pb.Version{AppName: "dnode", AppVersion: "0.3.7", Timestamp: 1, Protocols: []string{"/dnode/fuzz/ping/1.0.0"},
		ExternalAddrs: [][]byte{{0x04, 127, 0, 0, 1}}, ObservedAddr: []byte{0x04, 127, 0, 0, 1}}
	f.Add(frames(ok, &pb.Verack{AppName: "dnode", AppVersion: "0.3.7"}))
	f.Add(frames(ok, &pb.Verack{AppName: "dnode", AppVersion: "0.3.8"}))        // contradicts the version
	f.Add(frames(ok, &pb.Verack{AppName: "dnode", AppVersion: "0.4.0"}))        // incompatible
	f.Add(frames(ok, &pb.Verack{AppName: "dchat", AppVersion: "0.3.7"}))        // another app
	f.Add(frames(ok, &pb.Verack{AppName: "dnode", AppVersion: "0.3.7-rc.1+b"})) // prerelease and build
	f.Add(frames(&pb.Version{Protocols: make([]string, MaxProtocols+1)}, &pb.Verack{}))
	f.Add(frames(ok, &pb.Verack{AppName: "dnode", AppVersion: "0.3.7"})[:20]) // truncated
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		s := &handshakeStream{in: bytes.NewReader(in)}
		v, err := Exchange(context.Background(), s, s, fuzzLocal, nil, time.Second, time.Unix(1e9, 0))
		// What we wrote is our Version then (if theirs was read) our
		// Verack, each a whole frame.
		var ours pb.Version
		if rerr := channel.ReadFrame(&s.out, &ours, MaxVersionBytes); rerr != nil || ours.AppName != fuzzLocal.AppName {
			t.Fatalf("our version was not written whole: %v", rerr)
		}
		if err != nil {
			switch {
			case errors.Is(err, channel.ErrViolation), errors.Is(err, ErrIncompatible), errors.Is(err, io.EOF):
			default:
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		switch {
		case len(v.ExternalAddrs) > MaxExternalAddrs || len(v.Protocols) > MaxProtocols:
			t.Fatalf("accepted a version with %d addresses, %d protocols", len(v.ExternalAddrs), len(v.Protocols))
		case Compatible(fuzzLocal.AppName, fuzzLocal.AppVersion, v.AppName, v.AppVersion) != nil:
			t.Fatalf("accepted an incompatible version %q %q", v.AppName, v.AppVersion)
		}
		var ack pb.Verack
		if rerr := channel.ReadFrame(&s.out, &ack, MaxVerackBytes); rerr != nil || ack.AppVersion != fuzzLocal.AppVersion {
			t.Fatalf("our verack was not written whole: %v", rerr)
		}
	})
}

// FuzzCompatible checks Compatible's rules on any pair of versions: it
// never panics; every refusal wraps ErrIncompatible; it accepts exactly
// equal app names with semver MAJOR.MINOR.PATCH versions (optional
// -prerelease and +build) of the same MAJOR.MINOR; and it is symmetric
// for valid versions and reflexive.
func FuzzCompatible(f *testing.F) {
	f.Add("dnode", "0.1.0", "dnode", "0.1.9")
	f.Add("dnode", "1.2.3", "dnode", "1.2.0-rc.1+build.5")
	f.Add("dnode", "1.2.3", "dnode", "1.3.0")
	f.Add("dnode", "0.1.0", "dnode", "0.1")
	f.Add("dnode", "0.1.0", "dnode", "v0.1.0")
	f.Add("dnode", "0.1.0", "dnode", "00.1.0")
	f.Add("dnode", "0.1.0", "dnode", "0.1.0-")
	f.Add("dnode", "0.1.0", "dnod", "0.1.0")
	f.Add("", "0.1.0", "", "0.1.0+")
	f.Fuzz(func(t *testing.T, ourName, ourVer, theirName, theirVer string) {
		err := Compatible(ourName, ourVer, theirName, theirVer)
		if err != nil && !errors.Is(err, ErrIncompatible) {
			t.Fatalf("error %v does not wrap ErrIncompatible", err)
		}
		want := ourName == theirName && ValidSemver(theirVer) &&
			semver.MajorMinor("v"+theirVer) == semver.MajorMinor("v"+ourVer)
		if (err == nil) != want {
			t.Fatalf("Compatible(%q %q, %q %q) = %v, want ok=%v", ourName, ourVer, theirName, theirVer, err, want)
		}
		if err == nil {
			// An accepted version is MAJOR.MINOR.PATCH in digits, no v.
			core, _, _ := strings.Cut(strings.SplitN(theirVer, "+", 2)[0], "-")
			if strings.Count(core, ".") != 2 || strings.Trim(core, "0123456789.") != "" || strings.HasPrefix(theirVer, "v") {
				t.Fatalf("accepted %q", theirVer)
			}
		}
		if ValidSemver(ourVer) && ValidSemver(theirVer) {
			if back := Compatible(theirName, theirVer, ourName, ourVer); (back == nil) != (err == nil) {
				t.Fatalf("not symmetric: %v / %v", err, back)
			}
			if Compatible(ourName, ourVer, ourName, ourVer) != nil {
				t.Fatalf("%q %q incompatible with itself", ourName, ourVer)
			}
		}
	})
}
