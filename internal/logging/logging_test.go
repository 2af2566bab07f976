package logging

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

type kind int

func (k kind) String() string { return "outbound" }

func TestErrorsAndStringersAreStrings(t *testing.T) {
	var buf bytes.Buffer
	f := New(slog.NewJSONHandler(&buf, nil), "node", "a")
	f.Logger("x").Info("m", "err", errors.New("boom"), "session", kind(2))
	out := buf.String()
	for _, want := range []string{`"err":"boom"`, `"session":"outbound"`, `"logger":"dnode/x"`, `"node":"a"`} {
		if !strings.Contains(out, want) {
			t.Errorf("%s lacks %s", out, want)
		}
	}
}
