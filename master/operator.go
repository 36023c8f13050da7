package master

import (
	"maps"
	"net/http"
	"slices"
	"time"

	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master/core"
	"google.golang.org/protobuf/proto"
)

// The v1 operator API, POST /api/v1: the calls that read answer from the
// latest snapshot, on the handler's goroutine; those that change state go
// through the loop as core.OperatorCall; SUBSCRIBE streams the master's
// events (operator_stream.go). Only the leading master answers; the
// others redirect to it, as Mesos's do.

// maxOperatorSubscribers bounds the operator event streams
// (--max_operator_event_stream_subscribers).
const maxOperatorSubscribers = 1000

// subMessage says which sub-message each call requires, as Mesos's
// validation does ("Expecting 'x' to be present").
var subMessage = map[masterpb.Call_Type]func(*masterpb.Call) (string, bool){
	masterpb.Call_SET_LOGGING_LEVEL:   func(c *masterpb.Call) (string, bool) { return "set_logging_level", c.SetLoggingLevel != nil },
	masterpb.Call_LIST_FILES:          func(c *masterpb.Call) (string, bool) { return "list_files", c.ListFiles != nil },
	masterpb.Call_READ_FILE:           func(c *masterpb.Call) (string, bool) { return "read_file", c.ReadFile != nil },
	masterpb.Call_UPDATE_WEIGHTS:      func(c *masterpb.Call) (string, bool) { return "update_weights", c.UpdateWeights != nil },
	masterpb.Call_RESERVE_RESOURCES:   func(c *masterpb.Call) (string, bool) { return "reserve_resources", c.ReserveResources != nil },
	masterpb.Call_UNRESERVE_RESOURCES: func(c *masterpb.Call) (string, bool) { return "unreserve_resources", c.UnreserveResources != nil },
	masterpb.Call_CREATE_VOLUMES:      func(c *masterpb.Call) (string, bool) { return "create_volumes", c.CreateVolumes != nil },
	masterpb.Call_DESTROY_VOLUMES:     func(c *masterpb.Call) (string, bool) { return "destroy_volumes", c.DestroyVolumes != nil },
	masterpb.Call_GROW_VOLUME:         func(c *masterpb.Call) (string, bool) { return "grow_volume", c.GrowVolume != nil },
	masterpb.Call_SHRINK_VOLUME:       func(c *masterpb.Call) (string, bool) { return "shrink_volume", c.ShrinkVolume != nil },
	masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE: func(c *masterpb.Call) (string, bool) {
		return "update_maintenance_schedule", c.UpdateMaintenanceSchedule != nil
	},
	masterpb.Call_START_MAINTENANCE: func(c *masterpb.Call) (string, bool) { return "start_maintenance", c.StartMaintenance != nil },
	masterpb.Call_STOP_MAINTENANCE:  func(c *masterpb.Call) (string, bool) { return "stop_maintenance", c.StopMaintenance != nil },
	masterpb.Call_DRAIN_AGENT:       func(c *masterpb.Call) (string, bool) { return "drain_agent", c.DrainAgent != nil },
	masterpb.Call_DEACTIVATE_AGENT:  func(c *masterpb.Call) (string, bool) { return "deactivate_agent", c.DeactivateAgent != nil },
	masterpb.Call_REACTIVATE_AGENT:  func(c *masterpb.Call) (string, bool) { return "reactivate_agent", c.ReactivateAgent != nil },
	masterpb.Call_UPDATE_QUOTA:      func(c *masterpb.Call) (string, bool) { return "update_quota", c.UpdateQuota != nil },
	masterpb.Call_SET_QUOTA:         func(c *masterpb.Call) (string, bool) { return "set_quota", c.SetQuota != nil },
	masterpb.Call_REMOVE_QUOTA:      func(c *masterpb.Call) (string, bool) { return "remove_quota", c.RemoveQuota != nil },
	masterpb.Call_TEARDOWN:          func(c *masterpb.Call) (string, bool) { return "teardown", c.Teardown != nil },
	masterpb.Call_MARK_AGENT_GONE:   func(c *masterpb.Call) (string, bool) { return "mark_agent_gone", c.MarkAgentGone != nil },
}

