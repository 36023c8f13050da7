package core

import (
	"fmt"
	"io"
	"runtime"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/resources"
)

// bigCluster is agents agents running perAgent tasks each for one
// framework, every task reported running.
func bigCluster(tb testing.TB, agents, perAgent int) (*rig, rigFramework, []rigAgent) {
	r := newRig(tb)
	res := resources.ToProto(resources.MustParse(fmt.Sprintf("cpus:%d;mem:%d;ports:[31000-32000]", perAgent+2, (perAgent+2)*128)))
	var as []rigAgent
	for i := range agents {
		as = append(as, r.agent(fmt.Sprintf("conn-%d", i), &mesos.AgentInfo{
			Hostname: proto.String(fmt.Sprintf("agent%05d.example", i)), Port: proto.Int32(5051), Resources: res,
		}, fmt.Sprintf("10.0.%d.%d:5051", i/256, i%256)))
	}
	fw := r.subscribe("stream", &mesos.FrameworkInfo{Name: proto.String("big"), User: proto.String("u")})
	r.tick()
	offers := map[string]*mesos.Offer{}
	for _, ev := range r.events[fw.stream] {
		for _, o := range ev.GetOffers().GetOffers() {
			offers[o.GetAgentId().GetValue()] = o
		}
	}
	n := 0
	for _, a := range as {
		var tasks []*mesos.TaskInfo
		for range perAgent {
			tasks = append(tasks, cmdTask(fmt.Sprintf("task-%07d", n), a, "cpus:1;mem:128"))
			n++
		}
		r.accept(fw, offers[a.id], launch(tasks...))
		for _, t := range tasks {
			r.update(a, fw, t.GetTaskId().GetValue(), mesos.TaskState_TASK_RUNNING, nil)
		}
		r.events[fw.stream] = nil
	}
	r.c.Outputs()
	return r, fw, as
}

// What publishing a snapshot costs after one status update.
func BenchmarkSnapshotAfterUpdate(b *testing.B) {
	r, fw, as := bigCluster(b, 1000, 10)
	r.c.Snapshot()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		a := as[i%len(as)]
		r.update(a, fw, fmt.Sprintf("task-%07d", (i%len(as))*10), mesos.TaskState_TASK_RUNNING, nil)
		r.c.Snapshot()
		i++
	}
}

// What writing /master/state of 10,000 tasks costs once every record is
// encoded, and when none is.
func BenchmarkWriteState(b *testing.B) {
	r, _, _ := bigCluster(b, 1000, 10)
	s := r.c.Snapshot()
	b.Run("cached", func(b *testing.B) {
		_ = s.WriteState(io.Discard, viewsBuild, nil, "")
		for b.Loop() {
			_ = s.WriteState(io.Discard, viewsBuild, nil, "")
		}
	})
	b.Run("fresh", func(b *testing.B) {
		for b.Loop() {
			_ = r.c.FullSnapshot().WriteState(io.Discard, viewsBuild, nil, "")
		}
	})
}

// The same updates without publishing: what the step itself costs.
func BenchmarkUpdateWithoutSnapshot(b *testing.B) {
	r, fw, as := bigCluster(b, 1000, 10)
	r.c.Snapshot()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		a := as[i%len(as)]
		r.update(a, fw, fmt.Sprintf("task-%07d", (i%len(as))*10), mesos.TaskState_TASK_RUNNING, nil)
		i++
		if i%1000 == 0 {
			b.StopTimer()
			r.c.Snapshot()
			b.StartTimer()
		}
	}
}

// What encoding one record costs (done once per record version).
func BenchmarkEncodeRecord(b *testing.B) {
	r, _, _ := bigCluster(b, 10, 10)
	s := r.c.Snapshot()
	fw, _ := s.frameworks.Get(r.c.info.GetId() + "-0000")
	t, _ := fw.tasks.Get("task-0000000")
	a, _ := s.agents.Get(t.agentID)
	b.Run("task", func(b *testing.B) {
		for b.Loop() {
			_ = t.appendJSON(nil)
		}
	})
	b.Run("agent", func(b *testing.B) {
		for b.Loop() {
			_ = append(a.appendFields(nil), '}')
		}
	})
}

