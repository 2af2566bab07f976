package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/dchat"
	"github.com/dnode-p2p/dnode/internal/chatrpc"
	"github.com/dnode-p2p/dnode/internal/devnet"
	"github.com/dnode-p2p/dnode/internal/logging"
	"github.com/dnode-p2p/dnode/internal/nodeinternal"
	"github.com/dnode-p2p/dnode/metrics"
	"github.com/dnode-p2p/dnode/rpc"
)

// devnetTimeout bounds how long the demo waits for slots and delivery.
const devnetTimeout = 60 * time.Second

func newDevnetCmd() *cobra.Command {
	var nodes int
	var once bool
	var web string
	cmd := &cobra.Command{
		Use:   "devnet",
		Short: "Run a seed and N nodes on loopback and show a network forming",
		Long: "Devnet starts, in this one process, a seed and N nodes on 127.0.0.1 with\n" +
			"localnet and short timers, shows their outbound slots filling, sends one\n" +
			"dchat message from node1 and shows it reaching every other node, prints\n" +
			"each node's RPC address (try `dnode info --rpc <addr>`), and keeps\n" +
			"running until Ctrl-C. With --once it exits after the demo: status 0 if\n" +
			"every node filled its slots and the message reached every node.\n\n" +
			"It also serves a web page of the whole devnet (its nodes and channels as\n" +
			"a graph, updating live) on --web, and prints the link, which carries the\n" +
			"page's token; --web \"\" turns it off.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nodes < 2 || nodes > 64 {
				return configError(fmt.Errorf("--nodes: %d is out of range 2..64", nodes))
			}
			return runDevnet(cmd, nodes, once, web)
		},
	}
	cmd.Flags().IntVarP(&nodes, "nodes", "n", 8, "number of nodes besides the seed (2..64)")
	cmd.Flags().BoolVar(&once, "once", false, "exit after the demo with status 0 on success")
	cmd.Flags().StringVar(&web, "web", "127.0.0.1:0", "loopback host:port of the devnet's web page (\"\": none)")
	return cmd
}

func runDevnet(cmd *cobra.Command, nodes int, once bool, web string) error {
	out := cmd.OutOrStdout()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Each node's RPC has its own token, in a cookie in the node's
	// datastore and in a copy named by its address in cookieDir, where
	// the client commands given only --rpc find it.
	cookieDir, err := devnetCookieDir()
	if err != nil {
		return failure(fmt.Errorf("devnet: no directory for the RPC cookies: %w", err))
	}
	var nodeLinks []string // each node's web view link, with its token
	startRPC := func(n *dnode.Node, chat *dchat.Chat) (string, func(), error) {
		token, err := rpc.NewToken()
		if err != nil {
			return "", nil, err
		}
		reg := metrics.NewRegistry()
		m := metrics.New(reg, n)
		_ = m // registered gauges read the node at scrape time
		metrics.RegisterRelay(reg, chat.Relay())
		srv, err := rpc.New(rpc.Config{
			Node:      n,
			Chat:      chatrpc.Adapt(chat),
			Relay:     chat.Relay(),
			Listen:    "127.0.0.1:0",
			AuthToken: token,
			Metrics:   metrics.Handler(reg),
			Logger:    logging.Discard().Logger("rpc"),
		})
		if err != nil {
			return "", nil, err
		}
		if err := srv.Start(ctx); err != nil {
			return "", nil, err
		}
		copyPath, err := devnetCookiePath(cookieDir, srv.Addr())
		if err != nil {
			_ = srv.Close()
			return "", nil, err
		}
		cookie, err := writeNodeCookie(token, rpc.CookiePath(nodeinternal.Settings(n).Datastore), copyPath)
		if err != nil {
			_ = srv.Close()
			return "", nil, err
		}
		link, err := webURL("http://"+srv.Addr(), token)
		if err != nil {
			_ = srv.Close()
			cookie.remove()
			return "", nil, err
		}
		nodeLinks = append(nodeLinks, link)
		return srv.Addr(), func() { _ = srv.Close(); cookie.remove() }, nil
	}
	fmt.Fprintf(out, "starting a seed and %d nodes on 127.0.0.1 (network %q)\n", nodes, devnet.Network)
	d, err := devnet.Start(ctx, devnet.Config{Nodes: nodes, Out: out, StartRPC: startRPC})
	if err != nil {
		return failure(fmt.Errorf("devnet: %w", err))
	}
	defer d.Close()
	if web != "" {
		w, link, err := startDevnetWeb(ctx, d, web, nodeLinks)
		if err != nil {
			return failure(err)
		}
		defer w.Close()
		fmt.Fprintf(out, "web view of the devnet: %s\n", link)
	}

	demo := func() error {
		wctx, cancel := context.WithTimeout(ctx, devnetTimeout)
		defer cancel()
		took, err := d.WaitSlots(wctx, 500*time.Millisecond)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "every node filled its outbound slots in %s\n", took.Round(time.Millisecond))
		took, err = d.Demo(wctx, "hello from node1")
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "the message reached all %d other nodes in %s\n", nodes-1, took.Round(time.Microsecond))
		return nil
	}
	err = demo()
	switch {
	case err != nil && ctx.Err() != nil:
		return nil // interrupted
	case err != nil:
		fmt.Fprintf(out, "demo failed: %v\n", err)
		if once {
			return failure(err)
		}
	}
	if once {
		return nil
	}
	fmt.Fprintf(out, "\nthe network keeps running; its RPC cookies are in %s (the commands below find them);\n", cookieDir)
	fmt.Fprintln(out, "try, in another terminal:")
	fmt.Fprintf(out, "  dnode info --rpc %s\n  dnode peers --rpc %s\n  dnode events --rpc %s\n  dnode chat --rpc %s\n",
		d.RPCAddrs[0], d.RPCAddrs[0], d.RPCAddrs[0], d.RPCAddrs[1])
	fmt.Fprintf(out, "  dnode web --rpc %s     # a link to node1's own web view\n", d.RPCAddrs[0])
	fmt.Fprintln(out, "press Ctrl-C to stop")
	<-ctx.Done()
	fmt.Fprintln(out, "stopping the devnet")
	if err := d.Close(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return failure(err)
	}
	return nil
}

// startDevnetWeb serves the devnet's web page on listen with a new token
// and returns it with its link; nodeLinks are the nodes' own pages.
func startDevnetWeb(ctx context.Context, d *devnet.Devnet, listen string, nodeLinks []string) (*devnet.Web, string, error) {
	token, err := rpc.NewToken()
	if err != nil {
		return nil, "", err
	}
	w, err := d.ServeWeb(ctx, devnet.WebConfig{
		Listen: listen,
		Token:  token,
		NodeURL: func(i int) string {
			if i < len(nodeLinks) {
				return nodeLinks[i]
			}
			return ""
		},
	})
	if err != nil {
		return nil, "", fmt.Errorf("--web: %w", err)
	}
	link, err := webURL("http://"+w.Addr(), token)
	if err != nil {
		_ = w.Close()
		return nil, "", err
	}
	return w, link, nil
}
