package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/dnode-p2p/dnode/seed"
)

func newSeedCmd() *cobra.Command {
	var cf configFlags
	var networks []string
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Run a seed node for one or many networks until SIGINT or SIGTERM",
		Long: "Seed runs a seed node (DarkFi's Lilith): no outbound slots, a large\n" +
			"inbound limit ([seed] inbound_connections), the relaxed ban policy, a\n" +
			"refinery that also re-probes its whitelist, and for every network in\n" +
			"[seed] networks (or --networks) its own address book and hostlist,\n" +
			"all on the same listen addresses.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSeed(cmd, &cf, networks)
		},
	}
	cf.register(cmd)
	cmd.Flags().StringSliceVar(&networks, "networks", nil, "networks to serve (config: seed.networks)")
	return cmd
}

func runSeed(cmd *cobra.Command, cf *configFlags, networks []string) error {
	s, source, err := cf.load()
	if err != nil {
		return err
	}
	if cmd.Flags().Changed("networks") {
		if err := s.Set("seed.networks", strings.Join(networks, ",")); err != nil {
			return configError(err)
		}
		if err := s.Validate(); err != nil {
			return configError(err)
		}
	}
	if err := setLogLevel(s.LogLevel); err != nil {
		return configError(err)
	}
	if source != "" {
		logger.Infow("Loaded configuration", "config", source)
	}
	sd, err := seed.New(s, nil)
	if err != nil {
		return configError(err)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger.Infow("Starting seed node", "networks", seed.Networks(s))
	if err := sd.Start(ctx); err != nil {
		if ctx.Err() != nil {
			logger.Info(termLine)
			return nil
		}
		return failure(fmt.Errorf("start: %w", err))
	}
	<-ctx.Done()
	stop()
	logger.Info(termLine)
	if err := sd.Stop(); err != nil && !errors.Is(err, os.ErrClosed) {
		logger.Warnw("seed stopped with errors", "err", err)
	}
	return nil
}
