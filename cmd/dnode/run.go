package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	golog "github.com/ipfs/go-log/v2"
	"github.com/spf13/cobra"

	"github.com/dnode-p2p/dnode"
	"github.com/dnode-p2p/dnode/dchat"
	"github.com/dnode-p2p/dnode/internal/chatrpc"
	"github.com/dnode-p2p/dnode/internal/logging"
	"github.com/dnode-p2p/dnode/metrics"
	"github.com/dnode-p2p/dnode/relay"
	"github.com/dnode-p2p/dnode/rpc"
	"github.com/dnode-p2p/dnode/settings"
)

// logger is the command's own go-log logger.
var logger = golog.Logger("dnode/cmd")

// termLine is logged when the node is asked to stop.
const termLine = "Caught termination signal, cleaning up and exiting..."

func newRunCmd() *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the node until SIGINT or SIGTERM",
		Long: "Run loads the configuration file (or the built-in defaults when no\n" +
			"--config is given and the default file does not exist), applies the\n" +
			"flags, starts the node and stops it cleanly on SIGINT or SIGTERM.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNode(cmd, &cf)
		},
	}
	cf.register(cmd)
	return cmd
}

// appsFor builds the applications the RPC drives on node n, after the
// node is built and before it starts: the relay, configured by the
// [relay] table, and dchat on it. Tests may replace it; a nil result
// leaves dchat.* or relay.* out of the RPC.
var appsFor = func(n *dnode.Node, s settings.Settings) (rpc.Chat, *relay.Relay, error) {
	r, err := relay.New(n, relay.FromSettings(s.Relay), logging.New(nil).Logger("relay"))
	if err != nil {
		return nil, nil, err
	}
	c, err := dchat.New(n, dchat.Config{Relay: r})
	if err != nil {
		return nil, nil, err
	}
	return chatrpc.Adapt(c), r, nil
}

