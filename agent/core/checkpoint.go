package core

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec/legacy"
)

// The buckets of the checkpoint, and their keys.
const (
	// BucketMeta holds the agent's identity under KeyAgent.
	BucketMeta = "meta"
	// BucketFrameworks holds each checkpointing framework's FrameworkInfo,
	// keyed by framework id.
	BucketFrameworks = "frameworks"
	// BucketExecutors holds each executor run of a checkpointing
	// framework, keyed "<framework id>/<executor id>".
	BucketExecutors = "executors"
	// BucketStreams holds each status update stream of a checkpointing
	// framework, keyed "<framework id>/<task id>".
	BucketStreams = "streams"

	// KeyAgent is the agent's AgentInfo, with its id, in BucketMeta.
	KeyAgent = "agent"
)

// Buckets lists every bucket of the checkpoint.
var Buckets = []string{BucketMeta, BucketFrameworks, BucketExecutors, BucketStreams}

// Checkpoint is durable state the step changed. When a step emits one, it
// is its first output, and the driver must have it on disk (all of Ops in
// one transaction) before it performs any other output of the step: that
// is how an update is recorded before it is forwarded or acknowledged. A
// driver that cannot persist it must stop: the agent cannot keep its word.
type Checkpoint struct{ Ops []CheckpointOp }

// CheckpointOp sets Bucket/Key to Value, or deletes it when Value is nil.
type CheckpointOp struct {
	Bucket, Key string
	Value       []byte
}

func (Checkpoint) isOutput() {}

// ApplyCheckpoint applies ops to an in-memory checkpoint (bucket → key →
// value), as a store would: what DecodeCheckpoint reads back. It allocates
// buckets as needed.
func ApplyCheckpoint(b map[string]map[string][]byte, ops []CheckpointOp) {
	for _, op := range ops {
		if op.Value == nil {
			delete(b[op.Bucket], op.Key)
			continue
		}
		if b[op.Bucket] == nil {
			b[op.Bucket] = make(map[string][]byte)
		}
		b[op.Bucket][op.Key] = bytes.Clone(op.Value)
	}
}

// Recover hands a restarted agent what it checkpointed. It is fed once,
// before Start. Containers are the containers the containerizer found of
// the checkpointed ones: Alive ones run and their executors have
// ExecutorReregistrationTimeout to subscribe again; ended ones
// (Alive=false) end their executors at once with Status. A checkpointed
// container not listed is waited for like a live one: its end, if it
// ended, comes as ContainerExited.
type Recover struct {
	State      *Recovered
	Containers []RecoveredContainer
}

// RecoveredContainer is a checkpointed container as the containerizer
// found it.
type RecoveredContainer struct {
	ContainerID string
	Pid         int
	Alive       bool
	Status      int // the wait status, when it ended (-1 if unknown)
}

func (Recover) isInput() {}

// Recovered is the agent's state as read back from a checkpoint by
// DecodeCheckpoint.
type Recovered struct {
	// AgentID is the id the master gave the agent; "" when the checkpoint
	// holds none (the agent registers as a new one).
	AgentID string
	// AgentInfo is the checkpointed AgentInfo, nil when none; see
	// CheckCompatible.
	AgentInfo *mesos.AgentInfo
	// ContainerIDs are the containers of checkpointed executors still
	// running when the agent last wrote, sorted: what the containerizer
	// must recover (the rest are orphans).
	ContainerIDs []string
	// Resources are the checkpointed resources (dynamic reservations and
	// persistent volumes) the agent applies to its --resources.
	Resources []*mesos.Resource

	frameworks []*mesos.FrameworkInfo
	executors  []*agentproto.CheckpointedExecutor
	streams    []*agentproto.CheckpointedStream
}

// Empty reports whether there is nothing to recover.
func (r *Recovered) Empty() bool {
	return r == nil || (r.AgentID == "" && len(r.frameworks) == 0 && len(r.executors) == 0 && len(r.streams) == 0)
}

