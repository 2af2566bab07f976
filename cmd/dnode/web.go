package main

import (
	"fmt"
	"net"
	"net/url"

	"github.com/spf13/cobra"
)

func newWebCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "web",
		Short: "Print the link to a running node's web view",
		Long: "Web checks that a running node answers (ping over its RPC, with the token\n" +
			"found as for the other client commands) and prints the link to its web\n" +
			"view: http://host:port/#token=<token>. The token rides in the URL's\n" +
			"fragment, which the browser keeps to itself: the page reads it, keeps it in\n" +
			"the tab's session storage, removes it from the address bar and sends it\n" +
			"with every call. The link is as secret as the cookie: whoever has it can\n" +
			"drive the node until it restarts. --json prints {\"url\": ...}.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			var pong string
			if err := f.call(cmd.Context(), c, "ping", &pong); err != nil {
				return err
			}
			link, err := webURL(c.Endpoint(), f.token)
			if err != nil {
				return failure(err)
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), map[string]string{"url": link})
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), link)
			return err
		},
	}
	f.register(cmd)
	return cmd
}

// webURL returns the web view's link for an RPC endpoint (http://host:port)
// and token: an unspecified listen host (0.0.0.0, ::) becomes 127.0.0.1,
// and the token, when set, goes in the fragment.
func webURL(endpoint, token string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("web view link: %w", err)
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsUnspecified() {
		u.Host = net.JoinHostPort("127.0.0.1", u.Port())
	}
	u.Path = "/"
	if token != "" {
		u.Fragment = "token=" + token
	}
	return u.String(), nil
}
