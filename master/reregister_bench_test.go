package master

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	registrypb "github.com/gomesos/gomesos/api/registry"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/cputime"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/registry"
	"github.com/gomesos/gomesos/resources"
)

// BenchmarkReregisterStorm is the new leader's side of `gomesos bench
// failover`: a master recovers a registry of 10,000 admitted agents (an
// in-memory store, so no Raft and no other masters), and every agent
// re-registers with one framework and 10 running tasks through the master's
// HTTP handler (the request decoded, the loop's step, REGISTERED encoded
// and written to the agent's stream), at most 64 at once as the bench's
// agents are. It ends once every agent heard REGISTERED and the master's
// snapshot shows every agent active and every task running. It reports the
// wall time and, less sensitive to a shared machine, the CPU the process
// spent per agent, the share of it the garbage collector took (as the
// runtime counts it, which includes its idle workers and can pass 100% on a
// busy machine), and the heap allocated per agent:
//
//	go test ./master/ -run '^$' -bench BenchmarkReregisterStorm -benchtime 3x
func BenchmarkReregisterStorm(b *testing.B) {
	for _, agents := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("agents=%d", agents), func(b *testing.B) {
			if testing.Short() && agents > 1000 {
				b.Skip("-short")
			}
			var cpu, gc, wall time.Duration
			var alloc, objects uint64
			for b.Loop() {
				st := reregisterStorm(b, agents, 10)
				cpu += st.cpu
				gc += st.gc
				wall += st.wall
				alloc += st.alloc
				objects += st.objects
			}
			n := float64(b.N * agents)
			b.ReportMetric(float64(wall.Microseconds())/n, "wall-µs/agent")
			b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/agent")
			b.ReportMetric(100*gc.Seconds()/max(cpu.Seconds(), 1e-9), "gc-%")
			b.ReportMetric(float64(alloc)/1024/n, "alloc-KB/agent")
			b.ReportMetric(float64(objects)/n, "allocs/agent")
		})
	}
}

// A small storm, as a test: every agent recovered from the registry is back
// with its tasks after re-registering through the handler.
func TestReregisterStorm(t *testing.T) {
	reregisterStorm(t, 200, 3)
}

type stormStats struct {
	cpu, gc, wall time.Duration
	alloc         uint64 // bytes allocated on the heap
	objects       uint64 // objects allocated on the heap
}