// DecodeCheckpoint builds the recovered state from a checkpoint's buckets
// (bucket → key → value). A value that does not decode, or whose key does
// not match its contents, is an error naming its bucket and key. Unknown
// buckets are an error too.
func DecodeCheckpoint(b map[string]map[string][]byte) (*Recovered, error) {
	r := &Recovered{}
	for bucket := range b {
		if !slices.Contains(Buckets, bucket) {
			return nil, fmt.Errorf("checkpoint: unknown bucket %q", bucket)
		}
	}
	bad := func(bucket, key string, err error) error {
		return fmt.Errorf("checkpoint: bucket %q, key %q: %w", bucket, key, err)
	}
	for _, key := range sortedKeys(b[BucketMeta]) {
		if key != KeyAgent {
			return nil, bad(BucketMeta, key, fmt.Errorf("unknown key"))
		}
		var m agentproto.CheckpointedAgent
		if err := proto.Unmarshal(b[BucketMeta][key], &m); err != nil {
			return nil, bad(BucketMeta, key, err)
		}
		r.AgentInfo = m.GetAgentInfo()
		r.Resources = m.GetCheckpointedResources()
		r.AgentID = m.GetAgentInfo().GetId().GetValue()
	}
	for _, key := range sortedKeys(b[BucketFrameworks]) {
		var m agentproto.CheckpointedFramework
		if err := proto.Unmarshal(b[BucketFrameworks][key], &m); err != nil {
			return nil, bad(BucketFrameworks, key, err)
		}
		if id := m.GetInfo().GetId().GetValue(); id != key {
			return nil, bad(BucketFrameworks, key, fmt.Errorf("holds framework %q", id))
		}
		r.frameworks = append(r.frameworks, m.GetInfo())
	}
	known := func(fwID string) bool {
		return slices.ContainsFunc(r.frameworks, func(f *mesos.FrameworkInfo) bool { return f.GetId().GetValue() == fwID })
	}
	for _, key := range sortedKeys(b[BucketExecutors]) {
		m := &agentproto.CheckpointedExecutor{}
		if err := proto.Unmarshal(b[BucketExecutors][key], m); err != nil {
			return nil, bad(BucketExecutors, key, err)
		}
		fwID := m.GetInfo().GetFrameworkId().GetValue()
		if want := executorKey(fwID, m.GetInfo().GetExecutorId().GetValue()); want != key {
			return nil, bad(BucketExecutors, key, fmt.Errorf("holds executor %q", want))
		}
		if !known(fwID) {
			return nil, bad(BucketExecutors, key, fmt.Errorf("framework %q is not checkpointed", fwID))
		}
		if m.GetContainerId() == "" {
			return nil, bad(BucketExecutors, key, fmt.Errorf("no container id"))
		}
		r.executors = append(r.executors, m)
		if !m.GetTerminated() {
			r.ContainerIDs = append(r.ContainerIDs, m.GetContainerId())
		}
	}
	for _, key := range sortedKeys(b[BucketStreams]) {
		m := &agentproto.CheckpointedStream{}
		if err := proto.Unmarshal(b[BucketStreams][key], m); err != nil {
			return nil, bad(BucketStreams, key, err)
		}
		fwID := m.GetFrameworkId().GetValue()
		if want := streamKey(updateKey{fwID, m.GetTaskId().GetValue()}); want != key {
			return nil, bad(BucketStreams, key, fmt.Errorf("holds stream %q", want))
		}
		if !known(fwID) {
			return nil, bad(BucketStreams, key, fmt.Errorf("framework %q is not checkpointed", fwID))
		}
		if int(m.GetAcknowledged()) > len(m.GetUpdates()) {
			return nil, bad(BucketStreams, key, fmt.Errorf("%d updates acknowledged of %d", m.GetAcknowledged(), len(m.GetUpdates())))
		}
		r.streams = append(r.streams, m)
	}
	slices.Sort(r.ContainerIDs)
	return r, nil
}

// CheckCompatible reports whether an agent configured with current may
// recover the checkpointed AgentInfo: as Mesos's default
// --reconfiguration_policy=equal, the resources and attributes must be
// equal (in any order). The error names the flag that changed and says how
// to start afresh.
func CheckCompatible(current, checkpointed *mesos.AgentInfo, storePath string) error {
	if checkpointed == nil {
		return nil
	}
	remove := fmt.Sprintf("; to start as a new agent, remove the checkpoint %s (the agent's tasks are then lost)", storePath)
	if !sameSet(current.GetResources(), checkpointed.GetResources()) {
		return fmt.Errorf("incompatible agent info: --resources changed since the checkpoint (was %s, now %s)%s",
			renderResources(checkpointed.GetResources()), renderResources(current.GetResources()), remove)
	}
	if !sameSet(current.GetAttributes(), checkpointed.GetAttributes()) {
		return fmt.Errorf("incompatible agent info: --attributes changed since the checkpoint%s", remove)
	}
	return nil
}

