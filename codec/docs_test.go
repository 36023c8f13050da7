package codec

import (
	"encoding/base64"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/executor"
	"github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/api/v1/scheduler"
)

// Request and event bodies from the Apache Mesos documentation
// (docs/scheduler-http-api.md and docs/executor-http-api.md), tabs and
// spacing kept. Where the docs are not valid JSON (trailing commas, "...")
// the fix is noted; where they do not match the v1 protos, the example
// shows how the codec treats them.

type docExample struct {
	name  string
	json  string
	msg   func() proto.Message
	check func(t *testing.T, m proto.Message)
	err   string // expected error text, for examples that do not convert
}

func newSchedCall() proto.Message  { return &scheduler.Call{} }
func newSchedEvent() proto.Message { return &scheduler.Event{} }
func newExecCall() proto.Message   { return &executor.Call{} }
func newExecEvent() proto.Message  { return &executor.Event{} }

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func b64(s string) string {
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		panic(err)
	}
	return string(b)
}

var schedulerDocExamples = []docExample{
	{name: "SUBSCRIBE request", msg: newSchedCall, json: `{
   "type"		: "SUBSCRIBE",

   "subscribe"	: {
      "framework_info"	: {
        "user" :  "foo",
        "name" :  "Example HTTP Framework"
      },

      "force" : true
  }
}`, check: func(t *testing.T, m proto.Message) {
		c := m.(*scheduler.Call)
		eq(t, "type", c.GetType(), scheduler.Call_SUBSCRIBE)
		eq(t, "user", c.GetSubscribe().GetFrameworkInfo().GetUser(), "foo")
		eq(t, "name", c.GetSubscribe().GetFrameworkInfo().GetName(), "Example HTTP Framework")
		eq(t, "has id", c.GetSubscribe().GetFrameworkInfo().GetId() != nil, false)
	}},
	{name: "SUBSCRIBED event", msg: newSchedEvent, json: `{
 "type"			: "SUBSCRIBED",
 "subscribed"	: {
     "framework_id"               : {"value":"12220-3440-12532-2345"},
     "heartbeat_interval_seconds" : 15
  }
}`, check: func(t *testing.T, m proto.Message) {
		e := m.(*scheduler.Event)
		eq(t, "type", e.GetType(), scheduler.Event_SUBSCRIBED)
		eq(t, "framework_id", e.GetSubscribed().GetFrameworkId().GetValue(), "12220-3440-12532-2345")
		eq(t, "heartbeat", e.GetSubscribed().GetHeartbeatIntervalSeconds(), 15.0)
		eq(t, "rendered", mustMarshal(t, e), `{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"12220-3440-12532-2345"},"heartbeat_interval_seconds":15.0}}`)
	}},
	// Fixed: a trailing comma removed.
	{name: "TEARDOWN request", msg: newSchedCall, json: `{
  "framework_id"	: {"value" : "12220-3440-12532-2345"},
  "type"			: "TEARDOWN"
}`, check: func(t *testing.T, m proto.Message) {
		c := m.(*scheduler.Call)
		eq(t, "type", c.GetType(), scheduler.Call_TEARDOWN)
		eq(t, "framework_id", c.GetFrameworkId().GetValue(), "12220-3440-12532-2345")
	}},
	// Fixed: the "{...}" of launch and filters filled in.
	{name: "ACCEPT request", msg: newSchedCall, json: `{
  "framework_id"	: {"value" : "12220-3440-12532-2345"},
  "type"			: "ACCEPT",
  "accept"			: {
    "offer_ids"		: [
                       {"value" : "12220-3440-12532-O12"},
                       {"value" : "12220-3440-12532-O12"}
                      ],
    "operations"	: [ {"type" : "LAUNCH", "launch" : {"task_infos" : [
                         {"name" : "t", "task_id" : {"value" : "t1"}, "agent_id" : {"value" : "12220-3440-12532-S1233"},
                          "resources" : [{"name" : "cpus", "type" : "SCALAR", "scalar" : {"value" : 0.5}}],
                          "command" : {"value" : "sleep 10"}}]}} ],
    "filters"		: {"refuse_seconds" : 10}
  }
}`, check: func(t *testing.T, m proto.Message) {
		a := m.(*scheduler.Call).GetAccept()
		eq(t, "offers", len(a.GetOfferIds()), 2)
		eq(t, "offer 1", a.GetOfferIds()[1].GetValue(), "12220-3440-12532-O12")
		eq(t, "operation", a.GetOperations()[0].GetType(), mesos.Offer_Operation_LAUNCH)
		ti := a.GetOperations()[0].GetLaunch().GetTaskInfos()[0]
		eq(t, "cpus", ti.GetResources()[0].GetScalar().GetValue(), 0.5)
		eq(t, "command", ti.GetCommand().GetValue(), "sleep 10")
		eq(t, "shell (default)", ti.GetCommand().GetShell(), true)
		eq(t, "refuse_seconds", a.GetFilters().GetRefuseSeconds(), 10.0)
	}},
	// Fixed: the "{...}" of filters made "{}".
	{name: "DECLINE request", msg: newSchedCall, json: `{
  "framework_id"	: {"value" : "12220-3440-12532-2345"},
  "type"			: "DECLINE",
  "decline"			: {
    "offer_ids"	: [
                   {"value" : "12220-3440-12532-O12"},
                   {"value" : "12220-3440-12532-O13"}
                  ],
    "filters"	: {}
  }
}`, check: func(t *testing.T, m proto.Message) {
		d := m.(*scheduler.Call).GetDecline()
		eq(t, "offer 1", d.GetOfferIds()[1].GetValue(), "12220-3440-12532-O13")
		eq(t, "filters set", d.Filters != nil, true)
		eq(t, "refuse_seconds (default)", d.GetFilters().GetRefuseSeconds(), 5.0)
	}},
	// Fixed: a trailing comma removed.
	{name: "REVIVE request", msg: newSchedCall, json: `{
  "framework_id"	: {"value" : "12220-3440-12532-2345"},
  "type"			: "REVIVE"
}`, check: func(t *testing.T, m proto.Message) {
		eq(t, "type", m.(*scheduler.Call).GetType(), scheduler.Call_REVIVE)
	}},
	{name: "KILL request", msg: newSchedCall, json: `{
  "framework_id"	: {"value" : "12220-3440-12532-2345"},
  "type"			: "KILL",
  "kill"			: {
    "task_id"	:  {"value" : "12220-3440-12532-my-task"},
    "agent_id"	:  {"value" : "12220-3440-12532-S1233"}
  }
}`, check: func(t *testing.T, m proto.Message) {
		k := m.(*scheduler.Call).GetKill()
		eq(t, "task", k.GetTaskId().GetValue(), "12220-3440-12532-my-task")
		eq(t, "agent", k.GetAgentId().GetValue(), "12220-3440-12532-S1233")
	}},
	{name: "SHUTDOWN request", msg: newSchedCall, json: `{
  "framework_id"	: {"value" : "12220-3440-12532-2345"},
  "type"			: "SHUTDOWN",
  "shutdown"		: {
    "executor_id"	:  {"value" : "123450-2340-1232-my-executor"},
    "agent_id"		:  {"value" : "12220-3440-12532-S1233"}
  }
}`, check: func(t *testing.T, m proto.Message) {
		s := m.(*scheduler.Call).GetShutdown()
		eq(t, "executor", s.GetExecutorId().GetValue(), "123450-2340-1232-my-executor")
		eq(t, "agent", s.GetAgentId().GetValue(), "12220-3440-12532-S1233")
	}},
	// The docs' uuid is unpadded base64 (22 characters: 16 bytes); stout
	// accepts it, and so do we.
	{name: "ACKNOWLEDGE request", msg: newSchedCall, json: `{
  "framework_id"	: {"value" : "12220-3440-12532-2345"},
  "type"			: "ACKNOWLEDGE",
  "acknowledge"		: {
    "agent_id"	:  {"value" : "12220-3440-12532-S1233"},
    "task_id"	:  {"value" : "12220-3440-12532-my-task"},
    "uuid"		:  "jhadf73jhakdlfha723adf"
  }
}`, check: func(t *testing.T, m proto.Message) {
		a := m.(*scheduler.Call).GetAcknowledge()
		eq(t, "uuid", string(a.GetUuid()), b64("jhadf73jhakdlfha723adf"))
		eq(t, "uuid length", len(a.GetUuid()), 16)
		eq(t, "rendered uuid", strings.Contains(mustMarshal(t, a), `"uuid":"jhadf73jhakdlfha723adQ=="`), true)
	}},
	{name: "RECONCILE request", msg: newSchedCall, json: `{
  "framework_id"	: {"value" : "12220-3440-12532-2345"},
  "type"			: "RECONCILE",
  "reconcile"		: {
    "tasks"		: [
                   { "task_id"  : { "value" : "312325" },
                     "agent_id" : { "value" : "123535" }
                   }
                  ]
  }
}`, check: func(t *testing.T, m proto.Message) {
		r := m.(*scheduler.Call).GetReconcile()
		eq(t, "task", r.GetTasks()[0].GetTaskId().GetValue(), "312325")
		eq(t, "agent", r.GetTasks()[0].GetAgentId().GetValue(), "123535")
	}},
	{name: "MESSAGE request", msg: newSchedCall, json: `{
  "framework_id"	: {"value" : "12220-3440-12532-2345"},
  "type"			: "MESSAGE",
  "message"			: {
    "agent_id"       : {"value" : "12220-3440-12532-S1233"},
    "executor_id"    : {"value" : "my-framework-executor"},
    "data"           : "adaf838jahd748jnaldf"
  }
}`, check: func(t *testing.T, m proto.Message) {
		msg := m.(*scheduler.Call).GetMessage()
		eq(t, "executor", msg.GetExecutorId().GetValue(), "my-framework-executor")
		eq(t, "data", string(msg.GetData()), b64("adaf838jahd748jnaldf"))
	}},
	// Fixed: trailing commas removed. The docs put "requests" at the top
	// level, where Call has no such field: the key is ignored.
	{name: "REQUEST request", msg: newSchedCall, json: `{
  "framework_id"	: {"value" : "12220-3440-12532-2345"},
  "type"			: "REQUEST",
  "requests"		: [
      {
         "agent_id"       : {"value" : "12220-3440-12532-S1233"},
         "resources"      : {}
      }
  ]
}`, check: func(t *testing.T, m proto.Message) {
		c := m.(*scheduler.Call)
		eq(t, "type", c.GetType(), scheduler.Call_REQUEST)
		eq(t, "request", c.Request == nil, true)
	}},
	// Not converted as written: the docs show "offers" as an array of
	// offers, but Event.offers is a message holding the array.
	{name: "OFFERS event as documented", msg: newSchedEvent, json: `{
  "type"	: "OFFERS",
  "offers"	: [
    {
      "offer_id":{"value": "12214-23523-O235235"},
      "framework_id":{"value": "12124-235325-32425"},
      "agent_id":{"value": "12325-23523-S23523"},
      "hostname":"agent.host",
      "resources":[],
      "attributes":[],
      "executor_ids":[]
    }
  ]
}`, err: `field "offers": not expecting a JSON array: the field is not repeated`},
	// The same offer the way Mesos sends it ("id", not "offer_id").
	{name: "OFFERS event as sent", msg: newSchedEvent, json: `{
  "type"	: "OFFERS",
  "offers"	: {"offers": [
    {
      "id":{"value": "12214-23523-O235235"},
      "framework_id":{"value": "12124-235325-32425"},
      "agent_id":{"value": "12325-23523-S23523"},
      "hostname":"agent.host",
      "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":2.0},"role":"*"}],
      "attributes":[{"name":"rack","type":"TEXT","text":{"value":"r1"}}],
      "executor_ids":[]
    }
  ]}
}`, check: func(t *testing.T, m proto.Message) {
		o := m.(*scheduler.Event).GetOffers().GetOffers()[0]
		eq(t, "id", o.GetId().GetValue(), "12214-23523-O235235")
		eq(t, "hostname", o.GetHostname(), "agent.host")
		eq(t, "role", o.GetResources()[0].GetRole(), "*")
		eq(t, "attribute", o.GetAttributes()[0].GetText().GetValue(), "r1")
		eq(t, "executor_ids", len(o.GetExecutorIds()), 0)
	}},
	{name: "RESCIND event", msg: newSchedEvent, json: `{
  "type"	: "RESCIND",
  "rescind"	: {
    "offer_id"	: { "value" : "12214-23523-O235235"}
  }
}`, check: func(t *testing.T, m proto.Message) {
		eq(t, "offer", m.(*scheduler.Event).GetRescind().GetOfferId().GetValue(), "12214-23523-O235235")
	}},
	// "bytes" is not a TaskStatus field (the docs mean "data"): ignored.
	{name: "UPDATE event", msg: newSchedEvent, json: `{
  "type"	: "UPDATE",
  "update"	: {
    "status"	: {
        "task_id"	: { "value" : "12344-my-task"},
        "state"		: "TASK_RUNNING",
        "source"	: "SOURCE_EXECUTOR",
        "uuid"		: "adfadfadbhgvjayd23r2uahj",
        "bytes"		: "uhdjfhuagdj63d7hadkf"

      }
  }
}`, check: func(t *testing.T, m proto.Message) {
		s := m.(*scheduler.Event).GetUpdate().GetStatus()
		eq(t, "task", s.GetTaskId().GetValue(), "12344-my-task")
		eq(t, "state", s.GetState(), mesos.TaskState_TASK_RUNNING)
		eq(t, "source", s.GetSource(), mesos.TaskStatus_SOURCE_EXECUTOR)
		eq(t, "uuid", string(s.GetUuid()), b64("adfadfadbhgvjayd23r2uahj"))
		eq(t, "data", s.Data == nil, true)
	}},
	{name: "MESSAGE event", msg: newSchedEvent, json: `{
  "type"	: "MESSAGE",
  "message"	: {
    "agent_id"		: { "value" : "12214-23523-S235235"},
    "executor_id"	: { "value" : "12214-23523-my-executor"},
    "data"			: "adfadf3t2wa3353dfadf"
  }
}`, check: func(t *testing.T, m proto.Message) {
		msg := m.(*scheduler.Event).GetMessage()
		eq(t, "agent", msg.GetAgentId().GetValue(), "12214-23523-S235235")
		eq(t, "data", string(msg.GetData()), b64("adfadf3t2wa3353dfadf"))
	}},
	{name: "FAILURE event", msg: newSchedEvent, json: `{
  "type"	: "FAILURE",
  "failure"	: {
    "agent_id"		: { "value" : "12214-23523-S235235"},
    "executor_id"	: { "value" : "12214-23523-my-executor"},
    "status"		: 1
  }
}`, check: func(t *testing.T, m proto.Message) {
		f := m.(*scheduler.Event).GetFailure()
		eq(t, "executor", f.GetExecutorId().GetValue(), "12214-23523-my-executor")
		eq(t, "status", f.GetStatus(), int32(1))
	}},
	// Not converted as written: Event.message is the MESSAGE event's
	// message, not a string; errors go in "error".
	{name: "ERROR event as documented", msg: newSchedEvent, json: `{
  "type"	: "ERROR",
  "message"	: "Framework is not authorized"
}`, err: `field "message": expected a JSON object (mesos.v1.scheduler.Event.Message), got a JSON string`},
	{name: "ERROR event as sent", msg: newSchedEvent, json: `{"type":"ERROR","error":{"message":"Framework is not authorized"}}`,
		check: func(t *testing.T, m proto.Message) {
			eq(t, "message", m.(*scheduler.Event).GetError().GetMessage(), "Framework is not authorized")
		}},
	// Fixed: a trailing comma removed.
	{name: "HEARTBEAT event", msg: newSchedEvent, json: `{
  "type"	: "HEARTBEAT"
}`, check: func(t *testing.T, m proto.Message) {
		eq(t, "rendered", mustMarshal(t, m), `{"type":"HEARTBEAT"}`)
	}},
	// The redirect example of the docs puts framework_info at the top
	// level: ignored, and the call has no subscribe.
	{name: "SUBSCRIBE in the master detection example", msg: newSchedCall, json: `{
  "framework_info"	: {
    "user" :  "foo",
    "name" :  "Example HTTP Framework"
  },
  "type"			: "SUBSCRIBE"
}`, check: func(t *testing.T, m proto.Message) {
		eq(t, "subscribe", m.(*scheduler.Call).Subscribe == nil, true)
	}},
}

