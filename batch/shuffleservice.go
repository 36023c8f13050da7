package batch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
)

// ShuffleServiceEnv, set beside ExecutorEnv, makes the executor process the
// app's shuffle service on its agent rather than an executor.
const ShuffleServiceEnv = "GOMESOS_BATCH_SHUFFLE_SERVICE"

// The shuffle service's share of an offer.
const (
	serviceCPUs = 0.1
	serviceMem  = 32.0
)

// shuffleService is the per-agent service of Spark's external shuffle
// service: a long-running task of the app on each agent it uses, to which
// the driver registers every executor of that agent (its id and sandbox),
// and which serves those executors' map outputs from their sandboxes, on
// the agent's disk, whether the executors still run or not.
type shuffleService struct {
	mu   sync.Mutex
	dirs map[string]string // executor id -> its sandbox
}

// registration is the body of the service's POST /executors.
type registration struct {
	Executor string `json:"executor"`
	Dir      string `json:"dir"`
}

// handler is the shuffle service's HTTP API:
//
//	POST /executors                            register an executor's sandbox
//	GET  /shuffle/{s}/{m}/{r}?executor=ID      one block of that executor's map output
//	GET  /ping                                 "ok"
func (svc *shuffleService) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /executors", func(rw http.ResponseWriter, r *http.Request) {
		var reg registration
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&reg); err != nil {
			http.Error(rw, "batch shuffle service: bad registration: "+err.Error(), http.StatusBadRequest)
			return
		}
		if reg.Executor == "" || !filepath.IsAbs(reg.Dir) {
			http.Error(rw, "batch shuffle service: a registration needs an executor id and an absolute dir", http.StatusBadRequest)
			return
		}
		if info, err := os.Stat(reg.Dir); err != nil || !info.IsDir() {
			http.Error(rw, fmt.Sprintf("batch shuffle service: %s is not a directory on this agent", reg.Dir), http.StatusBadRequest)
			return
		}
		svc.mu.Lock()
		svc.dirs[reg.Executor] = filepath.Clean(reg.Dir)
		svc.mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /shuffle/{s}/{m}/{r}", func(rw http.ResponseWriter, r *http.Request) {
		n, ok := blockPathValues(rw, r)
		if !ok {
			return
		}
		ex := r.URL.Query().Get("executor")
		svc.mu.Lock()
		dir, known := svc.dirs[ex]
		svc.mu.Unlock()
		if !known {
			http.Error(rw, fmt.Sprintf("batch shuffle service: executor %q is not registered", ex), http.StatusNotFound)
			return
		}
		serveBlock(rw, r, dir, n)
	})
	mux.HandleFunc("GET /ping", func(rw http.ResponseWriter, r *http.Request) {
		rw.Write([]byte("ok\n"))
	})
	return mux
}

// blockPathValues reads {s}, {m} and {r}, answering 400 when one is bad.
func blockPathValues(rw http.ResponseWriter, r *http.Request) ([3]int, bool) {
	var n [3]int
	for i, name := range []string{"s", "m", "r"} {
		v, err := strconv.Atoi(r.PathValue(name))
		if err != nil || v < 0 {
			http.Error(rw, fmt.Sprintf("batch: %s must be a non-negative integer, not %q", name, r.PathValue(name)), http.StatusBadRequest)
			return n, false
		}
		n[i] = v
	}
	return n, true
}

// serveBlock serves block n (shuffle, map, reduce partition) of the map
// outputs under dir.
func serveBlock(rw http.ResponseWriter, r *http.Request, dir string, n [3]int) {
	f, err := os.Open(blockPath(dir, n[0], n[1], n[2]))
	if err != nil {
		http.Error(rw, fmt.Sprintf("batch: no block for shuffle %d map %d partition %d", n[0], n[1], n[2]), http.StatusNotFound)
		return
	}
	defer f.Close()
	rw.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(rw, r, "", time.Time{}, f)
}

func blockPath(dir string, s, m, reduce int) string {
	return filepath.Join(dir, "shuffle", strconv.Itoa(s), strconv.Itoa(m), strconv.Itoa(reduce))
}

// ---- The driver's side ----

// serviceState is what the driver knows of the shuffle service of one
// agent.
type serviceState struct {
	id      string
	agentID string
	taskID  *mesos.TaskID
	agent   *mesos.AgentID
	addr    string // "" until it said hello
	lost    bool
	// registered are the executors whose outputs it serves.
	registered map[string]bool
}

func isServiceID(id string) bool { return strings.HasPrefix(id, "batch-shuffle-service-") }

