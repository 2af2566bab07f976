package main

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/spf13/cobra"

	dhost "github.com/dnode-p2p/dnode/host"
	"github.com/dnode-p2p/dnode/settings"
)

func newIDCmd() *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "id",
		Short: "Print the peer ID and the node's multiaddrs",
		Long: "Id prints the node's peer ID on the first line, then one multiaddr\n" +
			"<listen address>/p2p/<peer-id> per configured inbound address, exactly\n" +
			"as configured, without starting the node. It creates the identity key\n" +
			"in the datastore if there is none yet.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, err := cf.load()
			if err != nil {
				return err
			}
			id, err := loadIdentity(s, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return printID(cmd.OutOrStdout(), id, s.Net.Inbound)
		},
	}
	cf.register(cmd)
	return cmd
}

// loadIdentity loads or creates the identity key in s.Datastore and returns
// its peer ID; it tells stderr when it created the key.
func loadIdentity(s settings.Settings, stderr io.Writer) (peer.ID, error) {
	// Warnings (a datastore or key open to others, tightened) go to
	// stderr as plain lines.
	warn := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	key, created, err := dhost.LoadOrCreateIdentityLog(s.Datastore, warn)
	if err != nil {
		return "", failure(err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return "", failure(fmt.Errorf("identity: %w", err))
	}
	if created {
		fmt.Fprintf(stderr, "Created a new identity in %s\n", filepath.Join(s.Datastore, dhost.IdentityFile))
	}
	return id, nil
}

// printID writes id on one line, then each of addrs with /p2p/<id> appended
// on a line of its own.
func printID(w io.Writer, id peer.ID, addrs []ma.Multiaddr) error {
	p2p, err := ma.NewComponent("p2p", id.String())
	if err != nil {
		return failure(fmt.Errorf("peer ID %s: %w", id, err))
	}
	if _, err := fmt.Fprintln(w, id); err != nil {
		return failure(err)
	}
	for _, a := range addrs {
		full := append(append(ma.Multiaddr(nil), a...), *p2p)
		if _, err := fmt.Fprintln(w, full); err != nil {
			return failure(err)
		}
	}
	return nil
}
