package agent

import (
	"context"
	"maps"
	"math"
	"net/http"
	"slices"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent/core"
	agentpb "github.com/gomesos/gomesos/api/v1/agent"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/prom"
)

// The agent's v1 operator API, POST /api/v1 (Mesos's slave/http.cpp,
// Http::api): the read calls answer from the published snapshot (the same
// one /state renders) and the files logic of /files/*; SET_LOGGING_LEVEL
// changes the process's verbosity. The container calls (launch, wait, kill
// and remove of nested and standalone containers, attach, sessions) and the
// resource-provider calls are not supported: Gomesos's agent runs one
// container per executor and no nested or standalone ones, so they answer
// 501.

// validateAgentCall is Mesos's validation of agent::Call, for the calls
// the agent serves and the nested-container ones; it returns the reason a
// call is invalid, or "".
func validateAgentCall(call *agentpb.Call) string {
	if call.Type == nil {
		return "Expecting 'type' to be present"
	}
	type nested interface{ GetContainerId() *mesos.ContainerID }
	needParent := func(name string, present bool, c nested) string {
		if !present {
			return "Expecting '" + name + "' to be present"
		}
		if c.GetContainerId().GetParent() == nil {
			return "Expecting '" + name + ".container_id.parent' to be present"
		}
		return ""
	}
	switch call.GetType() {
	case agentpb.Call_GET_METRICS:
		if call.GetMetrics == nil {
			return "Expecting 'get_metrics' to be present"
		}
	case agentpb.Call_SET_LOGGING_LEVEL:
		if call.SetLoggingLevel == nil {
			return "Expecting 'set_logging_level' to be present"
		}
		if call.GetSetLoggingLevel().GetDuration().GetNanoseconds() < 0 {
			return "'set_logging_level.duration' must not be negative"
		}
	case agentpb.Call_LIST_FILES:
		if call.ListFiles == nil {
			return "Expecting 'list_files' to be present"
		}
	case agentpb.Call_READ_FILE:
		if call.ReadFile == nil {
			return "Expecting 'read_file' to be present"
		}
	case agentpb.Call_LAUNCH_NESTED_CONTAINER:
		return needParent("launch_nested_container", call.LaunchNestedContainer != nil, call.GetLaunchNestedContainer())
	case agentpb.Call_WAIT_NESTED_CONTAINER:
		return needParent("wait_nested_container", call.WaitNestedContainer != nil, call.GetWaitNestedContainer())
	case agentpb.Call_KILL_NESTED_CONTAINER:
		return needParent("kill_nested_container", call.KillNestedContainer != nil, call.GetKillNestedContainer())
	case agentpb.Call_REMOVE_NESTED_CONTAINER:
		return needParent("remove_nested_container", call.RemoveNestedContainer != nil, call.GetRemoveNestedContainer())
	case agentpb.Call_LAUNCH_NESTED_CONTAINER_SESSION:
		return needParent("launch_nested_container_session", call.LaunchNestedContainerSession != nil, call.GetLaunchNestedContainerSession())
	}
	return ""
}

