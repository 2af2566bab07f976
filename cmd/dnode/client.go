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
	"github.com/spf13/pflag"

	"github.com/dnode-p2p/dnode/rpc"
	"github.com/dnode-p2p/dnode/settings"
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
	endpoint  string
	json      bool
	config    string
	datastore string
	cookie    string
	flags     *pflag.FlagSet

	tokenFrom string // where the token came from, for error messages
	token     string // the token client found ("" for none)
}

func (f *clientFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	f.flags = fs
	fs.StringVar(&f.endpoint, "rpc", defaultRPC, "RPC endpoint of the running node: http://host:port or host:port "+
		"(default: the config's rpc_listen)")
	fs.BoolVar(&f.json, "json", false, "print raw JSON results (one object per line for streams), for scripts")
	fs.StringVar(&f.config, "config", "", "configuration file of the node, for its datastore and rpc_listen (default "+defaultConfigHelp()+")")
	fs.StringVar(&f.datastore, "datastore", "", "datastore of the node: its RPC cookie is <datastore>/"+rpc.CookieFile)
	fs.StringVar(&f.cookie, "rpc-cookie", "", "file holding the node's RPC token (default <datastore>/"+rpc.CookieFile+")")
}

// client returns the RPC client for the flags, with the node's token (see
// findToken); a bad --rpc or configuration is a usage error.
func (f *clientFlags) client() (*rpc.Client, error) {
	s, err := f.settings()
	if err != nil {
		return nil, err
	}
	endpoint := f.endpoint
	if !f.flags.Changed("rpc") && s.RPCListen != "" {
		endpoint = s.RPCListen
	}
	token, err := f.findToken(endpoint, s)
	if err != nil {
		return nil, err
	}
	c, err := rpc.NewClient(endpoint, token)
	if err != nil {
		return nil, configError(fmt.Errorf("--rpc: %w", err))
	}
	f.token = token
	return c, nil
}

// settings loads the configuration the way the node does (--config, or
// the default file when it exists, else the built-in defaults) with
// --datastore applied; only datastore and rpc_listen are used.
func (f *clientFlags) settings() (settings.Settings, error) {
	path, explicit := f.config, f.flags.Changed("config")
	if explicit && path == "" {
		return settings.Settings{}, configError(errors.New("--config: empty path"))
	}
	if !explicit {
		var err error
		if path, err = defaultConfigPath(); err != nil {
			path = ""
		}
	}
	s, _, err := loadFile(path, explicit)
	if err != nil {
		return s, configError(err)
	}
	if f.flags.Changed("datastore") {
		if err := s.Set("datastore", f.datastore); err != nil {
			return s, configError(fmt.Errorf("--datastore: %w", err))
		}
	}
	return s, nil
}

// findToken returns the node's RPC token, looking in order at
// --rpc-cookie, DNODE_RPC_TOKEN, the cookie `dnode devnet` wrote for this
// endpoint, and <datastore>/rpc.cookie. It returns "" (and records the
// files tried for the error message) when none has one: the node may run
// without a token.
func (f *clientFlags) findToken(endpoint string, s settings.Settings) (string, error) {
	if f.flags.Changed("rpc-cookie") {
		token, err := rpc.ReadCookie(f.cookie)
		if err != nil {
			return "", configError(fmt.Errorf("--rpc-cookie: %w", err))
		}
		f.tokenFrom = "the cookie " + f.cookie
		return token, nil
	}
	if token := os.Getenv(tokenEnv); token != "" {
		f.tokenFrom = tokenEnv
		return token, nil
	}
	var tried []string
	if dir, err := devnetCookieDir(); err == nil {
		if path, err := devnetCookiePath(dir, endpoint); err == nil {
			if token, err := rpc.ReadCookie(path); err == nil {
				f.tokenFrom = "the devnet cookie " + path
				return token, nil
			}
		}
	}
	if s.Datastore != "" {
		path := rpc.CookiePath(s.Datastore)
		token, err := rpc.ReadCookie(path)
		if err == nil {
			f.tokenFrom = "the cookie " + path
			return token, nil
		}
		tried = append(tried, path)
	}
	f.tokenFrom = ""
	if len(tried) > 0 {
		f.tokenFrom = "no token: no cookie at " + strings.Join(tried, ", ")
	}
	return "", nil
}

// call makes one call with callTimeout and explains failures.
func (f *clientFlags) call(ctx context.Context, c *rpc.Client, method string, result any, params ...any) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return f.clientError(c, c.Call(ctx, method, result, params...))
}

// clientError turns a client error into the command's error (exit
// status 1) with a message for people.
func (f *clientFlags) clientError(c *rpc.Client, err error) error {
	var rerr *rpc.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rpc.ErrUnreachable):
		return failure(fmt.Errorf("cannot reach dnode RPC at %s: is the node running? (%v)", c.Endpoint(), rootCause(err)))
	case errors.Is(err, rpc.ErrUnauthorized):
		from := f.tokenFrom
		if from == "" {
			from = "no token"
		} else if !strings.HasPrefix(from, "no token") {
			from = "the token from " + from
		}
		return failure(fmt.Errorf("dnode RPC at %s refused %s: give the node's cookie with --rpc-cookie FILE, "+
			"or its --config or --datastore (the cookie is <datastore>/%s, written at every start), or set %s",
			c.Endpoint(), from, rpc.CookieFile, tokenEnv))
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
