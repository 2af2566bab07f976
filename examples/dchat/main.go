// Command dchat is a tiny peer-to-peer chat built on dnode, the Go
// version of DarkFi's dchat tutorial: every line typed on stdin is sent
// to the network, and every message received is printed as
//
//	<time> <sender>: <text>
//
// Run two of them on one machine, the second naming the first as a peer
// (the first prints its address when it starts):
//
//	dchat --datastore /tmp/a --accept /ip4/127.0.0.1/tcp/7001
//	dchat --datastore /tmp/b --accept /ip4/127.0.0.1/tcp/7002 --peers /ip4/127.0.0.1/tcp/7001/p2p/<id of a>
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/dchat"
	"github.com/dnode-p2p/dnode/settings"
)

// Dchat holds everything the application needs: the P2P node and the
// chat protocol running on it (DarkFi's `struct Dchat { p2p }`).
type Dchat struct {
	node *dnode.Node
	chat *dchat.Chat
	out  io.Writer // where received messages are printed
}

// newDchat reads the flags into dnode settings, creates the node and
// registers the chat protocol on it. Nothing runs yet.
func newDchat(args []string, out io.Writer) (*Dchat, error) {
	fs := flag.NewFlagSet("dchat", flag.ContinueOnError)
	config := fs.String("config", "", "optional TOML configuration file (see settings/default.toml)")
	// Each flag overrides one key of the configuration (settings.Set).
	flags := []struct{ name, key, def, usage string }{
		{"peers", "net.peers", "", "manual peers: comma-separated multiaddrs ending in /p2p/<peer-id>"},
		{"seeds", "net.seeds", "", "seed nodes: comma-separated multiaddrs ending in /p2p/<peer-id>"},
		{"accept", "net.inbound", "", "listen multiaddrs, e.g. /ip4/0.0.0.0/tcp/7001"},
		{"network", "network", "dchat", "network id: only nodes of the same network talk; with --config, the file's unless given"},
		{"datastore", "datastore", "", "directory of the identity key and hostlist"},
	}
	for _, f := range flags {
		fs.String(f.name, f.def, f.usage+" (config: "+f.key+")")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}

	// Step 1: the settings. Start from the defaults or the config file,
	// then apply the flags that were given. --network is "dchat" unless
	// a config file is used.
	s := settings.Default()
	if *config != "" {
		var err error
		if s, err = settings.Load(*config); err != nil {
			return nil, err
		}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, f := range flags {
		if given[f.name] || (f.name == "network" && *config == "") {
			if err := s.Set(f.key, fs.Lookup(f.name).Value.String()); err != nil {
				return nil, err
			}
		}
	}
	s.AppName = "dchat" // peers must run the same application

	// Step 2: the node. Its own logs go to stderr, warnings only, so that
	// they do not drown the chat.
	node, err := dnode.New(s, dnode.WithLogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return nil, err
	}

	// Step 3: the chat protocol. It must be registered before the node
	// starts, exactly like any protocol of your own would be.
	chat, err := dchat.New(node, dchat.Config{})
	if err != nil {
		return nil, err
	}
	return &Dchat{node: node, chat: chat, out: out}, nil
}

// start starts the P2P network: listeners, manual peers, seeds, outbound
// slots.
func (d *Dchat) start(ctx context.Context) error {
	log.Print("Starting P2P network")
	if err := d.node.Start(ctx); err != nil {
		return err
	}
	for _, a := range d.node.Addrs() {
		log.Printf("Listening on %s", a)
	}
	log.Print("Type a line and press enter to send it")
	return nil
}

// run sends each line read from in and prints each message received,
// until ctx is done. End of input only stops sending: the node keeps
// relaying until it is asked to stop.
func (d *Dchat) run(ctx context.Context, in io.Reader) {
	sub := d.chat.Subscribe(0) // received messages, never our own
	defer sub.Close()

	lines := make(chan string)
	go func() { // the reader goroutine ends at end of input
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()

	for {
		select {
		case line := <-lines:
			if line == "" {
				continue
			}
			if _, err := d.chat.Send(line); err != nil {
				log.Printf("not sent: %v", err)
			}
		case m := <-sub.C():
			fmt.Fprintf(d.out, "%s %s: %s\n", m.Time.Format("15:04:05"), short(m.Sender.String()), m.Text)
		case <-ctx.Done():
			return
		}
	}
}

// stop stops the P2P network: channels are closed and the hostlist saved.
func (d *Dchat) stop() {
	log.Print("Stopping P2P network")
	if err := d.node.Stop(); err != nil {
		log.Printf("stopped with errors: %v", err)
	}
}

// short returns the last 8 characters of a peer ID, enough to tell the
// people in a chat apart.
func short(id string) string { return id[max(0, len(id)-8):] }

func main() {
	d, err := newDchat(os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return // -h: the usage was printed
	} else if err != nil {
		log.Fatal(err)
	}
	// Run until SIGINT (Ctrl-C) or SIGTERM.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := d.start(ctx); err != nil {
		log.Fatal(err)
	}
	d.run(ctx, os.Stdin)
	log.Print("Caught termination signal, cleaning up and exiting...")
	d.stop()
}
