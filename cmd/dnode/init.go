package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/spf13/cobra"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/settings"
)

func newInitCmd() *cobra.Command {
	var (
		cf    configFlags
		force bool
	)
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write the default configuration file and create the identity",
		Long: "Init writes the commented default configuration to the --config file\n" +
			"(default " + defaultConfigHelp() + "),\n" +
			"refusing to replace an existing file unless --force is given. The other\n" +
			"flags given are written into the file. Init then creates the identity\n" +
			"key in the datastore (keeping an existing one) and prints the peer ID,\n" +
			"then one dialable multiaddr per inbound address, with the listen\n" +
			"addresses 0.0.0.0 and :: expanded to this machine's addresses.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return initNode(cmd, &cf, force)
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing configuration file")
	return cmd
}

func initNode(cmd *cobra.Command, cf *configFlags, force bool) error {
	stderr := cmd.ErrOrStderr()
	path, _, err := cf.configPath()
	if err != nil {
		return configError(err)
	}
	// Check the settings, then render them, before writing anything.
	given := cf.given()
	for i, g := range given {
		if g.key == "datastore" {
			// A relative datastore in a file would depend on the
			// directory dnode is started from.
			if given[i].value, err = absPath(g.value); err != nil {
				return configError(fmt.Errorf("--%s: %w", g.flag, err))
			}
		}
	}
	s, err := settings.Parse(settings.DefaultConfigTOML)
	if err != nil {
		return configError(err)
	}
	if err := applySettings(&s, given); err != nil {
		return configError(err)
	}
	s.AppName, s.AppVersion = "dnode", dnode.Version
	if err := s.Validate(); err != nil {
		return configError(err)
	}
	data, err := renderConfig(settings.DefaultConfigTOML, given)
	if err != nil {
		return failure(err)
	}
	if err := sameSettings(data, s); err != nil {
		return failure(err)
	}

	if err := writeConfig(path, data, force); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return failure(fmt.Errorf("configuration file %s already exists; use --force to replace it ('dnode id' prints the identity)", path))
		}
		return failure(err)
	}
	fmt.Fprintf(stderr, "Wrote the configuration to %s\n", path)

	if s, err = settings.Load(path); err != nil {
		return configError(err)
	}
	fmt.Fprintf(stderr, "Datastore: %s\n", s.Datastore)
	id, err := loadIdentity(s, stderr)
	if err != nil {
		return err
	}
	return printID(cmd.OutOrStdout(), id, dialable(s.Net.Inbound, stderr))
}

// absPath makes a datastore path absolute, leaving "~" paths (expanded by
// settings) and "" (refused by Validate) alone.
func absPath(dir string) (string, error) {
	if dir == "" || dir == "~" || strings.HasPrefix(dir, "~/") {
		return dir, nil
	}
	return filepath.Abs(dir)
}

// renderConfig returns the commented configuration data with the given
// settings written in: each replaces the line of its key (commented out or
// not) in its table, or is added to the table if there is no such line.
func renderConfig(data []byte, given []setting) ([]byte, error) {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	for _, g := range given {
		table, leaf := "", g.key
		if rest, ok := strings.CutPrefix(g.key, "net."); ok {
			table, leaf = "net", rest
		}
		v, err := tomlValue(g)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", g.flag, err)
		}
		line, err := toml.Marshal(map[string]any{leaf: v})
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", g.flag, err)
		}
		lines = setLine(lines, table, leaf, line)
	}
	return bytes.Join(lines, nil), nil
}

// tomlValue converts a flag value to the Go value TOML should encode.
func tomlValue(g setting) (any, error) {
	switch g.kind {
	case "list":
		out := []string{}
		for _, part := range strings.Split(g.value, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		return out, nil
	case "int":
		return strconv.ParseInt(g.value, 10, 64)
	case "bool":
		return strconv.ParseBool(g.value)
	default:
		return g.value, nil
	}
}

// setLine replaces the line "key = ..." or "#key = ..." of table ("" for
// the top level) with line, or inserts line at the start of the table
// (after its header), adding the table at the end if it is missing.
func setLine(lines [][]byte, table, key string, line []byte) [][]byte {
	current, header := "", -1
	for i, l := range lines {
		t := bytes.TrimSpace(l)
		if bytes.HasPrefix(t, []byte("[")) {
			current = string(bytes.Trim(t, "[] "))
			if current == table {
				header = i
			}
			continue
		}
		if current != table {
			continue
		}
		t = bytes.TrimPrefix(t, []byte("#"))
		if rest, ok := bytes.CutPrefix(t, []byte(key)); ok && bytes.HasPrefix(bytes.TrimSpace(rest), []byte("=")) {
			lines[i] = line
			return lines
		}
	}
	switch {
	case table == "":
		return append([][]byte{line}, lines...)
	case header >= 0:
		return slices.Insert(lines, header+1, line)
	default:
		return append(lines, []byte("\n["+table+"]\n"), line)
	}
}

// sameSettings checks that data parses to want, i.e. that every flag landed
// where it belongs.
func sameSettings(data []byte, want settings.Settings) error {
	got, err := settings.Parse(data)
	if err != nil {
		return fmt.Errorf("internal error: the configuration to write does not parse: %w", err)
	}
	got.AppName, got.AppVersion = want.AppName, want.AppVersion
	if !reflect.DeepEqual(got, want) {
		return errors.New("internal error: the configuration to write does not hold the flags given")
	}
	return nil
}

// writeConfig writes data to path with mode 0600, creating the directory
// with mode 0700. Without force an existing file is left alone and the
// error wraps fs.ErrExist; with force it is replaced atomically.
func writeConfig(path string, data []byte, force bool) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create config directory: %w", err)
	}
	if !force {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if err := writeSync(f, data); err != nil {
			os.Remove(path)
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
	f, err := os.CreateTemp(dir, ".dnode-config-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	if err := writeSync(f, data); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeSync writes data to f, syncs and closes it, with mode 0600.
func writeSync(f *os.File, data []byte) error {
	err := f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// dialable expands the unspecified IPs of listen addresses (0.0.0.0, ::) to
// this machine's interface addresses, leaving IPv6 link-local addresses out
// (not dialable without a zone). Addresses that cannot be expanded are left
// out, with a note on stderr; if the interfaces cannot be listed, the
// addresses are returned as configured.
func dialable(listen []ma.Multiaddr, stderr io.Writer) []ma.Multiaddr {
	all, err := manet.InterfaceMultiaddrs()
	if err != nil {
		fmt.Fprintf(stderr, "Cannot list network interfaces (%v); showing listen addresses as configured\n", err)
		return listen
	}
	var ifaces []ma.Multiaddr
	for _, a := range all {
		if !manet.IsIP6LinkLocal(a) {
			ifaces = append(ifaces, a)
		}
	}
	var out []ma.Multiaddr
	for _, a := range listen {
		if !manet.IsIPUnspecified(a) {
			out = append(out, a)
			continue
		}
		if len(ifaces) == 0 {
			fmt.Fprintf(stderr, "No interface address to expand %s\n", a)
			continue
		}
		res, err := manet.ResolveUnspecifiedAddresses([]ma.Multiaddr{a}, ifaces)
		if err != nil {
			fmt.Fprintf(stderr, "No interface address to expand %s\n", a)
			continue
		}
		out = append(out, res...)
	}
	return out
}
