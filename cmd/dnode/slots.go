package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dnode-p2p/dnode/rpc"
)

// The client subcommands for the settings a running node changes without
// a restart: `dnode slots` (net.outbound_connections,
// net.inbound_connections) and `dnode seeds` (net.seeds).

// clientCmd builds a client subcommand: its RPC flags are registered, and
// run gets the flags and a client of the node.
func clientCmd(cmd *cobra.Command, run func(cmd *cobra.Command, f *clientFlags, c *rpc.Client, args []string) error) *cobra.Command {
	var f clientFlags
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := f.client()
		if err != nil {
			return err
		}
		return run(cmd, &f, c, args)
	}
	f.register(cmd)
	return cmd
}

func newSlotsCmd() *cobra.Command {
	cmd := clientCmd(&cobra.Command{
		Use:   "slots",
		Short: "Show or change a running node's outbound slots and inbound limit",
		Long: "Slots shows a running node's outbound slot count and inbound limit\n" +
			"(net.outbound_connections and net.inbound_connections, as configured or\n" +
			"as last changed). 'slots outbound N' and 'slots inbound N' change them\n" +
			"at once, without a restart; the change lasts until the node exits.",
		Args: cobra.NoArgs,
	}, func(cmd *cobra.Command, f *clientFlags, c *rpc.Client, _ []string) error {
		var info rpc.Info
		if err := f.call(cmd.Context(), c, "p2p.get_info", &info); err != nil {
			return err
		}
		if f.json {
			return printJSON(cmd.OutOrStdout(), rpc.Slots{OutboundConnections: &info.OutboundConnections,
				InboundConnections: &info.InboundConnections})
		}
		return printSlots(cmd.OutOrStdout(), info)
	})
	for _, kind := range []struct{ name, method, key string }{
		{"outbound", "p2p.set_outbound_slots", "net.outbound_connections"},
		{"inbound", "p2p.set_inbound_limit", "net.inbound_connections"},
	} {
		cmd.AddCommand(clientCmd(&cobra.Command{
			Use:   kind.name + " N",
			Short: "Set a running node's " + kind.key + " to N, at once",
			Args:  cobra.ExactArgs(1),
		}, func(cmd *cobra.Command, f *clientFlags, c *rpc.Client, args []string) error {
			n, err := strconv.ParseUint(args[0], 10, 31)
			if err != nil {
				return configError(fmt.Errorf("slot count %q is not a whole number", args[0]))
			}
			var res rpc.Slots
			if err := f.call(cmd.Context(), c, kind.method, &res, n); err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s set to %d\n", kind.key, n)
			return err
		}))
	}
	return cmd
}

// printSlots prints the slot counts of info.
func printSlots(w io.Writer, info rpc.Info) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Outbound slots\t%d (%d filled)\n", info.OutboundConnections, filledSlots(info))
	fmt.Fprintf(tw, "Inbound limit\t%d (%d inbound channels)\n", info.InboundConnections, inboundChannels(info))
	return tw.Flush()
}

// filledSlots counts the outbound slots of info that hold a channel.
func filledSlots(info rpc.Info) int {
	filled := 0
	for _, id := range info.OutboundSlots {
		if id != 0 {
			filled++
		}
	}
	return filled
}

// inboundChannels counts the inbound session's channels of info.
func inboundChannels(info rpc.Info) int {
	n := 0
	for _, ch := range info.Channels {
		if ch.Session == "inbound" {
			n++
		}
	}
	return n
}

func newSeedsCmd() *cobra.Command {
	cmd := clientCmd(&cobra.Command{
		Use:   "seeds",
		Short: "List, add or remove a running node's seeds",
		Long: "Seeds lists a running node's seeds (net.seeds, as configured or as last\n" +
			"changed), one multiaddr a line. 'seeds add ADDR' and 'seeds remove ADDR'\n" +
			"change them at once, without a restart; an added seed is asked for\n" +
			"addresses right away. The change lasts until the node exits.",
		Args: cobra.NoArgs,
	}, func(cmd *cobra.Command, f *clientFlags, c *rpc.Client, _ []string) error {
		var seeds []string
		if err := f.call(cmd.Context(), c, "p2p.get_seeds", &seeds); err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if f.json {
			return printJSON(out, seeds)
		}
		if len(seeds) == 0 {
			_, err := fmt.Fprintln(out, "No seeds.")
			return err
		}
		for _, s := range seeds {
			fmt.Fprintln(out, s)
		}
		return nil
	})
	for _, verb := range []struct{ name, method, short, done string }{
		{"add", "p2p.add_seed", "Add a seed (a multiaddr ending in /p2p/<peer-id>) at once", "Seed added"},
		{"remove", "p2p.remove_seed", "Remove a seed (its /p2p/<peer-id> names it) at once", "Seed removed"},
	} {
		cmd.AddCommand(clientCmd(&cobra.Command{
			Use:   verb.name + " ADDR",
			Short: verb.short,
			Args:  cobra.ExactArgs(1),
		}, func(cmd *cobra.Command, f *clientFlags, c *rpc.Client, args []string) error {
			var res rpc.SeedChange
			if err := f.call(cmd.Context(), c, verb.method, &res, args[0]); err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", verb.done, args[0])
			return err
		}))
	}
	return cmd
}
