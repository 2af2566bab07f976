package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dnode-p2p/dnode/rpc"
)

func newInfoCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show a running node's identity, addresses, channels and slots",
		Long: "Info asks a running node (p2p.get_info over its RPC) for its peer ID,\n" +
			"network, addresses, channel counts, outbound slots, inbound limit,\n" +
			"number of seeds (the current values: see 'dnode slots' and 'dnode seeds')\n" +
			"and reachability (AutoNAT's verdict, confirmed addresses, whether it is relayed).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			var info rpc.Info
			if err := f.call(cmd.Context(), c, "p2p.get_info", &info); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.json {
				return printJSON(out, info)
			}
			return printInfo(cmd, info)
		},
	}
	f.register(cmd)
	return cmd
}

func printInfo(cmd *cobra.Command, info rpc.Info) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Peer ID\t%s\n", dash(info.PeerID))
	fmt.Fprintf(tw, "Network\t%s\n", info.Network)
	fmt.Fprintf(tw, "App version\t%s\n", info.AppVersion)
	if len(info.Addrs) == 0 {
		fmt.Fprintf(tw, "Addresses\t-\n")
	}
	for i, a := range info.Addrs {
		label := ""
		if i == 0 {
			label = "Addresses"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, a)
	}
	bySession := map[string]int{}
	var order []string
	for _, ch := range info.Channels {
		if bySession[ch.Session] == 0 {
			order = append(order, ch.Session)
		}
		bySession[ch.Session]++
	}
	var parts []string
	for _, s := range order {
		parts = append(parts, fmt.Sprintf("%d %s", bySession[s], s))
	}
	channels := fmt.Sprint(len(info.Channels))
	if len(parts) > 0 {
		channels += " (" + strings.Join(parts, ", ") + ")"
	}
	fmt.Fprintf(tw, "Channels\t%s\n", channels)
	fmt.Fprintf(tw, "Outbound slots\t%d of %d filled\n", filledSlots(info), info.OutboundConnections)
	fmt.Fprintf(tw, "Inbound limit\t%d (%d inbound channels)\n", info.InboundConnections, inboundChannels(info))
	fmt.Fprintf(tw, "Seeds\t%d\n", len(info.Seeds))
	reach := dash(info.Reachability)
	if info.Relayed {
		reach += " (relayed: holds a relay reservation)"
	}
	fmt.Fprintf(tw, "Reachability\t%s\n", reach)
	if len(info.ReachableAddrs) == 0 {
		fmt.Fprintf(tw, "Reachable addresses\t-\n")
	}
	for i, a := range info.ReachableAddrs {
		label := ""
		if i == 0 {
			label = "Reachable addresses"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, a)
	}
	return tw.Flush()
}
