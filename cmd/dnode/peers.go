package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dnode-p2p/dnode/rpc"
)

func newPeersCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "peers",
		Short: "List a running node's channels",
		Long: "Peers lists the channels of a running node (p2p.get_info over its RPC):\n" +
			"channel id, session, who dialed, peer ID, remote address, uptime and\n" +
			"last ping round trip. --json prints the channels as a JSON array.",
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
				return printJSON(out, info.Channels)
			}
			if len(info.Channels) == 0 {
				_, err := fmt.Fprintln(out, "No channels.")
				return err
			}
			now := time.Now()
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSESSION\tDIRECTION\tPEER\tADDRESS\tUPTIME\tRTT")
			for _, ch := range info.Channels {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", ch.ID, ch.Session, ch.Direction,
					ch.PeerID, dash(ch.Addr), formatAge(now, ch.StartTime), formatRTT(ch.RTTMillis))
			}
			return tw.Flush()
		},
	}
	f.register(cmd)
	return cmd
}
