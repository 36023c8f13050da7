package agent

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/agent/core"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/resources"
)

// ContainerUsage is what one executor's container uses now (an entry of
// Mesos's ResourceUsage, as /monitor/statistics reports it).
type ContainerUsage struct {
	FrameworkID  string
	ExecutorID   string
	ExecutorName string
	Source       string
	ContainerID  string
	Statistics   *mesos.ResourceStatistics
}

// usageWorkers is how many containers are measured at once.
const usageWorkers = 4

// Usage measures the container of every executor the agent runs, on the
// caller's goroutine and a few of its own, never the loop's: the executors
// come from the latest published snapshot, the numbers from the
// containerizer. A container that cannot be measured (it just ended, say)
// is left out, as Mesos leaves it out. It fails only when the agent is not
// running or ctx ends first.
func (a *Agent) Usage(ctx context.Context) ([]ContainerUsage, error) {
	if !a.ran.Load() {
		return nil, errors.New("agent: not running")
	}
	s, ok := a.pub.latest(ctx, a.stopped)
	if !ok {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("agent: shutting down")
	}
	return a.usageIn(ctx, s)
}

// usageIn measures the containers of the executors of snapshot s.
func (a *Agent) usageIn(ctx context.Context, s *core.Snapshot) ([]ContainerUsage, error) {
	type job struct {
		usage     ContainerUsage
		resources resources.LegacyObject
	}
	var jobs []job
	for _, fw := range s.State.Frameworks {
		for _, ex := range fw.Executors {
			if ex.Container == "" {
				continue
			}
			jobs = append(jobs, job{
				usage:     ContainerUsage{FrameworkID: fw.ID, ExecutorID: ex.ID, ExecutorName: ex.Name, Source: ex.Source, ContainerID: ex.Container},
				resources: ex.Resources,
			})
		}
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(usageWorkers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				st, err := a.cont.Usage(jobs[i].usage.ContainerID)
				if err != nil {
					if !errors.Is(err, containerizer.ErrUnknownContainer) {
						a.log.Warn("failed to get the resource usage of a container", "container", jobs[i].usage.ContainerID,
							"executor", jobs[i].usage.ExecutorID, "framework", jobs[i].usage.FrameworkID, "err", err)
					}
					continue
				}
				// A recovered container's resources reach the
				// containerizer with an update; until then the
				// executor's, as the agent knows them, stand in.
				if f, ok := jobs[i].resources.Get("cpus"); ok && st.CpusLimit == nil {
					st.CpusLimit = &f.Number
				}
				if f, ok := jobs[i].resources.Get("mem"); ok && st.MemLimitBytes == nil {
					st.MemLimitBytes = new(uint64(f.Number * (1 << 20)))
				}
				jobs[i].usage.Statistics = st
			}
		}()
	}
feed:
	for i := range jobs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]ContainerUsage, 0, len(jobs))
	for _, j := range jobs {
		if j.usage.Statistics != nil {
			out = append(out, j.usage)
		}
	}
	return out, nil
}

// ContainerStatistics measures one container (the operator API's
// GET_CONTAINERS reports these); containerizer.ErrUnknownContainer for one
// that is not running.
func (a *Agent) ContainerStatistics(containerID string) (*mesos.ResourceStatistics, error) {
	return a.cont.Usage(containerID)
}

// statisticsRate is how often /monitor/statistics measures: Mesos allows
// two requests a second and queues the rest.
const statisticsRate = 500 * time.Millisecond

// pacer lets one caller through every interval, queueing the others in
// turn.
type pacer struct {
	mu       sync.Mutex
	next     time.Time
	interval time.Duration
}

// wait returns when the caller's turn has come, or false when ctx ends
// first.
func (p *pacer) wait(ctx context.Context) bool {
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.interval)
	p.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// serveStatistics is /monitor/statistics: a JSON array with, for each
// executor's container, its framework, executor and the
// ResourceStatistics as Mesos renders them (JSON::protobuf: proto field
// names, only the fields set, keys in order).
func (a *Agent) serveStatistics(w http.ResponseWriter, r *http.Request) {
	if !a.statsPacer.wait(r.Context()) {
		return
	}
	usage, err := a.Usage(r.Context())
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	b, err := statisticsJSON(usage)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, r, json.RawMessage(b))
}

// statisticsJSON renders /monitor/statistics. Mesos builds each entry and
// each statistics object as a JSON::Object, a sorted map, so every
// object's keys come in alphabetical order.
func statisticsJSON(usage []ContainerUsage) ([]byte, error) {
	b := []byte{'['}
	for i, u := range usage {
		if i > 0 {
			b = append(b, ',')
		}
		raw, err := codec.MarshalJSON(u.Statistics)
		if err != nil {
			return nil, err
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, err
		}
		b = append(b, `{"executor_id":`...)
		b = codec.AppendString(b, u.ExecutorID)
		b = append(b, `,"executor_name":`...)
		b = codec.AppendString(b, u.ExecutorName)
		b = append(b, `,"framework_id":`...)
		b = codec.AppendString(b, u.FrameworkID)
		b = append(b, `,"source":`...)
		b = codec.AppendString(b, u.Source)
		b = append(b, `,"statistics":{`...)
		for k, key := range slices.Sorted(maps.Keys(fields)) {
			if k > 0 {
				b = append(b, ',')
			}
			b = codec.AppendString(b, key)
			b = append(b, ':')
			b = append(b, fields[key]...)
		}
		b = append(b, "}}"...)
	}
	return append(b, ']'), nil
}