// validateOperatorCall checks what Mesos checks of every call before
// serving it: a known type, and the sub-message it needs.
func validateOperatorCall(c *masterpb.Call) string {
	if c.Type == nil {
		return "Expecting 'type' to be present"
	}
	if _, known := masterpb.Call_Type_name[int32(c.GetType())]; !known || c.GetType() == masterpb.Call_UNKNOWN {
		return "Unknown call type"
	}
	if need := subMessage[c.GetType()]; need != nil {
		if name, ok := need(c); !ok {
			return "Expecting '" + name + "' to be present"
		}
	}
	return ""
}

func (m *Master) handleOperator(w http.ResponseWriter, r *http.Request) {
	if !m.leadGate(w, r) {
		return
	}
	call := &masterpb.Call{}
	if !decodeCall(w, r, call) {
		return
	}
	if msg := validateOperatorCall(call); msg != "" {
		textError(w, http.StatusBadRequest, "Failed to validate master::Call: "+msg)
		return
	}
	if call.GetType() == masterpb.Call_SUBSCRIBE {
		m.operatorSubscribe(w, r)
		return
	}
	enc, _, ok := codec.Negotiate(r.Header.Get("Accept"), "")
	if !ok {
		textError(w, http.StatusNotAcceptable, "Expecting 'Accept' to allow '"+codec.MediaProtobuf+"' or '"+codec.MediaJSON+"'")
		return
	}
	if resp, status, msg := m.operatorRead(r, call); status != 0 {
		if msg != "" {
			textError(w, status, msg)
			return
		}
		writeMessage(w, r, enc, resp)
		return
	}
	m.operatorWrite(w, r, call)
}

// writeMessage answers 200 with a message in the encoding negotiated,
// gzip-compressed when the client accepts it and the body is large enough
// to gain from it (as Mesos compresses its operator responses).
func writeMessage(w http.ResponseWriter, r *http.Request, enc codec.Encoding, msg proto.Message) {
	b, err := codec.Marshal(enc, msg)
	if err != nil {
		textError(w, http.StatusInternalServerError, "encoding the response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", enc.ContentType())
	if len(b) >= codec.GzipMin && codec.AcceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		b = codec.Gzip(b)
	}
	_, _ = w.Write(b)
}

