package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dnode-p2p/dnode"
)

// versionInfo is what `dnode version` prints.
type versionInfo struct {
	Version       string `json:"version"`        // dnode's version
	Commit        string `json:"commit"`         // VCS revision the binary was built from ("" if unknown)
	Modified      bool   `json:"modified"`       // built from a tree with uncommitted changes
	BuildTime     string `json:"build_time"`     // commit time (RFC 3339), "" if unknown
	GoVersion     string `json:"go_version"`     // the Go toolchain that built it
	Libp2pVersion string `json:"libp2p_version"` // go-libp2p's module version
	Platform      string `json:"platform"`       // GOOS/GOARCH
}

// readVersion reads the build information embedded in the binary.
func readVersion() versionInfo {
	v := versionInfo{Version: dnode.Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		case "vcs.time":
			v.BuildTime = s.Value
		}
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/libp2p/go-libp2p" {
			v.Libp2pVersion = d.Version
			if d.Replace != nil {
				v.Libp2pVersion = d.Replace.Version
			}
		}
	}
	return v
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print dnode's version, commit, Go version and go-libp2p version",
		Long: "Version prints what the binary was built from, read from the build\n" +
			"information Go embeds: dnode's version, the commit (with \"+dirty\" when\n" +
			"the tree had uncommitted changes), the commit time, the Go version,\n" +
			"go-libp2p's version and the platform. Fields the build did not record\n" +
			"(go run, or a build outside a git checkout) print as \"unknown\".",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := readVersion()
			if asJSON {
				return printJSON(cmd.OutOrStdout(), v)
			}
			unknown := func(s string) string {
				if s == "" {
					return "unknown"
				}
				return s
			}
			commit := unknown(v.Commit)
			if v.Modified {
				commit += "+dirty"
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "dnode\t%s\n", v.Version)
			fmt.Fprintf(tw, "commit\t%s\n", commit)
			fmt.Fprintf(tw, "commit time\t%s\n", unknown(v.BuildTime))
			fmt.Fprintf(tw, "go\t%s\n", v.GoVersion)
			fmt.Fprintf(tw, "go-libp2p\t%s\n", unknown(v.Libp2pVersion))
			fmt.Fprintf(tw, "platform\t%s\n", v.Platform)
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON object, for scripts")
	return cmd
}
