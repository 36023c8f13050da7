// Package api holds the wire definitions of Gomesos: the Mesos v1 protobuf
// messages under v1/ and the agent<->master protocol under agentproto/.
// The generated Go is committed; regenerate it with `go generate ./api/`
// (needs protoc and protoc-gen-go v1.36.12 on PATH).
package api

//go:generate sh -c "cd .. && protoc --proto_path=. --go_out=. --go_opt=module=github.com/gomesos/gomesos api/v1/mesos/mesos.proto api/v1/scheduler/scheduler.proto api/v1/executor/executor.proto api/agentproto/agentproto.proto api/agentproto/checkpoint.proto api/registry/registry.proto api/v1/maintenance/maintenance.proto api/v1/quota/quota.proto api/v1/master/master.proto api/v1/agent/agent.proto"
