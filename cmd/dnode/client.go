package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dnode-p2p/dnode/rpc"
)

// defaultRPC is the RPC endpoint the client subcommands use by default
// (the default rpc_listen).
const defaultRPC = "http://127.0.0.1:26660"

// tokenEnv names the environment variable holding the RPC token, for the
// node (dnode run) and its clients alike.
const tokenEnv = "DNODE_RPC_TOKEN"

// callTimeout bounds one call of info, peers and hosts.
const callTimeout = 10 * time.Second

// clientFlags are the flags of the subcommands that talk to a running
// node's RPC.
type clientFlags struct {
	endpoint string
	json     bool
}

func (f *clientFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.endpoint, "rpc", defaultRPC, "RPC endpoint of the running node: http://host:port or host:port")
	fs.BoolVar(&f.json, "json", false, "print raw JSON results (one object per line for streams), for scripts")
}

// client returns the RPC client for the flags; a bad --rpc is a usage
// error.
func (f *clientFlags) client() (*rpc.Client, error) {
	c, err := rpc.NewClient(f.endpoint, os.Getenv(tokenEnv))
	if err != nil {
		return nil, configError(fmt.Errorf("--rpc: %w", err))
	}
	return c, nil
}

// call makes one call with callTimeout and explains failures.
func call(ctx context.Context, c *rpc.Client, method string, result any, params ...any) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return clientError(c, c.Call(ctx, method, result, params...))
}

// clientError turns a client error into the command's error (exit
// status 1) with a message for people.
func clientError(c *rpc.Client, err error) error {
	var rerr *rpc.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rpc.ErrUnreachable):
		return failure(fmt.Errorf("cannot reach dnode RPC at %s: is the node running? (%v)", c.Endpoint(), rootCause(err)))
	case errors.Is(err, rpc.ErrUnauthorized):
		return failure(fmt.Errorf("dnode RPC at %s refused the request: set %s to the node's RPC token", c.Endpoint(), tokenEnv))
	case errors.As(err, &rerr):
		return failure(fmt.Errorf("dnode RPC: %s", rerr.Message))
	}
	return failure(err)
}

// rootCause returns the innermost error of a chain, for short messages.
func rootCause(err error) error {
	for {
		var next error
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			next = u.Unwrap()
		case interface{ Unwrap() []error }:
			if errs := u.Unwrap(); len(errs) > 0 {
				next = errs[len(errs)-1]
			}
		}
		if next == nil {
			return err
		}
		err = next
	}
}

// printJSON writes v as one line of JSON.
func printJSON(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return failure(err)
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}

// formatAge formats how long ago unix time t was, as "3m12s".
func formatAge(now time.Time, t int64) string {
	if t <= 0 {
		return "-"
	}
	d := now.Sub(time.Unix(t, 0))
	if d < 0 {
		d = 0
	}
	if d < 24*time.Hour {
		return d.Truncate(time.Second).String()
	}
	days := int(d / (24 * time.Hour))
	return fmt.Sprintf("%dd%s", days, (d % (24 * time.Hour)).Truncate(time.Hour))
}

// formatRTT formats a round trip in milliseconds.
func formatRTT(ms float64) string {
	if ms <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f ms", ms)
}

// dash returns s, or "-" when it is empty.
func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
