package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/settings"
)

// override maps a command-line flag to the settings key it sets.
type override struct {
	flag  string
	key   string
	kind  string // value type shown in --help; "list" and "bool" are special
	usage string
}

// overrides lists the flags that override configuration keys, in the order
// they are applied (and so the order in which their errors are found).
var overrides = []override{
	{"datastore", "datastore", "dir", "directory of the identity key and hostlist"},
	{"network", "network", "id", "network id"},
	{"accept", "net.inbound", "list", "listen multiaddr, without /p2p/ (repeatable or comma-separated)"},
	{"peers", "net.peers", "list", "manual peer multiaddr ending in /p2p/<peer-id> (repeatable or comma-separated)"},
	{"seeds", "net.seeds", "list", "seed multiaddr ending in /p2p/<peer-id> (repeatable or comma-separated)"},
	{"outbound-slots", "net.outbound_connections", "int", "number of outbound connection slots"},
	{"inbound-slots", "net.inbound_connections", "int", "maximum number of inbound connections"},
	{"localnet", "net.localnet", "bool", "allow private and loopback addresses in the hostlist"},
	{"log-level", "log_level", "level", "log level: debug, info, warn, error, dpanic, panic or fatal"},
	{"rpc-listen", "rpc_listen", "host:port", "JSON-RPC listen address (\"\" disables RPC)"},
	{"proxy", "net.proxy", "url", "SOCKS5 proxy for every outbound dial, e.g. socks5://127.0.0.1:9050 (Tor)"},
}

// configFlags holds --config and the override flags of one command.
type configFlags struct {
	config string
	flags  *pflag.FlagSet
	used   []override // the overrides registered on flags, in order
}

// register adds --config and the override flags to cmd.
func (c *configFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	c.flags = fs
	fs.StringVar(&c.config, "config", "", "configuration file (default "+defaultConfigHelp()+")")
	for _, o := range overrides {
		usage := o.usage + " (config: " + o.key + ")"
		switch o.kind {
		case "bool":
			fs.Bool(o.flag, false, usage)
		case "list":
			fs.Var(&listValue{}, o.flag, usage)
		default:
			fs.Var(&stringValue{typ: o.kind}, o.flag, usage)
		}
		c.used = append(c.used, o)
	}
}

// configPath returns the configuration file to use and whether it was given
// explicitly with --config.
func (c *configFlags) configPath() (path string, explicit bool, err error) {
	if c.flags.Changed("config") {
		if c.config == "" {
			return "", true, errors.New("--config: empty path")
		}
		return c.config, true, nil
	}
	path, err = defaultConfigPath()
	return path, false, err
}

// load reads the configuration (see loadFile), applies the flags that were
// given and validates the result. Every error it returns is a
// configuration error. source is the file read, or "" for the built-in
// defaults.
func (c *configFlags) load() (s settings.Settings, source string, err error) {
	path, explicit, err := c.configPath()
	switch {
	case err != nil && explicit:
		return s, "", configError(err)
	case err != nil:
		path = "" // no default path (no home directory): built-in defaults
	}
	s, source, err = loadFile(path, explicit)
	if err != nil {
		return s, "", configError(err)
	}
	if err := c.apply(&s); err != nil {
		return s, "", configError(err)
	}
	s.AppName = "dnode"
	s.AppVersion = dnode.Version
	if err := s.Validate(); err != nil {
		return s, "", configError(err)
	}
	return s, source, nil
}

// setting is an override flag given on the command line, with its value in
// the form settings.Set takes.
type setting struct {
	override
	value string
}

// given returns the override flags given on the command line, in the order
// of overrides.
func (c *configFlags) given() []setting {
	var out []setting
	for _, o := range c.used {
		if f := c.flags.Lookup(o.flag); f != nil && f.Changed {
			out = append(out, setting{o, f.Value.String()})
		}
	}
	return out
}

// apply sets the keys of the flags given on the command line.
func (c *configFlags) apply(s *settings.Settings) error {
	return applySettings(s, c.given())
}

func applySettings(s *settings.Settings, given []setting) error {
	for _, g := range given {
		if err := s.Set(g.key, g.value); err != nil {
			return fmt.Errorf("--%s: %w", g.flag, err)
		}
	}
	return nil
}

// loadFile loads the settings from path. A missing file that was not given
// explicitly (path == "" included) gives the built-in defaults
// (settings.DefaultConfigTOML) and source "".
func loadFile(path string, explicit bool) (s settings.Settings, source string, err error) {
	if path != "" {
		s, err = settings.Load(path)
		if err == nil {
			return s, path, nil
		}
		if explicit || !errors.Is(err, fs.ErrNotExist) {
			return s, "", err
		}
	}
	s, err = settings.Parse(settings.DefaultConfigTOML)
	return s, "", err
}

// defaultConfigPath returns $XDG_CONFIG_HOME/dnode/dnode.toml when
// XDG_CONFIG_HOME is an absolute path, else ~/.config/dnode/dnode.toml.
func defaultConfigPath() (string, error) {
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "dnode", "dnode.toml"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return "", errors.New("no default configuration file path (home directory unknown): use --config")
	}
	return filepath.Join(home, ".config", "dnode", "dnode.toml"), nil
}

func defaultConfigHelp() string {
	return "$XDG_CONFIG_HOME/dnode/dnode.toml or ~/.config/dnode/dnode.toml"
}

// stringValue is a flag holding the raw string given, so that
// settings.Set does the conversion and names the key on error.
type stringValue struct {
	typ string
	val string
}

func (v *stringValue) String() string     { return v.val }
func (v *stringValue) Set(s string) error { v.val = s; return nil }
func (v *stringValue) Type() string       { return v.typ }

// listValue is a repeatable flag; its String joins the values with commas,
// the list form settings.Set takes.
type listValue struct{ vals []string }

func (v *listValue) String() string     { return strings.Join(v.vals, ",") }
func (v *listValue) Set(s string) error { v.vals = append(v.vals, s); return nil }
func (v *listValue) Type() string       { return "multiaddr" }
