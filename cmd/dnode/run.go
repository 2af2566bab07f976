package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	golog "github.com/ipfs/go-log/v2"
	"github.com/spf13/cobra"

	"github.com/dnode-p2p/dnode"
)

// logger is the command's own go-log logger.
var logger = golog.Logger("dnode/cmd")

// termLine is logged when the node is asked to stop.
const termLine = "Caught termination signal, cleaning up and exiting..."

func newRunCmd() *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the node until SIGINT or SIGTERM",
		Long: "Run loads the configuration file (or the built-in defaults when no\n" +
			"--config is given and the default file does not exist), applies the\n" +
			"flags, starts the node and stops it cleanly on SIGINT or SIGTERM.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNode(cmd, &cf)
		},
	}
	cf.register(cmd)
	return cmd
}

// runNode runs a node until cmd's context is cancelled or the process gets
// SIGINT or SIGTERM.
func runNode(cmd *cobra.Command, cf *configFlags) error {
	s, source, err := cf.load()
	if err != nil {
		return err
	}
	if err := setLogLevel(s.LogLevel); err != nil {
		return configError(err)
	}
	if source != "" {
		logger.Infow("Loaded configuration", "config", source)
	} else {
		logger.Info("No configuration file, using the built-in defaults")
	}

	node, err := dnode.New(s)
	if err != nil {
		return configError(err)
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := node.Start(ctx); err != nil {
		if ctx.Err() != nil {
			// Asked to stop before the node was up: nothing to clean.
			logger.Info(termLine)
			return nil
		}
		return failure(fmt.Errorf("start: %w", err))
	}

	select {
	case <-ctx.Done():
	case <-node.Done():
		return failure(errors.New("node stopped unexpectedly"))
	}
	// Restore the default signal behaviour: a second SIGINT while the node
	// is draining kills the process.
	stop()
	logger.Info(termLine)
	_ = node.Stop() // the node logs an unclean stop itself
	return nil
}

// setLogLevel sets every go-log logger, and the default level of loggers
// created later, to level, unless GOLOG_LOG_LEVEL (or go-log's older
// IPFS_LOGGING) is set: then the environment, which go-log read at init,
// wins.
func setLogLevel(level string) error {
	if os.Getenv("GOLOG_LOG_LEVEL") != "" || os.Getenv("IPFS_LOGGING") != "" {
		return nil
	}
	lvl, err := golog.LevelFromString(level)
	if err != nil {
		return fmt.Errorf("config: log_level: %w", err)
	}
	// SetAllLoggers alone only changes the loggers that already exist; the
	// node creates its loggers (dnode/node, dnode/sessions, ...) later, at
	// go-log's default level. SetupLogging sets both, under go-log's lock,
	// keeping the output and format go-log chose from the environment.
	cfg := golog.GetConfig()
	cfg.Level = lvl
	golog.SetupLogging(cfg)
	return nil
}
