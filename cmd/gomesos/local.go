package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/gomesos/gomesos/agent"
	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/internal/buildinfo"
	"github.com/gomesos/gomesos/internal/flagx"
	"github.com/gomesos/gomesos/master"
)

// runLocal runs a master and --num_agents agents in this process: the
// embedded default, a whole cluster in one command. SIGINT or SIGTERM stops
// it and kills every task it started.
func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = flagx.Usage(fs, "gomesos local [--ip=IP] [--port=5050] [--work_dir=DIR] [--num_agents=1]")
	var mcfg master.Config
	masterFlags(fs, &mcfg, "")
	var acfg agent.Config
	agentFlags(fs, &acfg)
	workDir := fs.String("work_dir", filepath.Join(os.TempDir(), "gomesos-local"), "directory for the agents' sandboxes")
	numAgents := fs.Int("num_agents", 1, "number of agents to run")
	pprof := fs.Bool("pprof", false, pprofUsage+" (the master's and each agent's)")
	level := fs.String("logging_level", "WARNING", "log level: INFO, WARNING, ERROR or DEBUG")
	if err := flagx.Parse(fs, args, flagx.Environ()); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(stderr, "gomesos local:", err)
		return 2
	}
	if *numAgents < 0 {
		fmt.Fprintln(stderr, "gomesos local: --num_agents must not be negative")
		return 2
	}
	// One process, one verbosity: the master's and the agents' operator
	// APIs set the same.
	log, verb, err := newLogger(stderr, *level)
	if err != nil {
		fmt.Fprintln(stderr, "gomesos local:", err)
		return 2
	}
	mcfg.Logger = log
	mcfg.Verbosity = verb
	acfg.Verbosity = verb
	mcfg.Pprof, acfg.Pprof = *pprof, *pprof
	mcfg.Flags = flagValues(fs)
	mcfg.Build = buildinfo.Read()
	m, err := master.New(mcfg)
	if err != nil {
		fmt.Fprintln(stderr, "gomesos local:", err)
		return 1
	}
	// The agents stop first (killing their tasks and saying goodbye to the
	// master), then the master.
	masterCtx, stopMaster := context.WithCancel(context.Background())
	defer stopMaster()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg, masterWG sync.WaitGroup
	errs := make(chan error, *numAgents+1)
	masterWG.Add(1)
	go func() {
		defer masterWG.Done()
		errs <- m.Run(masterCtx)
	}()
	for i := 0; i < *numAgents; i++ {
		cfg := acfg
		cfg.Master = m.Addr()
		cfg.IP = mcfg.IP
		cfg.Port = 0
		cfg.Logger = log.With("agent", i)
		cfg.WorkDir = filepath.Join(*workDir, "agent-"+strconv.Itoa(i))
		// Each agent has cgroups of its own, below its own root, so that
		// no agent's recovery touches another's.
		cfg.CgroupsRoot = filepath.Join(acfg.CgroupsRoot, "agent-"+strconv.Itoa(i))
		err := resolveIsolation(&cfg)
		if err != nil {
			fmt.Fprintln(stderr, "gomesos local:", err)
			cancel()
			wg.Wait()
			stopMaster()
			masterWG.Wait()
			return 2
		}
		a, err := agent.New(cfg)
		if err != nil {
			fmt.Fprintln(stderr, "gomesos local:", err)
			cancel()
			wg.Wait()
			stopMaster()
			masterWG.Wait()
			return 1
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- a.Run(ctx)
		}()
	}
	fmt.Fprintf(stdout, "Gomesos local cluster: master %s with %d agent(s), work_dir %s\n", m.URL(), *numAgents, *workDir)
	fmt.Fprintf(stdout, "Try: gomesos execute --master=%s --name=hello --command='echo hello'\n", m.Addr())
	code := 0
	select {
	case <-ctx.Done():
	case err := <-errs:
		if err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, "gomesos local:", err)
			code = 1
		}
	}
	cancel()
	wg.Wait()
	stopMaster()
	masterWG.Wait()
	// The agents' containers are gone; so go the cgroups they were made
	// in, and the shared root when no other agent uses it.
	for i := 0; i < *numAgents; i++ {
		for _, dir := range containerizer.RemoveCgroupsRoot(filepath.Join(acfg.CgroupsRoot, "agent-"+strconv.Itoa(i))) {
			log.Warn("a cgroup is left behind", "cgroup", dir)
		}
	}
	containerizer.RemoveCgroupIfEmpty(acfg.CgroupsRoot)
	fmt.Fprintln(stdout, "Gomesos local cluster stopped")
	return code
}