// operatorRead answers the calls that only read. A zero status means the
// call is not one of them.
func (m *Master) operatorRead(r *http.Request, call *masterpb.Call) (resp *masterpb.Response, status int, msg string) {
	typed := func(t masterpb.Response_Type) *masterpb.Response { return &masterpb.Response{Type: t.Enum()} }
	switch call.GetType() {
	case masterpb.Call_GET_HEALTH:
		resp = typed(masterpb.Response_GET_HEALTH)
		resp.GetHealth = &masterpb.Response_GetHealth{Healthy: proto.Bool(true)}
	case masterpb.Call_GET_FLAGS:
		resp = typed(masterpb.Response_GET_FLAGS)
		flags := m.flags()
		out := &masterpb.Response_GetFlags{}
		for _, k := range slices.Sorted(maps.Keys(flags)) {
			out.Flags = append(out.Flags, &mesos.Flag{Name: proto.String(k), Value: proto.String(flags[k])})
		}
		resp.GetFlags = out
	case masterpb.Call_GET_VERSION:
		resp = typed(masterpb.Response_GET_VERSION)
		resp.GetVersion = &masterpb.Response_GetVersion{VersionInfo: versionInfo(m.cfg.Build)}
	case masterpb.Call_GET_METRICS:
		resp = typed(masterpb.Response_GET_METRICS)
		// As /metrics/snapshot's ?timeout=: the timeout bounds the wait
		// for a fresh snapshot; the last published one answers after it.
		wait := freshWait
		if t := call.GetGetMetrics().GetTimeout(); t != nil {
			if t.GetNanoseconds() < 0 {
				return nil, http.StatusBadRequest, "Failed to validate master::Call: Expecting 'get_metrics.timeout' to be non-negative"
			}
			wait = min(wait, time.Duration(t.GetNanoseconds()))
		}
		metrics := m.figures(m.latestWithin(wait))
		out := &masterpb.Response_GetMetrics{}
		for _, k := range slices.Sorted(maps.Keys(metrics)) {
			out.Metrics = append(out.Metrics, &mesos.Metric{Name: proto.String(k), Value: proto.Float64(metrics[k])})
		}
		resp.GetMetrics = out
	case masterpb.Call_GET_LOGGING_LEVEL:
		resp = typed(masterpb.Response_GET_LOGGING_LEVEL)
		resp.GetLoggingLevel = &masterpb.Response_GetLoggingLevel{Level: proto.Uint32(m.verbosity.Level())}
	case masterpb.Call_SET_LOGGING_LEVEL:
		s := call.GetSetLoggingLevel()
		d := time.Duration(s.GetDuration().GetNanoseconds())
		if s.Duration == nil || d <= 0 {
			return nil, http.StatusBadRequest, "Failed to validate master::Call: Expecting 'set_logging_level.duration' to be a positive duration"
		}
		m.verbosity.Set(s.GetLevel(), d)
		return nil, http.StatusOK, ""
	case masterpb.Call_LIST_FILES, masterpb.Call_READ_FILE:
		// The master serves no files (Mesos's serves its log file when
		// --log_dir is set; ours logs to stderr).
		path := call.GetListFiles().GetPath()
		if call.GetType() == masterpb.Call_READ_FILE {
			path = call.GetReadFile().GetPath()
		}
		return nil, http.StatusNotFound, "No file or directory found at path '" + path + "'"
	case masterpb.Call_GET_STATE:
		resp = typed(masterpb.Response_GET_STATE)
		resp.GetState = m.readSnapshot().OperatorState()
	case masterpb.Call_GET_AGENTS:
		resp = typed(masterpb.Response_GET_AGENTS)
		resp.GetAgents = m.readSnapshot().OperatorAgents()
	case masterpb.Call_GET_FRAMEWORKS:
		resp = typed(masterpb.Response_GET_FRAMEWORKS)
		resp.GetFrameworks = m.readSnapshot().OperatorFrameworks()
	case masterpb.Call_GET_EXECUTORS:
		resp = typed(masterpb.Response_GET_EXECUTORS)
		resp.GetExecutors = m.readSnapshot().OperatorExecutors()
	case masterpb.Call_GET_TASKS:
		resp = typed(masterpb.Response_GET_TASKS)
		resp.GetTasks = m.readSnapshot().OperatorTasks()
	case masterpb.Call_GET_ROLES:
		resp = typed(masterpb.Response_GET_ROLES)
		resp.GetRoles = m.readSnapshot().OperatorRoles()
	case masterpb.Call_GET_WEIGHTS:
		resp = typed(masterpb.Response_GET_WEIGHTS)
		resp.GetWeights = m.readSnapshot().OperatorWeights()
	case masterpb.Call_GET_MASTER:
		resp = typed(masterpb.Response_GET_MASTER)
		resp.GetMaster = m.readSnapshot().OperatorMaster()
	case masterpb.Call_GET_QUOTA:
		resp = typed(masterpb.Response_GET_QUOTA)
		resp.GetQuota = &masterpb.Response_GetQuota{Status: m.readSnapshot().QuotaStatus()}
	case masterpb.Call_GET_MAINTENANCE_SCHEDULE:
		resp = typed(masterpb.Response_GET_MAINTENANCE_SCHEDULE)
		resp.GetMaintenanceSchedule = &masterpb.Response_GetMaintenanceSchedule{Schedule: m.readSnapshot().MaintenanceSchedule()}
	case masterpb.Call_GET_MAINTENANCE_STATUS:
		resp = typed(masterpb.Response_GET_MAINTENANCE_STATUS)
		resp.GetMaintenanceStatus = &masterpb.Response_GetMaintenanceStatus{Status: m.readSnapshot().MaintenanceStatus()}
	default:
		return nil, 0, ""
	}
	return resp, http.StatusOK, ""
}

// readSnapshot is the latest snapshot, read under the encoders' gate so
// that readers leave the loop a processor.
func (m *Master) readSnapshot() *core.Snapshot {
	m.warm.read(time.Now())
	return m.latest()
}

// versionInfo is the build as the operator API shows it.
func versionInfo(b codec.BuildInfo) *mesos.VersionInfo {
	v := &mesos.VersionInfo{Version: proto.String(b.Version), BuildDate: proto.String(b.Date), BuildTime: proto.Float64(b.Time), BuildUser: proto.String(b.User)}
	if b.GitSHA != "" {
		v.GitSha = proto.String(b.GitSHA)
	}
	return v
}
