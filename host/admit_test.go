package host

import (
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
)

func TestAdmit(t *testing.T) {
	t.Parallel()
	in, out := network.DirInbound, network.DirOutbound
	for _, tc := range []struct {
		name string
		a    Admission
		want error
	}{
		{"inbound", Admission{Dir: in}, nil},
		{"outbound", Admission{Dir: out}, nil},
		{"blacklisted inbound", Admission{Dir: in, Blacklisted: true}, ErrBlacklisted},
		{"blacklisted outbound", Admission{Dir: out, Blacklisted: true}, ErrBlacklisted},
		{"banned inbound", Admission{Dir: in, Banned: true}, ErrBanned},
		{"banned outbound", Admission{Dir: out, Banned: true}, ErrBanned},
		{"blacklist before ban", Admission{Dir: in, Blacklisted: true, Banned: true}, ErrBlacklisted},
		{"ban before cap", Admission{Dir: in, Banned: true, InboundFull: true}, ErrBanned},
		{"inbound at the cap", Admission{Dir: in, InboundFull: true}, ErrInboundFull},
		{"outbound ignores the inbound cap", Admission{Dir: out, InboundFull: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Admit(tc.a)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Admit = %v, want %v", err, tc.want)
			}
		})
	}
}