// serveOperatorAPI is POST /api/v1, with Mesos's ladder: the request (405,
// 400, 415), the call's validation (400), Accept (406), then the call. A
// large answer is gzip-compressed for a client that accepts it.
func (a *Agent) serveOperatorAPI(w http.ResponseWriter, r *http.Request) {
	call := &agentpb.Call{}
	if _, rerr := codec.DecodeCall(r.Method, r.Header.Get("Content-Type"), codec.SizedBody{Reader: r.Body, Size: r.ContentLength}, maxCallBody, call); rerr != nil {
		requestError(w, rerr)
		return
	}
	if msg := validateAgentCall(call); msg != "" {
		httpError(w, http.StatusBadRequest, "Failed to validate agent::Call: "+msg)
		return
	}
	// No call the agent serves streams its response.
	enc, recordio, ok := codec.Negotiate(r.Header.Get("Accept"), "")
	switch {
	case !ok:
		httpError(w, http.StatusNotAcceptable, "Expecting 'Accept' to allow "+codec.MediaJSON+" or "+codec.MediaProtobuf+" or "+codec.MediaRecordIO)
		return
	case recordio:
		httpError(w, http.StatusNotAcceptable, "Streaming response is not supported for "+call.GetType().String()+" call")
		return
	case r.Header.Get("Message-Accept") != "":
		httpError(w, http.StatusNotAcceptable, "Expecting 'Message-Accept' to be not set for non-streaming responses")
		return
	}

	var resp *agentpb.Response
	switch call.GetType() {
	case agentpb.Call_GET_HEALTH:
		resp = &agentpb.Response{Type: agentpb.Response_GET_HEALTH.Enum(),
			GetHealth: &agentpb.Response_GetHealth{Healthy: proto.Bool(true)}}
	case agentpb.Call_GET_FLAGS:
		resp = &agentpb.Response{Type: agentpb.Response_GET_FLAGS.Enum(), GetFlags: a.v1Flags()}
	case agentpb.Call_GET_VERSION:
		resp = &agentpb.Response{Type: agentpb.Response_GET_VERSION.Enum(),
			GetVersion: &agentpb.Response_GetVersion{VersionInfo: a.versionInfo()}}
	case agentpb.Call_GET_METRICS:
		resp = &agentpb.Response{Type: agentpb.Response_GET_METRICS.Enum(),
			GetMetrics: a.v1Metrics(r.Context(), call.GetGetMetrics().GetTimeout())}
	case agentpb.Call_GET_LOGGING_LEVEL:
		resp = &agentpb.Response{Type: agentpb.Response_GET_LOGGING_LEVEL.Enum(),
			GetLoggingLevel: &agentpb.Response_GetLoggingLevel{Level: proto.Uint32(a.verbosity.Level())}}
	case agentpb.Call_SET_LOGGING_LEVEL:
		set := call.GetSetLoggingLevel()
		a.verbosity.Set(set.GetLevel(), time.Duration(set.GetDuration().GetNanoseconds()))
		a.log.Info("logging verbosity set", "level", set.GetLevel(), "duration", time.Duration(set.GetDuration().GetNanoseconds()))
		w.WriteHeader(http.StatusOK)
		return
	case agentpb.Call_LIST_FILES:
		entries, err := a.files.list(call.GetListFiles().GetPath())
		if err != nil {
			failFiles(w, err)
			return
		}
		lf := &agentpb.Response_ListFiles{}
		for _, e := range entries {
			lf.FileInfos = append(lf.FileInfos, fileInfoProto(e))
		}
		resp = &agentpb.Response{Type: agentpb.Response_LIST_FILES.Enum(), ListFiles: lf}
	case agentpb.Call_READ_FILE:
		rf := call.GetReadFile()
		offset := int64(min(rf.GetOffset(), math.MaxInt64))
		length := int64(-1)
		if rf.Length != nil {
			length = int64(min(rf.GetLength(), readCap))
		}
		size, data, err := a.files.readAt(rf.GetPath(), offset, length)
		if err != nil {
			failFiles(w, err)
			return
		}
		if data == nil {
			data = []byte{}
		}
		resp = &agentpb.Response{Type: agentpb.Response_READ_FILE.Enum(),
			ReadFile: &agentpb.Response_ReadFile{Size: proto.Uint64(uint64(size)), Data: data}}
	case agentpb.Call_GET_STATE, agentpb.Call_GET_FRAMEWORKS, agentpb.Call_GET_EXECUTORS,
		agentpb.Call_GET_TASKS, agentpb.Call_GET_AGENT, agentpb.Call_GET_CONTAINERS:
		s, ok := a.pub.latestV1(r.Context(), a.stopped)
		if !ok {
			httpError(w, http.StatusServiceUnavailable, "Agent is shutting down")
			return
		}
		if resp, ok = a.stateResponse(w, r, call.GetType(), s); !ok {
			return
		}
	case agentpb.Call_GET_OPERATIONS:
		// Operations on the agent come from resource providers, which
		// Gomesos's agent does not have.
		resp = &agentpb.Response{Type: agentpb.Response_GET_OPERATIONS.Enum(), GetOperations: &agentpb.Response_GetOperations{}}
	case agentpb.Call_UNKNOWN:
		w.WriteHeader(http.StatusNotImplemented)
		return
	default:
		httpError(w, http.StatusNotImplemented, call.GetType().String()+" is not supported by this agent")
		return
	}
	body, err := codec.Marshal(enc, resp)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "Failed to encode the response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", enc.ContentType())
	if len(body) >= codec.GzipMin && codec.AcceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		body = codec.Gzip(body)
	}
	_, _ = w.Write(body)
}

