package main

import (
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dnode-p2p/dnode/rpc"
)

// hostLists are the address book's lists in the order hosts prints them.
var hostLists = []string{"gold", "white", "grey", "dark", "black"}

func newHostsCmd() *cobra.Command {
	var (
		f    clientFlags
		list string
	)
	cmd := &cobra.Command{
		Use:   "hosts",
		Short: "List a running node's address book",
		Long: "Hosts lists the address book of a running node (p2p.get_hosts over its\n" +
			"RPC): the gold, white, grey, dark and black lists, each address with\n" +
			"when it was last seen. --list shows one list only.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if list != "" && !slices.Contains(hostLists, list) {
				return configError(fmt.Errorf("--list: %q is not one of gold, white, grey, dark, black", list))
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			hosts, err := f.allHosts(cmd, c)
			if err != nil {
				return err
			}
			lists := map[string][]rpc.HostEntry{
				"gold": hosts.Gold, "white": hosts.White, "grey": hosts.Grey, "dark": hosts.Dark, "black": hosts.Black,
			}
			out := cmd.OutOrStdout()
			if f.json {
				if list != "" {
					return printJSON(out, lists[list])
				}
				return printJSON(out, hosts)
			}
			names := hostLists
			if list != "" {
				names = []string{list}
			}
			total := 0
			for _, name := range names {
				total += len(lists[name])
			}
			if total == 0 {
				_, err := fmt.Fprintln(out, "No hosts.")
				return err
			}
			now := time.Now()
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "LIST\tLAST SEEN\tADDRESS")
			for _, name := range names {
				for _, e := range lists[name] {
					seen := formatAge(now, e.LastSeen)
					if seen != "-" {
						seen += " ago"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\n", name, seen, e.Addr)
				}
			}
			return tw.Flush()
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&list, "list", "", "show only this list: gold, white, grey, dark or black")
	return cmd
}

// hostsPage is how many entries of each list one p2p.get_hosts call of
// the hosts command asks for.
const hostsPage = 1000

// allHosts reads the whole address book, a page of every list at a time.
func (f *clientFlags) allHosts(cmd *cobra.Command, c *rpc.Client) (rpc.Hosts, error) {
	all := rpc.Hosts{Grey: []rpc.HostEntry{}, White: []rpc.HostEntry{}, Gold: []rpc.HostEntry{},
		Dark: []rpc.HostEntry{}, Black: []rpc.HostEntry{}}
	for offset := 0; ; offset += hostsPage {
		var h rpc.Hosts
		if err := f.call(cmd.Context(), c, "p2p.get_hosts", &h, offset, hostsPage); err != nil {
			return all, err
		}
		all.Grey = append(all.Grey, h.Grey...)
		all.White = append(all.White, h.White...)
		all.Gold = append(all.Gold, h.Gold...)
		all.Dark = append(all.Dark, h.Dark...)
		all.Black = append(all.Black, h.Black...)
		longest := max(len(h.Grey), len(h.White), len(h.Gold), len(h.Dark), len(h.Black))
		if longest < hostsPage {
			return all, nil // every list ended within this page
		}
	}
}
