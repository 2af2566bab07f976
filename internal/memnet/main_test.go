package memnet

import (
	"testing"

	"github.com/dnode-p2p/dnode/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m, leaktest.Options()...) }