// stateResponse answers the calls that read the state, from snapshot s;
// false when it answered with an error itself.
func (a *Agent) stateResponse(w http.ResponseWriter, r *http.Request, typ agentpb.Call_Type, s *core.Snapshot) (*agentpb.Response, bool) {
	v := s.V1
	switch typ {
	case agentpb.Call_GET_FRAMEWORKS:
		return &agentpb.Response{Type: agentpb.Response_GET_FRAMEWORKS.Enum(), GetFrameworks: v1Frameworks(v)}, true
	case agentpb.Call_GET_EXECUTORS:
		return &agentpb.Response{Type: agentpb.Response_GET_EXECUTORS.Enum(), GetExecutors: v1Executors(v)}, true
	case agentpb.Call_GET_TASKS:
		return &agentpb.Response{Type: agentpb.Response_GET_TASKS.Enum(), GetTasks: v1Tasks(v)}, true
	case agentpb.Call_GET_AGENT:
		return &agentpb.Response{Type: agentpb.Response_GET_AGENT.Enum(),
			GetAgent: &agentpb.Response_GetAgent{AgentInfo: v.AgentInfo}}, true
	case agentpb.Call_GET_CONTAINERS:
		gc, err := a.v1Containers(r.Context(), s)
		if err != nil {
			httpError(w, http.StatusServiceUnavailable, "Failed to measure the containers: "+err.Error())
			return nil, false
		}
		return &agentpb.Response{Type: agentpb.Response_GET_CONTAINERS.Enum(), GetContainers: gc}, true
	}
	return &agentpb.Response{Type: agentpb.Response_GET_STATE.Enum(), GetState: &agentpb.Response_GetState{
		GetTasks: v1Tasks(v), GetExecutors: v1Executors(v), GetFrameworks: v1Frameworks(v),
	}}, true
}

func v1Frameworks(v *core.V1State) *agentpb.Response_GetFrameworks {
	out := &agentpb.Response_GetFrameworks{}
	for _, f := range v.Frameworks {
		out.Frameworks = append(out.Frameworks, &agentpb.Response_GetFrameworks_Framework{FrameworkInfo: f})
	}
	for _, f := range v.CompletedFrameworks {
		out.CompletedFrameworks = append(out.CompletedFrameworks, &agentpb.Response_GetFrameworks_Framework{FrameworkInfo: f})
	}
	return out
}

func v1Executors(v *core.V1State) *agentpb.Response_GetExecutors {
	out := &agentpb.Response_GetExecutors{}
	for _, e := range v.Executors {
		out.Executors = append(out.Executors, &agentpb.Response_GetExecutors_Executor{ExecutorInfo: e})
	}
	for _, e := range v.CompletedExecutors {
		out.CompletedExecutors = append(out.CompletedExecutors, &agentpb.Response_GetExecutors_Executor{ExecutorInfo: e})
	}
	return out
}

func v1Tasks(v *core.V1State) *agentpb.Response_GetTasks {
	return &agentpb.Response_GetTasks{
		QueuedTasks:     v.QueuedTasks,
		LaunchedTasks:   v.LaunchedTasks,
		TerminatedTasks: v.TerminatedTasks,
		CompletedTasks:  v.CompletedTasks,
	}
}

