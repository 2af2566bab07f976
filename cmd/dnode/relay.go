package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dnode-p2p/dnode/relay"
	"github.com/dnode-p2p/dnode/rpc"
)

// maxPublishFile bounds what `dnode publish --file` reads (the relay's
// own limit is relay.max_message_size, 1 MiB by default; the node says
// when a message is over it).
const maxPublishFile = 256 << 20

func newPublishCmd() *cobra.Command {
	var f clientFlags
	var topic, file string
	cmd := &cobra.Command{
		Use:   "publish [TEXT]",
		Short: "Publish a message to the whole network through a running node's relay",
		Long: "Publish sends TEXT, or the contents of --file, as one relay message of\n" +
			"--topic (relay.publish over the node's RPC) and prints its id.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if topic == "" {
				return configError(fmt.Errorf("--topic is required"))
			}
			var data []byte
			switch {
			case file != "" && len(args) > 0:
				return configError(fmt.Errorf("give TEXT or --file, not both"))
			case file != "":
				var err error
				if data, err = readLimited(file, maxPublishFile); err != nil {
					return configError(fmt.Errorf("--file: %w", err))
				}
			case len(args) == 1:
				data = []byte(args[0])
			default:
				return configError(fmt.Errorf("give the message as TEXT or --file"))
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			var res rpc.Published
			if err := f.call(cmd.Context(), c, "relay.publish", &res, topic, base64.StdEncoding.EncodeToString(data)); err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.ID)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&topic, "topic", "", "the topic to publish on (required)")
	cmd.Flags().StringVar(&file, "file", "", "publish this file's contents instead of TEXT")
	return cmd
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

func newRelayCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "relay",
		Short: "Look into a running node's relay",
		Args:  cobra.NoArgs,
	}
	var f clientFlags
	stats := &cobra.Command{
		Use:   "stats",
		Short: "Show a running node's relay counters",
		Long: "Stats asks a running node for its relay counters (relay.get_stats):\n" +
			"messages published and received, duplicates, bytes, tree links, the\n" +
			"history, and drops by reason.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			var st relay.Stats
			if err := f.call(cmd.Context(), c, "relay.get_stats", &st); err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), st)
			}
			return printRelayStats(cmd.OutOrStdout(), st)
		},
	}
	f.register(stats)
	cmd.AddCommand(stats)
	return cmd
}

func printRelayStats(w io.Writer, st relay.Stats) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	row("Published", st.Published)
	row("Received", st.Received)
	row("Duplicates", st.Duplicates)
	row("Bytes sent", st.BytesSent)
	row("Bytes received", st.BytesReceived)
	row("Links", st.Links)
	row("Trees", st.Trees)
	row("Tree links", fmt.Sprintf("%d eager, %d lazy", st.Eager, st.Lazy))
	row("History", fmt.Sprintf("%d messages, %d bytes", st.History, st.HistoryBytes))
	row("Pending fetches", st.Pending)
	row("Grafts / prunes / moves", fmt.Sprintf("%d / %d / %d", st.Grafts, st.Prunes, st.Optimized))
	row("Announced / fetched", fmt.Sprintf("%d / %d", st.Announced, st.Fetches))
	row("Caught up", st.CaughtUp)
	reasons := make([]string, 0, len(st.Dropped))
	for r := range st.Dropped {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	total := uint64(0)
	for _, r := range reasons {
		total += st.Dropped[r]
	}
	row("Dropped", total)
	for _, r := range reasons {
		if st.Dropped[r] > 0 {
			row("  "+r, st.Dropped[r])
		}
	}
	return tw.Flush()
}
