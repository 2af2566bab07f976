package version

import (
	"errors"
	"testing"
)

func TestCompatible(t *testing.T) {
	t.Parallel()
	cases := []struct {
		ourName, ourVer, theirName, theirVer string
		ok                                   bool
	}{
		{"dnode", "0.1.0", "dnode", "0.1.0", true},
		{"dnode", "0.1.0", "dnode", "0.1.7", true},         // patch differs
		{"dnode", "1.2.3", "dnode", "1.2.0-rc.1", true},    // prerelease of the same minor
		{"dnode", "1.2.3", "dnode", "1.2.3+build.5", true}, // build metadata
		{"dnode", "0.1.0", "dnode", "0.2.0", false},        // minor differs
		{"dnode", "1.0.0", "dnode", "2.0.0", false},        // major differs
		{"dnode", "0.1.0", "dchat", "0.1.0", false},        // app differs
		{"dnode", "0.1.0", "dnode", "0.1", false},          // not MAJOR.MINOR.PATCH
		{"dnode", "0.1.0", "dnode", "x.y.z", false},
		{"dnode", "0.1.0", "dnode", "", false},
	}
	for _, c := range cases {
		err := Compatible(c.ourName, c.ourVer, c.theirName, c.theirVer)
		if (err == nil) != c.ok {
			t.Errorf("Compatible(%s %s, %s %s) = %v, want ok=%v", c.ourName, c.ourVer, c.theirName, c.theirVer, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrIncompatible) {
			t.Errorf("error %v does not wrap ErrIncompatible", err)
		}
	}
}

func TestID(t *testing.T) {
	t.Parallel()
	if got := ID("dchat"); got != "/dnode/dchat/version/1.0.0" {
		t.Errorf("ID = %s", got)
	}
}