// v1Containers is GET_CONTAINERS: every executor's container, with its
// status and, when it can be measured, its statistics (as
// /monitor/statistics measures them).
func (a *Agent) v1Containers(ctx context.Context, s *core.Snapshot) (*agentpb.Response_GetContainers, error) {
	usage, err := a.usageIn(ctx, s)
	if err != nil {
		return nil, err
	}
	stats := make(map[string]*mesos.ResourceStatistics, len(usage))
	for _, u := range usage {
		stats[u.ContainerID] = u.Statistics
	}
	out := &agentpb.Response_GetContainers{}
	for _, c := range s.V1.Containers {
		id := &mesos.ContainerID{Value: proto.String(c.ContainerID)}
		st := &mesos.ContainerStatus{ContainerId: id}
		if c.Pid > 0 {
			st.ExecutorPid = proto.Uint32(uint32(c.Pid))
		}
		out.Containers = append(out.Containers, &agentpb.Response_GetContainers_Container{
			FrameworkId:        &mesos.FrameworkID{Value: proto.String(c.FrameworkID)},
			ExecutorId:         &mesos.ExecutorID{Value: proto.String(c.ExecutorID)},
			ExecutorName:       proto.String(c.ExecutorName),
			ContainerId:        id,
			ContainerStatus:    st,
			ResourceStatistics: stats[c.ContainerID],
		})
	}
	return out, nil
}

// v1Flags is GET_FLAGS: the flags /flags shows, by name.
func (a *Agent) v1Flags() *agentpb.Response_GetFlags {
	out := &agentpb.Response_GetFlags{}
	for _, k := range slices.Sorted(maps.Keys(a.flags)) {
		out.Flags = append(out.Flags, &mesos.Flag{Name: proto.String(k), Value: proto.String(a.flags[k])})
	}
	return out
}

// versionInfo is GET_VERSION's answer, the /version document.
func (a *Agent) versionInfo() *mesos.VersionInfo {
	b := a.build
	v := &mesos.VersionInfo{Version: proto.String(b.Version), BuildDate: proto.String(b.Date),
		BuildTime: proto.Float64(b.Time), BuildUser: proto.String(b.User)}
	if b.GitSHA != "" {
		v.GitSha = proto.String(b.GitSHA)
	}
	return v
}

// v1Metrics is GET_METRICS: the figures of /metrics/snapshot, by name. With
// a timeout, the agent's own (slave/*) are left out when its snapshot is
// not published within it, as Mesos leaves out the metrics that miss it.
func (a *Agent) v1Metrics(ctx context.Context, timeout *mesos.DurationInfo) *agentpb.Response_GetMetrics {
	if timeout != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(max(timeout.GetNanoseconds(), 0)))
		defer cancel()
	}
	m := prom.System()
	if s, ok := a.pub.latest(ctx, a.stopped); ok {
		m = a.figures(s)
	}
	out := &agentpb.Response_GetMetrics{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out.Metrics = append(out.Metrics, &mesos.Metric{Name: proto.String(k), Value: proto.Float64(m[k])})
	}
	return out
}

// fileInfoProto is a listing's entry as LIST_FILES shows it: Mesos's
// FileInfo, with the raw st_mode and the mtime in whole seconds.
func fileInfoProto(e fileEntry) *mesos.FileInfo {
	j := fileInfo(e.virtual, e.info)
	fi := &mesos.FileInfo{
		Path:  proto.String(j.Path),
		Nlink: proto.Int32(int32(j.Nlink)),
		Size:  proto.Uint64(uint64(max(j.Size, 0))),
		Mtime: &mesos.TimeInfo{Nanoseconds: proto.Int64(e.info.ModTime().Unix() * int64(time.Second))},
		Uid:   proto.String(j.UID),
		Gid:   proto.String(j.GID),
	}
	if st, ok := e.info.Sys().(*syscall.Stat_t); ok {
		fi.Mode = proto.Uint32(uint32(st.Mode))
	} else {
		fi.Mode = proto.Uint32(uint32(e.info.Mode().Perm()))
	}
	return fi
}
