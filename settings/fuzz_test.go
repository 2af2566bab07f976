package settings

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzParse checks that no input panics, that every failure is an *Error,
// and that a result accepted by Validate is still accepted by Validate after
// Clone, without Validate changing it.
func FuzzParse(f *testing.F) {
	f.Add(DefaultConfigTOML)
	for _, s := range []string{
		"",
		"net = 5",
		"[[net]]\nx = 1",
		"[net]\npeers = [\"/ip4/1.2.3.4/tcp/5\"]",
		"[net]\ninbound = [\"/ip4/0.0.0.0/tcp/1/p2p/" + pidA + "\"]",
		"[net]\nblacklist = [\"10.0.0.0/8\", \"/ip6/::1/udp/5/p2p/" + pidB + "\", \"x\"]",
		"[net.profiles.tcp]\noutbound_connect_timeout = \"1m30s\"\nchannel_heartbeat_interval = -1",
		"[net.profiles.tor]\nx = 1",
		"network = \"a\"\n[net]\noutbound_connections = 99999999999999999999",
		"net = { profiles = { quic = { channel_handshake_timeout = 9223372036854775807 } } }",
		"rpc_listen = \"[::1]:0\"\nlog_level = \"debug\"",
		"[net\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse error %v (%T) is not an *Error", err, err)
			}
			return
		}
		verr := s.Validate()
		if verr != nil {
			var e *Error
			if !errors.As(verr, &e) || !errors.Is(verr, ErrInvalid) {
				t.Fatalf("Validate error %v (%T) is not an *Error", verr, verr)
			}
			return
		}
		c := s.Clone()
		if err := c.Validate(); err != nil {
			t.Fatalf("Validate passed, then failed on the clone: %v", err)
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Validate passed, then failed: %v", err)
		}
		if !reflect.DeepEqual(s, c) {
			t.Fatalf("Validate modified the settings")
		}
	})
}
