package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomesos/gomesos/internal/flagx"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/registry"
)

// registryFlags are the master's flags about where its registry lives and
// who its peers are (gomesos master only: gomesos local keeps its registry
// in memory).
type registryFlags struct {
	kind             string
	workDir          string
	masters          string
	quorum           int
	heartbeatTimeout time.Duration
}

func (r *registryFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&r.kind, "registry", "replicated_log",
		"where the registry lives: replicated_log (durable under --work_dir, replicated among --masters with Raft) or in_memory (for testing)")
	fs.StringVar(&r.workDir, "work_dir", "", "directory of the master's replicated registry (required with --registry=replicated_log)")
	fs.StringVar(&r.masters, "masters", "",
		"comma-separated host:port of every master of the cluster, this one included, e.g. h1:5050,h2:5050,h3:5050 (default: a cluster of one)")
	fs.IntVar(&r.quorum, "quorum", 0, "how many masters make a quorum; with Raft it is always a majority of --masters, which this may only confirm")
	r.heartbeatTimeout = registry.DefaultHeartbeatTimeout
	fs.Var(flagx.Duration{D: &r.heartbeatTimeout}, "registry_election_timeout",
		"how long masters wait without hearing from the leader before they elect a new one, and a leader without a quorum before it steps down (Raft's heartbeat, election and lease timeouts)")
}

// apply checks the flags and sets cfg.OpenRegistry. It returns an error
// naming the flag that is wrong.
func (r *registryFlags) apply(cfg *master.Config, log *slog.Logger) error {
	var peers []string
	if r.masters != "" {
		for _, p := range strings.Split(r.masters, ",") {
			p = strings.TrimSpace(p)
			if _, port, err := net.SplitHostPort(p); err != nil || port == "" {
				return fmt.Errorf("--masters: %q is not host:port", p)
			}
			if slices.Contains(peers, p) {
				return fmt.Errorf("--masters: %s is listed twice", p)
			}
			peers = append(peers, p)
		}
	}
	if r.quorum != 0 {
		n := max(1, len(peers))
		if want := n/2 + 1; r.quorum != want {
			return fmt.Errorf("--quorum=%d: with %d master(s) the quorum is a majority, %d", r.quorum, n, want)
		}
	}
	if r.heartbeatTimeout <= 0 {
		return fmt.Errorf("--registry_election_timeout must be positive")
	}
	switch r.kind {
	case "in_memory":
		if len(peers) > 1 {
			return fmt.Errorf("--masters: several masters need --registry=replicated_log")
		}
		cfg.OpenRegistry = nil
		return nil
	case "replicated_log":
	default:
		return fmt.Errorf("--registry: unknown registry %q (expecting replicated_log or in_memory)", r.kind)
	}
	if r.workDir == "" {
		return fmt.Errorf("--work_dir is required with --registry=replicated_log: it holds the registry")
	}
	if len(peers) > 1 && cfg.Port == 0 {
		return fmt.Errorf("--port: a master of several (--masters) needs a fixed port")
	}
	self := ""
	if len(peers) > 0 {
		var err error
		if self, err = selfIn(peers, cfg.IP, cfg.Hostname, cfg.Port); err != nil {
			return err
		}
	}
	dir := filepath.Join(r.workDir, "registry")
	hb := r.heartbeatTimeout
	cfg.OpenRegistry = func(advertise string) (registry.Store, http.Handler, error) {
		me, all := self, peers
		if me == "" {
			me, all = advertise, []string{advertise}
		}
		layer := registry.NewStreamLayer(me)
		store, err := registry.NewReplicated(registry.ReplicatedConfig{
			Dir: dir, Self: me, Peers: all, StreamLayer: layer,
			HeartbeatTimeout: hb, ElectionTimeout: hb, LeaderLeaseTimeout: hb,
			Logger: log.With("component", "registry"),
		})
		if err != nil {
			return nil, nil, err
		}
		return store, layer, nil
	}
	return nil
}

// selfIn finds which of the masters is this one: the entry with this
// master's port whose host is its --ip or --hostname, or resolves to an
// address of this machine.
func selfIn(peers []string, ip, hostname string, port int) (string, error) {
	local := map[string]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				local[n.IP.String()] = true
			}
		}
	}
	var found []string
	for _, p := range peers {
		host, ps, _ := net.SplitHostPort(p)
		if n, err := strconv.Atoi(ps); err != nil || n != port {
			continue
		}
		if host == ip || (hostname != "" && host == hostname) {
			found = append(found, p)
			continue
		}
		if ip != "" && ip != "0.0.0.0" && ip != "::" {
			continue // it listens on one address only: that is the one
		}
		ips, err := net.LookupHost(host)
		if err != nil {
			continue
		}
		for _, a := range ips {
			if local[a] {
				found = append(found, p)
				break
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("--masters: none of %s is this master (--ip=%s --port=%d); list this master as its peers reach it", strings.Join(peers, ","), ip, port)
	}
	return "", fmt.Errorf("--masters: %s could all be this master; set --ip or --hostname to the one it is", strings.Join(found, " and "))
}