func sameSet[M proto.Message](a, b []M) bool {
	if len(a) != len(b) {
		return false
	}
	enc := func(ms []M) []string {
		out := make([]string, len(ms))
		for i, m := range ms {
			bs, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
			out[i] = string(bs)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(enc(a), enc(b))
}

func renderResources(rs []*mesos.Resource) string {
	var parts []string
	for _, f := range legacy.ResourcesOf(rs) {
		if f.IsText {
			parts = append(parts, f.Key+":"+f.Text)
		} else {
			parts = append(parts, fmt.Sprintf("%s:%g", f.Key, f.Number))
		}
	}
	return strings.Join(parts, ";")
}

func executorKey(fwID, execID string) string { return fwID + "/" + execID }
func streamKey(k updateKey) string           { return k.framework + "/" + k.task }

// ---- Tracking what changed ----

// ckptKey names one checkpointed value.
type ckptKey struct{ bucket, key string }

// tracker remembers what the checkpoint holds and what a step may have
// changed, so that a step writes only the values that changed.
type tracker struct {
	written    map[ckptKey][]byte
	meta       bool
	frameworks map[string]bool
	executors  map[*executor]bool
	streams    map[updateKey]bool
	all        bool
}

func newTracker() *tracker {
	return &tracker{
		written:    make(map[ckptKey][]byte),
		frameworks: make(map[string]bool),
		executors:  make(map[*executor]bool),
		streams:    make(map[updateKey]bool),
	}
}

// touchEx marks an executor's record (and its framework's) for rewriting.
func (c *core) touchEx(ex *executor) {
	if ex != nil {
		c.ckpt.executors[ex] = true
		c.ckpt.frameworks[ex.frameworkID] = true
	}
}

func (c *core) touchFw(id string) { c.ckpt.frameworks[id] = true }

var deterministic = proto.MarshalOptions{Deterministic: true}

func mustMarshal(m proto.Message) []byte {
	b, err := deterministic.Marshal(m)
	if err != nil {
		// Only a message missing a required field fails, and every
		// record here is built with its required fields.
		panic(fmt.Sprintf("agent/core: encoding a checkpoint record: %v", err))
	}
	return b
}

// checkpointing reports whether the framework's state is durable.
func (c *core) checkpointing(fwID string) *framework {
	fw := c.frameworks[fwID]
	if fw == nil || !fw.info.GetCheckpoint() {
		return nil
	}
	return fw
}

// flushCheckpoint computes the values the step changed and returns the
// ops that bring the checkpoint up to date, sorted.
func (c *core) flushCheckpoint() []CheckpointOp {
	t := c.ckpt
	if !t.all && !c.wiped && !t.meta && len(t.frameworks) == 0 && len(t.executors) == 0 && len(t.streams) == 0 {
		return nil
	}
	want := make(map[ckptKey][]byte) // nil value: delete
	if t.all || c.wiped {
		for k := range t.written {
			want[k] = nil
		}
		for k, v := range c.durableState() {
			want[k] = v
		}
	} else {
		if t.meta {
			want[ckptKey{BucketMeta, KeyAgent}] = c.agentRecord()
		}
		for id := range t.frameworks {
			var v []byte
			if fw := c.checkpointing(id); fw != nil {
				v = mustMarshal(&agentproto.CheckpointedFramework{Info: fw.info})
			}
			want[ckptKey{BucketFrameworks, id}] = v
		}
		for ex := range t.executors {
			var v []byte
			if fw := c.checkpointing(ex.frameworkID); fw != nil && fw.executors[ex.id] == ex {
				v = mustMarshal(executorRecord(ex))
			} else if fw != nil && fw.executors[ex.id] != nil {
				// Another run of the same executor id owns the key now.
				continue
			}
			want[ckptKey{BucketExecutors, executorKey(ex.frameworkID, ex.id)}] = v
		}
		for k := range t.streams {
			var v []byte
			if c.checkpointing(k.framework) != nil {
				if s := c.updates.streams[k]; s != nil {
					v = mustMarshal(c.streamRecord(s))
				}
			}
			want[ckptKey{BucketStreams, streamKey(k)}] = v
		}
	}
	var ops []CheckpointOp
	for k, v := range want {
		old, had := t.written[k]
		switch {
		case v == nil && had:
			delete(t.written, k)
			ops = append(ops, CheckpointOp{Bucket: k.bucket, Key: k.key})
		case v != nil && (!had || !bytes.Equal(old, v)):
			t.written[k] = v
			ops = append(ops, CheckpointOp{Bucket: k.bucket, Key: k.key, Value: v})
		}
	}
	t.meta, t.all = false, false
	clear(t.frameworks)
	clear(t.executors)
	clear(t.streams)
	slices.SortFunc(ops, func(a, b CheckpointOp) int {
		return cmp.Or(cmp.Compare(bucketOrder(a.Bucket), bucketOrder(b.Bucket)), cmp.Compare(a.Key, b.Key))
	})
	return ops
}

func bucketOrder(b string) int { return slices.Index(Buckets, b) }

// durableState is every value the checkpoint should hold now, computed
// from scratch. The tests check that the incremental writes add up to it.
func (c *core) durableState() map[ckptKey][]byte {
	out := make(map[ckptKey][]byte)
	if c.wiped {
		return out
	}
	if v := c.agentRecord(); v != nil {
		out[ckptKey{BucketMeta, KeyAgent}] = v
	}
	for _, fw := range c.frameworks {
		if !fw.info.GetCheckpoint() {
			continue
		}
		out[ckptKey{BucketFrameworks, fw.id}] = mustMarshal(&agentproto.CheckpointedFramework{Info: fw.info})
		for _, ex := range fw.executors {
			out[ckptKey{BucketExecutors, executorKey(fw.id, ex.id)}] = mustMarshal(executorRecord(ex))
		}
	}
	for k, s := range c.updates.streams {
		if c.checkpointing(k.framework) != nil {
			out[ckptKey{BucketStreams, streamKey(k)}] = mustMarshal(c.streamRecord(s))
		}
	}
	return out
}

// agentRecord is the agent's identity, nil before it has an id.
func (c *core) agentRecord() []byte {
	if c.agentID == "" {
		return nil
	}
	info := proto.Clone(c.cfg.AgentInfo).(*mesos.AgentInfo)
	info.Id = &mesos.AgentID{Value: proto.String(c.agentID)}
	return mustMarshal(&agentproto.CheckpointedAgent{AgentInfo: info, CheckpointedResources: c.ckptRes})
}

func executorRecord(ex *executor) *agentproto.CheckpointedExecutor {
	m := &agentproto.CheckpointedExecutor{
		Info:        ex.info,
		ContainerId: proto.String(ex.containerID),
		Kind:        agentproto.CheckpointedExecutor_Kind(ex.kind).Enum(),
		Directory:   proto.String(ex.directory),
	}
	if ex.pid > 0 {
		m.Pid = proto.Int32(int32(ex.pid))
	}
	for _, q := range ex.queue {
		m.Queued = append(m.Queued, &agentproto.CheckpointedLaunch{Task: q.task, TaskGroup: q.group})
	}
	for _, tm := range []map[string]*mesos.Task{ex.launched, ex.terminated} {
		for _, id := range sortedKeys(tm) {
			m.Tasks = append(m.Tasks, tm[id])
		}
	}
	if ex.state == execTerminated {
		m.Terminated = proto.Bool(true)
		if ex.exitStatus != nil {
			m.ExitStatus = proto.Int32(int32(*ex.exitStatus))
		}
	}
	m.Killed = sortedKeys(ex.killed)
	return m
}

func (c *core) streamRecord(s *updateStream) *agentproto.CheckpointedStream {
	m := &agentproto.CheckpointedStream{
		FrameworkId:  &mesos.FrameworkID{Value: proto.String(s.key.framework)},
		TaskId:       &mesos.TaskID{Value: proto.String(s.key.task)},
		Acknowledged: proto.Uint32(uint32(len(s.acked))),
	}
	m.Updates = append(append(m.Updates, s.acked...), s.pending...)
	if n := len(m.Updates); n > 0 {
		m.LatestState = m.Updates[n-1].GetStatus().State
	}
	return m
}