// What a newly elected master spends on each agent that re-registers with
// its tasks (10 each, as `gomesos bench failover` runs them), the registry
// recovered: the step alone, without HTTP or protobuf decoding.
func BenchmarkReregisterAfterFailover(b *testing.B) {
	const agents, perAgent = 1000, 10
	old, fw, _ := bigCluster(b, agents, perAgent)
	fi := &mesos.FrameworkInfo{Id: &mesos.FrameworkID{Value: proto.String(fw.id)}, Name: proto.String("big"), User: proto.String("u")}
	byAgent := map[string][]*mesos.Task{}
	for _, t := range old.c.frameworks[fw.id].tasks {
		byAgent[t.agentID] = append(byAgent[t.agentID], &mesos.Task{
			Name: t.info.name, TaskId: t.taskIDProto(), FrameworkId: fi.Id, AgentId: &mesos.AgentID{Value: proto.String(t.agentID)},
			State: mesos.TaskState_TASK_RUNNING.Enum(), Resources: resources.ToProto(t.res),
		})
	}
	infos := old.reg.GetAgents().GetAgents()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		r := old.failover(Options{})
		b.StartTimer()
		for i, a := range infos {
			info := a.GetInfo()
			r.reregister(fmt.Sprintf("conn-%d", i), info, []*mesos.FrameworkInfo{fi}, byAgent[info.GetId().GetValue()])
		}
		b.StopTimer()
		back := 0
		for _, a := range r.c.agents {
			if a.conn != "" && len(a.tasks) == perAgent {
				back++
			}
		}
		if back != agents {
			b.Fatalf("%d agents back with their tasks after re-registration, want %d", back, agents)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*agents), "ns/agent")
}

// BenchmarkLiveTaskMemory reports the heap the core holds for each live
// (running) task, its published records included: the heap after a
// collection with 1,000 agents running 20 tasks each, less the same
// cluster's before the launches, over the 20,000 tasks. The rig's own
// records of events and outputs are dropped before each measure.
//
//	go test ./master/core/ -run '^$' -bench LiveTaskMemory -benchtime=1x
func BenchmarkLiveTaskMemory(b *testing.B) {
	const agents, perAgent = 1000, 20
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for b.Loop() {
		r := newRig(b)
		res := resources.ToProto(resources.MustParse(fmt.Sprintf("cpus:%d;mem:%d", perAgent, perAgent*128)))
		var as []rigAgent
		for i := range agents {
			as = append(as, r.agent(fmt.Sprintf("conn-%d", i), &mesos.AgentInfo{
				Hostname: proto.String(fmt.Sprintf("agent%05d.example", i)), Port: proto.Int32(5051), Resources: res,
			}, fmt.Sprintf("10.0.%d.%d:5051", i/256, i%256)))
		}
		fw := r.subscribe("stream", &mesos.FrameworkInfo{Name: proto.String("big"), User: proto.String("u")})
		r.tick()
		offers := map[string]*mesos.Offer{}
		for _, ev := range r.events[fw.stream] {
			for _, o := range ev.GetOffers().GetOffers() {
				offers[o.GetAgentId().GetValue()] = o
			}
		}
		r.c.Snapshot()
		r.c.Outputs()
		r.events, r.outs = map[string][]*schedpb.Event{}, nil
		before := heap()
		n := 0
		for _, a := range as {
			var tasks []*mesos.TaskInfo
			for range perAgent {
				tasks = append(tasks, cmdTask(fmt.Sprintf("task-%07d", n), a, "cpus:1;mem:128"))
				n++
			}
			r.accept(fw, offers[a.id], launch(tasks...))
			for _, t := range tasks {
				r.update(a, fw, t.GetTaskId().GetValue(), mesos.TaskState_TASK_RUNNING, nil)
			}
			r.c.Snapshot()
			r.c.Outputs()
			r.events, r.outs = map[string][]*schedpb.Event{}, nil
		}
		after := heap()
		if live := len(r.c.frameworks[fw.id].tasks); live != n {
			b.Fatalf("%d live tasks, want %d", live, n)
		}
		b.ReportMetric(float64(after-before)/float64(n), "B/live-task")
		runtime.KeepAlive(r)
	}
}

// What reading the metrics of 1,000 agents with 10 tasks each costs (a
// monitor polls them, and so does `gomesos bench failover`, every 250 ms).
func BenchmarkMetrics(b *testing.B) {
	r, _, _ := bigCluster(b, 1000, 10)
	s := r.c.Snapshot()
	b.ReportAllocs()
	for b.Loop() {
		s.Metrics()
	}
}
