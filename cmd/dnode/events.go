package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/dnode-p2p/dnode/rpc"
)

// eventKeys are the info fields events prints, in this order; others
// follow sorted.
var eventKeys = []string{"slot", "session", "addr", "channel_id", "cmd", "attempt", "state", "count", "err"}

func newEventsCmd() *cobra.Command {
	var (
		f        clientFlags
		messages bool
	)
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Follow a running node's network events live",
		Long: "Events subscribes to a running node's dnet events (dnet.subscribe_events\n" +
			"over the RPC's WebSocket) and prints one line per event until\n" +
			"interrupted: outbound slots connecting and sleeping, inbound\n" +
			"connections, channels, peer discovery, seed syncs.\n\n" +
			"--messages switches the node's per-message events (send, recv) on first\n" +
			"(dnet.switch true); they stay on for every subscriber until\n" +
			"'dnode events --messages=false' switches them off. --json prints each\n" +
			"event as DarkFi's JSON object {\"event\": ..., \"info\": {...}}, one per line.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// An interrupt while connecting ends the command quietly.
			quit := func(err error) error {
				if ctx.Err() != nil {
					return nil
				}
				return f.clientError(c, err)
			}
			conn, err := c.Dial(ctx)
			if err != nil {
				return quit(err)
			}
			defer conn.Close()
			if cmd.Flags().Changed("messages") {
				if err := conn.Call(ctx, "dnet.switch", nil, messages); err != nil {
					return quit(err)
				}
			}
			sub, err := conn.Subscribe(ctx, "dnet.subscribe_events")
			if err != nil {
				return quit(err)
			}
			out := cmd.OutOrStdout()
			for {
				select {
				case <-ctx.Done():
					return nil
				case raw, ok := <-sub.C:
					if !ok {
						if ctx.Err() != nil {
							return nil
						}
						return failure(fmt.Errorf("lost the connection to dnode RPC at %s", c.Endpoint()))
					}
					if err := printEvent(out, raw, f.json); err != nil {
						return failure(err)
					}
				}
			}
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&messages, "messages", false, "switch per-message events (send, recv) on, or off with --messages=false")
	return cmd
}

// printEvent prints one event: raw JSON, or a line "time event k=v ...".
func printEvent(w io.Writer, raw json.RawMessage, asJSON bool) error {
	if asJSON {
		_, err := fmt.Fprintf(w, "%s\n", raw)
		return err
	}
	var e rpc.Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("bad event %s: %w", raw, err)
	}
	at := time.Now()
	if ns, ok := e.Info["time"].(string); ok {
		if n, err := strconv.ParseInt(ns, 10, 64); err == nil {
			at = time.Unix(0, n)
		}
	}
	var b strings.Builder
	b.WriteString(at.Format("15:04:05.000"))
	b.WriteString(" ")
	b.WriteString(e.Event)
	seen := map[string]bool{"time": true, "chan": true}
	for _, k := range eventKeys {
		if v, ok := e.Info[k]; ok {
			fmt.Fprintf(&b, " %s=%s", k, formatValue(v))
		}
		seen[k] = true
	}
	var rest []string
	for k := range e.Info {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		fmt.Fprintf(&b, " %s=%s", k, formatValue(e.Info[k]))
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// formatValue prints a JSON value of an event's info: numbers without
// exponent, strings quoted only when they hold spaces.
func formatValue(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		if x == "" || strings.ContainsAny(x, " \t\"") {
			return strconv.Quote(x)
		}
		return x
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}
