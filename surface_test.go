package dnode

import (
	"reflect"
	"slices"
	"testing"
)

// exported returns the names of the exported methods of the type of v.
func exported(v any) []string {
	t := reflect.TypeOf(v)
	names := make([]string, 0, t.NumMethod())
	for i := range t.NumMethod() {
		names = append(names, t.Method(i).Name)
	}
	return names
}

// Node's public surface is what applications use (issue 12): adding a
// method, or moving one between Node and Admin, is a decision made here.
// The machinery is internal/nodeinternal's.
func TestNodeSurface(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want []string
	}{
		{"*Node", (*Node)(nil), []string{
			"Addrs", "Admin", "Ban", "Broadcast", "Channels", "Connect", "Done",
			"Events", "ID", "Info", "Registry", "Start", "Stop", "TagUseful",
		}},
		{"*Admin", (*Admin)(nil), []string{
			"AddPeer", "AddSeed", "BanFor", "RemovePeer", "RemoveSeed", "Seeds",
			"SetInboundLimit", "SetOutboundSlots",
		}},
	} {
		if got := exported(tc.v); !slices.Equal(got, tc.want) {
			t.Errorf("%s's exported methods:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// Admin returns one handle, built by New, whether the node runs or not.
func TestAdminIsOneHandle(t *testing.T) {
	n, err := New(testSettings(t))
	if err != nil {
		t.Fatal(err)
	}
	a := n.Admin()
	if a == nil || n.Admin() != a || a.n != n {
		t.Fatalf("Admin() = %p then %p, want one handle of this node", a, n.Admin())
	}
}
