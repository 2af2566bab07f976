package channel

import "strings"

// Session is a set of session kinds, as DarkFi's bit flags. A channel has
// exactly one kind; protocols register for a set of kinds.
type Session uint32

// The session kinds, with DarkFi's bit values.
const (
	Inbound  Session = 1 << iota // accepted by a listener
	Outbound                     // dialed by an outbound slot
	Manual                       // dialed for a configured peer
	Seed                         // short-lived, to ask a seed for addresses
	Refine                       // short-lived, to verify a greylist host
	Direct                       // on demand, for a protocol that needs a specific peer

	// Default is every long-lived kind: inbound, outbound, manual, direct.
	Default = Inbound | Outbound | Manual | Direct
	// All is every kind.
	All = Inbound | Outbound | Manual | Seed | Refine | Direct
)

var sessionNames = []struct {
	s    Session
	name string
}{
	{Inbound, "inbound"},
	{Outbound, "outbound"},
	{Manual, "manual"},
	{Seed, "seed"},
	{Refine, "refine"},
	{Direct, "direct"},
}

// String returns the kind's name ("inbound", ...), or the names of a set
// joined by "|".
func (s Session) String() string {
	var names []string
	for _, n := range sessionNames {
		if s&n.s != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

// Has reports whether s includes every kind in k.
func (s Session) Has(k Session) bool { return s&k == k && k != 0 }

// Broadcasts reports whether channels of this kind receive broadcasts:
// every kind except seed and refine.
func (s Session) Broadcasts() bool { return s&(Seed|Refine) == 0 }