// needService reports whether an executor launched on agent needs a
// shuffle service launched beside it. Called with a.mu held.
func (a *App) needService(agent string) bool {
	if !a.cfg.ShuffleService {
		return false
	}
	s := a.services[agent]
	return s == nil || s.lost
}

// serviceTask is the shuffle service's task on o's agent. Called with a.mu
// held.
func (a *App) serviceTask(o *mesos.Offer, res []*mesos.Resource) *mesos.TaskInfo {
	a.nextService++
	id := "batch-shuffle-service-" + a.idPrefix + strconv.Itoa(a.nextService)
	agent := o.GetAgentId().GetValue()
	task := &mesos.TaskInfo{
		Name:      proto.String(a.cfg.Name + " shuffle service"),
		TaskId:    &mesos.TaskID{Value: proto.String(id)},
		AgentId:   o.GetAgentId(),
		Resources: res,
		Executor:  a.executorInfo(id, a.cfg.Name+" shuffle service", o.GetHostname(), &mesos.Environment_Variable{Name: proto.String(ShuffleServiceEnv), Value: proto.String("1")}),
	}
	a.services[agent] = &serviceState{id: id, agentID: agent, taskID: task.GetTaskId(), agent: o.GetAgentId(), registered: map[string]bool{}}
	return task
}

// serviceOf is the live shuffle service of an agent, if any. Called with
// a.mu held.
func (a *App) serviceOf(agent string) *serviceState {
	s := a.services[agent]
	if s == nil || s.lost || s.addr == "" {
		return nil
	}
	return s
}

// serviceUp records a service's address and registers the executors of its
// agent with it.
func (a *App) serviceUp(id string, hello executorHello) {
	a.mu.Lock()
	var s *serviceState
	for _, x := range a.services {
		if x.id == id && !x.lost {
			s = x
		}
	}
	if s == nil || s.addr != "" {
		a.mu.Unlock()
		return
	}
	s.addr = hello.Addr
	var execs []*execState
	for _, e := range a.execs {
		if e.agentID == s.agentID && !e.lost && e.addr != "" {
			execs = append(execs, e)
		}
	}
	a.mu.Unlock()
	a.log.Info("shuffle service registered", "service", id, "agent", s.agentID, "addr", hello.Addr)
	for _, e := range execs {
		go a.registerExecutor(s, e)
	}
}

// awaitingService reports whether e's agent has a shuffle service, coming
// or up, that does not know e yet: e is not released until it does, or
// its map outputs would go with it. Called with a.mu held.
func (a *App) awaitingService(e *execState) bool {
	s := a.services[e.agentID]
	return a.cfg.ShuffleService && s != nil && !s.lost && !s.registered[e.id]
}

// registerExecutor tells s where e's map outputs are, trying a few times.
func (a *App) registerExecutor(s *serviceState, e *execState) {
	for try := 0; try < 3; try++ {
		if a.tryRegisterExecutor(s, e) || a.runCtx.Err() != nil {
			return
		}
		select {
		case <-time.After(time.Duration(try+1) * 500 * time.Millisecond):
		case <-a.runCtx.Done():
			return
		}
	}
}

// tryRegisterExecutor is one attempt of registerExecutor.
func (a *App) tryRegisterExecutor(s *serviceState, e *execState) bool {
	body, _ := json.Marshal(registration{Executor: e.id, Dir: e.dir})
	ctx, cancel := context.WithTimeout(a.runCtx, a.cfg.ExecutorTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.addr+"/executors", strings.NewReader(string(body)))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		a.log.Warn("registering an executor with the shuffle service", "executor", e.id, "service", s.id, "err", err)
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		a.log.Warn("registering an executor with the shuffle service", "executor", e.id, "service", s.id, "status", resp.Status)
		return false
	}
	a.mu.Lock()
	s.registered[e.id] = true
	a.mu.Unlock()
	return true
}

// serviceLost forgets a shuffle service and the map outputs of released
// executors it served.
func (a *App) serviceLost(id, why string) {
	a.mu.Lock()
	var s *serviceState
	for _, x := range a.services {
		if x.id == id && !x.lost {
			s = x
		}
	}
	if s == nil {
		a.mu.Unlock()
		return
	}
	s.lost = true
	for _, dep := range a.shuffles {
		for m, ex := range dep.outputs {
			if e, ok := a.execs[ex]; ok && e.lost && s.registered[ex] {
				dep.outputs[m] = ""
			}
		}
	}
	a.mu.Unlock()
	a.log.Warn("shuffle service lost", "service", id, "why", why)
	a.poke()
}

// served reports whether e's map outputs outlive it: its agent's shuffle
// service knows it. Called with a.mu held.
func (a *App) served(e *execState) bool {
	s := a.serviceOf(e.agentID)
	return s != nil && s.registered[e.id]
}
