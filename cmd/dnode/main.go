// Command dnode runs a dnode P2P network node.
//
// Usage:
//
//	dnode init [--config F] [--datastore D] [--force]
//	dnode run  [--config F] [flags]      (also: dnode [flags])
//	dnode id   [--config F] [flags]
//	dnode seed [--config F] [flags]
//	dnode info|peers|hosts [--rpc URL] [--json] [--config F] [--datastore D] [--rpc-cookie FILE]
//	dnode events [--rpc URL] [--json] [--messages]
//	dnode chat   [--rpc URL] [--json]
//
// init writes the commented default configuration file and creates the
// node's identity; run starts the node and stops it cleanly on SIGINT or
// SIGTERM; id prints the peer ID and the node's full multiaddrs without
// starting it.
//
// run also serves the node's JSON-RPC (package rpc) at rpc_listen
// (default 127.0.0.1:26660; "" disables it), with Prometheus metrics at
// GET /metrics on the same port, bound before the P2P listeners. Every
// request must carry "Authorization: Bearer <token>": the node makes a
// random token at every start and writes it to <datastore>/rpc.cookie
// (mode 0600; removed at a clean stop), or takes DNODE_RPC_TOKEN when set
// (then it writes no cookie). A non-loopback rpc_listen needs
// DNODE_RPC_TOKEN.
//
// info, peers, hosts, events and chat are clients of a running node's RPC
// (--rpc, default the config's rpc_listen, else http://127.0.0.1:26660;
// also host:port). They find the token in --rpc-cookie FILE,
// DNODE_RPC_TOKEN, the cookie `dnode devnet` keeps for the --rpc address,
// or <datastore>/rpc.cookie of the configuration (--config, --datastore,
// as for run): info shows its identity and slots, peers its channels,
// hosts its address book, events follows its network events live, chat
// sends the lines of standard input with dchat and prints incoming
// messages. They print tables, or with --json the raw JSON results (one
// object per line for events and chat). When the node cannot be reached
// they exit with status 1 and "cannot reach dnode RPC at ...".
//
// Without --config, the configuration file is $XDG_CONFIG_HOME/dnode/dnode.toml
// (or ~/.config/dnode/dnode.toml); run and id fall back to the built-in
// defaults when it does not exist. Flags override the file, key by key.
//
// Exit status: 0 on success and clean shutdown, 1 on a runtime failure (a
// listen address that cannot be bound, an existing config file init will
// not overwrite), 2 on bad usage or a configuration error. Configuration
// errors are reported before any socket is opened.
//
// Logs go through go-log (GOLOG_LOG_LEVEL, GOLOG_LOG_FMT, GOLOG_FILE, ...);
// log_level applies only when GOLOG_LOG_LEVEL is unset.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/dnode-p2p/dnode"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // runtime failure
	exitUsage   = 2 // bad usage or configuration
)

func main() {
	// quic-go warns when it cannot enlarge its UDP buffers; harmless here.
	if _, ok := os.LookupEnv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING"); !ok {
		_ = os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	}
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args (without the program name) and returns
// the exit status. The run subcommand stops its node when ctx is cancelled
// or on SIGINT/SIGTERM.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runIO(ctx, args, os.Stdin, stdout, stderr)
}

// runIO is run with standard input stdin (read by chat).
func runIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetIn(stdin)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "dnode: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// Errors not tagged by our commands come from cobra's own parsing:
	// unknown flags and subcommands, bad flag values, extra arguments.
	if cmd == nil {
		cmd = root
	}
	fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	return exitUsage
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	var cf configFlags
	root := &cobra.Command{
		Use:   "dnode",
		Short: "dnode P2P network node",
		Long: "dnode runs a node of the dnode P2P network.\n\n" +
			"Without a subcommand it runs the node, exactly as 'dnode run'.",
		Version:       dnode.Version,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNode(cmd, &cf)
		},
	}
	cf.register(root)
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newInitCmd(), newRunCmd(), newIDCmd(), newSeedCmd(), newDevnetCmd(),
		newInfoCmd(), newPeersCmd(), newHostsCmd(), newSlotsCmd(), newSeedsCmd(), newEventsCmd(), newChatCmd(),
		newPublishCmd(), newRelayCmd(), newVersionCmd(), newWebCmd())
	return root
}

// exitError carries the exit status of an error our commands return.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// configError marks err as a configuration error (exit status 2).
func configError(err error) error { return &exitError{code: exitUsage, err: err} }

// failure marks err as a runtime failure (exit status 1).
func failure(err error) error { return &exitError{code: exitFailure, err: err} }
