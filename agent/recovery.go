package agent

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gomesos/gomesos/agent/checkpoint"
	"github.com/gomesos/gomesos/agent/core"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// openCheckpoint opens the agent's checkpoint and reads back what it holds.
// A checkpoint that cannot be read fails the start (naming the file), or,
// with --strict=false, is set aside and the agent starts afresh. One
// written by an agent with other resources or attributes fails the start
// whatever --strict says, naming the flag, as Mesos does.
func (a *Agent) openCheckpoint(info *mesos.AgentInfo) error {
	path := checkpoint.Path(a.cfg.WorkDir)
	st, err := loadCheckpoint(path, a)
	if err != nil {
		if !a.cfg.NotStrict {
			a.closeStore()
			return fmt.Errorf("agent: %w (with --strict=false the agent sets the file aside and starts afresh)", err)
		}
		aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405Z"))
		a.log.Error("the checkpoint cannot be read; setting it aside and starting afresh (--strict=false)", "err", err, "moved_to", aside)
		if a.store != nil {
			a.store.Close()
			a.store = nil
		}
		if err := os.Rename(path, aside); err != nil {
			return fmt.Errorf("agent: setting aside the unreadable checkpoint %s: %w", path, err)
		}
		if st, err = loadCheckpoint(path, a); err != nil {
			return fmt.Errorf("agent: %w", err)
		}
	}
	if err := core.CheckCompatible(info, st.AgentInfo, path); err != nil {
		a.store.Close()
		a.store = nil
		return fmt.Errorf("agent: %w", err)
	}
	a.recovered = st
	if !st.Empty() {
		a.log.Info("read the checkpoint", "file", path, "agent", st.AgentID, "containers", len(st.ContainerIDs))
	}
	return nil
}

// loadCheckpoint opens the store at path into a.store and decodes it.
func loadCheckpoint(path string, a *Agent) (*core.Recovered, error) {
	s, err := checkpoint.Open(path)
	if err != nil {
		return nil, err
	}
	a.store = s
	b, err := s.Load()
	if err != nil {
		return nil, err
	}
	st, err := core.DecodeCheckpoint(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// recoverContainers asks the containerizer for the checkpointed containers
// (killing every other one a previous agent left) and returns the core's
// Recover input. Ended containers are reported by the containerizer as
// exits, which the loop takes after Recover.
func (a *Agent) recoverContainers() (core.Recover, error) {
	known := a.recovered.ContainerIDs
	found, err := a.cont.Recover(known)
	if err != nil {
		return core.Recover{}, fmt.Errorf("agent: recovering containers: %w", err)
	}
	in := core.Recover{State: a.recovered}
	for _, r := range found {
		in.Containers = append(in.Containers, core.RecoveredContainer{ContainerID: r.ID, Pid: r.Pid, Alive: true})
	}
	if len(known) > 0 {
		a.log.Info("recovered containers", "known", len(known), "running", len(found))
	}
	return in, nil
}

// cleanup is --recover=cleanup: every executor a previous agent left is
// killed, the checkpoint is removed, and Run returns.
func (a *Agent) cleanup() error {
	defer a.logq.stop()
	a.ln.Close()
	close(a.stopped) // nothing takes the containers' exits
	found, err := a.cont.Recover(a.recovered.ContainerIDs)
	if err != nil {
		a.store.Close()
		return fmt.Errorf("agent: recovering containers: %w", err)
	}
	a.cont.DestroyAll()
	path := a.store.Path()
	if err := a.store.Close(); err != nil {
		return err
	}
	a.store = nil
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("agent: removing the checkpoint: %w", err)
	}
	a.log.Info("--recover=cleanup: killed the executors left running and removed the checkpoint; exiting", "killed", len(found), "file", path)
	return nil
}

func (a *Agent) closeStore() {
	if a.store == nil {
		return
	}
	if err := a.store.Close(); err != nil {
		a.log.Warn("closing the checkpoint", "err", err)
	}
	a.store = nil
}