var executorDocExamples = []docExample{
	{name: "SUBSCRIBE request", msg: newExecCall, json: `{
  "type": "SUBSCRIBE",
  "executor_id": {
    "value": "387aa966-8fc5-4428-a794-5a868a60d3eb"
  },
  "framework_id": {
    "value": "49154f1b-8cf6-4421-bf13-8bd11dccd1f1"
  },
  "subscribe": {
    "unacknowledged_tasks": [
      {
        "name": "dummy-task",
        "task_id": {
          "value": "d40f3f3e-bbe3-44af-a230-4cb1eae72f67"
        },
        "agent_id": {
          "value": "f1c9cdc5-195e-41a7-a0d7-adaa9af07f81"
        },
        "command": {
          "value": "ls",
          "arguments": [
            "-l",
            "\/tmp"
          ]
        }
      }
    ],
    "unacknowledged_updates": [
      {
        "framework_id": {
          "value": "49154f1b-8cf6-4421-bf13-8bd11dccd1f1"
        },
        "status": {
          "source": "SOURCE_EXECUTOR",
          "task_id": {
            "value": "d40f3f3e-bbe3-44af-a230-4cb1eae72f67"
          },
        "state": "TASK_RUNNING",
        "uuid": "ZDQwZjNmM2UtYmJlMy00NGFmLWEyMzAtNGNiMWVhZTcyZjY3Cg=="
        }
      }
    ]
  }
}`, check: func(t *testing.T, m proto.Message) {
		c := m.(*executor.Call)
		eq(t, "type", c.GetType(), executor.Call_SUBSCRIBE)
		eq(t, "executor", c.GetExecutorId().GetValue(), "387aa966-8fc5-4428-a794-5a868a60d3eb")
		task := c.GetSubscribe().GetUnacknowledgedTasks()[0]
		eq(t, "task name", task.GetName(), "dummy-task")
		eq(t, "arguments", strings.Join(task.GetCommand().GetArguments(), " "), "-l /tmp")
		st := c.GetSubscribe().GetUnacknowledgedUpdates()[0].GetStatus()
		eq(t, "state", st.GetState(), mesos.TaskState_TASK_RUNNING)
		eq(t, "uuid", string(st.GetUuid()), "d40f3f3e-bbe3-44af-a230-4cb1eae72f67\n")
	}},
	// Not converted: the docs' agent_info says "host", so the required
	// AgentInfo.hostname is missing.
	{name: "SUBSCRIBED event as documented", msg: newExecEvent, json: `{
  "type": "SUBSCRIBED",
  "subscribed": {
    "executor_info": {
      "executor_id": {
        "value": "387aa966-8fc5-4428-a794-5a868a60d3eb"
      },
      "command": {
        "value": "\/path\/to\/executor"
      },
      "framework_id": {
        "value": "49154f1b-8cf6-4421-bf13-8bd11dccd1f1"
      }
    },
    "framework_info": {
      "user": "foo",
      "name": "my_framework"
    },
    "agent_id": {
      "value": "f1c9cdc5-195e-41a7-a0d7-adaa9af07f81"
    },
    "agent_info": {
      "host": "agenthost",
      "port": 5051
    }
  }
}`, err: `missing required fields: subscribed.agent_info.hostname`},
	{name: "SUBSCRIBED event with hostname", msg: newExecEvent, json: `{
  "type": "SUBSCRIBED",
  "subscribed": {
    "executor_info": {
      "executor_id": {"value": "387aa966-8fc5-4428-a794-5a868a60d3eb"},
      "command": {"value": "\/path\/to\/executor"},
      "framework_id": {"value": "49154f1b-8cf6-4421-bf13-8bd11dccd1f1"}
    },
    "framework_info": {"user": "foo", "name": "my_framework"},
    "agent_info": {"hostname": "agenthost", "port": 5051}
  }
}`, check: func(t *testing.T, m proto.Message) {
		s := m.(*executor.Event).GetSubscribed()
		eq(t, "command", s.GetExecutorInfo().GetCommand().GetValue(), "/path/to/executor")
		eq(t, "framework", s.GetFrameworkInfo().GetName(), "my_framework")
		eq(t, "agent", s.GetAgentInfo().GetHostname(), "agenthost")
		eq(t, "port", s.GetAgentInfo().GetPort(), int32(5051))
	}},
	{name: "UPDATE request", msg: newExecCall, json: `{
  "executor_id": {
    "value": "387aa966-8fc5-4428-a794-5a868a60d3eb"
  },
  "framework_id": {
    "value": "9aaa9d0d-e00d-444f-bfbd-23dd197939a0-0000"
  },
  "type": "UPDATE",
  "update": {
    "status": {
      "executor_id": {
        "value": "387aa966-8fc5-4428-a794-5a868a60d3eb"
      },
      "source": "SOURCE_EXECUTOR",
      "state": "TASK_RUNNING",
      "task_id": {
        "value": "66724cec-2609-4fa0-8d93-c5fb2099d0f8"
      },
      "uuid": "ZDQwZjNmM2UtYmJlMy00NGFmLWEyMzAtNGNiMWVhZTcyZjY3Cg=="
    }
  }
}`, check: func(t *testing.T, m proto.Message) {
		s := m.(*executor.Call).GetUpdate().GetStatus()
		eq(t, "task", s.GetTaskId().GetValue(), "66724cec-2609-4fa0-8d93-c5fb2099d0f8")
		eq(t, "executor", s.GetExecutorId().GetValue(), "387aa966-8fc5-4428-a794-5a868a60d3eb")
	}},
	// The docs put "data" at the top level, where Call has no such field
	// (it belongs in "message"): ignored.
	{name: "MESSAGE request", msg: newExecCall, json: `{
  "executor_id": {
    "value": "387aa966-8fc5-4428-a794-5a868a60d3eb"
  },
  "framework_id": {
    "value": "9aaa9d0d-e00d-444f-bfbd-23dd197939a0-0000"
  },
  "type": "MESSAGE",
  "data": "t+Wonz5fRFKMzCnEptlv5A=="
}`, check: func(t *testing.T, m proto.Message) {
		c := m.(*executor.Call)
		eq(t, "type", c.GetType(), executor.Call_MESSAGE)
		eq(t, "message", c.Message == nil, true)
	}},
	// "framework_info" is not a field of Event.Launch: ignored.
	{name: "LAUNCH event", msg: newExecEvent, json: `{
  "type": "LAUNCH",
  "launch": {
    "framework_info": {
      "id": {
        "value": "49154f1b-8cf6-4421-bf13-8bd11dccd1f1"
      },
      "user": "foo",
      "name": "my_framework"
    },
    "task": {
      "name": "dummy-task",
      "task_id": {
        "value": "d40f3f3e-bbe3-44af-a230-4cb1eae72f67"
      },
      "agent_id": {
        "value": "f1c9cdc5-195e-41a7-a0d7-adaa9af07f81"
      },
      "command": {
        "value": "sleep",
        "arguments": [
          "100"
        ]
      }
    }
  }
}`, check: func(t *testing.T, m proto.Message) {
		task := m.(*executor.Event).GetLaunch().GetTask()
		eq(t, "name", task.GetName(), "dummy-task")
		eq(t, "arguments", task.GetCommand().GetArguments()[0], "100")
	}},
	{name: "KILL event", msg: newExecEvent, json: `{
  "type" : "KILL",
  "kill" : {
    "task_id" : {"value" : "d40f3f3e-bbe3-44af-a230-4cb1eae72f67"}
  }
}`, check: func(t *testing.T, m proto.Message) {
		eq(t, "task", m.(*executor.Event).GetKill().GetTaskId().GetValue(), "d40f3f3e-bbe3-44af-a230-4cb1eae72f67")
	}},
	{name: "ACKNOWLEDGED event", msg: newExecEvent, json: `{
  "type" : "ACKNOWLEDGED",
  "acknowledged" : {
    "task_id" : {"value" : "d40f3f3e-bbe3-44af-a230-4cb1eae72f67"},
    "uuid" : "ZDQwZjNmM2UtYmJlMy00NGFmLWEyMzAtNGNiMWVhZTcyZjY3Cg=="
  }
}`, check: func(t *testing.T, m proto.Message) {
		a := m.(*executor.Event).GetAcknowledged()
		eq(t, "uuid", string(a.GetUuid()), "d40f3f3e-bbe3-44af-a230-4cb1eae72f67\n")
		eq(t, "rendered", mustMarshal(t, a), `{"task_id":{"value":"d40f3f3e-bbe3-44af-a230-4cb1eae72f67"},"uuid":"ZDQwZjNmM2UtYmJlMy00NGFmLWEyMzAtNGNiMWVhZTcyZjY3Cg=="}`)
	}},
	{name: "MESSAGE event", msg: newExecEvent, json: `{
  "type" : "MESSAGE",
  "message" : {
    "data" : "c2FtcGxlIGRhdGE="
  }
}`, check: func(t *testing.T, m proto.Message) {
		eq(t, "data", string(m.(*executor.Event).GetMessage().GetData()), "sample data")
	}},
	{name: "SHUTDOWN event", msg: newExecEvent, json: `{
  "type" : "SHUTDOWN"
}`, check: func(t *testing.T, m proto.Message) {
		eq(t, "type", m.(*executor.Event).GetType(), executor.Event_SHUTDOWN)
	}},
	{name: "ERROR event", msg: newExecEvent, json: `{
  "type" : "ERROR",
  "error" : {
    "message" : "Unrecoverable error"
  }
}`, check: func(t *testing.T, m proto.Message) {
		eq(t, "message", m.(*executor.Event).GetError().GetMessage(), "Unrecoverable error")
	}},
}

func runDocExamples(t *testing.T, examples []docExample) {
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			m := ex.msg()
			err := UnmarshalJSON([]byte(ex.json), m)
			if ex.err != "" {
				if err == nil || err.Error() != ex.err {
					t.Fatalf("error = %v, want %q", err, ex.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("UnmarshalJSON: %v", err)
			}
			ex.check(t, m)
			// What we parsed renders and parses back the same.
			j := mustMarshal(t, m)
			m2 := ex.msg()
			if err := UnmarshalJSON([]byte(j), m2); err != nil {
				t.Fatalf("re-parse of %s: %v", j, err)
			}
			if !proto.Equal(withDefaults(m), m2) {
				t.Errorf("re-parse differs: %v vs %v", m, m2)
			}
		})
	}
}

func TestDocsSchedulerExamples(t *testing.T) { runDocExamples(t, schedulerDocExamples) }
func TestDocsExecutorExamples(t *testing.T)  { runDocExamples(t, executorDocExamples) }