// heapAllocated is how many bytes, and objects, the process has allocated
// on the heap.
func heapAllocated() (bytes, objects uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

func reregisterStorm(tb testing.TB, agents, perAgent int) stormStats {
	tb.Helper()
	fwID := "bench-framework"
	fi := &mesos.FrameworkInfo{
		Id: &mesos.FrameworkID{Value: &fwID}, Name: proto.String("bench"), User: proto.String("bench"),
		Checkpoint: proto.Bool(true), FailoverTimeout: proto.Float64(3600),
	}
	total := resources.ToProto(resources.MustParse(fmt.Sprintf("cpus:%d;mem:%d;disk:10000;ports:[31000-32000]", perAgent+2, (perAgent+2)*128)))
	taskRes := resources.ToProto(resources.MustParse("cpus:1;mem:128"))
	reg := &registrypb.Registry{Agents: &registrypb.Registry_Agents{}}
	bodies := make([][]byte, agents)
	for i := range agents {
		id := fmt.Sprintf("bench-master-S%d", i)
		info := &mesos.AgentInfo{
			Id: &mesos.AgentID{Value: &id}, Hostname: proto.String(fmt.Sprintf("agent%05d.bench", i)),
			Port: proto.Int32(5051), Resources: total,
		}
		reg.Agents.Agents = append(reg.Agents.Agents, &registrypb.Registry_Agent{Info: info})
		var tasks []*mesos.Task
		for j := range perAgent {
			tid := fmt.Sprintf("%s-task-%d", id, j)
			tasks = append(tasks, &mesos.Task{
				Name: proto.String("bench " + tid), TaskId: &mesos.TaskID{Value: &tid}, FrameworkId: fi.Id,
				AgentId: info.Id, State: mesos.TaskState_TASK_RUNNING.Enum(), Resources: taskRes,
			})
		}
		body, err := proto.Marshal(&agentproto.AgentMessage{
			Type: agentproto.AgentMessage_REREGISTER.Enum(),
			Register: &agentproto.AgentMessage_Register{
				AgentInfo: info, Version: proto.String(core.Version),
				Endpoint:   proto.String(fmt.Sprintf("10.%d.%d.%d:5051", i>>16&255, i>>8&255, i&255)),
				Frameworks: []*mesos.FrameworkInfo{fi}, Tasks: tasks,
			},
		})
		if err != nil {
			tb.Fatal(err)
		}
		bodies[i] = body
	}
	m, err := New(Config{
		Options: core.Options{Logger: slog.New(slog.DiscardHandler)},
		OpenRegistry: func(string) (registry.Store, http.Handler, error) {
			return registry.NewInMemory(reg), nil, nil
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- m.Run(ctx) }()
	if !m.Leading() {
		tb.Fatal("the master with an in-memory registry does not lead")
	}
	h := m.Handler()
	runtime.GC()

	var (
		wg       sync.WaitGroup
		inFlight = make(chan struct{}, 64)
		heard    atomic.Int64
		failed   atomic.Pointer[string]
	)
	streams, stop := context.WithCancel(context.Background())
	// The master stops first, closing every stream, then the requests end.
	defer func() {
		cancel()
		if err := <-ran; err != nil {
			tb.Error(err)
		}
		stop()
		wg.Wait()
	}()
	alloc0, objects0 := heapAllocated()
	cpu0, gc0, t0 := cputime.Process(), gcCPU(), time.Now()
	for i := range agents {
		inFlight <- struct{}{}
		w := newStormWriter(func(msg *agentproto.MasterMessage, err error) {
			<-inFlight
			switch {
			case err != nil:
				s := err.Error()
				failed.CompareAndSwap(nil, &s)
			case msg.GetType() != agentproto.MasterMessage_REGISTERED:
				s := fmt.Sprintf("agent %d heard %s first, not REGISTERED", i, msg.GetType())
				failed.CompareAndSwap(nil, &s)
			default:
				heard.Add(1)
			}
		})
		req := httptest.NewRequestWithContext(streams, http.MethodPost, "/internal/agent/subscribe", bytes.NewReader(bodies[i]))
		req.Header.Set("Content-Type", codec.MediaProtobuf)
		req.Header.Set("Accept", codec.MediaProtobuf)
		req.ContentLength = int64(len(bodies[i]))
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.ServeHTTP(w, req)
			w.ended()
		}()
	}
	deadline := time.Now().Add(5 * time.Minute)
	for heard.Load() < int64(agents) {
		if p := failed.Load(); p != nil {
			tb.Fatal(*p)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d agents heard REGISTERED", heard.Load(), agents)
		}
		time.Sleep(time.Millisecond)
	}
	var snap *core.Snapshot
	for {
		snap = m.latest()
		if int(snap.Metrics()["master/slaves_active"]) == agents || time.Now().After(deadline) {
			break
		}
	}
	alloc1, objects1 := heapAllocated()
	st := stormStats{cpu: cputime.Process() - cpu0, gc: gcCPU() - gc0, wall: time.Since(t0), alloc: alloc1 - alloc0, objects: objects1 - objects0}
	mt := snap.Metrics()
	if int(mt["master/slaves_active"]) != agents || int(mt["master/tasks_running"]) != agents*perAgent {
		tb.Fatalf("after the storm the master has %v active agents and %v running tasks; want %d and %d",
			mt["master/slaves_active"], mt["master/tasks_running"], agents, agents*perAgent)
	}
	return st
}

// stormWriter is an agent's side of its stream, served without a
// connection: it decodes the first record the master writes and hands it
// to first (or the error that came instead), and drops the rest.
type stormWriter struct {
	header http.Header
	mu     sync.Mutex
	status int
	buf    []byte
	first  func(*agentproto.MasterMessage, error)
}

func newStormWriter(first func(*agentproto.MasterMessage, error)) *stormWriter {
	return &stormWriter{header: http.Header{}, first: first}
}

func (w *stormWriter) Header() http.Header { return w.header }

func (w *stormWriter) WriteHeader(status int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status == 0 {
		w.status = status
	}
}

func (w *stormWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.first == nil {
		return len(p), nil
	}
	if w.status != http.StatusOK {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	// A record is its length in decimal, a newline, and that many bytes.
	nl := bytes.IndexByte(w.buf, '\n')
	if nl < 0 {
		return len(p), nil
	}
	n, err := strconv.Atoi(string(w.buf[:nl]))
	if err != nil {
		w.first(nil, fmt.Errorf("bad record length %q", w.buf[:nl]))
		w.first, w.buf = nil, nil
		return len(p), nil
	}
	if len(w.buf)-nl-1 < n {
		return len(p), nil // not a whole record yet
	}
	msg := &agentproto.MasterMessage{}
	err = proto.Unmarshal(w.buf[nl+1:nl+1+n], msg)
	w.first(msg, err)
	w.first, w.buf = nil, nil
	return len(p), nil
}

func (w *stormWriter) Flush() {}

// ended reports a stream that ended before its first record.
func (w *stormWriter) ended() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.first != nil {
		w.first(nil, fmt.Errorf("the stream ended before a record: HTTP %d: %s", w.status, bytes.TrimSpace(w.buf)))
		w.first = nil
	}
}

// SetWriteDeadline lets pump bound its writes, as a server's connection
// does.
func (w *stormWriter) SetWriteDeadline(time.Time) error { return nil }
