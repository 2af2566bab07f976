package relay

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/dnode-p2p/dnode/settings"
)

// The library's defaults are the [relay] table's defaults.
func TestDefaultsMatchSettings(t *testing.T) {
	t.Parallel()
	got := FromSettings(settings.DefaultRelay()).withDefaults()
	want := Config{}.withDefaults()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FromSettings(DefaultRelay()) =\n%+v\nwant Config{} with defaults\n%+v", got, want)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cfg Config
		key string
	}{
		{Config{MaxHops: 300}, "relay.max_hops"},
		{Config{MaxMessageSize: -1}, "relay.max_message_size"},
		{Config{Topics: []string{"ok", strings.Repeat("x", 300)}}, "relay.topics[1]"},
		{Config{MeterWindow: -1}, "relay.meter_window"},
	} {
		err := c.cfg.Validate()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.key) {
			t.Errorf("Validate(%+v) = %v, want ErrConfig naming %s", c.cfg, err, c.key)
		}
	}
}