// runNode runs a node until cmd's context is cancelled or the process gets
// SIGINT or SIGTERM. Its RPC server (unless rpc_listen is "") binds before
// the node's P2P listeners and closes before the node stops; its cookie is
// written once the RPC is bound and removed at a clean stop.
func runNode(cmd *cobra.Command, cf *configFlags) error {
	s, source, err := cf.load()
	if err != nil {
		return err
	}
	if err := setLogLevel(s.LogLevel); err != nil {
		return configError(err)
	}
	if source != "" {
		logger.Infow("Loaded configuration", "config", source)
	} else {
		logger.Info("No configuration file, using the built-in defaults")
	}

	reg := metrics.NewRegistry()
	m := metrics.New(reg, nil)
	node, err := dnode.New(s, dnode.WithObserver(m), dnode.WithLibp2pMetrics(reg))
	if err != nil {
		return configError(err)
	}
	m.SetNode(node)
	var (
		chat rpc.Chat
		rl   *relay.Relay
	)
	if appsFor != nil {
		if chat, rl, err = appsFor(node, s); err != nil {
			return configError(fmt.Errorf("apps: %w", err))
		}
		if rl != nil {
			metrics.RegisterRelay(reg, rl)
		}
	}
	// The token: DNODE_RPC_TOKEN when set, else a new random one written
	// to <datastore>/rpc.cookie once the RPC is bound.
	token, fromEnv := os.Getenv(tokenEnv), true
	if token == "" {
		fromEnv = false
		if token, err = rpc.NewToken(); err != nil {
			return failure(fmt.Errorf("rpc token: %w", err))
		}
	}
	var srv *rpc.Server
	if s.RPCListen != "" {
		if !fromEnv && !loopbackListen(s.RPCListen) {
			return configError(fmt.Errorf("config: rpc_listen: refusing to listen on %q without an auth token "+
				"from the environment: the RPC controls the node; bind a loopback address (127.0.0.1, [::1], localhost) "+
				"or set %s (the cookie is for local clients)", s.RPCListen, tokenEnv))
		}
		srv, err = rpc.New(rpc.Config{
			Node:          node,
			Chat:          chat,
			Relay:         rl,
			Listen:        s.RPCListen,
			AuthToken:     token,
			Hosts:         s.RPCHosts,
			MetricsPublic: s.MetricsPublic,
			MaxBatch:      s.RPCMaxBatch,
			MaxResponse:   s.RPCMaxResponseBytes,
			MaxInFlight:   s.RPCMaxInFlight,
			Metrics:       metrics.Handler(reg),
			Logger:        logging.New(nil).Logger("rpc"),
		})
		if err != nil {
			return configError(fmt.Errorf("config: rpc_listen: %w", err))
		}
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The RPC binds first: a clash on rpc_listen fails before any P2P
	// socket is open.
	cookiePath := rpc.CookiePath(s.Datastore)
	var cookie *nodeCookie
	if srv != nil {
		if err := srv.Start(ctx); err != nil {
			if ctx.Err() != nil {
				logger.Info(termLine)
				return nil
			}
			return failure(fmt.Errorf("start: rpc_listen %s: %w", s.RPCListen, err))
		}
		if !fromEnv {
			if cookie, err = writeNodeCookie(token, cookiePath); err != nil {
				closeRPC(srv)
				return failure(fmt.Errorf("start: %w", err))
			}
			logger.Infow("RPC cookie written", "path", cookiePath)
		}
	}
	if cookie == nil {
		// No cookie this run (RPC off, or the token from the environment):
		// a stale one would only mislead clients.
		if err := rpc.RemoveCookie(cookiePath, ""); err != nil {
			logger.Warnw("stale RPC cookie not removed", "path", cookiePath, "err", err)
		}
	}
	if err := node.Start(ctx); err != nil {
		closeRPC(srv)
		cookie.remove()
		if ctx.Err() != nil {
			// Asked to stop before the node was up: nothing to clean.
			logger.Info(termLine)
			return nil
		}
		return failure(fmt.Errorf("start: %w", err))
	}
	defer cookie.remove()

	select {
	case <-ctx.Done():
	case <-node.Done():
		closeRPC(srv)
		return failure(errors.New("node stopped unexpectedly"))
	}
	// Restore the default signal behaviour: a second SIGINT while the node
	// is draining kills the process.
	stop()
	logger.Info(termLine)
	closeRPC(srv)
	_ = node.Stop() // the node logs an unclean stop itself
	return nil
}

// loopbackListen reports whether a host:port names a loopback address.
func loopbackListen(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// closeRPC closes the RPC server, if any.
func closeRPC(srv *rpc.Server) {
	if srv == nil {
		return
	}
	if err := srv.Close(); err != nil {
		logger.Warnw("RPC server closed with errors", "err", err)
	}
}

// setLogLevel sets every go-log logger, and the default level of loggers
// created later, to level, unless GOLOG_LOG_LEVEL (or go-log's older
// IPFS_LOGGING) is set: then the environment, which go-log read at init,
// wins.
func setLogLevel(level string) error {
	if os.Getenv("GOLOG_LOG_LEVEL") != "" || os.Getenv("IPFS_LOGGING") != "" {
		return nil
	}
	lvl, err := golog.LevelFromString(level)
	if err != nil {
		return fmt.Errorf("config: log_level: %w", err)
	}
	// SetAllLoggers alone only changes the loggers that already exist; the
	// node creates its loggers (dnode/node, dnode/sessions, ...) later, at
	// go-log's default level. SetupLogging sets both, under go-log's lock,
	// keeping the output and format go-log chose from the environment.
	cfg := golog.GetConfig()
	cfg.Level = lvl
	golog.SetupLogging(cfg)
	if lvl > golog.LevelDebug {
		// Refinery probes close their connection right after the version
		// handshake, which makes libp2p's identify warn on the other side;
		// that is expected, not worth an operator's attention.
		_ = golog.SetLogLevel("net/identify", "error")
	}
	return nil
}
